"""A callback an EventStream answers gets events, each a success: no failure answer is drawn for it.

Two trials flagged correct webhook consumers with ``unhandled_failure`` after a drawn failure answer
on a stream-fed callback, which that source never sends. Other callbacks still get failures drawn.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chaosdurable.faults.schedule import CallbackFault
from strategies.schedules import OperationSpace, fault_schedules

SPACE = OperationSpace(steps=("record",), operations=("record",), effects=(), timers=(), invocations=4,
                       callbacks=("pledge", "approval create callback id"), streams=(("pledge", 3),))


def _callback_faults(data: st.DataObject) -> list[CallbackFault]:
    schedule = data.draw(fault_schedules(space=SPACE, kinds=["callback"], max_faults=3))
    return [f for f in schedule.faults if isinstance(f, CallbackFault)]


@settings(max_examples=300, database=None)
@given(st.data())
def test_no_failure_answer_is_drawn_for_a_stream_fed_callback(data: st.DataObject) -> None:
    for fault in _callback_faults(data):
        assert not (fault.op == "pledge" and fault.behaviour == "failure"), fault


def test_other_callbacks_still_get_failures_and_the_stream_fed_one_other_faults() -> None:
    seen: set[tuple[str | None, str]] = set()

    @settings(max_examples=300, database=None)
    @given(st.data())
    def collect(data: st.DataObject) -> None:
        seen.update((f.op, f.behaviour) for f in _callback_faults(data))

    collect()
    assert ("approval create callback id", "failure") in seen
    assert {b for op, b in seen if op == "pledge"} >= {"delay", "duplicate", "after_timeout"}
