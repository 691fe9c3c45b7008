"""Faults inside a deployed durable function, with no change to its handler.

Loaded by the SDK itself: the function (or a Lambda layer) installs chaosdurable, and the
function's environment says ``DURABLE_EXECUTION_PLUGINS=chaosdurable-faults``. The SDK's
``plugin_discovery`` finds the factory ``FACTORY`` in the entry-point group
``aws_durable_execution.plugins`` when the ``@durable_execution`` decorator runs.

The schedule is a ``FaultSchedule`` in the engine's JSON, with the engine's coordinates:

- ``CHAOSDURABLE_SCHEDULE`` in the function's environment (applies to every execution), or
- the execution input's ``__chaos__`` key, honoured only when the function's environment also
  says ``CHAOSDURABLE_FAULTS_FROM_INPUT=1`` (so whoever can invoke a function cannot crash it
  unless its owner armed it). The SDK deep-copies the input for plugins, so the handler still
  sees the key: a handler that rejects unknown keys must tolerate it, or use the environment.

What it does, and where (verified in ``aws_durable_execution_sdk_python`` 3.0.0):

- ``CrashAtCheckpoint`` -> ``os._exit(137)``:
  before a START: ``on_operation_start`` (runs before the START is queued);
  before a step's SUCCEED: ``on_user_function_end`` (``state.wrap_user_function`` runs it in a
  ``finally`` after the body returned, before ``StepOperationExecutor`` checkpoints SUCCEED);
  after a step's SUCCEED/FAIL: ``on_operation_end`` (after the terminal checkpoint is confirmed);
  any other action/phase: at the checkpoint call itself (below).
- ``CheckpointApiError`` (429, 5xx, stale token, 4xx, no token): at the checkpoint call. No hook
  can fail a checkpoint (a hook's exception is logged and ignored; only ``SystemExit`` and
  friends propagate), and no hook is handed the service client. What a plugin *can* reach is
  the boto3 client the SDK builds for itself, ``LambdaClient._cached_boto_client`` (filled by
  ``LambdaClient.initialize_client()`` before any plugin starts): the plugin registers botocore
  event handlers on it. ``before-parameter-build`` matches the batch's updates against the
  schedule (and crashes "before persisting"), ``before-call`` answers with the injected error
  response instead of sending the request (botocore then raises the ``ClientError`` the SDK
  classifies), ``after-call`` crashes after a successful response ("after persisting": the
  lost response) or drops the new token. A handler that passes its own ``boto3_client=`` to
  the decorator gets the crash faults but not these (that client is out of a plugin's reach).

Every fault fires exactly once per execution: a ``FireOnceStore`` marker (DynamoDB or a file)
is claimed *before* the fault acts. Faults of other kinds (duplicate starts, callbacks, stop,
timers, cold starts) are the harness's: the plugin ignores them.

Without a schedule the factory hands the SDK one shared plugin that overrides no hook and
registers nothing with botocore.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_durable_execution_sdk_python.plugin import (
    DurableInstrumentationPlugin,
    InvocationEndInfo,
    InvocationStartInfo,
    OperationEndInfo,
    OperationInfo,
    OperationStartInfo,
    OperationType,
    UserFunctionEndInfo,
    UserFunctionOutcome,
    UserFunctionStartInfo,
)

from chaosdurable.deployed.fire_once import DIR_ENV, TABLE_ENV, FireOnceStore, store_from_env
from chaosdurable.faults.nemesis import _op_matches
from chaosdurable.faults.schedule import CheckpointApiError, CrashAtCheckpoint, Fault, FaultSchedule

logger = logging.getLogger(__name__)

SCHEDULE_ENV = "CHAOSDURABLE_SCHEDULE"
FROM_INPUT_ENV = "CHAOSDURABLE_FAULTS_FROM_INPUT"
INPUT_KEY = "__chaos__"
ENTRY_POINT_NAME = "chaosdurable-faults"
#: the exit status of an injected crash (what a SIGKILLed process reports)
CRASH_STATUS = 137

#: (code, HTTP status, message) per ``CheckpointApiError.error``, as the engine answers them
API_ERRORS: dict[str, tuple[str, int, str]] = {
    "throttle": ("TooManyRequestsException", 429, "Rate exceeded (injected)"),
    "server_error": ("ServiceException", 500, "Internal error (injected)"),
    "stale_token": ("InvalidParameterValueException", 400, "Invalid checkpoint token"),
    "client_error": ("ValidationException", 400, "Invalid request (injected 4xx)"),
}


@dataclass(frozen=True)
class Site:
    """One update of a checkpoint (or the hook standing for it), in the engine's coordinates."""

    op_id: str
    name: str | None
    path: str | None
    action: str
    attempt: int | None


