"""The zoo: every buggy handler is caught by the checker that owns its bug, at the right place;
every correct handler passes every checker under several fault schedules.

Buggy cases: a hand-written schedule that exposes the bug, and the checker that must
catch it. A violation must point at the bug: the operation's name (in ``violation.op`` or
its message) when the bug lives in an operation, or the ``# BUG:<tag>`` line of
``buggy.py`` (``violation.source``) when it lives in handler code outside steps.
Correct cases: ``v.ok`` with the report as the message, and every fault actually fired.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chaosdurable import (
    CallbackFault,
    CheckpointApiError,
    ColdStart,
    CrashAfterEffect,
    CrashAtCheckpoint,
    DuplicateInvocation,
    FaultSchedule,
    InvocationTimeout,
    LateTimer,
    TransientFailure,
    Verdict,
    check,
)
from chaosdurable.checks import ALL_CHECKERS
from chaosdurable.faults.schedule import Fault
from tests.zoo import buggy, correct
from tests.zoo import world as w

BUG_LINES: dict[str, int] = {
    m.group(1): number
    for number, line in enumerate(Path(buggy.__file__).read_text().splitlines(), start=1)
    if (m := re.search(r"# BUG:([\w-]+)", line))
}
ORDER = {"order_id": "ord-1", "items": [{"sku": "book-42", "qty": 1, "price": 30}]}
DUE_IN_A_DAY = time.time() + 86_400


class MissingLocation(Exception):
    """The checker caught the bug but its violation does not point at it."""


@dataclass(frozen=True)
class BugCase:
    """A buggy handler, the schedule that exposes its bug, and who must catch it where."""

    id: str
    handler: Callable[..., Any]
    input: Any
    faults: tuple[Fault, ...]
    catcher: str
    op: str | None = None
    line: str | None = None
    setup: Callable[[], None] | None = None
    callbacks: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    marks: tuple[Any, ...] = ()


BUGS = [
    # effects outside steps: the source line of the effect
    BugCase("signup-email-outside-step", buggy.signup_welcome_email, {"user": "ada@example.com"},
            (CrashAtCheckpoint(op="activate", action="SUCCEED"),), "effects_outside_steps",
            line="welcome-email", setup=w.users_and_mail),
    BugCase("approval-audit-write-outside-step", buggy.approve_order_audit, ORDER,
            (CrashAtCheckpoint(op="record-decision", action="SUCCEED", phase="after_persist"),),
            "effects_outside_steps", line="audit-row", setup=w.audit_table),
    BugCase("push-from-child-context", buggy.notify_from_child_context, {"customers": ["c1", "c2"]},
            (CrashAtCheckpoint(op="count", action="SUCCEED"),), "effects_outside_steps",
            op="notify-c1", line="push-in-child"),
    # clock, random, uuid, environment outside steps: the source line of the read
    BugCase("flash-sale-clock-branch", buggy.flash_sale_checkout, ORDER,
            (CrashAtCheckpoint(op="place-order", action="SUCCEED"),), "tripwire", line="flash-clock"),
    BugCase("survey-random-branch", buggy.survey_after_delivery, ORDER,
            (CrashAtCheckpoint(op="close-order", action="SUCCEED"),), "tripwire", line="survey-random"),
    BugCase("express-env-flag", buggy.express_shipping, ORDER,
            (CrashAtCheckpoint(op="pack", action="SUCCEED", phase="after_persist"),), "tripwire", line="env-flag",
            options={"tripwire": "strict"}),  # environment reads are flagged only when asked for
    BugCase("reserve-uuid-step-name", buggy.reserve_with_random_name, {"sku": "book-42"},
            (CrashAtCheckpoint(op="reserve-*", action="SUCCEED", phase="after_persist"),), "determinism",
            op="reserve-"),
    # at-least-once effects that double-apply
    BugCase("loyalty-add-crash-after-update", buggy.award_loyalty_points, {"customer": "cust-7", "points": 50},
            (CrashAfterEffect(effect="aws:dynamodb.UpdateItem", op="award-points"),), "idempotency",
            op="award-points", setup=w.accounts),
    BugCase("charge-crash-after-charge", buggy.charge_card, {"order_id": "ord-1", "amount": 30},
            (CrashAfterEffect(effect="charge"),), "idempotency", op="charge-card"),
    BugCase("charge-concurrent-duplicate", buggy.charge_card, {"order_id": "ord-1", "amount": 30},
            (DuplicateInvocation(invocation=1, concurrent=True),), "idempotency", op="charge-card"),
    BugCase("charge-checkpoint-5xx", buggy.charge_card, {"order_id": "ord-1", "amount": 30},
            (CheckpointApiError(error="server_error", op="charge-card", action="SUCCEED"),), "idempotency",
            op="charge-card"),
    BugCase("capture-at-most-once-retried", buggy.capture_payment_retried, {"order_id": "ord-1"},
            (CrashAfterEffect(effect="capture"),), "idempotency", op="capture-payment"),
    BugCase("shipment-sqs-crash-after-send", buggy.enqueue_shipment, {"order_id": "ord-1"},
            (CrashAfterEffect(effect="aws:sqs.SendMessage", op="enqueue-shipment"),), "idempotency",
            op="enqueue-shipment", setup=w.shipments),
    # state across replays
    BugCase("renewal-module-state-cold-start", buggy.tiered_renewal, {"customer": "cust-7", "tier": "gold"},
            (ColdStart(invocation=2),), "determinism", op="apply-gold-discount"),
    BugCase("reservation-event-mutation", buggy.bulk_reservation, {"items": ["book-42", "pen-7", "mug-3"]},
            (CrashAtCheckpoint(op="reserve-priority", action="SUCCEED", phase="after_persist"),), "determinism",
            op="reserve-book-42"),
    BugCase("reservation-event-mutation-429", buggy.bulk_reservation, {"items": ["book-42", "pen-7", "mug-3"]},
            (CheckpointApiError(error="throttle", op="reserve-pen-7", action="SUCCEED"),), "resumption"),
    # callbacks: an answer that arrives after the callback's timeout legitimately changes the outcome (the
    # nemesis declares it), so manager_approval's unhandled timeout is not reported; see buggy.py.
    # liveness
    BugCase("settlement-swallowed-failure", buggy.settle_payment, {"payment_id": "pay-3"},
            (TransientFailure(effect="aws:dynamodb.PutItem", op="request-settlement"),), "liveness",
            op="await-settlement", setup=w.payments, options={"max_invocations": 12}),
    # failing reads: a throttled GetItem taken for a missing item overwrites the subscription
    BugCase("subscription-read-failure-as-missing", buggy.activate_subscription, {"subscription": "sub-9"},
            (TransientFailure(effect="aws:dynamodb.GetItem", op="activate"),), "idempotency", op="activate",
            setup=w.subscriptions),
]


def _check(handler: Callable[..., Any], input: Any, faults: tuple[Fault, ...], **kwargs: Any) -> Verdict:
    return check(handler, input, FaultSchedule(faults), **kwargs)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in BUGS])
def test_bug_is_caught(case: BugCase) -> None:
    assert case.catcher in ALL_CHECKERS
    v = _check(case.handler, case.input, case.faults, setup=case.setup, callbacks=case.callbacks, **case.options)
    assert not v.not_reached, v.report()
    found = v.by_checker(case.catcher)
    assert found, f"{case.catcher} did not catch the bug\n{v.report()}"
    if case.line is not None:
        want = f"buggy.py:{BUG_LINES[case.line]}"
        if not any((x.source or "").endswith(want) for x in found):
            raise MissingLocation(f"no {case.catcher} violation points at {want}\n{v.report()}")
    if case.op is not None and not any(case.op in (x.op or "") or case.op in x.message for x in found):
        raise MissingLocation(f"no {case.catcher} violation names operation {case.op!r}\n{v.report()}")


def test_every_bug_is_marked_once() -> None:
    tags = [c.line for c in BUGS if c.line]
    assert set(tags) <= set(BUG_LINES)
    handlers = {name for name, obj in vars(buggy).items() if callable(obj) and obj.__doc__ and "BUG:" in obj.__doc__}
    assert handlers == {c.handler.__name__ for c in BUGS}


@dataclass(frozen=True)
class GoodCase:
    """A correct handler and the schedules under which every checker must stay quiet."""

    handler: Callable[..., Any]
    input: Any
    schedules: dict[str, tuple[Fault, ...]]
    setup: Callable[[], None] | None = None


GOOD = [
    GoodCase(correct.signup, {"user": "ada@example.com"}, {
        "crash-after-ses-send": (CrashAfterEffect(effect="aws:ses.SendEmail", op="send-welcome"),),
        "crash-after-put-user": (CrashAfterEffect(effect="aws:dynamodb.PutItem", op="create-user"),),
        "crash-before-activate-persisted": (CrashAtCheckpoint(op="activate", action="SUCCEED"),),
        "concurrent-duplicate": (DuplicateInvocation(invocation=1, concurrent=True),),
    }, w.users_and_mail),
    GoodCase(correct.award_loyalty_points, {"customer": "cust-7", "points": 50, "txn": "txn-1"}, {
        "crash-after-update": (CrashAfterEffect(effect="aws:dynamodb.UpdateItem", op="award-points"),),
        "checkpoint-5xx-on-succeed": (CheckpointApiError(error="server_error", op="award-points", action="SUCCEED"),),
        "timeout-zombie-on-succeed": (InvocationTimeout(op="award-points", action="SUCCEED"),),
    }, w.accounts),
    GoodCase(correct.charge_card, {"order_id": "ord-1", "amount": 30}, {
        "crash-after-charge": (CrashAfterEffect(effect="charge"),),
        "concurrent-duplicate": (DuplicateInvocation(invocation=1, concurrent=True),),
        "crash-after-succeed-persisted": (
            CrashAtCheckpoint(op="charge-card", action="SUCCEED", phase="after_persist"),),
        "stale-token": (CheckpointApiError(error="stale_token", op="send-receipt"),),
        "charge-fails-once": (TransientFailure(effect="charge"),),
    }),
    GoodCase(correct.capture_payment, {"order_id": "ord-1"}, {
        "crash-after-validate-persisted": (CrashAtCheckpoint(op="validate", action="SUCCEED", phase="after_persist"),),
        "checkpoint-429-on-capture-start": (
            CheckpointApiError(error="throttle", op="capture-payment", action="START"),),
        "checkpoint-5xx-on-capture-start": (
            CheckpointApiError(error="server_error", op="capture-payment", action="START"),),
        "crash-before-ledger-persisted": (CrashAtCheckpoint(op="book-ledger", action="SUCCEED"),),
        "redelivered-after-end": (DuplicateInvocation(invocation=1, concurrent=False),),
        "concurrent-duplicate": (DuplicateInvocation(invocation=1, concurrent=True),),
    }),
    GoodCase(correct.enqueue_shipment, {"order_id": "ord-1"}, {
        "crash-after-send": (CrashAfterEffect(effect="aws:sqs.SendMessage", op="enqueue-shipment"),),
        "concurrent-duplicate": (DuplicateInvocation(invocation=1, concurrent=True),),
        "crash-before-succeed-persisted": (CrashAtCheckpoint(op="enqueue-shipment", action="SUCCEED"),),
    }, w.shipments),
    GoodCase(correct.tiered_renewal, {"customer": "cust-7", "tier": "gold"}, {
        "cold-start": (ColdStart(invocation=2),),
        "late-timer": (LateTimer(op="grace-period", seconds=600),),
        "crash-after-wait-start-persisted": (
            CrashAtCheckpoint(op="grace-period", action="START", phase="after_persist"),),
        "concurrent-duplicate-of-resume": (DuplicateInvocation(invocation=2, concurrent=True),),
    }),
    GoodCase(correct.dunning_reminder, {"due_epoch": DUE_IN_A_DAY, "invoice": "inv-9"}, {
        "late-timer": (LateTimer(op="until-due", seconds=3600),),
        "crash-after-wait-start-persisted": (CrashAtCheckpoint(op="until-due", action="START", phase="after_persist"),),
        "redelivered-resume": (DuplicateInvocation(invocation=2, concurrent=False),),
        "cold-start": (ColdStart(invocation=2),),
    }),
    GoodCase(correct.bulk_reservation, {"order_id": "ord-1", "items": ["book-42", "pen-7", "mug-3"]}, {
        "crash-after-first-succeed-persisted": (
            CrashAtCheckpoint(op="reserve-book-42", action="SUCCEED", phase="after_persist"),),
        "crash-after-put": (CrashAfterEffect(effect="aws:dynamodb.PutItem", op="reserve-pen-7"),),
        "concurrent-duplicate": (DuplicateInvocation(invocation=1, concurrent=True),),
    }, w.inventory),
    GoodCase(correct.manager_approval, {"claim": "exp-5"}, {
        "callback-late-within-timeout": (CallbackFault(behaviour="delay", op="manager-approval", seconds=7200),),
        "callback-duplicate": (CallbackFault(behaviour="duplicate", op="manager-approval"),),
        "callback-after-end": (CallbackFault(behaviour="after_end", op="manager-approval"),),
        "callback-failure": (CallbackFault(behaviour="failure", op="manager-approval"),),
        "callback-after-timeout": (CallbackFault(behaviour="after_timeout", op="manager-approval"),),
        "crash-after-callback-start-persisted": (
            CrashAtCheckpoint(op="manager-approval", action="START", phase="after_persist"),),
        "concurrent-duplicate-of-resume": (DuplicateInvocation(invocation=2, concurrent=True),),
    }),
    GoodCase(correct.settle_payment, {"payment_id": "pay-3"}, {
        "put-fails-once": (TransientFailure(effect="aws:dynamodb.PutItem", op="request-settlement"),),
        "crash-after-put": (CrashAfterEffect(effect="aws:dynamodb.PutItem", op="request-settlement"),),
        "late-retry-timer": (TransientFailure(effect="aws:dynamodb.PutItem"),
                             LateTimer(op="request-settlement", seconds=30)),
    }, w.payments),
    GoodCase(correct.activate_subscription, {"subscription": "sub-9"}, {
        "read-fails-once": (TransientFailure(effect="aws:dynamodb.GetItem", op="activate"),),
        "read-fails-twice": (TransientFailure(effect="aws:dynamodb.GetItem", attempt=1),
                             TransientFailure(effect="aws:dynamodb.GetItem", attempt=2)),
        "crash-after-update": (CrashAfterEffect(effect="aws:dynamodb.UpdateItem", op="activate"),),
        "concurrent-duplicate": (DuplicateInvocation(invocation=1, concurrent=True),),
    }, w.subscriptions),
]


@pytest.mark.parametrize("case, faults", [
    pytest.param(c, faults, id=f"{c.handler.__name__}-{label}")
    for c in GOOD for label, faults in c.schedules.items()
])
def test_correct_handler_passes(case: GoodCase, faults: tuple[Fault, ...]) -> None:
    v = _check(case.handler, case.input, faults, setup=case.setup)
    assert v.ok, v.report()
    assert not v.not_reached, v.report()
    assert len(v.fired) == len(faults), v.report()


def test_every_correct_handler_has_three_schedules() -> None:
    assert len(GOOD) >= 8
    assert all(len(c.schedules) >= 3 for c in GOOD)
