"""The pytest plugin end to end, each in a fresh pytest process (the plugin keeps per-session state)."""

from __future__ import annotations

import json
import re

import pytest

PROPERTY = '''
from aws_durable_execution_sdk_python import durable_execution
import chaosdurable
from chaosdurable import effect


@durable_execution
def pay(event, context):
    def charge(_):
        effect("charge", key=event["order"])
        return "charged"
    result = context.step(charge, name="charge")
    context.step(lambda _: "mailed", name="receipt")
    return result


@durable_execution
def pay_idempotently(event, context):
    def charge(_):
        effect("charge", key=event["order"], idempotent=True)
        return "charged"
    result = context.step(charge, name="charge")
    context.step(lambda _: "mailed", name="receipt")
    return result


@chaosdurable.given(handler=pay, input={"order": "o-1"})
def test_pay():
    pass


@chaosdurable.given(handler=pay_idempotently, input={"order": "o-1"})
def test_pay_idempotently(verdict):
    assert verdict.chaotic.status in ("SUCCEEDED", "FAILED")
'''


def test_finds_shrinks_and_explains_a_double_charge(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos=PROPERTY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "dev", "--chaos-seed", "3")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "[idempotency] effect 'charge' (key 'o-1') happened 2 times" in out
    # shrunk to the single deadly fault, shown in words, with a timeline and a replay command
    assert "1. crash right after effect 'charge' ran" in out
    assert "timeline of the chaotic run:" in out
    assert "-- invocation 1 ended with Runtime.ExitError" in out
    assert "chaosdurable check test_chaos:pay --input" in out
    assert "chaosdurable fault-space coverage" in out
    # one saved failure per property, holding the shrunk schedule (not one file per shrink step)
    (saved,) = (pytester.path / ".chaosdurable" / "failures").iterdir()
    assert saved.name == "test_chaos.test_pay.json"
    assert len(json.loads(saved.read_text())["schedule"]["faults"]) == 1


def test_aws_backend_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos=PROPERTY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-backend", "aws")
    assert result.ret != 0
    assert "--chaos-backend aws needs --chaos-aws-function" in result.stdout.str() + result.stderr.str()