def fault_key(arn: str, index: int, fault: Fault) -> str:
    """The fire-once marker of the schedule's ``index``-th fault in execution ``arn``."""
    digest = hashlib.blake2b(json.dumps(fault.to_json(), sort_keys=True).encode(), digest_size=6).hexdigest()
    return f"{arn}|fault{index}|{digest}"


class ChaosPlugin(DurableInstrumentationPlugin):
    """One invocation's fault injector. Hooks run on SDK threads; shared state is locked."""

    def __init__(self, schedule: FaultSchedule, store: FireOnceStore, info: InvocationStartInfo,
                 crash: Callable[[int], Any] = os._exit) -> None:
        self.schedule = schedule
        self.store = store
        self.arn = info.execution_arn or "?"
        self._crash = crash
        self._lock = threading.Lock()
        self._ops: dict[str, tuple[str | None, str | None]] = {}
        self._attempts: dict[str, int] = {}
        self._done: set[int] = set()
        self.invocation: int | None = None
        self.fired: list[str] = []
        #: True once the SDK's checkpoint client carries our botocore handlers
        self.client_hooked = False
        self._remember(info.operations.values())

    # ------------------------------------------------------------------ bookkeeping
    def _remember(self, infos: Iterable[OperationInfo]) -> None:
        with self._lock:
            for op in infos:
                self._ops[op.operation_id] = (op.name, op.parent_id)
                if op.attempt is not None:
                    self._attempts.setdefault(op.operation_id, op.attempt + 1)

    def path(self, name: str | None, parent_id: str | None) -> str:
        """The name path through parent contexts, as the engine writes it (``?`` for unnamed)."""
        parts, seen = [name or "?"], 0
        with self._lock:
            while parent_id and parent_id in self._ops and seen < 64:
                parent_name, parent_id = self._ops[parent_id]
                parts.append(parent_name or "?")
                seen += 1
        return "/".join(reversed(parts))

    def site(self, op_id: str, name: str | None, parent_id: str | None, action: str, op_type: str) -> Site:
        """The coordinates of one update (attempts only for steps)."""
        with self._lock:
            self._ops.setdefault(op_id, (name, parent_id))
            attempt = self._attempts.get(op_id, 1) if op_type == "STEP" else None
        return Site(op_id, name, self.path(name, parent_id), action, attempt)

    def _matches(self, fault: CrashAtCheckpoint | CheckpointApiError, site: Site, explicit_action: bool) -> bool:
        if fault.invocation is not None and fault.invocation != self.invocation:
            return False
        if fault.action is None and explicit_action:
            return False
        if fault.action is not None and fault.action != site.action:
            return False
        if fault.attempt is not None and fault.attempt != site.attempt:
            return False
        return _op_matches(fault.op, site.op_id, site.name, site.path)

    def take(self, sites: list[Site], want: Callable[[Fault], bool],
             explicit_action: bool = False) -> tuple[Fault, int] | None:
        """The first pending fault ``want`` accepts that matches a site, claimed in the store, with the
        index of the site it matched; or None."""
        for index, fault in enumerate(self.schedule.faults):
            if index in self._done or not want(fault):
                continue
            assert isinstance(fault, CrashAtCheckpoint | CheckpointApiError)
            at = next((k for k, s in enumerate(sites) if self._matches(fault, s, explicit_action)), None)
            if at is None:
                continue
            site = sites[at]
            with self._lock:
                if index in self._done:
                    continue
                self._done.add(index)
            if self.store.claim(fault_key(self.arn, index, fault)):
                where = f"in invocation {self.invocation or '?'} at {site.action} of {site.path or site.op_id!r}"
                self.fired.append(f"{fault.describe()} -> fired {where}")
                print(f"chaosdurable: injected fault: {self.fired[-1]}", file=sys.stderr, flush=True)
                return fault, at
        return None

    def crash(self) -> None:
        """End the sandbox now, as a hard crash (no cleanup, no flush but stderr)."""
        self._crash(CRASH_STATUS)

    @staticmethod
    def _crash_at(phase: str) -> Callable[[Fault], bool]:
        return lambda f: isinstance(f, CrashAtCheckpoint) and f.phase == phase

    # ------------------------------------------------------------------ SDK hooks
    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        """Number this invocation (only when a fault names one)."""
        if any(isinstance(f, _CHECKPOINT_LEVEL) and f.invocation is not None for f in self.schedule.faults):
            self.invocation = self.store.count(f"{self.arn}|invocations")

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        """Stop answering botocore events for this execution."""
        _deactivate(self)

    def on_operation_start(self, info: OperationStartInfo) -> None:
        """Crash before the START checkpoint is queued: only when the SDK's checkpoint client could not
        be reached. Otherwise the checkpoint call carries out the crash, as the engine does: an
        asynchronous START may reach it after the step body ran (and made its effects)."""
        self._remember([info])
        if info.is_replayed or self.client_hooked:
            return
        site = self.site(info.operation_id, info.name, info.parent_id, "START", info.operation_type.value)
        if self.take([site], self._crash_at("before_persist")):
            self.crash()

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        """Learn the attempt of a step body (the coordinate ``attempt``)."""
        if info.attempt is not None:
            with self._lock:
                self._attempts[info.operation_id] = info.attempt

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        """Crash after a step body returned, before its SUCCEED checkpoint is sent: only when the SDK's
        checkpoint client could not be reached. Otherwise the checkpoint call carries out the crash,
        after sending the updates queued ahead of the SUCCEED (as the engine does, ``Intervention.at``),
        so the outcome does not depend on whether an asynchronous START was still queued."""
        if self.client_hooked or (info.operation_type is not OperationType.STEP or info.is_replay_children
                or info.outcome is not UserFunctionOutcome.SUCCEEDED):
            return
        site = self.site(info.operation_id, info.name, info.parent_id, "SUCCEED", "STEP")
        if self.take([site], self._crash_at("before_persist"), explicit_action=True):
            self.crash()

    def on_operation_end(self, info: OperationEndInfo) -> None:
        """Crash after a step's terminal checkpoint was confirmed, before user code sees the result."""
        if info.operation_type is not OperationType.STEP or info.is_replayed:
            return
        action = {"SUCCEEDED": "SUCCEED", "FAILED": "FAIL"}.get(info.status.value)
        if action is None:
            return
        site = self.site(info.operation_id, info.name, info.parent_id, action, "STEP")
        if self.take([site], self._crash_at("after_persist"), explicit_action=True):
            self.crash()

    # ------------------------------------------------------------------ the checkpoint call
    def updates_to_sites(self, updates: list[Mapping[str, Any]]) -> list[Site]:
        """Sites of a ``CheckpointDurableExecution`` request's ``Updates``."""
        return [self.site(str(u.get("Id")), u.get("Name"), u.get("ParentId"), str(u.get("Action")),
                          str(u.get("Type"))) for u in updates]

    def before_checkpoint(self, sites: list[Site]) -> tuple[tuple[str, int, str] | None, int | None]:
        """Decide a checkpoint call before it is sent: (what to do, index of the matched update).

        What to do is ``CRASH``, an error response (code, status, message), or None to proceed. The
        updates ahead of the matched one are to be sent first, in a call of their own.
        """
        if hit := self.take(sites, self._crash_at("before_persist")):
            return CRASH, hit[1]
        hit = self.take(sites, lambda f: isinstance(f, CheckpointApiError) and f.error != "no_token")
        if hit is not None and isinstance(hit[0], CheckpointApiError):
            return API_ERRORS[hit[0].error], hit[1]
        return None, None

    def after_decision(self, sites: list[Site]) -> tuple[str | None, int | None]:
        """Decide, before the call is sent, what happens after the service accepts it: ("crash" or
        "no_token", index of the matched update), or (None, None). The call is then cut after that
        update (as the engine persists a call up to a faulted update, ``Intervention.at``)."""
        if hit := self.take(sites, self._crash_at("after_persist")):
            return "crash", hit[1]
        if hit := self.take(sites, lambda f: isinstance(f, CheckpointApiError) and f.error == "no_token"):
            return "no_token", hit[1]
        return None, None

    def after_checkpoint(self, sites: list[Site], parsed: dict[str, Any]) -> None:
        """Crash after the service accepted the batch, or drop the new token from its answer."""
        if self.take(sites, self._crash_at("after_persist")):
            self.crash()
            return
        if self.take(sites, lambda f: isinstance(f, CheckpointApiError) and f.error == "no_token"):
            parsed.pop("CheckpointToken", None)


