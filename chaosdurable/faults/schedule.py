"""NEMESIS: fault schedules as immutable values that serialize to JSON and read as plain words.

A ``FaultSchedule`` is a tuple of ``Fault`` values. Each fault names *where* it strikes by
stable coordinates only, never by call counts or wall time:

- ``op``: the operation's name (``"charge"``), a name path through contexts
  (``"order/charge"``), or its operation id;
- ``action``: the checkpoint action (START, SUCCEED, FAIL, RETRY) of that operation;
- ``attempt``: the step attempt (1-based, as the step body sees it);
- ``invocation``: the 1-based index of the invocation within the execution;
- ``effect``: the name of a side effect recorded with ``chaosdurable.effect`` (or
  ``"aws:<service>.<operation>"`` for boto3 calls).

A coordinate left as ``None`` matches anything. Every fault fires at most once. A fault
whose coordinates are never reached is reported as "not reached", never dropped silently.

Every fault kind (and each variant of one: a ``CheckpointApiError`` error, a ``CallbackFault``
behaviour, a ``DuplicateInvocation`` delivery) carries its *provenance* (``provenance(fault)``,
``Fault.provenance``): ``documented`` (an AWS documentation statement says the service, or the
outside world, can do this), ``observed`` (the SDK's own source handles it, or AWS's local runner
does it, but AWS documents no such service behaviour) or ``assumed`` (not verified on AWS). The
generic strategies draw ``assumed`` faults only when asked (``fault_schedules(..., assumed=True)``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Literal, get_args

Phase = Literal["before_persist", "after_persist"]
CheckpointErrorKind = Literal["throttle", "server_error", "stale_token", "client_error", "no_token"]
CallbackBehaviour = Literal["delay", "duplicate", "after_timeout", "failure", "miss_heartbeats", "after_end"]


class ScheduleError(ValueError):
    """A schedule that cannot be read or cannot apply; the message says what and how to fix it."""


ProvenanceLabel = Literal["documented", "observed", "assumed"]


@dataclass(frozen=True)
class Provenance:
    """Why chaosdurable believes a fault can happen: a label and its source, in words.

    ``documented``: an AWS documentation statement; ``observed``: a behaviour of the SDK's source (or
    of AWS's local runner) that AWS does not document; ``assumed``: not verified on AWS, kept out of the
    generic strategies unless asked for.
    """

    label: ProvenanceLabel
    source: str

    def __str__(self) -> str:
        return f"{self.label}: {self.source}"


class _ProvenanceOf:
    """``Fault.provenance``: on the class, the kind's (its default variant's); on a fault, its variant's."""

    def __get__(self, fault: Fault | None, owner: type[Fault]) -> Provenance:
        return provenance(owner.kind) if fault is None else provenance(fault)


_CHOICES: dict[str, tuple[Any, ...]] = {
    "error": get_args(CheckpointErrorKind),
    "behaviour": get_args(CallbackBehaviour),
    "phase": get_args(Phase),
    "action": (None, "START", "SUCCEED", "FAIL", "RETRY", "CANCEL"),
}


#: Faults that are about one invocation and make no sense without it.
_INVOCATION_REQUIRED = frozenset({"duplicate_invocation", "cold_start"})
#: The longest delay a fault may add (a year; NaN and infinity are refused).
_MAX_SECONDS = 31_536_000


def _check_field(kind: str, name: str, value: Any) -> None:
    """Raise ``ScheduleError`` if ``value`` is not a legal value of field ``name``."""
    def bad(expected: str) -> ScheduleError:
        return ScheduleError(f"fault {kind!r}: field {name!r} must be {expected}, got {value!r}")

    if name in _CHOICES:
        if value not in _CHOICES[name]:
            raise bad("one of " + ", ".join(repr(c) for c in _CHOICES[name]))
    elif name in ("attempt", "invocation"):
        required = name == "invocation" and kind in _INVOCATION_REQUIRED
        if (value is None and required) or (value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1)):
            raise bad("a whole number >= 1" + ("" if required else " or null"))
    elif name == "seconds":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= _MAX_SECONDS:
            raise bad(f"a number of seconds from 0 to {_MAX_SECONDS:,} (one year)")
    elif name == "effect":
        if not isinstance(value, str) or not value:
            raise bad("an effect name (a pattern like 'charge' or 'aws:sqs.*'; '*' for any effect)")
    elif name == "op":
        if value is not None and not isinstance(value, str):
            raise bad("a string (an operation name, path or id)")
    elif name == "concurrent" and not isinstance(value, bool):
        raise bad("true or false")
    elif name == "times" and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000):
        raise bad("how many times in a row it fails, a whole number from 1 to 1000 (3 outlasts a step with 3 "
                  "attempts; the SDK's default strategy makes 6)")


