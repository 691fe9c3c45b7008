"""WORKLOAD: ``workflows()`` draws random durable programs, as data.

A program is a tree of frozen dataclasses: steps (either step semantics, with a retry
configuration and a number of planned failed attempts), waits, callbacks (and the answers
the outside world gives them), child contexts, maps and parallels (serial, so histories are
deterministic), chained invokes, wait_for_condition polls, nested up to ``max_depth``.

- ``chaosdurable.strategies.interpreter.run_program`` runs any program with the real SDK;
- ``program.to_python()`` prints it as a standalone ``@durable_execution`` handler that a
  user can paste into a test;
- ``expected_result(program)`` is the result every correct execution returns: a pure
  function of the program, so a chaotic run can be judged against it.

Every operation has a unique, deterministic name (its kind and its pre-order position:
``step1``, ``map2``, ...). Draws shrink toward small flat programs of plain steps: a step is
the first alternative of every choice, containers the last.

Results: a block (the handler's body, a child context, a map item, a parallel branch)
returns a dict from each operation's name to that operation's result:

=================  =========================================================
step               its ``value``
wait               ``None``
callback           the answer (JSON value), or ``{"rejected": message}``
child context      the block's dict
map                ``[[item, block dict], ...]`` per item, in order
parallel           ``[block dict, ...]`` per branch, in order
invoke             ``payload`` (``echo_target``) or ``{"plain": payload}``
wait_for_condition ``until`` (the state counts 1, 2, ... until it reaches it)
=================  =========================================================

and the handler returns ``{"input": <execution input>, "results": <body dict>}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

from hypothesis import strategies as st

Semantics = Literal["AT_LEAST_ONCE_PER_RETRY", "AT_MOST_ONCE_PER_RETRY"]
Target = Literal["echo_target", "plain_target"]

#: operation kinds, simplest first (the order draws shrink toward)
KINDS: tuple[str, ...] = ("step", "wait", "callback", "invoke", "wait_for_condition", "child", "map", "parallel")
CONTAINERS = frozenset({"child", "map", "parallel"})


# ------------------------------------------------------------------------------ model
@dataclass(frozen=True)
class Step:
    """``context.step``: records effect ``name`` and returns ``value``; its first
    ``fail_first_attempts`` attempts raise (always fewer than ``max_attempts``)."""

    kind: ClassVar[str] = "step"
    name: str = ""
    value: int = 0
    semantics: Semantics = "AT_LEAST_ONCE_PER_RETRY"
    max_attempts: int = 1
    fail_first_attempts: int = 0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or not 0 <= self.fail_first_attempts < self.max_attempts:
            raise ValueError(f"step {self.name!r}: need 0 <= fail_first_attempts < max_attempts, "
                             f"got {self.fail_first_attempts} and {self.max_attempts}")


@dataclass(frozen=True)
class Wait:
    """``context.wait`` for ``seconds``."""

    kind: ClassVar[str] = "wait"
    name: str = ""
    seconds: int = 1


@dataclass(frozen=True)
class Callback:
    """``context.create_callback(...).result()``; the outside world answers ``answer``
    (or fails it when ``fails``), one virtual second later."""

    kind: ClassVar[str] = "callback"
    name: str = ""
    answer: int = 0
    fails: bool = False
    timeout: int | None = None


@dataclass(frozen=True)
class Invoke:
    """``context.invoke`` of a registered target with a literal payload."""

    kind: ClassVar[str] = "invoke"
    name: str = ""
    target: Target = "echo_target"
    payload: int = 0


@dataclass(frozen=True)
class WaitForCondition:
    """``context.wait_for_condition``: the state counts up from 0, one poll a second, until ``until``."""

    kind: ClassVar[str] = "wait_for_condition"
    name: str = ""
    until: int = 1


@dataclass(frozen=True)
class ChildContext:
    """``context.run_in_child_context`` running ``body``."""

    kind: ClassVar[str] = "child"
    name: str = ""
    body: tuple[Op, ...] = ()


@dataclass(frozen=True)
class Map:
    """``context.map`` of ``body`` over ``items`` (serial unless ``max_concurrency`` says otherwise)."""

    kind: ClassVar[str] = "map"
    name: str = ""
    items: tuple[int, ...] = (0,)
    body: tuple[Op, ...] = ()
    max_concurrency: int = 1


@dataclass(frozen=True)
class Parallel:
    """``context.parallel`` of ``branches`` (serial unless ``max_concurrency`` says otherwise)."""

    kind: ClassVar[str] = "parallel"
    name: str = ""
    branches: tuple[tuple[Op, ...], ...] = ((),)
    max_concurrency: int = 1


Op = Step | Wait | Callback | Invoke | WaitForCondition | ChildContext | Map | Parallel
OP_TYPES: dict[str, type[Any]] = {t.kind: t for t in (Step, Wait, Callback, Invoke, WaitForCondition, ChildContext,
                                                     Map, Parallel)}


@dataclass(frozen=True)
class Program:
    """A durable program: a body of operations and the execution input."""

    body: tuple[Op, ...] = ()
    input: Any = None

    # ---------------------------------------------------------------- walking
    def walk(self) -> Iterator[Op]:
        """Every operation, in pre-order (the order names are given in)."""
        return _walk(self.body)

    def count(self, kind: str | None = None) -> int:
        """How many operations (of one kind) the program holds."""
        return sum(1 for op in self.walk() if kind is None or op.kind == kind)

    def depth(self) -> int:
        """Nesting depth: 1 for a flat program."""
        return _depth(self.body)

    def callback_answers(self) -> dict[str, Any]:
        """How the outside world answers the program's callbacks, by name
        (``chaosdurable.Answer`` values, for ``check(callbacks=...)``)."""
        from chaosdurable.run import Answer

        return {op.name: (Answer(failure={"ErrorType": "Rejected", "ErrorMessage": rejection(op.name)})
                          if op.fails else Answer(result=op.answer))
                for op in self.walk() if isinstance(op, Callback)}

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``Program.from_dict`` reads it back)."""
        return {"body": [_op_to_dict(op) for op in self.body], "input": self.input}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Program:
        """Read ``to_dict``'s output."""
        return cls(body=tuple(_op_from_dict(d) for d in data.get("body", [])), input=data.get("input"))

    def to_json(self) -> str:
        """Canonical JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | dict[str, Any]) -> Program:
        """Read ``to_json``'s output (or the dict itself)."""
        return cls.from_dict(json.loads(text) if isinstance(text, str) else text)

    # --------------------------------------------------------------- source
    def to_python(self, handler_name: str = "handler") -> str:
        """The program as readable, standalone SDK source: a ``@durable_execution`` handler."""
        return _render_module(self, handler_name)

    def describe(self) -> str:
        """A compact one-line outline, e.g. ``step1 map2[step3 wait4] invoke5``."""
        return _outline(self.body)


