"""Conformance anchor: our conformance handlers on AWS's local runner, judged by our harness's rules.

What it does
------------
For every requirement of the AWS conformance suite (``aws-durable-execution-conformance-tests==1.0.0``,
155 requirements) it takes OUR handler for it (``tests/conformance/handlers/<category>.py`` ``CASES``)
and runs it twice:

- ``aws``  -- on AWS's ``aws_durable_execution_sdk_python_testing.runner.DurableFunctionTestRunner``
  (``skip_time=True``, ``poll_interval=0.01``); invoke targets are registered with
  ``register_durable_function`` when ``@durable_execution``-decorated, else ``register_function``;
- ``ours`` -- on our engine through ``chaosdurable.conformance.run_requirement`` (the conformance test's
  harness, default fast mode, subprocess mode for crash requirements).

Both are judged with the SAME rules: ``match_history`` (the suite's official history rules), the
harness's ``_check_result`` (ExecutionStatus + Result) and ``strict_extras`` (our stricter reading:
no unlisted event between or after the listed ones). ``ExpectedLogs`` is checked for ``ours`` only:
AWS's runner has no log capture, so logs are "not checked" there.

Driving AWS's runner
--------------------
The execution is started with ``run_async`` (the requirement's ``Input``, variables substituted with
the same seeded ``Bindings`` as our harness; execution timeout 31 622 400 s as in our harness). The
script then polls: when the execution is not finished, it reads ``get_execution_history`` and answers
each ``CallbackStarted`` (by its ``Name``, matched against ``CallbackActions`` as the harness does) once
the invocation that created it has completed (the rule AWS's own ``wait_for_callback`` uses).
AWS's runner has no virtual clock for callback answers, so an action's ``Delay`` is slept in REAL
seconds, capped at ``--delay-cap`` (1 s); callback timeouts and heartbeat timeouts are real seconds on
that runner too, while ``skip_time`` skips durable waits and retry delays: a callback that should
resolve or time out during a wait therefore lands after it there. Each requirement is bounded in
real time (``--bound``, 30 s); a run that does not finish in time is reported as a timeout and
abandoned (its runner is closed in the background); ``--budget`` bounds the whole AWS phase.
Requirements whose ``Case`` has ``subprocess=True`` need a real process crash and are reported as
"not runnable on the local runner". Any exception from the runner is caught and reported for that
requirement only; the rest still run.

How to run
----------
::

    python benchmarks/conformance_anchor.py                 # everything (a few minutes)
    python benchmarks/conformance_anchor.py -k callback     # requirements whose "category/id" contains it
    python benchmarks/conformance_anchor.py --verbose       # also list every failing requirement's errors
    python benchmarks/conformance_anchor.py --no-ours       # AWS's runner only
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import logging
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaosdurable.conformance import Requirement, load_suite, run_requirement  # noqa: E402
from chaosdurable.conformance.harness import _check_result, _name_matches  # noqa: E402
from chaosdurable.conformance.matching import Bindings, match_history, strict_extras  # noqa: E402
from chaosdurable.engine.invoker import is_durable_handler  # noqa: E402
from tests.conformance.case import Case  # noqa: E402

EXECUTION_TIMEOUT = 31_622_400
SEED = 0


@dataclass
class Verdict:
    """One requirement on one runner. ``state``: pass | fail | timeout | crash | skip | missing."""

    requirement: str
    state: str = "fail"
    errors: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""

    @property
    def official(self) -> bool:
        return self.state == "pass"

    @property
    def strict(self) -> bool:
        return self.state == "pass" and not self.extras


class _ResultView:
    """Gives ``_check_result`` the one method it calls, backed by AWS's executor."""

    def __init__(self, runner: DurableFunctionTestRunner) -> None:
        self._runner = runner

    def get_durable_execution(self, arn: str) -> dict[str, Any]:
        return self._runner._executor.get_execution_details(arn).to_dict()


def _events(runner: DurableFunctionTestRunner, arn: str) -> list[dict[str, Any]]:
    return list(runner.get_execution_history(arn, include_execution_data=True).to_dict().get("Events") or [])


def _ready(events: list[dict[str, Any]], index: int) -> bool:
    """AWS's rule: a callback can be answered once the invocation that created it has completed."""
    return any(e.get("EventType") == "InvocationCompleted" for e in events[index + 1:])


