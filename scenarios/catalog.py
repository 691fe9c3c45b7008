"""The catalogue of bundled scenarios: realistic durable workflows with their invariants.

Each scenario module (``scenarios/<name>.py``) builds one ``Scenario`` value and the catalogue
lists them. A scenario has a correct variant and buggy variants, each buggy one described in one
sentence; ``chaosdurable run`` with no argument searches every variant and expects every buggy
one to be caught and every correct one to pass.

Contract:
- ``Variant.handler`` is an unmodified ``@durable_execution`` handler, importable as
  ``Variant.import_path`` (``module:attribute``), so the subprocess backend can load it too.
- ``Scenario.inputs()`` returns a Hypothesis strategy of JSON inputs (faker-based);
  ``Scenario.sample`` is one fixed input of it, for examples and quick runs.
- ``Scenario.setup`` provisions the moto world (tables, queues, buckets) before each run, or None.
- ``Scenario.callbacks`` answers callbacks by name (``chaosdurable.run.Answer`` or a JSON value).
- Each invariant is ``invariant(event, run) -> None``: it reads the input and one finished
  ``RunRecord`` (``run.world`` is the moto snapshot, ``run.result`` the result, ``run.effects``
  the recorded effects) and raises ``AssertionError`` with a business-level message when the
  invariant is broken ("order ord-1 was charged 2 times"). An invariant never drives anything.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: ``invariant(event, run)`` raises AssertionError when a business rule is broken
Invariant = Callable[[Any, Any], None]

#: scenario modules, in the order ``chaosdurable run`` shows them
SCENARIO_MODULES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variant:
    """One version of a scenario's handler: the correct one, or a buggy one and its bug in a sentence."""

    name: str
    handler: Callable[..., Any]
    import_path: str
    bug: str | None = None

    @property
    def buggy(self) -> bool:
        """True for a planted bug that a run must catch."""
        return self.bug is not None


@dataclass(frozen=True)
class Scenario:
    """A realistic workflow, how to feed it, what must always hold, and its variants."""

    name: str
    description: str
    inputs: Callable[[], Any]
    sample: Any
    variants: tuple[Variant, ...]
    invariants: tuple[Invariant, ...] = ()
    setup: Callable[[], None] | None = None
    callbacks: Mapping[str, Any] | None = None
    targets: Mapping[str, Callable[..., Any]] | None = None
    tags: tuple[str, ...] = field(default=())

    def variant(self, name: str) -> Variant:
        """The variant called ``name``; a KeyError names the ones there are."""
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"scenario {self.name!r} has no variant {name!r}; it has "
                       + ", ".join(repr(v.name) for v in self.variants))


def all_scenarios() -> list[Scenario]:
    """Every bundled scenario, imported on demand (each module exposes ``SCENARIO``)."""
    return [importlib.import_module(module).SCENARIO for module in SCENARIO_MODULES]


def find(name: str) -> Scenario:
    """The bundled scenario called ``name``; a KeyError names the ones there are."""
    scenarios = all_scenarios()
    for scenario in scenarios:
        if scenario.name == name:
            return scenario
    raise KeyError(f"no bundled scenario {name!r}; there are " + ", ".join(repr(s.name) for s in scenarios))
