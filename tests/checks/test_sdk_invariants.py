"""The SDK-invariant checkers (``chaosdurable.checks.sdk_invariants``): each catches a real violation,
made by a deliberately broken engine or client (or, where no break is at hand, a doctored record),
and stays silent on correct runs under faults."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration
from aws_durable_execution_sdk_python.exceptions import BotoClientError, DurableApiErrorCategory

from chaosdurable import CheckpointApiError, CrashAtCheckpoint, DuplicateInvocation, FaultSchedule, check
from chaosdurable.checks import ALL_CHECKERS, Ledger
from chaosdurable.checks.sdk_invariants import (
    LIVELOCK_RUN,
    SDK_INVARIANTS,
    is_retryable,
    result_provenance,
    same_result,
    suspension,
)
from chaosdurable.engine import client as engine_client
from chaosdurable.engine.execution import CheckpointRejected
from chaosdurable.engine.service import Service
from chaosdurable.history.ledger import observe_return
from chaosdurable.history.record import Returned, RunRecord, Where
from chaosdurable.strategies.interpreter import program_check
from chaosdurable.strategies.workflows import Program, Step, Wait

#: step a, a wait, step b: a and b return the same value, so a mix-up cannot show in the result
A_WAIT_B = Program(body=(Step("a", 7), Wait("w", 5), Step("b", 7)), input=0)


def _violations(verdict: Any, name: str) -> list[Any]:
    return verdict.by_checker(name)


@pytest.mark.parametrize("schedule", [
    FaultSchedule([CrashAtCheckpoint(op="a", phase="after_persist")]),
    FaultSchedule([CrashAtCheckpoint(op="b", action="SUCCEED")]),
    FaultSchedule([CheckpointApiError(error="server_error", op="b")]),
    FaultSchedule([CheckpointApiError(error="no_token", op="a")]),
    FaultSchedule([DuplicateInvocation(invocation=2)]),
], ids=["crash-after-persist", "crash-before-persist", "server-error", "no-token", "duplicate"])
def test_correct_runs_under_faults_keep_every_invariant(schedule: FaultSchedule) -> None:
    verdict = program_check(A_WAIT_B, schedule, checkers=SDK_INVARIANTS)
    assert verdict.fired, verdict.report()
    assert verdict.ok, verdict.report()
    assert {r.name for r in verdict.chaotic.returns} == {"a", "b"}
    assert verdict.chaotic.issued_tokens


# ---------------------------------------------------------------------- result_provenance
def _b_id() -> str:
    reference = program_check(A_WAIT_B, checkers={}).reference
    return next(op["Id"] for op in reference.operations if op.get("Name") == "b")


def test_provenance_catches_a_step_given_another_operations_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken engine serves step b a copy of a's checkpoint: the SDK replays b from it and b's body
    never runs. The result is the same (both return 7), so only provenance can see it."""
    b_id = _b_id()
    original = Service._page

    def page(self: Service, ex: Any, records: list[Any], frame: Any, max_items: int | None = None) -> Any:
        a = next((op for op in ex.ops.values() if op.name == "a" and op.status == "SUCCEEDED"), None)
        if a is not None and b_id not in ex.ops and all(op.id != b_id for op in records):
            records = [*records, dataclasses.replace(a, id=b_id, name="b")]
        return original(self, ex, records, frame, max_items)

    monkeypatch.setattr(Service, "_page", page)
    verdict = program_check(A_WAIT_B, checkers={**SDK_INVARIANTS})
    assert verdict.chaotic.status == "SUCCEEDED" and verdict.chaotic.result == verdict.reference.result
    found = _violations(verdict, "result_provenance")
    assert found, verdict.report()
    assert found[0].op == "b" and found[0].invocation == 2
    assert "of its own" in found[0].message


def _good_run() -> RunRecord:
    return program_check(A_WAIT_B, FaultSchedule([CrashAtCheckpoint(op="a", phase="after_persist")]),
                         checkers={}).chaotic


def test_provenance_catches_a_replayed_value_that_is_not_the_checkpointed_one() -> None:
    run = _good_run()
    last = max(r.where.invocation or 0 for r in run.returns)
    doctored = [dataclasses.replace(r, value="8") if r.name == "a" and r.where.invocation == last else r
                for r in run.returns]
    found = result_provenance(run, dataclasses.replace(run, returns=doctored), Ledger())
    assert [v.op for v in found] == ["a"], found
    assert "holds 7" in found[0].message