@dataclass(frozen=True)
class Fault:
    """Base class: one fault. Subclasses set ``kind`` and add their coordinates.

    Every field is validated on construction, so a bad schedule fails loudly at once
    instead of silently never firing.
    """

    kind: ClassVar[str] = "fault"
    #: faults whose firing may legitimately change the execution's outcome
    changes_outcome: ClassVar[bool] = False
    #: documented / observed / assumed, with its source (``PROVENANCE``); a fault's own variant may differ
    #: from its kind's (``DuplicateInvocation(concurrent=False)`` is assumed, the concurrent one is not)
    provenance = _ProvenanceOf()

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_field(self.kind, f.name, getattr(self, f.name))

    def describe(self) -> str:  # pragma: no cover - every subclass overrides
        """This fault in plain words."""
        raise NotImplementedError

    def variant(self) -> str | None:
        """Which variant of its kind this fault is, where variants differ in provenance (else None)."""
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with the ``kind`` discriminator and the non-default coordinates."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = value
        return out


def _where(op: str | None, action: str | None, attempt: int | None, invocation: int | None,
           anywhere: str = "at the first checkpoint") -> str:
    parts = []
    if invocation is not None:
        parts.append(f"in invocation {invocation}")
    if op is not None:
        parts.append(f"on operation {op!r}")
    if action is not None:
        parts.append(f"at its {action} checkpoint")
    if attempt is not None:
        parts.append(f"(attempt {attempt})")
    return " ".join(parts) or anywhere


@dataclass(frozen=True)
class CrashAtCheckpoint(Fault):
    """The process dies at a checkpoint: before it is persisted, or after (the lost response)."""

    kind: ClassVar[str] = "crash_at_checkpoint"
    op: str | None = None
    action: str | None = None
    attempt: int | None = None
    invocation: int | None = None
    phase: Phase = "before_persist"

    def describe(self) -> str:
        """In words."""
        when = ("before it is persisted" if self.phase == "before_persist"
                else "after it is persisted but before the response reaches the SDK")
        return f"crash {_where(self.op, self.action, self.attempt, self.invocation)}, {when}"


@dataclass(frozen=True)
class CrashAfterEffect(Fault):
    """The process dies inside a step body right after a named side effect happened."""

    kind: ClassVar[str] = "crash_after_effect"
    effect: str = ""
    op: str | None = None
    attempt: int | None = None
    invocation: int | None = None

    def describe(self) -> str:
        """In words."""
        where = _where(self.op, None, self.attempt, self.invocation, "the first time")
        return (f"crash right after effect {self.effect!r} ran {where}, "
                "before anything after it is checkpointed")


@dataclass(frozen=True)
class CheckpointApiError(Fault):
    """The checkpoint API answers with an error (nothing is persisted), or without a new token."""

    kind: ClassVar[str] = "checkpoint_error"
    error: CheckpointErrorKind = "server_error"
    op: str | None = None
    action: str | None = None
    attempt: int | None = None
    invocation: int | None = None

    @property
    def changes_outcome_now(self) -> bool:
        """A non-retryable 4xx fails the execution: a legitimate change of outcome."""
        return self.error == "client_error"

    def variant(self) -> str | None:
        """The error."""
        return self.error

    def describe(self) -> str:
        """In words."""
        what = {
            "throttle": "throttles (429)",
            "server_error": "fails with a 5xx",
            "stale_token": "rejects the token as invalid",
            "client_error": "rejects the call with a non-retryable 400",
            "no_token": "accepts the checkpoint but returns no new token",
        }[self.error]
        return f"the checkpoint API {what} {_where(self.op, self.action, self.attempt, self.invocation)}"


@dataclass(frozen=True)
class DuplicateInvocation(Fault):
    """The same invocation is delivered twice: concurrently, or again after the first ended."""

    kind: ClassVar[str] = "duplicate_invocation"
    invocation: int = 1
    concurrent: bool = True

    def variant(self) -> str | None:
        """``concurrent`` or ``after_end``."""
        return "concurrent" if self.concurrent else "after_end"

    def describe(self) -> str:
        """In words."""
        how = "twice at the same time" if self.concurrent else "again after it ended (with its old token)"
        return f"deliver invocation {self.invocation} {how}"


