"""A two-variant scenario for the ``run`` tests: the correct payment and the double charge."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from chaosdurable.scenarios.catalog import Scenario, Variant
from tests.search.handlers import pay_once, pay_twice


def charged(event: Any, run: Any) -> None:
    """A finished payment returns 'charged'."""
    assert run.status != "SUCCEEDED" or run.result == "charged", f"order {event['order']} returned {run.result!r}"


SCENARIO = Scenario(
    name="mini-pay",
    description="a payment: validate, then charge",
    inputs=lambda: st.builds(lambda n: {"order": f"o-{n}"}, st.integers(1, 3)),
    sample={"order": "o-1"},
    variants=(
        Variant("correct", pay_once, "tests.search.handlers:pay_once"),
        Variant("double-charge", pay_twice, "tests.search.handlers:pay_twice",
                bug="the charge has no idempotency key, so a crash right after it charges twice"),
    ),
    invariants=(charged,),
)
