"""The ``chaosdurable`` command.

- ``chaosdurable demo``: a short showcase: a planted bug of a bundled scenario is found, shrunk and
  explained, with its replay command.
- ``chaosdurable execute module:handler --input JSON``: run any durable handler to completion.
- ``chaosdurable check module:handler --input JSON --schedule FILE_OR_JSON``: run it fault-free
  and under the schedule, print the verdict; exit 1 on violations.
- ``chaosdurable replay FILE``: rerun a failure saved by the pytest plugin.
- ``chaosdurable conformance``: check that the pinned AWS conformance suite is available.

Exit codes (``check`` and ``replay``):

  0  no violation: the fault-free run succeeded and the schedule's faults fired (or there were none)
  1  violations found (or, for ``run``/``demo``, the execution did not succeed)
  2  usage error: a missing file, a module that cannot be imported, an unknown handler, callback or
     fault kind, malformed JSON
  3  nothing was tested: the fault-free run did not succeed (``--allow-failed-execution`` when that is
     expected), or no fault of the schedule was reached (``--allow-not-reached`` to accept that)
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from chaosdurable.backends import InProcess, Subprocess, from_name, from_spec
from chaosdurable.checks.base import plural
from chaosdurable.engine.errors import ChaosDurableError
from chaosdurable.engine.runner import DurableRunner, ExecutionResult
from chaosdurable.history.http import network_hint
from chaosdurable.history.ledger import RealAwsRefused

#: exit codes of ``check`` and ``replay`` (documented in the module docstring and ``--help``)
EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_NOTHING_TESTED = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake on the command line (exit 2); the message says what is wrong and how to fix it."""


class NothingTested(Exception):
    """The run tested nothing (exit 3): the fault-free run failed, or no fault was reached."""


def _history_table(result: ExecutionResult, title: str, width: int = 120) -> Table:
    """The history as a table; the details column is left out on terminals narrower than 100 columns."""
    table = Table(title=title, show_lines=False)
    for column in ("#", "virtual time", "event", "name"):
        table.add_column(column, no_wrap=True)
    details_shown = width >= 100
    if details_shown:
        table.add_column("details", no_wrap=True, overflow="ellipsis", max_width=60)
    start = result.history[0]["EventTimestamp"]
    for event in result.history:
        offset = event["EventTimestamp"] - start
        details = {k: v for k, v in event.items() if k.endswith("Details")}
        text = "" if event["EventType"] == "InvocationCompleted" else json.dumps(
            next(iter(details.values()), {}), default=str)
        cells = [str(event["EventId"]), f"+{offset}", event["EventType"], event.get("Name") or ""]
        table.add_row(*cells, *([text] if details_shown else []))
    return table


def _is_path(module_part: str) -> bool:
    return module_part.endswith(".py") or "/" in module_part or os.sep in module_part


def normalize_ref(ref: str) -> str:
    """``ref`` as ``module:attribute``: ``path/to/file.py:attr`` becomes the dotted module under the
    current folder (``path.to.file:attr``), or, for a file elsewhere, its stem with its folder put on
    ``sys.path`` (as ``chaosdurable run path.py`` does). Any other ``ref`` is returned as it is."""
    from pathlib import Path

    module_part, sep, attr = ref.rpartition(":") if ref.count(":") > 1 else ref.partition(":")
    if not _is_path(module_part):
        return ref
    file = Path(module_part)
    if file.suffix != ".py":
        file = file.with_suffix(".py") if file.with_suffix(".py").is_file() else file
    dotted = ".".join(p for p in Path(module_part).with_suffix("").parts if p not in (".", ""))
    if not file.is_file():
        raise UsageError(f"cannot import {module_part!r}: no such file (from {os.getcwd()}); give the handler as "
                         f"path/to/file.py:function or as module:function, e.g. {dotted}:{attr or 'handler'}")
    resolved = file.resolve()
    try:
        relative = resolved.with_suffix("").relative_to(Path.cwd().resolve())
    except ValueError:
        relative = None
    if relative is not None and all(part.isidentifier() for part in relative.parts):
        return f"{'.'.join(relative.parts)}{sep}{attr}"
    if not resolved.stem.isidentifier():
        raise UsageError(f"cannot import {module_part!r}: {resolved.stem!r} is not a Python module name; rename the "
                         "file (letters, digits and _)")
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # importable by name, so subprocess mode (children get sys.path) finds it too
    return f"{resolved.stem}{sep}{attr}"


