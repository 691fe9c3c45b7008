"""The pytest plugin on the aws backend: the same ``given()`` property that runs on the engine runs
with ``--chaos-backend aws`` against the loopback deployment, catches the planted bug (a
non-idempotent charge in an at-least-once step, under a crash) and passes the correct twin.

Budget: a fixed ``--chaos-seed`` and a few examples (``CHAOS_TEST_EXAMPLES``; the pytester
directory's conftest cuts the ``dev`` profile) keep each aws session to about ten executions; on
the aws backend shrinking is off (every shrink step is another ~2 s execution), on the engine on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.aws.conftest import ACCOUNT, FUNCTIONS, arn
from tests.aws.harness.stack import LoopbackStack

HERE = Path(__file__).parent / "plugin_property"
ROOT = Path(__file__).resolve().parents[2]
#: a seed whose first examples draw the crash that matters (charge, before its SUCCEED is persisted)
SEED = 3
EXAMPLES = 2


def _prepare(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_twins=(HERE / "property_twins.py").read_text())
    pytester.makeconftest((HERE / "budget.py").read_text())
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.setenv("CHAOS_TEST_EXAMPLES", str(EXAMPLES))


def aws_options(stack: LoopbackStack, function: str, allowlist: Path) -> list[str]:
    """The command-line options that point the plugin at ``function`` on the loopback stack."""
    return ["--chaos-backend", "aws", "--chaos-aws-function", arn(function), "--chaos-aws-endpoint", stack.url,
            "--chaos-aws-allow-endpoint", "--chaos-aws-allowlist", str(allowlist)]


def test_property_on_the_engine(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _prepare(pytester, monkeypatch)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "dev", "--chaos-seed",
                                           str(SEED), timeout=120)
    result.assert_outcomes(passed=1, failed=1)
    assert "test_twins.py::test_buggy" in result.stdout.str() and "[idempotency]" in result.stdout.str()


@pytest.mark.parametrize("twin", ["buggy", "correct"])
def test_property_on_the_aws_backend(stack: LoopbackStack, twin: str, pytester: pytest.Pytester,
                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _prepare(pytester, monkeypatch)
    allowlist = tmp_path / "allowlist"
    allowlist.write_text("".join(f"{ACCOUNT} {name}\n" for name in FUNCTIONS))
    for key, value in stack.plugin_environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CHAOS_TEST_NO_SHRINK", "1")
    invocations = stack.door.counters.invocations
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "dev", "--chaos-seed",
                                           str(SEED), "-k", twin, *aws_options(stack, twin, allowlist), timeout=180)
    out = result.stdout.str()
    assert stack.door.counters.invocations > invocations, "the property never reached the deployment"
    if twin == "buggy":
        result.assert_outcomes(failed=1)
        assert "[idempotency]" in out and "crash on operation 'charge'" in out, out
        assert "aws:" + ACCOUNT + ":buggy" in out  # the verdict names the deployed function
    else:
        result.assert_outcomes(passed=1)
    print(f"{twin}: {stack.door.counters.invocations - invocations} sandboxed invocations", file=sys.stderr)
