"""The session coverage table: one table per handler, every line within 80 columns."""

from __future__ import annotations

from collections import Counter

from chaosdurable.pytest_plugin import coverage_lines

ALL_KINDS = ("crash_at_checkpoint", "checkpoint_error", "invocation_timeout", "duplicate_invocation", "cold_start",
             "late_timer", "transient_failure", "crash_after_effect", "callback")


def test_every_kind_and_a_long_name_fit_80_columns_per_handler() -> None:
    coverage: Counter[tuple[str, str, str]] = Counter()
    for kind in ALL_KINDS:
        coverage[("orders.pay", "a-very-long-operation-name-that-would-never-fit-in-a-narrow-terminal", kind)] += 3
    coverage[("shipping.ship", "step #1 (unnamed) in child 'ship'", "crash_at_checkpoint")] += 5
    lines = coverage_lines(coverage)
    assert max(len(line) for line in lines) <= 80
    heads = [line for line in lines if line and not line.startswith((" ", "legend"))]
    assert [h.split()[0] for h in heads] == ["orders.pay", "shipping.ship"]  # handlers are not merged
    assert "crash" in heads[1] and "api" not in heads[1]  # a handler shows only the kinds fired on it
    assert any("step #1 (unnamed) in child 'ship'" in line and line.rstrip().endswith("5") for line in lines)


def test_rows_are_capped_per_handler() -> None:
    coverage = Counter({("h.one", f"op-{i:02}", "cold_start"): 1 for i in range(12)})
    lines = coverage_lines(coverage, max_rows=5)
    assert "  ... and 7 more targets (-v shows them all)" in lines
    assert len([line for line in lines if line.startswith("  op-")]) == 5
