"""HISTORY: what a run records, for the checkers to judge.

``record`` holds the plain data of one run; ``probes`` attributes calls to (execution,
invocation, operation, attempt) and records every user-function body execution; ``ledger``
records side effects (explicit ``effect()`` calls and every boto3 call); ``tripwire``
catches clock, randomness and environment reads outside steps; ``world`` snapshots the
external world under moto.
"""
