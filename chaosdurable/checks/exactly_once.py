"""Exactly-once step semantics, as each step is configured (notes §3.7: X1, X3, M1, L1, L2).

- a step whose SUCCEED (or FAIL) was committed never runs its body again in a later invocation;
- at most one SUCCEED is ever accepted for a step;
- ``AT_MOST_ONCE_PER_RETRY``: never two body runs for one attempt;
- every committed attempt ran its body at least once (except attempts that the SDK marks
  interrupted, ``StepInterruptedError``, which at-most-once consumes without running);
- ``AT_LEAST_ONCE_PER_RETRY``: a repeated body run of one attempt is allowed only when an
  abnormal invocation (crashed, timed out, failed, duplicated) explains it, or when the earlier
  run's outcome never became durable (no RETRY/SUCCEED/FAIL of that attempt was accepted in its
  invocation, e.g. the service withdrew the token after the step's START): the SDK re-runs a
  step it finds STARTED, which is the at-least-once contract;
- the retry budget: no step commits more attempts than its retry strategy's ``max_attempts``
  (read from a ``create_retry_strategy`` config; the SDK default is 6; custom callables are
  not checked).

Body runs come from the SDK's user-function hooks; commits from the accepted checkpoints.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from chaosdurable.checks.base import Ledger, Violation, op_label, require_same_handler
from chaosdurable.history.record import BodyRun, RunRecord

NAME = "exactly_once"


#: A step is identified by its execution and its operation id: a chained-invoke child execution
#: numbers its operations like its parent does, so ids alone collide across executions.
StepKey = tuple[str, str]


def _abnormal_invocations(run: RunRecord) -> Callable[[str, int | None], bool]:
    """Whether invocation ``index`` of execution ``arn`` was abnormal (crashed, timed out, failed, duplicated).

    Records without ``all_invocations`` (built by hand, or by an older version) know only their
    own execution's invocations; there the execution is not compared.
    """
    def abnormal(inv: dict[str, Any]) -> bool:
        return bool(inv["dead"] or inv["outcome"] not in ("returned", None) or inv["copies"] > 1)

    if run.all_invocations:
        keyed = {(inv["arn"], inv["index"]) for inv in run.all_invocations if abnormal(inv)}
        return lambda arn, index: (arn, index) in keyed
    indices = {inv["index"] for inv in run.invocations if abnormal(inv)}
    return lambda _arn, index: index in indices


def _result_lost(body: BodyRun, committed_in: set[int]) -> bool:
    """Whether this body run's outcome never became durable: no RETRY, SUCCEED or FAIL of its attempt
    was accepted in its invocation (the token was withdrawn, or the invocation ended, before it).

    Re-running such an attempt in a later invocation is the at-least-once contract (the SDK re-runs a
    step it finds STARTED), not a violation; a re-run of an attempt whose commit *was* accepted is.
    """
    return body.where.invocation is not None and body.where.invocation not in committed_in


def _labeller(run: RunRecord) -> Callable[[StepKey], str | None]:
    """Names for steps: the name path in the run's own execution, "child:<name>" in a child execution."""
    child_names: dict[StepKey, str] = {}
    for cp in run.checkpoints:
        for u in cp["updates"]:
            if u.get("Name") and cp.get("arn") != run.arn:
                child_names.setdefault((cp.get("arn") or "", u["Id"]), f"child execution:{u['Name']}")

    def label(key: StepKey) -> str | None:
        arn, op_id = key
        if not run.arn or arn == run.arn:
            return op_label(run, op_id)
        return child_names.get(key, f"child execution:{op_id[:12]}")

    return label


