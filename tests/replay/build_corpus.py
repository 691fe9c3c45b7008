"""Build (or refresh) ``tests/replay/corpus``: histories of the order workflow v1 at three points.

Run from the repository root: ``python -m tests.replay.build_corpus``. It records, on the
engine, one execution of ``chaosdurable.scenarios.order:order_workflow`` and saves its history
(``chaosdurable.replay.save``) while it waits for the warehouse callback, while it waits out the
return window, and once it has completed. ``test_corpus.py`` replays every file there against
the v2 handlers. Saving is idempotent: a file is named after a hash of its events.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from chaosdurable.engine.runner import DurableRunner
from chaosdurable.replay import save
from chaosdurable.scenarios.order import SAMPLE_ORDER, order_workflow

CORPUS = Path(__file__).parent / "corpus"
HANDLER = "chaosdurable.scenarios.order:order_workflow"


def build(folder: Path = CORPUS) -> list[Path]:
    """Record the three histories into ``folder``; returns the files written."""
    logging.getLogger("aws_durable_execution_sdk_python").setLevel(logging.CRITICAL)
    runner = DurableRunner(order_workflow)
    arn = runner.start(SAMPLE_ORDER, name="ord-1001")
    callback_id = runner.wait_for_callback(arn)
    written = save(runner.get_execution_history(arn), folder, name="order-v1-awaiting-shipping", handler=HANDLER)
    runner.advance(3 * 3600)
    runner.send_callback_success(callback_id, json.dumps({"tracking": "TRK-778"}))
    written += save(runner.get_execution_history(arn), folder, name="order-v1-return-window", handler=HANDLER)
    written += save(runner.wait_for_result(arn), folder, name="order-v1-completed", handler=HANDLER)
    return written


if __name__ == "__main__":
    for path in build():
        print(path)
