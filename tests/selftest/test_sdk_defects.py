"""Each confirmed SDK defect (``sdk_defects.KNOWN_DEFECTS``): a strict expected failure on the
versions it affects, a plain pass on the others (the fix holds). Runs in the main suite (3.x) and
in the version job on every older SDK."""

from __future__ import annotations

import pytest
from aws_durable_execution_sdk_python import durable_execution

from chaosdurable import CheckpointApiError, FaultSchedule, check
from chaosdurable.checks import ALL_CHECKERS
from chaosdurable.checks.sdk_invariants import retryable_not_fatal
from tests.selftest.sdk_defects import KNOWN_DEFECTS, SdkDefect, affected

DEFECTS = {d.id: d for d in KNOWN_DEFECTS}


def _expect(defect: SdkDefect) -> pytest.MarkDecorator:
    reason = f"SDK defect {defect.id}, fixed in {defect.fixed_in}"
    return pytest.mark.xfail(affected(defect), strict=True, reason=reason)


@durable_execution
def two_steps(event, context):
    first = context.step(lambda _: "a", name="a")
    second = context.step(lambda _: "b", name="b")
    return first + second


@_expect(DEFECTS["stale-token-fails-execution"])
def test_a_stale_token_is_retried_not_failed() -> None:
    """A checkpoint error the service marks retryable must never end the execution FAILED."""
    verdict = check(two_steps, input={}, schedule=FaultSchedule([CheckpointApiError(error="stale_token", op="b")]),
                    checkers={"resumption": ALL_CHECKERS["resumption"], "liveness": ALL_CHECKERS["liveness"],
                              "retryable_not_fatal": retryable_not_fatal})
    assert verdict.fired, verdict.report()
    assert not verdict.by_checker("retryable_not_fatal"), verdict.report()
    assert verdict.chaotic.status == "SUCCEEDED", verdict.report()
    assert verdict.chaotic.result == "ab", verdict.report()
