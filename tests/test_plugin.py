"""The pytest plugin end to end, each in a fresh pytest process (the plugin keeps per-session state)."""

from __future__ import annotations

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


def test_aws_backend_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos=PROPERTY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--chaos-backend", "aws")
    assert result.ret != 0
    assert "never touches a real AWS account" in result.stdout.str() + result.stderr.str()


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
    assert "PROFILE nightly 2000" in result.stdout.str()


def test_works_under_xdist_and_merges_coverage(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_chaos=PROPERTY)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--chaos-profile", "dev",
                                           "--chaos-seed", "3")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "chaosdurable fault-space coverage" in out  # printed by the controller from the workers' counts
    assert "(operation x fault kind) pairs exercised" in out
