"""The aws backend refuses what is not explicitly allowed, naming what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosdurable.backends.aws import Aws
from chaosdurable.backends.base import Guards, Limits, UnsupportedFault, Workload
from chaosdurable.deployed.safety import AwsRefused
from chaosdurable.faults.schedule import FaultSchedule, LateTimer
from tests.aws.conftest import ACCOUNT, arn, backend
from tests.aws.harness import handlers


def test_not_on_allowlist_is_refused(stack, allow, tmp_path: Path) -> None:
    with pytest.raises(AwsRefused, match=f"'other' in account {ACCOUNT} is not on"):
        backend(stack, "other", tmp_path)
    assert stack.door.counters.requests.get("POST 2015-03-31", 0) >= 0  # the stack is up; nothing was sent


def test_switch_off_is_refused(stack, allow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSDURABLE_ALLOW_AWS")
    with pytest.raises(AwsRefused, match="CHAOSDURABLE_ALLOW_AWS=1"):
        backend(stack, "correct", tmp_path)


def test_no_allowlist_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSDURABLE_ALLOW_AWS", "1")
    monkeypatch.delenv("CHAOSDURABLE_AWS_ALLOWLIST", raising=False)
    with pytest.raises(AwsRefused, match="no allowlist"):
        Aws(arn("correct"), endpoint_url="http://127.0.0.1:9", allow_endpoints=("127.0.0.1",))


def test_unlisted_endpoint_is_refused(allow) -> None:
    with pytest.raises(AwsRefused, match="not an AWS endpoint and not in allow_endpoints"):
        Aws(arn("correct"), endpoint_url="http://127.0.0.1:9")


def test_unsupported_fault_is_refused(stack, allow, tmp_path: Path) -> None:
    aws = backend(stack, "correct", tmp_path)
    with pytest.raises(UnsupportedFault, match="late_timer"):
        aws.run(Workload(handlers.correct), "{}", FaultSchedule((LateTimer(),)), Limits(), Guards())
