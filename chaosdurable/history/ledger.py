"""The effect ledger: every side effect a run makes, where it happened, and what the nemesis did.

Two ways in:

- explicitly, ``chaosdurable.effect("charge", key=order_id)`` inside handler code. Outside
  a chaosdurable run it does nothing, so it is safe to leave in production code;
- automatically, for every AWS call made through boto3/botocore: a hook on botocore's
  ``BaseClient._make_api_call`` records ``aws:<service>.<Operation>`` with a key drawn from
  the request (table + item key, bucket + object key, queue + body, topic + message...).

An effect is also a fault point: the nemesis may make it fail (a flaky dependency) or
crash the invocation right after it happened. After an injected crash, nothing more of
that invocation may happen: its effects raise ``InvocationKilled``.

Reads (``GetItem``, ``GetObject``, an HTTP GET) are recorded as non-mutating: never counted as
effects, never followed by an injected crash, but a ``TransientFailure`` naming one makes it fail
(a throttled or failing read drives retry and fallback paths). An injected failure means the call
never happened, so a failed call (read or write) is not in the ledger; the nemesis' ``fired`` list
says where it struck.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

from chaosdurable.history.probes import where_now
from chaosdurable.history.record import BodyRun, Effect, Returned, TripwireHit, Where

#: Operations that only read: they are recorded but never counted as effects (only ``TransientFailure`` targets them).
_READ_PREFIXES = ("Get", "List", "Describe", "Scan", "Query", "Head", "BatchGet", "TransactGet", "Select", "Receive",
                  "Decrypt", "Verify", "Lookup", "Search", "Simulate", "Validate", "Estimate")


#: calls that only issue credentials or compute, whatever their name says: no business state changes
_CREDENTIALS = ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GenerateDataKey",
                "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "Encrypt", "Sign", "GenerateMac",
                "InitiateAuth", "RespondToAuthChallenge")


def is_read_only(operation: str, params: dict[str, Any]) -> bool:
    """True for AWS calls that change nothing: reads by name (``AdminGetUser`` reads like ``GetUser``),
    calls that only issue credentials or compute (``sts.AssumeRole``, ``kms.GenerateDataKey``,
    ``cognito-idp.InitiateAuth``), and PartiQL ``ExecuteStatement``/``BatchExecuteStatement`` whose
    statements are all SELECTs."""
    name = operation.removeprefix("Admin")
    if name.startswith(_READ_PREFIXES) or name in _CREDENTIALS:
        return True
    if operation == "ExecuteStatement":
        return str(params.get("Statement", "")).lstrip().upper().startswith("SELECT")
    if operation == "BatchExecuteStatement":
        statements = params.get("Statements") or []
        return bool(statements) and all(str(s.get("Statement", "")).lstrip().upper().startswith("SELECT")
                                        for s in statements)
    return False


class InvocationKilled(BaseException):
    """Raised into user code of an invocation the nemesis crashed. A BaseException, so the
    SDK's step machinery does not treat it as a step failure: the "process" is gone."""


class TransientDependencyError(Exception):
    """An injected failure of an explicit effect (a flaky dependency)."""


class RealAwsRefused(RuntimeError):
    """A handler under test called AWS while no moto world was active and real AWS was not allowed."""


#: how many moto worlds are active in this process (``World`` counts itself in and out)
MOTO_ACTIVE = 0


class Recorder:
    """Collects body runs, effects and tripwire hits for one run. At most one is active."""

    def __init__(self, decide: Callable[[str, Where, bool], str] | None = None,
                 is_crashed: Callable[[Where], bool] | None = None, allow_real_aws: bool = False,
                 kill: Callable[[Where], None] | None = None) -> None:
        self.allow_real_aws = allow_real_aws
        self._kill = kill or (lambda where: None)
        self.body_runs: list[BodyRun] = []
        self.effects: list[Effect] = []
        self.tripwire: list[TripwireHit] = []
        #: clock, random and uuid reads inside step bodies (no finding: ``checks.confirm`` asks which step read)
        self.in_step_reads: list[TripwireHit] = []
        self.returns: list[Returned] = []
        #: the AWS calls refused because no moto world was active (even if the handler caught the error)
        self.refused: list[str] = []
        #: the nemesis' decision for an effect: (name, where, mutating) -> "proceed"/"fail"/"crash"
        self._decide = decide or (lambda name, where, mutating: "proceed")
        self._is_crashed = is_crashed or (lambda where: False)
        self._lock = threading.Lock()
        self._seq = 0
        self.paused = 0

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def body(self, event: str, data: Any) -> None:
        """Plugin sink: a user function body started (or ended)."""
        if event == "start":
            where: Where = data
            if self._is_crashed(where):
                raise InvocationKilled(f"invocation {where.invocation} was crashed by the nemesis")
            with self._lock:
                self.body_runs.append(BodyRun(self._next(), where))

    def returned(self, name: str, value: str, where: Where) -> None:
        """Record an operation's result as it reached user code (``observe_return``)."""
        if self._is_crashed(where):
            raise InvocationKilled(f"invocation {where.invocation} was crashed by the nemesis")
        with self._lock:
            self.returns.append(Returned(self._next(), name, value, where))

    def effect(self, name: str, key: str | None, kind: str, where: Where, mutating: bool,
               detail: dict[str, Any]) -> str:
        """Record one effect and return the nemesis' decision for it ("proceed"/"fail"/"crash").

        Every effect is a fault point, reads included: the nemesis may fail a read (never crash
        after one: a read has nothing to repeat). A failed call did not happen and is not recorded.
        """
        if self._is_crashed(where):
            raise InvocationKilled(f"invocation {where.invocation} was crashed by the nemesis")
        decision = self._decide(name, where, mutating)
        if decision == "crash" and not mutating:
            decision = "proceed"
        if decision == "fail":
            return decision
        with self._lock:
            dedupe = detail.get("idempotency_key")  # an HTTP request's Idempotency-Key: the server dedupes repeats
            if dedupe is not None and any(e.name == name and e.detail.get("idempotency_key") == dedupe
                                          for e in self.effects):
                detail = {**detail, "idempotent": True, "deduplicated": True}
            self.effects.append(Effect(self._next(), name, key, kind, where, mutating, dict(detail)))
        return decision

    def crash(self, where: Where, name: str) -> InvocationKilled:
        """The effect ``name`` has happened: end its invocation now and return the exception to raise."""
        self._kill(where)
        return InvocationKilled(f"injected crash right after {name!r}")

    def trip(self, call: str, where: Where) -> None:
        """Record a nondeterministic read: outside steps a tripwire hit, inside a step body an in-step read."""
        with self._lock:
            (self.in_step_reads if where.in_step else self.tripwire).append(TripwireHit(call, where))