@dataclass(frozen=True)
class InvocationTimeout(Fault):
    """The invocation times out at a checkpoint: the service starts a new one, the old one
    goes on as a zombie whose later checkpoints are rejected."""

    kind: ClassVar[str] = "invocation_timeout"
    op: str | None = None
    action: str | None = None
    attempt: int | None = None
    invocation: int | None = None

    def describe(self) -> str:
        """In words."""
        return (f"time out the invocation {_where(self.op, self.action, self.attempt, self.invocation)}; "
                "it lives on as a zombie")


@dataclass(frozen=True)
class CallbackFault(Fault):
    """The outside world answers a callback badly."""

    kind: ClassVar[str] = "callback"
    behaviour: CallbackBehaviour = "delay"
    op: str | None = None
    seconds: float = 60.0

    @property
    def changes_outcome_now(self) -> bool:
        """Failure, a late answer or missed heartbeats legitimately change the outcome."""
        return self.behaviour in ("after_timeout", "failure", "miss_heartbeats")

    def variant(self) -> str | None:
        """The behaviour."""
        return self.behaviour

    def describe(self) -> str:
        """In words."""
        target = f"callback {self.op!r}" if self.op else "the first callback"
        return {
            "delay": f"answer {target} {self.seconds:g}s late",
            "duplicate": f"answer {target} twice",
            "after_timeout": f"answer {target} only after its timeout",
            "failure": f"answer {target} with a failure instead of success",
            "miss_heartbeats": f"send no heartbeats for {target}",
            "after_end": f"answer {target} again after the execution ended",
        }[self.behaviour]


@dataclass(frozen=True)
class LateTimer(Fault):
    """A wait completes, or a step retry becomes due, later than scheduled."""

    kind: ClassVar[str] = "late_timer"
    op: str | None = None
    seconds: float = 30.0

    def describe(self) -> str:
        """In words."""
        target = f"of {self.op!r}" if self.op else ""
        return f"fire the timer {target} {self.seconds:g}s late".replace("  ", " ")


@dataclass(frozen=True)
class ColdStart(Fault):
    """The invocation lands on a new sandbox: fresh module state and an empty temporary directory.

    On Lambda a cold start *is* a new execution environment, so both go together: in-process the
    handler's module is reloaded and ``tempfile.gettempdir()`` is a new empty directory; in
    subprocess mode (module state is fresh in every child anyway) the child gets a new empty
    ``TMPDIR``. The sandbox's old directory is removed. (Fresh module state with the old ``/tmp``
    is what a runtime reset after a crash gives on Lambda, which subprocess mode models.)
    """

    kind: ClassVar[str] = "cold_start"
    invocation: int = 2

    def describe(self) -> str:
        """In words."""
        return (f"run invocation {self.invocation} on a cold start (a new sandbox: module state reset, "
                "empty temp dir)")


@dataclass(frozen=True)
class TransientFailure(Fault):
    """A dependency fails: the named effect (or boto3 call) raises at the given attempt.

    ``times`` > 1: it fails that many times in a row, on the attempts from ``attempt`` on (an outage
    that outlasts the step's retries when ``times`` is larger than its attempts: the retries run out).
    """

    kind: ClassVar[str] = "transient_failure"
    effect: str = ""
    op: str | None = None
    attempt: int | None = 1
    invocation: int | None = None
    times: int = 1

    def describe(self) -> str:
        """In words."""
        if self.times == 1:
            return f"make effect {self.effect!r} fail {_where(self.op, None, self.attempt, self.invocation, 'once')}"
        start = "" if self.attempt in (None, 1) else f" from attempt {self.attempt}"
        where = _where(self.op, None, None, self.invocation, "")
        return (f"make effect {self.effect!r} fail {self.times} times in a row{start}"
                f"{' ' + where if where else ''} (an outage: every retry fails until it ends)")


FAULT_TYPES: dict[str, type[Fault]] = {
    t.kind: t
    for t in (CrashAtCheckpoint, CrashAfterEffect, CheckpointApiError, DuplicateInvocation, InvocationTimeout,
              CallbackFault, LateTimer, ColdStart, TransientFailure)
}


