"""The fence around a replay: the handler's code outside steps never reaches AWS or the network.

A replay runs no step body, but the handler's own code between operations runs again, and any
AWS call or HTTP request there would go out for real. ``fenced(...)`` makes a ``Recorder`` and an
HTTP ``Policy`` govern the replay, as they govern a run under ``check``:

- an AWS call is refused with ``RealAwsRefused`` unless a moto world is active in this process
  (``check`` replays inside its own) or ``allow_real_aws`` is set;
- an HTTP request is refused with ``RealNetworkRefused`` unless its host matches ``allow_hosts``
  or the ``responses`` mock ``http`` answers it.

The refused calls are listed in the fence's ``refused`` (the handler may catch the error). The
fence restores whatever recorder and policy were active before. Nothing here talks to anything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from chaosdurable.history import http as http_effects
from chaosdurable.history import ledger


@contextlib.contextmanager
def fenced(*, allow_real_aws: bool = False, allow_hosts: Iterable[str] = (), http: Any = None,
           ) -> Iterator[ledger.Recorder]:
    """Within the block, AWS and HTTP from the handler are fenced (see the module docstring).

    Yields the recorder; its ``refused`` lists what was refused (``"s3.PutObject"``, ``"http:..."``).
    """
    recorder = ledger.Recorder(allow_real_aws=allow_real_aws)
    before, before_policy = ledger.ACTIVE, http_effects.POLICY
    ledger.activate(recorder)
    http_effects.activate(http_effects.Policy(tuple(allow_hosts), http))
    started = http is not None and not getattr(http, "_patcher", None)
    if started:
        http.start()
    try:
        yield recorder
    finally:
        if started:
            http.stop(allow_assert=False)
        ledger.activate(before)
        http_effects.activate(before_policy)