def test_provenance_catches_a_result_with_no_operation_at_all() -> None:
    run = _good_run()
    ghost = Returned(999, "ghost", "7", dataclasses.replace(run.returns[0].where, op_id=None))
    found = result_provenance(run, dataclasses.replace(run, returns=[*run.returns, ghost]), Ledger())
    assert [v.op for v in found] == ["ghost"] and "no operation of that name" in found[0].message


def test_provenance_knows_the_sdk_typed_envelope() -> None:
    assert same_result('{"t":"m","v":{"step9":{"t":"i","v":1}}}', '{"step9": 1}')
    assert same_result('{"t":"l","v":[{"t":"s","v":"x"}]}', '["x"]')
    assert not same_result('{"t":"m","v":{"step9":{"t":"i","v":2}}}', '{"step9": 1}')
    assert same_result("7", "7") and not same_result("7", "8")


# ----------------------------------------------------------------------- retryable_not_fatal
def test_retryable_errors_by_the_services_contract() -> None:
    assert is_retryable("TooManyRequestsException", 429, "Rate exceeded")
    assert is_retryable("ServiceException", 500, "Internal error")
    assert is_retryable("InvalidParameterValueException", 400, "Invalid checkpoint token")
    assert not is_retryable("ValidationException", 400, "Invalid request")
    assert not is_retryable("InvalidParameterValueException", 400, "WaitSeconds must be within 1..31622400")


