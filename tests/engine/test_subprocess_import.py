"""Subprocess mode imports every importable handler: by name, by identity in its module, or by import_path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import DurableRunner, check
from chaosdurable.cli import main
from chaosdurable.engine.errors import NotDurableHandlerError

HERE = __name__


def make_greeter(greeting: str) -> Callable[..., Any]:
    """A handler factory: the handler's ``__qualname__`` is ``make_greeter.<locals>.greet``."""
    @durable_execution
    def greet(event: Any, context: DurableContext) -> str:
        return context.step(lambda _: f"{greeting}, {event}!", name="greet")

    return greet


hello = make_greeter("Hello")
howdy = make_greeter("Howdy")
IN_A_DICT = {"bonjour": make_greeter("Bonjour")}


def test_a_factory_built_handler_runs_in_subprocess_mode_found_by_identity() -> None:
    result = DurableRunner(hello, mode="subprocess").run("Ada")
    assert result.status == "SUCCEEDED", result.error
    assert result.result == "Hello, Ada!"
    # the child imported the right one of two handlers the same factory built
    assert DurableRunner(howdy, mode="subprocess").run("Ada").result == "Howdy, Ada!"


def test_a_factory_built_handler_runs_with_an_explicit_import_path() -> None:
    result = DurableRunner(hello, mode="subprocess", import_path=f"{HERE}:hello").run("Bo")
    assert result.result == "Hello, Bo!"
    verdict = check(hello, "Bo", mode="subprocess", import_path=f"{HERE}:hello")
    assert verdict.ok, verdict.report()
    assert verdict.spec["handler"] == f"{HERE}:hello"  # the replay command can import it too


def test_the_cli_passes_its_module_attribute_path_through(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["execute", f"{HERE}:hello", "--input", '"Cy"', "--mode", "subprocess"]) == 0
    assert main(["check", f"{HERE}:howdy", "--input", '"Cy"', "--mode", "subprocess"]) == 0


def test_a_handler_no_module_attribute_holds_gets_a_clear_error() -> None:
    local = make_greeter("Hi")
    with pytest.raises(NotDurableHandlerError, match="import_path") as info:
        DurableRunner(local, mode="subprocess")
    assert "make_greeter.<locals>.greet" in str(info.value)
    with pytest.raises(NotDurableHandlerError, match="import_path"):
        DurableRunner(IN_A_DICT["bonjour"], mode="subprocess")
    # in-process needs no import, so the same handlers run there
    assert DurableRunner(local).run("Di").result == "Hi, Di!"


@pytest.mark.parametrize(("path", "says"), [
    ("no_colon_here", "not of the form"),
    (f"{HERE}:", "not of the form"),
    ("tests.engine.no_such_module:hello", "cannot be imported"),
    (f"{HERE}:no_such_attribute", "has no attribute 'no_such_attribute'"),
    (f"{HERE}:howdy", "not the handler being run"),
])
def test_a_wrong_import_path_gets_a_clear_error(path: str, says: str) -> None:
    with pytest.raises(NotDurableHandlerError, match=says):
        DurableRunner(hello, mode="subprocess", import_path=path)
    with pytest.raises(NotDurableHandlerError, match=says):
        check(hello, "Ed", mode="subprocess", import_path=path)


def test_a_handler_whose_module_was_reloaded_is_still_found(tmp_path: Any, monkeypatch: Any) -> None:
    """An in-process ColdStart reloads the module: an invoke target given before it is an older copy of
    the module's attribute, and a fresh process importing that name runs the same code."""
    import importlib

    from chaosdurable.engine.subprocess_invoker import handler_ref

    (tmp_path / "reloaded_target.py").write_text(
        "from aws_durable_execution_sdk_python import durable_execution\n\n\n"
        "@durable_execution\ndef target(event, context):\n    return event\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("reloaded_target")
    before = module.target
    importlib.reload(module)
    assert module.target is not before
    assert handler_ref(before) == "reloaded_target:target"
    other = importlib.import_module("reloaded_target")
    other.target = lambda event, context: None  # another function under that name: not a copy
    with pytest.raises(NotDurableHandlerError):
        handler_ref(before)
