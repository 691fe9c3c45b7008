"""The tripwire's policy: the environment is configuration (not flagged unless strict), and an
allowlist of calls or source lines is never flagged; clock and randomness reads still are."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable import check


@durable_execution
def reads_config(event: Any, context: DurableContext) -> str:
    """Correct: the table name and region are the deployment's configuration."""
    table = os.environ.get("ORDERS_TABLE", "orders")
    region = os.getenv("AWS_REGION", "us-east-1")
    return context.step(lambda _: f"{table}@{region}", name="describe")


@durable_execution
def names_by_clock(event: Any, context: DurableContext) -> str:
    """Bug: control flow on the clock outside any step (a replay in the afternoon returns "never")."""
    if time.gmtime(time.time()).tm_hour < 12:  # LINE:clock
        return context.step(lambda _: "late", name="late")
    return "never"


def test_environment_reads_are_configuration_by_default() -> None:
    assert check(reads_config, None).ok


def test_strict_flags_environment_reads_with_their_lines() -> None:
    verdict = check(reads_config, None, tripwire="strict")
    calls = sorted(v.message.split(" is read")[0] for v in verdict.by_checker("tripwire"))
    assert calls == ["os.environ.get()", "os.getenv()"]


def test_clock_reads_are_still_flagged_and_an_allowlist_silences_them() -> None:
    assert check(names_by_clock, None).by_checker("tripwire")
    assert check(names_by_clock, None, tripwire_allow=["time.time()"]).ok
    assert check(names_by_clock, None, tripwire_allow=["*test_tripwire_policy.py:*"]).ok


@pytest.mark.parametrize(("options", "error"), [({"tripwire": "loud"}, "use True"),
                                                ({"tripwire_allow": "time.time()"}, "give a list")])
def test_bad_tripwire_options_say_what_to_write(options: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        check(reads_config, None, **options)