class _AwsDriver:
    """Runs one requirement on AWS's runner and answers its callbacks."""

    def __init__(self, requirement: Requirement, case: Case, deadline: float, delay_cap: float) -> None:
        self.requirement = requirement
        self.case = case
        self.deadline = deadline
        self.delay_cap = delay_cap
        self.bindings = Bindings(SEED)
        self.bindings.define(requirement.data.get("Variables"))
        self.actions = [self.bindings.substitute(a) for a in requirement.data.get("CallbackActions") or []]
        self.used: set[int] = set()
        self.handled: set[str] = set()
        self.errors: list[str] = []
        self.runner: DurableFunctionTestRunner | None = None
        self.arn: str | None = None
        self.finished = False
        self.delays_capped = 0

    def run(self) -> None:
        self.runner = DurableFunctionTestRunner(self.case.handler, poll_interval=0.01, skip_time=True)
        for name, target in self.case.targets.items():
            if is_durable_handler(target):
                self.runner.register_durable_function(name, target)
            else:
                self.runner.register_function(name, target)
        payload = json.dumps(self.bindings.substitute(self.requirement.data.get("Input")))
        self.arn = self.runner.run_async(input=payload, execution_timeout=EXECUTION_TIMEOUT)
        # Poll the store: the executor's wait_until_complete drops its completion event after the first
        # wait that times out, so it cannot be polled.
        executor = self.runner._executor
        while time.monotonic() < self.deadline:
            if executor.get_execution(self.arn).is_complete:
                self.finished = True
                return
            self._answer_one_callback()
            time.sleep(0.01)

    def _answer_one_callback(self) -> None:
        assert self.runner is not None and self.arn is not None
        events = _events(self.runner, self.arn)
        for index, event in enumerate(events):
            if event.get("EventType") != "CallbackStarted":
                continue
            cb_id = (event.get("CallbackStartedDetails") or {}).get("CallbackId")
            if not cb_id or cb_id in self.handled or not _ready(events, index):
                continue
            name = event.get("Name") or ""
            found = next((i for i, a in enumerate(self.actions)
                          if i not in self.used and _name_matches(str(a.get("CallbackName")), name)), None)
            if found is None:
                self.handled.add(cb_id)
                if self.actions:
                    self.errors.append(f"no CallbackAction matches callback {name!r}")
                return
            action = self.actions[found]
            self.used.add(found)
            operation = str(action.get("Operation", "success")).lower()
            if operation != "heartbeat":
                self.handled.add(cb_id)
            delay = float(action.get("Delay") or 0)
            if delay > self.delay_cap:
                self.delays_capped += 1
            time.sleep(max(0.0, min(delay, self.delay_cap, self.deadline - time.monotonic())))
            try:
                if operation == "success":
                    body = action.get("Payload")
                    self.runner.send_callback_success(cb_id, json.dumps(body).encode() if body is not None else None)
                elif operation == "failure":
                    self.runner.send_callback_failure(cb_id, ErrorObject.from_dict(dict(action.get("Payload") or {})))
                else:
                    self.runner.send_callback_heartbeat(cb_id)
            except Exception as exc:  # the runner's rejection is the finding
                self.errors.append(f"callback action {operation} for {name!r} was rejected: {type(exc).__name__}: "
                                   f"{str(exc)[:160]}")
            return

    def judge(self) -> Verdict:
        assert self.runner is not None and self.arn is not None
        spec = self.requirement.data
        verdict = Verdict(self.requirement.id)
        events = _events(self.runner, self.arn)
        expected = spec.get("ExpectedExecutionHistory") or []
        verdict.errors = list(self.errors)
        verdict.errors += match_history(expected, events, self.bindings)
        verdict.extras = strict_extras(expected, events)
        verdict.errors += _check_result(spec.get("ExpectedResult"), _ResultView(self.runner), self.arn, self.bindings)
        verdict.state = "pass" if not verdict.errors else "fail"
        return verdict

    def close(self) -> None:
        if self.runner is not None:
            with contextlib.suppress(Exception):
                self.runner.close()


def _close_in_background(driver: _AwsDriver, wait: float) -> None:
    closer = threading.Thread(target=driver.close, daemon=True)
    closer.start()
    closer.join(wait)


