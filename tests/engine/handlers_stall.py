"""A handler that stalls in real time before a short wait (issue 8 §1), importable for subprocess mode.

Used by ``benchmarks/conformance_under_load.py``; the tests simulate the stall without sleeping.
"""

from __future__ import annotations

import time
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def stall_then_wait(event: Any, context: DurableContext) -> str:
    time.sleep(1.5)  # real time spent outside any step, on every replay
    context.wait(Duration.from_seconds(1), name="nap")
    return "done"
