"""``check()``'s options as values: the keyword shorthands users write, resolved into a
``Workload`` (what runs), a ``Backend`` (where), ``Limits`` (how far) and ``Guards`` (what it may
reach), the values every backend takes (``chaosdurable.backends.base``).

The flat keywords (``setup=``, ``seed=``, ``hang_timeout=``...) stay as shorthands so existing
calls keep working; ``mode="subprocess"`` still works and says to write
``backend=Subprocess()`` instead. A keyword that is none of these is refused with the closest
known name.
"""

from __future__ import annotations

import dataclasses
import difflib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chaosdurable.backends import Backend, Guards, Limits, Workload, from_name
from chaosdurable.backends.engine import InProcess, Subprocess
from chaosdurable.history.http import check_allow_hosts, check_mock

WORKLOAD_KEYS = ("setup", "callbacks", "targets", "import_path")
LIMIT_KEYS = ("seed", "max_invocations", "hang_timeout", "execution_timeout", "knobs")
GUARD_KEYS = ("tripwire", "tripwire_allow", "allow_real_aws", "allow_hosts", "http")
ENGINE_KEYS = ("faithful", "threaded_branches", "virtual_clock")


@dataclass(frozen=True)
class Resolved:
    """The four values one ``check()`` runs with."""

    workload: Workload
    backend: Backend
    limits: Limits
    guards: Guards

    @property
    def mode(self) -> str:
        """The backend's name (what saved failures and replay commands call the mode)."""
        return self.backend.name


def resolve(handler: Callable[..., Any] | Workload, backend: Backend | str | None, limits: Limits | None,
            guards: Guards | None, options: Mapping[str, Any], *, caller: str = "check") -> Resolved:
    """Combine the values given with the keyword shorthands in ``options``.

    A shorthand overrides the matching field of the value given (or of the default value).
    Raises TypeError for an unknown keyword (naming the closest known one) and ValueError for a
    backend name that does not exist.
    """
    known = (*WORKLOAD_KEYS, *LIMIT_KEYS, *GUARD_KEYS, *ENGINE_KEYS, "mode")
    unknown = [k for k in options if k not in known]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, [*known, "backend", "limits", "guards", "world", "checkers",
                                                "reference", "payload"], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TypeError(f"{caller}() got an unexpected keyword argument {key!r}{hint}")
    workload = handler if isinstance(handler, Workload) else Workload(handler)
    workload_options = {k: options[k] for k in WORKLOAD_KEYS if k in options}
    if workload_options.get("setup") is not None:
        workload_options["setup"] = _function(workload_options["setup"], "setup", caller)
    if workload_options.get("targets") is not None:
        targets = workload_options["targets"]
        if not isinstance(targets, Mapping):
            raise TypeError(f"{caller}(targets=...) takes a dict of function name -> handler, e.g. "
                            f"targets={{'issue-card': issue_card}}; got {type(targets).__name__} {targets!r:.80}")
        workload_options["targets"] = {name: _function(fn, f"targets[{name!r}]", caller)
                                       for name, fn in targets.items()}
    if workload_options.get("callbacks") is not None:
        from chaosdurable.events import normalize

        # a list, an EventStream or a function answers every callback: {"*": it}
        workload_options["callbacks"] = normalize(workload_options["callbacks"], caller)
    workload = dataclasses.replace(workload, **workload_options)
    limits = dataclasses.replace(limits or Limits(), **{k: options[k] for k in LIMIT_KEYS if k in options})
    guard_options = {k: options[k] for k in GUARD_KEYS if k in options}
    if "allow_hosts" in guard_options:
        guard_options["allow_hosts"] = check_allow_hosts(guard_options["allow_hosts"])
    if "tripwire" in guard_options and guard_options["tripwire"] not in (True, False, "strict"):
        raise ValueError(f"{caller}(tripwire={guard_options['tripwire']!r}): use True (clock, randomness, uuid), "
                         "'strict' (also environment reads) or False")
    if "tripwire_allow" in guard_options:
        allow = guard_options["tripwire_allow"]
        if isinstance(allow, str):
            raise ValueError(f"{caller}(tripwire_allow={allow!r}): give a list of calls or source patterns, "
                             f"e.g. [{allow!r}]")
        guard_options["tripwire_allow"] = tuple(allow)
    if "http" in guard_options:
        guard_options["http"] = check_mock(guard_options["http"])
    guards = dataclasses.replace(guards or Guards(), **guard_options)
    return Resolved(workload, _backend(backend, options, caller), limits, guards)


def _function(value: Any, what: str, caller: str) -> Callable[..., Any]:
    """``value`` as a function: a callable as it is, a ``"module:function"`` string imported (as on the
    command line); anything else is a TypeError naming what was given and the spelling to use."""
    if isinstance(value, str):
        from chaosdurable.cli import UsageError, _load

        if ":" not in value:
            raise TypeError(f"{caller}({what}={value!r}) takes a function, or 'module:function' naming one")
        try:
            loaded = _load(value)
        except UsageError as exc:
            raise ValueError(f"{caller}({what}={value!r}): {exc}") from None
        if not callable(loaded):
            raise TypeError(f"{caller}({what}={value!r}) names a {type(loaded).__name__}, not a function")
        return loaded
    if not callable(value):
        raise TypeError(f"{caller}({what}=...) takes a function (or 'module:function' naming one), got "
                        f"{type(value).__name__} {value!r:.80}")
    return value


def _backend(backend: Backend | str | None, options: Mapping[str, Any], caller: str) -> Backend:
    engine_options = {k: bool(options[k]) for k in ENGINE_KEYS if k in options}
    mode = options.get("mode")
    if mode is not None:
        if backend is not None:
            raise TypeError(f"{caller}() takes backend= or mode=, not both (mode= is the older spelling)")
        if mode not in ("inprocess", "subprocess"):
            raise ValueError(f"{caller}(mode={mode!r}): mode is 'inprocess' or 'subprocess' "
                             "(or pass backend=InProcess(), Subprocess() or an Aws backend)")
        if mode == "subprocess":
            warnings.warn(f"{caller}(mode='subprocess') is the older spelling of "
                          f"{caller}(backend=chaosdurable.backends.Subprocess())", DeprecationWarning, stacklevel=4)
        backend = mode
    if backend is None or isinstance(backend, str):
        chosen = from_name(backend or "inprocess", **engine_options) if (backend or "inprocess") in (
            "inprocess", "subprocess") else from_name(backend or "inprocess")
        return chosen
    if engine_options and isinstance(backend, InProcess | Subprocess):
        return dataclasses.replace(backend, **engine_options)  # type: ignore[arg-type]
    if engine_options:
        raise TypeError(f"{caller}(): {', '.join(engine_options)} apply to the engine backends only, "
                        f"not to the {backend.name!r} backend")
    return backend