def test_retryable_not_fatal_catches_a_client_that_makes_retryable_errors_fatal(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken client classifies every rejection as EXECUTION (non-retryable): a 500 ends the execution."""
    def fatal(rejection: CheckpointRejected, kind: type[BotoClientError]) -> BotoClientError:
        error = {"Code": rejection.code, "Message": rejection.message}
        return kind(rejection.message, error_category=DurableApiErrorCategory.EXECUTION, error=error,  # type: ignore[arg-type]
                    response_metadata={"HTTPStatusCode": rejection.status})  # type: ignore[arg-type]

    monkeypatch.setattr(engine_client, "to_sdk_error", fatal)
    verdict = program_check(A_WAIT_B, FaultSchedule([CheckpointApiError(error="server_error", op="b")]),
                            checkers=SDK_INVARIANTS)
    assert verdict.chaotic.status == "FAILED", verdict.report()
    found = _violations(verdict, "retryable_not_fatal")
    assert found, verdict.report()
    assert "500 ServiceException" in found[0].message


def test_retryable_not_fatal_is_silent_on_a_non_retryable_error() -> None:
    verdict = program_check(A_WAIT_B, FaultSchedule([CheckpointApiError(error="client_error", op="b")]),
                            checkers=SDK_INVARIANTS)
    assert verdict.chaotic.status == "FAILED", verdict.report()
    assert not _violations(verdict, "retryable_not_fatal"), verdict.report()


# ---------------------------------------------------------------------------- tokens_issued
def test_tokens_issued_catches_a_client_that_sends_a_token_it_was_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken client alters the token of one checkpoint call of the chaotic run (the one with faults)."""
    original = engine_client.EngineServiceClient.checkpoint
    calls: list[int] = []

    def forge(self: Any, durable_execution_arn: str, checkpoint_token: str, updates: list[Any],
              client_token: str | None) -> Any:
        if getattr(getattr(self._service.interceptor, "schedule", None), "faults", ()):
            calls.append(1)
            if len(calls) == 2:
                checkpoint_token = checkpoint_token + "-forged"
        return original(self, durable_execution_arn, checkpoint_token, updates, client_token)

    monkeypatch.setattr(engine_client.EngineServiceClient, "checkpoint", forge)
    verdict = program_check(A_WAIT_B, FaultSchedule([CheckpointApiError(error="server_error", op="b")]),
                            checkers=SDK_INVARIANTS)
    found = _violations(verdict, "tokens_issued")
    assert found and "-forged" in found[0].message, verdict.report()
    assert verdict.chaotic.status == "SUCCEEDED", verdict.report()  # the service rejected it; the SDK retried


def test_tokens_issued_catches_a_token_kept_from_an_earlier_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken client keeps invocation 1's first token (as module state would) and sends it in invocation 2."""
    original = engine_client.EngineServiceClient.checkpoint
    kept: dict[int, str] = {}

    def stale(self: Any, durable_execution_arn: str, checkpoint_token: str, updates: list[Any],
              client_token: str | None) -> Any:
        if getattr(getattr(self._service.interceptor, "schedule", None), "faults", ()):
            kept.setdefault(self._invocation_index, checkpoint_token)
            if self._invocation_index == 2 and 1 in kept:
                checkpoint_token = kept.pop(1)
        return original(self, durable_execution_arn, checkpoint_token, updates, client_token)

    monkeypatch.setattr(engine_client.EngineServiceClient, "checkpoint", stale)
    verdict = program_check(A_WAIT_B, FaultSchedule([CheckpointApiError(error="server_error", op="b")]),
                            checkers=SDK_INVARIANTS)
    found = _violations(verdict, "tokens_issued")
    assert found and "issued to invocation 1" in found[0].message and found[0].invocation == 2, verdict.report()


# ------------------------------------------------------------------------------- suspension
def test_suspension_catches_an_engine_that_forgets_a_wait_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken engine arms no timer for a wait, in the chaotic run only (the one with faults): the
    invocation suspends on the wait, and nothing can ever wake the execution."""
    original = Service._add_timer

    def add_timer(self: Service, due_ms: int, kind: str, *args: Any, **kw: Any) -> None:
        if kind != "wait" or not getattr(getattr(self.interceptor, "schedule", None), "faults", ()):
            original(self, due_ms, kind, *args, **kw)

    monkeypatch.setattr(Service, "_add_timer", add_timer)
    verdict = program_check(A_WAIT_B, FaultSchedule([CrashAtCheckpoint(op="a", phase="after_persist")]),
                            checkers={**SDK_INVARIANTS, "liveness": ALL_CHECKERS["liveness"]}, execution_timeout=3600)
    assert verdict.reference.status == "SUCCEEDED" and verdict.chaotic.status == "TIMED_OUT", verdict.report()
    # the execution timeout ended it, so it is not "stuck": the liveness checker cannot see this
    assert not _violations(verdict, "liveness"), verdict.report()
    found = _violations(verdict, "suspension")
    assert found and "nothing could wake the execution" in found[0].message, verdict.report()
    assert found[0].invocation == 2


def _suspended(index: int, wakes: list[str]) -> dict[str, Any]:
    return {"index": index, "dead": None, "copies": 1, "concurrent": False, "outcome": "returned",
            "duplicate_outcome": None, "wakes": wakes}


def _run(invocations: list[dict[str, Any]], checkpoints: list[dict[str, Any]], label: str) -> RunRecord:
    return RunRecord(label=label, status="RUNNING", result=None, result_payload=None, error=None, history=[],
                     operations=[], invocations=invocations, checkpoints=checkpoints, handler="h", arn="arn")


def test_suspension_catches_a_livelock_and_a_suspension_with_nothing_to_wake() -> None:
    reference = _run([_suspended(1, ["wait 'w': a timer"])], [{"arn": "arn", "invocation": 1, "copy": 0,
                                                                "accepted": True, "updates": []}], "reference")
    stuck_step = ["step 'b' STARTED (the handler must run it)"]
    livelock = _run([_suspended(i, stuck_step) for i in range(1, LIVELOCK_RUN + 2)], [], "chaotic")
    found = suspension(reference, livelock, Ledger())
    assert len(found) == 1 and "makes no progress" in found[0].message and found[0].invocation == LIVELOCK_RUN
    dead_end = _run([_suspended(1, [])], [], "chaotic")
    assert "nothing could wake" in suspension(reference, dead_end, Ledger())[0].message
    assert suspension(reference, reference, Ledger()) == []


def test_observe_return_does_nothing_outside_a_run() -> None:
    observe_return("x", object())  # no recorder: silent, never raises
    assert Where().arn is None


@durable_execution
def big_child(event: Any, context: DurableContext) -> int:
    """A child context whose result is too large to checkpoint: the SDK checkpoints a summary
    (ReplayChildren) and re-runs the child on replay, reading its steps' checkpoints."""
    def child(ctx: DurableContext) -> str:
        return "".join(ctx.step(lambda _, i=i: str(i) * 100_000, name=f"part{i}") for i in range(3))

    text = context.run_in_child_context(child, name="big")
    observe_return("big", text)
    context.wait(Duration.from_seconds(5), name="w")
    return len(text)


def test_provenance_does_not_compare_a_replay_children_summary() -> None:
    verdict = check(big_child, {}, FaultSchedule([CrashAtCheckpoint(op="w", phase="after_persist")]),
                    checkers=SDK_INVARIANTS)
    summaries = [u for cp in verdict.chaotic.checkpoints for u in cp["updates"]
                 if (u.get("ContextOptions") or {}).get("ReplayChildren")]
    assert summaries, "the child's result was expected to be checkpointed as a summary"
    assert verdict.chaotic.result == 300_000, verdict.report()
    assert len({r.where.invocation for r in verdict.chaotic.returns}) >= 2, verdict.report()
    assert verdict.ok, verdict.report()
