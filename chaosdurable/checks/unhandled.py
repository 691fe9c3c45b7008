"""Unhandled outcomes of legitimate faults: a durable operation fails by a fault, and the handler lets
the SDK's error escape, leaving the work done before it half-done.

A callback that times out or is answered with a failure, a step whose retries run out, a
``wait_for_condition`` whose check fails by an injected fault, an interrupted at-most-once step, an
invoke whose target fails: these are legitimate changes of
outcome (the ledger's ``outcome_may_change``), so ``resumption`` stands down for them. What stays a
bug is a handler that never handles that failure: the SDK raises ``CallbackTimeoutError``,
``CallbackExternalError``, ``StepError``, ``WaitForConditionError`` or ``InvokeError`` in the handler,
nothing catches it, and the execution ends FAILED with the steps before it (a stock hold, a charge)
never undone. The handled twin catches the error and compensates in a step, or returns a handled outcome.

What it reports, one violation per run, when all of these hold:

- the fault-free run SUCCEEDED and the chaotic run ended FAILED (not stuck);
- an operation that SUCCEEDED without faults failed under them, and the nemesis declared that
  failure legitimate: a callback fault fired on that callback (answered after its timeout, with a
  failure, missed heartbeats, or a delay past its timeout) and the callback ended TIMED_OUT or FAILED;
  or a step or invoke failed by a fault (``excuse_step_failures``: an injected dependency failure
  that outlasted the step's retries, an interrupted at-most-once attempt, a crashed invoke target);
- that failure propagated out of the handler: every context around the operation ended FAILED, the
  execution's error type is one of the SDK's operation errors (the callback, step or invoke family,
  or ``ChildContextError`` from a child context in between), and its message is the failed
  operation's error message or names the operation;
- the handler did nothing after the failure: no durable operation started after it in the failing
  operation's context or a context around it. A handler that compensates in a step and then
  re-raises is taken as handled;
- something was done before it that the failure leaves half-done: a step completed before it, and,
  when the run's effects are recorded, a mutating effect (a write, a POST) ran before it; or the
  failed step's own attempt had already made a mutating effect (an interrupted at-most-once attempt
  that had posted: the work may have taken effect and nothing reconciles it). A first step whose
  dependency is down, or steps that only read and compute, leave nothing to undo.

What it cannot see: compensation outside any durable operation (another checker's business, an
effect outside steps), a failure that a handler catches and turns into its *own* exception type
(a deliberate failure: the error type is no longer the SDK's), failures gathered by a map or
parallel (the batch decides, and its error is not the operation's), an operation that already
failed without faults, and whether the work before the failure really needed undoing: a handler
may be meant to fail there. For those, opt out per operation.

Opting out: ``unhandled_failure_checker(allow=["approval", "order/charge"])`` returns the checker
with those operations ignored (by name, name path, operation id, or a glob such as ``"notify-*"``;
for a ``wait_for_callback`` its own name)::

    check(handler, event, schedule,
          checkers={**ALL_CHECKERS, "unhandled_failure": unhandled_failure_checker(allow=["approval"])})

``chaosdurable.given(..., checkers=...)`` takes the same mapping.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any

from chaosdurable.checks.base import Checker, Ledger, Violation, op_label, require_same_handler, shorten
from chaosdurable.faults.nemesis import failed_operation_words
from chaosdurable.faults.schedule import describe_operation, unnamed_in_words
from chaosdurable.history.record import RunRecord

NAME = "unhandled_failure"

#: The SDK's errors that a failed operation raises in the handler, by the operation's kind
#: (``CallableRuntimeError`` is what SDK 1.7 raised before ``StepError`` and ``InvokeError``).
_RAISED = {
    "callback": ("CallbackTimeoutError", "CallbackExternalError", "CallbackSubmitterError", "CallbackError"),
    "step": ("StepError", "CallableRuntimeError"),
    "invoke": ("InvokeError", "CallableRuntimeError"),
    "condition": ("WaitForConditionError",),
}
#: What the SDK raises when such an error passes through an enclosing child context unhandled.
_WRAPPERS = ("ChildContextError", "DurableOperationError")
_SDK_MODULE = "aws_durable_execution_sdk_python"
#: The error to suggest catching, by kind.
_CATCH = {"callback": "CallbackError", "step": "StepError", "invoke": "InvokeError",
          "condition": "WaitForConditionError"}


def _kind(op: dict[str, Any]) -> str:
    if op.get("Type") == "CALLBACK" or op.get("SubType") == "WaitForCallback":
        return "callback"
    if op.get("SubType") == "WaitForCondition":
        return "condition"
    return "invoke" if op.get("Type") == "CHAINED_INVOKE" else "step"


def _error_name(error_type: str) -> str | None:
    """The class name of a wire ``ErrorType`` (``aws_durable_execution_sdk_python.exceptions.StepError``), or
    None when another module defines it (a handler's own exception). Builtins come unqualified
    (``RuntimeError``) and are then told apart by name: they are never among the SDK's errors."""
    module, _, name = error_type.rpartition(".")
    if module and not module.startswith(_SDK_MODULE):
        return None
    return name


def _fired_on(op: dict[str, Any], ledger: Ledger) -> str | None:
    """The fired fault (in words) that legitimately failed ``op``, or None."""
    from chaosdurable.engine.runner import callback_label

    kinds = ledger.fault_kinds if len(ledger.fault_kinds) == len(ledger.fired) else ("",) * len(ledger.fired)
    name = op.get("Name")
    if op.get("Type") == "CALLBACK":
        if op.get("Status") not in ("TIMED_OUT", "FAILED"):
            return None
        names = {name, callback_label(name)} - {None}  # the fault says the name the handler wrote
        candidates = [text for text, kind in zip(ledger.fired, kinds, strict=True)
                      if kind in ("callback", "") and (any(f"on callback {n!r}" in text for n in names) if names
                                                       else "on callback" in text)]
        # the fault that explains this outcome first: a failure answer for FAILED, a timeout for TIMED_OUT
        # (a callback answered late, then with a failure, failed through the failure)
        telling = ("failure",) if op.get("Status") == "FAILED" else ("timeout", "heartbeat")
        return next((t for t in candidates if any(w in t for w in telling)), candidates[0] if candidates else None)
    if op.get("Status") != "FAILED" or op.get("Type") not in ("STEP", "CHAINED_INVOKE"):
        return None
    what = failed_operation_words(op)
    declared = f"{what} {name or op['Id']!r} failed ("  # the reason excuse_step_failures attaches
    return next((text for text in ledger.fired if declared in text), None)


def _subtree(root: str, ops: dict[str, dict[str, Any]]) -> set[str]:
    out = {root}
    grew = True
    while grew:
        grew = False
        for op_id, op in ops.items():
            if op_id not in out and op.get("ParentId") in out:
                out.add(op_id)
                grew = True
    return out


def _ancestors(op: dict[str, Any], ops: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The contexts around ``op``, innermost first (the execution itself left out)."""
    out: list[dict[str, Any]] = []
    parent = op.get("ParentId")
    while parent in ops and ops[parent].get("Type") != "EXECUTION" and len(out) < 64:
        out.append(ops[parent])
        parent = ops[parent].get("ParentId")
    return out


def _acted_after(run: RunRecord, reported: dict[str, Any], ops: dict[str, dict[str, Any]]) -> str | None:
    """The first durable operation the handler started after the failure, around it (a compensation), or None."""
    inside = _subtree(reported["Id"], ops)
    ended = max((e.get("EventId", 0) for e in run.history if e.get("Id") in inside), default=0)
    around = {None, *(a["Id"] for a in _ancestors(reported, ops))}
    for event in run.history:
        if (event.get("EventId", 0) > ended and str(event.get("EventType", "")).endswith("Started")
                and event.get("EventType") != "ExecutionStarted" and event.get("Id") not in inside
                and (event.get("ParentId") or None) in around):
            return str(event.get("Id"))
    return None


def _names_op(message: str, op: dict[str, Any], errors: Iterable[Any]) -> bool:
    if any(message == str((e or {}).get("ErrorMessage") or "") for e in errors):
        return True
    return bool(op.get("Name")) and str(op["Name"]) in message


def _allowed(patterns: tuple[str, ...], run: RunRecord, ops: Iterable[dict[str, Any]]) -> bool:
    for op in ops:
        for candidate in (op.get("Name"), op_label(run, op["Id"]), op["Id"]):
            if candidate and any(candidate == p or fnmatch.fnmatchcase(candidate, p) for p in patterns):
                return True
    return False


def _find(reference: RunRecord, chaotic: RunRecord, ledger: Ledger, allow: tuple[str, ...]) -> list[Violation]:
    require_same_handler(reference, chaotic)
    if (reference.status != "SUCCEEDED" or chaotic.status != "FAILED" or chaotic.stuck or reference.stuck
            or not ledger.outcome_may_change):
        return []
    error = chaotic.error or {}
    error_type = str(error.get("ErrorType") or "")
    message = str(error.get("ErrorMessage") or "")
    raised = _error_name(error_type)
    if raised is None:
        return []  # the handler's own exception: it caught the SDK's error and chose to fail
    succeeded = {op["Id"] for op in reference.operations if op.get("Status") == "SUCCEEDED"}
    ops = {op["Id"]: op for op in chaotic.operations}
    for op in chaotic.operations:
        if op["Id"] not in succeeded or (fault := _fired_on(op, ledger)) is None:
            continue
        parent = ops.get(op.get("ParentId") or "")
        # a wait_for_callback is a context around its callback and submitter step: the handler sees that
        reported = parent if parent is not None and parent.get("SubType") == "WaitForCallback" else op
        kind = _kind(reported)
        around = _ancestors(reported, ops)
        if any(a.get("Status") != "FAILED" for a in around):
            continue  # caught on the way out (or gathered by a map/parallel)
        if raised not in _RAISED[kind] and not (around and raised in _WRAPPERS):
            continue
        if not _names_op(message, reported, (op.get("Error"), reported.get("Error"))):
            continue
        if _acted_after(chaotic, reported, ops) is not None:
            continue  # it compensated, then re-raised
        if allow and _allowed(allow, chaotic, (reported, op)):
            continue
        if not _work_before(chaotic, reported, ledger, bool(reference.effects)):
            continue  # nothing was done before it: failing the execution there leaves nothing half-done
        return [_violation(chaotic, reported, kind, fault, error_type, message, raised, ledger,
                           bool(reference.effects))]
    return []


def _done_before(run: RunRecord, op: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps outside ``op`` that completed before it failed, in the run's history."""
    failed_at = max((e.get("EventId", 0) for e in run.history if e.get("Id") == op["Id"]), default=0)
    inside = _subtree(op["Id"], {o["Id"]: o for o in run.operations})
    return [o for o in run.operations
            if o.get("Type") == "STEP" and o.get("Status") == "SUCCEEDED" and o["Id"] not in inside
            and any(e.get("Id") == o["Id"] and e.get("EventId", 0) < failed_at for e in run.history)]


def _own_effects(run: RunRecord, op: dict[str, Any], ledger: Ledger) -> list[str]:
    """The mutating effects a failed step made in its own attempts before it failed (an interrupted
    at-most-once attempt that had posted, a write before the call that ran out of retries)."""
    if op.get("Type") != "STEP":
        return []
    inside = _subtree(op["Id"], {o["Id"]: o for o in run.operations})
    return list(dict.fromkeys(e.name for e in ledger.effects if e.mutating and e.where.op_id in inside))


def _work_before(run: RunRecord, op: dict[str, Any], ledger: Ledger, recorded: bool) -> bool:
    """Was anything done before ``op`` failed that its failure leaves half-done? A step completed before
    it; and when the handler's effects are recorded (``recorded``: the fault-free run has some), a
    mutating one ran in such a step (or outside steps) before it. A first step whose dependency is down,
    or steps that only read and compute, leave nothing."""
    if _own_effects(run, op, ledger):
        return True  # its own attempt had already acted (a POST, a write) when it failed: done, never reconciled
    done = _done_before(run, op)
    if not done:
        return False
    if not recorded:
        return True  # its effects are not recorded (nothing to tell by): a completed step may have done work
    done_ids = {o["Id"] for o in done}
    inside = _subtree(op["Id"], {o["Id"]: o for o in run.operations})
    return any(e.mutating and (e.where.op_id in done_ids or e.where.op_id is None)
               and e.where.op_id not in inside for e in ledger.effects)


def _writes_of(run: RunRecord, step: dict[str, Any], ledger: Ledger) -> list[str]:
    """The mutating effects made inside ``step`` (its attempts, or anything nested in it), by name, once each."""
    inside = _subtree(step["Id"], {o["Id"]: o for o in run.operations})
    return list(dict.fromkeys(e.name for e in ledger.effects if e.mutating and e.where.op_id in inside))


def _done_in_words(run: RunRecord, op: dict[str, Any], ledger: Ledger, recorded: bool) -> str:
    """The detail line naming what the failure leaves half-done: the steps before it that wrote (with what
    they wrote) when effects are recorded, every completed step when they are not."""
    done = _done_before(run, op)
    if not done:
        return "no step had completed before it"
    if not recorded:
        names = [describe_operation(o["Id"], run.operations) for o in done]
        return ("done before it and never undone: " + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
                + " (their effects are not recorded: check whether they changed anything)")
    wrote = [(o, w) for o in done if (w := _writes_of(run, o, ledger))]
    outside = list(dict.fromkeys(e.name for e in ledger.effects if e.mutating and e.where.op_id is None))
    parts = [f"{describe_operation(o['Id'], run.operations)} ({', '.join(repr(n) for n in w[:2])})"
             for o, w in wrote[:5]]
    if outside:
        parts.append(f"outside any step ({', '.join(repr(n) for n in outside[:2])})")
    readers = len(done) - len(wrote)
    tail = f"; {readers} other completed step(s) only read or computed" if readers else ""
    return ("done before it and never undone: " + ", ".join(parts) + tail) if parts else \
        f"no write was made before it ({readers} completed step(s) only read or computed)"


def _violation(run: RunRecord, op: dict[str, Any], kind: str, fault: str, error_type: str, message: str,
               raised: str, ledger: Ledger, recorded: bool) -> Violation:
    words = describe_operation(op["Id"], run.operations)
    label = op_label(run, op["Id"])
    own = _own_effects(run, op, ledger)
    catch = raised if raised in _RAISED[kind] and raised != "CallableRuntimeError" else _CATCH[kind]
    outer = _ancestors(op, {o["Id"]: o for o in run.operations})
    where = words
    if outer and raised in _WRAPPERS:  # it left through child contexts: it can be caught there, or outside them
        where += f" (or {raised} around {describe_operation(outer[-1]['Id'], run.operations)})"
    opt_out = f"unhandled_failure_checker(allow=[{(op.get('Name') or op['Id'])!r}])"
    return Violation(
        NAME,
        f"{words} failed under a fault and the handler did not handle it: the execution ended FAILED with "
        f"the SDK's {raised} ({shorten(message, 120)})",
        op=label,
        detail=(
            f"fault: {unnamed_in_words(fault, run.operations)}",
            f"execution error: {error_type}: {shorten(message)}",
            _done_in_words(run, op, ledger, recorded),
            *((f"its own attempt had already made {', '.join(repr(n) for n in own[:3])} when it failed: that may "
               "have taken effect, and nothing records or reconciles it",) if own else ()),
            *(("an error raised by a wait_for_condition check is not retried: one failed read fails the whole wait "
               "(and the execution). The usual fix: catch the read's error inside the check function and return "
               "the state unchanged, so the next poll tries again",) if kind == "condition" else ()),
            f"fix: catch {catch} (aws_durable_execution_sdk_python.exceptions) around {where} and compensate "
            "in a step (undo what the steps before it wrote"
            + (", and reconcile what its own attempt may have done" if own else "") + "), or return a handled outcome",
            "if failing the execution here is intended, opt out for this operation: check(..., checkers="
            f"{{**ALL_CHECKERS, 'unhandled_failure': {opt_out}}})",
        ),
    )


def unhandled_failure_checker(allow: Iterable[str] | str = ()) -> Checker:
    """The ``unhandled_failure`` checker, ignoring the operations in ``allow`` (names, name paths,
    operation ids or glob patterns): failing the execution there is intended."""
    patterns = (allow,) if isinstance(allow, str) else tuple(allow)
    bad = [p for p in patterns if not isinstance(p, str) or not p]
    if bad:
        raise TypeError(f"unhandled_failure_checker(allow=...) takes operation names, paths or patterns "
                        f"(non-empty strings), got {bad!r}")

    def unhandled_failure(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
        """``unhandled_failure``, ignoring the operations the factory was given."""
        return _find(reference, chaotic, ledger, patterns)

    return unhandled_failure


def unhandled_failure(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """A violation when a durable operation failed by a legitimate fault and its SDK error failed the execution."""
    return _find(reference, chaotic, ledger, ())
