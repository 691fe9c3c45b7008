"""Fidelity oracle: AWS's language-neutral conformance requirements, and the rules to match them.

- ``suite``: fetch (pinned by hash), cache and load the 155 YAML requirements.
- ``matching``: the official history-matching rules (wildcards, placeholders, variables).
- ``logs``: the ExpectedLogs rules.
- ``harness``: run one requirement against a handler on ``DurableRunner``.
"""

from chaosdurable.conformance.harness import ConformanceOutcome, run_requirement
from chaosdurable.conformance.matching import Bindings, match_history
from chaosdurable.conformance.suite import Requirement, load_suite

__all__ = ["Bindings", "ConformanceOutcome", "Requirement", "load_suite", "match_history", "run_requirement"]