def _close_module(name: str) -> str | None:
    """The importable module name closest to ``name`` (its package's modules, or those in this folder)."""
    import difflib
    import pkgutil

    package, _, leaf = name.rpartition(".")
    try:
        where = importlib.import_module(package).__path__ if package else [os.getcwd()]
    except (ImportError, AttributeError):
        return None
    names = [m.name for m in pkgutil.iter_modules(list(where))]
    close = difflib.get_close_matches(leaf, names, n=1)
    return f"{package}.{close[0]}" if close and package else (close[0] if close else None)


def _load(ref: str) -> Any:
    ref = normalize_ref(ref)
    module_name, _, attr = ref.partition(":")
    if not attr:
        raise UsageError(f"handler must be given as module:function or path/to/file.py:function, got {ref!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`, find the user's modules from here
    try:
        target: Any = importlib.import_module(module_name)
    except SyntaxError as exc:
        where = f"{exc.filename}, line {exc.lineno}" if exc.filename else "its source"
        raise UsageError(f"cannot import {module_name!r}: syntax error in {where}: {exc.msg}"
                         + (f"\n    {exc.text.strip()}" if exc.text else "")) from None
    except ImportError as exc:
        missing = getattr(exc, "name", None)
        if not isinstance(exc, ModuleNotFoundError):  # e.g. "cannot import name 'x' from 'y'"
            raise UsageError(f"cannot import {module_name!r}: {exc}") from None
        if missing and missing != module_name and not module_name.startswith(missing + "."):
            # the user's module was found; something it imports is missing
            raise UsageError(f"cannot import {module_name!r}: it imports {missing!r}, which is not installed "
                             f"({exc}); install it in this environment") from None
        hint = _close_module(module_name)
        raise UsageError(f"cannot import {module_name!r}: no such module here ({os.getcwd()})"
                         + (f" (did you mean {hint!r}?)" if hint else "")
                         + "; check the spelling, run from the folder that holds it, or put that folder on "
                         "PYTHONPATH") from None
    except Exception as exc:  # the module's own top-level code failed
        import traceback

        frames = traceback.extract_tb(exc.__traceback__)
        own = module_name.replace(".", os.sep)
        # the deepest frame in the user's own module (not inside the stdlib code it called), else the deepest
        frame = next((f for f in reversed(frames) if own in f.filename.removesuffix(".py")), frames[-1])
        raise UsageError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc} "
                         f"(at {frame.filename}, line {frame.lineno})") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            known = sorted(n for n in dir(target) if not n.startswith("_") and n.isidentifier())[:20]
            raise UsageError(f"{module_name!r} has no {attr!r} (no attribute {part!r}); names it has: {known}")
        target = getattr(target, part)
    return target


def demo(console: Console, variant: str | None = None) -> int:
    """A short showcase: one planted bug of a bundled scenario found, shrunk and explained
    (``chaosdurable.search.showcase``)."""
    from chaosdurable.search.showcase import demo as showcase

    return showcase(console, variant)


def run(console: Console, ref: str, payload: str, mode: str, faithful: bool) -> int:
    """Run one handler to completion and print its history."""
    ref = normalize_ref(ref)
    runner = DurableRunner(_load(ref), mode=mode, faithful=faithful, import_path=ref)  # type: ignore[arg-type]
    result = runner.run(payload=payload)
    console.print(_history_table(result, ref))
    console.print(f"status [bold]{result.status}[/bold] result {result.result_payload} error {result.error}")
    for line in result.diagnostics:
        console.print(f"[yellow]note:[/yellow] {line}")
    return 0 if result.status == "SUCCEEDED" else 1


def _closest(name: str, seen: list[str]) -> str:
    """``seen``, closest to ``name`` first (difflib), as words for an error message."""
    import difflib

    close = difflib.get_close_matches(name, seen, n=3, cutoff=0.5)
    shown = close + [s for s in seen if s not in close][:max(0, 8 - len(close))]
    return (f"did you mean {close[0]!r}? " if close else "") + f"seen: {shown or 'none'}"