def exactly_once(reference: RunRecord, chaotic: RunRecord, ledger: Ledger) -> list[Violation]:
    """Violations of exactly-once-as-configured in the chaotic run (the reference is read for its handler)."""
    require_same_handler(reference, chaotic)
    out: list[Violation] = []
    commits: dict[StepKey, list[tuple[str, int, int, str | None]]] = defaultdict(list)
    finished: Counter[StepKey] = Counter()
    for cp in chaotic.checkpoints:
        if not cp.get("accepted"):
            continue
        for u in cp["updates"]:
            if u.get("Type") != "STEP" or u.get("Action") not in ("RETRY", "SUCCEED", "FAIL"):
                continue
            key = (cp.get("arn") or chaotic.arn, u["Id"])
            finished[key] += 1
            etype = (u.get("Error") or {}).get("ErrorType")
            commits[key].append((u["Action"], finished[key], cp["invocation"], etype))
    runs: dict[StepKey, list[BodyRun]] = defaultdict(list)
    for body in chaotic.body_runs:
        if body.where.op_type == "STEP" and body.where.op_id:
            runs[(body.where.arn or chaotic.arn, body.where.op_id)].append(body)
    abnormal = _abnormal_invocations(chaotic)
    name_of = _labeller(chaotic)
    for op_id, entries in commits.items():
        label = name_of(op_id)
        successes = [e for e in entries if e[0] == "SUCCEED"]
        if len(successes) > 1:
            out.append(Violation(NAME, f"step {label!r} had {len(successes)} SUCCEED checkpoints accepted; "
                                       "a step commits its result exactly once", op=label))
        terminal = [e for e in entries if e[0] in ("SUCCEED", "FAIL")]
        if terminal:
            committed_in: int = terminal[0][2] or 0
            for body in runs.get(op_id, []):
                if body.where.invocation and body.where.invocation > committed_in and body.where.copy == 0:
                    out.append(Violation(
                        NAME, f"step {label!r} ran its body again in invocation {body.where.invocation} after "
                              f"its {terminal[0][0]} was committed in invocation {committed_in}",
                        op=label, invocation=body.where.invocation, source=body.where.source))
                    break
        for action, attempt, invocation, etype in entries:
            if etype and "StepInterruptedError" in etype:
                continue
            if not any(b.where.attempt == attempt for b in runs.get(op_id, [])) and chaotic.body_runs:
                out.append(Violation(
                    NAME, f"attempt {attempt} of step {label!r} was committed ({action}) but its body never ran "
                          "in that attempt", op=label, invocation=invocation))
    for op_id, bodies in runs.items():
        label = name_of(op_id)
        budget = next((b.where.max_attempts for b in bodies if b.where.max_attempts), None)
        used = len(commits.get(op_id, []))
        if budget is not None and used > budget:
            out.append(Violation(
                NAME, f"step {label!r} committed {used} attempts but its retry strategy allows {budget}",
                op=label, source=bodies[0].where.source))
        semantics = next((b.where.semantics for b in bodies if b.where.semantics), None)
        for run_attempt, count in Counter(b.where.attempt for b in bodies).items():
            if count < 2:
                continue
            # ordered by coordinates, not arrival: concurrent duplicate copies arrive in thread order
            same = sorted((b for b in bodies if b.where.attempt == run_attempt),
                          key=lambda b: (b.where.invocation or 0, b.where.copy, b.seq))
            where = ", ".join(f"invocation {b.where.invocation}" + (" (duplicate)" if b.where.copy else "")
                              for b in same)
            if semantics == "AT_MOST_ONCE_PER_RETRY":
                out.append(Violation(
                    NAME, f"AT_MOST_ONCE_PER_RETRY step {label!r} ran its body {count} times for attempt {run_attempt} "
                          f"({where}); at most once per attempt is its contract",
                    op=label, invocation=same[1].where.invocation, source=same[0].where.source))
                continue
            attempt_committed_in = {e[2] for e in commits.get(op_id, []) if e[1] == run_attempt}
            explained = [b for b in same if b.where.copy or abnormal(op_id[0], b.where.invocation)
                         or _result_lost(b, attempt_committed_in)]
            if count - len(explained) > 1:
                out.append(Violation(
                    NAME, f"step {label!r} ran its body {count} times for attempt {run_attempt} ({where}) but only "
                          f"{len(explained)} of those runs are explained by a failed, crashed or duplicated "
                          "invocation or by a result that was never checkpointed",
                    op=label, invocation=same[-1].where.invocation, source=same[0].where.source))
    return out
