"""``DurableRunner``: the driving API, shaped like AWS's ``DurableFunctionTestRunner``.

Typical use::

    runner = DurableRunner(handler)
    result = runner.run(input={"order": 1})      # to completion, in virtual time
    assert result.status == "SUCCEEDED"

or, step by step::

    arn = runner.start(input="approve-me")        # runs until idle
    cb = runner.pending_callbacks(arn)[0]
    runner.send_callback_success(cb.callback_id, '"yes"')
    result = runner.wait_for_result(arn)

Every call is bounded: ``run``/``wait_for_result`` raise ``ExecutionStuckError`` (with the
partial result attached) instead of waiting for something that cannot happen.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chaosdurable.engine import speedups, user_clock
from chaosdurable.engine.clock import VirtualClock
from chaosdurable.engine.errors import ExecutionStuckError, NotDurableHandlerError, PayloadNotJsonError
from chaosdurable.engine.execution import Execution
from chaosdurable.engine.history import to_json
from chaosdurable.engine.invoker import InProcessInvoker, is_durable_handler
from chaosdurable.engine.knobs import Knobs
from chaosdurable.engine.logcapture import LogCapture
from chaosdurable.engine.service import Service, _not_durable_message

Mode = Literal["inprocess", "subprocess"]
_MISSING = object()


#: The SDK names the callback of ``wait_for_callback(name="approval")`` ``"approval create callback id"``.
_WAIT_FOR_CALLBACK_SUFFIX = "create callback id"


def callback_label(name: str | None) -> str | None:
    """The name the handler gave a callback: ``wait_for_callback(name="approval")`` is checkpointed as
    the operation ``"approval create callback id"``, and this gives back ``"approval"``; a name from
    ``create_callback(name=...)`` is returned as it is (None for an unnamed callback)."""
    if not name or name == _WAIT_FOR_CALLBACK_SUFFIX:
        return None
    return name.removesuffix(" " + _WAIT_FOR_CALLBACK_SUFFIX)


@dataclass(frozen=True)
class PendingCallback:
    """A callback that is STARTED and waiting for an answer.

    ``name`` is the callback operation's name as the history has it; ``label`` the name the
    handler wrote (``wait_for_callback(name="approval")`` gives ``"approval"``).
    """

    callback_id: str
    name: str | None
    operation_id: str
    execution_arn: str

    @property
    def label(self) -> str | None:
        """The name the handler gave this callback (``callback_label``)."""
        return callback_label(self.name)


@dataclass(frozen=True)
class ExecutionResult:
    """An execution as ``GetDurableExecution`` + ``GetDurableExecutionHistory`` would report it."""

    arn: str
    status: str
    result_payload: str | None
    error: dict[str, Any] | None
    history: list[dict[str, Any]]
    operations: list[dict[str, Any]]
    invocations: int
    diagnostics: list[str] = field(default_factory=list)

    @property
    def result(self) -> Any:
        """The JSON-decoded result (None when there is none)."""
        if self.result_payload in (None, ""):
            return None
        return json.loads(self.result_payload)

    def get_operation(self, name: str) -> dict[str, Any]:
        """The first operation with this name (KeyError naming the known names otherwise)."""
        for op in self.operations:
            if op.get("Name") == name:
                return op
        known = sorted({str(op.get("Name")) for op in self.operations if op.get("Name")})
        raise KeyError(f"no operation named {name!r}; operations: {known}")

    def history_json(self) -> str:
        """Canonical JSON of the history: equal runs give equal bytes."""
        return to_json(self.history)


#: A handler that hangs this many invocations in a row would hang on every retry: the run stops there.
MAX_CONSECUTIVE_HANGS = 3


class DurableRunner:
    """Runs a ``@durable_execution`` handler on the in-memory service in virtual time.

    Args:
        handler: the decorated handler under test.
        function_name: the name it is registered under.
        execution_timeout: default ExecutionTimeout in (virtual) seconds.
        seed: seeds every id, token and jitter draw; same seed, same history.
        hang_timeout: real seconds an invocation may run before it counts as an invocation
            timeout (``Sandbox.Timedout``).
        faithful: True runs the SDK exactly as shipped: no speed-ups and no serial branches
            (see ``engine.speedups``).
        backend: ``chaosdurable.backends.InProcess(...)`` or ``Subprocess(...)``; when given, it
            sets ``mode``, ``faithful``, ``threaded_branches`` and ``virtual_clock``.
        threaded_branches: True runs map/parallel branches on threads of their own, as the
            SDK does, instead of one after another on the coordinator's thread. Threads
            explore real interleavings, but the order of branch checkpoints (and so the
            history) then depends on thread timing. Default False: serial, byte-identical.
        mode: "inprocess" (threads) or "subprocess" (a Python process per emulated sandbox; with
            ``backend=Subprocess(process_per="invocation")``, a new one per invocation).
        max_invocations: per-execution budget before ``ExecutionStuckError``.
        knobs: service behaviours that are unknown on AWS (see ``engine.knobs``).
        import_path: ``"package.module:attribute"`` by which subprocess mode imports the handler in
            each fresh process (default: found from the handler itself, by name or by identity in
            its module; needed for a handler no module attribute holds). Checked at once.
        virtual_clock: True makes the handler's own wall-clock reads (``time.time``,
            ``datetime.now``...) read the virtual clock during each invocation, frozen at the
            invocation's virtual start (see ``engine.user_clock``); in subprocess mode too.
    """

    def __init__(
        self,
        handler: Callable[..., Any],
        *,
        function_name: str = "handler",
        execution_timeout: int = 31_622_400,
        seed: int = 0,
        hang_timeout: float = 30.0,
        faithful: bool = False,
        threaded_branches: bool = False,
        mode: Mode = "inprocess",
        max_invocations: int = 500,
        knobs: Knobs | None = None,
        capture_logs: bool = False,
        virtual_clock: bool = False,
        import_path: str | None = None,
        backend: Any = None,
    ) -> None:
        if not is_durable_handler(handler):
            raise NotDurableHandlerError(_not_durable_message(handler))
        if backend is not None:  # an engine backend value (chaosdurable.backends) says where and how
            if getattr(backend, "name", None) not in ("inprocess", "subprocess"):
                raise ValueError(f"DurableRunner runs the engine backends (InProcess, Subprocess), not {backend!r}; "
                                 "a deployed function is driven through backend.driver(...)")
            mode, faithful = backend.name, backend.faithful
            threaded_branches, virtual_clock = backend.threaded_branches, backend.virtual_clock
        if mode == "inprocess":
            invoker: Any = InProcessInvoker(hang_timeout)
        elif mode == "subprocess":
            from chaosdurable.engine.subprocess_invoker import SubprocessInvoker

            invoker = SubprocessInvoker(hang_timeout, seed=seed, process_per=getattr(backend, "process_per", "sandbox"))
        else:
            raise ValueError(f"mode must be 'inprocess' or 'subprocess', not {mode!r}")
        self.mode = mode
        self.faithful = faithful
        self.hang_timeout = hang_timeout
        self.serial_branches = not (faithful or threaded_branches)
        if mode == "subprocess":
            from chaosdurable.engine.subprocess_invoker import handler_ref

            invoker.serial_branches = self.serial_branches
            invoker.speedups = not faithful
            # a handler a fresh process cannot import is refused now, not at its first invocation
            invoker.import_paths[function_name] = handler_ref(handler, import_path)
        self.max_invocations = max_invocations
        self.function_name = function_name
        self.execution_timeout = execution_timeout
        self.service = Service(clock=VirtualClock(), knobs=knobs, seed=seed, invoker=invoker)
        self.service.register(function_name, handler, durable=True, execution_timeout_s=execution_timeout)
        self.virtual_clock = virtual_clock
        if virtual_clock:
            user_clock.enable(self.service)
        self._last_arn: str | None = None
        self.logs = LogCapture() if capture_logs else None
        if self.logs is not None and mode == "subprocess":
            invoker.log_sink = self.logs

    # ------------------------------------------------------------ registry
    def register_targets(self, targets: Mapping[str, Callable[..., Any]] | None) -> DurableRunner:
        """Register each chained-invoke target: durable handlers as child executions, others as plain functions."""
        for name, target in (targets or {}).items():
            if is_durable_handler(target):
                self.register_durable_function(name, target)
            else:
                self.register_function(name, target)
        return self

    def register_function(self, name: str, fn: Callable[..., Any]) -> DurableRunner:
        """Register a plain Lambda function ``fn(event, context)`` as an invoke target."""
        self._refuse_handler_name(name)
        self.service.register(name, fn, durable=False)
        return self

    def _refuse_handler_name(self, name: str) -> None:
        if name == self.function_name:
            raise ValueError(f"{name!r} is the name of the handler under test; register the target under another "
                             "name (or give the runner another function_name=)")

    def register_durable_function(self, name: str, handler: Callable[..., Any],
                                  execution_timeout: int | None = None) -> DurableRunner:
        """Register a ``@durable_execution`` handler as an invoke target (runs as a child execution)."""
        self._refuse_handler_name(name)
        self.service.register(name, handler, durable=True,
                              execution_timeout_s=execution_timeout or self.execution_timeout)
        return self

    # ------------------------------------------------------------- driving
    def start(self, input: Any = None, *, payload: str | None = None, name: str | None = None,
              execution_timeout: int | None = None) -> str:
        """Start an execution and run until idle. Returns its ARN.

        ``input`` is any JSON value (encoded for you); ``payload`` is raw JSON text instead.
        """
        if payload is None:
            try:
                payload = json.dumps(input, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise PayloadNotJsonError(
                    f"input {input!r} is not JSON-serializable ({exc}): pass dicts, lists, strings, numbers, "
                    "booleans or None, or raw JSON text as payload="
                ) from None
        ex = self.service.start_execution(self.function_name, payload, name=name,
                                          execution_timeout_s=execution_timeout or self.execution_timeout)
        self._last_arn = ex.arn
        self.run_until_idle()
        return ex.arn

    def run(self, input: Any = None, *, payload: str | None = None, name: str | None = None,
            execution_timeout: int | None = None, until_timeout: bool = False) -> ExecutionResult:
        """Start an execution and drive it to its outcome in virtual time."""
        arn = self.start(input, payload=payload, name=name, execution_timeout=execution_timeout)
        return self.wait_for_result(arn, until_timeout=until_timeout)

    def run_until_idle(self) -> None:
        """Run invocations, targets and due timers until only the clock (or the outside world) can help."""
        with self._driving():
            while self.service.step():
                self._check_budget()

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds`` (>= 0), firing every timer due on the way, in order."""
        if not seconds >= 0:
            raise ValueError(f"advance({seconds!r}): virtual time only moves forward; pass a number of seconds >= 0")
        target = self.service.clock.now_ms + round(seconds * 1000)
        while True:
            self.run_until_idle()
            due = self.service.next_timer_ms()
            if due is None or due > target:
                break
            with self._driving():
                self.service.advance_to_next_timer()
        self.service.clock.advance_to(target)
        self.run_until_idle()

    def wait_for_result(self, arn: str | None = None, *, until_timeout: bool = False) -> ExecutionResult:
        """Drive the execution to its outcome. Raises ``ExecutionStuckError`` if it cannot finish.

        With ``until_timeout=False`` (default), an execution whose only hope is an external
        answer (a callback nobody sends) is reported as stuck instead of silently running
        into its execution timeout.
        """
        ex = self.service.get(arn or self._require_arn())
        while True:
            self.run_until_idle()
            if ex.done:
                return self.result(ex.arn)
            if not until_timeout and self._only_external_hope(ex):
                raise ExecutionStuckError(self._stuck_message(ex), self.result(ex.arn))
            with self._driving():
                if not self.service.advance_to_next_timer():
                    raise ExecutionStuckError(self._stuck_message(ex), self.result(ex.arn))

    def advance_to_next_timer(self) -> bool:
        """Jump virtual time to the next timer, fire it and run until idle. False if no timer is left."""
        with self._driving():
            fired = self.service.advance_to_next_timer()
        self.run_until_idle()
        return fired

    def describe_stuck(self, arn: str | None = None) -> str:
        """What the execution is waiting for, in words."""
        return self._stuck_message(self.service.get(arn or self._require_arn()))

    # ----------------------------------------------------------- callbacks
    def pending_callbacks(self, arn: str | None = None) -> list[PendingCallback]:
        """Callbacks that are STARTED, oldest first (all executions when ``arn`` is None)."""
        out = []
        for ex in self.service.executions.values():
            if arn is not None and ex.arn != arn:
                continue
            for op in ex.ops.values():
                if op.type == "CALLBACK" and op.status == "STARTED" and op.callback_id:
                    out.append(PendingCallback(op.callback_id, op.name, op.id, ex.arn))
        return out

    def wait_for_callback(self, arn: str | None = None, name: str | None = None) -> str:
        """Run (advancing virtual time) until a callback (named ``name``, if given) is pending; return its id.

        Raises ``ExecutionStuckError`` if the execution ends or stalls before one appears.
        """
        arn = arn or self._require_arn()
        while True:
            self.run_until_idle()
            pending = self.pending_callbacks(arn)
            for cb in pending:
                if name is None or name in (cb.name, cb.label):
                    return cb.callback_id
            ex = self.service.get(arn)
            doomed = self._next_timer_times_out(pending)
            if doomed is not None:
                raise ExecutionStuckError(
                    f"no callback named {name!r} is pending; callback {doomed.label!r} ({doomed.callback_id}) is, "
                    "and moving virtual time on to look for another would time it out. Answer it first "
                    "(send_callback_success/failure/heartbeat), or wait for that name.", self.result(arn))
            if ex.done or not self.advance_to_next_timer():
                raise ExecutionStuckError(
                    f"no callback{f' named {name!r}' if name else ''} became pending: " + self._stuck_message(ex),
                    self.result(arn),
                )

    def _next_timer_times_out(self, pending: list[PendingCallback]) -> PendingCallback | None:
        """The pending callback whose timeout (or heartbeat timeout) the next due timer is, if any."""
        live = [t for t in self.service._timers if self.service._timer_live(t)]
        if not live or not pending:
            return None
        first = min(live)
        if first.kind not in ("cb_timeout", "cb_heartbeat"):
            return None
        return next((cb for cb in pending if cb.operation_id == first.op_id and cb.execution_arn == first.arn), None)

    def send_callback_success(self, callback_id: str, result: str | bytes | None = None) -> None:
        """Complete a callback with a raw result payload (usually JSON text), then run until idle."""
        self.service.send_callback_success(callback_id, result)
        self.run_until_idle()

    def send_callback_failure(self, callback_id: str, error: dict[str, Any] | None = None) -> None:
        """Fail a callback with an ErrorObject dict (``ErrorType``, ``ErrorMessage``...), then run until idle."""
        self.service.send_callback_failure(callback_id, error)
        self.run_until_idle()

    def send_callback_heartbeat(self, callback_id: str) -> None:
        """Heartbeat a callback, re-arming its heartbeat timeout."""
        self.service.send_callback_heartbeat(callback_id)

    def stop_execution(self, arn: str, error: dict[str, Any] | None = None) -> None:
        """StopDurableExecution; stopping an execution that already ended is an error, as on AWS."""
        ex = self.service.get(arn)
        if ex.done:
            raise ValueError(f"execution {ex.name} already ended ({ex.status}); only a RUNNING execution can be "
                             "stopped")
        self.service.stop_execution(arn, error)
        self.run_until_idle()

    # ------------------------------------------------------------- reading
    def result(self, arn: str | None = None) -> ExecutionResult:
        """The execution as it stands now (it may still be RUNNING)."""
        ex = self.service.get(arn or self._require_arn())
        return ExecutionResult(
            arn=ex.arn,
            status=ex.status,
            result_payload=ex.result,
            error=ex.error,
            history=ex.history.events(),
            operations=[op.snapshot() for op in ex.ops.values()],
            invocations=len(ex.invocations),
            diagnostics=list(ex.diagnostics),
        )

    def get_execution_history(self, arn: str | None = None, include_execution_data: bool = True) -> dict[str, Any]:
        """``GetDurableExecutionHistory`` response: ``{"Events": [...]}``."""
        ex = self.service.get(arn or self._require_arn())
        return {"Events": ex.history.events(include_execution_data)}

    def get_durable_execution(self, arn: str | None = None) -> dict[str, Any]:
        """``GetDurableExecution`` response shape."""
        ex = self.service.get(arn or self._require_arn())
        spec = self.service.functions[ex.function_name]
        out: dict[str, Any] = {
            "DurableExecutionArn": ex.arn,
            "DurableExecutionName": ex.name,
            "FunctionArn": spec.arn,
            "InputPayload": ex.input_payload,
            "Status": ex.status,
            "StartTimestamp": ex.history.events()[0]["EventTimestamp"],
            "Version": "$LATEST",
        }
        if ex.result is not None:
            out["Result"] = ex.result
        if ex.error is not None:
            out["Error"] = ex.error
        if ex.end_ms is not None:
            from chaosdurable.engine.clock import ms_to_datetime

            out["EndTimestamp"] = ms_to_datetime(ex.end_ms)
        return out

    @property
    def now_ms(self) -> int:
        """Virtual time in epoch milliseconds."""
        return self.service.clock.now_ms

    # ------------------------------------------------------------ internals
    @contextlib.contextmanager
    def _driving(self) -> Iterator[None]:
        inprocess = self.mode == "inprocess"
        with speedups.active(not self.faithful and inprocess, serial_branches=self.serial_branches and inprocess):
            if self.logs is not None and inprocess:
                with self.logs.capturing():
                    yield
            else:
                yield

    def _require_arn(self) -> str:
        if self._last_arn is None:
            raise LookupError("no execution has been started on this runner yet: call start() or run() first")
        return self._last_arn

    def _check_budget(self) -> None:
        for ex in self.service.executions.values():
            if not ex.done and ex.consecutive_hangs >= MAX_CONSECUTIVE_HANGS:
                raise ExecutionStuckError(
                    f"execution {ex.name}: the handler hung {ex.consecutive_hangs} invocations in a row (each "
                    f"stopped after hang_timeout={self.hang_timeout} s and treated as Sandbox.Timedout); it would "
                    f"hang on every retry, so chaosdurable stopped. {ex.diagnostics[-1] if ex.diagnostics else ''}",
                    self.result(ex.arn),
                )
            if not ex.done and len(ex.invocations) > self.max_invocations:
                raise ExecutionStuckError(
                    f"execution {ex.name} used more than {self.max_invocations} invocations without finishing "
                    f"(max_invocations={self.max_invocations}). {self._stuck_message(ex)}",
                    self.result(ex.arn),
                )

    def _only_external_hope(self, ex: Execution) -> bool:
        """True when nothing but an outside answer (or the execution timeout) can move ``ex``."""
        due = self.service.next_timer_ms()
        if due is None:
            return True
        live = [t for t in self.service._timers if self.service._timer_live(t)]
        related = {ex.arn} | {e.arn for e in self.service.executions.values() if e.parent and e.parent[0] == ex.arn}
        return all(t.kind == "exec_timeout" for t in live if t.arn in related) and any(
            op.type == "CALLBACK" and op.status == "STARTED" for op in ex.ops.values()
        )

    def _stuck_message(self, ex: Execution) -> str:
        waiting = []
        for op in ex.ops.values():
            if op.terminal or op.type == "EXECUTION":
                continue
            label = f"{op.type} {op.name or op.id}"
            if op.type == "CALLBACK":
                label = f"callback {callback_label(op.name) or op.id!r}"
                waiting.append(f"{label} (callback id {op.callback_id}) has had no answer: send one with "
                               f"runner.send_callback_success({op.callback_id!r}, ...)")
            elif op.type == "CHAINED_INVOKE":
                waiting.append(f"{label} is waiting for function {op.function_name!r}")
            else:
                waiting.append(f"{label} is {op.status}")
        detail = "; ".join(waiting) or "no operation is pending"
        extra = ("\n" + "\n".join(ex.diagnostics)) if ex.diagnostics else ""
        return f"execution {ex.name} is {ex.status} and cannot finish on its own: {detail}{extra}"
