"""WORKLOAD: Hypothesis strategies, shipped as ``chaosdurable.strategies``.

- ``fault_schedules(handler, input)`` draws fault schedules over the handler's real operation
  space (``OperationSpace``, found by a fault-free probe run), weighted toward the rare but
  deadly faults and shrinking toward fewer, simpler ones.
- ``payloads_like(example)`` draws JSON inputs shaped like an example (same keys and types,
  recursively), with realistic faker values where a key suggests them (emails, names,
  addresses, amounts, ids, dates...), reproducible from Hypothesis' seed.
- ``payloads_from_schema(schema)`` draws JSON values valid for a practical subset of JSON
  Schema, with the same realistic strings; anything outside the subset raises ValueError.
- ``callback_answers(names)`` draws how the outside world answers each callback (a success
  with a payload or a failure, after 0 s .. a virtual day), for ``RunConfig(callbacks=...)``;
  ``callback_faults(names)`` draws ``CallbackFault`` values (late, duplicate, after the
  timeout, failure, missed heartbeats, after the end); ``answers_in_order()`` and ``event_streams()``
  draw ``InOrder`` answers and at-least-once ``EventStream`` sources (whose redeliveries and swaps
  ``fault_schedules`` draws).

- ``workflows(max_depth, max_ops, kinds)`` draws random durable programs as data (steps with
  either semantics and retries, waits, callbacks, child contexts, map, parallel, invoke,
  wait_for_condition, nested); ``interpreter.run_program`` runs them with the real SDK,
  ``Program.to_python()`` prints one as source to paste into a test, and
  ``expected_result(program)`` is what a correct execution returns.

Building blocks: ``answers`` (one ``Answer``), ``delays``, ``error_objects`` (ErrorObject
dicts), ``json_values`` (any JSON value), ``faker_with_seed`` (a seeded faker) and
``derived`` (``map`` whose failing examples print values, not calls).
"""

from .callbacks import (
    answers,
    answers_in_order,
    callback_answers,
    callback_faults,
    delays,
    error_objects,
    event_streams,
)
from .payloads import derived, faker_with_seed, json_values, payloads_from_schema, payloads_like
from .schedules import OperationSpace, fault_schedules
from .workflows import Program, expected_result, workflows

__all__ = [
    "OperationSpace",
    "Program",
    "answers",
    "answers_in_order",
    "callback_answers",
    "callback_faults",
    "delays",
    "derived",
    "error_objects",
    "event_streams",
    "expected_result",
    "faker_with_seed",
    "fault_schedules",
    "json_values",
    "payloads_from_schema",
    "payloads_like",
    "workflows",
]