ACTIVE: Recorder | None = None


def activate(recorder: Recorder | None) -> None:
    """Make ``recorder`` the one that ``effect()`` and the boto3 hook report to (None: off)."""
    global ACTIVE
    ACTIVE = recorder
    if recorder is not None:
        install_botocore_hook()


def effect(name: str, key: Any = None, **detail: Any) -> None:
    """Record a side effect named ``name`` (with an idempotency ``key``) at this point of the handler.

    Contract: call it right after (or as) the effect happens. Outside a chaosdurable run it
    does nothing. Inside one it may raise ``TransientDependencyError`` (an injected failure;
    the effect did not happen) or end the invocation (an injected crash right after it).
    """
    recorder = ACTIVE
    if recorder is None or recorder.paused:
        return
    where = where_now()
    decision = recorder.effect(name, None if key is None else str(key), "explicit", where, True, detail)
    if decision == "fail":
        raise TransientDependencyError(f"injected failure of {name!r} ({where.label()})")
    if decision == "crash":
        raise recorder.crash(where, name)


def observe_return(name: str, value: Any) -> None:
    """Report that the durable operation ``name`` just returned ``value`` to this code.

    For the result-provenance checker (``chaosdurable.checks.sdk_invariants``): a result must come
    from the operation's own checkpoint or its own body run in this invocation. Call it right
    after the operation returned, in the code that called it (its parent context). Outside a
    chaosdurable run, or where the recorder cannot take it (a subprocess child), it does nothing;
    it never fails the handler (a value that is not JSON is recorded by its ``repr``).
    """
    recorder = ACTIVE
    record = getattr(recorder, "returned", None)
    if recorder is None or recorder.paused or record is None:
        return
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        text = json.dumps(repr(value))
    record(name, text, where_now())


# ----------------------------------------------------------------------------- boto3
_hook_lock = threading.Lock()
_hook_installed = False


def _key_of(params: dict[str, Any]) -> str:
    """A stable idempotency key for an AWS request: the identifying parameters, hashed."""
    identifying = ("TableName", "Key", "Item", "Bucket", "QueueUrl", "TopicArn", "Source", "Destination", "Message",
                   "MessageBody", "FunctionName")
    parts: dict[str, Any] = {k: params[k] for k in identifying if k in params}
    if not parts:
        parts = params
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def install_botocore_hook() -> None:
    """Wrap ``botocore.client.BaseClient._make_api_call`` once per process (inactive without a recorder)."""
    global _hook_installed
    with _hook_lock:
        if _hook_installed:
            return
        try:
            from botocore.client import BaseClient
            from botocore.exceptions import ClientError
        except ImportError:  # botocore not installed: nothing to hook
            _hook_installed = True
            return
        original = BaseClient._make_api_call

        def _make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            recorder = ACTIVE
            if recorder is None or recorder.paused:
                return original(self, operation_name, api_params)
            service = self.meta.service_model.service_name
            name = f"aws:{service}.{operation_name}"
            if not MOTO_ACTIVE and not recorder.allow_real_aws:
                recorder.refused.append(f"{service}.{operation_name}")
                raise RealAwsRefused(
                    f"the handler called {service}.{operation_name} while no moto world was active: chaosdurable "
                    "never lets a handler under test reach a real AWS account unless you allow it. Pass setup= "
                    "(a function that creates your tables, queues...) to run inside moto, or allow_real_aws=True "
                    "to let it through.")
            mutating = not is_read_only(operation_name, api_params)
            where = where_now()
            decision = recorder.effect(name, _key_of(api_params), "aws", where, mutating,
                                       {"service": service, "operation": operation_name})
            if decision == "fail":
                raise ClientError({"Error": {"Code": "ServiceUnavailable",
                                             "Message": f"injected failure of {name} (transient)"},
                                   "ResponseMetadata": {"HTTPStatusCode": 503}}, operation_name)
            if decision != "crash":
                return original(self, operation_name, api_params)
            try:  # the call happens (or fails on its own); either way the process dies right after it
                original(self, operation_name, api_params)
            finally:
                raise recorder.crash(where, name)

        _make_api_call.__wrapped__ = original  # type: ignore[attr-defined]
        BaseClient._make_api_call = _make_api_call
        _hook_installed = True