def rejection(name: str) -> str:
    """The error message a failing callback answer carries."""
    return f"{name} rejected"


def _walk(body: Sequence[Op]) -> Iterator[Op]:
    for op in body:
        yield op
        for block in _blocks(op):
            yield from _walk(block)


def _blocks(op: Op) -> tuple[tuple[Op, ...], ...]:
    if isinstance(op, ChildContext | Map):
        return (op.body,)
    if isinstance(op, Parallel):
        return op.branches
    return ()


def _depth(body: Sequence[Op]) -> int:
    return 1 + max((_depth(b) for op in body for b in _blocks(op)), default=0) if body else 1


def _outline(body: Sequence[Op]) -> str:
    parts = []
    for op in body:
        if isinstance(op, ChildContext | Map):
            parts.append(f"{op.name}[{_outline(op.body)}]")
        elif isinstance(op, Parallel):
            parts.append(f"{op.name}[" + " | ".join(_outline(b) for b in op.branches) + "]")
        else:
            parts.append(op.name)
    return " ".join(parts)


def _op_to_dict(op: Op) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": op.kind}
    for name in op.__dataclass_fields__:
        value = getattr(op, name)
        if name == "body":
            value = [_op_to_dict(o) for o in value]
        elif name == "branches":
            value = [[_op_to_dict(o) for o in branch] for branch in value]
        elif name == "items":
            value = list(value)
        out[name] = value
    return out


