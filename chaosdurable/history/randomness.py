"""Seeded randomness for the handler's own draws from the ``random`` module (under ``check()``).

Without it, ``random.random()`` in a step body or in handler code reads the interpreter's
OS-seeded stream, so the same seed and schedule give a different history each time a handler
draws (determinism is the product: they must give the same one).

Contract, for the shared instance behind the ``random`` module's functions:

- at the start of every invocation it is seeded from ``(seed, salt, execution, invocation, copy)``:
  code outside steps, which every replay re-runs, draws anew in each invocation, as on Lambda;
- at the start of every user function body (a step, a wait-for-condition check, a child
  context...) it is seeded from ``(seed, salt, execution, operation, attempt, copy, n)``, where
  ``n`` counts the earlier runs of that body (same operation, attempt and delivery copy) in the
  execution: a step that a fault makes run again (a crash before its checkpoint, a retry: another
  attempt) draws anew, and a body that runs once draws the same values in every run with that seed,
  whichever invocation it runs in (trial8 c07: a crash before a ``random.sample`` step moved it to
  invocation 2, where it drew another jury, and the world's invitations differed for no fault of
  the handler's).

``salt`` tells runs apart that must draw differently: ``check()``'s second fault-free run (the
*witness*, which tells values a step mints anew in every execution from differences faults
cause) has a salt of its own; the reference and chaotic runs share one, so steps that no
fault touched draw the same values in both.

``random.Random`` instances the handler makes (seeded or not), ``SystemRandom``, ``os.urandom``
and ``uuid.uuid4`` are left alone (the tripwire reports unseeded ones outside steps).
Concurrent branches (``threaded_branches``) share the one instance, so their interleaving
decides who draws what, as it would in one Lambda process.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from typing import Any


def derive(*parts: Any) -> int:
    """A 64-bit seed that is a pure function of ``parts`` (never of ``PYTHONHASHSEED``)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class UserRandom:
    """Seeds the ``random`` module's shared instance at invocation and body starts (see module doc)."""

    def __init__(self, seed: int, salt: str = "run", replay_salt: str | None = None,
                 runs: dict[tuple[str, str | None, int | None, int], int] | None = None) -> None:
        self.seed = seed
        self.salt = salt
        #: when set, code outside steps in every invocation after the first draws from another stream
        #: (a reseeded replay: the tripwire's confirmation run); step bodies draw as without it
        self.replay_salt = replay_salt
        #: how many times each body ran so far: (execution, operation, attempt, copy) -> runs
        self.runs: dict[tuple[str, str | None, int | None, int], int] = dict(runs or {})

    def invocation_seed(self, arn: str, invocation: int, copy: int = 0) -> int:
        """The seed of the code outside steps in this invocation."""
        if self.replay_salt is not None and invocation > 1:
            return derive(self.seed, self.salt, self.replay_salt, _execution(arn), invocation, copy)
        return derive(self.seed, self.salt, _execution(arn), invocation, copy)

    def at_invocation(self, arn: str, invocation: int, copy: int = 0) -> None:
        """Seed for an invocation that starts now (in this process)."""
        random.seed(self.invocation_seed(arn, invocation, copy))

    def at_body(self, where: Any) -> None:
        """Seed for a user function body that starts now at ``where`` (a ``Where``); counts the run."""
        key = (_execution(where.arn or ""), where.op_id, where.attempt, where.copy)
        done = self.runs.get(key, 0)
        self.runs[key] = done + 1
        random.seed(derive(self.seed, self.salt, *key, done))

    def to_json(self, body_runs: Iterable[Any] | None = None) -> dict[str, Any]:
        """What a subprocess child needs to seed the same way (``from_json``); ``body_runs`` (the parent's
        ledger's ``BodyRun`` records, whose bodies ran in other processes) give the runs so far."""
        runs = dict(self.runs)
        for run in body_runs or ():
            where = run.where
            key = (_execution(where.arn or ""), where.op_id, where.attempt, where.copy)
            runs[key] = runs.get(key, 0) + 1
        return {"seed": self.seed, "salt": self.salt, "replay_salt": self.replay_salt,
                "runs": [[*key, count] for key, count in runs.items()]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UserRandom:
        """The inverse of ``to_json``."""
        runs = {(str(r[0]), r[1], r[2], int(r[3])): int(r[4]) for r in data.get("runs") or []}
        return cls(int(data["seed"]), str(data["salt"]), data.get("replay_salt"), runs)


def _execution(arn: str) -> str:
    """The execution's own id (the ARN's last part; the rest names the function and account)."""
    return arn.rsplit("/", 1)[-1]
