"""Fresh processes, cheaply: one pre-imported zygote per ``PYTHONHASHSEED``, forked once per invocation.

Starting ``python`` and importing the SDK and boto3 costs about 0.75 s of CPU per invocation on
this kind of machine. A zygote (``subprocess_worker --zygote``) pays that once: it is started with
the hash seed an invocation needs, imports what every child needs, then forks one process per
invocation. Each fork is used for exactly one invocation and then exits, so module state, threads
and ``os._exit`` behave as in a fresh interpreter, with the same ``PYTHONHASHSEED`` a freshly
started one would have had (the environment is replaced in the child with the one a fresh
process would get). ``random`` is reseeded at fork by CPython itself.

Hash seeds are derived from the engine seed and the invocation count, so a property run (one
engine seed, many examples) needs only a few distinct ones: zygotes are kept per hash seed, at
most ``MAX_ZYGOTES`` of them (least recently used first out), and stopped at interpreter exit.

Every wait is bounded: a zygote that has not forked within ``START_TIMEOUT_S`` (its imports hang
or fail) is stopped and ``ForkUnavailable`` raised, and the caller starts a plain process instead.
Set ``CHAOSDURABLE_FORKSERVER=0`` to always start plain processes.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import hashlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO

#: zygotes kept alive at once (each holds the SDK and boto3: roughly 60 MiB, mostly shared)
MAX_ZYGOTES = 6
#: real seconds a zygote may take to import and fork before it is given up on
START_TIMEOUT_S = 60.0
#: what a fresh pipe holds without a reader (POSIX guarantees 4 KiB; Linux gives 64 KiB)
PIPE_BUFFER_BYTES = 65536 if sys.platform.startswith("linux") else 4096


class ForkUnavailable(RuntimeError):
    """The fork server could not give a process (disabled, unsupported, or its zygote failed)."""


def enabled() -> bool:
    """True when invocations should be forked from zygotes (POSIX with fd passing, not opted out)."""
    return (os.environ.get("CHAOSDURABLE_FORKSERVER", "1") != "0" and hasattr(os, "fork")
            and hasattr(socket, "send_fds") and sys.platform != "win32")


class ForkedChild:
    """One invocation's process, forked by a zygote: the parts of ``subprocess.Popen`` the invoker uses.

    The process is a grandchild of ours; its parent in the zygote waits for it and writes
    ``pid N`` and then ``exit CODE`` on the status pipe.
    """

    def __init__(self, status_fd: int, stdin: IO[bytes], stdout: IO[bytes], timeout_s: float) -> None:
        self._status_fd = status_fd
        self._buffer = b""
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None
        line = self._line(timeout_s)
        if line is None or not line.startswith("pid "):
            os.close(status_fd)
            raise ForkUnavailable(f"the zygote did not fork within {timeout_s:.0f} s ({line or 'no answer'})")
        self.pid = int(line.split()[1])

    def _line(self, timeout_s: float) -> str | None:
        """The next status line; None if none came within ``timeout_s``, "" if the pipe closed."""
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(self._status_fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if not selector.select(max(0.0, deadline - time.monotonic())):
                    return None
                chunk = os.read(self._status_fd, 256)
                if not chunk:
                    return ""
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def poll(self) -> int | None:
        """The exit code if the process has ended (and its zygote said so), else None."""
        if self.returncode is None:
            self.wait(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait at most ``timeout`` s (None: ``START_TIMEOUT_S``) for the exit code; None if still running."""
        if self.returncode is not None or self._status_fd < 0:
            return self.returncode
        line = self._line(START_TIMEOUT_S if timeout is None else timeout)
        if line == "":
            # the status pipe closed without an exit line: the zygote's waiter itself was killed
            self.returncode = -signal.SIGKILL
        elif line is not None and line.startswith("exit "):
            self.returncode = int(line.split()[1])
        if self.returncode is not None:
            os.close(self._status_fd)
            self._status_fd = -1
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the process while it runs."""
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL the process (nothing if it already ended)."""
        with contextlib.suppress(ProcessLookupError):
            self.send_signal(signal.SIGKILL)


