"""CHECKERS: each a plain function ``(reference, chaotic, ledger) -> list[Violation]``.

| checker | property |
|---|---|
| ``exactly_once`` | a committed step never runs again; at-most-once attempts run once; committed attempts ran |
| ``resumption`` | the chaotic run ends with the fault-free run's status and result |
| ``determinism`` | replays issue the same operations with the same values as the fault-free run |
| ``idempotency`` | the external world (moto) and the explicit effects equal the fault-free run's |
| ``effects_outside_steps`` | no side effect happens outside a step (it would repeat on every replay) |
| ``tripwire`` | no clock, random, uuid or environment read outside a step |
| ``liveness`` | the execution ends within its bounds; otherwise what it waits for |
| ``well_formed`` | history events come in a legal order and every operation ends at most once |
| ``event_delivery`` | an event delivered twice or out of order leaves the execution's end unchanged |
| ``final_replay`` | the fault-free run, replayed from its own finished history, ends the same way |
| ``uninterrupted`` | the fault-free run ends the same way when it runs straight through its waits |
"""

from chaosdurable.checks.base import Checker, CheckerInputError, Ledger, Violation
from chaosdurable.checks.delivery import event_delivery
from chaosdurable.checks.determinism import determinism
from chaosdurable.checks.effects import effects_outside_steps
from chaosdurable.checks.exactly_once import exactly_once
from chaosdurable.checks.final_replay import final_replay
from chaosdurable.checks.idempotency import idempotency
from chaosdurable.checks.liveness import liveness
from chaosdurable.checks.resumption import resumption
from chaosdurable.checks.tripwire import tripwire
from chaosdurable.checks.unhandled import unhandled_failure
from chaosdurable.checks.uninterrupted import uninterrupted
from chaosdurable.checks.well_formed import well_formed

ALL_CHECKERS: dict[str, Checker] = {
    "exactly_once": exactly_once,
    "resumption": resumption,
    "determinism": determinism,
    "idempotency": idempotency,
    "effects_outside_steps": effects_outside_steps,
    "tripwire": tripwire,
    "liveness": liveness,
    "well_formed": well_formed,
    "unhandled_failure": unhandled_failure,
    "event_delivery": event_delivery,
    "final_replay": final_replay,
    "uninterrupted": uninterrupted,
}



def allowing_repeats(*effects: str) -> dict[str, Checker]:
    """Every built-in checker, with the effects named (effect names or ``fnmatch`` patterns, as reports name
    them: ``"http:POST rating.example.com/*"``) declared safe to repeat by ``idempotency``: pass it as
    ``check(..., checkers=allowing_repeats(...))`` or ``given(..., checkers=...)``."""
    from chaosdurable.checks.idempotency import idempotency_checker

    return {**ALL_CHECKERS, "idempotency": idempotency_checker(repeatable=list(effects))}


__all__ = [
    "ALL_CHECKERS",
    "Checker",
    "CheckerInputError",
    "Ledger",
    "Violation",
    "allowing_repeats",
    "determinism",
    "effects_outside_steps",
    "event_delivery",
    "exactly_once",
    "final_replay",
    "idempotency",
    "liveness",
    "resumption",
    "tripwire",
    "uninterrupted",
    "well_formed",
]
