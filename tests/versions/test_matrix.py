"""The version job: the conformance suite and the zoo on whichever SDK this interpreter has.

``noxfile.py`` runs this module (with the self-property and the SDK-defect tests) once per older SDK
version; in the main suite it runs on the newest 3.x. Sampling keeps the job inside CI's budget:
``CHAOSDURABLE_VERSION_SAMPLE=full`` runs everything (every requirement fast and faithful, every zoo
case); the default runs every requirement once, one in five in faithful mode, and for the zoo
every bug case and the first two schedules of each correct handler.

Documented exclusions (``EXCLUDED``): what a version does not support is not run on it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest

import tests.versions.sdk_shims  # noqa: F401  (import locations of older SDKs, before any handler module)
from chaosdurable import sdk_compat
from chaosdurable.conformance import load_suite, run_requirement
from tests.selftest.sdk_defects import KNOWN_DEFECTS, affected

FULL = os.environ.get("CHAOSDURABLE_VERSION_SAMPLE") == "full"
#: the default sample runs every requirement, one in this many in faithful mode (the SDK as shipped, about
#: six times slower: a real thread per branch and the SDK's own batching waits), the others in fast mode
FAITHFUL_EVERY = 5
VERSION = sdk_compat.version()

#: category -> (first version that supports it, why it is excluded before)
EXCLUDED: dict[str, tuple[tuple[int, ...], str]] = {
    "plugin": ((3,), "the requirements use 3.x plugin factories (create_plugin per invocation); 2.x takes "
                     "plugin instances and 1.7's plugin API is provisional"),
}
#: requirements a version does not meet (SDK behaviour, not a chaosdurable gap): (fixed in, what differs)
DEVIATIONS: dict[str, tuple[tuple[int, ...], str]] = {
    f"parallel/{rid}": ((2, 0), "1.7 starts a further branch after the failure tolerance is exceeded "
                                "(the requirement expects totalCount 2, 1.7 reports 3)")
    for rid in ("8-6", "8-7", "8-8", "8-10", "8-13", "8-17", "8-18", "8-19")
}


def test_the_expected_sdk_is_installed() -> None:
    """A mix-up of environments must not pass unnoticed."""
    expected = os.environ.get("CHAOSDURABLE_EXPECT_SDK")
    if expected is None:
        pytest.skip("not in the version job")
    assert sdk_compat.version_string() == expected
    assert sdk_compat.unsupported_reason() is None


# ------------------------------------------------------------------------------- conformance
def _handlers(category: str) -> dict[str, Any] | str:
    try:
        module = importlib.import_module(f"tests.conformance.handlers.{category}")
    except ImportError as error:  # written against a newer SDK's API
        return f"tests/conformance/handlers/{category}.py does not import on SDK {sdk_compat.version_string()}: {error}"
    return dict(module.CASES)


SUITE = load_suite()


def _conformance_params() -> list[Any]:
    params = []
    for index, requirement in enumerate(SUITE):
        modes = [False, True] if FULL else [index % FAITHFUL_EVERY == 0]
        for faithful in modes:
            ident = f"{requirement.category}/{requirement.id}-{'faithful' if faithful else 'fast'}"
            marks = []
            since = EXCLUDED.get(requirement.category)
            if since is not None and VERSION < since[0]:
                marks.append(pytest.mark.skip(reason=f"excluded before {since[0]}: {since[1]}"))
            deviation = DEVIATIONS.get(f"{requirement.category}/{requirement.id}")
            if deviation is not None and VERSION < deviation[0]:
                marks.append(pytest.mark.xfail(strict=True, reason=f"SDK before {deviation[0]}: {deviation[1]}"))
            params.append(pytest.param(requirement, faithful, id=ident, marks=marks))
    return params


@pytest.mark.parametrize(("requirement", "faithful"), _conformance_params())
def test_conformance(requirement: Any, faithful: bool) -> None:
    cases = _handlers(requirement.category)
    if isinstance(cases, str):
        pytest.skip(cases)
    case = cases.get(requirement.id)
    assert case is not None, f"no handler for {requirement.category}/{requirement.id}"
    mode = "subprocess" if case.subprocess else "inprocess"
    outcome = run_requirement(requirement, case.handler, case.targets, mode=mode, faithful=faithful,
                              execution_timeout=case.execution_timeout)
    assert outcome.passed, outcome.report()


# ------------------------------------------------------------------------------------- zoo
def _zoo() -> Any:
    from tests.zoo import test_zoo

    return test_zoo


def _name(handler: Any) -> str:
    return getattr(sdk_compat.user_function(handler) or handler, "__name__", "handler")


def _defect_marks(case_id: str) -> list[Any]:
    """Strict expected failures: zoo cases a known SDK defect breaks on this version."""
    return [pytest.mark.xfail(strict=True, reason=f"SDK defect {d.id} (fixed in {d.fixed_in})")
            for d in KNOWN_DEFECTS if case_id in d.zoo_cases and affected(d)]


def _zoo_bug_params() -> list[Any]:
    return [pytest.param(case, id=case.id, marks=_defect_marks(case.id)) for case in _zoo().BUGS]


def _zoo_good_params() -> list[Any]:
    params = []
    for case in _zoo().GOOD:
        for index, (label, faults) in enumerate(case.schedules.items()):
            ident = f"{_name(case.handler)}-{label}"
            if FULL or index < 2 or _defect_marks(ident):
                params.append(pytest.param(case, faults, id=ident, marks=_defect_marks(ident)))
    return params


@pytest.mark.parametrize("case", _zoo_bug_params())
def test_zoo_bug_is_caught(case: Any) -> None:
    _zoo().test_bug_is_caught(case)


@pytest.mark.parametrize(("case", "faults"), _zoo_good_params())
def test_zoo_correct_handler_passes(case: Any, faults: Any) -> None:
    _zoo().test_correct_handler_passes(case, faults)
