"""One run: a handler, an input and a fault schedule, through the engine, into a ``RunRecord``.

Data flows one way: the workload (handler, input, callback answers) and the nemesis
(schedule) go into the backend (``DurableRunner``); what happens is recorded (history,
checkpoints, body runs, effects, tripwire hits, the moto world) and returned. Nothing here
judges the run: that is the checkers' job.

The outside world answers callbacks: by default every callback gets a success with a
JSON ``null`` one virtual second after it is created (with heartbeats in between when it
has a heartbeat timeout). ``callbacks={"approval": Answer(result={"ok": True}, delay=60)}``
changes that per callback name; a callback fault changes it once.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chaosdurable.engine.errors import ChaosDurableError, ExecutionStuckError, UnknownCallbackError
from chaosdurable.engine.invoker import is_durable_handler
from chaosdurable.engine.knobs import Knobs
from chaosdurable.engine.runner import DurableRunner, Mode, PendingCallback
from chaosdurable.faults.nemesis import Nemesis
from chaosdurable.faults.schedule import CallbackFault, FaultSchedule
from chaosdurable.history import http as http_effects
from chaosdurable.history import ledger, module_state
from chaosdurable.history.probes import BodyProbeFactory, inject_body_probe
from chaosdurable.history.randomness import UserRandom
from chaosdurable.history.record import RunRecord
from chaosdurable.history.tripwire import Tripwire, flagged
from chaosdurable.history.world import World

MAX_ROUNDS = 2000


@dataclass(frozen=True)
class Answer:
    """How the outside world answers one callback: a success ``result`` (any JSON value),
    or a ``failure`` (an ErrorObject dict), ``delay`` virtual seconds after it was created."""

    result: Any = None
    failure: dict[str, Any] | None = None
    delay: float = 1.0


@dataclass(frozen=True)
class RunConfig:
    """Everything about a run except the schedule."""

    mode: Mode = "inprocess"
    seed: int = 0
    knobs: Knobs | None = None
    targets: Mapping[str, Callable[..., Any]] | None = None
    callbacks: Mapping[str, Any] | None = None
    #: True (clock, randomness, uuid), "strict" (also the environment) or False (``history.tripwire.flagged``)
    tripwire: bool | str = True
    #: tripwire calls or source patterns never flagged
    tripwire_allow: tuple[str, ...] = ()
    max_invocations: int = 1000
    hang_timeout: float = 30.0
    execution_timeout: int = 31_622_400
    allow_real_aws: bool = False
    #: host patterns HTTP requests may reach (``chaosdurable.history.http``); every other host is refused
    allow_hosts: tuple[str, ...] = ()
    #: a ``responses.RequestsMock`` that answers HTTP requests to hosts not allowed (started for the run)
    http: Any = None
    threaded_branches: bool = False
    #: the handler's own wall-clock reads follow the virtual clock (``engine.user_clock``)
    virtual_clock: bool = True
    #: ``module:attribute`` by which subprocess children import the handler (``DurableRunner(import_path=)``)
    import_path: str | None = None
    #: run the SDK exactly as shipped (``DurableRunner(faithful=True)``)
    faithful: bool = False
    #: subprocess mode: a process per emulated sandbox (warm invocations share it) or per invocation
    process_per: str = "sandbox"


def _configured_key(name: str | None, callbacks: Mapping[str, Any] | None) -> str | None:
    """The key of ``callbacks`` that answers the callback operation ``name``: ``*``, the exact name, or
    the name the handler wrote (``"approval"`` for ``wait_for_callback(name="approval")``, whose
    operation is ``"approval create callback id"``). None when no answer is configured."""
    from chaosdurable.engine.runner import callback_label

    keys = list(callbacks or {})
    label = callback_label(name)
    for key in keys:  # the exact name first, then a prefix of it, then any
        if key in (name, label):
            return key
    for key in keys:
        if name and key != "*" and name.startswith(key + " "):
            return key
    return "*" if "*" in keys else None


def _answer_for(name: str | None, callbacks: Mapping[str, Any] | None) -> Answer:
    key = _configured_key(name, callbacks)
    if key is None:
        return Answer()
    value = (callbacks or {})[key]
    return value if isinstance(value, Answer) else Answer(result=value)


#: The words by which the note of ``default_answer_note`` is recognized among a run's diagnostics.
DEFAULTED_MARK = "got no configured answer"


def default_answer_note(defaulted: list[str], status: str) -> str | None:
    """Why a run that failed may have failed: callbacks it answered with the default ``null``."""
    if not defaulted or status == "SUCCEEDED":
        return None
    names = list(dict.fromkeys(defaulted))
    example = names[0] if names[0] != "(unnamed)" else "*"
    return (f"the run ended {status} after callback(s) {names} {DEFAULTED_MARK} and were answered with "
            "the default, success with JSON null; if the handler expects a value, give the answer: "
            f"check(..., callbacks={{{example!r}: {{'ok': True}}}}) or --callbacks "
            f"'{{\"{example}\": {{\"ok\": true}}}}' (the key is the name the handler gives the callback)")


#: the label of a run whose replays read the clock ``REPLAY_SHIFT_MS`` later and are reseeded outside
#: steps (with ``virtual_clock``); ``checks.confirm`` compares it with the same run unshifted
SHIFTED_REPLAY = "shifted replay"
#: 1 day 13 h 13 min 17 s: the date, weekday, hour (before/after noon), minute and second all change
REPLAY_SHIFT_MS = ((24 + 13) * 3600 + 13 * 60 + 17) * 1000


#: how much later the witness run (the second fault-free run) starts than the reference: 1 h 1 min 1.001 s,
#: so a timestamp a step mints differs between the two (to the millisecond, second, minute and hour) and is
#: told apart as a fresh value, while the date (a run's first day starts at midnight) stays the same
WITNESS_SHIFT_MS = 3_661_001


def execute(handler: Callable[..., Any], payload: str, schedule: FaultSchedule, config: RunConfig,
            world: World | None = None, label: str = "run") -> tuple[RunRecord, Nemesis]:
    """Run ``handler`` on ``payload`` (JSON text) under ``schedule``; return the record and the nemesis."""
    runner = DurableRunner(handler, mode=config.mode, seed=config.seed, knobs=config.knobs,
                           max_invocations=config.max_invocations, hang_timeout=config.hang_timeout,
                           execution_timeout=config.execution_timeout, threaded_branches=config.threaded_branches,
                           virtual_clock=config.virtual_clock, import_path=config.import_path,
                           faithful=config.faithful)
    runner.register_targets(config.targets)
    if hasattr(runner.service.invoker, "process_per"):
        runner.service.invoker.process_per = config.process_per
    nemesis = Nemesis(schedule, runner.service)
    runner.service.interceptor = nemesis
    recorder = ledger.Recorder(decide=nemesis.on_effect, is_crashed=nemesis.is_crashed,
                               allow_real_aws=config.allow_real_aws, kill=nemesis.kill_after_effect)
    # read by subprocess mode: while it is False, a child need not wait for the decision on each effect
    recorder.may_decide_effects = nemesis.may_decide_effects  # type: ignore[attr-defined]
    events: list[tuple[str, dict[str, Any]]] = []
    runner.service.observers.append(lambda what, data: events.append((what, data)))
    # the handler's draws from `random` follow the seed; the witness run draws its own (history.randomness)
    shifted = label == SHIFTED_REPLAY  # replays come later and draw anew outside steps (checks.confirm)
    user_random = UserRandom(config.seed, "witness" if label == "witness" else "run",
                             replay_salt="shifted" if shifted else None)
    if shifted:
        runner.service.replay_shift_ms = REPLAY_SHIFT_MS
    if label == "witness" and config.virtual_clock:  # another execution, started at another time
        runner.service.clock.advance_to(runner.service.clock.now_ms + WITNESS_SHIFT_MS)
    if hasattr(runner.service.invoker, "user_random"):  # subprocess mode: each child seeds itself
        runner.service.invoker.user_random = user_random
    else:
        runner.service.observers.append(lambda what, data: user_random.at_invocation(
            data["arn"], data["invocation"]) if what == "invocation_start" else None)
    callers_random = random.getstate()  # given back at the end: the caller's own stream is not reseeded

    def on_body(event: str, where: Any) -> None:
        recorder.body(event, where)
        if event == "start":
            user_random.at_body(where)

    probe = BodyProbeFactory(on_body)
    removers = [inject_body_probe(h, probe) for h in [handler, *(config.targets or {}).values()]
                if is_durable_handler(h)]

    def on_cold_start(what: str, data: dict[str, Any]) -> None:
        if what == "cold_start":  # the reloaded module holds a new handler object: probe it too
            removers.append(inject_body_probe(runner.service.functions[data["function"]].handler, probe))

    runner.service.observers.append(on_cold_start)
    module_states: dict[int, dict[str, str]] = {}
    cold_starts: list[int] = []
    if config.mode == "inprocess":  # subprocess children start with fresh module state anyway
        runner.service.observers.append(_module_state_observer(handler, module_states, cold_starts))
    tripwire = Tripwire(recorder.trip, in_children=config.mode == "subprocess") if config.tripwire else None
    callbacks_log: list[dict[str, Any]] = []
    stuck: str | None = None
    if world is not None:
        world.reset()
    sdk_logger = logging.getLogger("aws_durable_execution_sdk_python")
    sdk_level = sdk_logger.level
    # Injected faults, planned retries and handled failures make the SDK log tracebacks by design; the
    # verdict reports what matters, so its own ERROR lines would only bury the report.
    sdk_logger.setLevel(logging.CRITICAL)
    ledger.activate(recorder)
    http_effects.activate(http_effects.Policy(config.allow_hosts, config.http))
    started_mock = config.http is not None and not getattr(config.http, "_patcher", None)
    if started_mock:
        config.http.start()
    if tripwire is not None:
        tripwire.on()
    defaulted: list[str] = []
    problems: list[str] = []
    try:
        arn = runner.start(payload=payload)
        stuck = _drive(runner, arn, nemesis, config, callbacks_log, defaulted, problems)
    except ExecutionStuckError as exc:
        stuck = str(exc)
        arn = runner._last_arn or ""
    except ChaosDurableError as exc:
        if runner._last_arn is None:
            raise  # nothing started: bad input (a payload that is not JSON, ...) is the caller's to fix
        stuck = f"engine error: {exc}"
        arn = runner._last_arn
    finally:
        if tripwire is not None:
            tripwire.off()
        for remove in removers:
            remove()
        sdk_logger.setLevel(sdk_level)
        getattr(runner.service.invoker, "close", lambda: None)()  # subprocess mode: its idle sandbox processes
    random.setstate(callers_random)
    try:
        snapshot = world.snapshot() if world is not None else None
    finally:
        ledger.activate(None)
        http_effects.activate(None)
        if started_mock:
            config.http.stop(allow_assert=False)
    record = _record(runner, arn, label, handler, recorder, events, callbacks_log, snapshot, stuck)
    record.tripwire = [h for h in record.tripwire if flagged(h, config.tripwire, config.tripwire_allow)]
    record.module_state, record.cold_starts = module_states, cold_starts
    note = default_answer_note(defaulted, "STUCK" if stuck else record.status)
    if note is not None and schedule.faults == ():
        record.diagnostics.append(note)  # under faults, a failure has other causes to report
    if stuck or record.status != "SUCCEEDED":
        record.diagnostics += list(dict.fromkeys(problems))
    _release(runner, nemesis)
    return record, nemesis


def _release(runner: DurableRunner, nemesis: Nemesis) -> None:
    """Break the run's reference cycles once its record is taken, so its state dies by reference counting.

    The service's observers are closures over the runner (which holds the service), and the nemesis holds
    the service that holds it as its interceptor: left alone, the whole run (service, executions,
    operations, recorder) waits for the cyclic garbage collector. Nothing reads either after the record:
    the verdict reads the nemesis' own findings (``fired``, ``not_reached``, ...), never its service.
    """
    runner.service.observers.clear()
    nemesis.service = None


def _module_state_observer(handler: Callable[..., Any], states: dict[int, dict[str, str]],
                           cold_starts: list[int]) -> Callable[[str, dict[str, Any]], None]:
    """An engine observer that snapshots the handler module's plain-data globals at the start of
    invocation 1 and of every cold-started invocation of the run's own (first) execution."""
    main: list[str] = []
    cold = [False]

    def observe(what: str, data: dict[str, Any]) -> None:
        if what == "cold_start":
            cold[0] = True  # the invocation it is for starts next (``Service._invoke``)
        elif what == "invocation_start":
            was_cold, cold[0] = cold[0], False
            if not main:
                main.append(data["arn"])
            if data["arn"] != main[0] or not (data["invocation"] == 1 or was_cold):
                return
            states[data["invocation"]] = module_state.snapshot(module_state.module_of(handler))
            if was_cold:
                cold_starts.append(data["invocation"])

    return observe


