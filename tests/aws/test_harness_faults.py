"""Faults only the harness can cause (callbacks, duplicate starts, stop), Ctrl-C, workers, paging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosdurable.backends.aws_client import RateLimiter
from chaosdurable.backends.base import Guards, Limits, Workload
from chaosdurable.faults.schedule import CallbackFault, FaultSchedule
from chaosdurable.run import Answer
from tests.aws.conftest import backend
from tests.aws.harness import handlers

PAYLOAD = json.dumps({"order": "o1"})
OK = Workload(handlers.correct, callbacks={"approval": "ok"}, setup=handlers.setup)


def test_duplicate_callback_and_duplicate_start(stack, world, allow, tmp_path: Path) -> None:
    aws = backend(stack, "correct", tmp_path, page_size=2)
    duplicates = stack.door.counters.duplicate_starts
    record, nemesis = aws.run(OK, PAYLOAD, FaultSchedule((CallbackFault(behaviour="duplicate", op="approval"),)),
                              Limits(), Guards(), world, "dup")
    assert record.status == "SUCCEEDED"
    assert [f.fault.kind for f in nemesis.fired] == ["callback"]
    sends = [(e["outcome"], e["accepted"]) for e in record.callbacks]
    assert sends == [("success", True), ("success", False)], record.callbacks
    assert stack.door.counters.duplicate_starts == duplicates + 1 and record.diagnostics == []
    assert aws.pages[-1] > 3  # page_size=2: the history came in pages, NextMarker followed


def test_callback_failure_fails_the_execution(stack, world, allow, tmp_path: Path) -> None:
    aws = backend(stack, "correct", tmp_path)
    record, _ = aws.run(OK, PAYLOAD, FaultSchedule((CallbackFault(behaviour="failure", op="approval"),)),
                        Limits(), Guards(), world, "fail")
    assert record.status == "FAILED"


def test_run_timeout_stops_the_execution(stack, world, allow, tmp_path: Path) -> None:
    aws = backend(stack, "correct", tmp_path, run_timeout=1.0)
    never = Workload(handlers.correct, callbacks={"approval": Answer(delay=10_000)}, setup=handlers.setup)
    record, _ = aws.run(never, PAYLOAD, FaultSchedule(), Limits(), Guards(), world, "hang")
    assert record.status == "STOPPED" and record.stuck
    assert aws.inflight.stopped == [record.arn] and len(aws.inflight) == 0


def test_ctrl_c_stops_the_execution(stack, world, allow, tmp_path: Path) -> None:
    calls = []

    def interrupted_sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 3:
            raise KeyboardInterrupt

    aws = backend(stack, "correct", tmp_path, sleep=interrupted_sleep)
    never = Workload(handlers.correct, callbacks={"approval": Answer(delay=10_000)}, setup=handlers.setup)
    with pytest.raises(KeyboardInterrupt):
        aws.run(never, PAYLOAD, FaultSchedule(), Limits(), Guards(), world, "ctrl-c")
    assert len(aws.inflight.stopped) == 1
    status = aws.api.describe(aws.inflight.stopped[0])["Status"]
    assert status == "STOPPED"


def test_workers_run_executions_concurrently(stack, world, allow, tmp_path: Path) -> None:
    aws = backend(stack, "correct", tmp_path, workers=3)
    world.provision(handlers.setup)  # run_many takes no world: provision it once for all three
    plain = Workload(handlers.correct, callbacks={"approval": "ok"})
    jobs = [(plain, json.dumps({"order": f"o{i}"}), FaultSchedule(), f"w{i}") for i in range(3)]
    results = aws.run_many(jobs)
    assert [r.status for r, _ in results] == ["SUCCEEDED"] * 3
    assert len({r.arn for r, _ in results}) == 3


def test_rate_limiter_spaces_calls() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)

    limiter = RateLimiter(15, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire()
    assert slept == pytest.approx([1 / 15, 2 / 15, 3 / 15])


def test_answers_in_order_by_function_and_from_a_stream(stack, world, allow, tmp_path: Path) -> None:
    from chaosdurable.events import CallbackRequest, EventStream, InOrder

    def by_name(request: CallbackRequest) -> str | None:
        return "ok" if request.name == "approval" and request.nth == 0 else None

    aws = backend(stack, "correct", tmp_path)
    for answers in ({"approval": InOrder(["ok"])}, {"*": by_name}, {"approval": EventStream(["ok"])}):
        workload = Workload(handlers.correct, callbacks=answers, setup=handlers.setup)
        record, _ = aws.run(workload, PAYLOAD, FaultSchedule(), Limits(), Guards(), world, "answers")
        assert record.status == "SUCCEEDED", (answers, record.callbacks)


@pytest.mark.parametrize(("dedupe", "result"), [(False, ["evt-1", "evt-1"]), (True, ["evt-1", "evt-2"])])
def test_a_redelivered_event_lands_on_the_next_callback(stack, world, allow, tmp_path: Path, dedupe: bool,
                                                        result: list[str]) -> None:
    from chaosdurable.events import EventStream
    from chaosdurable.faults.events import EventRedelivery

    aws = backend(stack, "webhooks", tmp_path, keep_payloads=True)
    workload = Workload(handlers.webhooks, callbacks={"webhook": EventStream([{"id": "evt-1"}, {"id": "evt-2"}])})
    record, nemesis = aws.run(workload, json.dumps({"expected": 2, "dedupe": dedupe}),
                              FaultSchedule((EventRedelivery(event=0),)), Limits(), Guards(), world, "redeliver")
    assert record.status == "SUCCEEDED" and record.result == result, record.callbacks
    assert [f.fault.kind for f in nemesis.fired] == ["event_redelivery"] and nemesis.fired[0].changes_outcome
    assert [e["note"] for e in record.callbacks] == [
        "callback 'webhook': event #0 of stream 'webhook': success",
        "callback 'webhook': event #0 of stream 'webhook' (redelivered): success",
        "callback 'webhook': event #1 of stream 'webhook': success"][:len(result) + dedupe]
    assert len({e["callback_id"] for e in record.callbacks}) == len(record.callbacks)  # each to its own callback