# ----------------------------------------------------------------------------- provenance
_RETRIES_DOC = "AWS Lambda docs, durable functions retries (durable-execution-sdk-retries.html)"
_D: ProvenanceLabel = "documented"
_O: ProvenanceLabel = "observed"
_A: ProvenanceLabel = "assumed"

#: kind -> variant -> provenance; the ``None`` entry is the kind's own: its default variant's, for a kind
#: with variants (``CheckpointApiError().variant()`` is ``server_error``).
#: Sources: AWS documentation, the SDK's source (aws_durable_execution_sdk_python 3.0.0, paths relative
#: to the package), and AWS's local runner (aws_durable_execution_sdk_python_testing 1.4.0).
PROVENANCE: dict[str, dict[str | None, Provenance]] = {
    "crash_at_checkpoint": {None: Provenance(_D, (
        f"{_RETRIES_DOC}: after a timeout, out-of-memory or process crash 'Lambda automatically retries the "
        "invocation. The SDK replays from the last checkpoint'; a crash after the checkpoint was persisted is the "
        "lost response: the SDK never resends a checkpoint (client_token=None, state.py), the next invocation "
        "replays what was persisted"))},
    "crash_after_effect": {None: Provenance(_D, (
        f"{_RETRIES_DOC} (a crash is retried and replayed) and the step semantics docs: the default "
        "AT_LEAST_ONCE_PER_RETRY step checkpoints after its body, so a crash between a side effect and that "
        "checkpoint runs the body, and the effect, again"))},
    "checkpoint_error": {
        "server_error": Provenance(_D, (
            f"{_RETRIES_DOC}: a 5xx or a timeout calling Checkpoint/GetState is retried and replayed; the API "
            "reference lists ServiceException; SDK exceptions.py classifies 5xx as retryable (INVOCATION)")),
        "throttle": Provenance(_D, (
            f"{_RETRIES_DOC}: a 429 is retried with exponential backoff; the API reference lists "
            "TooManyRequestsException; SDK exceptions.py classifies 429 as retryable")),
        "stale_token": Provenance(_D, (
            "API reference, CheckpointDurableExecution: 'each checkpoint operation consumes the current checkpoint "
            f"token' (InvalidParameterValueException); {_RETRIES_DOC}: an invalid checkpoint token is retried; "
            "SDK exceptions.py: 'Invalid checkpoint token' is retryable")),
        "client_error": Provenance(_D, (
            f"{_RETRIES_DOC}: a 4xx other than 429 and an invalid token from Checkpoint/GetState fails the "
            "execution without retry; SDK exceptions.py classifies it EXECUTION (non-retryable)")),
        "no_token": Provenance(_O, (
            "SDK state.py (_handle_revoked_checkpoint_token): a checkpoint response without a new token revokes "
            "the token and ends the invocation PENDING; AWS's local runner answers so to pause the execution; "
            "AWS documents no case where the service does")),
    },
    "duplicate_invocation": {
        "concurrent": Provenance(_O, (
            "SDK exceptions.py: 'Invalid checkpoint token' is retryable as a 'stale token from a concurrent "
            "checkpoint', and the API's token chain 'prevents duplicate or out-of-order state updates'; Lambda "
            "documents that an asynchronous event may be delivered more than once; a duplicate of a durable "
            "invocation is not documented as such")),
        "after_end": Provenance(_A, (
            "assumed: not verified on AWS. The service redelivers an invocation with its old token after the "
            "execution ended; its checkpoints are rejected, but the body of an at-least-once step it reaches "
            "first runs again, so a correct handler making a blind write in its first step is flagged")),
    },
    "invocation_timeout": {None: Provenance(_O, (
        f"{_RETRIES_DOC}: a timed-out invocation is retried and replayed (documented); that the old invocation "
        "runs on until its next checkpoint, which is rejected as a stale token (SDK exceptions.py: retryable), is "
        "the SDK's model of a superseded invocation (AWS's local runner supersedes tokens the same way), not a "
        "documented service behaviour"))},
    "callback": {
        "delay": Provenance(_D, (
            "API reference: a callback completes when the outside system calls "
            "SendDurableExecutionCallbackSuccess/Failure, at any time before its TimeoutSeconds")),
        "duplicate": Provenance(_D, (
            "SDK operation/callback.py: wait_for_callback's submitter is an at-least-once step, so the outside "
            "system may get the callback id twice and answer twice; the API reference documents the error for an "
            "answer to a closed callback (CallbackTimeoutException)")),
        "after_timeout": Provenance(_D, (
            "API reference: CallbackOptions.TimeoutSeconds, and Send* on an expired callback fails with "
            "CallbackTimeoutException; the SDK raises CallbackTimeoutError on TIMED_OUT (Callback.Timeout)")),
        "failure": Provenance(_D, (
            "API reference: SendDurableExecutionCallbackFailure; the SDK raises CallbackExternalError on a FAILED "
            "callback (context.py)")),
        "miss_heartbeats": Provenance(_D, (
            "API reference: CallbackOptions.HeartbeatTimeoutSeconds and SendDurableExecutionCallbackHeartbeat "
            "(a heartbeat extends the timeout); the SDK's error type Callback.Heartbeat (lambda_service.py)")),
        "after_end": Provenance(_D, (
            "nothing stops the outside system from answering after the execution ended; the API reference "
            "documents the rejection of an answer to a closed callback (CallbackTimeoutException). AWS's exact "
            "answer is unverified (AWS's local runner says ResourceNotFoundException); no handler code runs")),
    },
    "late_timer": {None: Provenance(_D, (
        f"wait docs: the backend resumes the function when the wait completes; {_RETRIES_DOC}: an invocation that "
        "fails outside the code (throttled, sandbox init failure) is retried with exponential backoff, so code "
        "after a wait or a step retry may run later than scheduled; how late is not published"))},
    "cold_start": {None: Provenance(_D, (
        "AWS Lambda docs, execution environment lifecycle: an invocation may run in a new execution environment "
        "(the init phase runs module code again, /tmp starts empty); an execution spans several invocations "
        "(durable functions basic concepts)"))},
    "transient_failure": {None: Provenance(_D, (
        "AWS SDKs and Tools reference, retry behavior: AWS services answer throttling and transient 5xx errors, "
        "which botocore raises as ClientError once its own retries are spent (reads and writes alike); an "
        "explicit or HTTP effect is the dependency's own failure"))},
}