def test_profiles_set_the_number_of_examples(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos=PROPERTY.replace("def test_pay():\n    pass", "def test_pay():\n    pass\n"
                                                    "test_pay = None"))
    pytester.makepyfile(conftest='''
import chaosdurable.pytest_plugin as plugin

def pytest_sessionfinish(session):
    print("PROFILE", plugin._State.profile, plugin.PROFILES[plugin._State.profile]["max_examples"])
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--chaos-profile", "nightly",
                                           "-k", "idempotently", "--co")
    assert "PROFILE nightly 5000" in result.stdout.str()


def test_a_budget_stops_the_search_between_chunks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos=PROPERTY.replace("def test_pay():\n    pass", "def test_pay():\n    pass\n"
                                                    "test_pay = None"))
    pytester.makepyfile(conftest="import chaosdurable.pytest_plugin as plugin\nplugin.BUDGET_CHUNK = 20\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "nightly",
                                           "--chaos-budget", "0.001", "-k", "idempotently")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "chaosdurable search budgets" in out
    # the budget is spent during the first chunk: one chunk of 20 examples, not 5000
    line = next(line for line in out.splitlines() if "examples in" in line and "budget 0.001 s" in line)
    examples = int(line.split(": ")[1].split(" examples")[0])
    assert 0 < examples < 40  # Hypothesis may replay a few; 5000 without the budget


def test_a_bad_budget_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos=PROPERTY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-budget", "-5")
    assert result.ret != 0
    assert "--chaos-budget must be a positive number of seconds" in result.stdout.str() + result.stderr.str()


def test_profiles_stop_at_the_first_bug_and_skip_the_explain_phase() -> None:
    from hypothesis import Phase, settings

    import chaosdurable.pytest_plugin  # noqa: F401 - registers the profiles

    for name in ("ci", "nightly", "dev"):
        profile = settings.get_profile(f"chaosdurable-{name}")
        assert profile.report_multiple_bugs is False
        assert Phase.explain not in profile.phases and Phase.shrink in profile.phases


def test_works_under_xdist_and_merges_coverage(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_chaos=PROPERTY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--chaos-profile", "dev",
                                           "--chaos-seed", "3")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "chaosdurable fault-space coverage" in out  # printed by the controller from the workers' counts
    assert "(operation x fault kind) pairs exercised" in out


def test_a_bug_without_faults_shrinks_to_the_empty_schedule(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos='''
from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import Duration
import chaosdurable
from chaosdurable import effect


@durable_execution
def greet(event, context):
    effect("mail", key="ada")   # outside any step, and replayed after the wait: no fault needed
    context.wait(Duration.from_seconds(5), name="pause")
    return context.step(lambda _: "hi", name="hi")


@chaosdurable.given(handler=greet, input=None)
def test_greet():
    pass
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-seed", "1")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "[effects_outside_steps] effect 'mail' happens outside any step" in out
    assert re.search(r"schedule:\n\S*\s+no faults\n", out), out
    assert "raise AssertionError(failure_report" not in out  # the plugin's own source is not shown


def test_a_handler_that_fails_without_faults_is_reported_as_such(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos='''
from aws_durable_execution_sdk_python import durable_execution
import chaosdurable


@durable_execution
def price(event, context):
    tiers = context.step(lambda _: {1: "basic", 10: "bulk"}, name="tiers")   # int keys come back as "1", "10"
    return tiers[1]


@chaosdurable.given(handler=price, input=None)
def test_price():
    pass


@chaosdurable.given(handler=price, input=None, allow_failed_execution=True)
def test_price_may_fail():
    pass
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "the fault-free run of price on input null ended FAILED (" in out
    assert "KeyError" in out and "allow_failed_execution=True" in out


def test_the_coverage_table_is_capped_without_verbose(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos=PROPERTY.replace("def test_pay():\n    pass", "def test_pay():\n    pass\n"
                                                    "test_pay = None"))
    pytester.makepyfile(conftest="import chaosdurable.pytest_plugin as plugin\nplugin.COVERAGE_ROWS = 1\n")
    quiet = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "dev", "--chaos-seed", "2")
    assert re.search(r"\.\.\. and \d+ more targets \(-v shows them all\)", quiet.stdout.str()), quiet.stdout.str()
    loud = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "dev", "--chaos-seed", "2", "-v")
    assert "more targets" not in loud.stdout.str()
    assert "pairs exercised over" in loud.stdout.str()


def test_an_input_that_is_not_json_is_refused_when_the_property_is_declared() -> None:
    from aws_durable_execution_sdk_python import durable_execution

    import chaosdurable
    from chaosdurable.engine.errors import PayloadNotJsonError

    @durable_execution
    def echo(event: object, context: object) -> object:
        return event

    with pytest.raises(PayloadNotJsonError, match=r"input=\{1, 2\}\): the input is not JSON"):
        chaosdurable.given(handler=echo, input={1, 2})


def test_the_verdict_report_carries_the_runs_diagnostics() -> None:
    from aws_durable_execution_sdk_python import durable_execution

    from chaosdurable import check

    @durable_execution
    def returns_a_set(event: object, context: object) -> object:
        return {1, 2}

    report = check(returns_a_set, None).report()
    assert "note: the handler's result is not JSON-serializable, so the execution FAILED" in report


def test_the_aws_backend_needs_a_function(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--chaos-backend", "aws")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--chaos-backend aws needs --chaos-aws-function" in result.stderr.str()


def test_the_aws_backend_is_refused_without_the_switch(pytester: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOSDURABLE_ALLOW_AWS", raising=False)
    result = pytester.runpytest_subprocess("--chaos-backend", "aws", "--chaos-aws-function",
                                           "arn:aws:lambda:us-east-1:123456789012:function:orders")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--chaos-backend aws refused" in result.stderr.str() and "CHAOSDURABLE_ALLOW_AWS=1" in result.stderr.str()


MISSPELT_FAULTS = PROPERTY + '''

from hypothesis import strategies as st
from chaosdurable import CrashAfterEffect, FaultSchedule


@chaosdurable.given(handler=pay_idempotently, input={"order": "o-1"},
                    faults=st.builds(lambda n: FaultSchedule([CrashAfterEffect(effect="chrage", attempt=n)]),
                                     st.integers(1, 2)))
def test_misspelt():
    pass


@chaosdurable.given(handler=pay_idempotently, input={"order": "o-1"},
                    faults=st.just(FaultSchedule([CrashAfterEffect(effect="charge")])))
def test_spelt():
    pass
'''


def test_a_faults_strategy_that_never_fires_tested_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos=MISSPELT_FAULTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-profile", "dev", "-k", "spelt")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "test_misspelt" in out and "nothing was tested: none of the" in out, out
    assert "'chrage'" in out and "not reached" in out, out
