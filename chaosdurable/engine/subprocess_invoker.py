"""Subprocess mode: every invocation runs in a fresh Python process, like a Lambda cold start.

A handler that calls ``os._exit`` or is killed by a signal really crashes: the service sees
the process end without an output and records ``Runtime.ExitError``. Module state starts
empty each time and ``PYTHONHASHSEED`` differs per invocation (derived from the seed, so it
is still reproducible).

Wire protocol (one JSON object per line; child -> parent on the child's fd ``CHAOSDURABLE_FD``,
parent -> child on its stdin):
- parent sends ``{"handler", "sys_path", "event", "context", "world", "tripwire", ...}`` first (and
  ``"env"``, the environment to take, when the process was forked from a zygote);
- child sends ``{"type": "checkpoint"|"state", ...}`` and blocks for ``{"ok": ...}`` or
  ``{"error": {"code", "message", "status"}}``;
- child streams ``{"type": "log", "record": ...}`` as it logs (nothing is lost to a crash);
- child sends ``{"type": "effect"|"crash", ...}`` (ledger calls, answered with the nemesis'
  decision; an effect marked ``"unanswered"``, sent when the first message's ``effects_unanswered``
  says no pending fault can act on one, is only recorded), ``{"type": "body", ...}`` (a body run
  started; recorded, not answered) and
  ``{"type": "aws", "method", "url", "headers", "body"}`` (a botocore request, answered
  from this process' moto world with ``{"aws": [status, headers, body]}``; bodies base64) and
  ``{"type": "http", "method", "url", "headers", "body"}`` (an HTTP request no allowed host serves,
  answered from this process' ``responses`` mock with ``{"http": raw response}`` or ``{"error": ...}``);
- the first message's ``"http"`` (``{"allow_hosts", "mock"}``) is this process' HTTP egress policy,
  which the child enforces (``history.http``);
- child sends ``{"type": "trip"|"refused", ...}`` (tripwire hits, refused AWS calls; not answered);
- child ends with ``{"type": "result", "output": ...}`` or ``{"type": "raised", ...}``, sent after its
  stdout is flushed: the parent drains stdout and returns at once, and the process, which exits
  right after, is killed and reaped without waiting (``_Reaper``).
Every read has a deadline: a child silent past ``hang_timeout_s`` is killed.
"""

from __future__ import annotations

import atexit
import base64
import collections
import contextlib
import importlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Literal

from aws_durable_execution_sdk_python.exceptions import BotoClientError
from aws_durable_execution_sdk_python.lambda_service import OperationUpdate

from chaosdurable.engine import forkserver
from chaosdurable.engine.errors import NotDurableHandlerError
from chaosdurable.engine.invoker import Outcome
from chaosdurable.engine.logcapture import LogCapture
from chaosdurable.engine.sandbox import HOUSEKEEPER, Sandboxes

_FIX = ("pass import_path='package.module:attribute' (DurableRunner(..., import_path=...), check(..., "
        "import_path=...), or module:attribute on the command line) naming a module-level attribute that "
        "holds this handler")


#: variables through which botocore would find real credentials, a profile or an endpoint
_AWS_LOOKUPS = frozenset({"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
                          "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"})


def _describe(handler: Callable[..., Any]) -> str:
    return f"{getattr(handler, '__module__', None)}.{getattr(handler, '__qualname__', repr(handler))}"


def _resolve(module: Any, attribute: str) -> Any:
    target = module
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def resolve_import_path(handler: Callable[..., Any], import_path: str) -> str:
    """Check that ``import_path`` (``module:attribute``) imports ``handler``; return it, or a clear error.

    The module is imported here (a fresh process will import it too). The attribute must hold
    this very handler object; when the handler was defined in ``__main__`` (a script), the same
    code imported under its module name is a different object, so any durable handler there is
    accepted.
    """
    from chaosdurable.engine.invoker import is_durable_handler

    module_name, sep, attribute = import_path.partition(":")
    if not sep or not module_name or not attribute or not all(p.isidentifier() for p in attribute.split(".")):
        raise NotDurableHandlerError(
            f"import_path {import_path!r} is not of the form 'package.module:attribute' (for example "
            "'orders.workflow:handler'): give the module to import and the attribute that holds the handler")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise NotDurableHandlerError(
            f"import_path {import_path!r}: module {module_name!r} cannot be imported ({type(exc).__name__}: {exc}); "
            "give a module importable from sys.path (the child process gets this process' sys.path)") from None
    try:
        target = _resolve(module, attribute)
    except AttributeError:
        raise NotDurableHandlerError(
            f"import_path {import_path!r}: module {module_name!r} has no attribute {attribute!r}; name the "
            f"module-level attribute that holds {_describe(handler)}") from None
    script = getattr(handler, "__module__", None) == "__main__"
    if target is handler or (script and is_durable_handler(target)):
        return import_path
    raise NotDurableHandlerError(
        f"import_path {import_path!r} names {_describe(target)}, not the handler being run ({_describe(handler)}): "
        "a fresh process would run other code; name the attribute that holds this handler")