def _op_from_dict(data: dict[str, Any]) -> Op:
    data = dict(data)
    kind = data.pop("kind", None)
    cls = OP_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown operation kind {kind!r}; known kinds: {sorted(OP_TYPES)}")
    if "body" in data:
        data["body"] = tuple(_op_from_dict(d) for d in data["body"])
    if "branches" in data:
        data["branches"] = tuple(tuple(_op_from_dict(d) for d in branch) for branch in data["branches"])
    if "items" in data:
        data["items"] = tuple(data["items"])
    return cls(**data)


# --------------------------------------------------------------------- semantics
def expected_result(program: Program) -> dict[str, Any]:
    """The result a correct execution of ``program`` returns, whatever faults it survived."""
    return {"input": program.input, "results": _expected_block(program.body)}


def _expected_block(body: Sequence[Op]) -> dict[str, Any]:
    return {op.name: _expected_op(op) for op in body}


def _expected_op(op: Op) -> Any:
    if isinstance(op, Step):
        return op.value
    if isinstance(op, Wait):
        return None
    if isinstance(op, Callback):
        return {"rejected": rejection(op.name)} if op.fails else op.answer
    if isinstance(op, Invoke):
        return op.payload if op.target == "echo_target" else {"plain": op.payload}
    if isinstance(op, WaitForCondition):
        return op.until
    if isinstance(op, ChildContext):
        return _expected_block(op.body)
    if isinstance(op, Map):
        return [[item, _expected_block(op.body)] for item in op.items]
    if isinstance(op, Parallel):
        return [_expected_block(branch) for branch in op.branches]
    raise TypeError(f"not an operation: {op!r}")


# --------------------------------------------------------------------- strategy
def _name_ops(body: Sequence[Op], counter: list[int]) -> tuple[Op, ...]:
    out = []
    for op in body:
        counter[0] += 1
        name = f"{op.kind.replace('wait_for_condition', 'poll')}{counter[0]}"
        if isinstance(op, ChildContext | Map):
            op = replace(op, name=name, body=_name_ops(op.body, counter))
        elif isinstance(op, Parallel):
            op = replace(op, name=name, branches=tuple(_name_ops(b, counter) for b in op.branches))
        else:
            op = replace(op, name=name)
        out.append(op)
    return tuple(out)


def name_operations(program: Program) -> Program:
    """The same program with every operation renamed ``<kind><pre-order index>``."""
    return replace(program, body=_name_ops(program.body, [0]))


@dataclass
class _Budget:
    left: int
    kinds: tuple[str, ...] = field(default_factory=tuple)
    max_concurrency: int = 1


def _draw_block(draw: st.DrawFn, depth: int, budget: _Budget, min_size: int = 1) -> tuple[Op, ...]:
    ops: list[Op] = []
    while True:
        op = draw(_next_op(depth, budget, len(ops) < min_size, len(ops) >= 4))
        if op is None:
            return tuple(ops)
        ops.append(op)


@st.composite
def _next_op(draw: st.DrawFn, depth: int, budget: _Budget, required: bool, full: bool) -> Op | None:
    """One more operation, or None: a "one more?" choice, then the operation. The choice is
    always drawn (and overruled below the block's minimum size or at its limits), so every
    operation of a block is one span of the same shape, and the shrinker can delete any one."""
    more = draw(st.integers(0, 2)) > 0
    if full or budget.left <= 0 or not (more or required):
        return None
    budget.left -= 1
    return _draw_op(draw, depth, budget)


