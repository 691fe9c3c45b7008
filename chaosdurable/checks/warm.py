"""Warm-sandbox state: why the fault-free run and the chaotic run may differ before any fault acts.

Module state is per sandbox. In-process, the sandbox is the test process, so the fault-free run
starts with whatever earlier executions of the handler left in its module (the operation-space
probe, the other runs of ``check``, earlier examples of the property): a module-level dedupe set
already holding this input's id, a cache already filled. A ``ColdStart`` gives the chaotic run a
new sandbox, with the module as freshly imported. When a checker then finds that an effect
happened more often under faults, the honest account is not "the fault made it happen again" but
"the fault-free run skipped it because of state an earlier execution left, and the cold sandbox did
not have that state": the handler's effects depend on module state, which no retry, replay or new
execution on another sandbox shares.

``warm_state_lines`` gives that account (which globals differed, and how) when the run records
show it: the fault-free run's module state at its start (``RunRecord.module_state[1]``) differs
from the state the chaotic run had on a cold-started invocation at or before the one in question.
"""

from __future__ import annotations

from chaosdurable.history.module_state import differing
from chaosdurable.history.record import RunRecord

#: how many differing globals are named
MAX_NAMED = 4
#: the first words of the explanation (a saved failure with it is replayed after a warm-up run)
WARM_MARK = "why: module state carried over between executions"


def warm_difference(reference: RunRecord, chaotic: RunRecord,
                    invocation: int | None = None) -> tuple[int, list[tuple[str, str, str]]] | None:
    """``(cold invocation, [(global, value at the fault-free run's start, value on the cold start)])`` when
    the chaotic run had a cold start (at or before ``invocation``, when given) whose module state differs
    from the one the fault-free run started with; None otherwise (or when nothing was recorded)."""
    start = reference.module_state.get(1)
    if start is None or 1 in reference.cold_starts:
        return None
    for cold in sorted(chaotic.cold_starts):
        if invocation is not None and cold > invocation:
            break
        found = differing(start, chaotic.module_state.get(cold, {}))
        if found:
            return cold, found
    return None


def warm_state_lines(reference: RunRecord, chaotic: RunRecord, invocation: int | None = None,
                     step: str | None = None) -> tuple[str, ...]:
    """The lines explaining a difference by module state carried over from earlier executions, or ()."""
    found = warm_difference(reference, chaotic, invocation)
    if found is None:
        return ()
    cold, globals_ = found
    named = "; ".join(f"{name} = {ref} in the fault-free run, {fresh} on the cold start"
                      for name, ref, fresh in globals_[:MAX_NAMED])
    more = f" (and {len(globals_) - MAX_NAMED} more)" if len(globals_) > MAX_NAMED else ""
    ran = ""
    if step is not None and any(b.where.op_name == step and b.where.op_type == "STEP" for b in reference.body_runs):
        ran = f" Step {step!r} ran in the fault-free run too, without doing this there."
    return (
        f"{WARM_MARK}, not the fault alone. The fault-free run started on a "
        "warm sandbox (in-process, the sandbox is this process), with module state that earlier executions of the "
        "handler here had left (the operation-space probe, the other runs of this check, earlier examples); "
        f"invocation {cold} of the chaotic run started on a cold start, with the module as freshly imported.{ran}",
        f"module globals that differed: {named}{more}",
        "module state lives and dies with one sandbox: a new execution, or a retry on another sandbox, sees other "
        "values, so it cannot dedupe or remember anything for a durable execution; keep such state in a durable "
        "store (a conditional write) or in a step's result. A cache that is only a cache (a client, a token fetched "
        "again when missing) is fine: secrets do not belong in checkpoints",
    )
