"""One durable execution as the service stores it: operations, history, tokens.

This module applies checkpoint batches with the service's state machine (S1-S7 in the
notes) and nothing else: it never runs handler code and never moves the clock. The
``Service`` (service.py) owns the clock, timers and invocations and calls in here.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aws_durable_execution_sdk_python.lambda_service import OperationUpdate

from chaosdurable import sdk_compat
from chaosdurable.engine.history import History, error_field, payload_field
from chaosdurable.engine.knobs import Knobs
from chaosdurable.engine.operations import OpRecord

RUNNING = "RUNNING"


class CheckpointRejected(Exception):
    """The service refused a checkpoint. ``code``/``status`` mirror the AWS error response."""

    def __init__(self, message: str, code: str = "InvalidParameterValueException", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


INVALID_TOKEN = "Invalid checkpoint token"

#: (type, action) -> statuses the operation may be in (None: it does not exist yet). Notes §2.3.
_ALLOWED: dict[tuple[str, str], frozenset[str | None]] = {
    ("STEP", "START"): frozenset({None, "READY"}),
    ("STEP", "RETRY"): frozenset({"STARTED", "READY"}),
    ("STEP", "SUCCEED"): frozenset({"STARTED", "READY"}),
    ("STEP", "FAIL"): frozenset({"STARTED", "READY"}),
    ("WAIT", "START"): frozenset({None}),
    ("WAIT", "CANCEL"): frozenset({"STARTED"}),
    ("CALLBACK", "START"): frozenset({None}),
    ("CALLBACK", "CANCEL"): frozenset({"STARTED"}),
    ("CONTEXT", "START"): frozenset({None}),
    ("CONTEXT", "SUCCEED"): frozenset({None, "STARTED"}),
    ("CONTEXT", "FAIL"): frozenset({None, "STARTED"}),
    ("CHAINED_INVOKE", "START"): frozenset({None}),
    ("CHAINED_INVOKE", "CANCEL"): frozenset({"STARTED"}),
}
_ALLOWED_LENIENT = {key: (value | {None} if key[0] == "STEP" and key[1] != "START" else value)
                    for key, value in _ALLOWED.items()}


class AbortSignal(threading.Event):
    """The "this invocation was killed" flag; ``set`` also wakes every event added with ``wake_too``.

    An invoker waiting for either its handler to finish or the kill waits on one event of its
    own (set by both), instead of polling the two.
    """

    def __init__(self) -> None:
        super().__init__()
        self._wake: list[threading.Event] = []

    def wake_too(self, event: threading.Event) -> None:
        """Also set ``event`` when this signal is set (at once if it already is)."""
        self._wake.append(event)
        if self.is_set():
            event.set()

    def set(self) -> None:
        """Set the signal and every event registered with ``wake_too``."""
        super().set()
        for event in self._wake:
            event.set()


@dataclass
class Invocation:
    """Book-keeping for one invocation of the handler."""

    index: int
    request_id: str
    start_ms: int
    seen_seq: int
    token: str | None = None
    #: set when the nemesis kills the invocation ("crashed") or times it out ("timed_out")
    dead: str | None = None
    abort: AbortSignal = field(default_factory=AbortSignal)
    #: duplicate delivery: how many copies run, whether concurrently, and the gate between them
    copies: int = 1
    concurrent: bool = False
    arrived: set[int] = field(default_factory=set)
    processed: set[int] = field(default_factory=set)
    finished: set[int] = field(default_factory=set)


@dataclass
class Execution:
    """A durable execution: identity, status, operations and history."""

    arn: str
    exec_id: str
    name: str
    function_name: str
    input_payload: str
    timeout_s: int
    start_ms: int
    knobs: Knobs
    status: str = RUNNING
    result: str | None = None
    error: dict[str, Any] | None = None
    end_ms: int | None = None
    ops: dict[str, OpRecord] = field(default_factory=dict)
    history: History = field(default_factory=History)
    seq: int = 0
    token_counter: int = 0
    token: str | None = None
    invocations: list[Invocation] = field(default_factory=list)
    live_invocation: Invocation | None = None
    seen_seq: int = 0
    consecutive_failures: int = 0
    #: invocations in a row that hung past the invoker's hang timeout (not injected timeouts)
    consecutive_hangs: int = 0
    parent: tuple[str, str] | None = None
    diagnostics: list[str] = field(default_factory=list)
    pages: dict[str, list[OpRecord]] = field(default_factory=dict)
    checkpointed_outcome: tuple[str, str | None, dict[str, Any] | None] | None = None
    #: every checkpoint token this execution issued, with the invocation it was issued to (the SDK may
    #: send back no other, and only in that invocation)
    issued: dict[str, int] = field(default_factory=dict)
    #: every ``touch``, in order (``unseen_ops`` reads its tail)
    touch_log: list[OpRecord] = field(default_factory=list, repr=False)

    # ------------------------------------------------------------------ basics
    @property
    def done(self) -> bool:
        """True once the execution has its one outcome (S6)."""
        return self.status != RUNNING

    def touch(self, op: OpRecord) -> None:
        """Record that ``op`` changed, so the next response or invocation carries it."""
        self.seq += 1
        op.mod_seq = self.seq
        self.touch_log.append(op)

    def new_token(self, invocation: Invocation) -> str:
        """Mint the next token of this execution's single chain; every older token dies (S3)."""
        self.token_counter += 1
        token = f"{self.exec_id}:{invocation.index}:{self.token_counter}"
        self.token = token
        invocation.token = token
        self.issued[token] = invocation.index
        return token

    def revoke_tokens(self) -> None:
        """No token of this execution is valid any more (invocation ended, timed out, or execution done)."""
        self.token = None

    def check_token(self, token: str) -> None:
        """Raise ``CheckpointRejected`` unless ``token`` is the live one (S3)."""
        if self.done or token is None or token != self.token:
            raise CheckpointRejected(INVALID_TOKEN)

    def unseen_ops(self, since_seq: int) -> list[OpRecord]:
        """Operations changed after ``since_seq``, in creation order.

        Every change goes through ``touch``, which logs the operation (``seq`` counts the log), so the
        operations changed since are the log's tail. They are usually the newest operations, in the
        order they were created: then they are the map's last entries and nothing else is walked;
        otherwise the whole (creation-ordered) map is filtered.
        """
        if since_seq >= self.seq:
            return []
        log = self.touch_log
        if len(log) != self.seq or since_seq < 0:
            return [op for op in self.ops.values() if op.mod_seq > since_seq]
        changed = {op.id: op for op in log[since_seq:]}
        newest = list(itertools.islice(reversed(self.ops.values()), len(changed)))
        if all(changed.get(op.id) is op for op in newest):
            newest.reverse()
            return newest
        return [op for op in self.ops.values() if op.mod_seq > since_seq]

    def callback_id_for(self, op_id: str) -> str:
        """A deterministic, opaque callback id."""
        digest = hashlib.blake2b(f"{self.arn}|{op_id}".encode(), digest_size=16).hexdigest()
        return f"cb-{digest}"

    def event(self, event_type: str, at_ms: int, details: dict[str, Any], op: OpRecord | None = None) -> None:
        """Append one history event about ``op`` (or about the execution when ``op`` is None)."""
        if event_type == "InvocationCompleted":
            self.history.append(event_type, at_ms, details)
        elif op is None:
            self.history.append(event_type, at_ms, details, op_id=self.exec_id, name=self.name)
        else:
            self.history.append(
                event_type,
                at_ms,
                details,
                op_id=op.id,
                name=op.name,
                sub_type=op.sub_type,
                parent_id=op.parent_id,
            )

    # --------------------------------------------------------------- outcome
    def finish(self, status: str, at_ms: int, result: str | None = None, error: dict[str, Any] | None = None) -> None:
        """Give the execution its one outcome and its terminal history event (S6)."""
        if self.done:
            return
        self.status = status
        self.result = result
        self.error = error
        self.end_ms = at_ms
        self.revoke_tokens()
        exec_op = self.ops.get(self.exec_id)
        if exec_op is not None:
            exec_op.status = status
            exec_op.end_ms = at_ms
            self.touch(exec_op)
        kind = {"SUCCEEDED": "Succeeded", "FAILED": "Failed", "TIMED_OUT": "TimedOut", "STOPPED": "Stopped"}[status]
        details: dict[str, Any] = {}
        if status == "SUCCEEDED":
            details["Result"] = payload_field(result)
        elif error is not None or status != "SUCCEEDED":
            details["Error"] = error_field(error)
        self.event(f"Execution{kind}", at_ms, details)

    # ------------------------------------------------------------- checkpoint
    def validate_batch(self, updates: list[OperationUpdate]) -> None:
        """Reject the whole batch, before anything is applied, if any update is illegal (S1, S2)."""
        limits = self.knobs.limits
        seen_in_batch: dict[str, list[OperationUpdate]] = {}
        execution_updates = [u for u in updates if u.operation_type._value_ == "EXECUTION"]
        if len(execution_updates) > 1 or (execution_updates and updates[-1] is not execution_updates[0]):
            raise CheckpointRejected("At most one EXECUTION update is allowed per checkpoint, and it must be last")
        new_ids = {u.operation_id for u in updates if u.operation_id not in self.ops}
        if len(self.ops) + len(new_ids) > limits.max_operations:
            raise CheckpointRejected(
                f"Execution would exceed {limits.max_operations} operations "
                f"({len(self.ops)} exist, {len(new_ids)} new in this checkpoint)"
            )
        for u in updates:
            kind = u.operation_type._value_
            action = u.action._value_
            prior = seen_in_batch.get(u.operation_id, [])
            if prior:
                first = prior[0]
                if not (
                    len(prior) == 1
                    and first.action._value_ == "START"
                    and kind in ("STEP", "CONTEXT")
                    and action != "START"
                ):
                    raise CheckpointRejected(
                        f"Operation {u.operation_id} appears twice in one checkpoint "
                        f"({first.action.value} then {action})"
                    )
            seen_in_batch.setdefault(u.operation_id, []).append(u)
            if u.payload is not None and len(u.payload.encode()) > limits.max_payload_bytes and kind != "EXECUTION":
                raise CheckpointRejected(
                    f"Payload of {kind} {u.name or u.operation_id} is {len(u.payload.encode())} bytes; "
                    f"the service accepts at most {limits.max_payload_bytes} bytes per operation"
                )
            if u.payload is not None and kind == "EXECUTION" and len(u.payload.encode()) > limits.max_response_bytes:
                raise CheckpointRejected(
                    f"Execution result is {len(u.payload.encode())} bytes; at most {limits.max_response_bytes}"
                )
            if u.error is not None and len(json.dumps(u.error.to_dict()).encode()) > limits.max_error_bytes:
                raise CheckpointRejected(
                    f"Error of {kind} {u.name or u.operation_id} exceeds {limits.max_error_bytes} bytes"
                )
            if u.parent_id and u.parent_id not in self.ops and not any(
                x.operation_id == u.parent_id for x in updates
            ):
                raise CheckpointRejected(f"ParentId {u.parent_id} of {u.operation_id} is not a known CONTEXT")
            if u.parent_id and u.parent_id in self.ops and self.ops[u.parent_id].type != "CONTEXT":
                raise CheckpointRejected(f"ParentId {u.parent_id} of {u.operation_id} is not a CONTEXT")
            if kind == "EXECUTION":
                if action not in ("SUCCEED", "FAIL"):
                    raise CheckpointRejected(f"EXECUTION accepts only SUCCEED or FAIL, not {action}")
                continue
            existing = self.ops.get(u.operation_id)
            status = existing.status if existing is not None else None
            if prior:  # START earlier in this batch
                status = "STARTED"
            if existing is not None:
                immutable = (("type", kind), ("sub_type", sdk_compat.sub_type(u)), ("name", u.name),
                             ("parent_id", u.parent_id))
                for attr, new in immutable:
                    old = getattr(existing, attr)
                    if new is not None and old != new:
                        raise CheckpointRejected(
                            f"Operation {u.operation_id}: {attr} may not change after creation ({old!r} -> {new!r})"
                        )
                if existing.terminal:
                    raise CheckpointRejected(
                        f"Operation {u.operation_id} ({existing.name or kind}) is already {existing.status}; "
                        f"a terminal operation accepts no {action}"
                    )
            self._check_transition(kind, action, status, u)

    def _check_transition(self, kind: str, action: str, status: str | None, u: OperationUpdate) -> None:
        allowed = _ALLOWED_LENIENT if self.knobs.accept_step_completion_without_start else _ALLOWED
        legal = allowed.get((kind, action))
        if legal is None:
            raise CheckpointRejected(f"{kind} does not accept the action {action}")
        if status not in legal:
            shown = status or "nonexistent"
            raise CheckpointRejected(
                f"Illegal transition for {kind} {u.name or u.operation_id}: {action} on a {shown} operation"
            )
        if kind == "STEP" and action == "RETRY":
            delay = u.step_options.next_attempt_delay_seconds if u.step_options else 0
            if delay < 1:
                raise CheckpointRejected(f"RETRY of {u.name or u.operation_id} needs NextAttemptDelaySeconds >= 1")
        if kind == "WAIT" and action == "START":
            seconds = u.wait_options.wait_seconds if u.wait_options else 0
            if not 1 <= seconds <= 31_622_400:
                raise CheckpointRejected(f"WaitSeconds must be within 1..31622400, got {seconds}")