def _draw_op(draw: st.DrawFn, depth: int, budget: _Budget) -> Op:
    kinds = [k for k in budget.kinds if depth > 0 or k not in CONTAINERS]
    if budget.left <= 0:
        kinds = [k for k in kinds if k not in CONTAINERS] or kinds
    kind = draw(st.sampled_from(kinds))
    if kind not in CONTAINERS and not draw(st.booleans()):
        # the plain form first: every leaf shrinks to the same two choices, so the kind decides
        return OP_TYPES[kind]()
    if kind == "step":
        max_attempts = draw(st.integers(1, 3))
        return Step(value=draw(st.integers(0, 100)),
                    semantics=draw(st.sampled_from(["AT_LEAST_ONCE_PER_RETRY", "AT_MOST_ONCE_PER_RETRY"])),
                    max_attempts=max_attempts, fail_first_attempts=draw(st.integers(0, max_attempts - 1)))
    if kind == "wait":
        return Wait(seconds=draw(st.sampled_from([1, 5, 60])))
    if kind == "callback":
        return Callback(answer=draw(st.integers(0, 100)), fails=draw(st.booleans()),
                        timeout=draw(st.sampled_from([None, 7200])))
    if kind == "invoke":
        return Invoke(target=draw(st.sampled_from(["echo_target", "plain_target"])), payload=draw(st.integers(0, 100)))
    if kind == "wait_for_condition":
        return WaitForCondition(until=draw(st.integers(1, 3)))
    if kind == "child":
        return ChildContext(body=_draw_block(draw, depth - 1, budget))
    if kind == "map":
        items = draw(st.lists(st.integers(0, 9), min_size=1, max_size=3))
        body = _draw_block(draw, depth - 1, budget)
        return Map(items=tuple(items), body=body, max_concurrency=draw(st.integers(1, budget.max_concurrency)))
    if kind == "parallel":
        count = draw(st.integers(1, 3))
        branches = tuple(_draw_block(draw, depth - 1, budget) for _ in range(count))
        return Parallel(branches=branches, max_concurrency=draw(st.integers(1, budget.max_concurrency)))
    raise AssertionError(kind)  # pragma: no cover


def workflows(max_depth: int = 2, max_ops: int = 8, kinds: Sequence[str] | None = None,
              inputs: st.SearchStrategy[Any] | None = None, max_concurrency: int = 1) -> st.SearchStrategy[Program]:
    """Random durable programs of 1..``max_ops`` operations, containers nested up to ``max_depth``.

    Args:
        max_depth: how deep child contexts, maps and parallels nest (0: flat programs).
        max_ops: the most operations a program holds, counting containers.
        kinds: operation kinds to draw, from ``KINDS`` (default: all). Containers may hold
            only the kinds given.
        inputs: the execution input (default: small integers).
        max_concurrency: maps and parallels run up to this many items at once (default 1:
            serial, so histories are deterministic).
    """
    wanted = tuple(k for k in KINDS if kinds is None or k in kinds)
    unknown = set(kinds or ()) - set(KINDS)
    if unknown or not wanted:
        raise ValueError(f"unknown operation kinds {sorted(unknown)}; known: {list(KINDS)}")
    if max_ops < 1 or max_concurrency < 1:
        raise ValueError("max_ops and max_concurrency must be at least 1")
    if not set(wanted) - CONTAINERS:
        raise ValueError("kinds needs at least one non-container kind")
    input_strategy = inputs if inputs is not None else st.integers(0, 9)

    @st.composite
    def programs(draw: st.DrawFn) -> Program:
        budget = _Budget(left=max_ops, kinds=wanted, max_concurrency=max_concurrency)
        body = _draw_block(draw, max_depth, budget)
        return name_operations(Program(body=body, input=draw(input_strategy)))

    return programs()


# ------------------------------------------------------------------- rendering
class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sdk: set[str] = {"durable_execution"}
        self.config: set[str] = set()
        self.helpers: set[str] = set()
        self.json = False

    def add(self, indent: int, text: str) -> None:
        if text.startswith("def ") and self.lines and self.lines[-1].strip() not in ("", "results = {}"):
            self.lines.append("")
        self.lines.append("    " * indent + text)


def _step_config(w: _Writer, op: Step) -> str:
    w.config.add("StepConfig")
    w.helpers.add("retries")
    parts = []
    if op.semantics == "AT_MOST_ONCE_PER_RETRY":
        w.config.add("StepSemantics")
        parts.append("step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY")
    parts.append(f"retry_strategy=retries({op.max_attempts})")
    return f"StepConfig({', '.join(parts)})"


