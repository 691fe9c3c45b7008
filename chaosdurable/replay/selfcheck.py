"""Replaying a finished run's own history once more: the handler must end it the same way.

Contract: ``replay_finished(record, handler, ...)`` takes the ``RunRecord`` of an execution that
ended (SUCCEEDED or FAILED), replays its complete history through ``handler`` (the replay of
``replay_history``: every operation already checkpointed, no step body runs, the handler's code
outside steps is fenced) and returns the lines describing how the replay diverged, or ``()``.
``check`` does this for its fault-free run, once per reference run (``RunRecord.final_replay``),
and the ``final_replay`` checker reports the lines.

Why: the service replays the handler from the top after every suspension, crash or timeout. A
handler that is deterministic outside its steps returns, from the same checkpoints, the same
result every time. One that returns something else computes it from state that differs between
replays and that no checkpoint holds: a module-level counter or cache (which lives as long as
the sandbox), a file in the temp dir, data read outside a step. The replay runs in this process
right after the run, so in-process a module global the run left behind is still there (a warm
sandbox); in subprocess mode this process never ran the handler (a cold one). The globals of the
handler's module that the replay itself changed are named: code outside steps mutates them on
every replay.

Skipped (``()``) when the run did not end, when no history was recorded, and when the run read
the clock, ``random`` or a uuid outside steps: the tripwire reports those reads, and the shifted
replay of ``checks.confirm`` judges them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chaosdurable.history.module_state import differing, module_of, snapshot
from chaosdurable.history.record import RunRecord
from chaosdurable.history.tripwire import ENVIRONMENT_CALLS

#: how many changed globals are named
MAX_NAMED = 4


def _held_at_start(record: RunRecord, before: dict[str, str]) -> str | None:
    """A line naming module globals this replay started with that the recorded run did not: compared with the
    run's own start (in-process, ``RunRecord.module_state``), or, for a run made in fresh processes (none
    recorded), the filled containers this process holds, which a freshly imported module would not."""
    start = record.module_state.get(1) if record.module_state else None
    if start is not None:
        differ = differing(start, before)
        if not differ:
            return None
        named = "; ".join(f"{name}: {old} -> {new}" for name, old, new in differ[:MAX_NAMED])
        return (f"module globals differ between the start of the recorded run and the start of this replay "
                f"(earlier executions in this process changed them, as on a warm sandbox): {named}")
    empty = ("{}", "[]", "set()", "deque([])")
    filled = [(name, text) for name, text in before.items()
              if text.startswith(("{", "[", "set(", "deque(")) and text not in empty]
    if not filled:
        return None
    named = "; ".join(f"{name} = {text}" for name, text in filled[:MAX_NAMED])
    return (f"the recorded run ran in fresh processes, where the handler's module starts as imported; this replay "
            f"started with module state earlier executions in this process left behind: {named}")


def should_replay(record: RunRecord) -> bool:
    """Whether ``record`` is a finished run whose replay says something (see the module docstring)."""
    if record.status not in ("SUCCEEDED", "FAILED") or record.stuck or not record.history:
        return False
    return all(hit.call in ENVIRONMENT_CALLS for hit in record.tripwire)


def replay_finished(record: RunRecord, handler: Callable[..., Any], *,
                    targets: Mapping[str, Callable[..., Any]] | None = None,
                    fence: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The lines saying how replaying ``record``'s finished history diverged from it, or ``()``."""
    if not should_replay(record):
        return ()
    from chaosdurable.replay.api import replay_history

    module = module_of(handler)
    before = snapshot(module)
    try:
        report = replay_history({"Events": record.history}, handler, targets=targets, fence=fence)
    except Exception as exc:  # a defect of the replay itself must not take the verdict down with it
        record.diagnostics.append(f"note: the final replay of the fault-free run could not run, so final_replay "
                                  f"checked nothing ({type(exc).__name__}: {exc}); please report it")
        return ()
    changed = differing(before, snapshot(module))
    found = report.divergence
    if found is None:
        return ()
    lines = [
        f"replaying the fault-free run's finished history (every operation already checkpointed, as the service "
        f"replays it after any suspension, crash or timeout) did not end it the same way: {found.in_words()}"
        + (f" ({found.source})" if found.source else ""),
        f"  recorded: {found.expected}",
        f"  replayed: {found.actual}",
    ]
    if changed:
        named = "; ".join(f"{name}: {old} -> {new}" for name, old, new in changed[:MAX_NAMED])
        more = f" (and {len(changed) - MAX_NAMED} more)" if len(changed) > MAX_NAMED else ""
        lines.append(f"module globals that the replay itself changed (code outside steps mutates them on every "
                     f"replay): {named}{more}")
    refused = [r for result in report for r in result.refused]
    if refused:
        lines.append(f"refused during the replay (calls the handler makes outside steps): {', '.join(refused[:6])}")
    outside = list(dict.fromkeys(f"{e.name}" + (f" at {e.where.source}" if e.where.source else "")
                                 for e in record.effects if not e.where.in_step and e.where.arn is not None))
    if outside:
        lines.append("calls the recorded run made outside any step (a replay makes them again and may read other "
                     f"values; a read belongs in a step): {', '.join(outside[:4])}")
    held = _held_at_start(record, before)
    if held and not changed:
        lines.append(held)
    if changed or held:
        lines.append("the handler computes this outside steps from module state no checkpoint holds, so each replay "
                     "sees another value: compute it inside a step, or derive it from step results" + (
                         " (a cache filled by one execution and read by the next steers a warm sandbox's replay "
                         "another way than a cold one's)" if held and not changed else ""))
    else:
        lines.append("no module global changed: the usual cause is a step body that stores its value in a variable "
                     "or object around it (a closure, the event, a list) instead of returning it; on replay the "
                     "body does not run and only its returned, checkpointed value comes back, so return the value "
                     "from the step. Otherwise: state read outside steps (a file, /tmp, a cache) that replays see "
                     "differently")
    return tuple(lines)
