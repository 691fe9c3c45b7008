"""The liveness lead (issue 14 §3.5, docs/sdk-versions.md): step ``a``, a 35-second wait, step ``b``, and a
crash just after ``a``'s checkpoint was persisted, over backends, modes, seeds and handler variants.

Run it with the SDK under test, e.g. in a version environment (noxfile.py)::

    PYTHONPATH=.:scripts .nox/versions-2.1.0/bin/python scripts/liveness_lead.py 0 1
    LEAD_MODES=subprocess,subprocess+faithful LEAD_HANDLERS=a_wait_b,program \\
        PYTHONPATH=.:scripts .nox/versions-2.1.0/bin/python scripts/liveness_lead.py 2 3 4 5

Arguments are seeds (default 0 1 2). ``LEAD_MODES`` and ``LEAD_HANDLERS`` (comma-separated) narrow the
grid. One line per run; a run that is stuck or breaks an asserted invariant is marked ``<--``. The
handlers live in this module so that subprocess children can import them (``scripts`` on the path).
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from typing import Any

from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import Duration, StepConfig, StepSemantics


@durable_execution
def a_wait_b(event: Any, context: Any) -> str:
    first = context.step(lambda _: "a", name="a")
    context.wait(Duration.from_seconds(35), name="wait")
    return first + context.step(lambda _: "b", name="b")


@durable_execution
def a_wait_b_at_most_once(event: Any, context: Any) -> str:
    config = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)
    first = context.step(lambda _: "a", name="a", config=config)
    context.wait(Duration.from_seconds(35), name="wait")
    return first + context.step(lambda _: "b", name="b", config=config)


@durable_execution
def a_wait_b_in_parallel(event: Any, context: Any) -> Any:
    def branch(ctx: Any) -> str:
        first = ctx.step(lambda _: "a", name="a")
        ctx.wait(Duration.from_seconds(35), name="wait")
        return first + ctx.step(lambda _: "b", name="b")

    out = context.parallel([branch, lambda ctx: ctx.step(lambda _: "c", name="c")], name="par")
    out.throw_if_error()
    return out.get_results()


def main(seeds: list[int]) -> int:
    import liveness_lead as handlers  # this file as an importable module (subprocess children import it)

    from chaosdurable import CrashAtCheckpoint, FaultSchedule, check, sdk_compat
    from chaosdurable.backends import Subprocess
    from chaosdurable.checks import ALL_CHECKERS
    from chaosdurable.checks.sdk_invariants import SDK_INVARIANTS
    from chaosdurable.strategies.interpreter import program_check
    from chaosdurable.strategies.workflows import Program, Step, Wait

    checkers = {**{n: ALL_CHECKERS[n] for n in ("liveness", "resumption", "exactly_once")}, **SDK_INVARIANTS}
    print("SDK", sdk_compat.version(), flush=True)
    targets: list[tuple[str, Any, str | None]] = [
        ("a_wait_b", handlers.a_wait_b, "liveness_lead:a_wait_b"),
        ("a_wait_b_amo", handlers.a_wait_b_at_most_once, "liveness_lead:a_wait_b_at_most_once"),
        ("a_wait_b_in_parallel", handlers.a_wait_b_in_parallel, "liveness_lead:a_wait_b_in_parallel"),
        ("program", Program(body=(Step("a", 1), Wait("wait", 35), Step("b", 2)), input=0), None),
        ("program_amo", Program(body=(Step("a", 1, "AT_MOST_ONCE_PER_RETRY"), Wait("wait", 35), Step("b", 2)),
                                input=0), None),
    ]
    faults = [CrashAtCheckpoint(op="a", phase="after_persist"),
              CrashAtCheckpoint(op="a", action="START", phase="after_persist"),
              CrashAtCheckpoint(op="a", action="SUCCEED", phase="after_persist")]
    modes: dict[str, dict[str, Any]] = {
        "default": {}, "faithful": {"faithful": True}, "virtual_clock": {"virtual_clock": True},
        "threaded": {"threaded_branches": True}, "subprocess": {"backend": "subprocess"},
        "subprocess+faithful": {"backend": "subprocess", "faithful": True}}
    if os.environ.get("LEAD_MODES"):
        modes = {k: v for k, v in modes.items() if k in os.environ["LEAD_MODES"].split(",")}
    if os.environ.get("LEAD_HANDLERS"):
        targets = [t for t in targets if t[0] in os.environ["LEAD_HANDLERS"].split(",")]
    runs = bad = 0
    for (mode, options), fault, seed in itertools.product(modes.items(), faults, seeds):
        for name, handler, import_path in targets:
            kw = dict(options)
            if kw.get("backend") == "subprocess":
                kw["backend"] = Subprocess(faithful=kw.pop("faithful", False))
                if import_path:
                    kw["import_path"] = import_path
            started = time.monotonic()
            schedule = FaultSchedule([fault])
            if isinstance(handler, Program):
                verdict = program_check(handler, schedule, seed=seed, checkers=checkers, **kw)
            else:
                verdict = check(handler, {}, schedule, seed=seed, checkers=checkers, **kw)
            runs += 1
            status = "STUCK" if verdict.chaotic.stuck else verdict.chaotic.status
            flag = "" if verdict.ok and not verdict.chaotic.stuck else \
                "  <-- " + "; ".join(v.message[:160] for v in verdict.violations)
            bad += bool(flag)
            print(f"{mode:20} {name:21} seed={seed} {fault.describe()[:52]:52} fired={len(verdict.fired)} "
                  f"{status:9} invocations={len(verdict.chaotic.invocations):4} "
                  f"{time.monotonic() - started:5.2f}s{flag}", flush=True)
    print(f"runs={runs} bad={bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main([int(s) for s in sys.argv[1:]] or [0, 1, 2]))
