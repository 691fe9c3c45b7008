"""``chaosdurable check`` as a new user meets it: no "OK" on a run that tested nothing, callbacks
named as the handler names them (with the closest name suggested), a hint when a callback's default
``null`` answer broke the fault-free run, and handlers given by file path.

Found by the independent new-user trial (claim h, ``claim_h/cli_results.md``).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import check
from chaosdurable.cli import EXIT_NOTHING_TESTED, EXIT_OK, EXIT_USAGE, main
from chaosdurable.engine.runner import DurableRunner, callback_label

REF = "tests.test_cli_ux:approve"


@durable_execution
def approve(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    order = event["order"]  # fails on the default input, null
    context.step(lambda _: "reserved", name="reserve-stock")
    approval = context.wait_for_callback(lambda cid, _c: None, name="manager-approval")
    answer = json.loads(approval)  # the callback's result is JSON text; the default answer is null
    return context.step(lambda _: {"order": order, "ok": answer["ok"]}, name="charge-card")  # fails on null


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["check", *argv])
    return code, capsys.readouterr().out


def _no_ok(out: str) -> None:
    assert not [line for line in out.splitlines() if line.rstrip().endswith(": OK")], out


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def test_a_failed_fault_free_run_prints_no_ok_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, REF)
    assert code == EXIT_NOTHING_TESTED
    _no_ok(out)
    assert out.startswith(f"nothing was tested: the fault-free run of {REF} ended FAILED")
    assert "error: nothing was tested" in out and "check --input (it defaults to null)" in out


def test_an_unreached_schedule_prints_no_ok_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    schedule = '{"faults": [{"kind": "crash_at_checkpoint", "op": "reserve-stok"}]}'
    code, out = _run(capsys, REF, "--input", '{"order": "o-1"}', "--schedule", schedule,
                     "--callbacks", '{"manager-approval": {"ok": true}}')
    assert code == EXIT_NOTHING_TESTED
    _no_ok(out)
    assert "no fault of the schedule was reached" in out.splitlines()[0]
    assert "did you mean 'reserve-stock'?" in out


def test_an_unknown_callback_is_named_as_the_handler_names_it_with_the_closest(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, REF, "--input", '{"order": "o-1"}', "--callbacks", '{"manager-aproval": {"ok": true}}')
    assert code == EXIT_USAGE
    _no_ok(out)
    assert "verdict" not in out
    assert "callbacks seen: ['manager-approval']. did you mean 'manager-approval' for 'manager-aproval'?" in out
    assert "create callback id" not in out


def test_a_callback_answered_by_its_own_name_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, REF, "--input", '{"order": "o-1"}', "--callbacks", '{"manager-approval": {"ok": true}}')
    assert code == EXIT_OK, out
    assert out.splitlines()[0].endswith(": OK")


def test_the_default_null_answer_that_broke_the_run_is_named_with_the_fix(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, REF, "--input", '{"order": "o-1"}')
    assert code == EXIT_NOTHING_TESTED
    _no_ok(out)
    error = out[out.index("error: "):]
    assert "callback(s) ['manager-approval'] got no configured answer" in error
    assert "default, success with JSON null" in error
    assert """--callbacks '{"manager-approval": {"ok": true}}'""" in error
    verdict = check(approve, {"order": "o-1"})
    assert "callbacks={'manager-approval': {'ok': True}}" in verdict.report()
    answered = check(approve, {"order": "o-1"}, callbacks={"manager-approval": {"ok": True}})
    assert answered.reference.status == "SUCCEEDED"
    assert "got no configured answer" not in answered.report()


def test_callbacks_are_named_as_the_handler_names_them() -> None:
    assert callback_label("manager-approval create callback id") == "manager-approval"
    assert callback_label("approval") == "approval" and callback_label("create callback id") is None
    runner = DurableRunner(approve)
    arn = runner.start({"order": "o-1"})
    callback_id = runner.wait_for_callback(arn, name="manager-approval")  # the name the handler wrote
    (pending,) = runner.pending_callbacks(arn)
    assert pending.callback_id == callback_id and pending.label == "manager-approval"
    verdict = check(approve, {"order": "o-1"}, callbacks={"manager-approval": {"ok": True}})
    assert [entry["note"] for entry in verdict.chaotic.callbacks] == ["callback 'manager-approval'"]


def test_a_handler_given_by_its_file_path_under_the_current_folder(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "tests/test_cli_ux.py:approve", "--input", '{"order": "o-1"}',
                     "--callbacks", '{"manager-approval": {"ok": true}}')
    assert code == EXIT_OK, out
    assert "from tests.test_cli_ux import approve" in out


FILE_HANDLER = '''
from aws_durable_execution_sdk_python import durable_execution


@durable_execution
def handler(event, context):
    return context.step(lambda _: event["n"] + 1, name="add")
'''


def test_a_handler_given_by_a_file_path_elsewhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ux_path_handler.py").write_text(textwrap.dedent(FILE_HANDLER))
    code, out = _run(capsys, f"{tmp_path}/ux_path_handler.py:handler", "--input", '{"n": 1}')
    assert code == EXIT_OK, out
    assert "from ux_path_handler import handler" in out


def test_a_missing_file_suggests_the_dotted_form(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "claim_h/needs_input.py:handler")
    assert code == EXIT_USAGE
    assert "no such file" in out and "claim_h.needs_input:handler" in out
