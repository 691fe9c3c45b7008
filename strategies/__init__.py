"""WORKLOAD: Hypothesis strategies, shipped as ``chaosdurable.strategies``.

The strategies themselves (``fault_schedules``, ``workflows``, payloads, callback
behaviours) arrive with the strategies issue; this package exists so the import path
and the packaging mapping are in place and tested from the start.
"""

__all__: list[str] = []