def run_on_aws(requirement: Requirement, case: Case, bound: float, delay_cap: float) -> Verdict:
    """One requirement on AWS's runner, bounded by ``bound`` real seconds."""
    if case.subprocess:
        return Verdict(requirement.id, "skip", note="not runnable on the local runner (needs a real process crash)")
    start = time.monotonic()
    driver = _AwsDriver(requirement, case, start + bound, delay_cap)
    failure: list[BaseException] = []

    def body() -> None:
        try:
            driver.run()
        except BaseException as exc:  # reported per requirement
            failure.append(exc)

    worker = threading.Thread(target=body, daemon=True, name=f"anchor-{requirement.id}")
    worker.start()
    worker.join(bound + 5)
    verdict = _aws_verdict(requirement, driver, failure, worker.is_alive(), bound)
    verdict.seconds = time.monotonic() - start
    _close_in_background(driver, 5.0)
    return verdict


def _aws_verdict(requirement: Requirement, driver: _AwsDriver, failure: list[BaseException], alive: bool,
                 bound: float) -> Verdict:
    if failure:
        exc = failure[0]
        return Verdict(requirement.id, "crash", [f"runner error: {type(exc).__name__}: {str(exc)[:200]}"])
    if alive or not driver.finished:
        verdict = Verdict(requirement.id, "timeout", [f"timed out: not finished within {bound:g} s real time"])
        verdict.errors += driver.errors
        return verdict
    try:
        verdict = driver.judge()
    except Exception as exc:
        return Verdict(requirement.id, "crash", [f"judging error: {type(exc).__name__}: {str(exc)[:200]}"])
    if driver.delays_capped:
        verdict.note = f"{driver.delays_capped} callback Delay(s) capped at {driver.delay_cap:g} s"
    return verdict


def run_on_ours(requirement: Requirement, case: Case) -> Verdict:
    """One requirement on our engine, through the conformance harness (logs included)."""
    start = time.monotonic()
    try:
        outcome = run_requirement(requirement, case.handler, case.targets,
                                  mode="subprocess" if case.subprocess else "inprocess",
                                  execution_timeout=case.execution_timeout, seed=SEED)
    except Exception as exc:
        return Verdict(requirement.id, "crash", [f"engine error: {type(exc).__name__}: {str(exc)[:200]}"],
                       seconds=time.monotonic() - start)
    return Verdict(requirement.id, "pass" if outcome.passed else "fail", list(outcome.errors),
                   list(outcome.extra_events), time.monotonic() - start)


_PATH_ERROR = re.compile(r"^Event\[(\d+)\]((?:\.[A-Za-z]+|\[\d+\])*): (.*)$", re.DOTALL)


def reasons(verdict: Verdict, events_expected: list[dict[str, Any]]) -> set[str]:
    """The distinct failure reasons of one verdict, in short comparable form."""
    types = {e.get("EventId"): e.get("EventType") for e in events_expected}
    out: set[str] = set()
    for error in verdict.errors:
        m = _PATH_ERROR.match(error)
        if m:
            path = re.sub(r"\[\d+\]", "[]", m.group(2)).lstrip(".")
            message = m.group(3)
            etype = types.get(int(m.group(1))) or "event"
            if message == "missing":
                out.add(f"missing {path}" if "." in path else f"missing {path} (on {etype})")
            elif message.startswith("no such event"):
                out.add("history shorter than expected (expected event absent)")
            elif path == "EventType":
                out.add("event order/type differs from expected")
            else:
                out.add(f"{path} value differs" if path else "event differs")
        elif error.startswith("expected ExecutionStatus"):
            out.add("wrong ExecutionStatus")
        elif error.startswith("expected Result"):
            out.add("wrong Result")
        elif error.startswith("timed out"):
            out.add("timed out (real-time bound)")
        elif error.startswith("ExpectedLogs"):
            out.add("ExpectedLogs not satisfied")
        elif error.startswith("callback action"):
            out.add("callback action rejected by the runner")
        elif error.startswith("no CallbackAction"):
            out.add("callback name matches no CallbackAction")
        else:
            out.add(error.split(":")[0][:80])
    return out