for _kind, _table in PROVENANCE.items():
    if None not in _table:
        _table[None] = _table[FAULT_TYPES[_kind]().variant()]


def provenance(fault: Fault | type[Fault] | str, variant: str | None = None) -> Provenance:
    """The provenance of a fault (its variant's), a fault class or kind name (the kind's, or ``variant``'s).

    ``provenance(DuplicateInvocation(concurrent=False)).label == "assumed"``;
    ``provenance("checkpoint_error", "no_token").label == "observed"``. An unknown kind or variant is
    a ``ScheduleError`` naming the known ones.
    """
    if isinstance(fault, Fault):
        kind, variant = fault.kind, fault.variant()
    else:
        kind = fault.kind if isinstance(fault, type) else fault
    table = PROVENANCE.get(kind)
    if table is None:
        raise ScheduleError(f"unknown fault kind {kind!r}; known kinds: {sorted(PROVENANCE)}")
    if variant not in table:
        known = sorted(v for v in table if v is not None)
        raise ScheduleError(f"fault {kind!r} has no variant {variant!r}" + (f"; its variants: {known}" if known
                                                                            else ""))
    return table[variant]


def is_assumed(fault: Fault) -> bool:
    """True for a fault the real service may never produce (``provenance(fault).label == "assumed"``)."""
    return provenance(fault).label == "assumed"


def fault_from_json(data: dict[str, Any]) -> Fault:
    """Read one fault; a clear ``ScheduleError`` names what is wrong."""
    if not isinstance(data, dict) or "kind" not in data:
        raise ScheduleError(f"a fault must be an object with a 'kind' field, got {data!r}")
    kind = data["kind"]
    cls = FAULT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ScheduleError(f"unknown fault kind {kind!r}; known kinds: {sorted(FAULT_TYPES)}")
    allowed = {f.name for f in fields(cls)}
    unknown = set(data) - allowed - {"kind"}
    if unknown:
        raise ScheduleError(f"fault {kind!r} has no field(s) {sorted(unknown)}; it takes {sorted(allowed)}")
    try:
        return cls(**{k: v for k, v in data.items() if k != "kind"})
    except TypeError as exc:
        raise ScheduleError(f"fault {kind!r}: {exc}") from None


