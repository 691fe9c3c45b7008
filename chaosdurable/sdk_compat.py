"""The SDK version layer: how each supported ``aws-durable-execution-sdk-python`` exposes the seams
chaosdurable uses. Everything else asks this module; nothing else looks at the SDK's version.

Supported: ``SUPPORTED_RANGE`` (1.7 up to, not including, 4). The seams, by version:

==============  ====================================  ==================================  =======================
seam            1.7.0 - 2.0.1                          2.1.x                               3.x
==============  ====================================  ==================================  =======================
handler         ``PluginExecutor.handle_durable_       ``execution.py``'s ``wrapper``       same as 2.1 (with
                output`` wrapper (``functools.wraps``,                                       ``functools.wraps`` of
                ``__wrapped__`` = execution.py's)                                            the user function)
plugins         plugin *instances* in the executor's   plugin *instances* in the            plugin *factories* in
                ``_plugins`` (cell ``self``)           executor's ``_plugins`` (cell         cell ``configured_plugins``
                                                       ``plugin_executor``)                 (``create_plugin(info)``)
operation type  1.7: none (``type`` derives it from    ``operation_type`` (required)        same as 2.1
                ``sub_type``); 2.0.x: often ``None``
speed-ups       off                                    off                                  on (``engine.speedups``)
==============  ====================================  ==================================  =======================

Only this module imports nothing from the SDK at import time, so ``import chaosdurable`` works on any
installed version; an unsupported one is refused by ``require_supported`` with ``UnsupportedSdkError``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import re
from collections.abc import Callable
from typing import Any

SDK_DISTRIBUTION = "aws-durable-execution-sdk-python"
SDK_PACKAGE = "aws_durable_execution_sdk_python"
#: the versions chaosdurable drives (inclusive lower bound, exclusive upper bound)
MINIMUM: tuple[int, int] = (1, 7)
BELOW: tuple[int, int] = (4, 0)
SUPPORTED_RANGE = f">={MINIMUM[0]}.{MINIMUM[1]},<{BELOW[0]}"


class UnsupportedSdkError(ImportError):
    """The installed SDK is outside ``SUPPORTED_RANGE`` (or is missing)."""


@functools.lru_cache(maxsize=1)
def version_string() -> str:
    """The installed SDK's version string (``"unknown"`` when it cannot be read)."""
    try:
        from aws_durable_execution_sdk_python.__about__ import __version__

        return str(__version__)
    except ImportError:
        pass
    try:
        return importlib.metadata.version(SDK_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def parse(version: str) -> tuple[int, ...]:
    """``"2.0.1"`` -> ``(2, 0, 1)``; pre-release and local suffixes are dropped; unreadable -> ``()``."""
    parts: list[int] = []
    for piece in version.split("."):
        match = re.match(r"\d+", piece)
        if match is None:
            break
        parts.append(int(match.group()))
    return tuple(parts)


def version() -> tuple[int, ...]:
    """The installed SDK's version as integers (``()`` when unknown)."""
    return _parse_cached(version_string())


_parse_cached = functools.lru_cache(maxsize=8)(parse)


def unsupported_reason() -> str | None:
    """Why the installed SDK cannot be driven, or None when it can."""
    found = version()
    if not found:
        return (f"cannot read the version of {SDK_DISTRIBUTION}; chaosdurable supports {SUPPORTED_RANGE}: "
                f"pip install '{SDK_DISTRIBUTION}{SUPPORTED_RANGE}'")
    if found < MINIMUM or found >= BELOW:
        return (f"{SDK_DISTRIBUTION} {version_string()} is not supported; chaosdurable supports {SUPPORTED_RANGE}: "
                f"pip install '{SDK_DISTRIBUTION}{SUPPORTED_RANGE}'")
    return None


def require_supported() -> None:
    """Raise ``UnsupportedSdkError`` naming the supported range unless the installed SDK is in it."""
    reason = unsupported_reason()
    if reason is not None:
        raise UnsupportedSdkError(reason)


# ----------------------------------------------------------------------------------- the handler
def _is_execution_wrapper(fn: Any) -> bool:
    code = getattr(fn, "__code__", None)
    if code is None or code.co_name != "wrapper":
        return False
    return str(code.co_filename).replace("\\", "/").endswith(f"{SDK_PACKAGE}/execution.py")


def _is_output_wrapper(fn: Any) -> bool:
    """1.7 - 2.0.1: ``PluginExecutor.handle_durable_output``'s wrapper around execution.py's."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_name != "wrapper":
        return False
    if not str(code.co_filename).replace("\\", "/").endswith(f"{SDK_PACKAGE}/plugin.py"):
        return False
    return "handle_durable_output" in getattr(code, "co_qualname", "handle_durable_output")


def execution_wrapper(handler: Callable[..., Any]) -> Callable[..., Any] | None:
    """The SDK's ``execution.py`` wrapper that ``@durable_execution`` made, or None if ``handler`` is
    not a durable handler. On 1.7 - 2.0.1 it sits under the plugin executor's output wrapper (its
    ``func`` cell)."""
    if _is_execution_wrapper(handler):
        return handler
    if _is_output_wrapper(handler):
        inner = _cell(handler, "func")
        if _is_execution_wrapper(inner):
            return inner
    return None


def is_durable_handler(handler: Callable[..., Any]) -> bool:
    """True when ``handler`` is what ``@durable_execution`` returns, in any supported SDK version.

    A durable handler is also given the user function's metadata (``normalise_handler``).
    """
    if execution_wrapper(handler) is None:
        return False
    normalise_handler(handler)
    return True


def user_function(handler: Callable[..., Any]) -> Callable[..., Any] | None:
    """The function the user decorated (the execution wrapper's ``func`` cell), or None."""
    found = _cell(execution_wrapper(handler), "func")
    return found if callable(found) else None


def normalise_handler(handler: Callable[..., Any]) -> None:
    """Give a durable handler the user function's ``__module__``, ``__qualname__``, ``__name__``, ``__doc__``
    and ``__wrapped__``, as 3.x's ``functools.wraps`` does; before 2.1 the wrapper reports the SDK's
    ``execution`` module and ``durable_execution.<locals>.wrapper``, which cannot be imported back
    (cold starts, subprocess children and reproductions find a handler by module and name)."""
    func = user_function(handler)
    if func is None or getattr(handler, "__wrapped__", None) is func:
        return
    for attribute in ("__module__", "__qualname__", "__name__", "__doc__"):
        with contextlib.suppress(AttributeError, TypeError):
            setattr(handler, attribute, getattr(func, attribute))
    handler.__wrapped__ = func  # type: ignore[attr-defined]


def handler_origin(handler: Callable[..., Any]) -> tuple[str | None, str]:
    """``(module name, qualified name)`` under which the handler's module holds it: the user function's
    for a durable handler in any version, the handler's own otherwise."""
    target = user_function(handler) or handler
    return getattr(target, "__module__", None), getattr(target, "__qualname__", "")


def _cell(fn: Any, name: str) -> Any:
    code = getattr(fn, "__code__", None)
    closure = getattr(fn, "__closure__", None)
    if code is None or closure is None or name not in code.co_freevars:
        return None
    try:
        return closure[code.co_freevars.index(name)].cell_contents
    except ValueError:  # an empty cell
        return None


# ------------------------------------------------------------------------------ plugin registration
def plugins_are_factories() -> bool:
    """True when the handler's plugin list holds factories (3.x), False when it holds plugin instances."""
    return version() >= (3,)


def plugin_list(handler: Callable[..., Any]) -> list[Any] | None:
    """The list the SDK reads the handler's plugins from at each invocation, or None if not found.

    3.x: the ``configured_plugins`` factories (a ``PluginExecutor`` is built from them per invocation).
    2.1: the decoration-time ``PluginExecutor``'s own ``_plugins`` (instances; a ``[]`` passed in is
    replaced by a new list there, so ``configured_plugins`` is not the list the executor reads).
    1.7 - 2.0.1: the same executor's ``_plugins``, reached from the outer output wrapper's ``self``.
    """
    if plugins_are_factories():
        found = _cell(execution_wrapper(handler), "configured_plugins")
        return found if isinstance(found, list) else None
    executor = _cell(handler, "self") if _is_output_wrapper(handler) else None
    if executor is None:
        executor = _cell(execution_wrapper(handler), "plugin_executor")
    found = getattr(executor, "_plugins", None)
    return found if isinstance(found, list) else None


def plugin_entry(factory: Any) -> Any:
    """What to add to ``plugin_list`` for a 3.x-style ``factory``: the factory itself on 3.x, one plugin
    made by ``factory.create_plugin(None)`` before 3.0 (those versions take instances, and keep no
    per-invocation state in them, so one instance serves every invocation of the run)."""
    return factory if plugins_are_factories() else factory.create_plugin(None)


# -------------------------------------------------------------------------- operation identifiers
def operation_type(identifier: Any) -> str | None:
    """The operation type (``"STEP"``, ``"CONTEXT"``...) of an ``OperationIdentifier``, in any version.

    2.1+: ``operation_type``. 2.0.x: ``operation_type`` may be None, and 1.7 has no such field; there the
    ``type`` property derives it from ``sub_type``. None when neither can be read.
    """
    if identifier is None:
        return None
    kind = getattr(identifier, "operation_type", None)
    if kind is None:
        try:
            kind = identifier.type
        except Exception:  # an unmapped sub_type, or no such property
            return None
    value = getattr(kind, "value", kind)
    return value if isinstance(value, str) else None


def sub_type(identifier: Any) -> str | None:
    """The operation's subtype as a string: 3.x keeps a string, earlier versions an ``OperationSubType``."""
    value = getattr(identifier, "sub_type", None)
    value = getattr(value, "value", value)
    return value if isinstance(value, str) else None


def service_client_of_call(args: Any) -> Any:
    """The service client of the durable context among a user function's call arguments, or None.

    Before 2.1 the SDK submits the user's handler straight to a thread pool
    (``executor.submit(func, event, durable_context)``), so no SDK frame holding the invocation's
    input is on the stack of handler code outside steps; the context passed in still holds the
    execution state, and the state our client.
    """
    for arg in args if isinstance(args, tuple) else ():
        state = getattr(arg, "state", None)
        client = getattr(state, "_service_client", None)
        if client is not None:
            return client
    return None


def sdk_sub_type(value: str | None) -> Any:
    """A subtype as the installed SDK's ``Operation.sub_type`` holds it: the string on 3.x (custom
    subtypes allowed), an ``OperationSubType`` member before (those versions read ``.value``)."""
    if value is None or version() >= (3,):
        return value
    from aws_durable_execution_sdk_python.lambda_service import OperationSubType

    try:
        return OperationSubType(value)
    except ValueError:
        return value


# ------------------------------------------------------------------------------------ speed-ups
def speedups_unsupported_reason() -> str | None:
    """Why ``engine.speedups`` must stay off for this SDK, or None when they may be installed.

    Speed-ups patch SDK internals measured only on 3.x; every other version runs the SDK as shipped.
    """
    found = version()
    if found[:1] != (3,):
        return f"SDK {version_string()} is not 3.x"
    return None


# --------------------------------------------------------------------------------- user code
#: top-level packages that are never the user's code, wherever they are installed
_NOT_USER_TOP = frozenset({SDK_PACKAGE, "aws_durable_execution_sdk_python_testing", "chaosdurable"})


@functools.lru_cache(maxsize=1)
def library_packages() -> frozenset[str]:
    """Top-level module names that are never user code: chaosdurable, the SDK and everything the SDK
    requires (boto3, botocore...), found through installed metadata, so a vendored or ``--target``
    install counts as library code as a site-packages one does."""
    names = set(_NOT_USER_TOP)
    try:
        by_dist: dict[str, list[str]] = {}
        for top, dists in importlib.metadata.packages_distributions().items():
            for dist in dists:
                by_dist.setdefault(_norm(dist), []).append(top)
        pending, seen = [SDK_DISTRIBUTION], set()
        while pending:
            dist = _norm(pending.pop())
            if dist in seen:
                continue
            seen.add(dist)
            names.update(by_dist.get(dist, ()))
            try:
                requires = importlib.metadata.requires(dist) or []
            except importlib.metadata.PackageNotFoundError:
                continue
            for requirement in requires:
                if "extra ==" in requirement:
                    continue
                match = re.match(r"[A-Za-z0-9._-]+", requirement)
                if match:
                    pending.append(match.group())
    except Exception:  # metadata unreadable: the fixed names still hold
        pass
    return frozenset(names)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def is_library_module(module: str | None) -> bool:
    """True when the module named ``module`` belongs to chaosdurable, the SDK or the SDK's requirements."""
    if not module:
        return False
    return module.partition(".")[0] in library_packages()
