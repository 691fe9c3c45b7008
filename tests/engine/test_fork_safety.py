"""A process forked from one that ran executions (``chaosdurable run --workers``) gets a working engine:
the parent's idle pool threads and zygotes are not inherited as if they were its own."""

from __future__ import annotations

import os

from chaosdurable import DurableRunner
from chaosdurable.engine import forkserver
from chaosdurable.engine.threads import IDLE_THREADS
from tests.checks import handlers


def test_a_forked_child_runs_executions_at_once() -> None:
    assert DurableRunner(handlers.two_steps).run(None).result == 3  # leaves idle pool threads behind
    assert IDLE_THREADS._idle, "the parent keeps idle threads to reuse"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: without the at-fork reset, a job handed to a parent's thread never runs
        code = 1
        try:
            fresh = not IDLE_THREADS._idle and not forkserver._zygotes
            result = DurableRunner(handlers.two_steps, hang_timeout=5).run(None)
            code = 0 if fresh and result.result == 3 else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(code)
    os.close(write)
    status = os.read(read, 1)
    os.waitpid(pid, 0)
    assert status == b"\x00"
