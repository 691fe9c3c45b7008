"""The backend seam: what runs, how far it may go, and the one protocol every backend implements.

Data flows one way: the workload (``Workload`` and an input) and the nemesis (a ``FaultSchedule``)
go into a ``Backend``, which returns what happened as a ``RunRecord`` (history in the boto3
``GetDurableExecutionHistory`` shape, effects, world) plus the ``Nemesis`` that says which
faults fired where. Checkers read only those; they never drive a backend.

Three values replace ``check()``'s long list of keyword arguments:

- ``Workload``: *what* runs: the handler, its chained-invoke targets, the world ``setup``, how
  the outside world answers callbacks, and the import path subprocess children load it by.
- ``Limits``: *how far*: the seed, the invocation and time bounds, the service knobs.
- ``Guards``: *what it may reach and what is watched*: the clock/random tripwire, real AWS,
  network hosts, the HTTP mock.

and the backend itself says *where* it runs (``InProcess``, ``Subprocess`` in
``chaosdurable.backends.engine``; ``Aws`` in ``chaosdurable.backends.aws``).

A backend also hands out a *driver* for one execution environment, with the execution API
(start, advance or await, answer callbacks, read the history, stop): the engine's
``DurableRunner`` is one, the ``aws`` backend's boto3 client another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from chaosdurable.engine.knobs import Knobs
    from chaosdurable.faults.nemesis import Nemesis
    from chaosdurable.faults.schedule import FaultSchedule
    from chaosdurable.history.record import RunRecord
    from chaosdurable.history.world import World

#: every fault kind a schedule can hold (``FaultSchedule`` JSON ``kind`` values)
ALL_FAULT_KINDS = frozenset({
    "crash_at_checkpoint", "checkpoint_error", "invocation_timeout", "duplicate_invocation", "cold_start",
    "late_timer", "transient_failure", "crash_after_effect", "callback",
    "event_redelivery", "event_swap",  # chaosdurable.faults.events: at-least-once event sources
})


@dataclass(frozen=True)
class Workload:
    """What runs.

    handler: the ``@durable_execution`` handler. targets: chained-invoke targets by function
    name. setup: provisions the moto world before each run (tables, queues...). callbacks: how
    the outside world answers callbacks, by name (a JSON value or ``chaosdurable.run.Answer``).
    import_path: ``module:attribute`` by which a fresh process imports the handler.
    """

    handler: Callable[..., Any]
    targets: Mapping[str, Callable[..., Any]] | None = None
    setup: Callable[[], None] | None = None
    callbacks: Mapping[str, Any] | None = None
    import_path: str | None = None


@dataclass(frozen=True)
class Limits:
    """How far a run may go: every bound is finite, so every run ends.

    seed: ids, tokens, jitter and hash seeds derive from it (same seed and schedule, same
    history). max_invocations: invocations per execution. hang_timeout: real seconds one
    invocation may run before it counts as timed out. execution_timeout: the execution's
    ``ExecutionTimeout`` in (virtual) seconds. knobs: the service's documented-unknown behaviours.
    """

    seed: int = 0
    max_invocations: int = 1000
    hang_timeout: float = 30.0
    execution_timeout: int = 31_622_400
    knobs: Knobs | None = None


@dataclass(frozen=True)
class Guards:
    """What the handler may reach, and what is watched.

    tripwire: watch clock, randomness and uuid reads outside steps (True), also environment reads
    ("strict"), or nothing (False). tripwire_allow: calls (``"time.time()"``) or source patterns
    (``"app/config.py:*"``) never flagged. allow_real_aws: let AWS calls
    through when no moto world is active. allow_hosts: host patterns HTTP may reach (every other
    request is refused). http: a ``responses.RequestsMock`` that answers HTTP requests.
    """

    tripwire: bool | str = True
    tripwire_allow: tuple[str, ...] = ()
    allow_real_aws: bool = False
    allow_hosts: tuple[str, ...] = ()
    http: Any = None


@runtime_checkable
class Driver(Protocol):
    """The execution API of one environment (the engine's ``DurableRunner`` is one)."""

    def start(self, input: Any = None, *, payload: str | None = None, name: str | None = None) -> str:
        """Start an execution; return its ARN."""
        ...

    def run_until_idle(self) -> None:
        """Let the execution make every step it can without time passing (or, remotely, poll until it waits)."""
        ...

    def pending_callbacks(self, arn: str | None = None) -> list[Any]:
        """Callbacks waiting for an answer."""
        ...

    def send_callback_success(self, callback_id: str, result: str | bytes | None = None) -> None:
        """Answer a callback with a success."""
        ...

    def send_callback_failure(self, callback_id: str, error: dict[str, Any] | None = None) -> None:
        """Answer a callback with a failure (an ErrorObject dict)."""
        ...

    def send_callback_heartbeat(self, callback_id: str) -> None:
        """Keep a callback alive."""
        ...

    def get_execution_history(self, arn: str) -> dict[str, Any]:
        """The execution's history in the boto3 ``GetDurableExecutionHistory`` shape."""
        ...

    def stop_execution(self, arn: str, error: dict[str, Any] | None = None) -> None:
        """Stop a running execution."""
        ...


class Backend(Protocol):
    """Where a workload runs. One run: ``run``; the execution API: ``driver``.

    name: "inprocess", "subprocess" or "aws". fault_kinds: the schedule kinds this backend can
    apply (a schedule holding another kind is refused by ``check`` with the reason).
    """

    @property
    def name(self) -> str:
        """"inprocess", "subprocess" or "aws"."""
        ...

    @property
    def fault_kinds(self) -> frozenset[str]:
        """Fault kinds (``FaultSchedule`` JSON kinds) this backend applies."""
        ...

    def run(self, workload: Workload, payload: str, schedule: FaultSchedule, limits: Limits, guards: Guards,
            world: World | None = None, label: str = "run") -> tuple[RunRecord, Nemesis]:
        """Run ``workload`` on ``payload`` (JSON text) under ``schedule`` to its end (bounded by ``limits``)."""
        ...

    def driver(self, workload: Workload, limits: Limits) -> Driver:
        """A fresh environment to drive executions of ``workload`` by hand."""
        ...

    def spec(self) -> dict[str, Any]:
        """The backend as JSON (saved failures record it; ``from_spec`` rebuilds it)."""
        ...


class UnsupportedFault(ValueError):
    """A schedule holds a fault kind the chosen backend cannot inject."""


def refuse_unsupported(backend: Backend, schedule: FaultSchedule) -> None:
    """Raise ``UnsupportedFault`` naming each fault the backend cannot apply, and why to pick another."""
    kinds = backend.fault_kinds
    missing = sorted({f.kind for f in schedule.faults if f.kind not in kinds})
    if missing:
        raise UnsupportedFault(
            f"the {backend.name!r} backend cannot inject {', '.join(missing)} faults (it supports "
            f"{', '.join(sorted(kinds))}); drop them from the schedule, or run it on the inprocess or subprocess "
            "backend, which support every kind")
