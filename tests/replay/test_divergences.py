"""Histories of ``handlers.v1`` replayed against each edit: identical, or the right divergence."""

from __future__ import annotations

from typing import Any

import pytest

from chaosdurable.replay import replay_history
from tests.replay import handlers

TARGETS = {"scorer": handlers.scorer}


def _replay(history: dict[str, Any], handler: Any) -> Any:
    report = replay_history(history, handler, targets=TARGETS)
    assert len(report.results) == 1
    return report


@pytest.mark.parametrize("which", ["in_flight", "completed"])
@pytest.mark.parametrize("handler", [handlers.v1, handlers.refactored], ids=["same-code", "refactor"])
def test_same_operations_replay_identically(request: pytest.FixtureRequest, which: str, handler: Any) -> None:
    report = _replay(request.getfixturevalue(which), handler)
    assert report.ok, report.report()
    assert report.divergence is None and report.exit_code == 0
    assert "replay identically" in report.report()


@pytest.mark.parametrize("which", ["in_flight", "completed"])
@pytest.mark.parametrize(("handler", "kind", "path", "mark", "expected", "actual"), [
    (handlers.renamed, "identity", "fetch", "renamed", "STEP 'fetch'", "STEP 'load-account'"),
    (handlers.reordered, "order", "fetch", "reordered", "STEP 'fetch'", "STEP 'enrich'"),
    (handlers.longer_wait, "argument", "cool-down", "wait", "= 60", "= 120"),
    (handlers.new_payload, "argument", "score", "payload", '"amount": 24}', '"v": 2}'),
    (handlers.shorter_callback, "argument", "approval", "callback", "= 3600", "= 1800"),
    (handlers.dropped_wait, "order", "cool-down", "dropped", "WAIT 'cool-down'", "CHAINED_INVOKE 'score'"),
], ids=["renamed-step", "reordered-steps", "wait-duration", "invoke-payload", "callback-timeout", "dropped-wait"])
def test_divergence_named_at_operation_and_line(request: pytest.FixtureRequest, which: str, handler: Any, kind: str,
                                                path: str, mark: str, expected: str, actual: str) -> None:
    report = _replay(request.getfixturevalue(which), handler)
    assert not report.ok and report.exit_code == 1
    found = report.divergence
    assert found is not None, report.report()
    assert (found.kind, found.path) == (kind, path), report.report()
    assert found.source is not None and found.source.endswith(handlers.line_of(mark).split("/")[-1]), found
    assert expected in found.expected and actual in found.actual, report.report()
    text = report.report()
    assert f"'{path}'" in text and handlers.line_of(mark).split("/")[-1] in text


def test_changed_final_result_is_a_divergence_at_the_return(completed: dict[str, Any]) -> None:
    report = _replay(completed, handlers.new_result)
    found = report.divergence
    assert found is not None and found.kind == "result", report.report()
    assert found.source is not None and found.source.endswith(handlers.line_of("result").split("/")[-1])
    assert '"extra": 24' in found.expected and '"extra": 25' in found.actual


def test_changed_final_result_does_not_matter_in_flight(in_flight: dict[str, Any]) -> None:
    report = _replay(in_flight, handlers.new_result)
    assert report.ok, report.report()


def test_new_work_after_a_completed_history_is_reported(completed: dict[str, Any]) -> None:
    report = _replay(completed, handlers.extra_step)
    found = report.divergence
    assert found is not None and found.kind == "continues" and found.path == "audit", report.report()
    assert found.source is not None and found.source.endswith(handlers.line_of("audit").split("/")[-1])


def test_the_sdk_check_alone_would_miss_argument_drift(in_flight: dict[str, Any]) -> None:
    """The SDK compares only identity: a changed wait duration replays 'fine' there, not here."""
    report = _replay(in_flight, handlers.longer_wait)
    assert report.divergence is not None and report.divergence.kind == "argument"
