"""What the service has told the SDK about when each pending timer is due, in real time.

Contract:
- The virtual clock stands still during an invocation (see ``clock``), but the SDK waits
  for timers on the real clock: a ``map``/``parallel`` coordinator resumes a branch in-process
  once ``time.time()`` passes the branch's resume time, and asks the service for fresh state.
- ``TimerPromises.note`` records, for every operation sent in a response, the real second
  at which that response said the operation's timer is due (a retrying step's
  ``NextAttemptTimestamp``, a started wait's ``ScheduledEndTimestamp``).
- ``TimerPromises.overdue`` names the operations whose promised real time has passed while
  their timer is still pending on the virtual clock. The service re-sends those with a fresh
  mapping, so the SDK never sees a pending timer in its past: otherwise it would resume the
  branch, find the step still pending at a past timestamp and resume it again at once, forever.
- Promises are per execution and per invocation: ``forget`` drops them when the invocation ends
  (the next one receives every operation afresh).
"""

from __future__ import annotations

from chaosdurable.engine.clock import SdkFrame
from chaosdurable.engine.operations import OpRecord


def pending_due_ms(op: OpRecord) -> int | None:
    """The virtual time at which ``op``'s own timer fires, or None when it has no pending timer."""
    if op.type == "STEP" and op.status == "PENDING":
        return op.next_attempt_ms
    if op.type == "WAIT" and op.status == "STARTED":
        return op.scheduled_end_ms
    return None


class TimerPromises:
    """Real-time due dates the SDK was given, per execution ARN and operation id."""

    def __init__(self) -> None:
        self._promised: dict[str, dict[str, tuple[int, float]]] = {}

    def note(self, arn: str, ops: list[OpRecord], frame: SdkFrame, now_ms: int) -> None:
        """Remember the real due time ``frame`` gives each op of ``ops`` that has a future timer."""
        promised = self._promised.setdefault(arn, {})
        for op in ops:
            due = pending_due_ms(op)
            if due is not None and due > now_ms:
                promised[op.id] = (due, frame.to_real_s(due))
            else:
                promised.pop(op.id, None)

    def overdue(self, arn: str, ops: dict[str, OpRecord], real_now_s: float) -> set[str]:
        """Ids of ops whose promised real due time has passed while their virtual timer is still pending."""
        promised = self._promised.get(arn)
        if not promised:
            return set()
        late: set[str] = set()
        for op_id, (due, real_due) in list(promised.items()):
            op = ops.get(op_id)
            if op is None or pending_due_ms(op) != due:
                del promised[op_id]  # the timer fired or the operation moved on
            elif real_due <= real_now_s:
                late.add(op_id)
        return late

    def forget(self, arn: str) -> None:
        """Drop every promise made to ``arn``'s invocation (it ended)."""
        self._promised.pop(arn, None)
