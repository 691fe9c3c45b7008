"""The child side of subprocess mode (see ``subprocess_invoker`` for the protocol).

Run as ``python -m chaosdurable.engine.subprocess_worker``; it reads one invocation from
stdin, runs the handler with a service client that forwards every call to the parent, and
reports the output. Nothing here outlives the invocation.

Run as ``python -m chaosdurable.engine.subprocess_worker --zygote FD`` it is a fork server
(``engine.forkserver``): it imports the SDK and boto3 once, then forks one fresh process per
invocation, which reads its invocation from its own stdin exactly as above.

Inside the child: effects, body runs, refused AWS calls and tripwire hits go to the parent's
ledger; with a moto world in the parent, every botocore request goes over the pipe to it
(``world.serve_aws_request``) and never to the network. HTTP requests follow the parent's
egress policy (``history.http``): recorded as effects, refused unless allowed, and answered by
the parent's ``responses`` mock over the pipe (``http.serve_http_request``) when it has one.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import importlib
import io
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from aws_durable_execution_sdk_python.exceptions import CheckpointError, GetExecutionStateError
from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInput,
    DurableExecutionInvocationInputWithClient,
)
from aws_durable_execution_sdk_python.lambda_service import (
    CheckpointOutput,
    CheckpointUpdatedExecutionState,
    Operation,
    OperationUpdate,
    StateOutput,
)

from chaosdurable.engine import speedups
from chaosdurable.engine.client import to_sdk_error
from chaosdurable.engine.execution import CheckpointRejected
from chaosdurable.engine.invoker import LambdaContextStub
from chaosdurable.history import http as http_effects
from chaosdurable.history import ledger
from chaosdurable.history.ledger import InvocationKilled
from chaosdurable.history.probes import BodyProbeFactory, inject_body_probe
from chaosdurable.history.randomness import UserRandom
from chaosdurable.history.tripwire import Tripwire

_FD = int(os.environ.get("CHAOSDURABLE_FD", "-1"))
_write_lock = threading.Lock()


_F = TypeVar("_F", bound=Callable[..., Any])


def _unwatched(function: _F) -> _F:
    """Run ``function`` without the tripwire's profile hook on this thread: it runs no user code,
    and the hook costs a Python call per call and return made inside it."""
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        profile = sys.getprofile()
        if profile is None:
            return function(*args, **kwargs)
        sys.setprofile(None)
        try:
            return function(*args, **kwargs)
        finally:
            sys.setprofile(profile)

    return call  # type: ignore[return-value]


def _send(message: dict[str, Any]) -> None:
    data = (json.dumps(message, default=str) + "\n").encode()
    with _write_lock:
        os.write(_FD, data)


class _LogForwarder(logging.Handler):
    @_unwatched
    def emit(self, record: logging.LogRecord) -> None:
        if not hasattr(record, "executionArn"):
            return
        std = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
        out: dict[str, Any] = {"message": record.getMessage(), "level": record.levelname}
        out.update({k: v for k, v in vars(record).items() if k not in std})
        _send({"type": "log", "record": out})


_call_lock = threading.Lock()


@_unwatched
def _call(message: dict[str, Any]) -> dict[str, Any]:
    """Send a request to the parent and wait for its one-line answer (one request at a time)."""
    with _call_lock:
        _send(message)
        line = sys.stdin.readline()
    if not line:
        raise CheckpointError("parent went away")
    return dict(json.loads(line))


class PipeServiceClient:
    """A ``DurableServiceClient`` whose every call is answered by the parent process."""

    def __init__(self, invocation: tuple[str, int, int]) -> None:
        #: (execution ARN, invocation index, delivery copy), read by the attribution probes
        self.invocation = invocation

    def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        return _call(message)

    @_unwatched
    def checkpoint(self, durable_execution_arn: str, checkpoint_token: str, updates: list[OperationUpdate],
                   client_token: str | None) -> CheckpointOutput:
        reply = self._call({"type": "checkpoint", "arn": durable_execution_arn, "token": checkpoint_token,
                            "updates": [u.to_dict() for u in updates], "client_token": client_token})
        if "error" in reply:
            err = reply["error"]
            raise to_sdk_error(CheckpointRejected(err["message"], err["code"], err["status"]), CheckpointError)
        ok = reply["ok"]
        if "now_ms" in reply:  # the service completed a wait at once: the frozen wall clock moves with it
            from chaosdurable.engine.user_clock import move_frozen

            move_frozen(int(reply["now_ms"]))
        return CheckpointOutput(
            checkpoint_token=ok["CheckpointToken"],
            new_execution_state=CheckpointUpdatedExecutionState(
                operations=[Operation.from_json_dict(o) for o in ok["Operations"]], next_marker=ok["NextMarker"]),
        )

    @_unwatched
    def get_execution_state(self, durable_execution_arn: str, checkpoint_token: str, next_marker: str,
                            max_items: int = 1000) -> StateOutput:
        reply = self._call({"type": "state", "arn": durable_execution_arn, "token": checkpoint_token,
                            "marker": next_marker, "max_items": max_items})
        if "error" in reply:
            err = reply["error"]
            raise to_sdk_error(CheckpointRejected(err["message"], err["code"], err["status"]), GetExecutionStateError)
        ok = reply["ok"]
        return StateOutput(operations=[Operation.from_json_dict(o) for o in ok["Operations"]],
                           next_marker=ok["NextMarker"])


class _ForwardedList(list[str]):
    """The child's ``Recorder.refused``: every refused call is also sent to the parent's ledger."""

    def append(self, call: str) -> None:
        super().append(call)
        _send({"type": "refused", "call": call})


class _ForwardingRecorder:
    """Stands in for the parent's effect ledger inside the child: every effect and body run is
    sent to the parent, which records it and answers with the nemesis' decision. Refused AWS
    calls and tripwire hits are sent too (no answer awaited)."""

    def __init__(self, allow_real_aws: bool, effects_unanswered: bool = False) -> None:
        self.paused = 0
        self.allow_real_aws = allow_real_aws
        self.refused: list[str] = _ForwardedList()
        #: no pending fault can act on an effect (the parent said so): record it, do not wait for "proceed"
        self.effects_unanswered = effects_unanswered

    @_unwatched
    def effect(self, name: str, key: str | None, kind: str, where: Any, mutating: bool,
               detail: dict[str, Any]) -> str:
        message = {"type": "effect", "name": name, "key": key, "kind": kind, "where": asdict(where),
                   "mutating": mutating, "detail": detail}
        if self.effects_unanswered:  # in order on the pipe; a crashed invocation's are dropped there
            _send(dict(message, unanswered=True))
            return "proceed"
        reply = _call(message)
        if reply.get("killed"):
            raise InvocationKilled(f"invocation {where.invocation} was crashed by the nemesis")
        return str(reply.get("decision", "proceed"))

    @_unwatched
    def body(self, event: str, where: Any) -> None:
        # not answered: a body run is only recorded (in order, on the same pipe as the effects). Once
        # the nemesis has crashed this invocation the parent drops it and kills the process; the
        # body's first effect, which does wait for an answer, would stop it anyway.
        if event == "start":
            _send({"type": "body", "where": asdict(where)})

    def crash(self, where: Any, name: str) -> InvocationKilled:
        _call({"type": "crash", "where": asdict(where), "name": name})
        return InvocationKilled(f"injected crash right after {name!r}")

    @_unwatched
    def trip(self, call: str, where: Any) -> None:
        _send({"type": "trip", "call": call, "where": asdict(where)})


class _RawBody(io.BytesIO):
    """A response body botocore can read or stream (``urllib3``'s ``stream`` interface)."""

    def stream(self, **kwargs: Any) -> Any:
        contents = self.read()
        while contents:
            yield contents
            contents = self.read()


def _forward_aws_request(request: Any, **kwargs: Any) -> Any:
    """botocore ``before-send``: answer the signed request from the parent's moto world.

    Never returns None, so botocore never opens a connection: every AWS request of a child with
    a world goes over the pipe, and a failure to answer raises inside the call.
    """
    from botocore.awsrequest import AWSResponse

    body = request.body
    if hasattr(body, "read"):
        position = body.tell() if hasattr(body, "tell") else None
        data = body.read()
        if position is not None:
            body.seek(position)
        body = data
    if isinstance(body, str):
        body = body.encode()
    reply = _call({"type": "aws", "method": request.method, "url": request.url,
                   "headers": {str(k): (v.decode() if isinstance(v, bytes) else str(v))
                               for k, v in request.headers.items()},
                   "body": base64.b64encode(body or b"").decode()})
    if "aws" not in reply:
        raise ConnectionError(f"the parent did not answer the AWS request to {request.url}: {reply}")
    status, headers, data = reply["aws"]
    return AWSResponse(request.url, status, headers, _RawBody(base64.b64decode(data)))


def _answer_http(method: str, url: str, headers: list[tuple[str, Any]], body: bytes | None) -> bytes:
    """``RemoteMock.answer``: the raw response the parent's ``responses`` mock gives this request."""
    reply = _call({"type": "http", "method": method, "url": url,
                   "headers": [[str(k), v.decode() if isinstance(v, bytes) else str(v)] for k, v in headers],
                   "body": base64.b64encode(body or b"").decode()})
    if "http" not in reply:
        raise ConnectionError(f"no mock answered {method} {url}: {reply.get('error', reply)}")
    return base64.b64decode(reply["http"])


def _enforce_http_policy(policy: dict[str, Any]) -> None:
    """Govern this child's HTTP requests by the parent's policy (``history.http``), recording them
    through the forwarding recorder (``ledger.ACTIVE``) so refusals reach the parent's ``refused``."""
    mock = http_effects.RemoteMock(_answer_http) if policy.get("mock") else None
    http_effects.activate(http_effects.Policy(tuple(policy.get("allow_hosts") or ()), mock))


def _route_aws_to_parent() -> None:
    """Send every botocore request of this process to the parent's moto world (see ``world``).

    Registered once on each client, at every API call (``unique_id``: botocore calls *every*
    ``before-send`` handler, so a second registration would send the request twice).
    """
    from botocore.client import BaseClient

    original = BaseClient._make_api_call

    def _make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        self.meta.events.register("before-send", _forward_aws_request, unique_id="chaosdurable-moto-world")
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = _make_api_call
    ledger.MOTO_ACTIVE += 1  # the ledger's hook lets calls through: they reach the parent's moto world


def _import_handler(ref: str) -> Any:
    module_name, attribute = ref.split(":", 1)
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def _take_environment(env: dict[str, str]) -> None:
    """Make ``os.environ`` exactly ``env``, changing only what differs (most of it is the zygote's)."""
    for key in [k for k in os.environ if k not in env]:
        del os.environ[key]
    for key, value in env.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _forward_logs() -> None:
    """Send the SDK's log records to the parent (``_LogForwarder``), at INFO; done once per process
    (a zygote does it before forking: ``setLevel`` walks every logger botocore made)."""
    root = logging.getLogger()
    if not any(isinstance(h, _LogForwarder) for h in root.handlers):
        root.addHandler(_LogForwarder())
    if root.level != logging.INFO:
        root.setLevel(logging.INFO)


@contextlib.contextmanager
def _frozen_clock(now_ms: int | None) -> Any:
    """The wall clock of this process stands at ``now_ms`` (``virtual_clock=True``; see ``engine.user_clock``)."""
    if now_ms is None:
        yield
        return
    from chaosdurable.engine.user_clock import frozen_at

    with frozen_at(now_ms):
        yield


def run(first: dict[str, Any]) -> None:
    """Run the invocation ``first`` describes, report its outcome on the pipe, then end the process, or
    (``"keep"``: a sandbox's process) wait on stdin for the sandbox's next invocation and run it the same way.

    Once per process: the environment, ``sys.path``, the AWS routing, the handler's import and the log
    forwarding. Per invocation: the recorder, body probe, HTTP policy, tripwire, seeded randomness,
    speed-ups and frozen clock, each undone when it ends. Module state, like a Lambda sandbox's, is kept.
    """
    import faulthandler
    import signal
    import tempfile

    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    loaded = set(sys.modules)
    if first.get("env") is not None:  # a forked child: take the environment a fresh process would have had
        _take_environment(first["env"])
        tempfile.tempdir = None
    for path in reversed(first["sys_path"]):
        if path not in sys.path:
            sys.path.insert(0, path)
    if first.get("world"):
        _route_aws_to_parent()
    target = _import_handler(first["handler"])
    if first.get("env") is not None:  # tell the parent which library modules a zygote could import ahead
        _send({"type": "modules", "names": _library_modules(set(sys.modules) - loaded, first["handler"])})
    _forward_logs()
    while True:
        _run_invocation(first, target)
        if not first.get("keep"):
            os._exit(0)
        with _call_lock:  # the sandbox's next invocation; end of stdin: the sandbox is over
            line = sys.stdin.readline()
        if not line.strip():
            os._exit(0)
        first = json.loads(line)
        if first.get("env") is not None:  # this invocation's runner's environment (its sandbox's TMPDIR)
            _take_environment(first["env"])
            tempfile.tempdir = None


def _run_invocation(first: dict[str, Any], target: Any) -> None:
    """One invocation of ``target`` in this process; its outcome is sent on the pipe, stdout flushed first."""
    base = DurableExecutionInvocationInput.from_json_dict(first["event"])
    event = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input(
        base, PipeServiceClient(tuple(first["invocation"])))
    tripwire: Tripwire | None = None
    remove_probe: Callable[[], None] = lambda: None  # noqa: E731
    user_random = UserRandom.from_json(first["random"]) if first.get("random") else None
    if first.get("record"):
        recorder = _ForwardingRecorder(bool(first.get("allow_real_aws")), bool(first.get("effects_unanswered")))
        ledger.activate(recorder)  # type: ignore[arg-type]

        def on_body(event: str, where: Any) -> None:
            recorder.body(event, where)
            if event == "start" and user_random is not None:
                user_random.at_body(where)

        remove_probe = inject_body_probe(target, BodyProbeFactory(on_body))
        http_effects.activate(None)
        if first.get("http") is not None:
            _enforce_http_policy(first["http"])
        if first.get("tripwire"):
            tripwire = Tripwire(recorder.trip)
    else:
        ledger.activate(None)
        http_effects.activate(None)
    context = LambdaContextStub(**first["context"])
    try:
        with speedups.active(bool(first.get("speedups")), serial_branches=bool(first.get("serial_branches"))), \
                _frozen_clock(first.get("virtual_now_ms")):
            if user_random is not None:
                arn, index, copy = first["invocation"]
                user_random.at_invocation(arn, index, copy)
            if tripwire is not None:
                tripwire.on()
            try:
                output = target(event, context)
            finally:
                if tripwire is not None:
                    tripwire.off()
    except BaseException as exc:
        sys.stdout.flush()  # everything printed is in the pipe before the outcome: the parent stops at it
        _send({"type": "raised", "error_type": type(exc).__name__, "message": str(exc),
               "where": "".join(traceback.format_exception(exc)[-4:])})
    else:
        sys.stdout.flush()
        _send({"type": "result", "output": output})
    finally:
        remove_probe()


def main() -> None:
    """Run one invocation described on stdin. SIGUSR1 dumps every thread's stack to stderr (a hang report)."""
    run(json.loads(sys.stdin.readline()))


# ----------------------------------------------------------------------------- zygote (fork server)
def _library_modules(names: set[str], handler: str) -> list[str]:
    """Of ``names``, the modules from installed libraries or the stdlib (never the user's own code)."""
    from chaosdurable.history.probes import is_user_file

    handler_module = handler.split(":", 1)[0]
    out = []
    for name in sorted(names):
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if name == handler_module or name.startswith("__") or not path or is_user_file(path):
            continue
        out.append(name)
    return out


def _preload(request: dict[str, Any]) -> None:
    """Import library modules children will need (``forkserver``), then check that no thread started."""
    for path in reversed(request.get("sys_path", [])):
        if path not in sys.path:
            sys.path.insert(0, path)
    for name in request.get("modules", []):
        try:
            importlib.import_module(name)
        except Exception:  # a module that fails here is imported (and fails) in the child instead
            continue
    if threading.active_count() > 1:  # an import started a thread: forking now would be unsafe
        os._exit(3)
    _freeze_heap()


def _freeze_heap() -> None:
    """Move everything imported so far out of the collector's sight (``gc.freeze``): a fork's garbage
    collections then never walk, and so never copy, the pages it shares with the zygote."""
    import gc

    gc.collect()
    gc.freeze()


def _preimport() -> None:
    """What every child needs, imported once in the zygote (no thread is started, no session made)."""
    import faulthandler  # noqa: F401
    import tempfile  # noqa: F401

    with contextlib.suppress(ImportError):  # virtual_clock=True freezes the child's clock with it
        import time_machine  # noqa: F401

    import boto3  # noqa: F401
    import botocore.awsrequest
    import botocore.client
    import botocore.session  # noqa: F401

    import chaosdurable.engine.user_clock  # noqa: F401

    with contextlib.suppress(ImportError):  # the HTTP egress hooks (``history.http``) wrap it in every child
        import requests  # noqa: F401

    from chaosdurable import sdk_compat

    # which top-level packages are library code (read from every installed distribution's metadata,
    # ~100 ms): computed once here and inherited by every fork, not recomputed per invocation
    sdk_compat.library_packages()


def _become_invocation(fds: list[int]) -> None:
    """In a fresh fork of the zygote: take the invocation's pipes as stdin/stdout/stderr and run it.

    ``fds`` are the child's stdin, stdout, protocol pipe and stderr. Never returns.
    """
    global _FD
    stdin_r, stdout_w, proto_w, stderr_fd = fds
    for fd, target in ((stdin_r, 0), (stdout_w, 1), (stderr_fd, 2)):
        os.dup2(fd, target)
        os.close(fd)
    _FD = proto_w
    main()


def _report(fd: int, line: str) -> None:
    """Write a status line; the parent may have stopped listening (then nothing is lost that it wants)."""
    with contextlib.suppress(OSError):
        os.write(fd, line.encode())


def zygote(sock_fd: int) -> None:
    """Serve fork requests on the Unix socket ``sock_fd`` until the parent closes it.

    Each request carries five file descriptors: the child's stdin, stdout, protocol pipe, stderr,
    and a status pipe on which the zygote writes ``pid N`` at once and ``exit CODE`` when that
    process ends (codes follow ``Popen.returncode``: negative when killed by that signal). The
    zygote forks once per request, so every invocation gets a process of its own, with this
    zygote's ``PYTHONHASHSEED`` and its imports already done, used for that one invocation only.
    Ended children are reaped as their ``SIGCHLD`` wakes the loop (``signal.set_wakeup_fd``).
    """
    import selectors
    import signal
    import socket

    _preimport()
    _forward_logs()
    with contextlib.suppress(Exception):  # the speed-ups' source check, read once here, not in every fork
        from aws_durable_execution_sdk_python import state as sdk_state

        from chaosdurable.engine.speedups_checkpoint import fingerprints

        fingerprints(sdk_state)
    _freeze_heap()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # a handler (not SIG_IGN), so children are reapable
    signal.set_wakeup_fd(wake_w)
    sock = socket.socket(fileno=sock_fd)
    status_of: dict[int, int] = {}  # pid -> its status pipe
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "request")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    while True:
        for key, _ in selector.select():
            if key.data == "child":
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_r, 512):
                        pass
                _reap(status_of)
                continue
            try:
                message, fds, _, _ = socket.recv_fds(sock, 1 << 20, 8)
            except (OSError, InterruptedError):
                return
            if not message:
                return
            if message.startswith(b"preload "):
                _preload(json.loads(message[len(b"preload "):]))
                continue
            if len(fds) != 5:
                for fd in fds:
                    os.close(fd)
                continue
            pid = os.fork()
            if pid == 0:
                try:
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    selector.close()
                    for fd in (wake_r, wake_w, fds[4]):
                        os.close(fd)
                    sock.close()
                    _become_invocation(fds[:4])
                finally:
                    os._exit(70)
            for fd in fds[:4]:
                os.close(fd)
            status_of[pid] = fds[4]
            _report(fds[4], f"pid {pid}\n")
        _reap(status_of)  # a SIGCHLD that arrived before its pid was registered


def _reap(status_of: dict[int, int]) -> None:
    """Report and forget every child of the zygote that has ended."""
    while status_of:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = status_of.pop(pid, None)
        if fd is not None:
            _report(fd, f"exit {os.waitstatus_to_exitcode(status)}\n")
            os.close(fd)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--zygote":
        zygote(int(sys.argv[2]))
    else:
        main()