def _drive(runner: DurableRunner, arn: str, nemesis: Nemesis, config: RunConfig,
           log: list[dict[str, Any]], defaulted: list[str] | None = None,
           problems: list[str] | None = None) -> str | None:
    """Answer callbacks and move time until the execution ends. Returns why it got stuck, if it did.

    Answers come from ``config.callbacks`` through ``chaosdurable.events.CallbackAnswers`` (by name, in
    order, by function, or from an event stream). The names of callbacks answered with the default (no
    key of ``config.callbacks`` matched) are appended to ``defaulted``; what went wrong handing out
    answers (an ``InOrder`` or a stream run dry) to ``problems``."""
    from chaosdurable.events import CallbackAnswers

    answered: set[str] = set()
    late: list[tuple[str, Answer]] = []
    ex = runner.service.get(arn)
    answers = CallbackAnswers(config.callbacks, nemesis, _input_of(ex))
    for _ in range(MAX_ROUNDS):
        runner.run_until_idle()
        if ex.done:
            break
        pending = [cb for cb in runner.pending_callbacks(arn) if cb.callback_id not in answered]
        if pending:
            cb = pending[0]
            answered.add(cb.callback_id)
            op = ex.ops[cb.operation_id]
            delivery = answers.next(cb.name, cb.label, timeout_s=op.callback_timeout_s,
                                    heartbeat_timeout_s=op.heartbeat_timeout_s, operation_id=cb.operation_id,
                                    callback_id=cb.callback_id)
            if defaulted is not None and delivery.defaulted:
                defaulted.append(cb.label or "(unnamed)")
            if delivery.problem is not None and problems is not None:
                problems.append(delivery.problem)
            if delivery.answer is None:
                continue  # no event left for it: it waits (until its timeout, if it has one)
            for fault, how in delivery.changes:  # callbacks get other events: the control flow may differ
                nemesis.declare_outcome_change(fault, how, handled_failure=True)
            _answer(runner, cb, delivery.answer, nemesis.callback_fault(cb.name), log, late, nemesis,
                    what=delivery.note)
            continue
        if not runner.advance_to_next_timer():
            return runner.describe_stuck(arn)
    else:
        return f"the execution did not finish within {MAX_ROUNDS} rounds of callbacks and timers"
    for callback_id, answer in late:
        _send(runner, callback_id, answer, log, note="after the execution ended")
    return None


