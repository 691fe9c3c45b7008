"""The framework tests itself: random durable programs (``workflows()``), run by a generic
interpreter written with the real SDK, under random fault schedules drawn over each
program's own operation space.

For every program and schedule, the SDK together with our engine must keep:

- exactly-once step semantics (the ``exactly_once`` checker finds nothing);
- liveness (the execution ends);
- resumption: the chaotic run ends like the fault-free one, and returns
  ``expected_result(program)``, unless a fired fault legitimately changes the outcome;
- the SDK's own invariants (``chaosdurable.checks.sdk_invariants``): every result that reached
  the interpreter came from its operation's own checkpoint or body run; a retryable checkpoint
  error never ends the execution FAILED; no checkpoint token the service did not issue is sent;
  every suspension leaves something that can wake the execution, and the SDK makes progress.

The ``idempotency`` checker is not asserted: the recorded effects of at-least-once steps
repeat under crashes by design.
"""

from __future__ import annotations

import json
import os
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from chaosdurable import CallbackFault, CrashAtCheckpoint, DurableRunner, FaultSchedule
from chaosdurable.checks import ALL_CHECKERS
from chaosdurable.checks.sdk_invariants import SDK_INVARIANTS
from chaosdurable.engine.invoker import is_durable_handler
from chaosdurable.strategies.interpreter import (
    TARGETS,
    echo_target,
    from_json,
    plain_target,
    program_check,
    program_event,
    program_space,
    run_program,
    to_json,
)
from chaosdurable.strategies.schedules import fault_schedules
from chaosdurable.strategies.workflows import (
    Callback,
    ChildContext,
    Invoke,
    Map,
    Parallel,
    Program,
    Step,
    Wait,
    WaitForCondition,
    expected_result,
    workflows,
)
from chaosdurable.verdict import Verdict

ASSERTED = {**{name: ALL_CHECKERS[name] for name in ("exactly_once", "resumption", "liveness")}, **SDK_INVARIANTS}
#: examples per property; the version job (noxfile.py) runs fewer on each older SDK
EXAMPLES = int(os.environ.get("CHAOSDURABLE_SELFTEST_EXAMPLES", "25"))


# ------------------------------------------------------------------ outcome analysis
def step_attempt_errors(verdict: Verdict) -> dict[str, list[str]]:
    """For each step operation of the chaotic run (by id): the error types of its failed attempts."""
    errors: dict[str, list[str]] = {}
    for event in verdict.chaotic.history:
        if event["EventType"] == "StepFailed":
            error = (event["StepFailedDetails"].get("Error") or {}).get("Payload") or {}
            errors.setdefault(event["Id"], []).append(error.get("ErrorType") or "")
    return errors


def _steps_by_id(program: Program, verdict: Verdict) -> dict[str, tuple[dict[str, Any], Step]]:
    steps = {op.name: op for op in program.walk() if isinstance(op, Step)}
    return {op["Id"]: (op, steps[op["Name"]]) for op in verdict.chaotic.operations
            if op["Type"] == "STEP" and op.get("Name") in steps}


def legitimately_changed(program: Program, verdict: Verdict) -> str | None:
    """Why the chaotic outcome may differ from the fault-free one (None: it may not).

    Besides the faults that declare it (a failed or late callback answer, a 4xx), a step can
    run out of attempts because of the faults: an injected dependency failure takes an
    attempt, and so does an attempt of an AT_MOST_ONCE_PER_RETRY step that a crash
    interrupted (the SDK must not run it again). A step that failed terminally with one of
    those among its attempts' errors explains the change; an interruption of an
    AT_LEAST_ONCE_PER_RETRY step does not (that step must simply run again).
    """
    if any(getattr(f.fault, "changes_outcome_now", False) or f.fault.changes_outcome for f in verdict.fired):
        return "a fault that declares it changes the outcome fired"
    timeouts = {op.name: op.timeout for op in program.walk() if isinstance(op, Callback) and op.timeout}
    for firing in verdict.fired:
        fault = firing.fault
        if isinstance(fault, CallbackFault) and fault.behaviour == "delay" and fault.op in timeouts \
                and 1 + fault.seconds >= timeouts[fault.op]:
            # a chaosdurable gap: this "delay" answers after the callback's own timeout, which
            # changes the outcome as "after_timeout" does, but the fault does not declare it
            return f"callback {fault.op!r} was answered {fault.seconds:g}s late, past its {timeouts[fault.op]}s timeout"
    errors = step_attempt_errors(verdict)
    for op_id, (op, step) in _steps_by_id(program, verdict).items():
        if op["Status"] != "FAILED":
            continue
        kinds = errors.get(op_id, [])
        injected = [k for k in kinds if k.endswith("TransientDependencyError")]
        interrupted = [k for k in kinds if k.endswith("StepInterruptedError")]
        if injected or (interrupted and step.semantics == "AT_MOST_ONCE_PER_RETRY"):
            return f"step {step.name!r} ran out of its {step.max_attempts} attempt(s) through faults: {kinds}"
    return None


