"""The second oracle: generated workflows, fault-free, on chaosdurable and on AWS's ``DurableFunctionTestRunner``.

``workflows()`` draws programs (Hypothesis, ``derandomize=True``: the same programs every run);
each runs on both sides with the same callback answers (``drivers``), and the two histories must
be equal after ``chaosdurable.conformance.differential.normalise`` (its docstring lists every
rule and why), with the same status and result. ``CHAOSDURABLE_DIFFERENTIAL_EXAMPLES`` sets how
many programs are drawn (default 350 in CI: about 300 once duplicates are dropped, ~35 s; e.g.
2000 nightly). ``CHAOSDURABLE_DIFFERENTIAL_WORKERS`` (default 6) is how many AWS runs overlap.

What is not drawn: maps and parallels with ``max_concurrency`` > 1 (branch order then depends on
thread timing on both sides, so histories are not comparable event by event); faults (AWS's
runner has none); callback timeouts and heartbeats (AWS's runner runs those in real seconds).
Every callback is answered at once, with the program's answer, on both sides.

The other tests show the comparison can fail: real histories with an extra event, a changed step
result or a missing ``WaitSucceeded`` are reported, naming the first differing event.
"""

from __future__ import annotations

import copy
import os
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from chaosdurable.conformance.differential import DIVERGENCES, NORMALISATIONS, RULES, compare, normalise
from chaosdurable.strategies.workflows import (
    KINDS,
    Callback,
    Invoke,
    Program,
    Step,
    Wait,
    WaitForCondition,
    name_operations,
    workflows,
)

from .drivers import Run, run_all

EXAMPLES = int(os.environ.get("CHAOSDURABLE_DIFFERENTIAL_EXAMPLES", "350"))
WORKERS = int(os.environ.get("CHAOSDURABLE_DIFFERENTIAL_WORKERS", "6"))


