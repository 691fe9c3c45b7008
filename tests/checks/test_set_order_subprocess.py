"""A replay in a new process that names operations in another order: the report says where the SDK stopped
it, in its words, and names set order under PYTHONHASHSEED as the usual cause (trial4 b11 in subprocess)."""

from __future__ import annotations

from chaosdurable import ColdStart, FaultSchedule, check
from tests.checks.set_order_handlers import CHANNELS, remind_in_set_order, remind_in_sorted_order


def _first_cold_start_that_reorders() -> str:
    for invocation in (2, 3, 4, 5):
        v = check(remind_in_set_order, CHANNELS, FaultSchedule((ColdStart(invocation=invocation),)),
                  backend="subprocess", max_invocations=40)
        if v.violations:
            return v.report()
    raise AssertionError("no cold start reordered the channels (8 strings: the odds are tiny)")


def test_the_report_names_the_mismatch_and_the_likely_cause() -> None:
    text = _first_cold_start_that_reorders()
    assert "first divergent operation: at the operation where the SDK stopped the replay, the history holds " \
           "name 'remind-" in text, text
    assert "PYTHONHASHSEED" in text and "iterating a set" in text, text


def test_the_sorted_twin_passes() -> None:
    for invocation in (2, 3):
        v = check(remind_in_sorted_order, CHANNELS, FaultSchedule((ColdStart(invocation=invocation),)),
                  backend="subprocess", max_invocations=40)
        assert v.ok, v.report()
