"""Confirmed defects of ``aws-durable-execution-sdk-python``, with the versions they affect.

Each defect has a strict expected-failure test (``test_sdk_defects.py``) on the affected versions,
which must pass on the others, and a line in docs/sdk-versions.md. ``zoo_cases`` names the zoo
cases (tests/versions) the defect breaks on the affected versions.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaosdurable import sdk_compat


@dataclass(frozen=True)
class SdkDefect:
    """One SDK defect: where it shows, which versions have it, which version fixed it."""

    id: str
    summary: str
    first: tuple[int, ...]
    fixed_in: str
    zoo_cases: tuple[str, ...] = ()


KNOWN_DEFECTS: tuple[SdkDefect, ...] = (
    SdkDefect(
        id="stale-token-fails-execution",
        summary=("a checkpoint rejected with 400 InvalidParameterValueException 'Invalid checkpoint token' "
                 "(retryable: the next invocation gets a fresh token) ends the execution FAILED: "
                 "INVALID_CHECKPOINT_TOKEN_PREFIX is 'Invalid Checkpoint Token' and the case-sensitive "
                 "startswith never matches the service's message, so the error is classified EXECUTION"),
        first=(1, 0),
        fixed_in="2.0.1",
        zoo_cases=("charge_card-stale-token",),
    ),
)


def affected(defect: SdkDefect) -> bool:
    """True when the installed SDK has ``defect``."""
    return defect.first <= sdk_compat.version() < sdk_compat.parse(defect.fixed_in)
