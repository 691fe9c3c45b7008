"""The AWS conformance suite (155 requirements) against our engine, with our own handlers.

Select one requirement with ``-k "step/1-17"`` or a category with ``-k step/``.
Each requirement runs with the SDK speed-ups on and again in faithful mode.
"""

from __future__ import annotations

import importlib

import pytest

from chaosdurable.conformance import load_suite, run_requirement
from tests.conformance.case import Case

SUITE = load_suite()
CATEGORIES = sorted({r.category for r in SUITE})


def _cases(category: str) -> dict[str, Case]:
    try:
        module = importlib.import_module(f"tests.conformance.handlers.{category}")
    except ModuleNotFoundError:
        return {}
    return dict(module.CASES)


CASES = {category: _cases(category) for category in CATEGORIES}


def test_suite_is_complete() -> None:
    """The pinned wheel really holds 155 requirements in 10 categories."""
    assert len(SUITE) == 155
    assert len(CATEGORIES) == 10


@pytest.mark.parametrize("faithful", [False, True], ids=["fast", "faithful"])
@pytest.mark.parametrize("requirement", SUITE, ids=[f"{r.category}/{r.id}" for r in SUITE])
def test_requirement(requirement, faithful: bool) -> None:
    case = CASES[requirement.category].get(requirement.id)
    if case is None:
        pytest.fail(f"no handler written for {requirement.category}/{requirement.id}: {requirement.description}")
    mode = "subprocess" if case.subprocess else "inprocess"
    outcome = run_requirement(requirement, case.handler, case.targets, mode=mode, faithful=faithful,
                              execution_timeout=case.execution_timeout)
    assert outcome.passed, outcome.report()