def _unreached_reason(verdict: Any) -> str:
    """Why none of the schedule's faults fired, with the closest operation and effect names the run had."""
    from chaosdurable.faults.schedule import describe_operation

    ops = [op for op in verdict.reference.operations + verdict.chaotic.operations if op["Type"] != "EXECUTION"]
    op_names = list(dict.fromkeys(op.get("Name") or describe_operation(op["Id"], ops) for op in ops))
    effects = list(dict.fromkeys(e.name for e in verdict.reference.effects + verdict.chaotic.effects))
    lines = []
    for fault in verdict.schedule:
        op, effect_name = getattr(fault, "op", None), getattr(fault, "effect", None)
        if effect_name:
            lines.append(f"  - {fault.describe()}: effect {effect_name!r}; {_closest(effect_name, effects)}")
        elif op:
            lines.append(f"  - {fault.describe()}: operation {op!r}; {_closest(op, op_names)}")
        else:
            ran = plural(len(verdict.chaotic.invocations), "invocation")
            lines.append(f"  - {fault.describe()}: the run had {ran}")
    return "\n".join(lines)


def _callback_matches(key: str, name: str | None) -> bool:
    """The rule ``check`` answers callbacks by: ``*``, the exact name, or the name followed by a space."""
    from chaosdurable.run import _configured_key

    return _configured_key(name, {key: None}) is not None


