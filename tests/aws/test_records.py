"""What a run keeps: no credential and no payload in reports, logs or recorded histories unless
asked; with payloads kept, a recorded failure replays locally."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from chaosdurable import check
from chaosdurable.backends.base import Guards, Limits, Workload
from chaosdurable.faults.schedule import CrashAtCheckpoint, FaultSchedule
from chaosdurable.replay import replay_history
from tests.aws.conftest import backend
from tests.aws.harness import handlers
from tests.aws.harness.stack import FAKE_CREDENTIALS

SECRET = "card-4111-1111-SECRET"
PAYLOAD = json.dumps({"order": "o1", "card": SECRET})
CRASH = FaultSchedule((CrashAtCheckpoint(op="charge", action="SUCCEED"),))


def test_no_credential_or_payload_in_reports_logs_or_records(stack, world, allow, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    aws = backend(stack, "buggy", tmp_path)
    verdict = check(handlers.buggy, payload=PAYLOAD, schedule=CRASH, backend=aws, setup=handlers.setup, world=world,
                    callbacks={"approval": "ok"})
    assert not verdict.ok, "the buggy handler must be caught for this report to mean anything"
    out, err = capfd.readouterr()
    records = "".join(p.read_text() for p in (tmp_path / "histories").iterdir())
    report = verdict.report() + repr(dataclasses.asdict(verdict.chaotic)) + repr(verdict.reference)
    texts = {"report": report, "logs": caplog.text + out + err, "records": records}
    for where, text in texts.items():
        for secret in (SECRET, FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]):
            assert secret not in text, f"{secret!r} appears in the {where}"
    assert "[redacted payload sha256:" in records and len(list((tmp_path / "histories").iterdir())) == 3


def test_recorded_failure_replays_locally(stack, world, allow, tmp_path: Path) -> None:
    aws = backend(stack, "buggy", tmp_path, keep_payloads=True)
    workload = Workload(handlers.buggy, callbacks={"approval": "ok"}, setup=handlers.setup)
    record, nemesis = aws.run(workload, json.dumps({"order": "o1"}), CRASH, Limits(), Guards(), world, "chaotic")
    assert nemesis.fired and record.world == {"dynamodb:charges": ['{"charged": {"N": "2"}, "id": {"S": "o1"}}']}
    [path] = (tmp_path / "histories").iterdir()
    report = replay_history(path, handlers.buggy)
    assert report.ok, report.report()
    # and the replay is a real check: a handler that renamed its step diverges from the record
    assert not replay_history(path, handlers.renamed).ok
