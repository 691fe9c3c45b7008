"""Callback strategies: valid ``Answer`` mappings and ``CallbackFault`` values, and they drive real runs."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, WaitForCallbackConfig
from hypothesis import HealthCheck, find, given, settings

from chaosdurable.faults.schedule import CallbackBehaviour, CallbackFault, FaultSchedule, fault_from_json
from chaosdurable.run import Answer, RunConfig, execute
from chaosdurable.strategies import callback_answers, callback_faults, payloads_like
from chaosdurable.strategies.callbacks import BEHAVIOURS, ERROR_TYPES

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = ["approval", "payment confirmation", "kyc"]


def valid_answer(answer: Any) -> None:
    assert isinstance(answer, Answer)
    assert isinstance(answer.delay, float) and 0 <= answer.delay <= 86_400
    if answer.failure is not None:
        assert answer.result is None
        assert set(answer.failure) == {"ErrorType", "ErrorMessage"}
        assert answer.failure["ErrorType"] in ERROR_TYPES
        assert isinstance(answer.failure["ErrorMessage"], str) and answer.failure["ErrorMessage"]
        json.dumps(answer.failure)
    else:
        assert json.loads(json.dumps(answer.result)) == answer.result


@FAST
@given(callback_answers(NAMES))
def test_every_named_callback_gets_a_valid_answer(answers: dict[str, Answer]) -> None:
    assert list(answers) == NAMES
    for answer in answers.values():
        valid_answer(answer)


@FAST
@given(callback_answers())
def test_without_names_one_answer_covers_every_callback(answers: dict[str, Answer]) -> None:
    assert list(answers) == ["*"]
    valid_answer(answers["*"])


@FAST
@given(callback_answers(["approval"], payloads_like({"approved": True, "approver_email": "a@b.co"}),
                        failures=False, max_delay=600))
def test_success_payloads_and_delays_can_be_narrowed(answers: dict[str, Answer]) -> None:
    answer = answers["approval"]
    assert answer.failure is None and answer.delay <= 600
    assert isinstance(answer.result["approved"], bool) and "@" in answer.result["approver_email"]


def test_answers_shrink_to_an_immediate_null_success_and_reach_failures_and_long_delays() -> None:
    assert find(callback_answers(["a"]), lambda m: True) == {"a": Answer(result=None, delay=0.0)}
    failed = find(callback_answers(["a"]), lambda m: m["a"].failure is not None)["a"]
    assert failed.delay == 0.0 and failed.failure is not None and failed.failure["ErrorType"] == ERROR_TYPES[0]
    assert find(callback_answers(["a"]), lambda m: m["a"].delay > 3600)["a"].delay == 3601.0


@FAST
@given(callback_faults(NAMES))
def test_callback_faults_are_valid_and_serialise(fault: CallbackFault) -> None:
    assert isinstance(fault, CallbackFault)
    assert fault.op in NAMES
    assert fault.behaviour in typing.get_args(CallbackBehaviour)
    assert 0 < fault.seconds <= 86_400
    if fault.behaviour not in ("delay", "after_timeout"):
        assert fault.seconds == 60.0  # the default: irrelevant there, so it stays out of the JSON
    assert fault_from_json(json.loads(json.dumps(fault.to_json()))) == fault
    assert fault.describe()


def test_every_behaviour_is_reachable_and_late_is_simplest() -> None:
    assert BEHAVIOURS == typing.get_args(CallbackBehaviour)
    assert find(callback_faults(["kyc"]), lambda f: True) == CallbackFault(behaviour="delay", op="kyc")
    for behaviour in BEHAVIOURS:
        assert find(callback_faults(NAMES), lambda f, b=behaviour: f.behaviour == b).op == NAMES[0]
    only = find(callback_faults(NAMES, behaviours=["failure", "duplicate"]), lambda f: True)
    assert only.behaviour == "failure"


@pytest.mark.parametrize("call", [
    lambda: callback_faults([]), lambda: callback_faults("approval"),
    lambda: callback_faults(["a"], behaviours=["explode"]), lambda: callback_answers("approval"),
])
def test_bad_arguments_are_refused(call: Any) -> None:
    with pytest.raises(ValueError):
        call()


# ----------------------------------------------------------------------------- end to end

@durable_execution
def approval(event: Any, context: DurableContext) -> Any:
    try:
        answer = context.wait_for_callback(lambda _callback_id, _ctx: None, name="approval",
                                           config=WaitForCallbackConfig(timeout=Duration.from_seconds(3600)))
    except Exception as exc:  # a failed or timed-out callback is a legitimate outcome
        return {"failed": type(exc).__name__}
    return {"answer": answer}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(callback_answers(["approval"], max_delay=7200), callback_faults(["approval"]))
def test_drawn_answers_and_faults_drive_a_real_run(answers: dict[str, Answer], fault: CallbackFault) -> None:
    record, _ = execute(approval, "{}", FaultSchedule((fault,)), RunConfig(callbacks=answers, tripwire=False))
    assert record.stuck is None and record.status == "SUCCEEDED", record.stuck
    assert record.callbacks and record.callbacks[0]["note"].startswith("callback 'approval")
    answer = answers["approval"]
    if "answer" in record.result:
        assert answer.failure is None and fault.behaviour not in ("failure", "after_timeout")
        assert json.loads(record.result["answer"]) == answer.result  # the SDK hands over the JSON text
    else:
        late = answer.delay + (fault.seconds if fault.behaviour == "delay" else 0) > 3600
        assert answer.failure is not None or fault.behaviour in ("failure", "after_timeout") or late