def _unmatched_callbacks(verdict: Any, answers: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """The ``--callbacks`` keys that answered no callback of the run, and the callbacks the run had, by
    the names the handler gave them (``wait_for_callback(name="approval")`` is ``approval``)."""
    from chaosdurable.engine.runner import callback_label

    names = {str(op.get("Name")) for op in verdict.reference.operations + verdict.chaotic.operations
             if op.get("Type") == "CALLBACK" and op.get("Name")}
    labels = sorted({callback_label(name) or name for name in names})
    unmatched = [key for key in (answers or {}) if not any(_callback_matches(key, name) for name in names)]
    return unmatched, labels


def _unmatched_message(unmatched: list[str], seen: list[str]) -> str:
    import difflib

    close = {key: difflib.get_close_matches(key, seen, n=1, cutoff=0.5) for key in unmatched}
    hints = "".join(f" did you mean {found[0]!r} for {key!r}?" for key, found in close.items() if found)
    return (f"--callbacks names {unmatched} never matched a callback of the run; callbacks seen: {seen or 'none'}"
            f".{hints} A key is the name the handler gives the callback (wait_for_callback(..., name=...) or "
            "create_callback(name=...)), or '*' for any")


def check_command(console: Console, ref: str, payload: str, schedule_text: str | None, mode: str,
                  setup: str | None, targets: list[str] | None = None, callbacks: str | None = None,
                  threaded_branches: bool = False, saved_violations: list[str] | None = None,
                  allow_not_reached: bool = False, allow_failed_execution: bool = False,
                  saved_spec: dict[str, Any] | None = None, save_histories: str | None = None,
                  faithful: bool = False, process_per: str = "sandbox", http: str | None = None,
                  allow_hosts: list[str] | None = None, real_clock: bool = False) -> int:
    """Run ``check``, print the verdict, and return the exit code (see the module docstring).

    Raises ``UsageError`` for a mistake on the command line (a callback name that never matched
    included) and ``NothingTested`` when the fault-free run failed or no fault was reached.
    """
    from pathlib import Path

    from chaosdurable.faults.schedule import FaultSchedule
    from chaosdurable.verdict import check, decode_callbacks

    schedule = FaultSchedule()
    if schedule_text:
        path = Path(schedule_text)
        inline = schedule_text.lstrip().startswith(("{", "["))
        if not inline and not path.is_file():
            raise UsageError(f"--schedule {schedule_text!r}: no such file (and not JSON text either); pass a JSON "
                             'file, or the schedule itself: \'{"faults": [{"kind": "crash_at_checkpoint"}]}\'')
        text = schedule_text if inline else path.read_text()
        schedule = FaultSchedule.from_json(text)
    target_fns = {}
    for item in targets or []:
        name, sep, target_ref = item.partition("=")
        if not sep or not name or not target_ref:
            raise UsageError(f"--target must be NAME=module:function, got {item!r}")
        target_fns[name] = _load(target_ref)
    try:
        parsed = json.loads(callbacks) if callbacks else None
        if parsed is not None and not isinstance(parsed, dict):
            raise TypeError(f"got {type(parsed).__name__}")
        answers = decode_callbacks(parsed)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--callbacks must be a JSON object of callback name -> answer ({exc})") from None
    mock = _http_mock(http) if http else None
    if mock is None and (saved_spec or {}).get("http_routes") is not None:
        from chaosdurable.history.http_registry import rebuild

        mock = rebuild(saved_spec["http_routes"])  # type: ignore[index]  # the routes the failure was found with
    if mock is None and (saved_spec or {}).get("http_mock"):
        raise UsageError("this failure was found with an HTTP mock (http=...), which a saved file cannot hold: pass "
                         "--http module:attribute, a responses.RequestsMock or a function that returns one, so the "
                         "handler's requests are answered as they were (without it they are refused)")
    hosts = list(allow_hosts or (saved_spec or {}).get("allow_hosts") or [])
    backend = from_spec(saved_spec["backend"]) if saved_spec and saved_spec.get("backend") else from_name(mode)
    if saved_spec and saved_spec.get("virtual_clock") is False and isinstance(backend, InProcess | Subprocess):
        backend = dataclasses.replace(backend, virtual_clock=False)  # saved before the virtual clock was the default
    if real_clock and isinstance(backend, InProcess | Subprocess):
        backend = dataclasses.replace(backend, virtual_clock=False)
    if threaded_branches and isinstance(backend, InProcess | Subprocess):
        backend = dataclasses.replace(backend, threaded_branches=True)
    if faithful and isinstance(backend, InProcess | Subprocess):
        backend = dataclasses.replace(backend, faithful=True)
    if process_per != "sandbox" and isinstance(backend, Subprocess):
        backend = dataclasses.replace(backend, process_per=process_per)  # type: ignore[arg-type]
    ref = normalize_ref(ref)
    if (saved_spec or {}).get("warm_up"):
        # the failure was found with module state that earlier executions had left in the process (a
        # warm sandbox): run the handler once, fault-free, first, as the property's probe did
        console.print("note: as when this failure was saved, the handler runs once without faults first, so that "
                      "the runs start with the module state an earlier execution leaves (a warm sandbox)",
                      markup=False, highlight=False, soft_wrap=True)
        check(_load(ref), payload=payload, schedule=FaultSchedule(), backend=backend,
              setup=_load(setup) if setup else None, targets=target_fns or None, callbacks=answers,
              import_path=ref, checkers=[])
    verdict = check(_load(ref), payload=payload, schedule=schedule, backend=backend,
                    setup=_load(setup) if setup else None, targets=target_fns or None, callbacks=answers,
                    import_path=ref, save_histories=save_histories, http=mock, allow_hosts=hosts)
    reference = verdict.reference
    unmatched, seen_callbacks = _unmatched_callbacks(verdict, answers)
    if unmatched and seen_callbacks:
        # the run reached its callbacks and a key answered none: a misnamed key (whatever the run did after
        # the default answer it got instead is no verdict)
        raise UsageError(_unmatched_message(unmatched, seen_callbacks))
    if reference.status != "SUCCEEDED" and not allow_failed_execution and verdict.violations:
        # the fault-free run failed, and a checker says why (the SDK's own replay check found the handler
        # non-deterministic): that is the finding, as `given` and `run` report it, not a run that tested nothing
        _print_details(console, verdict, None, saved_violations)
        return EXIT_VIOLATIONS
    if reference.status != "SUCCEEDED" and not allow_failed_execution:
        from chaosdurable.run import DEFAULTED_MARK

        error = reference.error or {}
        status = "STUCK" if reference.stuck else reference.status
        why = reference.stuck or (f"{error.get('ErrorType')}: {error.get('ErrorMessage')}" if error else "no error")
        _print_details(console, verdict, f"nothing was tested: the fault-free run of {ref} ended {status}; what "
                       "ran (not a verdict):", saved_violations)
        hints = [note for note in reference.diagnostics if DEFAULTED_MARK in note]
        asks_callbacks = bool(hints or unmatched)
        offline = network_hint(why, hosts)
        if offline:
            hints.append(offline)
        if unmatched:
            hints.append(_unmatched_message(unmatched, seen_callbacks))
        raise NothingTested(
            f"nothing was tested: the fault-free run of {ref} on input {payload} ended {status} ({why}). Chaos is "
            "judged against the fault-free run; check --input (it defaults to null)"
            + (", --callbacks" if asks_callbacks else "") + ", or pass --allow-failed-execution if failing is expected."
            + "".join(f"\n  - {hint}" for hint in hints))
    if unmatched:
        raise UsageError(_unmatched_message(unmatched, seen_callbacks))
    if len(schedule) and not verdict.fired and not allow_not_reached:
        which = ("the schedule's one fault was not" if len(schedule) == 1
                 else f"none of the schedule's {len(schedule)} faults was")
        message = (f"nothing was tested: {which} reached (a typo in an "
                   f"operation or effect name?)\n{_unreached_reason(verdict)}\npass --allow-not-reached to accept a "
                   "schedule that does not fire")
        if not verdict.violations:
            _print_details(console, verdict, f"nothing was tested: no fault of the schedule was reached in {ref}; "
                           "what ran (not a verdict):", saved_violations)
            raise NothingTested(message)
        _print_details(console, verdict, None, saved_violations)
        console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    else:
        _print_details(console, verdict, None, saved_violations)
    assertion = (saved_spec or {}).get("user_assertion")
    if isinstance(assertion, dict) and not verdict.violations:
        return _recheck_user_assertion(console, verdict, assertion)
    return EXIT_VIOLATIONS if verdict.violations else EXIT_OK


def _print_details(console: Console, verdict: Any, headline: str | None,
                   saved_violations: list[str] | None) -> None:
    """The verdict's report (under ``headline`` instead of its own first line when given)."""
    # soft_wrap: the report holds a paste-able Python snippet and JSON; hard wrapping would break them
    console.print(verdict.report(headline), markup=False, highlight=False, soft_wrap=True)
    if saved_violations and not verdict.violations:
        had = plural(len(saved_violations), "violation")
        console.print(f"note: the saved failure had {had} and this replay found none. "
                      "If the handler was fixed, delete the saved file; otherwise the failure depended on something "
                      "the file does not record (module state, the machine, real time).", markup=False,
                      highlight=False, soft_wrap=True)


def _user_test(assertion: dict[str, Any]) -> Any:
    """The undecorated test function a user-assertion failure names, or None if it cannot be found."""
    import importlib.util

    function = str(assertion.get("function") or "")
    module_name, _, qualname = function.partition(":")
    candidates: list[Any] = []
    try:
        candidates.append(_load(function))
    except UsageError:
        file = assertion.get("file")
        if file and os.path.isfile(file):
            spec = importlib.util.spec_from_file_location(f"_chaosdurable_replay_{module_name}", file)
            if spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                try:
                    spec.loader.exec_module(module)
                except Exception:
                    return None
                target: Any = module
                for part in qualname.split("."):
                    target = getattr(target, part, None)
                candidates.append(target)
    for found in candidates:
        test = getattr(found, "_chaosdurable_invariant", None)
        if callable(test):
            return test
    return None


def _recheck_user_assertion(console: Console, verdict: Any, assertion: dict[str, Any]) -> int:
    """Re-run the user's own test function on the replayed verdict: 1 if it fails again, 0 if it passes.

    Raises ``NothingTested`` when it cannot be re-run (not importable, or it needs other fixtures);
    the message gives the pytest command that re-checks it.
    """
    import inspect

    nodeid = assertion.get("test", "?")
    console.print(f"the saved failure was the test's own assertion in {nodeid}, not a built-in checker:\n  "
                  f"{assertion.get('error')}" + (f"\n  at {assertion['where']}" if assertion.get("where") else ""),
                  markup=False, highlight=False, soft_wrap=True)
    rerun = f"python -m pytest '{nodeid}'"
    test = _user_test(assertion)
    if test is None:
        raise NothingTested(f"replay cannot re-run the test function {assertion.get('function')!r} (it cannot be "
                            f"imported from here); the run itself replayed cleanly. Re-check the assertion with: "
                            f"{rerun}")
    needs = [p.name for p in inspect.signature(test).parameters.values()
             if p.name != "verdict" and p.default is inspect.Parameter.empty
             and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    if needs:
        raise NothingTested(f"replay cannot re-run {nodeid}: it takes pytest fixtures {needs}; the run itself "
                            f"replayed cleanly. Re-check the assertion with: {rerun}")
    try:
        test(verdict=verdict)
    except Exception as exc:
        console.print(f"your assertion fails again on this replay: {type(exc).__name__}: {exc}", markup=False,
                      highlight=False, soft_wrap=True)
        return EXIT_VIOLATIONS
    console.print("note: your assertion passes on this replay; it failed when the file was saved. If the test or the "
                  "handler was fixed, delete the saved file; otherwise it depended on something the file does not "
                  "record (module state, the machine, real time).", markup=False, highlight=False,
                  soft_wrap=True)
    return EXIT_OK


def _http_mock(ref: str) -> Any:
    """The ``responses.RequestsMock`` that ``--http module:attribute`` names (the attribute, or what calling it
    returns)."""
    import responses

    found = _load(ref)
    mock = found() if callable(found) and not isinstance(found, responses.RequestsMock) else found
    if not isinstance(mock, responses.RequestsMock):
        raise UsageError(f"--http {ref}: expected a responses.RequestsMock or a function that returns one, got "
                         f"{type(mock).__name__}")
    return mock


def replay_command(console: Console, path: str, backend: str | None = None, http: str | None = None) -> int:
    """Rerun a saved failure (written by the pytest plugin or ``Verdict.save``); ``backend`` ("inprocess" or
    "subprocess") runs it there instead of where it was found, to tell a process-dependent bug apart."""
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path!r}: no such saved failure; they are under .chaosdurable/failures/")
    try:
        spec = json.loads(file.read_text())
        spec["handler"], spec["payload"], spec["schedule"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path!r} is not a saved failure (written by the pytest plugin or Verdict.save): "
                         f"{exc!r}") from None
    if backend is not None:
        spec = {**spec, "mode": backend, "backend": None}
    schedule = json.dumps(spec["schedule"])
    targets = [f"{name}={ref}" for name, ref in (spec.get("targets") or {}).items()]
    callbacks = json.dumps(spec["callbacks"]) if spec.get("callbacks") else None
    return check_command(console, spec["handler"], spec["payload"], schedule, spec.get("mode", "inprocess"),
                         spec.get("setup"), targets, callbacks, bool(spec.get("threaded_branches")),
                         saved_violations=spec.get("violations"),
                         allow_failed_execution=bool(spec.get("allow_failed_execution")), saved_spec=spec,
                         http=http)


