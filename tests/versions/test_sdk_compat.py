"""The version layer on the installed SDK (main suite: 3.x; version job: each older SDK), the
``faithful`` switch on every entry point, and user code judged by module (an SDK installed
outside site-packages is never reported as the user's code)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aws_durable_execution_sdk_python import durable_execution

from chaosdurable import DurableRunner, sdk_compat
from chaosdurable.cli import main as cli_main
from chaosdurable.history import probes


@durable_execution
def greet(event, context):
    """Say hello in a step."""
    return context.step(lambda _: f"hi {event}", name="greet")


def plain(event, context):
    return event


def test_durable_handlers_are_recognised_and_plain_ones_are_not() -> None:
    assert sdk_compat.is_durable_handler(greet)
    assert not sdk_compat.is_durable_handler(plain)
    assert not sdk_compat.is_durable_handler(lambda e, c: e)


def test_a_durable_handler_carries_the_user_functions_name_in_every_version() -> None:
    sdk_compat.is_durable_handler(greet)
    assert (greet.__module__, greet.__qualname__) == (__name__, "greet")
    assert sdk_compat.handler_origin(greet) == (__name__, "greet")
    assert sdk_compat.user_function(greet).__code__.co_name == "greet"


def test_the_body_probe_finds_the_plugin_list_and_records_step_bodies() -> None:
    assert sdk_compat.plugin_list(greet) is not None
    seen: list[object] = []
    remove = probes.inject_body_probe(greet, probes.BodyProbeFactory(lambda kind, where: seen.append(where)))
    try:
        result = DurableRunner(greet).run(payload='"ada"')
    finally:
        remove()
    assert result.status == "SUCCEEDED"
    steps = [w for w in seen if getattr(w, "op_name", None) == "greet"]
    assert steps, seen
    assert all(w.in_step and w.op_type == "STEP" for w in steps), steps


def test_supported_range_and_versions_outside_it() -> None:
    assert sdk_compat.unsupported_reason() is None
    assert sdk_compat.parse("2.0.1") == (2, 0, 1)
    assert sdk_compat.parse("3.1.0rc1") == (3, 1, 0)
    assert sdk_compat.MINIMUM <= sdk_compat.version() < sdk_compat.BELOW
    assert (sdk_compat.speedups_unsupported_reason() is None) == (sdk_compat.version()[:1] == (3,))


def test_an_unsupported_version_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdk_compat, "version_string", lambda: "1.6.0")
    with pytest.raises(sdk_compat.UnsupportedSdkError, match=r"1\.6\.0 is not supported.*>=1\.7,<4"):
        sdk_compat.require_supported()
    with pytest.raises(sdk_compat.UnsupportedSdkError, match=r">=1\.7,<4"):
        DurableRunner(greet)


def test_cli_check_takes_faithful(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["check", f"{__name__}:greet", "--input", '"ada"', "--faithful",
                     "--schedule", '{"faults": [{"kind": "crash_at_checkpoint", "op": "greet"}]}'])
    assert code == 0, capsys.readouterr().out


TARGET_HANDLER = '''
import datetime
from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def handler(event, context):
    context.step(lambda _: "a", name="a")
    context.wait(Duration.from_seconds(5), name="pause")  # the SDK reads the clock to suspend
    return context.step(lambda _: str(datetime.datetime.now()), name="b")  # inside a step: fine
'''


def test_an_sdk_installed_with_target_is_not_user_code(tmp_path: Path) -> None:
    """Copy the installed SDK to a --target-style folder on PYTHONPATH: the tripwire must report
    nothing for a handler that reads the clock only inside steps (the SDK reads it to suspend)."""
    import shutil

    import aws_durable_execution_sdk_python as sdk

    target = tmp_path / "target"
    shutil.copytree(Path(sdk.__file__).parent, target / "aws_durable_execution_sdk_python")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "handler_mod.py").write_text(textwrap.dedent(TARGET_HANDLER))
    script = textwrap.dedent('''
        import aws_durable_execution_sdk_python as sdk, sys
        assert sdk.__file__.startswith(sys.argv[1]), sdk.__file__
        from chaosdurable import check, FaultSchedule, CrashAtCheckpoint
        from handler_mod import handler
        v = check(handler, input=None, schedule=FaultSchedule([CrashAtCheckpoint(op="b")]))
        print("VIOLATIONS", [(x.checker, x.source) for x in v.violations])
    ''')
    paths = [str(target), str(tmp_path / "app"), str(Path(__file__).parents[2])]
    out = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, text=True,
                         env={"PYTHONPATH": ":".join(paths), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert "VIOLATIONS []" in out.stdout, out.stdout + out.stderr
