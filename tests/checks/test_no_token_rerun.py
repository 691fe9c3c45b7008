"""A checkpoint answered without a token at an at-least-once step's START (found by the independent trial).

The SDK sends that START asynchronously and runs the body at once; whether its SUCCEED was still
queued in the same call was thread timing. The service now persists the call up to the faulted
update only (``Intervention.at``), so the step is always found STARTED and re-run in the next
invocation, which is the at-least-once contract: ``exactly_once`` must accept it, every time and in
subprocess mode too, and still flag a re-run of an attempt whose commit *was* accepted.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from chaosdurable import CheckpointApiError, FaultSchedule, check
from chaosdurable.backends import Subprocess
from chaosdurable.checks import Ledger, exactly_once
from chaosdurable.engine.history import to_json
from chaosdurable.history.record import RunRecord
from tests.checks import handlers

NO_TOKEN = FaultSchedule((CheckpointApiError(error="no_token", op="first"),))


def _bodies(run: RunRecord, name: str) -> list[tuple[int | None, int, int | None]]:
    ids = {op["Id"] for op in run.operations if op.get("Name") == name}
    return [(b.where.invocation, b.where.copy, b.where.attempt) for b in run.body_runs if b.where.op_id in ids]


def test_no_token_at_an_async_start_reruns_the_step_and_is_accepted_every_time() -> None:
    histories = set()
    for _ in range(6):
        v = check(handlers.two_steps, None, NO_TOKEN)
        assert v.ok, v.report()
        assert _bodies(v.chaotic, "first") == [(1, 0, 1), (2, 0, 1)]  # always re-run: START alone was persisted
        first_call = v.chaotic.checkpoints[0]
        assert [u["Action"] for u in first_call["updates"]] == ["START"] and first_call["accepted"]
        histories.add(to_json(v.chaotic.history))
    assert len(histories) == 1  # same seed, same schedule, same history


def test_no_token_in_subprocess_mode_is_accepted() -> None:
    v = check(handlers.two_steps, None, NO_TOKEN, backend=Subprocess())
    assert v.ok, v.report()
    assert _bodies(v.chaotic, "first") == [(1, 0, 1), (2, 0, 1)]


def _with_first_succeed_accepted_in_invocation_1(run: RunRecord) -> RunRecord:
    """The same run, as if the service had persisted ``first``'s SUCCEED in invocation 1 (a consumed checkpoint)."""
    checkpoints: list[dict[str, Any]] = [dict(cp) for cp in run.checkpoints]
    succeed = next(u for cp in checkpoints for u in cp["updates"]
                   if u.get("Name") == "first" and u.get("Action") == "SUCCEED")
    checkpoints[0] = checkpoints[0] | {"updates": [*checkpoints[0]["updates"], succeed]}
    for cp in checkpoints[1:]:
        cp["updates"] = [u for u in cp["updates"] if u is not succeed]
    return dataclasses.replace(run, checkpoints=checkpoints)


def test_a_rerun_after_an_accepted_succeed_is_still_flagged() -> None:
    v = check(handlers.two_steps, None, NO_TOKEN)
    assert exactly_once(v.reference, v.chaotic, Ledger()) == []
    bad = _with_first_succeed_accepted_in_invocation_1(v.chaotic)
    found = exactly_once(v.reference, bad, Ledger())
    assert any("ran its body again in invocation 2 after its SUCCEED was committed in invocation 1" in x.message
               for x in found), found


def test_two_runs_of_one_attempt_in_the_invocation_that_committed_it_are_flagged() -> None:
    v = check(handlers.two_steps, None, NO_TOKEN)
    second = [b for b in v.chaotic.body_runs if b.where.invocation == 2 and b.where.op_name == "first"]
    assert second
    again = dataclasses.replace(second[0], seq=second[0].seq + 1000)
    bad = dataclasses.replace(v.chaotic, body_runs=[*v.chaotic.body_runs, again])
    found = exactly_once(v.reference, bad, Ledger())
    assert any("ran its body 3 times for attempt 1" in x.message and "only 1 of those runs" in x.message
               for x in found), found