def _render_block(w: _Writer, body: Sequence[Op], ctx: str, scope: str, indent: int, depth: int) -> None:
    w.add(indent, "results = {}")
    for op in body:
        _render_op(w, op, ctx, scope, indent, depth)


def _render_op(w: _Writer, op: Op, ctx: str, scope: str, indent: int, depth: int) -> None:
    name = op.name
    target = f"results[{name!r}]"
    if isinstance(op, Step):
        w.add(indent, f"def {name}(step_context):")
        w.add(indent + 1, f"effect({name!r}, key={scope} + {name!r})")
        if op.fail_first_attempts:
            w.add(indent + 1, f"if step_context.attempt <= {op.fail_first_attempts}:")
            w.add(indent + 2, f"raise RuntimeError(f'planned failure of {name} (attempt {{step_context.attempt}})')")
        w.add(indent + 1, f"return {op.value!r}")
        w.add(indent, "")
        w.add(indent, f"{target} = {ctx}.step({name}, name={name!r}, config={_step_config(w, op)})")
    elif isinstance(op, Wait):
        w.config.add("Duration")
        w.add(indent, f"{ctx}.wait(Duration.from_seconds({op.seconds}), name={name!r})")
        w.add(indent, f"{target} = None")
    elif isinstance(op, Callback):
        w.json = True
        config = ""
        if op.timeout is not None:
            w.config |= {"CallbackConfig", "Duration"}
            config = f", config=CallbackConfig(timeout=Duration.from_seconds({op.timeout}))"
        w.add(indent, f"callback = {ctx}.create_callback(name={name!r}{config})")
        if op.fails:
            w.sdk.add("CallbackExternalError")
            w.add(indent, "try:")
            w.add(indent + 1, f"{target} = json.loads(callback.result())")
            w.add(indent, "except CallbackExternalError as error:")
            w.add(indent + 1, f"{target} = {{'rejected': error.message}}")
        else:
            w.add(indent, f"{target} = json.loads(callback.result())")
    elif isinstance(op, Invoke):
        w.add(indent, f"{target} = {ctx}.invoke({op.target!r}, {op.payload!r}, name={name!r})")
    elif isinstance(op, WaitForCondition):
        w.helpers.add("poll_every_second")
        w.add(indent, f"{target} = {ctx}.wait_for_condition(")
        w.add(indent + 1, "lambda state, check_context: state + 1,")
        w.add(indent + 1, f"poll_every_second(until={op.until}), name={name!r})")
    elif isinstance(op, ChildContext):
        inner = f"ctx{depth + 1}"
        w.add(indent, f"def {name}({inner}):")
        _render_block(w, op.body, inner, scope, indent + 1, depth + 1)
        w.add(indent + 1, "return results")
        w.add(indent, "")
        w.add(indent, f"{target} = {ctx}.run_in_child_context({name}, name={name!r})")
    elif isinstance(op, Map):
        w.config.add("MapConfig")
        inner = f"ctx{depth + 1}"
        inner_scope = f"scope{depth + 1}"
        w.add(indent, f"def {name}_item({inner}, item, index, items):")
        w.add(indent + 1, f"{inner_scope} = f'{{{scope}}}{name}[{{index}}]/'")
        _render_block(w, op.body, inner, inner_scope, indent + 1, depth + 1)
        w.add(indent + 1, "return [item, results]")
        w.add(indent, "")
        w.add(indent, f"outcome = {ctx}.map({list(op.items)!r}, {name}_item, name={name!r}, "
                      f"config=MapConfig(max_concurrency={op.max_concurrency}))")
        w.add(indent, "outcome.throw_if_error()")
        w.add(indent, f"{target} = outcome.get_results()")
    elif isinstance(op, Parallel):
        w.config.add("ParallelConfig")
        inner = f"ctx{depth + 1}"
        names = []
        for i, branch in enumerate(op.branches):
            names.append(f"{name}_branch{i}")
            w.add(indent, f"def {name}_branch{i}({inner}):")
            _render_block(w, branch, inner, scope, indent + 1, depth + 1)
            w.add(indent + 1, "return results")
            w.add(indent, "")
        w.add(indent, f"outcome = {ctx}.parallel([{', '.join(names)}], name={name!r}, "
                      f"config=ParallelConfig(max_concurrency={op.max_concurrency}))")
        w.add(indent, "outcome.throw_if_error()")
        w.add(indent, f"{target} = outcome.get_results()")
    else:  # pragma: no cover
        raise TypeError(f"not an operation: {op!r}")


