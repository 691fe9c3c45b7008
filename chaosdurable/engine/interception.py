"""The seam through which a nemesis acts on the service, in generic verbs.

The engine knows nothing of fault schedules: it asks its ``Interceptor`` at fixed points
what to do, and the interceptor answers with a ``Verdict`` verb. ``NoInterceptor`` answers
"proceed" everywhere; ``chaosdurable.faults.nemesis`` implements the real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from aws_durable_execution_sdk_python.lambda_service import OperationUpdate

Verb = Literal["proceed", "reject", "crash", "timeout", "no_token"]


@dataclass(frozen=True)
class Intervention:
    """What the service should do at a checkpoint.

    verb: "proceed"; "reject" (answer with ``code``/``status``/``message``, persist nothing);
    "crash" (the invocation's process dies now); "timeout" (the invocation times out and
    lives on as a zombie); "no_token" (accept, but answer without a new token).

    at: the index, within the checkpoint's updates, of the update the decision is about, or
    None for the whole call. With an index the service acts as if the SDK had sent every update
    in a call of its own (one legal batching of the real SDK, and the same one whatever the
    thread timing was): before persisting, the updates ahead of ``at`` are persisted and the
    decision applies from ``at`` on; after persisting, the updates up to and including ``at``
    are persisted and the rest were never sent. So the outcome of a fault does not depend on
    how the SDK's batcher happened to group updates (an asynchronous START may or may not share
    a call with its step's SUCCEED).
    """

    verb: Verb = "proceed"
    code: str = "ServiceException"
    status: int = 500
    message: str = "Service unavailable"
    at: int | None = None


PROCEED = Intervention()


@dataclass(frozen=True)
class CheckpointSite:
    """Where a checkpoint happens, in stable coordinates."""

    arn: str
    invocation: int
    copy: int
    updates: tuple[OperationUpdate, ...]
    names: tuple[str | None, ...]
    paths: tuple[str | None, ...]
    attempts: tuple[int | None, ...]


class Interceptor(Protocol):
    """What a nemesis can decide. Every method must return quickly and never block unboundedly."""

    def before_checkpoint(self, site: CheckpointSite) -> Intervention: ...

    def after_checkpoint(self, site: CheckpointSite) -> Intervention: ...

    def invocation_copies(self, arn: str, invocation: int) -> tuple[int, bool]:
        """(number of deliveries of this invocation: 1 or 2, whether the 2nd runs concurrently)."""
        ...

    def cold_start(self, arn: str, invocation: int) -> bool: ...

    def timer_delay_ms(self, arn: str, kind: str, op_name: str | None, op_path: str | None,
                       op_id: str | None = None) -> int: ...


class NoInterceptor:
    """Proceed everywhere."""

    def before_checkpoint(self, site: CheckpointSite) -> Intervention:
        """Proceed."""
        return PROCEED

    def after_checkpoint(self, site: CheckpointSite) -> Intervention:
        """Proceed."""
        return PROCEED

    def invocation_copies(self, arn: str, invocation: int) -> tuple[int, bool]:
        """One delivery."""
        return (1, False)

    def cold_start(self, arn: str, invocation: int) -> bool:
        """Warm."""
        return False

    def timer_delay_ms(self, arn: str, kind: str, op_name: str | None, op_path: str | None,
                       op_id: str | None = None) -> int:
        """On time."""
        return 0
