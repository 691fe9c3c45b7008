"""The two engine backends: the in-memory durable service driving the real SDK, in this process
(``InProcess``) or with every invocation in a fresh Python process (``Subprocess``).

Both apply every fault kind: the engine's nemesis acts through ``engine/interception.py``'s
verbs, the effect ledger and the callback answers (``chaosdurable.run``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from chaosdurable.backends.base import ALL_FAULT_KINDS, Guards, Limits, Workload
from chaosdurable.engine.runner import DurableRunner, Mode
from chaosdurable.faults.nemesis import Nemesis
from chaosdurable.faults.schedule import FaultSchedule
from chaosdurable.history.record import RunRecord
from chaosdurable.history.world import World
from chaosdurable.run import RunConfig, execute


@dataclass(frozen=True)
class _EngineBackend:
    """Shared by both engine backends.

    faithful: run the SDK exactly as shipped (no speed-ups, branches on threads of their own).
    threaded_branches: keep the speed-ups but run map/parallel branches on threads of their own
    (real interleavings; the history then depends on thread timing). virtual_clock (default on): the
    handler's own clock reads follow the virtual clock (in the child processes too, in subprocess mode), so a
    verdict never depends on when or how fast it ran; off, they read the real clock.
    """

    faithful: bool = False
    threaded_branches: bool = False
    virtual_clock: bool = True
    mode: ClassVar[Mode] = "inprocess"

    @property
    def name(self) -> str:
        """The backend's name (``--backend`` value)."""
        return self.mode

    @property
    def fault_kinds(self) -> frozenset[str]:
        """The engine applies every kind."""
        return ALL_FAULT_KINDS

    def config(self, workload: Workload, limits: Limits, guards: Guards) -> RunConfig:
        """The engine's own run configuration for these values."""
        return RunConfig(mode=self.mode, seed=limits.seed, knobs=limits.knobs, targets=workload.targets,
                         callbacks=workload.callbacks, tripwire=guards.tripwire,
                         tripwire_allow=tuple(guards.tripwire_allow),
                         max_invocations=limits.max_invocations, hang_timeout=limits.hang_timeout,
                         execution_timeout=limits.execution_timeout, allow_real_aws=guards.allow_real_aws,
                         allow_hosts=guards.allow_hosts, http=guards.http, threaded_branches=self.threaded_branches,
                         virtual_clock=self.virtual_clock, import_path=workload.import_path, faithful=self.faithful)

    def run(self, workload: Workload, payload: str, schedule: FaultSchedule, limits: Limits, guards: Guards,
            world: World | None = None, label: str = "run") -> tuple[RunRecord, Nemesis]:
        """One run through the engine (``chaosdurable.run.execute``)."""
        return execute(workload.handler, payload, schedule, self.config(workload, limits, guards), world, label)

    def driver(self, workload: Workload, limits: Limits) -> DurableRunner:
        """A ``DurableRunner`` for ``workload`` with its targets registered."""
        runner = DurableRunner(workload.handler, mode=self.mode, seed=limits.seed, knobs=limits.knobs,
                               max_invocations=limits.max_invocations, hang_timeout=limits.hang_timeout,
                               execution_timeout=limits.execution_timeout, faithful=self.faithful,
                               threaded_branches=self.threaded_branches, virtual_clock=self.virtual_clock,
                               import_path=workload.import_path)
        runner.register_targets(workload.targets)
        return runner

    def spec(self) -> dict[str, Any]:
        """``{"name": ..., options that differ from the defaults}``."""
        out: dict[str, Any] = {"name": self.name}
        defaults = {f.name: f.default for f in dataclasses.fields(_EngineBackend)}
        for key in ("faithful", "threaded_branches", "virtual_clock"):
            if getattr(self, key) != defaults[key]:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class InProcess(_EngineBackend):
    """The engine in this process: fastest; module state is the sandbox's (see README, sandbox state)."""

    mode: ClassVar[Mode] = "inprocess"


@dataclass(frozen=True)
class Subprocess(_EngineBackend):
    """The engine, with each emulated Lambda sandbox a Python process of its own: real crashes
    (``os._exit``, SIGKILL), module state kept across a sandbox's warm invocations and reset on a new
    one (a ``ColdStart``, after a crash or timeout, a concurrent duplicate), another ``PYTHONHASHSEED``
    per sandbox. ``process_per="invocation"``: a new process for every invocation (all of them cold)."""

    process_per: Literal["sandbox", "invocation"] = "sandbox"
    mode: ClassVar[Mode] = "subprocess"

    def __post_init__(self) -> None:
        if self.process_per not in ("sandbox", "invocation"):
            raise ValueError(f"Subprocess(process_per={self.process_per!r}): give 'sandbox' (a process per emulated "
                             "Lambda sandbox; its warm invocations share it) or 'invocation' (a new process each time)")

    def config(self, workload: Workload, limits: Limits, guards: Guards) -> RunConfig:
        """The engine's run configuration, with the process model."""
        return dataclasses.replace(super().config(workload, limits, guards), process_per=self.process_per)

    def driver(self, workload: Workload, limits: Limits) -> DurableRunner:
        """A ``DurableRunner`` with this process model."""
        runner = super().driver(workload, limits)
        invoker: Any = runner.service.invoker
        invoker.process_per = self.process_per
        return runner

    def spec(self) -> dict[str, Any]:
        """``{"name": "subprocess", options that differ from the defaults}``."""
        out = super().spec()
        if self.process_per != "sandbox":
            out["process_per"] = self.process_per
        return out