def _input_of(ex: Any) -> Any:
    """The execution's input as a JSON value (None when it is not JSON)."""
    try:
        return json.loads(ex.input_payload) if getattr(ex, "input_payload", None) else None
    except ValueError:
        return None


def _answer(runner: DurableRunner, cb: PendingCallback, answer: Answer, fault: CallbackFault | None,
            log: list[dict[str, Any]], late: list[tuple[str, Answer]], nemesis: Nemesis, what: str = "") -> None:
    op = runner.service.get(cb.execution_arn).ops[cb.operation_id]
    delay, heartbeats, sends = answer.delay, True, 1
    if fault is not None:
        if fault.behaviour == "delay":
            delay += fault.seconds
            if op.callback_timeout_s and delay >= op.callback_timeout_s:
                nemesis.declare_outcome_change(
                    fault, f"the answer came after the callback's {op.callback_timeout_s}s timeout")
        elif fault.behaviour == "duplicate":
            sends = 2
        elif fault.behaviour == "after_timeout":
            delay = (op.callback_timeout_s + 1) if op.callback_timeout_s else delay + fault.seconds
        elif fault.behaviour == "failure":
            answer = Answer(failure={"ErrorType": "CallbackFailure", "ErrorMessage": "injected failure"},
                            delay=delay)
        elif fault.behaviour == "miss_heartbeats":
            heartbeats = False
            if op.heartbeat_timeout_s:
                delay = max(delay, op.heartbeat_timeout_s + 1)
        elif fault.behaviour == "after_end":
            late.append((cb.callback_id, answer))
    remaining = delay
    step = op.heartbeat_timeout_s / 2 if (heartbeats and op.heartbeat_timeout_s) else remaining
    while remaining > 0:
        chunk = min(step, remaining)
        runner.advance(chunk)
        remaining -= chunk
        if remaining > 0 and op.status == "STARTED":
            try:
                runner.send_callback_heartbeat(cb.callback_id)
            except UnknownCallbackError:
                break
    for copy in range(sends):  # a duplicate answer arrives before the first one is acted on
        note = f"callback {cb.label or cb.name!r}" + (f": {what}" if what else "") + (" (duplicate)" if copy else "")
        _send(runner, cb.callback_id, answer, log, note=note, settle=copy == sends - 1)