def draw_programs(count: int) -> list[Program]:
    """``count`` draws of ``workflows()`` (fixed by ``derandomize``), without duplicates, in draw order."""
    drawn: list[Program] = []

    @settings(max_examples=count, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(workflows(max_depth=2, max_ops=8))
    def collect(program: Program) -> None:
        drawn.append(program)

    collect()
    return list({p.to_json(): p for p in drawn}.values())


def disagreement(ours: Run, theirs: Run, counts: Counter[str] | None = None) -> str | None:
    """Why the two runs of one program disagree, or None."""
    if ours.error or theirs.error:
        return f"a run did not complete: chaosdurable: {ours.error}; AWS's runner: {theirs.error}"
    if ours.status != theirs.status:
        return f"status differs: chaosdurable {ours.status}, AWS's runner {theirs.status}"
    if ours.result != theirs.result:
        return f"result differs: chaosdurable {ours.result!r}, AWS's runner {theirs.result!r}"
    difference = compare(ours.events, theirs.events, counts)
    return None if difference is None else difference.message


def test_generated_workflows_agree_with_aws_runner() -> None:
    programs = draw_programs(EXAMPLES)
    kinds = {op.kind for p in programs for op in p.walk()}
    assert kinds == set(KINDS), f"the draw misses operation kinds {set(KINDS) - kinds}"
    start = time.monotonic()
    runs = run_all(programs, workers=WORKERS)
    seconds = time.monotonic() - start
    counts: Counter[str] = Counter()
    failures: dict[str, list[Program]] = {}
    for program, (ours, theirs) in zip(programs, runs, strict=True):
        why = disagreement(ours, theirs, counts)
        if why is not None:
            failures.setdefault(why.split("\n")[0], []).append(program)
    print(f"\n{len(programs)} programs on both runners in {seconds:.1f} s; rules applied: {dict(counts)}")
    report = []
    for first_line, failing in failures.items():
        smallest = min(failing, key=lambda p: (p.count(), len(p.to_json())))
        ours, theirs = runs[programs.index(smallest)]
        report.append(f"{len(failing)} program(s): {first_line}\n  smallest: {smallest.describe()}\n"
                      f"  {smallest.to_json()}\n{disagreement(ours, theirs)}")
    assert not failures, f"{sum(map(len, failures.values()))} of {len(programs)} programs disagree:\n\n" + \
        "\n\n".join(report)


# ------------------------------------------------------------- the comparison can fail
SAMPLE = name_operations(Program(body=(
    Step(value=7, max_attempts=2, fail_first_attempts=1),
    Wait(seconds=5),
    Callback(answer=3, timeout=7200),
    Callback(answer=4, fails=True),
    Invoke(target="echo_target", payload=2),
    Invoke(target="plain_target", payload=1),
    WaitForCondition(until=2),
), input=1))


@pytest.fixture(scope="module")
def sample_runs() -> tuple[Run, Run]:
    [(ours, theirs)] = run_all([SAMPLE])
    assert disagreement(ours, theirs) is None, disagreement(ours, theirs)
    return ours, theirs


def _index(events: list[dict[str, Any]], event_type: str, name: str | None = None) -> int:
    return next(i for i, e in enumerate(events) if e["EventType"] == event_type and (name is None or
                                                                                     e.get("Name") == name))


def test_sample_needs_every_rule(sample_runs: tuple[Run, Run]) -> None:
    """The sample exercises every normalisation (so none is dead code) and still agrees."""
    ours, theirs = sample_runs
    counts: Counter[str] = Counter()
    assert compare(ours.events, theirs.events, counts) is None
    assert set(counts) == {r.name for r in RULES}, set(r.name for r in RULES) - set(counts)


def test_an_extra_event_is_reported(sample_runs: tuple[Run, Run]) -> None:
    ours, theirs = sample_runs
    changed = copy.deepcopy(theirs.events)
    at = _index(changed, "WaitStarted")
    changed.insert(at + 1, copy.deepcopy(changed[at]))
    difference = compare(ours.events, changed)
    assert difference is not None
    assert difference.index == at + 1
    assert "histories differ at event" in difference.message
    assert f"event {at + 2}: chaosdurable has InvocationCompleted, AWS's runner has WaitStarted 'wait2'" \
        in difference.message, difference.message


def test_a_changed_step_result_is_reported(sample_runs: tuple[Run, Run]) -> None:
    ours, theirs = sample_runs
    changed = copy.deepcopy(theirs.events)
    at = _index(changed, "StepSucceeded", "step1")
    changed[at]["StepSucceededDetails"]["Result"]["Payload"] = "8"
    difference = compare(ours.events, changed)
    assert difference is not None and difference.index == at
    assert (f"event {at + 1} (StepSucceeded 'step1'): StepSucceededDetails.Result.Payload differs: "
            "chaosdurable \"7\", AWS's runner \"8\"") in difference.message, difference.message


def test_a_missing_wait_succeeded_is_reported(sample_runs: tuple[Run, Run]) -> None:
    ours, theirs = sample_runs
    changed = copy.deepcopy(theirs.events)
    at = _index(changed, "WaitSucceeded")
    del changed[at]
    difference = compare(ours.events, changed)
    assert difference is not None and difference.index == at
    assert f"event {at + 1}: chaosdurable has WaitSucceeded 'wait2', AWS's runner has" in difference.message
    assert "> " in difference.message  # the neighbouring events, the differing one marked


def test_a_truncated_history_is_reported(sample_runs: tuple[Run, Run]) -> None:
    ours, theirs = sample_runs
    difference = compare(ours.events, theirs.events[:-1])
    assert difference is not None
    assert "chaosdurable has ExecutionSucceeded, AWS's runner's history has ended" in difference.message


def test_operation_ids_and_swapped_callback_ids_are_compared(sample_runs: tuple[Run, Run]) -> None:
    """Ids are numbered by first appearance, not erased: two callbacks sharing one id is a difference,
    and operation ids (derived by the SDK from positions) are compared as they are."""
    ours, theirs = sample_runs
    changed = copy.deepcopy(theirs.events)
    first, second = (e for e in changed if e["EventType"] == "CallbackStarted")
    second["CallbackStartedDetails"]["CallbackId"] = first["CallbackStartedDetails"]["CallbackId"]
    difference = compare(ours.events, changed)
    assert difference is not None and difference.field == "CallbackStartedDetails.CallbackId"
    assert "chaosdurable \"<callback-2>\", AWS's runner \"<callback-1>\"" in difference.message, difference.message
    changed = copy.deepcopy(theirs.events)
    at = _index(changed, "StepStarted", "step1")
    changed[at]["Id"] = "0" * 64
    difference = compare(ours.events, changed)
    assert difference is not None and difference.field == "Id", difference


def test_truncated_is_still_compared_outside_the_documented_events(sample_runs: tuple[Run, Run]) -> None:
    """``error-truncated`` applies to context and callback failures only: a StepFailed flag still counts."""
    ours, theirs = sample_runs
    changed = copy.deepcopy(theirs.events)
    at = _index(changed, "StepFailed", "step1")
    changed[at]["StepFailedDetails"]["Error"]["Truncated"] = True
    difference = compare(ours.events, changed)
    assert difference is not None and difference.field == "StepFailedDetails.Error.Truncated"


def test_normalise_leaves_its_input_alone(sample_runs: tuple[Run, Run]) -> None:
    ours, _ = sample_runs
    before = copy.deepcopy(ours.events)
    normalised = normalise(ours.events)
    assert ours.events == before
    assert all("EventTimestamp" not in e and "EventId" not in e for e in normalised)


def test_every_rule_is_documented() -> None:
    from chaosdurable.conformance import differential

    doc = differential.__doc__ or ""
    for rule in (*NORMALISATIONS, *DIVERGENCES):
        assert rule.reason and (rule in NORMALISATIONS or rule.evidence), rule
    for name in (r.name for r in DIVERGENCES):
        assert f"``{name}``" in doc, name


def test_status_result_and_unfinished_runs_are_disagreements(sample_runs: tuple[Run, Run]) -> None:
    ours, theirs = sample_runs
    assert disagreement(ours, theirs) is None
    failed = copy.copy(theirs)
    failed.status = "FAILED"
    assert disagreement(ours, failed) == "status differs: chaosdurable SUCCEEDED, AWS's runner FAILED"
    other = copy.copy(theirs)
    other.result = {"input": 1, "results": {}}
    assert (disagreement(ours, other) or "").startswith("result differs: chaosdurable {'input': 1, 'results': {'step1'")
    stuck = Run(error="AWS's runner did not finish within 30 s real time")
    assert "did not finish within 30 s" in (disagreement(ours, stuck) or "")