def _table(suite: list[Requirement], results: dict[str, dict[str, Verdict]], runners: list[str]) -> None:
    categories = sorted({r.category for r in suite})
    header = f"{'category':<20}{'reqs':>5}"
    for name in runners:
        header += f" | {name + ' official':>13}{'strict':>7}{'fail':>5}{'t/o':>4}{'crash':>6}{'skip':>5}"
    print(header)
    print("-" * len(header))
    rows = [(c, [r for r in suite if r.category == c]) for c in categories] + [("TOTAL", suite)]
    for label, reqs in rows:
        if label == "TOTAL":
            print("-" * len(header))
        line = f"{label:<20}{len(reqs):>5}"
        for name in runners:
            vs = [results[name][f"{r.category}/{r.id}"] for r in reqs]
            line += (f" | {sum(v.official for v in vs):>13}{sum(v.strict for v in vs):>7}"
                     f"{sum(v.state in ('fail', 'missing') for v in vs):>5}{sum(v.state == 'timeout' for v in vs):>4}"
                     f"{sum(v.state == 'crash' for v in vs):>6}{sum(v.state == 'skip' for v in vs):>5}")
        print(line)


def _top_reasons(suite: list[Requirement], verdicts: Mapping[str, Verdict], top: int) -> list[tuple[str, int]]:
    counter: Counter[str] = Counter()
    for r in suite:
        v = verdicts[f"{r.category}/{r.id}"]
        if v.state in ("fail", "timeout", "crash", "missing"):
            counter.update(reasons(v, r.data.get("ExpectedExecutionHistory") or []))
    return counter.most_common(top)


def _sole_reasons(suite: list[Requirement], verdicts: Mapping[str, Verdict]) -> Counter[str]:
    counter: Counter[str] = Counter()
    for r in suite:
        v = verdicts[f"{r.category}/{r.id}"]
        if v.state in ("fail", "timeout", "crash", "missing"):
            found = reasons(v, r.data.get("ExpectedExecutionHistory") or [])
            if len(found) == 1:
                counter.update(found)
    return counter


def _extra_kinds(suite: list[Requirement], verdicts: Mapping[str, Verdict]) -> Counter[str]:
    counter: Counter[str] = Counter()
    for r in suite:
        v = verdicts[f"{r.category}/{r.id}"]
        if v.state == "pass" and v.extras:
            counter.update({re.sub(r"^Event\[\d+\] ", "", e) for e in v.extras})
    return counter


