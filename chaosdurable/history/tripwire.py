"""The determinism tripwire: clock, randomness and environment reads in code outside steps.

Code outside a step runs again on every replay, so a value it reads from the clock,
``random``, ``uuid4``, ``os.urandom`` or the environment can differ between replays and
steer the workflow down another path. While active, a profile hook (``sys.setprofile`` and
``threading.setprofile``) watches calls to those functions; a call whose *caller* is user
code and is not inside a step body is recorded with its source line, whether or not a
fault fired. Reads inside step bodies go to the same sink with ``where.in_step`` set: they are no
finding (a step's result is checkpointed), but they tell the shifted-replay confirmation which step
results legitimately change with the clock (``checks.confirm``).
User code is judged by module as well as by path (``probes.is_user_code``), so an
SDK installed outside site-packages (``--target``, vendored) is never taken for the user's. The
hook costs time, so it is on only during checked runs.

In subprocess mode the handler runs in child processes, so the hook must run there: a
``Tripwire(sink, in_children=True)`` installs nothing in the parent, it only sets
``CHILDREN`` while it is on; the subprocess invoker then tells every child to install its own
``Tripwire``, whose hits travel over the child's pipe to the parent's ledger (``Recorder.trip``).
"""

from __future__ import annotations

import datetime
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from types import FrameType
from typing import Any

from chaosdurable.history.probes import is_user_code, where_now

_C_FUNCS: dict[int, str] = {
    id(time.time): "time.time()",
    id(time.time_ns): "time.time_ns()",
    id(os.urandom): "os.urandom()",
}
_C_METHODS: dict[tuple[str, type], str] = {
    ("now", datetime.datetime): "datetime.now()",
    ("utcnow", datetime.datetime): "datetime.utcnow()",
    ("today", datetime.date): "date.today()",
    ("today", datetime.datetime): "datetime.today()",
}
_RANDOM_NAMES = {"random", "getrandbits", "randbytes"}
_PY_CODES: dict[Any, str] = {
    uuid.uuid4.__code__: "uuid.uuid4()",
    uuid.uuid1.__code__: "uuid.uuid1()",
    os.getenv.__code__: "os.getenv()",
    type(os.environ).__getitem__.__code__: "os.environ[...]",
    random.Random.randint.__code__: "random.randint()",
    random.Random.choice.__code__: "random.choice()",
    random.Random.shuffle.__code__: "random.shuffle()",
    random.Random.uniform.__code__: "random.uniform()",
    random.Random.randrange.__code__: "random.randrange()",
    random.Random.sample.__code__: "random.sample()",
}
if hasattr(type(os.environ), "get"):
    _PY_CODES[type(os.environ).get.__code__] = "os.environ.get()"


#: Random methods whose frames are judged by the instance: the module-level functions (the shared,
#: OS-seeded instance) and SystemRandom differ between replays; an instance the handler seeded
#: itself (``random.Random(order_id)``) does not, and is left alone.
_RANDOM_METHOD_CODES = {code for code, name in _PY_CODES.items() if name.startswith("random.")}
_RANDOM_INIT = random.Random.__init__.__code__


#: names of the C functions ``_c_call_name`` may recognise, and the Python codes ``_profile`` looks at:
#: a cheap first filter for the profile hook
_WATCHED_C_NAMES = frozenset({"time", "time_ns", "urandom", *(name for name, _ in _C_METHODS), *_RANDOM_NAMES})
_WATCHED_CODES = frozenset({*_PY_CODES, _RANDOM_INIT})


def _replay_dependent(instance: Any) -> bool:
    """True for the random instances whose draws differ between replays."""
    return instance is getattr(random, "_inst", None) or isinstance(instance, random.SystemRandom)


def _c_call_name(fn: Any) -> str | None:
    name = _C_FUNCS.get(id(fn))
    if name:
        return name
    owner = getattr(fn, "__self__", None)
    fname = getattr(fn, "__name__", "")
    if isinstance(owner, type) and (fname, owner) in _C_METHODS:
        return _C_METHODS[(fname, owner)]
    if isinstance(owner, random.Random) and fname in _RANDOM_NAMES and _replay_dependent(owner):
        return f"random.{fname}()"
    return None


#: True while a subprocess-mode tripwire is on: children started now must watch themselves
CHILDREN = False


class Tripwire:
    """Install with ``on()``, remove with ``off()``; hits go to ``sink(call, where)``.

    ``in_children=True``: watch subprocess children instead of this process (see ``CHILDREN``).
    """

    def __init__(self, sink: Callable[[str, Any], None], in_children: bool = False) -> None:
        self._sink = sink
        self.in_children = in_children
        self._seen: set[tuple[str, str | None, int | None]] = set()

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        # called for every call and return of every thread: the common case leaves at the first test
        if event == "c_call":
            if getattr(arg, "__name__", None) not in _WATCHED_C_NAMES:
                return
            name = _c_call_name(arg)
            caller = frame
        elif event == "call":
            code = frame.f_code
            if code not in _WATCHED_CODES:
                return
            if code is _RANDOM_INIT:
                # random.Random() with no seed draws one from the OS: every replay gets another sequence
                name = "random.Random() without a seed" if frame.f_locals.get("x") is None else None
            else:
                name = _PY_CODES.get(code)
                if code in _RANDOM_METHOD_CODES and not _replay_dependent(frame.f_locals.get("self")):
                    name = None
            caller = frame.f_back  # type: ignore[assignment]
        else:
            return
        if name is None or caller is None or not is_user_code(caller):
            return
        where = where_now(caller)
        if where.arn is None:
            return  # in a step body too: the recorder keeps those apart (``Recorder.in_step_reads``)
        key = (name, where.source, where.invocation)
        if key in self._seen:
            return
        self._seen.add(key)
        self._sink(name, where)

    def on(self) -> None:
        """Start watching this thread and every thread started from now on (or the children)."""
        global CHILDREN
        if self.in_children:
            CHILDREN = True
            return
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)

    def off(self) -> None:
        """Stop watching."""
        global CHILDREN
        if self.in_children:
            CHILDREN = False
            return
        sys.setprofile(None)
        threading.setprofile(None)


#: reads of the function's configuration: fixed for a deployment, the same in every replay of an
#: execution, so not flagged unless the tripwire is "strict"
ENVIRONMENT_CALLS = frozenset({"os.getenv()", "os.environ[...]", "os.environ.get()"})


def flagged(hit: Any, mode: bool | str, allow: tuple[str, ...] = ()) -> bool:
    """Is ``hit`` (a ``TripwireHit``) reported under tripwire ``mode`` and the ``allow`` list?

    ``mode``: True (the default) flags clock, randomness and uuid reads; "strict" also flags
    environment reads; False flags nothing. ``allow``: calls as reports name them (``"time.time()"``)
    or ``fnmatch`` patterns over the source (``"app/config.py:*"``) that are never flagged.
    """
    import fnmatch

    if not mode:
        return False
    if hit.call in ENVIRONMENT_CALLS and mode != "strict":
        return False
    source = hit.where.source or ""
    return not any(hit.call == a or fnmatch.fnmatchcase(source, a) for a in allow)
