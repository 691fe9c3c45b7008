"""The in-memory durable execution service: executions, timers, invocations, callbacks, invokes.

Contract:
- Single driver thread. Handler code runs on invocation threads and reaches the service
  only through ``checkpoint``/``get_execution_state`` (serialized by one lock).
- Deterministic. Work is processed FIFO, timers in (due time, creation order); ids, tokens,
  callback ids and request ids derive from the seed and counters; timestamps come from the
  virtual clock. Jitter draws from ``random.Random(seed)``.
- Bounded. Every invocation is bounded in real time (``hang_timeout_s``), and drivers stop
  with ``ExecutionStuckError`` when nothing can make progress or the budget runs out.
"""

from __future__ import annotations

import hashlib
import heapq
import importlib
import json
import random
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInputWithClient,
    InitialExecutionState,
)
from aws_durable_execution_sdk_python.lambda_service import (
    CheckpointOutput,
    CheckpointUpdatedExecutionState,
    OperationUpdate,
    StateOutput,
)

from chaosdurable import sdk_compat
from chaosdurable.engine import user_clock
from chaosdurable.engine.client import EngineServiceClient
from chaosdurable.engine.clock import SdkFrame, VirtualClock
from chaosdurable.engine.errors import (
    ColdStartUnavailable,
    ExecutionNameConflictError,
    NotDurableHandlerError,
    PayloadNotJsonError,
    UnknownCallbackError,
    UnknownExecutionError,
)
from chaosdurable.engine.execution import (
    INVALID_TOKEN,
    CheckpointRejected,
    Execution,
    Invocation,
)
from chaosdurable.engine.history import error_field, payload_field
from chaosdurable.engine.interception import PROCEED, CheckpointSite, Intervention, NoInterceptor
from chaosdurable.engine.invoker import InProcessInvoker, LambdaContextStub, Outcome, is_durable_handler
from chaosdurable.engine.knobs import Knobs
from chaosdurable.engine.operations import OpRecord
from chaosdurable.engine.promises import TimerPromises
from chaosdurable.engine.sandbox import reload_problem
from chaosdurable.engine.updates import UpdateApplier

REGION = "us-east-1"
#: The longest "stuck at" report kept per hang (stacks of many threads can be long).
MAX_STUCK_REPORT_CHARS = 4000
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class FunctionSpec:
    """A registered Lambda function: a durable handler or a plain one."""

    name: str
    handler: Callable[..., Any]
    durable: bool
    execution_timeout_s: int = 31_622_400

    @property
    def arn(self) -> str:
        """The function ARN (qualified with ``$LATEST``)."""
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}:$LATEST"


@dataclass(order=True)
class _Timer:
    due_ms: int
    seq: int
    kind: str = field(compare=False)
    arn: str = field(compare=False)
    op_id: str | None = field(compare=False, default=None)
    generation: int = field(compare=False, default=0)