def _send(runner: DurableRunner, callback_id: str, answer: Answer, log: list[dict[str, Any]], note: str,
          settle: bool = True) -> None:
    entry: dict[str, Any] = {"callback_id": callback_id, "note": note,
                             "outcome": "failure" if answer.failure else "success", "at_ms": runner.now_ms}
    try:
        if answer.failure is not None:
            runner.service.send_callback_failure(callback_id, answer.failure)
        else:
            runner.service.send_callback_success(callback_id, json.dumps(answer.result))
        entry["accepted"] = True
    except UnknownCallbackError as exc:
        entry["accepted"] = False
        entry["error"] = str(exc)
    log.append(entry)
    if settle:
        runner.run_until_idle()


def _record(runner: DurableRunner, arn: str, label: str, handler: Callable[..., Any], recorder: ledger.Recorder,
            events: list[tuple[str, dict[str, Any]]], callbacks: list[dict[str, Any]],
            world: dict[str, Any] | None, stuck: str | None) -> RunRecord:
    result = runner.result(arn)
    ex = runner.service.get(arn)
    invocations = []
    ends = {(d["arn"], d["invocation"], d.get("copy", 0)): d["outcome"] for w, d in events
            if w == "invocation_end"}
    wakes = {(d["arn"], d["invocation"]): d.get("wakes") for w, d in events
             if w == "invocation_end" and not d.get("copy")}
    all_invocations = []
    for execution in runner.service.executions.values():
        for inv in execution.invocations:
            entry = {"index": inv.index, "dead": inv.dead, "copies": inv.copies, "concurrent": inv.concurrent,
                     "outcome": ends.get((execution.arn, inv.index, 0)),
                     "duplicate_outcome": ends.get((execution.arn, inv.index, 1)),
                     # returned PENDING: what could wake the execution then (``Service.wakes``)
                     "wakes": wakes.get((execution.arn, inv.index))}
            if execution.arn == arn:
                invocations.append(entry)
            all_invocations.append(entry | {"arn": execution.arn})
    try:
        value = result.result
    except ValueError:
        value = result.result_payload
    return RunRecord(
        label=label,
        status=result.status,
        result=value,
        result_payload=result.result_payload,
        error=result.error,
        history=result.history,
        operations=result.operations,
        invocations=invocations,
        checkpoints=[d for w, d in events if w == "checkpoint"],
        body_runs=list(recorder.body_runs),
        effects=list(recorder.effects),
        tripwire=list(recorder.tripwire),
        in_step_reads=list(recorder.in_step_reads),
        callbacks=callbacks,
        world=world,
        stuck=stuck,
        diagnostics=result.diagnostics,
        handler=f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', '?')}",
        virtual_ms=runner.now_ms - ex.start_ms,
        arn=arn,
        all_invocations=all_invocations,
        refused_aws=list(recorder.refused),
        returns=list(getattr(recorder, "returns", ())),
        issued_tokens={t: i for execution in runner.service.executions.values() for t, i in execution.issued.items()},
        state_calls=[d for w, d in events if w == "state"],
    )
