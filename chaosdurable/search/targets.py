"""What ``chaosdurable run`` searches: its arguments resolved into ``Target`` values.

An argument is one of:

- a bundled scenario name (``order-saga``: every variant) or ``scenario/variant`` (one variant);
- ``path/to/file.py``: a file that defines ``SCENARIO`` (a ``Scenario``: every variant), or
  ``@durable_execution`` handlers at module level (each one, judged like ``module:handler``);
- ``module:handler``: a user's handler; it needs ``--input`` or ``--inputs`` (a strategy).

No argument: every variant of every bundled scenario. A mistake (an unknown name, a missing file,
a module that cannot be imported) raises ``UsageError`` naming the real cause (exit 2).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosdurable.cli import UsageError, _load


@dataclass(frozen=True)
class Target:
    """One thing to search: a handler, how to feed it, the world it needs, and what is expected.

    ``expected`` is "fail" for a planted bug, "pass" for a correct variant, None for a user's
    handler (any violation fails the run). ``inputs`` is a Hypothesis strategy of inputs, or None
    to use ``input`` for every example. ``scenario`` (its invariants and HTTP mock are used) and
    ``variant`` are set for a scenario's variant.
    """

    name: str
    handler: Callable[..., Any]
    import_path: str
    input: Any = None
    inputs: Any = None
    setup: Callable[[], None] | None = None
    callbacks: Mapping[str, Any] | None = None
    targets: Mapping[str, Callable[..., Any]] | None = None
    expected: str | None = None
    description: str = ""
    scenario: Any = field(default=None, compare=False)
    variant: str | None = None


@dataclass(frozen=True)
class UserOptions:
    """The options that feed a ``module:handler`` target (``--input``, ``--inputs``, ``--setup``...)."""

    input: str | None = None
    inputs: str | None = None
    setup: str | None = None
    callbacks: str | None = None
    targets: Sequence[str] = ()


def scenario_targets(scenario: Any, only: str | None = None) -> list[Target]:
    """The variants of a ``Scenario`` as targets (just ``only`` when given)."""
    variants = [scenario.variant(only)] if only is not None else list(scenario.variants)
    out = []
    for v in variants:
        out.append(Target(
            name=f"{scenario.name}/{v.name}", handler=v.handler, import_path=v.import_path,
            input=scenario.sample, inputs=scenario.inputs(), setup=scenario.setup,
            callbacks=scenario.callbacks, targets=scenario.targets,
            expected="fail" if v.buggy else "pass", description=v.bug or scenario.description,
            scenario=scenario, variant=v.name))
    return out


def bundled() -> list[Any]:
    """Every bundled scenario (an import error in one is a usage error naming it)."""
    from chaosdurable.scenarios import catalog

    try:
        return list(catalog.all_scenarios())
    except Exception as exc:  # a broken scenario module: say which
        raise UsageError(f"cannot load the bundled scenarios: {type(exc).__name__}: {exc}") from None


def _user_target(ref: str, options: UserOptions, handler: Callable[..., Any] | None = None) -> Target:
    """A ``module:handler`` target with its input (JSON) or input strategy, setup, callbacks, targets."""
    from chaosdurable.engine.invoker import is_durable_handler
    from chaosdurable.verdict import decode_callbacks

    if options.input is None and options.inputs is None:
        raise UsageError(f"{ref}: give its input, --input JSON (for example --input '{{\"order\": \"o-1\"}}'), or "
                         "an input strategy, --inputs module:strategy (a Hypothesis strategy of JSON inputs)")
    value: Any = None
    if options.input is not None:
        try:
            value = json.loads(options.input)
        except ValueError as exc:
            raise UsageError(f"--input is not JSON ({exc}): {options.input!r}") from None
    strategy = None
    if options.inputs is not None:
        strategy = _load(options.inputs)
        if callable(strategy) and not hasattr(strategy, "example"):
            strategy = strategy()  # a function returning a strategy
        if not hasattr(strategy, "example"):
            raise UsageError(f"--inputs {options.inputs!r} is not a Hypothesis strategy (or a function returning one)")
    answers = None
    if options.callbacks:
        try:
            parsed = json.loads(options.callbacks)
            if not isinstance(parsed, dict):
                raise TypeError(f"got {type(parsed).__name__}")
            answers = decode_callbacks(parsed)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"--callbacks must be a JSON object of callback name -> answer ({exc})") from None
    chained = {}
    for item in options.targets:
        name, sep, target_ref = item.partition("=")
        if not sep or not name or not target_ref:
            raise UsageError(f"--target must be NAME=module:function, got {item!r}")
        chained[name] = _load(target_ref)
    fn = handler if handler is not None else _load(ref)
    if not is_durable_handler(fn):
        from chaosdurable.engine.service import _not_durable_message

        raise UsageError(_not_durable_message(fn))
    return Target(name=ref, handler=fn, import_path=ref, input=value,
                  inputs=strategy, setup=_load(options.setup) if options.setup else None, callbacks=answers,
                  targets=chained or None, description="your handler: any violation fails the run")


def _file_targets(path: str, options: UserOptions) -> list[Target]:
    """Targets from a Python file: its ``SCENARIO``, else its module-level durable handlers."""
    from chaosdurable.engine.invoker import is_durable_handler

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path!r}: no such file")
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # importable by name, so subprocess mode and replay find it too
    module_name = file.stem
    _load(f"{module_name}:__name__")  # imports it, naming the real cause when that fails
    module = sys.modules[module_name]
    if Path(getattr(module, "__file__", "") or "").resolve() != file.resolve():
        raise UsageError(f"{path!r}: importing {module_name!r} finds {module.__file__} instead; rename the file")
    scenario = getattr(module, "SCENARIO", None)
    if scenario is not None:
        return scenario_targets(scenario)
    handlers = [name for name, value in vars(module).items()
                if not name.startswith("_") and callable(value) and is_durable_handler(value)
                and getattr(value, "__module__", module_name) == module_name]
    if not handlers:
        raise UsageError(f"{path!r} defines no SCENARIO and no @durable_execution handler")
    return [_user_target(f"{module_name}:{name}", options, getattr(module, name)) for name in handlers]


def resolve(arguments: Sequence[str], options: UserOptions) -> list[Target]:
    """Every target the arguments name, in order (no argument: every bundled variant)."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if not arguments:
        return [t for scenario in bundled() for t in scenario_targets(scenario)]
    out: list[Target] = []
    for argument in arguments:
        if argument.endswith(".py"):
            out += _file_targets(argument, options)
        elif ":" in argument:
            out.append(_user_target(argument, options))
        else:
            out += _scenario_argument(argument)
    return out


def _scenario_argument(argument: str) -> list[Target]:
    """``scenario`` or ``scenario/variant`` among the bundled ones; unknown names are usage errors."""
    scenarios = bundled()
    name, _, variant = argument.partition("/")
    for scenario in scenarios:
        if scenario.name == name:
            try:
                return scenario_targets(scenario, variant or None)
            except KeyError as exc:
                raise UsageError(str(exc.args[0])) from None
    known = ", ".join(repr(s.name) for s in scenarios) or "none yet"
    raise UsageError(f"{argument!r} is not a bundled scenario (there are: {known}), a file (path.py) or a "
                     "handler (module:handler)")