class Service(UpdateApplier):
    """The emulated Lambda durable execution service."""

    def __init__(
        self,
        *,
        clock: VirtualClock | None = None,
        knobs: Knobs | None = None,
        seed: int = 0,
        hang_timeout_s: float = 30.0,
        invoker: Any = None,
    ) -> None:
        self.clock = clock or VirtualClock()
        self.knobs = knobs or Knobs()
        self.seed = seed
        self._rng = random.Random(seed)
        self.functions: dict[str, FunctionSpec] = {}
        self.executions: dict[str, Execution] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._callbacks: dict[str, tuple[str, str]] = {}
        self._timers: list[_Timer] = []
        self._timer_seq = 0
        self._heartbeat_gen: dict[tuple[str, str], int] = {}
        self._work: deque[tuple[str, str, str | None]] = deque()
        self._queued_invokes: set[str] = set()
        self._lock = threading.RLock()
        self._promises = TimerPromises()
        self.invoker = invoker or InProcessInvoker(hang_timeout_s)
        #: with ``virtual_clock``: how much later than virtual now the handler's clock reads in every
        #: invocation after the first (``user_clock.run``; the tripwire's confirmation run sets it)
        self.replay_shift_ms = 0
        self.observers: list[Callable[[str, dict[str, Any]], None]] = []
        self.interceptor: Any = NoInterceptor()
        self._gate = threading.Condition()

    # ================================================================= registry
    def register(self, name: str, handler: Callable[..., Any], *, durable: bool | None = None,
                 execution_timeout_s: int = 31_622_400) -> FunctionSpec:
        """Register a function by name; ``durable`` defaults to whether it is ``@durable_execution``."""
        is_durable = is_durable_handler(handler) if durable is None else durable
        if durable and not is_durable_handler(handler):
            raise NotDurableHandlerError(_not_durable_message(handler))
        spec = FunctionSpec(name, handler, is_durable, execution_timeout_s)
        self.functions[name] = spec
        return spec

    # =============================================================== executions
    def start_execution(
        self,
        function_name: str,
        payload: str,
        *,
        name: str | None = None,
        execution_timeout_s: int | None = None,
        parent: tuple[str, str] | None = None,
        exec_id: str | None = None,
    ) -> Execution:
        """Start (or, for a known name and equal input, return) an execution. Idempotent by name."""
        spec = self.functions.get(function_name)
        if spec is None:
            raise UnknownExecutionError(f"no function named {function_name!r} is registered")
        if not spec.durable:
            raise NotDurableHandlerError(_not_durable_message(spec.handler))
        try:
            json.loads(payload)
        except (TypeError, ValueError) as exc:
            raise PayloadNotJsonError(
                f"execution input is not valid JSON ({exc}): pass a JSON text, e.g. '{{\"order\": 1}}' or '\"text\"'"
            ) from None
        limit = self.knobs.limits.max_input_bytes
        if len(payload.encode()) > limit:
            raise PayloadNotJsonError(f"execution input is {len(payload.encode())} bytes; the service accepts {limit}")
        with self._lock:
            if name is not None and (function_name, name) in self._by_name:
                existing = self.executions[self._by_name[(function_name, name)]]
                if existing.input_payload != payload:
                    raise ExecutionNameConflictError(
                        f"execution {name!r} of {function_name!r} already exists with a different input "
                        "(DurableExecutionAlreadyStartedException): use a new name, or the same input to "
                        "get the existing execution back"
                    )
                return existing
            exec_id = exec_id or str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            exec_name = name or exec_id
            arn = f"{spec.arn}/durable-execution/{exec_name}/{exec_id}"
            timeout = execution_timeout_s or spec.execution_timeout_s
            now = self.clock.now_ms
            ex = Execution(
                arn=arn, exec_id=exec_id, name=exec_name, function_name=function_name,
                input_payload=payload, timeout_s=timeout, start_ms=now, knobs=self.knobs, parent=parent,
            )
            op = OpRecord(id=exec_id, type="EXECUTION", status="STARTED", start_ms=now, name=exec_name,
                          input_payload=payload)
            ex.ops[exec_id] = op
            ex.touch(op)
            ex.event("ExecutionStarted", now, {"Input": payload_field(payload), "ExecutionTimeout": timeout})
            self.executions[arn] = ex
            if name is not None:
                self._by_name[(function_name, name)] = arn
            self._add_timer(now + timeout * 1000, "exec_timeout", arn)
            self._enqueue_invoke(arn)
            return ex

    def get(self, arn: str) -> Execution:
        """The execution with this ARN, or a clear ``UnknownExecutionError``."""
        ex = self.executions.get(arn)
        if ex is None:
            raise UnknownExecutionError(f"no durable execution has the ARN {arn!r}")
        return ex

    def stop_execution(self, arn: str, error: dict[str, Any] | None = None) -> None:
        """Stop a running execution (StopDurableExecution); a stopped execution cannot resume."""
        with self._lock:
            ex = self.get(arn)
            self._finish(ex, "STOPPED", error=error or {"ErrorType": "Execution.Stopped",
                                                         "ErrorMessage": "Execution stopped"})

    # ============================================================== checkpoints
    def checkpoint(
        self, arn: str, token: str, updates: list[OperationUpdate], invocation_index: int, copy: int = 0
    ) -> CheckpointOutput:
        """CheckpointDurableExecution: validate, apply all-or-nothing, rotate the token, return the delta.

        The interceptor may reject the call, kill the invocation before or after persisting,
        time it out, or answer without a token; every such decision is recorded.
        """
        ex = self.executions.get(arn)
        if ex is None:
            raise CheckpointRejected(f"Durable execution {arn} not found", "ResourceNotFoundException", 404)
        inv = next((i for i in ex.invocations if i.index == invocation_index), None)
        if inv is not None and inv.copies > 1 and inv.concurrent:
            self._duplicate_gate(inv, copy)
        try:
            return self._checkpoint(ex, inv, token, updates, copy)
        finally:
            if inv is not None and inv.copies > 1:
                with self._gate:
                    inv.processed.add(copy)
                    self._gate.notify_all()

    def _checkpoint(self, ex: Execution, inv: Invocation | None, token: str, updates: list[OperationUpdate],
                    copy: int) -> CheckpointOutput:
        with self._lock:
            intercepting = not isinstance(self.interceptor, NoInterceptor)
            site = self._site(ex, inv, updates, copy) if intercepting else None
            record = {"arn": ex.arn, "invocation": inv.index if inv else None, "copy": copy, "token": token,
                      "updates": [dict(u.to_dict()) for u in updates]} if self.observers else {}
            before = after = PROCEED
            if inv is not None and inv.dead == "crashed" and (copy == 0 or inv.concurrent):
                # the process is gone: a call its killed thread still makes never reaches the service, so
                # it is not recorded (an invocation that timed out, by contrast, lives on and is rejected)
                raise CheckpointRejected(INVALID_TOKEN)
            try:
                ex.check_token(token)
                if inv is None or ex.live_invocation is not inv:  # pragma: no cover - guarded by the token
                    raise CheckpointRejected(INVALID_TOKEN)
                if site is not None:
                    before = self.interceptor.before_checkpoint(site)
                    if before.verb == "proceed":
                        after = self.interceptor.after_checkpoint(site)
                persisted = _persisted_part(updates, before, after)
                if persisted:
                    ex.validate_batch(persisted)
                if before.verb != "proceed" and persisted:
                    self._apply_all(ex, persisted, record)  # the updates ahead of the fault's own
                if inv is not None:
                    self._intervene(ex, inv, before)
            except CheckpointRejected as rejected:
                self._notify("checkpoint", record | {"accepted": False, "error": rejected.message,
                                                     "code": rejected.code, "status": rejected.status})
                raise
            completes_execution = self._apply_all(ex, persisted, record)
            if after.verb == "no_token":
                ex.revoke_tokens()
                return CheckpointOutput(checkpoint_token=None, new_execution_state=CheckpointUpdatedExecutionState())
            self._intervene(ex, inv, after)
            self._fire_due_in_invocation(ex)
            if completes_execution:
                ex.revoke_tokens()
                return CheckpointOutput(checkpoint_token=None, new_execution_state=CheckpointUpdatedExecutionState())
            new_token = ex.new_token(inv)
            frame = SdkFrame.start(self.clock)
            delta = ex.unseen_ops(inv.seen_seq)
            overdue = self._promises.overdue(ex.arn, ex.ops, frame.real_anchor_s)
            if overdue:
                ids = overdue | {op.id for op in delta}
                delta = [op for op in ex.ops.values() if op.id in ids]
            inv.seen_seq = ex.seq
            ops, marker = self._page(ex, delta, frame)
            return CheckpointOutput(
                checkpoint_token=new_token,
                new_execution_state=CheckpointUpdatedExecutionState(operations=ops, next_marker=marker),
            )

    def _apply_all(self, ex: Execution, updates: list[OperationUpdate], record: dict[str, Any]) -> bool:
        """Persist ``updates`` (already validated); True when one of them completes the execution."""
        now = self.clock.now_ms
        completes_execution = False
        for update in updates:
            completes_execution |= self._apply(ex, update, now)
        if record and len(updates) != len(record["updates"]):  # a part of the call (Intervention.at)
            record = record | {"updates": [dict(u.to_dict()) for u in updates], "part": True}
        self._notify("checkpoint", record | {"accepted": True})
        return completes_execution

    def _intervene(self, ex: Execution, inv: Invocation, action: Intervention) -> None:
        """Carry out a nemesis decision (raises ``CheckpointRejected`` for every verb but proceed)."""
        if action is PROCEED or action.verb == "proceed":
            return
        if action.verb == "reject":
            raise CheckpointRejected(action.message, action.code, action.status)
        self.kill(ex, inv, "crashed" if action.verb == "crash" else "timed_out")
        if action.verb == "crash":
            raise CheckpointRejected("the invocation crashed (injected)", "ServiceException", 500)
        raise CheckpointRejected(INVALID_TOKEN)

    def kill(self, ex: Execution, inv: Invocation, how: str) -> None:
        """End an invocation from outside: it "crashed" (nothing more of it may happen) or
        "timed_out" (it lives on as a zombie whose checkpoints are rejected)."""
        if inv.dead is None:
            inv.dead = how
        if ex.live_invocation is inv:
            ex.revoke_tokens()
        inv.abort.set()

    def _site(self, ex: Execution, inv: Invocation | None, updates: list[OperationUpdate], copy: int) -> CheckpointSite:
        names: list[str | None] = []
        paths: list[str | None] = []
        attempts: list[int | None] = []
        for u in updates:
            names.append(u.name)
            paths.append(self._path(ex, u.parent_id, u.name))
            existing = ex.ops.get(u.operation_id)
            if u.operation_type.value == "STEP":
                attempts.append((existing.attempt if existing else 0) + 1)
            else:
                attempts.append(None)
        return CheckpointSite(ex.arn, inv.index if inv else 0, copy, tuple(updates), tuple(names), tuple(paths),
                              tuple(attempts))

    def _path(self, ex: Execution, parent_id: str | None, name: str | None) -> str | None:
        parts = [name or "?"]
        seen = 0
        while parent_id and parent_id in ex.ops and seen < 64:
            parent = ex.ops[parent_id]
            parts.append(parent.name or "?")
            parent_id = parent.parent_id
            seen += 1
        return "/".join(reversed(parts))

    def op_path(self, ex: Execution, op: OpRecord) -> str | None:
        """The name path of an operation through its parent contexts."""
        return self._path(ex, op.parent_id, op.name)

    def _duplicate_gate(self, inv: Invocation, copy: int) -> None:
        """Make concurrent duplicates deterministic: copy 0's first checkpoint is processed first,
        and only once copy 1 has reached its own first checkpoint (or finished). Bounded waits."""
        deadline = 5.0
        with self._gate:
            if copy in inv.arrived:
                return
            inv.arrived.add(copy)
            self._gate.notify_all()
            other = 1 - copy
            if copy == 0:
                self._gate.wait_for(lambda: other in inv.arrived or other in inv.finished, timeout=deadline)
            else:
                self._gate.wait_for(lambda: 0 in inv.processed or 0 in inv.finished, timeout=deadline)

    def get_execution_state(
        self, arn: str, token: str, marker: str, max_items: int, invocation_index: int
    ) -> StateOutput:
        """GetDurableExecutionState: one page of a paginated listing started by an invocation or a response."""
        with self._lock:
            ex = self.executions.get(arn)
            if ex is None:
                raise CheckpointRejected(f"Durable execution {arn} not found", "ResourceNotFoundException", 404)
            if self.observers:
                self._notify("state", {"arn": arn, "invocation": invocation_index, "token": token,
                                       "accepted": not (ex.done or token is None or token != ex.token)})
            ex.check_token(token)
            rest = ex.pages.pop(marker, None)
            if rest is None:
                raise CheckpointRejected(f"Invalid marker {marker!r}")
            ops, next_marker = self._page(ex, rest, SdkFrame.start(self.clock), max_items)
            return StateOutput(operations=ops, next_marker=next_marker)

    def _page(self, ex: Execution, records: list[OpRecord], frame: SdkFrame,
              max_items: int | None = None) -> tuple[list[Any], str | None]:
        """One page of ``records`` in the SDK's shape, timestamps mapped by ``frame`` (this response's)."""
        size = min(self.knobs.limits.state_page_size, max_items or 1000)
        head, rest = records[:size], records[size:]
        self._promises.note(ex.arn, head, frame, self.clock.now_ms)
        marker = None
        if rest:
            marker = f"{ex.exec_id}:page:{ex.token_counter}:{len(ex.pages)}:{len(rest)}"
            ex.pages[marker] = rest
        return [op.to_sdk(frame) for op in head], marker

    # ================================================================ callbacks
    def _callback_op(self, callback_id: str) -> tuple[Execution, OpRecord]:
        where = self._callbacks.get(callback_id)
        if where is None:
            pending = [op.callback_id for ex in self.executions.values() for op in ex.ops.values()
                       if op.type == "CALLBACK" and op.status == "STARTED"]
            raise UnknownCallbackError(
                f"no callback has the id {callback_id!r} (ResourceNotFoundException). "
                f"Pending callbacks: {pending or 'none'}; list them with runner.pending_callbacks()."
            )
        ex = self.executions[where[0]]
        op = ex.ops[where[1]]
        if op.status != "STARTED" or ex.done:
            state = f"execution {ex.status}" if ex.done else f"callback {op.status}"
            raise UnknownCallbackError(
                f"callback {op.name or callback_id!r} ({callback_id}) is already closed ({state}); the service "
                "rejects it with CallbackTimeoutException: a callback completes exactly once"
            )
        return ex, op

    def send_callback_success(self, callback_id: str, result: str | bytes | None = None) -> None:
        """SendDurableExecutionCallbackSuccess."""
        if result is not None and not isinstance(result, str | bytes):
            raise TypeError(
                f"a callback result is the raw payload (text or bytes, usually JSON), as "
                f"SendDurableExecutionCallbackSuccess takes it; got a {type(result).__name__}. Pass "
                f"json.dumps({result!r}): the handler receives that text, as it would on AWS.")
        with self._lock:
            ex, op = self._callback_op(callback_id)
            payload = result.decode() if isinstance(result, bytes) else result
            now = self.clock.now_ms
            op.status, op.end_ms, op.result = "SUCCEEDED", now, payload
            ex.event("CallbackSucceeded", now, {"Result": payload_field(payload)}, op)
            self._changed(ex, op)

    def send_callback_failure(self, callback_id: str, error: dict[str, Any] | None = None) -> None:
        """SendDurableExecutionCallbackFailure (``error`` is an ErrorObject dict)."""
        if error is not None and not isinstance(error, dict):
            raise TypeError(
                f"a callback failure is an ErrorObject dict, e.g. {{'ErrorType': 'Rejected', 'ErrorMessage': "
                f"{str(error)!r}}}; got a {type(error).__name__}")
        with self._lock:
            ex, op = self._callback_op(callback_id)
            now = self.clock.now_ms
            err = dict(error or {"ErrorType": "CallbackError", "ErrorMessage": "Callback failed"})
            op.status, op.end_ms, op.error = "FAILED", now, err
            ex.event("CallbackFailed", now, {"Error": error_field(err)}, op)
            self._changed(ex, op)

    def send_callback_heartbeat(self, callback_id: str) -> None:
        """SendDurableExecutionCallbackHeartbeat: re-arms the heartbeat timeout."""
        with self._lock:
            ex, op = self._callback_op(callback_id)
            if op.heartbeat_timeout_s:
                self._arm_heartbeat(ex, op, self.clock.now_ms)

    def _arm_heartbeat(self, ex: Execution, op: OpRecord, now: int) -> None:
        key = (ex.arn, op.id)
        gen = self._heartbeat_gen.get(key, 0) + 1
        self._heartbeat_gen[key] = gen
        self._add_timer(now + op.heartbeat_timeout_s * 1000, "cb_heartbeat", ex.arn, op.id, gen)

    # =================================================================== timers
    def _add_timer(self, due_ms: int, kind: str, arn: str, op_id: str | None = None, generation: int = 0) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, _Timer(due_ms, self._timer_seq, kind, arn, op_id, generation))

    def next_timer_ms(self) -> int | None:
        """When the next live timer is due, or None."""
        while self._timers and not self._timer_live(self._timers[0]):
            heapq.heappop(self._timers)
        return self._timers[0].due_ms if self._timers else None

    def _timer_live(self, t: _Timer) -> bool:
        ex = self.executions.get(t.arn)
        if ex is None or ex.done:
            return False
        if t.op_id is None:
            return True
        op = ex.ops.get(t.op_id)
        if op is None:
            return False
        if t.kind == "wait":
            return op.status == "STARTED"
        if t.kind == "retry":
            return op.status == "PENDING" and op.next_attempt_ms == t.due_ms
        if t.kind == "cb_timeout":
            return op.status == "STARTED"
        if t.kind == "cb_heartbeat":
            return op.status == "STARTED" and self._heartbeat_gen.get((t.arn, t.op_id)) == t.generation
        return True

    def _fire(self, t: _Timer) -> None:
        ex = self.executions[t.arn]
        at = t.due_ms
        if t.kind == "exec_timeout":
            self._finish(ex, "TIMED_OUT", error={"ErrorType": "Execution.TimedOut",
                                                 "ErrorMessage": f"Execution timed out after {ex.timeout_s} seconds"},
                         at=at)
            return
        if t.kind == "reinvoke":
            self._enqueue_invoke(ex.arn)
            return
        op = ex.ops[t.op_id or ""]
        if t.kind == "wait":
            op.status, op.end_ms = "SUCCEEDED", at
            ex.event("WaitSucceeded", at, {"Duration": op.wait_seconds}, op)
        elif t.kind == "retry":
            op.status = "READY"
        elif t.kind in ("cb_timeout", "cb_heartbeat"):
            etype = "Callback.Timeout" if t.kind == "cb_timeout" else "Callback.Heartbeat"
            msg = "Callback timed out" if t.kind == "cb_timeout" else "Callback heartbeat timed out"
            op.status, op.end_ms, op.error = "TIMED_OUT", at, {"ErrorType": etype, "ErrorMessage": msg}
            ex.event("CallbackTimedOut", at, {"Error": error_field(op.error)}, op)
        self._changed(ex, op)

    def _fire_due_in_invocation(self, ex: Execution) -> None:
        """Complete this execution's wait/retry timers already due on the virtual clock.

        The virtual clock stands still during an invocation, so only a timer due no later than
        now (a zero delay) fires here; real time spent in the invocation never completes one.
        A map/parallel branch that waits in-process for a later timer gets its operation re-sent
        with a fresh real-time mapping instead (``TimerPromises``), and the invocation ends
        PENDING once every branch is suspended, as it does on AWS when the wait outlasts it.
        """
        horizon = self.clock.now_ms
        inline = self.knobs.complete_waits_inline
        due = sorted(t for t in self._timers if t.arn == ex.arn and t.kind in ("wait", "retry")
                     and (t.due_ms <= horizon or (inline and t.kind == "wait")) and self._timer_live(t))
        for t in due:
            self._timers.remove(t)
            if t.due_ms > self.clock.now_ms:  # the oracle's waits take their time, all of it at once
                self.clock.advance_to(t.due_ms)
                user_clock.moved(self)  # and the handler's own clock reads (virtual_clock) move with it
            self._fire(t)
        if due:
            heapq.heapify(self._timers)

    # ============================================================ invocations
    def _changed(self, ex: Execution, op: OpRecord) -> None:
        ex.touch(op)
        if ex.live_invocation is None:
            self._enqueue_invoke(ex.arn)

    def _enqueue_invoke(self, arn: str) -> None:
        if arn not in self._queued_invokes:
            self._queued_invokes.add(arn)
            self._work.append(("invoke", arn, None))

    def step(self) -> bool:
        """Do one unit of work at the current virtual time. False when idle (only the clock can help).

        Timers already due fire before queued work: an invocation started at virtual time T sees
        every wait and retry due at T completed, whichever of them was armed first.
        """
        due = self.next_timer_ms()
        if due is not None and due <= self.clock.now_ms:
            with self._lock:
                self._fire(heapq.heappop(self._timers))
            return True
        if self._work:
            kind, arn, op_id = self._work.popleft()
            if kind == "invoke":
                self._queued_invokes.discard(arn)
                self._invoke(self.executions[arn])
            else:
                self._run_target(self.executions[arn], op_id or "")
            return True
        return False

    def advance_to_next_timer(self) -> bool:
        """Jump the clock to the next live timer and fire it. False if there is none."""
        due = self.next_timer_ms()
        if due is None:
            return False
        self.clock.advance_to(due)
        with self._lock:
            self._fire(heapq.heappop(self._timers))
        return True

    def _derived_uuid(self, *parts: str) -> str:
        """A UUID (version 4 layout) that is a pure function of the seed and ``parts``.

        Child execution ids and request ids are derived this way rather than drawn from the
        run's random stream, so a fault that adds an invocation earlier does not change them.
        """
        digest = hashlib.blake2b("|".join((str(self.seed), *parts)).encode(), digest_size=16).digest()
        return str(uuid.UUID(bytes=digest, version=4))

    def _invoke(self, ex: Execution) -> None:
        if ex.done:
            return
        spec = self.functions[ex.function_name]
        with self._lock:
            index = len(ex.invocations) + 1
            request_id = self._derived_uuid("request", ex.arn, str(index))
            inv = Invocation(index=index, request_id=request_id, start_ms=self.clock.now_ms, seen_seq=ex.seq)
            inv.copies, inv.concurrent = self.interceptor.invocation_copies(ex.arn, index)
            ex.invocations.append(inv)
            ex.live_invocation = inv
            token = ex.new_token(inv)
            frame = SdkFrame.start(self.clock)
            updated = [op.id for op in ex.ops.values() if op.mod_seq > ex.seen_seq and op.type != "EXECUTION"]
            ops, marker = self._page(ex, list(ex.ops.values()), frame)
            ex.checkpointed_outcome = None
        if self.interceptor.cold_start(ex.arn, index):
            spec = self._cold_start(spec)
        initial = InitialExecutionState(operations=ops, next_marker=marker or "")

        def event_for(copy: int) -> DurableExecutionInvocationInputWithClient:
            return DurableExecutionInvocationInputWithClient(
                durable_execution_arn=ex.arn, checkpoint_token=token, initial_execution_state=initial,
                updated_operation_ids=updated, service_client=EngineServiceClient(self, ex.arn, index, copy))

        context = LambdaContextStub(aws_request_id=request_id, function_name=spec.name, invoked_function_arn=spec.arn)
        self._notify("invocation_start", {"arn": ex.arn, "invocation": index, "copies": inv.copies})
        late_copy: Any = None
        if inv.copies > 1 and inv.concurrent:
            late_copy = self._run_copy_in_background(spec, event_for(1), context, inv)
        outcome: Outcome = self._run_copy(spec, event_for(0), context, inv, 0)
        if late_copy is not None:
            late_copy.join(self.invoker.hang_timeout_s + 1)
        with self._lock:
            ex.live_invocation = None
            self._promises.forget(ex.arn)
            ex.revoke_tokens()
            ex.seen_seq = inv.seen_seq
            suspended = outcome.kind == "returned" and isinstance(outcome.output, MutableMapping) \
                and outcome.output.get("Status") == "PENDING" and inv.dead is None
            self._notify("invocation_end", {"arn": ex.arn, "invocation": index, "outcome": outcome.kind,
                                            "wakes": self.wakes(ex, inv) if suspended and self.observers else None})
            self._settle(ex, inv, outcome)
        if inv.copies > 1 and not inv.concurrent:
            # Redelivered after it ended, with its original (now stale) token and state.
            stale = Invocation(index=index, request_id=request_id, start_ms=inv.start_ms, seen_seq=inv.seen_seq)
            stale.dead = "redelivered"
            replay = self._run_copy(spec, event_for(1), context, stale, 1)
            self._notify("invocation_end", {"arn": ex.arn, "invocation": index, "copy": 1, "outcome": replay.kind})

    def _run_copy(self, spec: FunctionSpec, event: Any, context: Any, inv: Invocation, copy: int) -> Outcome:
        try:
            return user_clock.run(self, lambda: self.invoker.invoke(spec.handler, event, context, abort=inv.abort),
                                  inv.index)
        finally:
            with self._gate:
                inv.finished.add(copy)
                self._gate.notify_all()

    def _run_copy_in_background(self, spec: FunctionSpec, event: Any, context: Any, inv: Invocation) -> Any:
        def run() -> None:
            outcome = self._run_copy(spec, event, context, inv, 1)
            self._notify("invocation_end", {"arn": event.durable_execution_arn, "invocation": inv.index,
                                            "copy": 1, "outcome": outcome.kind})

        thread = threading.Thread(target=run, name="chaosdurable-duplicate", daemon=True)
        thread.start()
        return thread

    def _cold_start(self, spec: FunctionSpec) -> FunctionSpec:
        """Reload the handler's module so module state starts fresh (subprocess mode is always cold)."""
        getattr(self.invoker, "new_sandbox", lambda _function: None)(spec.name)  # empty temp dir (engine.sandbox)
        module_name, qualname = sdk_compat.handler_origin(spec.handler)  # the user's module, in any SDK version
        module = sys.modules.get(module_name or "")
        if module is None or getattr(self.invoker, "always_cold", False):
            return spec
        problem = reload_problem(module_name, getattr(module, "__file__", None))
        if problem is not None:
            raise ColdStartUnavailable(
                f"a cold start of {spec.name!r} in-process reloads the module {module_name!r}, but {problem}. Move "
                "the handler to a module of its own, or run with backend=Subprocess(), where every invocation "
                "starts in a fresh process")
        fresh: Any = importlib.reload(module)
        for part in qualname.split("."):
            fresh = getattr(fresh, part)
        new = FunctionSpec(spec.name, fresh, spec.durable, spec.execution_timeout_s)
        self.functions[spec.name] = new
        self._notify("cold_start", {"function": spec.name})
        return new

    def _settle(self, ex: Execution, inv: Invocation, outcome: Outcome) -> None:
        """Turn an invocation's outcome into history, the execution's status and what happens next."""
        now = self.clock.now_ms
        failure: dict[str, Any] | None = None
        output: MutableMapping[str, Any] | None = outcome.output
        if inv.dead is not None and outcome.kind != "timed_out":
            kind: Literal["crashed", "timed_out"] = "crashed" if inv.dead == "crashed" else "timed_out"
            outcome = Outcome(kind=kind,
                              error_type="Runtime.ExitError" if kind == "crashed" else "Sandbox.Timedout",
                              error_message="Runtime exited with error: signal: killed (injected crash)"
                              if kind == "crashed" else "Task timed out (injected invocation timeout)")
        elif outcome.kind == "timed_out":
            ex.consecutive_hangs += 1
            where = (outcome.where or "unknown")[:MAX_STUCK_REPORT_CHARS]
            if not any(where in d for d in ex.diagnostics):  # a handler that hangs again hangs the same way
                ex.diagnostics.append(
                    f"invocation {inv.index} did not return within the hang timeout; it was treated as an "
                    f"invocation timeout (Sandbox.Timedout). It was stuck at:\n{where}"
                )
        if outcome.kind != "timed_out" or inv.dead is not None:
            ex.consecutive_hangs = 0
        if outcome.kind != "returned":
            failure = {"ErrorType": outcome.error_type or "Runtime.Unknown",
                       "ErrorMessage": outcome.error_message or ""}
        elif not isinstance(output, MutableMapping) or output.get("Status") not in ("SUCCEEDED", "FAILED", "PENDING"):
            failure = {"ErrorType": "Runtime.InvalidOutput",
                       "ErrorMessage": f"handler returned {type(output).__name__}, not a durable invocation output"}
        elif len(json.dumps(output, default=str).encode()) > self.knobs.limits.max_response_bytes:
            failure = {"ErrorType": "Function.ResponseSizeTooLarge",
                       "ErrorMessage": f"Response payload size exceeded maximum allowed payload size "
                                       f"({self.knobs.limits.max_response_bytes} bytes)."}
        elif (output["Status"] == "PENDING" and self.knobs.pending_without_work_is_failure
              and not self._has_work(ex, inv)):
            failure = {"ErrorType": "Runtime.InvalidOutput",
                       "ErrorMessage": "invocation returned PENDING but no operation can ever wake the execution"}
        details: dict[str, Any] = {"StartTimestamp": _dt(inv.start_ms), "EndTimestamp": _dt(now),
                                   "RequestId": inv.request_id}
        if failure is not None:
            details["Error"] = error_field(failure)
        ex.event("InvocationCompleted", now, details)
        if failure is not None:
            ex.consecutive_failures += 1
            self._add_timer(now + self._backoff_ms(ex.consecutive_failures), "reinvoke", ex.arn)
            return
        ex.consecutive_failures = 0
        assert output is not None
        status = output["Status"]
        checkpointed = ex.checkpointed_outcome
        if status == "SUCCEEDED":
            result = output.get("Result")
            if result == "" and checkpointed and checkpointed[0] == "SUCCEEDED":
                result = checkpointed[1]
            self._finish(ex, "SUCCEEDED", result=result)
        elif status == "FAILED":
            error = output.get("Error") or (checkpointed[2] if checkpointed else None) or {}
            if "not JSON serializable" in str(error.get("ErrorMessage", "")):
                ex.diagnostics.append(
                    "the handler's result is not JSON-serializable, so the execution FAILED: return only "
                    f"dicts, lists, strings, numbers, booleans or None ({error.get('ErrorMessage')})"
                )
            self._finish(ex, "FAILED", error=dict(error))
        elif ex.seq > inv.seen_seq or self._needs_handler(ex):
            self._enqueue_invoke(ex.arn)

    def _needs_handler(self, ex: Execution) -> bool:
        """True when an operation is waiting on the handler itself (READY step, interrupted STARTED step)."""
        return any(op.type == "STEP" and op.status in ("READY", "STARTED") for op in ex.ops.values())

    def wakes(self, ex: Execution, inv: Invocation) -> list[str]:
        """What can wake ``ex`` once ``inv`` has suspended (returned PENDING): the same sources as
        ``_has_work``, in words. Empty: nothing ever will (a liveness violation)."""
        out = []
        armed = {(t.op_id, t.kind) for t in self._timers if t.arn == ex.arn and self._timer_live(t)}
        if ex.seq > inv.seen_seq:
            out.append("a change the invocation did not see")
        if any(w[1] == ex.arn for w in self._work):
            out.append("queued work")
        for op in ex.ops.values():
            label = f"{op.type.lower()} {op.name or op.id[:12]!r}"
            if op.type == "STEP" and op.status in ("READY", "STARTED"):
                out.append(f"{label} {op.status} (the handler must run it)")
            elif op.type == "STEP" and op.status == "PENDING" and (op.id, "retry") in armed:
                out.append(f"{label}: a retry")
            elif op.type == "WAIT" and op.status == "STARTED" and (op.id, "wait") in armed:
                out.append(f"{label}: a timer")
            elif op.type == "CALLBACK" and op.status == "STARTED":
                out.append(f"{label}: a pending callback")
            elif op.type == "CHAINED_INVOKE" and op.status == "STARTED":
                out.append(f"{label}: a pending invoke")
        return out

    def _has_work(self, ex: Execution, inv: Invocation) -> bool:
        if ex.seq > inv.seen_seq or self._needs_handler(ex) or any(w[1] == ex.arn for w in self._work):
            return True
        return any(
            (op.type in ("WAIT", "CALLBACK", "CHAINED_INVOKE") and op.status == "STARTED")
            or (op.type == "STEP" and op.status == "PENDING")
            for op in ex.ops.values()
        )

    def _backoff_ms(self, failures: int) -> int:
        policy = self.knobs.invocation_retry
        seconds = min(policy.initial_seconds * policy.rate ** (failures - 1), policy.max_seconds)
        if policy.jitter:
            seconds *= self._rng.random()
        return max(1, round(seconds * 1000))

    def _finish(self, ex: Execution, status: str, *, result: str | None = None,
                error: dict[str, Any] | None = None, at: int | None = None) -> None:
        if ex.done:
            return
        ex.finish(status, at if at is not None else self.clock.now_ms, result, error)
        self._notify("execution_end", {"arn": ex.arn, "status": status})
        if ex.parent is not None:
            parent = self.executions[ex.parent[0]]
            op = parent.ops[ex.parent[1]]
            self._complete_invoke(parent, op, status, result=result, error=error)

    # ========================================================== chained invoke
    def _run_target(self, ex: Execution, op_id: str) -> None:
        op = ex.ops[op_id]
        if op.terminal or ex.done:
            return
        spec = self.functions[op.function_name or ""]
        if spec.durable:
            child_id = (op.child_arn or "").rsplit("/", 1)[-1] or None
            self.start_execution(spec.name, op.input_payload or "null", parent=(ex.arn, op.id), exec_id=child_id)
            return
        context = LambdaContextStub(aws_request_id=f"{ex.exec_id}-{op.id[:8]}", function_name=spec.name,
                                    invoked_function_arn=spec.arn, tenant_id=op.tenant_id)
        try:
            value = spec.handler(json.loads(op.input_payload) if op.input_payload else None, context)
            payload = json.dumps(value)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the target's own failure is the invoke's result
            # An Exception is the function's error; anything else (sys.exit, an injected crash of its
            # process) ends the target's process, which Lambda reports as Runtime.ExitError.
            error_type = type(exc).__name__ if isinstance(exc, Exception) else "Runtime.ExitError"
            with self._lock:
                self._complete_invoke(ex, op, "FAILED", error={"ErrorType": error_type, "ErrorMessage": str(exc)})
            return
        with self._lock:
            self._complete_invoke(ex, op, "SUCCEEDED", result=payload)

    def _complete_invoke(self, ex: Execution, op: OpRecord, status: str, *, result: str | None = None,
                         error: dict[str, Any] | None = None, touch: bool = True) -> None:
        if op.terminal or ex.done:
            return
        now = self.clock.now_ms
        op.status, op.end_ms = status, now
        kind = {"SUCCEEDED": "Succeeded", "FAILED": "Failed", "TIMED_OUT": "TimedOut", "STOPPED": "Stopped"}[status]
        if status == "SUCCEEDED":
            op.result = result
            ex.event("ChainedInvokeSucceeded", now, {"Result": payload_field(result)}, op)
        else:
            op.error = error or {}
            ex.event(f"ChainedInvoke{kind}", now, {"Error": error_field(op.error)}, op)
        if touch:
            self._changed(ex, op)

    # ================================================================== misc
    def _notify(self, what: str, data: dict[str, Any]) -> None:
        if not self.observers:
            return
        for observer in self.observers:
            observer(what, data)


