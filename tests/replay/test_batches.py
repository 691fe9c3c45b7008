"""Map and parallel sizes recorded in a history are compared with what the new code passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from chaosdurable.engine.runner import DurableRunner
from chaosdurable.replay import replay_history


@durable_execution
def two_items(event: Any, context: DurableContext) -> list[str]:
    """Map over two items."""
    out = context.map(["a", "b"], lambda ctx, item, i, items: ctx.step(lambda _: item, name=f"s-{i}"), name="each")
    return out.get_results()


@durable_execution
def three_items(event: Any, context: DurableContext) -> list[str]:
    """Map over three items: a different size."""
    out = context.map(["a", "b", "c"], lambda ctx, item, i, items: ctx.step(lambda _: item, name=f"s-{i}"),
                      name="each")  # MARK: map
    return out.get_results()[:2]


def test_changed_map_size_is_a_divergence_at_the_map() -> None:
    result = DurableRunner(two_items).run(None)
    assert result.status == "SUCCEEDED"
    assert replay_history({"Events": result.history}, two_items).ok
    report = replay_history({"Events": result.history}, three_items)
    found = report.divergence
    assert found is not None and found.kind == "argument" and found.path == "each", report.report()
    assert "= 2" in found.expected and "= 3" in found.actual
    lines = Path(__file__).read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.rstrip().endswith("# MARK: map"))
    assert found.source is not None and found.source.rsplit(":", 1)[0].endswith("test_batches.py")
    assert int(found.source.rsplit(":", 1)[1]) in (line - 1, line)  # the call spans two lines