def _quiet() -> Callable[[], None]:
    """Silence AWS's runner/SDK loggers (they log every failed execution at ERROR) and stray prints."""
    names = ["aws_durable_execution_sdk_python_testing", "aws_durable_execution_sdk_python"]
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in names]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL + 1)

    def restore() -> None:
        for logger, level in saved:
            logger.setLevel(level)

    return restore


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="only requirements whose 'category/id' contains this")
    parser.add_argument("--bound", type=float, default=30.0, help="real seconds per requirement on AWS's runner")
    parser.add_argument("--delay-cap", type=float, default=1.0, help="cap on a CallbackAction Delay, real seconds")
    parser.add_argument("--budget", type=float, default=540.0,
                        help="real seconds for the AWS phase; requirements left when it runs out are not run")
    parser.add_argument("--no-ours", action="store_true", help="skip the run on our engine")
    parser.add_argument("--top", type=int, default=12, help="how many failure reasons to list")
    parser.add_argument("--verbose", action="store_true", help="list every failing requirement with its errors")
    args = parser.parse_args()

    suite = [r for r in load_suite() if args.k in f"{r.category}/{r.id}"]
    cases: dict[str, dict[str, Case]] = {}
    for category in sorted({r.category for r in suite}):
        try:
            cases[category] = dict(importlib.import_module(f"tests.conformance.handlers.{category}").CASES)
        except ModuleNotFoundError:
            cases[category] = {}
    runners = ["aws"] if args.no_ours else ["aws", "ours"]
    results: dict[str, dict[str, Verdict]] = {name: {} for name in runners}

    print(f"{len(suite)} requirements. AWS runner: DurableFunctionTestRunner(skip_time=True, poll_interval=0.01), "
          f"{args.bound:g} s real-time bound each, callback Delay slept in REAL seconds capped at "
          f"{args.delay_cap:g} s, ExpectedLogs not checked (no log capture).", flush=True)
    restore = _quiet()
    phase_start = time.monotonic()
    try:
        for r in suite:
            key = f"{r.category}/{r.id}"
            case = cases[r.category].get(r.id)
            if case is None:
                results["aws"][key] = Verdict(r.id, "missing", ["no handler written"])
                continue
            if time.monotonic() - phase_start > args.budget:
                results["aws"][key] = Verdict(r.id, "timeout", ["timed out: AWS phase budget exhausted, not run"])
                continue
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink):
                verdict = run_on_aws(r, case, args.bound, args.delay_cap)
            results["aws"][key] = verdict
            if verdict.state in ("timeout", "crash"):
                print(f"  aws {key}: {verdict.state} ({verdict.errors[0]})", flush=True)
    finally:
        restore()
    aws_seconds = time.monotonic() - phase_start
    print(f"AWS runner phase: {aws_seconds:.1f} s", flush=True)

    if not args.no_ours:
        ours_start = time.monotonic()
        for r in suite:
            key = f"{r.category}/{r.id}"
            case = cases[r.category].get(r.id)
            if case is None:
                results["ours"][key] = Verdict(r.id, "missing", ["no handler written"])
                continue
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink):
                results["ours"][key] = run_on_ours(r, case)
        print(f"our engine phase: {time.monotonic() - ours_start:.1f} s", flush=True)

    print()
    print("Per category (official = suite's history + result rules [+ ExpectedLogs for ours only]; "
          "strict = official and no strict_extras):")
    _table(suite, results, runners)

    aws = results["aws"]
    runnable = [r for r in suite if aws[f"{r.category}/{r.id}"].state != "skip"]
    skipped = [f"{r.category}/{r.id}" for r in suite if aws[f"{r.category}/{r.id}"].state == "skip"]
    capped = sum(1 for v in aws.values() if "capped" in v.note)
    print()
    print("TOTALS")
    for name in runners:
        vs = results[name]
        n_off = sum(v.official for v in vs.values())
        n_strict = sum(v.strict for v in vs.values())
        n_fail = sum(v.state in ("fail", "missing") for v in vs.values())
        n_to = sum(v.state == "timeout" for v in vs.values())
        n_crash = sum(v.state == "crash" for v in vs.values())
        n_skip = sum(v.state == "skip" for v in vs.values())
        label = "AWS DurableFunctionTestRunner" if name == "aws" else "chaosdurable (ours)"
        print(f"  {label:<30} official pass {n_off}/{len(vs)}, strict pass {n_strict}/{len(vs)}, "
              f"fail {n_fail}, timeout {n_to}, crash {n_crash}, not runnable {n_skip}")
        if name == "ours":
            same = [f"{r.category}/{r.id}" for r in runnable]
            print(f"  {'chaosdurable on the same ' + str(len(same)):<30} official pass "
                  f"{sum(vs[k].official for k in same)}/{len(same)}, strict pass {sum(vs[k].strict for k in same)}"
                  f"/{len(same)} (only the requirements AWS's runner can run)")
    print(f"  not runnable on the local runner (subprocess=True, real crash): {', '.join(skipped) or 'none'}")
    print(f"  ExpectedLogs: not checked on AWS's runner (no log capture); checked for ours. "
          f"Callback Delay capped at {args.delay_cap:g} s real time in {capped} requirement(s).")
    print("  Mixed clocks on AWS's runner: skip_time skips durable waits and retry delays, but callback answers "
          "(Delay) and callback Timeout/HeartbeatTimeout run in real seconds, so a callback that should resolve "
          "or time out DURING a wait lands after it there (event order differs).")

    for name in runners:
        print()
        print(f"Top failure reasons on {name} (number of requirements affected):")
        top = _top_reasons(suite, results[name], args.top)
        for reason, count in top:
            print(f"  {count:>4}  {reason}")
        if not top:
            print("     -  none")
        sole = _sole_reasons(suite, results[name])
        if sole:
            print(f"  requirements failing for ONE reason only on {name}:")
            for reason, count in sole.most_common(6):
                print(f"  {count:>4}  {reason}")
        extras = _extra_kinds(suite, results[name])
        if extras:
            print(f"  strict_extras among official passes on {name} (number of requirements):")
            for kind, count in extras.most_common(6):
                print(f"  {count:>4}  {kind}")

    if args.verbose:
        for name in runners:
            print()
            print(f"Failing requirements on {name}:")
            for r in suite:
                v = results[name][f"{r.category}/{r.id}"]
                if v.state in ("fail", "timeout", "crash", "missing"):
                    print(f"  {r.category}/{r.id} [{v.state}, {v.seconds:.1f} s]")
                    for e in v.errors[:6]:
                        print(f"      {e[:200]}")
    sys.stdout.flush()
    # Abandoned (timed-out) runners may still hold non-daemon threads: leave without waiting for them.
    os._exit(0)


if __name__ == "__main__":
    main()