def assert_survives(program: Program, verdict: Verdict) -> None:
    """The selftest's property for one program and one verdict."""
    context = f"\nprogram: {program.describe()}\n{program.to_json()}\n\n{verdict.report()}"
    assert verdict.reference.status == "SUCCEEDED", "fault-free run did not succeed" + context
    assert verdict.reference.result == expected_result(program), "fault-free result is wrong" + context
    assert not verdict.by_checker("exactly_once"), context
    assert not verdict.by_checker("liveness"), context
    for invariant in SDK_INVARIANTS:
        assert not verdict.by_checker(invariant), context
    # the provenance checker sees what the interpreter reports: it must report something
    assert verdict.reference.returns or all(isinstance(op, Wait) for op in program.walk()), \
        "the interpreter reported no operation results" + context
    errors = step_attempt_errors(verdict)
    for op_id, (_, step) in _steps_by_id(program, verdict).items():
        kinds = errors.get(op_id, [])
        assert len(kinds) <= step.max_attempts, f"step {step.name!r} failed {kinds}, over its budget" + context
        planned = [k for k in kinds if k.endswith("PlannedFailure")]
        assert len(planned) <= step.fail_first_attempts, f"step {step.name!r} repeated a planned failure" + context
    why = legitimately_changed(program, verdict)
    if why is None:
        assert not verdict.by_checker("resumption"), context
        assert verdict.chaotic.status == "SUCCEEDED", context
        assert verdict.chaotic.result == expected_result(program), context


# ------------------------------------------------------------------------ property
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@hypothesis.given(program=workflows(), data=st.data())
def test_generated_workflows_survive_generated_faults(program: Program, data: st.DataObject) -> None:
    space = program_space(program)
    schedule = data.draw(fault_schedules(space=space), label="schedule")
    verdict = program_check(program, schedule, checkers=ASSERTED)
    assert_survives(program, verdict)