def _reloaded_copy(found: Any, handler: Callable[..., Any]) -> bool:
    """``found`` is ``handler`` defined again by a reload of its module (an in-process ``ColdStart``):
    the same module, name and source file, so a fresh process importing that name runs the same code."""
    if found is None or not callable(found):
        return False
    same = all(getattr(found, a, None) == getattr(handler, a, None) and getattr(handler, a, None) is not None
               for a in ("__module__", "__qualname__"))
    code_of = [getattr(getattr(f, "__wrapped__", f), "__code__", None) for f in (found, handler)]
    return same and all(code_of) and code_of[0].co_filename == code_of[1].co_filename  # type: ignore[union-attr]


def handler_ref(handler: Callable[..., Any], import_path: str | None = None) -> str:
    """``module:attribute`` by which a fresh process imports ``handler``, or a clear error.

    In order: ``import_path`` if given (checked, ``resolve_import_path``); the handler's own
    ``__module__:__qualname__`` when that resolves to it; the module-level attribute that holds it
    (``h = make_greeter(...)``: found by identity in its module). Nothing found: a
    ``NotDurableHandlerError`` saying why and naming ``import_path``.
    """
    if import_path is not None:
        return resolve_import_path(handler, import_path)
    module_name = getattr(handler, "__module__", None)
    qualname = getattr(handler, "__qualname__", "")
    if not module_name or module_name == "__main__":
        raise NotDurableHandlerError(
            f"subprocess mode imports the handler in a fresh process, but {_describe(handler)} was defined in "
            "__main__ (the script being run), which a fresh process cannot import: move it to an importable "
            f"module, or {_FIX}")
    module = sys.modules.get(module_name)
    if module is not None:
        if "<locals>" not in qualname:
            try:
                found = _resolve(module, qualname)
            except AttributeError:
                found = None
            if found is handler or _reloaded_copy(found, handler):
                return f"{module_name}:{qualname}"
        for name, value in vars(module).items():
            if value is handler:
                return f"{module_name}:{name}"
    raise NotDurableHandlerError(
        f"subprocess mode imports the handler in a fresh process, but {_describe(handler)} is not reachable "
        f"from module {module_name!r}: no module-level attribute of it holds this handler (built inside a "
        f"function, or stored in a container). Assign it at module level, or {_FIX}")


def _close(proc: Any, stderr: Any) -> None:
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()
    stderr.close()


class _Reaper:
    """Processes that sent their outcome and are exiting on their own: reaped without waiting.

    Waiting for a process to tear down its address space (and for its zygote to report the exit)
    costs several milliseconds per invocation and changes nothing: its outcome is in, its last
    output drained, and it calls ``os._exit`` right after. Each ``add`` first reaps those that
    have ended; a process still there after ``LINGER_S`` is killed, and at most ``MAX_PENDING``
    are kept (the oldest is then waited for, bounded).
    """

    LINGER_S = 10.0
    MAX_PENDING = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[Any, Any, float]] = []

    def add(self, proc: Any, stderr: Any) -> None:
        """Hand over an ending process and its stderr file; reap whatever has ended meanwhile."""
        with self._lock:
            self._pending.append((proc, stderr, time.monotonic() + self.LINGER_S))
        self.reap()

    def reap(self, block: bool = False) -> None:
        """Close every process that has ended (``block``: wait for all, bounded, killing stragglers)."""
        with self._lock:
            pending, self._pending = self._pending, []
        keep = []
        for index, (proc, stderr, deadline) in enumerate(pending):
            must_end = block or time.monotonic() > deadline or len(pending) - index > self.MAX_PENDING
            if proc.poll() is None and must_end:
                with contextlib.suppress(Exception):
                    proc.wait(timeout=max(0.0, min(deadline - time.monotonic(), 2.0)))
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
            if proc.poll() is None:
                keep.append((proc, stderr, deadline))
            else:
                _close(proc, stderr)
        with self._lock:
            self._pending = keep + self._pending