# ---------------------------------------------------------------------- botocore handlers
_ACTIVE: dict[str, ChaosPlugin] = {}
_ACTIVE_LOCK = threading.Lock()
_REGISTERED: set[int] = set()
_CONTEXT_KEY = "chaosdurable_sites"


def _activate(plugin: ChaosPlugin) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE[plugin.arn] = plugin


def _deactivate(plugin: ChaosPlugin) -> None:
    with _ACTIVE_LOCK:
        if _ACTIVE.get(plugin.arn) is plugin:
            del _ACTIVE[plugin.arn]


def _on_parameter_build(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    plugin = _ACTIVE.get(str(params.get("DurableExecutionArn")))
    if plugin is None:
        return
    updates = list(params.get("Updates") or [])
    sites = plugin.updates_to_sites(updates)
    context[_CONTEXT_KEY] = (plugin, sites)
    decision, at = plugin.before_checkpoint(sites)
    if decision is None:
        after, k = plugin.after_decision(sites)
        if after is None or k is None:
            return
        # cut after the matched update, unless a later one is the execution's own end (the SDK reads a
        # missing token on that one as "completed", and the engine persists the whole call then too)
        if not any(str(u.get("Type")) == "EXECUTION" for u in updates[k + 1:]):
            params["Updates"] = updates[: k + 1]
            context[_CONTEXT_KEY] = (plugin, sites[: k + 1])
        context[_CONTEXT_KEY + "_after"] = after
        return
    if at:  # send the updates ahead of the matched one (persisted), then carry out the fault
        params["Updates"] = updates[:at]
        context[_CONTEXT_KEY] = (plugin, sites[:at])
        context[_CONTEXT_KEY + "_then"] = decision
    elif decision == CRASH:
        plugin.crash()
    else:
        context[_CONTEXT_KEY + "_reject"] = decision


def _on_before_call(context: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
    reject = context.get(_CONTEXT_KEY + "_reject")
    if reject is None:
        return None
    from botocore.awsrequest import AWSResponse

    code, status, message = reject
    http = AWSResponse(url="", status_code=status, headers={}, raw=None)
    return http, {"Error": {"Code": code, "Message": message},
                  "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}


def _on_after_call(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    entry = context.get(_CONTEXT_KEY)
    if entry is None or context.get(_CONTEXT_KEY + "_reject") is not None:
        return
    if getattr(http_response, "status_code", 500) >= 300:
        return
    plugin, sites = entry
    after = context.get(_CONTEXT_KEY + "_after")
    if after == "crash":
        plugin.crash()
        return
    if after == "no_token":
        parsed.pop("CheckpointToken", None)
        parsed.pop("NewExecutionState", None)  # an answer without a token carries no state either (the engine's)
        return
    then = context.get(_CONTEXT_KEY + "_then")
    if then is not None:  # the updates ahead of the fault's own were sent: now the fault itself
        if then == CRASH:
            plugin.crash()
            return
        code, status, message = then
        http_response.status_code = status
        parsed["Error"] = {"Code": code, "Message": message}
        parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = status
        parsed.pop("CheckpointToken", None)
        return
    plugin.after_checkpoint(sites, parsed)


def register_on_client(client: Any) -> bool:
    """Attach the checkpoint handlers to a boto3 ``lambda`` client once; False if already attached."""
    with _ACTIVE_LOCK:
        if id(client) in _REGISTERED:
            return False
        _REGISTERED.add(id(client))
    events = client.meta.events
    op = "lambda.CheckpointDurableExecution"
    events.register(f"before-parameter-build.{op}", _on_parameter_build, unique_id="chaosdurable-params")
    events.register(f"before-call.{op}", _on_before_call, unique_id="chaosdurable-before")
    events.register(f"after-call.{op}", _on_after_call, unique_id="chaosdurable-after")
    return True


def _sdk_client_hooked() -> bool:
    """True when the SDK's cached checkpoint client carries our handlers."""
    from aws_durable_execution_sdk_python.lambda_service import LambdaClient

    client = LambdaClient._cached_boto_client
    return client is not None and id(client) in _REGISTERED


def _register_on_sdk_client() -> bool:
    """Reach the SDK's own cached boto3 client (None when the SDK was handed another client)."""
    from aws_durable_execution_sdk_python.lambda_service import LambdaClient

    client = LambdaClient._cached_boto_client
    return client is not None and register_on_client(client)


# ---------------------------------------------------------------------- the factory
class _Idle(DurableInstrumentationPlugin):
    """Overrides nothing: the SDK's base hooks are no-ops."""


_IDLE = _Idle()
_CHECKPOINT_LEVEL = (CrashAtCheckpoint, CheckpointApiError)
#: a decision to end the sandbox (``ChaosPlugin.before_checkpoint``)
CRASH = ("crash", 0, "")


def schedule_from_input(execution_input: Any) -> FaultSchedule | None:
    """The schedule under ``__chaos__`` of a dict input (JSON text, a list or ``{"faults": [...]}``)."""
    if not isinstance(execution_input, dict) or INPUT_KEY not in execution_input:
        return None
    raw = execution_input[INPUT_KEY]
    return FaultSchedule.from_json(raw if isinstance(raw, str) else json.dumps(raw))


class ChaosPluginFactory:
    """The SDK's plugin factory: builds a plugin per invocation from the environment and the input.

    The environment is read at every invocation (a few lookups; the parsed schedule is cached by
    its text), so a factory loaded once serves whatever the function's configuration says.
    """

    def __init__(self, environ: Mapping[str, str] | None = None,
                 store_factory: Callable[[], FireOnceStore] | None = None) -> None:
        self._environ = environ
        self._store_factory = store_factory
        self._store: tuple[tuple[str | None, str | None], FireOnceStore] | None = None
        self._parsed: tuple[str, FaultSchedule] | None = None
        self.env_schedule()  # a malformed CHAOSDURABLE_SCHEDULE fails the plugin's load, so the handler's import

    def _env(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def env_schedule(self) -> FaultSchedule | None:
        """``CHAOSDURABLE_SCHEDULE`` parsed (``ScheduleError`` if malformed), or None."""
        text = self._env().get(SCHEDULE_ENV)
        if not text or not text.strip():
            return None
        if self._parsed is None or self._parsed[0] != text:
            self._parsed = (text, FaultSchedule.from_json(text))
        return self._parsed[1]

    def _store_now(self) -> FireOnceStore:
        """The store the environment names now (built once per table/directory)."""
        env = self._env()
        where = (env.get(TABLE_ENV), env.get(DIR_ENV))
        if self._store is None or self._store[0] != where:
            build = self._store_factory or (lambda: store_from_env(dict(env)))
            self._store = (where, build())
        return self._store[1]

    def _schedule_for(self, info: InvocationStartInfo) -> FaultSchedule | None:
        if self._env().get(FROM_INPUT_ENV) == "1":
            try:
                from_input = schedule_from_input(info.execution_input)
            except ValueError:
                logger.exception("chaosdurable: the %s schedule in the input is malformed; no faults", INPUT_KEY)
                return None
            if from_input is not None:
                return from_input
        try:
            return self.env_schedule()
        except ValueError:
            # the SDK would contain this and run without faults: say so where the logs are read
            logger.exception("chaosdurable: %s is malformed; this invocation runs without faults", SCHEDULE_ENV)
            raise

    def create_plugin(self, info: InvocationStartInfo, /) -> DurableInstrumentationPlugin:
        """The idle plugin without a schedule; otherwise a ``ChaosPlugin`` for this invocation."""
        given = info.execution_input
        if self._env().get(SCHEDULE_ENV) is None and not (isinstance(given, dict) and INPUT_KEY in given):
            return _IDLE  # the fast path: nothing to parse
        schedule = self._schedule_for(info)
        if schedule is None or not any(isinstance(f, _CHECKPOINT_LEVEL) for f in schedule.faults):
            return _IDLE
        plugin = ChaosPlugin(schedule, self._store_now(), info)
        _register_on_sdk_client()
        plugin.client_hooked = _sdk_client_hooked()
        _activate(plugin)
        return plugin


#: what the entry point names (``aws_durable_execution.plugins: chaosdurable-faults``)
FACTORY = ChaosPluginFactory()
