"""Running the current handler once against a rebuilt state, on the engine, with no side effects.

Contract: ``run_replay(recorded, handler)`` seeds a fresh in-memory service with the rebuilt
operations (the execution stays RUNNING so it can be invoked), starts exactly one invocation
at the recorded point in virtual time, watches it (``observe.Observer``) and stops it at the
first work the history does not hold (``observe.Guard``; a checkpoint that would START an
unknown operation or retry an interrupted step is also refused by ``FrontierInterceptor``,
without being persisted). Invoke targets are never run and no step body is executed. The
handler's own code between operations does run again: it is fenced (``fence.fenced``), so an
AWS call or HTTP request there is refused (``Replayed.refused``) unless ``fence`` allows it.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaosdurable.engine import speedups
from chaosdurable.engine.clock import VirtualClock
from chaosdurable.engine.interception import PROCEED, CheckpointSite, Intervention, NoInterceptor
from chaosdurable.engine.invoker import is_durable_handler
from chaosdurable.engine.runner import DurableRunner
from chaosdurable.replay.fence import fenced
from chaosdurable.replay.observe import GuardFactory, Observer, add_plugin
from chaosdurable.replay.rebuild import Recorded

#: profile hooks are process-wide: one replay at a time per process
_REPLAY_LOCK = threading.Lock()


@dataclass
class Replayed:
    """What the one replay invocation did."""

    observer: Observer
    status: str
    result: str | None
    error: dict[str, Any] | None
    outcome_kind: str
    outcome_error: dict[str, Any] | None
    new_checkpoints: list[str] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)
    #: AWS calls and HTTP requests the handler made outside steps during the replay, refused by the fence
    refused: list[str] = field(default_factory=list)


class FrontierInterceptor(NoInterceptor):
    """Refuses (400, nothing persisted) a checkpoint that starts work the history does not hold."""

    def __init__(self, recorded: Recorded, observer: Observer) -> None:
        self._recorded = recorded
        self._observer = observer
        self.accepted: list[str] = []

    def before_checkpoint(self, site: CheckpointSite) -> Intervention:
        """Proceed with bookkeeping (a context closing, a large result); refuse new work."""
        for update in site.updates:
            kind, action = update.operation_type.value, update.action.value
            known = self._recorded.ops.get(update.operation_id)
            label = f"{kind} {update.name!r}" if update.name else kind
            what = None
            if action == "START" and (known is None or known.status == "READY"):
                what = f"starting {label}"
            elif kind == "STEP" and action in ("RETRY", "FAIL") and known is not None and known.status == "STARTED":
                what = f"retrying the interrupted at-most-once {label} (StepInterruptedError)"
            elif kind not in ("CONTEXT", "EXECUTION"):
                what = f"{action} of {label}"
            if what is not None or self._observer.frontier is not None:
                if self._observer.frontier is None:
                    # on the checkpoint thread: the refusal below ends the invocation
                    with contextlib.suppress(SystemExit):
                        self._observer.reach(update.operation_id, kind, update.name, what or "", None)
                return Intervention(verb="reject", code="ReplayFrontier", status=400,
                                    message=f"chaosdurable replay stops here: {what or 'after the frontier'}")
            self.accepted.append(f"{action} {label}")
        return PROCEED


def run_replay(recorded: Recorded, handler: Callable[..., Any], *, hang_timeout: float = 30.0,
               targets: Mapping[str, Callable[..., Any]] | None = None,
               fence: Mapping[str, Any] | None = None) -> Replayed:
    """One invocation of ``handler`` against ``recorded`` (see the module docstring).

    ``targets`` (invoke targets by name) are registered so the handler's invoke calls resolve as
    in ``check``; the replay never runs them (recorded invokes replay, new ones are the frontier).
    ``fence`` holds keyword options of ``fence.fenced`` (``allow_real_aws``, ``allow_hosts``,
    ``http``); by default every AWS call (outside a moto world) and every HTTP request is refused.
    """
    runner = DurableRunner(handler, hang_timeout=hang_timeout, max_invocations=1)
    for name, target in (targets or {}).items():
        if is_durable_handler(target):
            runner.register_durable_function(name, target)
        else:
            runner.register_function(name, target)
    service = runner.service
    service.clock = VirtualClock(recorded.last_ms)
    timeout = recorded.timeout_s if isinstance(recorded.timeout_s, int) and recorded.timeout_s > 0 else None
    ex = service.start_execution(runner.function_name, recorded.input_payload, name=recorded.exec_name,
                                 exec_id=recorded.exec_id, execution_timeout_s=timeout)
    ex.ops[recorded.exec_id].start_ms = recorded.start_ms
    for op in recorded.ops.values():
        if op.type == "EXECUTION":
            continue
        ex.ops[op.id] = copy.deepcopy(op)
        ex.touch(ex.ops[op.id])
    observer = Observer(known={op.id: op.status for op in recorded.ops.values()},
                        handler_code=getattr(getattr(handler, "__wrapped__", None), "__code__", None), arn=ex.arn)
    interceptor = FrontierInterceptor(recorded, observer)
    service.interceptor = interceptor
    with _REPLAY_LOCK, fenced(**dict(fence or {})) as recorder:
        remove = add_plugin(handler, GuardFactory(observer))
        previous = (threading.getprofile(), sys.getprofile())
        threading.setprofile(observer.profile)
        try:
            with speedups.active(True, serial_branches=True):
                service.step()  # the one queued invocation; no timer is due at the recorded point
        finally:
            threading.setprofile(previous[0])
            sys.setprofile(previous[1])
            remove()
    completed = [e for e in ex.history if e["EventType"] == "InvocationCompleted"]
    error = completed[-1]["InvocationCompletedDetails"].get("Error") if completed else None
    kind = "returned" if error is None else "raised"
    return Replayed(observer=observer, status=ex.status, result=ex.result, error=ex.error, outcome_kind=kind,
                    outcome_error=dict(error.get("Payload") or {}) if error else None,
                    new_checkpoints=interceptor.accepted, diagnostics=list(ex.diagnostics),
                    refused=list(dict.fromkeys(recorder.refused)))
