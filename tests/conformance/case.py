"""The contract between a conformance handler module and the conformance test.

Each module in ``tests/conformance/handlers/`` exports ``CASES: dict[str, Case]``
keyed by requirement id (``"1-17"``), one entry per YAML requirement of its
category in ``aws-durable-execution-conformance-tests==1.0.0``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    """One requirement's handler, written from the requirement's prose.

    handler: the ``@durable_execution`` handler under test.
    targets: chained-invoke targets by function name. A target decorated with
        ``@durable_execution`` runs as a durable child execution; any other
        callable ``fn(event, lambda_context)`` runs once as a plain function.
    subprocess: True when the requirement needs a real crash (``os._exit``),
        so it only runs in subprocess mode.
    execution_timeout: seconds, when the prose implies a specific value.
    note: where the prose is ambiguous, what we decided and why.
    """

    handler: Callable[..., Any]
    targets: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    subprocess: bool = False
    execution_timeout: int | None = None
    note: str = ""
