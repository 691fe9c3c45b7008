"""Findings caused by module state that earlier executions left (trial b10, issue 9).

In-process, a property's fault-free run starts after the operation-space probe (and earlier examples)
ran the handler in the same process: a module-level dedupe set then already holds the id, the fault-free
run skips the effect, and a cold start does it. The trial's report read "happened 1 times under faults but
0 times without them", as if the fault had repeated it. The finding stands (the handler's effects depend
on module state), but the report must say why the counts differ and which global made them differ.
"""

from __future__ import annotations

import pytest

from chaosdurable import ColdStart, CrashAfterEffect, FaultSchedule, check
from chaosdurable.backends import Subprocess
from tests.checks import warm_handlers

PAYMENT = {"payment_id": "p-10"}


def _warm_up(handler_name: str) -> None:
    """Run the handler once, fault-free, as the plugin's probe does before the examples."""
    check(getattr(warm_handlers, handler_name), PAYMENT, checkers=[])


def test_a_count_that_module_state_explains_says_so_and_names_the_global() -> None:
    _warm_up("module_dedupe")
    verdict = check(warm_handlers.module_dedupe, PAYMENT, FaultSchedule((ColdStart(invocation=1),)))
    (finding,) = verdict.by_checker("idempotency")
    assert finding.message.startswith("effect 'bank-transfer' (key 'p-10') happened 1 time under faults but 0 times "
                                      "without them"), finding.message
    text = "\n".join(finding.detail)
    assert "why: module state carried over between executions" in text, verdict.report()
    assert "invocation 1 of the chaotic run started on a cold start" in text
    assert "module globals that differed: _PAID = {'p-10'} in the fault-free run, set() on the cold start" in text
    assert "Step 'payout' ran in the fault-free run too" in text
    assert verdict.reference.module_state[1]["_PAID"] == "{'p-10'}"
    assert verdict.chaotic.cold_starts == [1] and verdict.chaotic.module_state[1]["_PAID"] == "set()"


def test_the_bug_is_still_caught_from_a_clean_start_without_the_warm_state_story() -> None:
    # a process per invocation: every run starts with the module as imported; a retry on a new sandbox pays
    # twice (with a process per sandbox, the default, warm sandboxes carry module state across runs, as
    # in-process)
    schedule = FaultSchedule((CrashAfterEffect(effect="bank-transfer"), ColdStart(invocation=2)))
    verdict = check(warm_handlers.module_dedupe, PAYMENT, schedule, backend=Subprocess(process_per="invocation"))
    (finding,) = verdict.by_checker("idempotency")
    assert "happened 2 times under faults but 1 time without them" in finding.message, verdict.report()
    assert not any(d.startswith("why: module state") for d in finding.detail)


def test_the_twin_with_only_a_constant_at_module_level_is_ok_and_explains_nothing() -> None:
    _warm_up("module_constant")
    verdict = check(warm_handlers.module_constant, PAYMENT, FaultSchedule((ColdStart(invocation=1),)))
    assert verdict.ok, verdict.report()
    assert "module state carried over" not in verdict.report()


PROPERTY = '''
import chaosdurable
from tests.checks import warm_handlers


@chaosdurable.given(warm_handlers.module_dedupe, {"payment_id": "p-10"})
def test_dedupe():
    pass
'''


def test_a_warm_state_failure_from_given_replays_with_a_warm_up(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import os
    from pathlib import Path

    from chaosdurable.cli import main

    root = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    pytester.makepyfile(test_warm=PROPERTY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "dev", "--chaos-seed", "1",
                                           timeout=300)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    saved = pytester.path / ".chaosdurable" / "failures" / "test_warm.test_dedupe.json"
    spec = json.loads(saved.read_text())
    # as in the trial: the shrunk schedule is a cold start of invocation 1 against a warm fault-free run
    assert "module globals that differed: _PAID = {'p-10'}" in out, out
    assert spec["warm_up"] is True
    monkeypatch.chdir(pytester.path)
    capsys.readouterr()
    assert main(["replay", str(saved)]) == 1
    replayed = capsys.readouterr().out
    assert "the handler runs once without faults first" in replayed
    assert "module globals that differed: _PAID = {'p-10'}" in replayed, replayed
