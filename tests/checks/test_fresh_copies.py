"""A value minted in a fresh step is recognised in any run it was minted in, by any copy or attempt.

Trial finding (issue 9, handler c03): under a concurrent duplicate of invocation 1 the id minted in
step 'mint-id' and written by step 'store-order' was reported as a different result and a world
difference, once in a while. The cause: ``FreshValues`` cached its substitutions by ``id(run)`` and
lives on the fault-free run, which the pytest plugin reuses for every example of a test; a chaotic
run allocated at the address of a dead one (the witness run, an earlier example's chaotic run) got
that dead run's substitutions, so its own id stayed raw.
"""

from __future__ import annotations

import gc
import pickle

import pytest

import chaosdurable.checks.fresh as fresh_module
from chaosdurable import ColdStart, CrashAfterEffect, DuplicateInvocation, FaultSchedule, check
from chaosdurable.backends import Subprocess
from chaosdurable.checks.fresh import FreshValues
from chaosdurable.history.record import RunRecord
from tests.checks.copies_handlers import id_outside_steps, ids_in_steps, orders_world

TRIAL_SCHEDULE = FaultSchedule((DuplicateInvocation(invocation=1, concurrent=True), ColdStart(invocation=2)))


def _run(minted: str, checkpoints: list[dict] | None = None) -> RunRecord:
    ops = [{"Id": "m", "Type": "STEP", "Name": "mint-id", "Status": "SUCCEEDED", "Result": f'"{minted}"'}]
    return RunRecord(label="chaotic", status="SUCCEEDED", result=None, result_payload=None, error=None,
                     history=[], operations=ops, checkpoints=checkpoints or [])


def test_a_run_at_a_dead_runs_address_gets_its_own_substitutions(monkeypatch: pytest.MonkeyPatch) -> None:
    # CPython gives a new object the address (``id``) of a freed one when its allocator reuses the
    # block; which run gets which address is not ours to choose, so every run here gets the same id
    monkeypatch.setattr(fresh_module, "id", lambda _obj: 4242, raising=False)
    fresh = FreshValues(frozenset({("m", ())}))
    dead = _run("ord-aaaaaaaa")
    assert fresh.normalize(dead, "put ord-aaaaaaaa") == "put <fresh mint-id>"
    del dead
    gc.collect()
    run = _run("ord-bbbbbbbb")
    assert fresh.normalize(run, "put ord-bbbbbbbb") == "put <fresh mint-id>"
    assert fresh.normalize_value(run, {"order": "ord-bbbbbbbb"}) == '{"order": "<fresh mint-id>"}'
    # two live runs at the "same address" (only possible through the patch) do not mix either
    other = _run("ord-cccccccc")
    assert fresh.normalize(other, "ord-cccccccc ord-bbbbbbbb") == "<fresh mint-id> ord-bbbbbbbb"
    assert fresh.normalize(run, "ord-cccccccc ord-bbbbbbbb") == "ord-cccccccc <fresh mint-id>"


def test_a_value_minted_by_a_rejected_copy_is_fresh_too() -> None:
    # copy 1 of invocation 1 checkpointed "ord-11111111" (kept), copy 2 "ord-22222222" (rejected):
    # whichever copy's write lands in the world, it is the step's fresh value
    checkpoints = [
        {"invocation": 1, "accepted": True, "updates": [
            {"Id": "m", "Type": "STEP", "Action": "SUCCEED", "Name": "mint-id", "Payload": '"ord-11111111"'}]},
        {"invocation": 1, "accepted": False, "updates": [
            {"Id": "m", "Type": "STEP", "Action": "SUCCEED", "Name": "mint-id", "Payload": '"ord-22222222"'}]},
    ]
    run = _run("ord-11111111", checkpoints)
    fresh = FreshValues(frozenset({("m", ())}))
    world = {"dynamodb:orders": ['{"pk": {"S": "ord-22222222"}}']}
    assert fresh.normalize_world(run, world) == {"dynamodb:orders": ['{"pk": {"S": "<fresh mint-id>"}}']}
    # a value no step of this run returned stays as it is, and two writes still count as two
    twice = {"dynamodb:orders": ['{"pk": {"S": "ord-11111111"}}', '{"pk": {"S": "ord-22222222"}}',
                                 '{"pk": {"S": "ord-33333333"}}']}
    assert fresh.normalize_world(run, twice) == {"dynamodb:orders": [
        '{"pk": {"S": "<fresh mint-id>"}}', '{"pk": {"S": "<fresh mint-id>"}}', '{"pk": {"S": "ord-33333333"}}']}


def test_fresh_values_still_pickle() -> None:
    fresh = FreshValues(frozenset({("m", ())}))
    run = _run("ord-aaaaaaaa")
    fresh.normalize(run, "x")
    assert pickle.loads(pickle.dumps(fresh)) == fresh


def test_ids_minted_in_steps_pass_under_a_concurrent_duplicate_examples_after_examples() -> None:
    reference = None
    for seed in range(6):  # the reference reused, as the pytest plugin does across examples
        verdict = check(ids_in_steps, {"customer": "cust-3"}, TRIAL_SCHEDULE, seed=seed, setup=orders_world,
                        reference=reference)
        assert verdict.ok, verdict.report()
        assert verdict.fired
        reference = verdict.reference


def test_ids_minted_in_steps_pass_in_subprocess_mode() -> None:
    verdict = check(ids_in_steps, {"customer": "cust-3"}, TRIAL_SCHEDULE, setup=orders_world, backend=Subprocess())
    assert verdict.ok, verdict.report()
    assert verdict.fired


def test_the_twin_minting_outside_steps_is_still_caught() -> None:
    for schedule in (TRIAL_SCHEDULE, FaultSchedule((CrashAfterEffect(effect="aws:dynamodb.PutItem"),))):
        verdict = check(id_outside_steps, {"customer": "cust-3"}, schedule, setup=orders_world)
        assert not verdict.ok, verdict.report()