#: the ending processes of every invoker in this interpreter (reaped at exit too)
REAPER = _Reaper()
atexit.register(REAPER.reap, True)


class _Sandbox:
    """A sandbox's process between its warm invocations: idle, waiting on stdin for the next one."""

    def __init__(self, proc: Any, stderr: Any, key: tuple[Any, ...]) -> None:
        self.proc = proc
        self.stderr = stderr
        #: what the process was started for (handler, hash seed, world, sys.path): reused only for the same
        self.key = key
        #: its temporary directory while it is in the warm pool (the pool owns it then; None otherwise)
        self.tmpdir: str | None = None


def _release(sandboxes: dict[str, _Sandbox]) -> None:
    """End idle sandbox processes: their stdin closes, they exit, and the reaper collects them."""
    while sandboxes:
        _, sandbox = sandboxes.popitem()
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.close(sandbox.proc.chaosdurable_read_fd)
        with contextlib.suppress(OSError, ValueError):
            sandbox.proc.stdin.close()
        REAPER.add(sandbox.proc, sandbox.stderr)
        if sandbox.tmpdir is not None:
            HOUSEKEEPER.remove_later({"": sandbox.tmpdir})
            sandbox.tmpdir = None


def _retire(idle: dict[str, _Sandbox], sandboxes: Sandboxes) -> None:
    """A runner is done: its idle sandbox processes go to the warm pool with their temporary directories
    (a warm Lambda sandbox keeps its ``/tmp`` for the next execution). Safe in a finalizer: it only
    queues them (a garbage collection can run it while this thread holds any lock); the pool takes
    them in at its next use."""
    if idle:
        WARM_POOL.handed.append((dict(idle), sandboxes))
        idle.clear()


class _WarmPool:
    """Warm sandboxes between executions: a runner that is done hands its idle processes here, and the
    next runner's first sandbox of the same handler, hash seed, world and ``sys.path`` takes one, as a
    new execution lands on a warm Lambda sandbox that earlier executions used (module state kept, as
    in-process). At most ``MAX_IDLE`` are kept (the oldest ends first); all end at interpreter exit.
    """

    MAX_IDLE = 4

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: collections.OrderedDict[int, _Sandbox] = collections.OrderedDict()
        self._next = 0
        #: (idle sandboxes, their runner's ``Sandboxes``) handed over by finished runners, not taken in yet
        #: (``_retire`` only appends here: ``deque.append`` takes no lock a finalizer could deadlock on)
        self.handed: collections.deque[tuple[dict[str, _Sandbox], Sandboxes]] = collections.deque()

    def _take_in(self) -> None:
        """Take in what finished runners handed over: each sandbox with its temporary directory."""
        while True:
            try:
                idle, sandboxes = self.handed.popleft()
            except IndexError:
                return
            for function, sandbox in idle.items():
                sandbox.tmpdir = sandboxes.detach(function)
            self.give(idle)

    def give(self, sandboxes: dict[str, _Sandbox]) -> None:
        """Keep these idle processes (the live ones) for later runners; end the oldest beyond the bound."""
        over: dict[str, _Sandbox] = {}
        with self._lock:
            for sandbox in sandboxes.values():
                self._next += 1
                self._idle[self._next] = sandbox
            sandboxes.clear()
            while len(self._idle) > self.MAX_IDLE:
                number, sandbox = self._idle.popitem(last=False)
                over[str(number)] = sandbox
        _release(over)

    def take(self, key: tuple[Any, ...]) -> _Sandbox | None:
        """The most recently kept idle process started for ``key``, or None."""
        self._take_in()
        with self._lock:
            for number in reversed(self._idle):
                if self._idle[number].key == key:
                    return self._idle.pop(number)
        return None

    def clear(self) -> None:
        """End every kept process (at interpreter exit; and for tests that need cold sandboxes)."""
        self._take_in()
        with self._lock:
            idle = {str(n): s for n, s in self._idle.items()}
            self._idle.clear()
        _release(idle)


