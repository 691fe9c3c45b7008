"""The plain data of one run. Checkers read these; nothing here drives an execution."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Where:
    """Where user code was when something happened.

    ``op_type``/``op_name``/``op_id`` describe the innermost user function running (a STEP
    body, a child-context function, a map item...), or are None at the handler's top level.
    ``in_step`` is True inside a step body (or a wait_for_condition check), where effects
    are checkpointed; ``source`` is the user's file:line.
    """

    arn: str | None = None
    invocation: int | None = None
    copy: int = 0
    op_id: str | None = None
    op_name: str | None = None
    op_type: str | None = None
    sub_type: str | None = None
    attempt: int | None = None
    in_step: bool = False
    source: str | None = None
    semantics: str | None = None
    max_attempts: int | None = None

    def label(self) -> str:
        """Short readable location."""
        if self.arn is None:  # not inside any durable invocation: a plain invoke target, or setup code
            return "a plain function outside any durable execution" + (f", at {self.source}" if self.source else "")
        kind = (self.sub_type or self.op_type or "").lower()
        scope = f"step {self.op_name!r} attempt {self.attempt}" if self.in_step else (
            f"{_KIND_WORDS.get(kind, kind)} {self.op_name!r} (outside any step)" if self.op_type
            else "handler code outside any step")
        inv = f"invocation {self.invocation}" + (" (duplicate)" if self.copy else "")
        return f"{scope}, {inv}" + (f", at {self.source}" if self.source else "")


#: the SDK's operation subtypes as a user knows them (``context.map``'s items, ``context.parallel``'s branches)
_KIND_WORDS = {"mapiteration": "map item", "parallelbranch": "parallel branch", "runinchildcontext": "child context",
               "waitforcallback": "wait_for_callback", "waitforcondition": "wait_for_condition",
               "childcontext": "child context", "context": "child context"}


@dataclass(frozen=True)
class BodyRun:
    """One execution of a user function body (step body, check function, child function...)."""

    seq: int
    where: Where
    outcome: str | None = None


@dataclass(frozen=True)
class Effect:
    """One side effect. ``source`` is "explicit" (``chaosdurable.effect``) or "aws" (boto3)."""

    seq: int
    name: str
    key: str | None
    kind: str
    where: Where
    mutating: bool = True
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Returned:
    """An operation's result as it reached user code (``ledger.observe_return``): ``name`` is the
    operation's name, ``value`` the result as JSON text, ``where`` the code that received it (its
    ``op_id`` is the enclosing user function's operation: the returning operation's parent)."""

    seq: int
    name: str
    value: str
    where: Where


@dataclass(frozen=True)
class TripwireHit:
    """A read of the clock, randomness or the environment in code outside any step."""

    call: str
    where: Where


@dataclass
class RunRecord:
    """Everything one run produced: the execution, the protocol, the effects, the world."""

    label: str
    status: str
    result: Any
    result_payload: str | None
    error: dict[str, Any] | None
    history: list[dict[str, Any]]
    operations: list[dict[str, Any]]
    invocations: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    body_runs: list[BodyRun] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    tripwire: list[TripwireHit] = field(default_factory=list)
    #: clock, random and uuid reads inside step bodies, while the tripwire was on (never a finding)
    in_step_reads: list[TripwireHit] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    world: dict[str, Any] | None = None
    stuck: str | None = None
    diagnostics: list[str] = field(default_factory=list)
    handler: str = ""
    virtual_ms: int = 0
    #: the execution's ARN; checkpoints and body runs of chained-invoke child executions carry their own
    arn: str = ""
    #: invocations of every execution of the run (the execution's own and its children's), each with "arn"
    all_invocations: list[dict[str, Any]] = field(default_factory=list)
    #: on a fault-free run: the values its steps mint anew in every execution
    #: (``chaosdurable.checks.fresh.FreshValues``, found by ``check`` with a second fault-free run)
    fresh: Any = None
    #: on a fault-free run: (checker, operation) of the differences a second fault-free run already shows
    #: (the handler's own nondeterminism across executions), set by ``check``
    baseline: frozenset[tuple[str, str | None]] = frozenset()
    #: AWS calls refused because no moto world was active (``service.Operation``), caught or not
    refused_aws: list[str] = field(default_factory=list)
    #: operation results as they reached user code (``ledger.observe_return``; only handlers that report them)
    returns: list[Returned] = field(default_factory=list)
    #: every checkpoint token the service issued, in any execution of the run, with the invocation
    #: (index) it was issued to (None: not recorded)
    issued_tokens: dict[str, int] | None = None
    #: GetDurableExecutionState calls: ``{"arn", "invocation", "token", "accepted"}``
    state_calls: list[dict[str, Any]] = field(default_factory=list)
    #: in-process only: the plain-data globals of the handler's module (name -> short repr,
    #: ``history.module_state``) at the start of invocation 1 and of every cold-started invocation
    #: (see ``cold_starts``) of the run's own execution. Module state is per sandbox, and in-process the
    #: sandbox is this process: earlier executions of the handler here (the operation-space probe, the
    #: other runs of ``check``, earlier examples) may have left values the run starts with.
    module_state: dict[int, dict[str, str]] = field(default_factory=dict)
    #: the invocations of the run's own execution that ran on a new sandbox (a ``ColdStart``), in-process
    cold_starts: list[int] = field(default_factory=list)
    #: how replaying this finished run's own history diverged from it, in lines (``replay.selfcheck``);
    #: ``()`` when it replayed identically or was not replayed. Set by ``check`` on its fault-free run.
    final_replay: tuple[str, ...] = ()
    #: how this fault-free run's ending differs from the same execution run straight through its waits,
    #: in lines (``checks.uninterrupted``); ``()`` when it agrees or was not compared. Set by ``check``.
    uninterrupted: tuple[str, ...] = ()
