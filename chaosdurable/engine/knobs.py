"""Service behaviours that are configurable because the real service's choice is unknown or varies.

Every default is documented with where it comes from. ``Knobs`` is immutable; pass a
modified copy (``dataclasses.replace``) to ``DurableRunner(knobs=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Service limits, each enforced with an error that names the limit.

    Sources: the Lambda API model (botocore 1.44.8) and the SDK's own constants.
    ``max_payload_bytes``: AWS documents 256 KiB per checkpointed operation payload, which
    is also the SDK's ``CHECKPOINT_SIZE_LIMIT_BYTES``.
    """

    max_operations: int = 3000
    max_payload_bytes: int = 256 * 1024
    max_error_bytes: int = 32 * 1024
    max_response_bytes: int = 6 * 1024 * 1024
    max_input_bytes: int = 256 * 1024
    state_page_size: int = 1000


@dataclass(frozen=True)
class InvocationRetry:
    """Backoff between re-invocations after a failed invocation.

    AWS says backend retries "use exponential backoff and continue until the function
    succeeds or the execution timeout is reached", without publishing the numbers. These
    defaults are ours (UNKNOWN on the real service); jitter draws from the run's seed.
    """

    initial_seconds: float = 1.0
    rate: float = 2.0
    max_seconds: float = 60.0
    jitter: bool = False


@dataclass(frozen=True)
class Knobs:
    """Semantic choices of the emulated service.

    clear_step_result_on_start: a STEP START on a READY step clears StepDetails.Result
        (AWS's local runner does; the real service is UNKNOWN). wait_for_condition keeps its
        polling state there, so this changes what a crash between polls does.
    accept_step_completion_without_start: SUCCEED/FAIL/RETRY on a STEP that was never
        STARTED (the local runner accepts it; the real service is UNKNOWN; the SDK never sends it).
    pending_without_work_is_failure: an invocation that returns PENDING while nothing can
        wake the execution is an invalid output and is retried as a failed invocation
        (the local runner's behaviour).
    complete_waits_inline: NOT a behaviour of the real service, an oracle. A WAIT started in an
        invocation completes at once: the virtual clock moves to its end and the checkpoint's
        response carries it SUCCEEDED, so the SDK goes on without suspending (it checks that
        response for an immediate status change). A handler whose code is replay-safe ends the same
        whether or not it suspended at a wait; ``check`` runs its fault-free execution this way once
        (the ``uninterrupted`` checker). Off by default, and never drawn as a fault.
    """

    limits: Limits = field(default_factory=Limits)
    invocation_retry: InvocationRetry = field(default_factory=InvocationRetry)
    clear_step_result_on_start: bool = False
    accept_step_completion_without_start: bool = False
    pending_without_work_is_failure: bool = True
    complete_waits_inline: bool = False
