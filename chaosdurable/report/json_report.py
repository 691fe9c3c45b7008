"""``report.json``: a ``RunReport`` as JSON, for machines (dashboards, diffing two nightly runs).

Schema (``"schema": "chaosdurable-report/1"``; documented for users in ``docs/reports.md``).
Every key is always present; ``null`` where a value is unknown::

    {
      "schema": "chaosdurable-report/1",
      "ok": bool,                      # RunReport.ok: every target met its expectation
      "seed": int | null, "backend": str, "profile": str, "elapsed_s": float, "command": str,
      "summary": {"targets": int, "met": int, "failed": int, "errors": int,
                  "bugs_found": int, "examples": int, "faults_injected": int},
      "targets": [{
        "name": str, "handler": str, "description": str,
        "expected": "pass" | "fail" | null,  # planted bug / correct variant / user target
        "met_expectation": bool, "found_bug": bool, "error": str | null,
        "examples": int, "invocations": int, "faults_injected": int, "elapsed_s": float,
        "saved": [str],                     # files `chaosdurable replay FILE` reruns
        "coverage": [{"operation": str, "fault_kind": str, "count": int}],   # sorted
        "failures": [{                      # one per distinct failure, shrunk
          "handler": str,
          "schedule": {"faults": [{"kind": str, ...coordinates}]},   # FaultSchedule.to_json()
          "schedule_in_words": [str],       # one line per fault
          "fired": [str], "not_reached": [str],
          "violations": [{"checker": str, "message": str, "op": str | null,
                          "invocation": int | null, "source": str | null, "detail": [str]}],
          "first_divergence": str | null,
          "world_diff": [{"resource": str, "added": [str], "removed": [str]}],
          "reference": RUN, "chaotic": RUN,
          "timeline": [str],                # Verdict.timeline(): the chaotic run in words
          "replay_command": str,            # one shell line
          "replay_snippet": str,            # Python that reruns check()
          "report": str                     # Verdict.report(), the whole verdict in words
        }]
      }]
    }
    RUN = {"status": str, "result": str | null, "error": {"ErrorType", "ErrorMessage"} | null,
           "invocations": int, "events": int, "virtual_ms": int}

The stored histories themselves are not repeated here (they can be large); ``replay_command``
reproduces them exactly.
"""

from __future__ import annotations

import json
from typing import Any

from chaosdurable.report.facts import world_diff
from chaosdurable.report.model import RunReport, TargetReport

SCHEMA = "chaosdurable-report/1"


def run_to_dict(run: Any) -> dict[str, Any]:
    """The ``RUN`` object of the schema for one ``RunRecord``."""
    error = run.error or None
    brief = {"ErrorType": error.get("ErrorType"), "ErrorMessage": error.get("ErrorMessage")} if error else None
    return {"status": run.status, "result": run.result_payload, "error": brief,
            "invocations": len(run.invocations), "events": len(run.history), "virtual_ms": int(run.virtual_ms)}


def failure_to_dict(verdict: Any) -> dict[str, Any]:
    """One failing ``Verdict`` as the schema's failure object."""
    return {
        "handler": verdict.chaotic.handler,
        "schedule": json.loads(verdict.schedule.to_json()),
        "schedule_in_words": [verdict.in_words(f.describe()) for f in verdict.schedule.faults],
        "fired": [verdict.in_words(f.describe()) for f in verdict.fired],
        "not_reached": list(verdict.not_reached),
        "violations": [{"checker": v.checker, "message": verdict.in_words(v.message), "op": v.op,
                        "invocation": v.invocation, "source": v.source, "detail": list(v.detail)}
                       for v in verdict.violations],
        "first_divergence": verdict.first_divergence(),
        "world_diff": world_diff(verdict),
        "reference": run_to_dict(verdict.reference),
        "chaotic": run_to_dict(verdict.chaotic),
        "timeline": verdict.timeline(),
        "replay_command": verdict.replay_command(),
        "replay_snippet": verdict.replay,
        "report": verdict.report(),
    }


def target_to_dict(target: TargetReport) -> dict[str, Any]:
    """One ``TargetReport`` as the schema's target object."""
    return {
        "name": target.name, "handler": target.handler, "description": target.description,
        "expected": target.expected, "met_expectation": target.met_expectation, "found_bug": target.found_bug,
        "error": target.error, "examples": target.examples, "invocations": target.invocations,
        "faults_injected": target.faults_injected, "elapsed_s": round(target.elapsed_s, 3),
        "saved": list(target.saved),
        "coverage": [{"operation": op, "fault_kind": kind, "count": count}
                     for (op, kind), count in sorted(target.coverage.items())],
        "failures": [failure_to_dict(v) for v in target.failures],
    }


def report_to_dict(report: RunReport) -> dict[str, Any]:
    """The whole ``RunReport`` as the documented schema."""
    targets = [target_to_dict(t) for t in report.targets]
    return {
        "schema": SCHEMA, "ok": report.ok, "seed": report.seed, "backend": report.backend,
        "profile": report.profile, "elapsed_s": round(report.elapsed_s, 3), "command": report.command,
        "summary": {
            "targets": len(targets), "met": sum(t["met_expectation"] for t in targets),
            "failed": sum(not t["met_expectation"] for t in targets),
            "errors": sum(t["error"] is not None for t in targets),
            "bugs_found": sum(t["found_bug"] for t in targets),
            "examples": sum(t["examples"] for t in targets),
            "faults_injected": sum(t["faults_injected"] for t in targets),
        },
        "targets": targets,
    }


def render_json(report: RunReport) -> str:
    """``report.json``'s text: the schema, indented, keys in schema order."""
    return json.dumps(report_to_dict(report), indent=1, default=str) + "\n"