class Zygote:
    """A pre-imported interpreter with one ``PYTHONHASHSEED`` that forks on request."""

    def __init__(self, hash_seed: str, env: dict[str, str]) -> None:
        try:  # message boundaries kept, and EOF when we close our end
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except (OSError, AttributeError) as exc:
            raise ForkUnavailable(f"no Unix sequenced-packet sockets here ({exc})") from None
        self._sock = ours
        self._lock = threading.Lock()
        #: library modules already sent to this zygote to import ahead (``preload``)
        self._preloaded: set[str] = set()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chaosdurable.engine.subprocess_worker", "--zygote", str(theirs.fileno())],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),), env=dict(env, PYTHONHASHSEED=hash_seed, PYTHONUNBUFFERED="1"),
        )
        theirs.close()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def preload(self, sys_path: list[str]) -> None:
        """Have the zygote import the library modules children were seen to import (``note_modules``).

        Library modules only (installed packages, the stdlib; never the user's own files), each
        imported once as a fresh process would, before any fork that follows. An import that starts
        a thread makes the zygote exit (forking then would be unsafe); the next fork request then
        fails and the invocation gets a plain process.
        """
        with _lock:
            new = sorted(_wanted - self._preloaded)
        if not new:
            return
        message = b"preload " + json.dumps({"sys_path": sys_path, "modules": new}).encode()
        try:
            with self._lock:
                self._sock.send(message)
        except OSError:
            return
        self._preloaded.update(new)

    def fork(self, stderr_fd: int, timeout_s: float = START_TIMEOUT_S, first: bytes = b"") -> ForkedChild:
        """A new process for one invocation; its stdin/stdout are pipes to us, ``stderr_fd`` its stderr.

        The protocol pipe's write end is the process' ``CHAOSDURABLE_FD``; its read end is returned as
        ``child.protocol_fd``. ``first`` (the invocation, one line), when it fits in a pipe's buffer,
        is written to the process' stdin before its pid comes back, so the process reads it as soon
        as it starts (``child.first_sent`` says whether it was).
        """
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        proto_r, proto_w = os.pipe()
        status_r, status_w = os.pipe()
        theirs = [stdin_r, stdout_w, proto_w, stderr_fd, status_w]
        try:
            with self._lock:
                socket.send_fds(self._sock, [b"fork"], theirs)
        except OSError as exc:
            for fd in (stdin_r, stdin_w, stdout_r, stdout_w, proto_r, proto_w, status_r, status_w):
                os.close(fd)
            raise ForkUnavailable(f"the zygote is gone ({exc})") from None
        for fd in (stdin_r, stdout_w, proto_w, status_w):
            os.close(fd)
        stdin, stdout = os.fdopen(stdin_w, "wb"), os.fdopen(stdout_r, "rb", buffering=0)
        first_sent = 0 < len(first) <= PIPE_BUFFER_BYTES
        if first_sent:  # never blocks: the pipe is empty and holds this much
            stdin.write(first)
            stdin.flush()
        try:
            child = ForkedChild(status_r, stdin, stdout, timeout_s)
        except ForkUnavailable:
            stdin.close()
            stdout.close()
            os.close(proto_r)
            raise
        child.protocol_fd = proto_r  # type: ignore[attr-defined]
        child.first_sent = first_sent  # type: ignore[attr-defined]
        return child

    def stop(self) -> None:
        """Close the socket (the zygote exits at once) and reap it; kill it if it does not go in 5 s."""
        self._sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


_lock = threading.Lock()
#: library modules some child imported with its handler (``note_modules``); zygotes import them ahead
_wanted: set[str] = set()
_zygotes: collections.OrderedDict[tuple[str, str], Zygote] = collections.OrderedDict()
_started = [0]


def started() -> int:
    """How many zygotes this interpreter has started so far (for benchmarks: start-ups are costly)."""
    return _started[0]


def _startup_key(env: dict[str, str]) -> str:
    """What a zygote's interpreter fixed at start besides the hash seed (``PYTHON*`` variables)."""
    startup = sorted((k, v) for k, v in env.items() if k.startswith("PYTHON") and k != "PYTHONHASHSEED")
    return hashlib.blake2b(repr((sys.executable, startup)).encode(), digest_size=8).hexdigest()


def zygote_for(hash_seed: str, env: dict[str, str]) -> Zygote:
    """The live zygote for ``hash_seed`` (started now if needed; the oldest beyond ``MAX_ZYGOTES`` stops)."""
    key = (hash_seed, _startup_key(env))
    stopped: list[Zygote] = []
    with _lock:
        zygote = _zygotes.pop(key, None)
        if zygote is not None and not zygote.alive():
            stopped.append(zygote)
            zygote = None
        if zygote is None:
            zygote = Zygote(hash_seed, env)
            _started[0] += 1
        _zygotes[key] = zygote
        while len(_zygotes) > MAX_ZYGOTES:
            stopped.append(_zygotes.popitem(last=False)[1])
    for old in stopped:
        old.stop()
    return zygote


def note_modules(names: list[str]) -> None:
    """Library modules a child imported along with its handler: future zygote forks get them pre-imported."""
    with _lock:
        _wanted.update(names)


def discard_for(hash_seed: str, env: dict[str, str]) -> None:
    """Stop and forget the zygote for ``hash_seed`` (it failed to fork); the next request starts a new one."""
    with _lock:
        zygote = _zygotes.pop((hash_seed, _startup_key(env)), None)
    if zygote is not None:
        zygote.stop()


@atexit.register
def _forget_after_fork() -> None:
    """In a forked child: the zygotes are the parent's to use and stop; start with none."""
    global _lock, _zygotes
    _lock = threading.Lock()
    _zygotes = collections.OrderedDict()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def cpu_seconds() -> float:
    """CPU seconds used so far by the live zygotes and by every invocation process they reaped.

    Read from ``/proc`` (Linux; 0.0 elsewhere), in clock ticks. A zygote reaps its children
    itself, so their time is in its ``cutime``/``cstime``. For benchmarks: with this process'
    own ``time.process_time()`` it is the whole CPU cost of subprocess mode, whatever the load.
    """
    with _lock:
        pids = [z.proc.pid for z in _zygotes.values() if z.alive()]
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return total / ticks


def stop_all() -> None:
    """Stop every zygote (at interpreter exit, or between benchmark rounds)."""
    with _lock:
        zygotes = list(_zygotes.values())
        _zygotes.clear()
    for zygote in zygotes:
        zygote.stop()
