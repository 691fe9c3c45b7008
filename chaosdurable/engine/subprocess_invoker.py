"""Subprocess mode: every invocation runs in a fresh Python process, like a Lambda cold start.

A handler that calls ``os._exit`` or is killed by a signal really crashes: the service sees
the process end without an output and records ``Runtime.ExitError``. Module state starts
empty each time and ``PYTHONHASHSEED`` differs per invocation (derived from the seed, so it
is still reproducible).

Wire protocol (one JSON object per line; child -> parent on the child's fd ``CHAOSDURABLE_FD``,
parent -> child on its stdin):
- parent sends ``{"handler", "sys_path", "event", "context"}`` first;
- child sends ``{"type": "checkpoint"|"state", ...}`` and blocks for ``{"ok": ...}`` or
  ``{"error": {"code", "message", "status"}}``;
- child streams ``{"type": "log", "record": ...}`` as it logs (nothing is lost to a crash);
- child ends with ``{"type": "result", "output": ...}`` or ``{"type": "raised", ...}``.
Every read has a deadline: a child silent past ``hang_timeout_s`` is killed.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aws_durable_execution_sdk_python.exceptions import BotoClientError
from aws_durable_execution_sdk_python.lambda_service import OperationUpdate

from chaosdurable.engine.errors import NotDurableHandlerError
from chaosdurable.engine.invoker import Outcome
from chaosdurable.engine.logcapture import LogCapture
from chaosdurable.engine.sandbox import Sandboxes


def handler_ref(handler: Callable[..., Any]) -> str:
    """``module:qualname`` of a handler, or a clear error if a fresh process cannot import it."""
    module = getattr(handler, "__module__", None)
    qualname = getattr(handler, "__qualname__", "")
    if not module or module == "__main__" or "<locals>" in qualname:
        raise NotDurableHandlerError(
            f"subprocess mode imports the handler in a fresh process, but {module}.{qualname} is not importable "
            "(defined in __main__ or inside a function): move it to module level in an importable module"
        )
    return f"{module}:{qualname}"


class SubprocessInvoker:
    """Runs each invocation in ``python -m chaosdurable.engine.subprocess_worker``."""

    def __init__(self, hang_timeout_s: float, seed: int = 0) -> None:
        self.hang_timeout_s = hang_timeout_s
        self.seed = seed
        self.count = 0
        self.log_sink: LogCapture | None = None
        #: run map/parallel branches serially in the child (``speedups.serial_branches``)
        self.serial_branches = True
        #: one temporary directory per function, the child's TMPDIR (``engine.sandbox``)
        self.sandboxes = Sandboxes()
        self.new_sandbox = self.sandboxes.new_sandbox

    #: every invocation already starts with fresh module state
    always_cold = True

    def invoke(self, handler: Callable[..., Any], event: Any, context: Any,
               abort: threading.Event | None = None) -> Outcome:
        """Run one invocation in a new process and serve its service calls until it ends.

        ``abort`` set by the service (an injected crash) kills the process at once.
        """
        self.count += 1
        client = event.service_client
        from chaosdurable.history import ledger

        recorder = ledger.ACTIVE
        first = {
            "handler": handler_ref(handler),
            "sys_path": [p for p in sys.path if p],
            "event": event.to_json_dict(),
            "context": asdict(context),
            "invocation": list(client.invocation),
            "record": recorder is not None,
            "allow_real_aws": bool(recorder and recorder.allow_real_aws),
            "serial_branches": self.serial_branches,
        }
        read_fd, write_fd = os.pipe()
        env = dict(os.environ, PYTHONHASHSEED=str((self.seed * 7919 + self.count) % 4_294_967_295),
                   CHAOSDURABLE_FD=str(write_fd), PYTHONUNBUFFERED="1",
                   TMPDIR=self.sandboxes.tmpdir(context.function_name))
        if os.environ.get("CHAOSDURABLE_ALLOW_REAL_AWS") != "1":
            # Fail closed: a child process has no moto world, so its AWS calls go to a closed local port
            # with dummy credentials rather than to whatever account the environment points at.
            env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="chaosdurable",
                       AWS_SECRET_ACCESS_KEY="chaosdurable", AWS_SESSION_TOKEN="chaosdurable")
            env.pop("AWS_PROFILE", None)
        # the child's faulthandler dump lands here if it hangs; closed in the finally below
        stderr = tempfile.TemporaryFile()  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaosdurable.engine.subprocess_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            pass_fds=(write_fd,), env=env,
        )
        proc.chaosdurable_stderr = stderr  # type: ignore[attr-defined]
        os.close(write_fd)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps(first) + "\n").encode())
        proc.stdin.flush()
        try:
            return self._serve(proc, read_fd, client, abort)
        finally:
            os.close(read_fd)
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
            stderr.close()

    def _stacks_of(self, proc: subprocess.Popen[bytes]) -> str:
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

    def _serve(self, proc: subprocess.Popen[bytes], read_fd: int, client: Any,
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
                    line, buffers[key.data] = buffers[key.data].split(b"\n", 1)
                    if key.data == "stdout":
                        if line.strip() and self.log_sink is not None:
                            from chaosdurable.engine.logcapture import parse_line

                            self.log_sink.extend([parse_line(line.decode(errors="replace"))])
                        continue
                    result = self._handle(json.loads(line), proc, client)
                    if result is not None:
                        outcome = result
        selector.close()
        if outcome is not None:
            return outcome
        code = proc.wait(timeout=10)
        status = f"signal: {-code}" if code < 0 else f"exit status {code}"
        return Outcome(kind="crashed", error_type="Runtime.ExitError",
                       error_message=f"Runtime exited with error: {status}")

    def _handle(self, msg: dict[str, Any], proc: subprocess.Popen[bytes], client: Any) -> Outcome | None:
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
        if kind in ("effect", "body", "crash"):
            self._reply(proc, self._ledger_call(msg))
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
    def _reply(proc: subprocess.Popen[bytes], reply: dict[str, Any]) -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write((json.dumps(reply, default=str) + "\n").encode())
            proc.stdin.flush()
        except BrokenPipeError:
            pass

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