@settings(max_examples=max(1, EXAMPLES * 3 // 5), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@hypothesis.given(program=workflows(kinds=["step", "map", "parallel", "child", "wait"]), data=st.data())
def test_generated_workflows_survive_generated_faults_with_threaded_branches(program: Program,
                                                                              data: st.DataObject) -> None:
    """The same property with map/parallel branches on threads of their own, as the SDK runs them in
    production: real interleavings, where an SDK concurrency defect would show."""
    space = program_space(program)
    schedule = data.draw(fault_schedules(space=space), label="schedule")
    verdict = program_check(program, schedule, checkers=ASSERTED, threaded_branches=True)
    assert_survives(program, verdict)


# ------------------------------------------------------------------ pinned cases
#: the liveness lead (issue 14 §3.5): a generic property once reported, on SDK 2.0.0-2.1.0, an execution of
#: this program left RUNNING for 1,000 invocations with nothing pending after a crash just after a's checkpoint
#: was persisted. Not reproduced since (README, "SDK versions and known SDK issues"); pinned here so the version
#: job keeps asking, on every SDK, in each in-process mode.
A_WAIT_B = Program(body=(Step("a", 1), Wait("wait", 35), Step("b", 2)), input=0)


@pytest.mark.parametrize("mode", [{}, {"threaded_branches": True}, {"faithful": True}, {"virtual_clock": True}],
                         ids=["default", "threaded", "faithful", "virtual-clock"])
@pytest.mark.parametrize("action", [None, "SUCCEED"])
def test_a_crash_after_persisting_a_before_a_long_wait_is_survived(mode: dict[str, Any], action: str | None) -> None:
    schedule = FaultSchedule([CrashAtCheckpoint(op="a", action=action, phase="after_persist")])
    verdict = program_check(A_WAIT_B, schedule, checkers=ASSERTED, **mode)
    assert verdict.fired, verdict.report()
    assert len(verdict.chaotic.invocations) <= 4, verdict.report()
    assert_survives(A_WAIT_B, verdict)


# --------------------------------------------------------------------- unit tests
EVERYTHING = Program(body=(
    Step("step1", 5, "AT_MOST_ONCE_PER_RETRY", max_attempts=3, fail_first_attempts=2),
    Wait("wait2", 5),
    Callback("callback3", 7),
    Callback("callback4", 1, fails=True, timeout=7200),
    Invoke("invoke5", "echo_target", 3),
    Invoke("invoke6", "plain_target", 4),
    WaitForCondition("poll7", 3),
    ChildContext("child8", (Step("step9", 1),)),
    Map("map10", (1, 2), (Step("step11", 2, max_attempts=2, fail_first_attempts=1), Callback("callback12", 9))),
    Parallel("parallel13", ((Step("step14", 4),), (Wait("wait15", 1), ChildContext("child16", ())))),
), input={"order": 3})


@settings(max_examples=50, deadline=None)
@hypothesis.given(workflows(max_depth=3, max_ops=12))
def test_programs_round_trip_through_json(program: Program) -> None:
    assert from_json(to_json(program)) == program
    assert from_json(json.loads(to_json(program))) == program
    assert json.loads(json.dumps(program_event(program)))["program"] == program.to_dict()


@settings(max_examples=50, deadline=None)
@hypothesis.given(workflows(max_depth=3, max_ops=12))
def test_names_are_unique_and_bounded(program: Program) -> None:
    names = [op.name for op in program.walk()]
    assert len(names) == len(set(names))
    assert 1 <= program.count() <= 12
    assert program.depth() <= 4


def test_the_interpreter_returns_the_expected_result() -> None:
    verdict = program_check(EVERYTHING)
    assert verdict.ok, verdict.report()
    assert verdict.reference.result == expected_result(EVERYTHING)


def _exec_handler(program: Program) -> dict[str, Any]:
    source = program.to_python()
    namespace: dict[str, Any] = {"__name__": "generated_workflow"}
    exec(compile(source, "<generated workflow>", "exec"), namespace)
    return namespace


def _run_source(program: Program) -> Any:
    namespace = _exec_handler(program)
    runner = DurableRunner(namespace["handler"])
    for name, target in namespace["TARGETS"].items():
        if name == "echo_target":
            runner.register_durable_function(name, target)
        else:
            runner.register_function(name, target)
    callbacks = {op.name: op for op in program.walk() if isinstance(op, Callback)}
    if not callbacks:
        return runner.run(program.input)
    arn = runner.start(program.input)
    answered: set[str] = set()
    for _ in range(500):  # answer callbacks by name; move time on otherwise
        runner.run_until_idle()
        if runner.service.get(arn).done:
            break
        pending = [cb for cb in runner.pending_callbacks(arn) if cb.callback_id not in answered]
        for cb in pending:
            answered.add(cb.callback_id)
            answer = namespace["CALLBACKS"][cb.name]
            if answer.failure is not None:
                runner.send_callback_failure(cb.callback_id, answer.failure)
            else:
                runner.send_callback_success(cb.callback_id, json.dumps(answer.result))
        if not pending:
            assert runner.advance_to_next_timer(), runner.describe_stuck(arn)
    return runner.result(arn)


def test_to_python_compiles_and_runs_to_the_expected_result() -> None:
    namespace = _exec_handler(EVERYTHING)
    assert namespace["EXPECTED"] == expected_result(EVERYTHING)
    result = _run_source(EVERYTHING)
    assert result.status == "SUCCEEDED", result.error
    assert result.result == expected_result(EVERYTHING)


@settings(max_examples=max(1, EXAMPLES * 3 // 5), deadline=None)
@hypothesis.given(workflows(kinds=["step", "wait", "invoke", "wait_for_condition", "child", "map", "parallel"]))
def test_generated_source_matches_the_interpreter(program: Program) -> None:
    result = DurableRunner(_exec_handler(program)["handler"]).register_durable_function(
        "echo_target", echo_target).register_function("plain_target", plain_target).run(program.input)
    assert result.status == "SUCCEEDED", (program.to_python(), result.error)
    assert result.result == expected_result(program), program.to_python()


def test_targets_are_registered_by_name() -> None:
    # by name and durability only: a cold-start fault reloads the interpreter module
    assert sorted(TARGETS) == ["echo_target", "plain_target"]
    assert is_durable_handler(TARGETS["echo_target"]) and not is_durable_handler(TARGETS["plain_target"])
    assert run_program.__module__ == "chaosdurable.strategies.interpreter"


def test_shrinking_goes_small() -> None:
    found = hypothesis.find(workflows(), lambda p: p.count("map") >= 1,
                            settings=settings(max_examples=500, database=None))
    assert found.count() <= 2, found.describe()
    assert [op.kind for op in found.body] == ["map"]
    (the_map,) = found.body
    assert isinstance(the_map, Map) and len(the_map.items) == 1
    assert all(isinstance(op, Step) for op in the_map.body)
    plain = hypothesis.find(workflows(), lambda p: True, settings=settings(database=None))
    assert plain == Program(body=(Step("step1", 0),), input=0)


def test_kinds_restrict_the_draw() -> None:
    flat = hypothesis.find(workflows(kinds=["wait"]), lambda p: p.count() >= 3, settings=settings(database=None))
    assert {op.kind for op in flat.walk()} == {"wait"}
    with pytest.raises(ValueError, match="unknown operation kinds"):
        workflows(kinds=["teleport"])