def _spelling(faults: list[Fault] | None = None) -> str:
    """How to write a schedule, with the user's own faults when known."""
    if faults:
        return f"FaultSchedule(({', '.join(repr(f) for f in faults)},))"
    return 'FaultSchedule((CrashAtCheckpoint(op="charge"),))'


def _one_fault(item: Any, where: str) -> Fault:
    """A fault, or a JSON-shaped fault dict read as one; anything else is a ``ScheduleError`` naming it."""
    if isinstance(item, Fault):
        return item
    if isinstance(item, dict):
        return fault_from_json(item)
    if isinstance(item, type) and issubclass(item, Fault):
        raise ScheduleError(f"{where}: {item.__name__} is a fault class; create a fault with it, e.g. "
                            f"{item.__name__}(...) with its coordinates")
    raise ScheduleError(f"{where}: {item!r} ({type(item).__name__}) is not a fault; a schedule holds faults such as "
                        f"CrashAtCheckpoint(op='charge'), e.g. {_spelling()}")


@dataclass(frozen=True, init=False)
class FaultSchedule:
    """An ordered, immutable set of faults.

    ``FaultSchedule((fault, ...))`` is the spelling; ``FaultSchedule(fault)`` and
    ``FaultSchedule(fault1, fault2)`` (the tuple forgotten) mean the same, and a JSON-shaped fault
    dict is read as ``fault_from_json`` reads it. Anything else is a ``ScheduleError`` naming it.
    """

    faults: tuple[Fault, ...] = field(default_factory=tuple)

    def __init__(self, faults: Any = (), *more: Any) -> None:
        if isinstance(faults, Fault | dict) or more:
            items: list[Any] = [faults, *more]
        elif isinstance(faults, str | bytes):
            raise ScheduleError(f"FaultSchedule({faults!r:.60}): a schedule is a tuple of faults; for JSON text use "
                                "FaultSchedule.from_json(text)")
        else:
            try:
                items = list(faults)
            except TypeError:
                raise ScheduleError(f"FaultSchedule({faults!r}): a schedule is a tuple of faults, e.g. "
                                    f"{_spelling()}") from None
        object.__setattr__(self, "faults", tuple(_one_fault(item, "FaultSchedule(...)") for item in items))

    @classmethod
    def coerce(cls, value: Any, where: str = "check()") -> FaultSchedule:
        """``value`` as a schedule: a ``FaultSchedule``, None (no faults), one fault, a list or tuple of
        faults (or of JSON-shaped fault dicts), or a JSON-shaped dict ``{"faults": [...]}``.

        Anything else (JSON text included: a file name or JSON is ambiguous) is a ``ScheduleError``
        saying what was given and the spelling to use.
        """
        if value is None:
            return cls()
        if isinstance(value, FaultSchedule):
            return value
        if isinstance(value, Fault):
            return cls((value,))
        if isinstance(value, list | tuple):
            return cls(tuple(_one_fault(item, f"{where} schedule") for item in value))
        if isinstance(value, dict):
            if not isinstance(value.get("faults"), list | tuple) or set(value) - {"faults"}:
                raise ScheduleError(f"{where}: a schedule given as a dict is JSON-shaped, "
                                    f'{{"faults": [{{"kind": "crash_at_checkpoint", "op": "charge"}}]}}; got keys '
                                    f"{sorted(map(str, value))}. Or pass {_spelling()}")
            return cls(tuple(_one_fault(item, f"{where} schedule") for item in value["faults"]))
        if isinstance(value, str | bytes):
            raise ScheduleError(f"{where}: the schedule is a FaultSchedule, not text; for JSON text pass "
                                "FaultSchedule.from_json(text) (a file: "
                                "FaultSchedule.from_json(Path(name).read_text()))")
        raise ScheduleError(f"{where}: the schedule must be a FaultSchedule (or a list of faults), got "
                            f"{type(value).__name__} {value!r:.80}; e.g. {_spelling()}")

    def __len__(self) -> int:
        return len(self.faults)

    def __iter__(self) -> Iterator[Fault]:
        return iter(self.faults)

    def describe(self) -> str:
        """The schedule in plain words, one fault per line."""
        if not self.faults:
            return "no faults"
        return "\n".join(f"{i + 1}. {f.describe()}" for i, f in enumerate(self.faults))

    def to_json(self) -> str:
        """Canonical JSON (sorted keys)."""
        return json.dumps({"faults": [f.to_json() for f in self.faults]}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FaultSchedule:
        """Parse a schedule; malformed input raises ``ScheduleError`` saying what is wrong."""
        if not isinstance(text, str | bytes):
            raise ScheduleError(f"FaultSchedule.from_json takes JSON text, got a {type(text).__name__}; "
                                "for a dict, pass json.dumps(it)")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ScheduleError(f"a fault schedule must be JSON: {exc}") from None
        if isinstance(data, list):
            data = {"faults": data}
        if not isinstance(data, dict) or not isinstance(data.get("faults"), list):
            raise ScheduleError('a fault schedule is {"faults": [ {"kind": ...}, ... ]}')
        extra = sorted(set(data) - {"faults"})
        if extra:
            raise ScheduleError(f"a fault schedule has only a 'faults' list; unknown key(s) {extra}")
        return cls(tuple(fault_from_json(f) for f in data["faults"]))

    def as_dicts(self) -> list[dict[str, Any]]:
        """The faults as plain dicts (for reports)."""
        return [asdict(f) | {"kind": f.kind} for f in self.faults]


# ------------------------------------------------ operations in words (unnamed ones by position)
_KIND_WORDS = {"STEP": "step", "WAIT": "wait", "CALLBACK": "callback", "CHAINED_INVOKE": "invoke",
               "CONTEXT": "child context"}
_SUBTYPE_WORDS = {"WaitForCondition": "wait_for_condition", "Map": "map", "Parallel": "parallel",
                  "MapIteration": "map item", "ParallelBranch": "parallel branch",
                  "WaitForCallback": "wait_for_callback", "RunInChildContext": "child"}
#: How far to look for an unnamed operation's position in its context (the SDK numbers them 1, 2, ...).
_MAX_POSITION = 100_000


@functools.lru_cache(maxsize=4096)
def _position(op_id: str, parent_id: str | None) -> int | None:
    """The 1-based position of operation ``op_id`` in its parent context, or None if it is not an SDK id.

    The SDK derives an operation's id from its parent's id and its position (``blake2b("<parent>-<n>")``,
    ``blake2b("<n>")`` at the top level), so the position is recovered exactly, not guessed from order.
    """
    import hashlib

    for n in range(1, _MAX_POSITION + 1):
        text = f"{parent_id}-{n}" if parent_id else str(n)
        if hashlib.blake2b(text.encode()).hexdigest()[:64] == op_id:
            return n
    return None


def describe_operation(op_id: str, operations: list[dict[str, Any]]) -> str:
    """Operation ``op_id`` of a run (``RunRecord.operations``) in words.

    A named operation reads ``step 'charge'``; an unnamed one by its position in its context and the
    contexts around it: ``step #3 (unnamed) in child 'ship'``, ``parallel branch #2 (unnamed) in
    parallel #1 (unnamed)``. An id the run does not know is returned quoted, as it is.
    """
    by_id = {op["Id"]: op for op in operations}
    if op_id not in by_id:
        return repr(op_id)

    def word(op: dict[str, Any]) -> str:
        return _SUBTYPE_WORDS.get(str(op.get("SubType")), _KIND_WORDS.get(str(op.get("Type")), "operation"))

    def one(op: dict[str, Any]) -> str:
        if op.get("Name"):
            return f"{word(op)} {op['Name']!r}"
        n = _position(op["Id"], op.get("ParentId"))
        return f"{word(op)} #{n} (unnamed)" if n is not None else f"{word(op)} {op['Id'][:12]!r} (unnamed)"

    op = by_id[op_id]
    parts = [one(op)]
    parent, depth = op.get("ParentId"), 0
    while parent in by_id and by_id[parent].get("Type") != "EXECUTION" and depth < 64:
        parts.append(one(by_id[parent]))
        parent, depth = by_id[parent].get("ParentId"), depth + 1
    return " in ".join(parts)


def unnamed_in_words(text: str, operations: list[dict[str, Any]]) -> str:
    """``text`` with every quoted id of an unnamed operation (``'1ced8f...'``) replaced by its words.

    Faults target unnamed operations by id; reports read better with ``step #3 (unnamed) in child
    'ship'``. Named operations and ids the run does not know are left as they are.
    """
    for op in operations:
        if op.get("Name") or op.get("Type") == "EXECUTION" or op["Id"] not in text:
            continue
        words = describe_operation(op["Id"], operations)
        text = text.replace(f"operation {op['Id']!r}", words).replace(repr(op["Id"]), words)
    return text
