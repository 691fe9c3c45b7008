"""Handlers that probe the sandbox state model (``tests/engine/test_sandbox_*.py``).

A ``ColdStart`` reloads this module, so reach the handlers as ``sandbox_handlers.<name>`` at
call time. ``OBSERVED`` is the tests' record and survives a reload on purpose; ``WARM``, ``CV``
and ``TL`` are the state under test and start fresh on a reload.
"""

from __future__ import annotations

import contextvars
import os
import tempfile
import threading
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

if "OBSERVED" not in globals():
    OBSERVED: list[dict[str, Any]] = []

#: module state: one entry per handler entry since this module was (re)loaded
WARM: list[str] = []
CV: contextvars.ContextVar[str | None] = contextvars.ContextVar("sandbox_probe", default=None)
TL = threading.local()


def _observe(tag: str, mark: str, where: str) -> None:
    OBSERVED.append({"tag": tag, "mark": mark, "where": where, "cv": CV.get(), "tl": getattr(TL, "v", None),
                     "warm": list(WARM), "module": id(WARM)})


@durable_execution
def probe(event: Any, context: DurableContext) -> str:
    """Records what it sees of thread/context/module state, sets its own, maps, waits, replays."""
    tag = event["tag"]
    WARM.append(tag)
    mark = f"{tag}#{len(WARM)}"  # unique per handler entry (invocation) within this module's life
    _observe(tag, mark, "entry")
    CV.set(f"{mark}:handler")
    TL.v = f"{mark}:handler"

    def branch(_ctx: DurableContext, item: int, index: int, _items: Any) -> int:
        _observe(tag, mark, f"branch {index}")
        CV.set(f"{mark}:branch{index}")
        TL.v = f"{mark}:branch{index}"
        return item

    context.map([1, 2, 3], branch, name="fan")
    _observe(tag, mark, "after map")
    context.wait(Duration.from_seconds(1), name="pause")
    _observe(tag, mark, "after wait")
    return "done"


# ------------------------------------------------------------------ temp dir (part 3)
def _quote(_sc: StepContext) -> str:
    with open(os.path.join(tempfile.gettempdir(), "quote.txt"), "w") as f:
        f.write("21")
    return "cached"


def _read_quote() -> int | None:
    path = os.path.join(tempfile.gettempdir(), "quote.txt")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return int(f.read())


@durable_execution
def price_from_tmp_cache(event: Any, context: DurableContext) -> Any:
    """Bug: the quote travels from one invocation to the next through the sandbox's /tmp."""
    context.step(_quote, name="fetch-quote")
    context.wait(Duration.from_seconds(5), name="settle")
    return context.step(lambda _sc: 2 * (_read_quote() or 0), name="price")


@durable_execution
def price_with_tmp_cache_fallback(event: Any, context: DurableContext) -> Any:
    """Correct twin: the temp dir is only a cache; a miss (a new sandbox) fetches the quote again."""
    context.step(_quote, name="fetch-quote")
    context.wait(Duration.from_seconds(5), name="settle")
    return context.step(lambda _sc: 2 * (_read_quote() or 21), name="price")


@durable_execution
def tmpdir_seen(event: Any, context: DurableContext) -> Any:
    """Returns the temp dir each invocation saw (through steps, so replays keep the first)."""
    first = context.step(lambda _sc: tempfile.gettempdir(), name="first")
    context.wait(Duration.from_seconds(1), name="pause")
    second = context.step(lambda _sc: tempfile.gettempdir(), name="second")
    return [first, second, os.environ.get("TMPDIR")]


@durable_execution
def order_on_tmp_serdes(event: Any, context: DurableContext) -> Any:
    """FileSystemSerDes on ``event["mount"]`` (a shared filesystem, as EFS: correct) or, without one, on the
    sandbox's temp dir (the bug the SDK warns about: a replay on another sandbox cannot read the file)."""
    from aws_durable_execution_sdk_python.config import StepConfig
    from aws_durable_execution_sdk_python.filesystem_serdes import FileSystemSerDes

    config = StepConfig(serdes=FileSystemSerDes((event or {}).get("mount") or tempfile.gettempdir()))
    order = context.step(lambda _sc: {"order": "o-1", "total": 42}, name="build-order", config=config)
    context.wait(Duration.from_seconds(5), name="settle")
    return context.step(lambda _sc: order["total"], name="charge")
