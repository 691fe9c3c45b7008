"""Fidelity under load: the conformance suite in every mode while the CPU is saturated.

Usage::

    python benchmarks/conformance_under_load.py [--burners N] [--modes subprocess,fast,faithful] [-k step/]

It starts ``N`` busy-looping processes (default: two per core, each stopping by itself after
``--burn-seconds``), then runs every requirement of the AWS conformance suite with our handlers
(``tests/conformance/handlers``) in each mode, every requirement in subprocess mode included,
and the issue-8 repro (a real 1.5 s stall before a 1 s wait). It prints one line per failure
and a summary per mode. Virtual time must not depend on load: every line should read 155/155,
and the repro must take two invocations.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _burn(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    x = 0
    while time.monotonic() < deadline:
        x = (x * 31 + 7) % 1_000_003


def _stall_repro(mode: str) -> list[str]:
    from chaosdurable.engine import DurableRunner
    from tests.engine.handlers_stall import stall_then_wait

    result = DurableRunner(stall_then_wait, mode="inprocess" if mode != "subprocess" else "subprocess",
                           faithful=mode == "faithful").run(None)
    return [e["EventType"] for e in result.history]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burners", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--burn-seconds", type=float, default=900.0)
    parser.add_argument("--modes", default="subprocess,fast,faithful")
    parser.add_argument("-k", default="", help="only requirements whose 'category/id' contains this")
    args = parser.parse_args()

    from chaosdurable.conformance import load_suite, run_requirement
    from tests.conformance.test_conformance import CASES

    burners = [multiprocessing.Process(target=_burn, args=(args.burn_seconds,), daemon=True)
               for _ in range(args.burners)]
    for p in burners:
        p.start()
    failures = 0
    try:
        print(f"{args.burners} CPU burners on {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
        suite = [r for r in load_suite() if args.k in f"{r.category}/{r.id}"]
        for mode in args.modes.split(","):
            began, passed = time.monotonic(), 0
            for requirement in suite:
                case = CASES[requirement.category][requirement.id]
                # The crash requirements (a real os._exit) always run in subprocess mode.
                in_child = mode == "subprocess" or case.subprocess
                kwargs: dict[str, Any] = {"mode": "subprocess" if in_child else "inprocess",
                                          "faithful": mode == "faithful"}
                outcome = run_requirement(requirement, case.handler, case.targets,
                                          execution_timeout=case.execution_timeout, **kwargs)
                if outcome.passed:
                    passed += 1
                else:
                    failures += 1
                    first = outcome.report().splitlines()[:3]
                    print(f"  FAIL {mode} {requirement.category}/{requirement.id}: {' | '.join(first)}", flush=True)
            print(f"{mode:>10}: {passed}/{len(suite)} strict in {time.monotonic() - began:.0f} s "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)
            events = _stall_repro(mode)
            between = events.index("InvocationCompleted") < events.index("WaitSucceeded")
            print(f"{mode:>10}: 1.5 s stall before a 1 s wait -> {events.count('InvocationCompleted')} invocations, "
                  f"InvocationCompleted before WaitSucceeded: {between}", flush=True)
            failures += 0 if between else 1
    finally:
        for p in burners:
            p.terminate()
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
