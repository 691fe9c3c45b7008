"""The chaos property the plugin test runs unchanged on the engine and on the aws backend
(copied into a pytester directory as ``test_twins.py``): the buggy handler's non-idempotent
charge under a crash must be caught, its correct twin must pass."""

from __future__ import annotations

import chaosdurable
from tests.aws.harness import handlers

OPTIONS = {"input": {"order": "o1"}, "setup": handlers.setup, "callbacks": {"approval": "ok"},
           "kinds": ["crash_at_checkpoint"], "max_faults": 1}


@chaosdurable.given(handler=handlers.buggy, **OPTIONS)
def test_buggy() -> None:
    """Charges twice when the charge step's body runs again."""


@chaosdurable.given(handler=handlers.correct, **OPTIONS)
def test_correct() -> None:
    """Charges once, whatever crashes."""
