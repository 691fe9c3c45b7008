"""The CI pattern: one test per recorded history in ``tests/replay/corpus`` (order workflow v1).

Refresh the corpus with ``python -m tests.replay.build_corpus``. The compatible and the safely
versioned v2 must replay every history; the breaking v2 must be caught at its new step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosdurable.replay import parametrize_histories, replay_history
from chaosdurable.replay.corpus import assert_replays
from chaosdurable.scenarios import order_v2

CORPUS = Path(__file__).parent / "corpus"


@parametrize_histories(CORPUS)
@pytest.mark.parametrize("handler", [order_v2.order_workflow_v2_compatible, order_v2.order_workflow_v2_safe],
                         ids=["compatible", "safe"])
def test_v2_replays_every_recorded_v1_execution(history: Path, handler: object) -> None:
    assert_replays(history, handler)  # type: ignore[arg-type]


@parametrize_histories(CORPUS)
def test_breaking_v2_is_caught_at_the_fraud_check(history: Path) -> None:
    report = replay_history(history, order_v2.order_workflow_v2_breaking)
    found = report.divergence
    assert found is not None and found.path == "shipping" and "'fraud-check'" in found.actual, report.report()
    lines = Path(order_v2.__file__).read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "BREAKING" in text)
    assert found.source is not None and found.source.endswith(f"order_v2.py:{line}")


def test_safe_v2_runs_the_fraud_check_for_new_executions() -> None:
    from chaosdurable.engine.runner import DurableRunner

    runner = DurableRunner(order_v2.order_workflow_v2_safe)
    arn = runner.start(order_v2.SAMPLE_ORDER)
    runner.wait_for_callback(arn)
    names = [e.get("Name") for e in runner.get_execution_history(arn)["Events"]]
    assert "fraud-check" in names