#: Subcommands that live in modules of their own. Each module has ``register(subparsers)``, which adds
#: its parser and sets ``command_main=function(args, console) -> exit code`` as a default.
COMMAND_MODULES: tuple[str, ...] = ("chaosdurable.replay.command", "chaosdurable.search.command")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``chaosdurable`` console script."""
    parser = argparse.ArgumentParser(prog="chaosdurable", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="a short showcase: a planted bug found, shrunk and explained")
    p_demo.add_argument("variant", nargs="?", help="scenario/variant of a buggy bundled variant (default: the first)")
    p_run = sub.add_parser("execute", help="run a durable handler to completion, fault-free, and show its history")
    p_run.add_argument("handler", help="module:function (or path/to/file.py:function) of a @durable_execution handler")
    p_run.add_argument("--input", default="null", help="the execution input as JSON text")
    p_run.add_argument("--mode", choices=["inprocess", "subprocess"], default="inprocess")
    p_run.add_argument("--faithful", action="store_true")
    p_check = sub.add_parser("check", help="run a handler fault-free and under a fault schedule; print the verdict")
    p_check.add_argument("handler",
                         help="module:function (or path/to/file.py:function) of a @durable_execution handler")
    p_check.add_argument("--input", default="null", help="the execution input as JSON text")
    p_check.add_argument("--schedule", help="a fault schedule: a JSON file, or JSON text")
    p_check.add_argument("--setup", help="module:function that provisions the moto world")
    p_check.add_argument("--backend", "--mode", dest="mode", choices=["inprocess", "subprocess"], default="inprocess",
                         help="where the handler runs (--mode is the older spelling)")
    p_check.add_argument("--target", action="append", metavar="NAME=module:function",
                         help="a chained-invoke target (repeatable)")
    p_check.add_argument("--callbacks", metavar="JSON",
                         help='callback answers by name: {"approval": {"ok": true}}; an object '
                              '{"__answer__": {"result": ..., "failure": ..., "delay": ...}} spells out an Answer, '
                              '{"__in_order__": [...]} answers in turn, {"__event_stream__": {"__events__": [...]}} '
                              'is an at-least-once event source, {"__function__": "module:function"} a function')
    p_check.add_argument("--faithful", action="store_true",
                         help="run the SDK exactly as shipped: no speed-ups, branches on threads of their own")
    p_check.add_argument("--real-clock", action="store_true",
                         help="let the handler read the real wall clock (by default time.time(), datetime.now()... "
                              "read the virtual clock, so a verdict never depends on when it ran)")
    p_check.add_argument("--process-per", choices=["sandbox", "invocation"], default="sandbox",
                         help="subprocess mode: a process per emulated Lambda sandbox (warm invocations share it; the "
                              "default) or a new process for every invocation")
    p_check.add_argument("--threaded-branches", action="store_true",
                         help="run map/parallel branches on threads of their own")
    p_check.add_argument("--save-histories", metavar="DIR",
                         help="write both runs' histories to DIR for chaosdurable replay-history")
    p_check.add_argument("--http", metavar="MODULE:ATTR",
                         help="a responses.RequestsMock (or a function returning one) that answers the handler's HTTP "
                              "requests; without it they are refused")
    p_check.add_argument("--allow-host", action="append", dest="allow_hosts", metavar="HOST",
                         help="a host (pattern) HTTP requests may reach for real (repeatable)")
    p_check.add_argument("--allow-not-reached", action="store_true",
                         help="accept a schedule none of whose faults fires (by default that exits 3)")
    p_check.add_argument("--allow-failed-execution", action="store_true",
                         help="judge chaos even when the fault-free run fails (by default that exits 3)")
    p_replay = sub.add_parser("replay", help="rerun a saved failure (.chaosdurable/failures/*.json)")
    p_replay.add_argument("file", help="the saved failure")
    p_replay.add_argument("--http", metavar="MODULE:ATTR",
                          help="the responses.RequestsMock (or a function returning one) the failure was found with")
    p_replay.add_argument("--backend", choices=["inprocess", "subprocess"], default=None,
                          help="run it in this process or in subprocesses instead of where it was found")
    sub.add_parser("conformance", help="fetch and verify the pinned AWS conformance suite")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    args = parser.parse_args(argv)
    console = Console()
    try:
        if getattr(args, "command_main", None) is not None:
            return int(args.command_main(args, console))
        if args.command == "demo":
            return demo(console, args.variant)
        if args.command == "execute":
            return run(console, args.handler, args.input, args.mode, args.faithful)
        if args.command == "replay":
            return replay_command(console, args.file, args.backend, args.http)
        if args.command == "check":
            return check_command(console, args.handler, args.input, args.schedule, args.mode, args.setup,
                                 args.target, args.callbacks, args.threaded_branches,
                                 allow_not_reached=args.allow_not_reached,
                                 allow_failed_execution=args.allow_failed_execution,
                                 save_histories=args.save_histories, faithful=args.faithful,
                                 process_per=args.process_per, http=args.http, allow_hosts=args.allow_hosts,
                                 real_clock=args.real_clock)
        from chaosdurable.conformance.suite import load_suite, wheel_path

        console.print(f"{len(load_suite())} requirements, wheel {wheel_path()}")
        return 0
    except NothingTested as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_NOTHING_TESTED
    except (UsageError, ChaosDurableError, ValueError) as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_USAGE
    except RealAwsRefused as exc:  # RealNetworkRefused too: the run needs a world or a mock the shell cannot give
        console.print(f"error: {exc}\n{_REFUSED_HINT}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_USAGE


#: after a refused AWS call or HTTP request on the command line
_REFUSED_HINT = ("hint: from the shell, AWS calls run in moto with --setup module:function, and HTTP requests are "
                 "answered by a responses.RequestsMock with --http module:attribute (the mock, or a function that "
                 "returns it: what given(..., http=mock) or check(..., http=mock) was passed), or reach a host for "
                 "real with --allow-host HOST.")


if __name__ == "__main__":
    sys.exit(main())