#: the warm sandboxes of this interpreter's finished runners (subprocess mode, ``process_per="sandbox"``)
WARM_POOL = _WarmPool()
atexit.register(WARM_POOL.clear)  # runs before REAPER.reap (registered earlier), which then reaps them


#: what a process is per: one emulated Lambda sandbox (its warm invocations), or every invocation
ProcessPer = Literal["sandbox", "invocation"]


class SubprocessInvoker:
    """Runs invocations in ``python -m chaosdurable.engine.subprocess_worker`` processes.

    ``process_per="sandbox"`` (the default) is Lambda's model: a function's sandbox is one process,
    and its warm invocations run in it one after another, keeping module state, as a warm Lambda
    sandbox does. A new process (another ``PYTHONHASHSEED``, fresh module state, an empty temporary
    directory) starts on the function's first invocation, on a ``ColdStart``, after an invocation that
    crashed or timed out (the sandbox died with it), and for every concurrent duplicate delivery
    (another copy of an invocation runs on a sandbox of its own, as concurrent Lambda invocations do).
    ``process_per="invocation"``: every invocation in a new process (every re-invocation cold).
    """

    def __init__(self, hang_timeout_s: float, seed: int = 0, process_per: ProcessPer = "sandbox") -> None:
        self.hang_timeout_s = hang_timeout_s
        self.seed = seed
        self.count = 0
        if process_per not in ("sandbox", "invocation"):
            raise ValueError(f"process_per={process_per!r}: give 'sandbox' (a process per emulated Lambda sandbox, "
                             "warm invocations share it) or 'invocation' (a new process for every invocation)")
        self.process_per: ProcessPer = process_per
        #: processes started for a sandbox so far (their hash seeds derive from it)
        self.sandboxes_started = 0
        #: each function's warm sandbox process, idle between invocations (``process_per="sandbox"``)
        self._idle: dict[str, _Sandbox] = {}
        self._idle_lock = threading.Lock()
        #: functions that have had a sandbox in this invoker, or were told to start on a new one: their next
        #: new sandbox is a new process, never a warm one from the pool
        self._sandboxed: set[str] = set()
        #: one temporary directory per function, the child's TMPDIR (``engine.sandbox``)
        self.sandboxes = Sandboxes()
        weakref.finalize(self, _retire, self._idle, self.sandboxes)
        self.log_sink: LogCapture | None = None
        #: run map/parallel branches serially in the child (``speedups.serial_branches``)
        self.serial_branches = True
        #: the semantics-neutral speed-ups in the child (``engine.speedups``; off in faithful mode)
        self.speedups = True
        #: explicit ``module:attribute`` import paths by function name (``DurableRunner(import_path=...)``)
        self.import_paths: dict[str, str] = {}
        #: fork invocations from pre-imported zygotes (``engine.forkserver``); False: a plain process each
        self.fork = True
        #: how the child seeds the handler's draws from ``random`` (``history.randomness.UserRandom``,
        #: set by ``check()``'s runs); None: the child's own OS-seeded stream
        self.user_random: Any = None
        #: the virtual instant (epoch ms) the child's wall clock stands at, set by ``user_clock.run``
        #: around an invocation when ``virtual_clock=True``; None: the child reads the real clock
        self.virtual_now_ms: int | None = None
        #: where the service's clock moved to during the invocation (``user_clock.moved``), sent to the child
        #: with each checkpoint's answer so that its frozen wall clock follows; None: it did not move
        self.moved_now_ms: int | None = None

    #: module state lives in the child processes: a cold start starts a new one, nothing is reloaded here
    always_cold = True

    def new_sandbox(self, function: str) -> None:
        """``function``'s next invocation lands on a new sandbox: a new process and an empty temp dir."""
        with self._idle_lock:
            idle = {function: self._idle.pop(function)} if function in self._idle else {}
            self._sandboxed.add(function)
        _release(idle)
        self.sandboxes.new_sandbox(function)

    def close(self) -> None:
        """Hand every idle sandbox process to the warm pool for later runners (idempotent; also done
        when the invoker is garbage-collected)."""
        with self._idle_lock:
            idle = dict(self._idle)
            self._idle.clear()
        _retire(idle, self.sandboxes)
        WARM_POOL._take_in()

    def child_env(self, function_name: str, world: bool, hash_seed: str | None = None) -> dict[str, str]:
        """The environment of an invocation's process: ours, its hash seed and TMPDIR, and AWS fenced off.

        With a moto world in this process, the child's botocore requests come over its pipe to
        that world (``world.serve_aws_request``): its endpoint variables are removed so requests
        carry the real AWS host names moto routes by, and nothing is sent on any socket. Without
        one, AWS calls go to a closed local port. Either way the credentials are dummies and no
        profile or config file is read, unless ``CHAOSDURABLE_ALLOW_REAL_AWS=1``.
        """
        env = dict(os.environ, PYTHONHASHSEED=hash_seed or self.hash_seed(), PYTHONUNBUFFERED="1",
                   TMPDIR=self.sandboxes.tmpdir(function_name))
        if os.environ.get("CHAOSDURABLE_ALLOW_REAL_AWS") != "1":
            for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL") or k in _AWS_LOOKUPS]:
                del env[key]
            env.update(AWS_ACCESS_KEY_ID="chaosdurable", AWS_SECRET_ACCESS_KEY="chaosdurable",
                       AWS_SESSION_TOKEN="chaosdurable", AWS_CONFIG_FILE=os.devnull,
                       AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
            env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
            if not world:
                env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
        return env

    def hash_seed(self, copy: int = 0, index: int = 0) -> str:
        """``PYTHONHASHSEED`` of the next new process, derived from the seed, so reproducible: per
        invocation (the count) or, per sandbox, from the number of sandboxes started (a concurrent
        duplicate's from its invocation and copy, so that which of the two copies starts first does not
        matter). The ordinals stay small, so a property run needs few zygotes (one per hash seed)."""
        if self.process_per == "invocation":
            ordinal = self.count
        elif copy:
            ordinal = index + copy
        else:
            ordinal = self.sandboxes_started + 1
        return str((self.seed * 7919 + ordinal) % 4_294_967_295)

    def invoke(self, handler: Callable[..., Any], event: Any, context: Any,
               abort: threading.Event | None = None) -> Outcome:
        """Run one invocation in its sandbox's process (or a new one) and serve its service calls until it ends.

        A new process is forked from a pre-imported zygote with its hash seed (``engine.forkserver``),
        or started as a plain ``python`` when that is unavailable. ``abort`` set by the service (an
        injected crash) kills the process at once; so does a hang. A process whose invocation returned
        or raised stays its sandbox's (``process_per="sandbox"``, first delivery only) for the next one.
        """
        self.count += 1
        client = event.service_client
        from chaosdurable.history import http as http_effects
        from chaosdurable.history import ledger, tripwire

        recorder = ledger.ACTIVE
        policy = http_effects.POLICY
        world = bool(ledger.MOTO_ACTIVE) and os.environ.get("CHAOSDURABLE_ALLOW_REAL_AWS") != "1"
        _arn, index, copy = client.invocation
        function = context.function_name
        ref = handler_ref(handler, self.import_paths.get(function))
        first = {
            "handler": ref,
            "sys_path": [p for p in sys.path if p],
            "event": event.to_json_dict(),
            "context": asdict(context),
            "invocation": list(client.invocation),
            "record": recorder is not None,
            "allow_real_aws": bool(recorder and recorder.allow_real_aws),
            # no pending fault can act on an effect: the child sends effects without awaiting "proceed"
            "effects_unanswered": recorder is not None and not getattr(recorder, "may_decide_effects", lambda: True)(),
            "serial_branches": self.serial_branches,
            "virtual_now_ms": self.virtual_now_ms,
            "random": None if self.user_random is None else self.user_random.to_json(
                recorder.body_runs if recorder is not None else None),
            "speedups": self.speedups,
            "world": world,
            "tripwire": recorder is not None and tripwire.CHILDREN,
            # the child enforces the same HTTP egress policy; a mock here answers its requests over the pipe
            "http": None if recorder is None or policy is None else {
                "allow_hosts": list(policy.allow_hosts), "mock": policy.mock is not None},
        }
        sandboxed = self.process_per == "sandbox" and copy == 0  # a duplicate copy runs on a sandbox of its own
        with self._idle_lock:
            sandbox = self._idle.pop(function, None) if sandboxed else None
        hash_seed = sandbox.key[3] if sandbox is not None else self.hash_seed(copy, index)
        key = (ref, world, self.fork, hash_seed, tuple(first["sys_path"]))
        if sandboxed and sandbox is None and function not in self._sandboxed:
            sandbox = self._from_pool(function, key)
        # the environment goes with every invocation (a warm process from the pool was another runner's)
        first["env"] = env = self.child_env(function, world, hash_seed)
        proc, read_fd, stderr = self._warm(function, key, first, sandbox) if sandbox else (None, -1, None)
        if proc is None:
            first["keep"] = sandboxed
            if sandboxed:
                self.sandboxes_started += 1
                self._sandboxed.add(function)
            # the child's faulthandler dump lands here if it hangs; closed when the process is done
            stderr = tempfile.TemporaryFile()  # noqa: SIM115
            proc, read_fd = self._start(first, env, stderr)
            proc.chaosdurable_stderr = stderr
            proc.chaosdurable_read_fd = read_fd
            assert proc.stdin is not None
            if not getattr(proc, "first_sent", False):
                proc.stdin.write((json.dumps(first) + "\n").encode())
                proc.stdin.flush()
        ended = False
        try:
            outcome = self._serve(proc, read_fd, client, abort)
            ended = outcome.kind in ("returned", "raised")
            return outcome
        finally:
            if ended and sandboxed and self._keep(function, _Sandbox(proc, stderr, key)):
                pass  # idle until the sandbox's next invocation
            else:
                os.close(read_fd)
                if ended and not sandboxed:  # it exits by itself right after its last message: reaped later
                    REAPER.add(proc, stderr)
                else:
                    if proc.poll() is None:
                        proc.kill()
                    proc.wait(timeout=10)
                    _close(proc, stderr)

    def _from_pool(self, function: str, key: tuple[Any, ...]) -> _Sandbox | None:
        """A warm sandbox an earlier runner left for ``key``, now this invoker's ``function``'s (with its
        temporary directory), or None. Only for the function's first sandbox here, never after a ColdStart."""
        sandbox = WARM_POOL.take(key)
        if sandbox is None:
            return None
        self.sandboxes_started += 1
        self._sandboxed.add(function)
        if sandbox.tmpdir is not None:
            self.sandboxes.adopt(function, sandbox.tmpdir)
            sandbox.tmpdir = None
        return sandbox

    def _warm(self, function: str, key: tuple[Any, ...], first: dict[str, Any],
              sandbox: _Sandbox) -> tuple[Any, int, Any]:
        """``sandbox``'s process, sent ``first``; (None, -1, None) when it cannot be reused (it died idle)."""
        proc = sandbox.proc
        if sandbox.key != key or proc.poll() is not None:  # another handler or world, or it died idle
            _release({function: sandbox})
            return None, -1, None
        try:
            proc.stdin.write((json.dumps(dict(first, keep=True)) + "\n").encode())
            proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            _release({function: sandbox})
            return None, -1, None
        return proc, proc.chaosdurable_read_fd, sandbox.stderr

    def _keep(self, function: str, sandbox: _Sandbox) -> bool:
        """Make ``sandbox`` ``function``'s idle process; False (the caller ends it) if one is already idle."""
        with self._idle_lock:
            if function in self._idle:
                return False
            self._idle[function] = sandbox
            return True

    def _start(self, first: dict[str, Any], env: dict[str, str], stderr: Any) -> tuple[Any, int]:
        """The invocation's process and the read end of its protocol pipe: forked, or else spawned."""
        if self.fork and forkserver.enabled():
            try:
                zygote = forkserver.zygote_for(env["PYTHONHASHSEED"], env)
                zygote.preload(first["sys_path"])
                line = (json.dumps(dict(first, env=env)) + "\n").encode()
                child = zygote.fork(stderr.fileno(), first=line)
            except forkserver.ForkUnavailable:
                forkserver.discard_for(env["PYTHONHASHSEED"], env)
            else:
                first["env"] = env
                return child, child.protocol_fd  # type: ignore[attr-defined]
        read_fd, write_fd = os.pipe()
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaosdurable.engine.subprocess_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            pass_fds=(write_fd,), env=dict(env, CHAOSDURABLE_FD=str(write_fd)),
        )
        os.close(write_fd)
        return proc, read_fd

    def _stacks_of(self, proc: Any) -> str:
        """Where the hung child is: it dumps every thread's stack (faulthandler, on SIGUSR1) to its stderr file.

        Bounded: waits at most 0.5 s for the dump; without one, says that it was killed.
        """
        dump = getattr(proc, "chaosdurable_stderr", None)
        if dump is None or not hasattr(signal, "SIGUSR1"):
            return "(subprocess; killed)"
        try:
            proc.send_signal(signal.SIGUSR1)
        except OSError:
            return "(subprocess; killed)"
        deadline = time.monotonic() + 0.5
        text = ""
        while time.monotonic() < deadline:
            dump.seek(0)
            text = dump.read().decode(errors="replace")
            if "Thread 0x" in text and text.rstrip().endswith(tuple("0123456789>)")):
                time.sleep(0.02)  # let the last thread's lines land
                dump.seek(0)
                text = dump.read().decode(errors="replace")
                break
            time.sleep(0.01)
        ours = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        user = [line for line in text.splitlines()
                if line.strip().startswith("File") and not any(
                    part in line for part in ("site-packages", "/lib/python", "<frozen", ours))]
        if not user:
            return "(subprocess; killed; no stack of user code was dumped)"
        return "(subprocess) user frames of the hung process, innermost first:\n" + "\n".join(
            dict.fromkeys(user[:12]))

    def _serve(self, proc: Any, read_fd: int, client: Any,
               abort: threading.Event | None) -> Outcome:
        selector = selectors.DefaultSelector()
        selector.register(read_fd, selectors.EVENT_READ, "protocol")
        assert proc.stdout is not None
        selector.register(proc.stdout, selectors.EVENT_READ, "stdout")
        buffers = {"protocol": b"", "stdout": b""}
        deadline = time.monotonic() + self.hang_timeout_s
        open_streams = 2
        outcome: Outcome | None = None
        while open_streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                where = self._stacks_of(proc)
                proc.kill()
                return Outcome(kind="timed_out", error_type="Sandbox.Timedout",
                               error_message=f"Task timed out after {self.hang_timeout_s:.2f} seconds",
                               where=where)
            if abort is not None and abort.is_set():
                proc.kill()
                return Outcome(kind="crashed", error_type="Runtime.ExitError",
                               error_message="Runtime exited with error: signal: killed (injected)")
            for key, _ in selector.select(timeout=min(remaining, 0.05) if abort is not None else remaining):
                fd = key.fd
                chunk = os.read(fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                buffers[key.data] += chunk
                while b"\n" in buffers[key.data]:
                    if abort is not None and abort.is_set():  # crashed: nothing more of it is served
                        break
                    line, buffers[key.data] = buffers[key.data].split(b"\n", 1)
                    if key.data == "stdout":
                        if line.strip() and self.log_sink is not None:
                            from chaosdurable.engine.logcapture import parse_line

                            self.log_sink.extend([parse_line(line.decode(errors="replace"))])
                        continue
                    result = self._handle(json.loads(line), proc, client)
                    if result is not None:
                        outcome = result
            if outcome is not None:  # its stdout was flushed before the outcome was sent: drain it, done
                if "stdout" in {k.data for k in selector.get_map().values()}:
                    self._drain_stdout(proc.stdout.fileno(), buffers["stdout"])
                break
        selector.close()
        if outcome is not None:
            return outcome
        code = proc.wait(timeout=10)
        if code is None:  # a forked process that closed its pipes but did not exit: it is killed now
            proc.kill()
            code = proc.wait(timeout=10)
            code = -signal.SIGKILL if code is None else code
        status = f"signal: {-code}" if code < 0 else f"exit status {code}"
        return Outcome(kind="crashed", error_type="Runtime.ExitError",
                       error_message=f"Runtime exited with error: {status}")

    def _drain_stdout(self, fd: int, pending: bytes) -> None:
        """Read what the child printed that is still in the pipe (never blocks) into the log sink."""
        from chaosdurable.engine.logcapture import parse_line

        data = pending
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while selector.select(timeout=0):
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                data += chunk
        if self.log_sink is not None:
            self.log_sink.extend([parse_line(line.decode(errors="replace"))
                                  for line in data.split(b"\n") if line.strip()])

    def _handle(self, msg: dict[str, Any], proc: Any, client: Any) -> Outcome | None:
        kind = msg.get("type")
        if kind == "log":
            if self.log_sink is not None:
                self.log_sink.extend([msg["record"]])
            return None
        if kind == "result":
            return Outcome(kind="returned", output=msg["output"])
        if kind == "raised":
            return Outcome(kind="raised", error_type=msg["error_type"], error_message=msg["message"],
                           where=msg.get("where"))
        if kind == "body" or msg.get("unanswered"):  # recorded, not answered (the child does not wait)
            self._ledger_call(msg)
            return None
        if kind in ("effect", "crash"):
            self._reply(proc, self._ledger_call(msg))
            return None
        if kind == "aws":
            from chaosdurable.history.world import serve_aws_request

            code, headers, body = serve_aws_request(msg["method"], msg["url"], msg["headers"],
                                                    base64.b64decode(msg["body"]))
            self._reply(proc, {"aws": [code, headers, base64.b64encode(body).decode()]})
            return None
        if kind == "http":
            from chaosdurable.history import http as http_effects

            try:
                raw = http_effects.serve_http_request(msg["method"], msg["url"], [tuple(h) for h in msg["headers"]],
                                                      base64.b64decode(msg["body"]) or None)
            except Exception as exc:  # no mock, or none matched: the child refuses the request
                self._reply(proc, {"error": f"{type(exc).__name__}: {exc}"})
            else:
                self._reply(proc, {"http": base64.b64encode(raw).decode()})
            return None
        if kind == "modules":
            forkserver.note_modules(msg["names"])
            return None
        if kind in ("trip", "refused"):
            self._note(msg)
            return None
        try:
            if kind == "checkpoint":
                updates = [OperationUpdate.from_dict(u) for u in msg["updates"]]
                out = client.checkpoint(msg["arn"], msg["token"], updates, msg.get("client_token"))
                reply: dict[str, Any] = {"ok": {
                    "CheckpointToken": out.checkpoint_token,
                    "Operations": [op.to_json_dict() for op in out.new_execution_state.operations],
                    "NextMarker": out.new_execution_state.next_marker,
                }}
                if self.moved_now_ms is not None:
                    reply["now_ms"] = self.moved_now_ms
            else:
                state = client.get_execution_state(msg["arn"], msg["token"], msg["marker"], msg.get("max_items", 1000))
                reply = {"ok": {"Operations": [op.to_json_dict() for op in state.operations],
                                "NextMarker": state.next_marker}}
        except BotoClientError as exc:
            error: dict[str, Any] = dict(exc.error or {})
            status = dict(exc.response_metadata or {}).get("HTTPStatusCode", 400)
            reply = {"error": {"code": error.get("Code"), "message": error.get("Message") or str(exc),
                               "status": status}}
        self._reply(proc, reply)
        return None

    @staticmethod
    def _reply(proc: Any, reply: dict[str, Any]) -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write((json.dumps(reply, default=str) + "\n").encode())
            proc.stdin.flush()
        except BrokenPipeError:
            pass

    @staticmethod
    def _note(msg: dict[str, Any]) -> None:
        """A child's tripwire hit or refused AWS call, into this process' ledger (no answer is sent)."""
        from chaosdurable.history import ledger
        from chaosdurable.history.record import Where

        recorder = ledger.ACTIVE
        if recorder is None:
            return
        if msg["type"] == "trip":
            recorder.trip(msg["call"], Where(**msg["where"]))
        else:
            recorder.refused.append(msg["call"])

    @staticmethod
    def _ledger_call(msg: dict[str, Any]) -> dict[str, Any]:
        """Record a child's effect, body run or crash in this process' ledger; answer with the decision."""
        from chaosdurable.history import ledger
        from chaosdurable.history.record import Where

        recorder = ledger.ACTIVE
        if recorder is None:
            return {"decision": "proceed"}
        where = Where(**msg["where"])
        try:
            if msg["type"] == "effect":
                return {"decision": recorder.effect(msg["name"], msg["key"], msg["kind"], where, msg["mutating"],
                                                    msg["detail"])}
            if msg["type"] == "body":
                recorder.body("start", where)
                return {}
            recorder.crash(where, msg["name"])
            return {}
        except ledger.InvocationKilled:
            return {"killed": True}
