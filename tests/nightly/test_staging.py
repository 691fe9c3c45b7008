"""The nightly chaos property against the deployed function ``--chaos-aws-function`` names.

The handler is the deployed function's source, imported by ``CHAOS_NIGHTLY_HANDLER``
(``module:attribute``, default: the loopback test handler ``tests.aws.harness.handlers:correct``),
with its world ``CHAOS_NIGHTLY_SETUP`` (default ``tests.aws.harness.handlers:setup``; ``none`` for
a deployment whose world is provisioned already). It runs every fault kind the aws backend can
apply; a violation fails the night, saves the shrunk schedule and keeps it in the example database.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import chaosdurable


def _load(ref: str) -> Any:
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)


HANDLER = _load(os.environ.get("CHAOS_NIGHTLY_HANDLER") or "tests.aws.harness.handlers:correct")
_SETUP = os.environ.get("CHAOS_NIGHTLY_SETUP") or "tests.aws.harness.handlers:setup"
SETUP = None if _SETUP == "none" else _load(_SETUP)


@chaosdurable.given(handler=HANDLER, input={"order": "nightly-1"}, setup=SETUP, callbacks={"approval": "ok"},
                    max_faults=2)
def test_deployed_function_survives_chaos() -> None:
    """Every built-in checker holds under the faults a deployment can suffer."""
