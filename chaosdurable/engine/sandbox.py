"""Emulated Lambda sandboxes: the temporary directory each one has, as ``/tmp`` on Lambda.

The sandbox state model (README "Sandbox state model"):

- **per sandbox** (kept across its warm invocations): module globals (the process, in-process;
  reset by a ``ColdStart``) and its temporary directory (``Sandboxes.tmpdir``);
- **per invocation** (fresh every time): ``threading.local`` values and context variables the
  handler sets, and the SDK's threads (``engine.threads``, ``engine.speedups``);
- **a new sandbox** (``ColdStart``): fresh module state (the handler's module is reloaded
  in-process; subprocess children are fresh processes anyway) *and* an empty temporary
  directory (``Sandboxes.new_sandbox``).

``Sandboxes`` belongs to one invoker (one runner). It keeps one directory per function name,
made on that function's first invocation under the process's real temporary directory and
kept until a ``ColdStart`` replaces it (the old one is removed at once) or the ``Sandboxes``
object goes away (``close()``, garbage collection or interpreter exit remove them all), so the
number of directories is bounded by the number of live runners times their functions. A process
killed before its finalizers ran leaves its directories behind; the next process that makes a
sandbox directory removes those of processes that no longer exist (the name holds the pid).

Off the invocation's path (a directory costs ~0.4 ms to make and ~3 ms to remove on a journaled
disk): a background thread (``_Housekeeper``) removes the directories of a ``Sandboxes`` that was
garbage-collected (``close()`` and a ``ColdStart`` still remove at once; interpreter exit waits for
every pending removal), and keeps one spare, never-used directory made ahead per function name, so
the next sandbox of that function is ready. A spare is as fresh as one made on demand: nobody
knew its path before it is handed out. A forked child drops the parent's spares and pending work.

Recycling (``RECYCLE``): a collected in-process ``Sandboxes``' directory that is still pristine (empty, a real
directory owned by this user with mode 0700, as ``mkdtemp`` made it) is not removed but renamed,
on the housekeeping thread, to a fresh random name and kept as a blank for a later spare (renaming
costs ~20 us, against ~130 us to make a directory and ~230 us to remove it). Its old path is gone at
once, as after a removal (a zombie of the old sandbox writing there fails the same way), and its
new name was never handed out, so a recycled spare is as fresh as a new one; a directory found not
empty after the rename is removed instead. ``close()``, a ``ColdStart`` and subprocess sandboxes
still remove theirs.

In-process, ``entered(path)`` points ``tempfile.tempdir`` and the ``TMPDIR`` environment
variable at the sandbox's directory while an invocation runs and restores both afterwards
(nested and concurrent entries stack: the last one left restores the originals). Subprocess
children get ``TMPDIR`` in their environment. Code that writes to the literal path ``/tmp``
instead of asking ``tempfile`` is not redirected.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import re
import secrets
import shutil
import stat
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator


def reload_problem(module_name: str | None, file: str | None) -> str | None:
    """Why an in-process cold start cannot reload this module in place, or None when it can.

    A cold start re-runs the handler's module. The script being run (``__main__``) and a test
    module (``test_*.py``, ``*_test.py``, ``conftest.py``: re-running it would define its tests,
    fixtures and properties again, inside the test that is running) are not re-run.
    """
    if not module_name or module_name == "__main__":
        return "it is the script being run (__main__)"
    base = os.path.basename(file or "")
    if base.startswith("test_") or base.endswith("_test.py") or base == "conftest.py":
        return f"it is a test module ({base}), and re-running it would define its tests again"
    return None


_lock = threading.Lock()
#: sandbox directories entered right now, innermost last (an entry per ``entered`` call)
_active: list[tuple[object, str]] = []
#: (tempfile.tempdir, TMPDIR, the real temp dir) as they were before the first entry
_saved: tuple[str | None, str | None, str] | None = None


def real_tempdir() -> str:
    """The process's own temporary directory, even while a sandbox's directory is entered."""
    with _lock:
        return _saved[2] if _saved is not None else tempfile.gettempdir()


def _point(path: str) -> None:
    tempfile.tempdir = path
    os.environ["TMPDIR"] = path


@contextlib.contextmanager
def entered(path: str) -> Iterator[None]:
    """While the block runs, ``tempfile.gettempdir()`` and ``$TMPDIR`` are ``path``; restored after."""
    global _saved
    token = object()
    with _lock:
        if not _active:
            before = tempfile.tempdir
            _saved = (before, os.environ.get("TMPDIR"), tempfile.gettempdir())
        _active.append((token, path))
        _point(path)
    try:
        yield
    finally:
        with _lock:
            _active[:] = [entry for entry in _active if entry[0] is not token]
            if _active:
                _point(_active[-1][1])
            elif _saved is not None:
                tempdir, env, _ = _saved
                tempfile.tempdir = tempdir
                if env is None:
                    os.environ.pop("TMPDIR", None)
                else:
                    os.environ["TMPDIR"] = env
                _saved = None


_PREFIX = "chaosdurable-sandbox-"
_swept = False


def _sweep_orphans(base: str) -> None:
    """Once per process: remove sandbox directories left by processes that no longer exist (killed
    before their finalizers ran). Each directory's name carries the id of the process that made it."""
    global _swept
    if _swept:
        return
    _swept = True
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        match = re.match(re.escape(_PREFIX) + r"(\d+)-", name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
        except OSError:
            continue  # alive (or not ours to signal): leave it


def _remove(dirs: dict[str, str]) -> None:
    for path in list(dirs.values()):
        shutil.rmtree(path, ignore_errors=True)
    dirs.clear()


def _rmtree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


#: recycle collected runners' pristine directories (see the module's docstring); ``[False]``: remove them
RECYCLE = [True]
#: at most this many recycled directories wait to become spares (a collection that frees many runners at once
#: recycles this many; the rest are removed)
_MAX_BLANKS = 8


def _safe(function: str) -> str:
    """The part of a sandbox directory's name that names its function."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", function)[:40]


def _is_empty(path: str) -> bool:
    with os.scandir(path) as entries:
        return next(entries, None) is None


def _pristine(path: str) -> bool:
    """True when ``path`` is as ``mkdtemp`` made it: a real, empty directory of ours with mode 0700."""
    try:
        info = os.lstat(path)
        return (stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
                and info.st_uid == os.getuid() and _is_empty(path))
    except OSError:
        return False


class _Housekeeper:
    """One daemon thread that removes sandbox directories later and makes spare ones ahead."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[..., None], tuple[str, ...]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Reentrant: a collected ``Sandboxes``' finalizer submits work, and garbage collection can run it on
        # a thread that holds this lock (any allocation inside a locked block may trigger a collection).
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._exiting = False
        #: function's safe name -> a spare directory made ahead (never handed out)
        self.spares: dict[str, str] = {}
        #: recycled directories (renamed, never handed out under that name): (base, safe name, path)
        self.blanks: list[tuple[str, str, str]] = []

    def _submit(self, fn: Callable[..., None], *args: str) -> bool:
        with self._lock:
            if self._exiting:
                return False
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="chaosdurable-sandbox-housekeeper", daemon=True)
                self._thread.start()
        self._jobs.put((fn, args))
        return True

    def _run(self) -> None:
        sys.setprofile(None)  # started during some run: keep none of its profile/trace hooks
        sys.settrace(None)
        while True:
            fn, args = self._jobs.get()
            with contextlib.suppress(Exception):  # housekeeping never fails a run
                fn(*args)
            with self._lock:
                self._pending -= 1
                self._idle.notify_all()

    def remove_later(self, dirs: dict[str, str]) -> None:
        """Remove ``dirs``' directories on the housekeeping thread (at once during interpreter exit)."""
        paths = list(dirs.values())
        dirs.clear()
        for path in paths:
            if not self._submit(_rmtree, path):
                shutil.rmtree(path, ignore_errors=True)

    def recycle_later(self, dirs: dict[str, str]) -> None:
        """As ``remove_later``, but a pristine directory is renamed and kept for a later spare (``RECYCLE``)."""
        if not RECYCLE[0]:
            self.remove_later(dirs)
            return
        items = list(dirs.items())
        dirs.clear()
        for function, path in items:
            if not self._submit(self._recycle, _safe(function), path):
                shutil.rmtree(path, ignore_errors=True)

    def _recycle(self, safe: str, path: str) -> None:
        with self._lock:
            full = self._exiting or len(self.blanks) >= _MAX_BLANKS
        if full:
            shutil.rmtree(path, ignore_errors=True)
            return
        base = os.path.dirname(path)
        fresh = os.path.join(base, f"{_PREFIX}{os.getpid()}-{safe}-{secrets.token_hex(6)}")
        try:
            os.rename(path, fresh)  # the old path is gone from here on, as after a removal
        except OSError:
            shutil.rmtree(path, ignore_errors=True)
            return
        if not _pristine(fresh):  # written to (or replaced) by its sandbox: removed, as without recycling
            if os.path.islink(fresh):
                with contextlib.suppress(OSError):
                    os.unlink(fresh)
            shutil.rmtree(fresh, ignore_errors=True)
            return
        with self._lock:
            if not self._exiting and len(self.blanks) < _MAX_BLANKS:
                if safe not in self.spares:
                    self.spares[safe] = fresh
                else:
                    self.blanks.append((base, safe, fresh))
                return
        shutil.rmtree(fresh, ignore_errors=True)

    def _blank(self, safe: str, base: str) -> str | None:
        """A recycled directory under ``base`` for ``safe`` (renamed if it was another function's), or None."""
        with self._lock:
            found = next((i for i, b in enumerate(self.blanks) if b[0] == base and b[1] == safe), None)
            if found is None:
                found = next((i for i, b in enumerate(self.blanks) if b[0] == base), None)
            if found is None:
                return None
            _, was, path = self.blanks.pop(found)
        if was != safe:
            fresh = os.path.join(base, f"{_PREFIX}{os.getpid()}-{safe}-{secrets.token_hex(6)}")
            try:
                os.rename(path, fresh)
            except OSError:
                shutil.rmtree(path, ignore_errors=True)
                return None
            path = fresh
        return path  # found pristine after its rename, and nobody has known its name since

    def take_spare(self, safe: str) -> str | None:
        """A spare directory for ``safe`` made ahead, or None; asks for the next one either way (a recycled
        directory of the same function and base becomes the next spare at once, without waking the thread)."""
        base = real_tempdir()
        with self._lock:
            path = self.spares.pop(safe, None)
            blank = next((i for i, b in enumerate(self.blanks) if b[0] == base and b[1] == safe), None)
            if blank is not None and not self._exiting:
                self.spares[safe] = self.blanks.pop(blank)[2]
        if path is not None and not os.path.isdir(path):
            path = None
        if blank is None:
            self._submit(self._make_spare, safe, base)
        return path

    def _make_spare(self, safe: str, base: str) -> None:
        with self._lock:
            if safe in self.spares or self._exiting or len(self.spares) >= 64:
                return
        path = self._blank(safe, base) or tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-{safe}-", dir=base)
        with self._lock:
            if safe not in self.spares and not self._exiting:
                self.spares[safe] = path
                return
        os.rmdir(path)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until every submitted job ran; True when none is pending."""
        with self._lock:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def at_exit(self) -> None:
        """Interpreter exit: no more background work; pending removals finish; spares are removed."""
        with self._lock:
            self._exiting = True
        self.flush()
        with self._lock:
            spares, self.spares = list(self.spares.values()), {}
            spares += [path for _, _, path in self.blanks]
            self.blanks = []
        for path in spares:
            shutil.rmtree(path, ignore_errors=True)

    def forget_after_fork(self) -> None:
        """In a forked child: the thread, its queue and the spares belong to the parent."""
        self.__init__()  # type: ignore[misc]


HOUSEKEEPER = _Housekeeper()
atexit.register(HOUSEKEEPER.at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=HOUSEKEEPER.forget_after_fork)


class Sandboxes:
    """The sandboxes of one invoker: one temporary directory per function, kept while warm."""

    def __init__(self, *, recycle: bool = False) -> None:
        """``recycle``: when this object is collected, its pristine directories are recycled, not removed
        (``RECYCLE``; the in-process invoker's, whose sandboxes are threads of this process: no other
        process can hold one of them as its working directory)."""
        self._dirs: dict[str, str] = {}
        self._lock = threading.Lock()
        #: how many directories were made (a new sandbox each)
        self.created = 0
        release = HOUSEKEEPER.recycle_later if recycle else HOUSEKEEPER.remove_later
        self._finalizer = weakref.finalize(self, release, self._dirs)

    def tmpdir(self, function: str) -> str:
        """The directory of ``function``'s current sandbox, made on first use."""
        with self._lock:
            path = self._dirs.get(function)
            if path is None or not os.path.isdir(path):
                safe = _safe(function)
                base = real_tempdir()
                _sweep_orphans(base)
                spare = HOUSEKEEPER.take_spare(safe)
                if spare is not None and os.path.dirname(spare) == base:
                    path = spare
                else:
                    if spare is not None:
                        HOUSEKEEPER.remove_later({"": spare})
                    path = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-{safe}-", dir=base)
                self._dirs[function] = path
                self.created += 1
            return path

    def new_sandbox(self, function: str) -> None:
        """The next invocation of ``function`` lands on a new sandbox: its directory is removed now
        and an empty one is made on first use (a zombie of the old sandbox loses its files too)."""
        with self._lock:
            path = self._dirs.pop(function, None)
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)

    def detach(self, function: str) -> str | None:
        """Hand ``function``'s directory over to the caller (a warm sandbox outliving this runner): it is
        no longer this object's to remove. None when it has none."""
        with self._lock:
            return self._dirs.pop(function, None)

    def adopt(self, function: str, path: str) -> None:
        """Make ``path`` (a warm sandbox's directory, ``detach``ed elsewhere) ``function``'s, removed with
        this object; a directory it had is removed."""
        with self._lock:
            old = self._dirs.get(function)
            self._dirs[function] = path
        if old is not None and old != path:
            HOUSEKEEPER.remove_later({"": old})

    def paths(self) -> list[str]:
        """The directories that exist now (for tests and reports)."""
        with self._lock:
            return sorted(self._dirs.values())

    def close(self) -> None:
        """Remove every directory (idempotent; also done on garbage collection and at exit)."""
        with self._lock:
            _remove(self._dirs)
