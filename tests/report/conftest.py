"""A ``RunReport`` built from REAL verdicts: buggy handlers under the faults that break them, and a correct one."""

from __future__ import annotations

from collections import Counter

import pytest

from chaosdurable import CheckpointApiError, CrashAfterEffect, CrashAtCheckpoint, FaultSchedule, check
from chaosdurable.report.model import RunReport, TargetReport
from tests.checks import handlers as h


def _coverage(*verdicts: object) -> dict[tuple[str, str], int]:
    counts: Counter[tuple[str, str]] = Counter()
    for verdict in verdicts:
        for firing in verdict.fired:  # type: ignore[attr-defined]
            fault = firing.fault
            target = getattr(fault, "op", None) or getattr(fault, "effect", None) or "invocation"
            counts[(str(target), fault.kind)] += 1
    return dict(counts)


def build_run_report() -> RunReport:
    """Four targets: an e-mail outside a step and a double charge (planted, caught), a double SQS send
    (unexpected), a correct order under ten single faults."""
    email = check(h.emails_outside_step, {}, FaultSchedule((CrashAtCheckpoint(op="finish", action="START"),)))
    charge = check(h.charges_at_least_once, {}, FaultSchedule((CrashAfterEffect(effect="charge"),)))
    sqs = check(h.enqueues_at_least_once, {}, FaultSchedule((CrashAtCheckpoint(op="enqueue", action="SUCCEED"),)),
                setup=h.setup_world)
    clean_faults = [CrashAtCheckpoint(op=op, action=action) for op in ("validate", "charge", "ship")
                    for action in ("START", "SUCCEED")]
    clean_faults += [CheckpointApiError(op="validate", action="SUCCEED", error="throttle"),
                     CheckpointApiError(op="ship", action="START", error="server_error"),
                     CrashAfterEffect(effect="charge"), CrashAfterEffect(effect="ship")]
    clean = [check(h.clean_order, {"id": "o-1"}, FaultSchedule((fault,))) for fault in clean_faults]
    assert not email.ok and not charge.ok and not sqs.ok and all(v.ok for v in clean)
    return RunReport(
        targets=[
            TargetReport(name="zoo/email-outside-step", handler="tests.checks.handlers:emails_outside_step",
                         expected="fail", description="an e-mail sent from handler code, outside any step",
                         examples=9, invocations=27, faults_injected=8, elapsed_s=0.6,
                         coverage=_coverage(email), failures=[email]),
            TargetReport(name="zoo/double-charge", handler="tests.checks.handlers:charges_at_least_once",
                         expected="fail", description="a non-idempotent charge in an at-least-once step",
                         examples=12, invocations=30, faults_injected=11, elapsed_s=0.8,
                         coverage=_coverage(charge), failures=[charge]),
            TargetReport(name="orders/enqueue", handler="tests.checks.handlers:enqueues_at_least_once",
                         examples=7, invocations=15, faults_injected=7, elapsed_s=0.5,
                         coverage=_coverage(sqs), failures=[sqs]),
            TargetReport(name="orders/clean", handler="tests.checks.handlers:clean_order", expected="pass",
                         description="every effect inside a step, idempotent", examples=len(clean),
                         invocations=sum(len(v.chaotic.invocations) for v in clean),
                         faults_injected=sum(len(v.fired) for v in clean), elapsed_s=1.2,
                         coverage=_coverage(*clean)),
        ],
        seed=0, backend="inprocess", profile="ci", elapsed_s=2.5, command="chaosdurable run --profile ci")


@pytest.fixture(scope="session")
def run_report() -> RunReport:
    """The real ``RunReport`` (checks run once per session)."""
    return build_run_report()
