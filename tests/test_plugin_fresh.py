"""Under the default in-process session, a share of ``given()``'s examples runs in fresh interpreters,
so a hash-seed bug (iterating a set of strings) fails its property without ``--chaos-backend subprocess``
and its sorted twin passes."""

from __future__ import annotations

import pytest

PROPERTIES = '''
import chaosdurable
from tests.plugin_fresh import handlers


@chaosdurable.given(handlers.set_order, handlers.APPROVERS)
def test_set_order():
    pass


@chaosdurable.given(handlers.sorted_order, handlers.APPROVERS)
def test_sorted_order():
    pass
'''


def test_a_hash_seed_bug_is_found_in_process_and_its_twin_passes(pytester: pytest.Pytester,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    pytester.makepyfile(test_fresh=PROPERTIES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-seed", "1", timeout=300)
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "test_fresh.py::test_set_order" in out and "[determinism]" in out, out
    assert "ran every invocation in a fresh interpreter" in out and "PYTHONHASHSEED" in out, out
    saved = next(line.split("chaosdurable replay ", 1)[1].strip() for line in out.splitlines()
                 if "chaosdurable replay " in line and "--backend" not in line)
    from chaosdurable.cli import main

    monkeypatch.chdir(pytester.path)
    assert main(["replay", saved]) == 1  # in fresh interpreters, as found
    assert main(["replay", saved, "--backend", "inprocess"]) == 0  # one process: one order, no divergence


def test_the_share_is_off_under_an_explicit_backend() -> None:
    from chaosdurable import pytest_plugin

    class Data:
        def draw(self, *_: object, **__: object) -> int:
            raise AssertionError("no draw when the session is not in-process")

    saved = pytest_plugin._State.backend
    pytest_plugin._State.backend = "subprocess"
    try:
        from tests.plugin_fresh import handlers

        assert pytest_plugin._FreshShare().draw(Data(), handlers.set_order, None) is False
    finally:
        pytest_plugin._State.backend = saved