_HELPERS = {
    "retries": [
        "def retries(max_attempts):",
        '    """At most ``max_attempts`` attempts in all, the first retry 1 s later, no jitter."""',
        "    return create_retry_strategy(RetryStrategyConfig(",
        "        max_attempts=max_attempts, initial_delay=Duration.from_seconds(1), "
        "jitter_strategy=JitterStrategy.NONE))",
    ],
    "poll_every_second": [
        "def poll_every_second(until):",
        '    """Poll once a second, without jitter, while the state is below ``until``."""',
        "    return WaitForConditionConfig(initial_state=0, wait_strategy=create_wait_strategy(WaitStrategyConfig(",
        "        should_continue_polling=lambda state: state < until, max_attempts=60,",
        "        initial_delay=Duration.from_seconds(1), max_delay=Duration.from_seconds(1), backoff_rate=1,",
        "        jitter_strategy=JitterStrategy.NONE)))",
    ],
}


def _render_module(program: Program, handler_name: str) -> str:
    w = _Writer()
    _render_block(w, program.body, "context", "scope0", 1, 0)
    body = w.lines
    if "retries" in w.helpers:
        w.config |= {"Duration", "JitterStrategy"}
    if "poll_every_second" in w.helpers:
        w.config |= {"Duration", "JitterStrategy"}
    lines = [f'"""A durable program drawn by chaosdurable\'s workflows() strategy: {program.describe()}.',
             "",
             "Run it with chaosdurable.check(handler, input, schedule, targets=TARGETS, callbacks=CALLBACKS),",
             "or expect the result from chaosdurable.strategies.workflows.expected_result.",
             '"""', ""]
    if w.json:
        lines.append("import json")
        lines.append("")
    lines.append(f"from aws_durable_execution_sdk_python import {', '.join(sorted(w.sdk))}")
    if w.config:
        lines.append(f"from aws_durable_execution_sdk_python.config import {', '.join(sorted(w.config))}")
    if "retries" in w.helpers:
        lines.append("from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy")
    if "poll_every_second" in w.helpers:
        lines.append("from aws_durable_execution_sdk_python.waits import (WaitForConditionConfig, "
                     "WaitStrategyConfig, create_wait_strategy)")
    lines.append("")
    callbacks = [op for op in program.walk() if isinstance(op, Callback)]
    lines.append("from chaosdurable import Answer, effect" if callbacks else "from chaosdurable import effect")
    invokes = sorted({op.target for op in program.walk() if isinstance(op, Invoke)})
    if invokes:
        lines.append(f"from chaosdurable.strategies.interpreter import {', '.join(invokes)}")
    lines.append("")
    lines.append(f"TARGETS = {{{', '.join(f'{t!r}: {t}' for t in invokes)}}}")
    answers = []
    for op in callbacks:
        answers.append(f"{op.name!r}: Answer(failure={{'ErrorType': 'Rejected', 'ErrorMessage': "
                           f"{rejection(op.name)!r}}})" if op.fails else f"{op.name!r}: Answer(result={op.answer!r})")
    lines.append(f"CALLBACKS = {{{', '.join(answers)}}}")
    lines.append(f"INPUT = {program.input!r}")
    lines.append(f"EXPECTED = {expected_result(program)!r}")
    for helper in ("retries", "poll_every_second"):
        if helper in w.helpers:
            lines += ["", "", *_HELPERS[helper]]
    lines += ["", "", "@durable_execution", f"def {handler_name}(event, context):", '    scope0 = ""']
    lines += [line.rstrip() for line in body]
    lines.append('    return {"input": event, "results": results}')
    return "\n".join(lines) + "\n"