def _dt(ms: int) -> Any:
    from chaosdurable.engine.clock import ms_to_datetime

    return ms_to_datetime(ms)


def _not_durable_message(handler: Callable[..., Any]) -> str:
    if not callable(handler):
        return (f"{handler!r} is not a handler at all: pass the function decorated with @durable_execution "
                "(from aws_durable_execution_sdk_python import durable_execution)")
    name = f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', repr(handler))}"
    return (
        f"{name} is not a durable handler: decorate it with @durable_execution "
        "(from aws_durable_execution_sdk_python import durable_execution) so the SDK can checkpoint and replay it"
    )


def _persisted_part(updates: list[OperationUpdate], before: Intervention, after: Intervention) -> list[OperationUpdate]:
    """The updates a checkpoint call persists under the interceptor's decisions (see ``Intervention.at``).

    No decision: all of them. A decision before persisting: those ahead of its update (none when it
    is about the whole call). A crash or an answer without a token after persisting: those up to and
    including its update; the SDK never confirms the rest either way (it suspends their waiters), so
    an at-least-once step whose START took the fault re-runs its body whether or not its SUCCEED was
    already queued in the same call. One exception keeps the SDK's reading of the answer: a token-less
    answer to a call that carries the execution's own terminal update means "completed" to the SDK,
    so then the whole call is persisted.
    """
    if before.verb != "proceed":
        return list(updates[: before.at]) if before.at is not None else []
    if after.verb in ("crash", "no_token") and after.at is not None:
        rest = updates[after.at + 1:]
        if after.verb == "no_token" and any(u.operation_type.value == "EXECUTION" for u in rest):
            return list(updates)
        return list(updates[: after.at + 1])
    return list(updates)
