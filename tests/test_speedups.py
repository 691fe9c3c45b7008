"""The SDK speed-ups are guarded, switchable, and leave histories unchanged."""

from __future__ import annotations

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python import state as sdk_state

from chaosdurable import DurableRunner
from chaosdurable.engine import speedups


@durable_execution
def three_steps(event: int, context: DurableContext) -> int:
    total = event
    for i in range(3):
        total = context.step(lambda _, t=total, k=i: t + k, name=f"add-{i}")
    return total


def test_installed_on_sdk_3() -> None:
    assert speedups.install() == {"wake_on_stop": "installed", "flush_sync_batches": "installed",
                                  "reuse_threads": "installed"}


def test_thread_reuse_only_while_active() -> None:
    from aws_durable_execution_sdk_python import execution

    speedups.install()
    with speedups.active(False):
        pool = execution.ThreadPoolExecutor(max_workers=1)
        assert type(pool).__name__ == "ThreadPoolExecutor"
        pool.shutdown()
    with speedups.active(True):
        pool = execution.ThreadPoolExecutor(max_workers=1)
        assert type(pool).__name__ == "_ReusingExecutor"
        future = pool.submit(lambda: 41 + 1)
        pool.shutdown(wait=True)
        assert future.result() == 42


def test_switch_restores_the_sdk_constant() -> None:
    original = sdk_state._BLOCKED_CALLER_WAIT_SECONDS
    with speedups.active(True):
        assert sdk_state._BLOCKED_CALLER_WAIT_SECONDS == 0.0
        with speedups.active(False):
            assert sdk_state._BLOCKED_CALLER_WAIT_SECONDS == original
    assert sdk_state._BLOCKED_CALLER_WAIT_SECONDS == original


def test_fast_and_faithful_histories_are_identical() -> None:
    fast = DurableRunner(three_steps).run(1)
    faithful = DurableRunner(three_steps, faithful=True).run(1)
    assert fast.result == faithful.result == 4
    assert fast.history_json() == faithful.history_json()
