"""Conftest of the plugin test's pytester directory: the ``dev`` profile cut to
``CHAOS_TEST_EXAMPLES`` examples, and without shrinking when ``CHAOS_TEST_NO_SHRINK=1`` (each
shrink step is another execution on the aws backend, ~2 s on the loopback stack)."""

from __future__ import annotations

import os

from hypothesis import Phase, settings

_phases = [Phase.explicit, Phase.reuse, Phase.generate]
if os.environ.get("CHAOS_TEST_NO_SHRINK") != "1":
    _phases.append(Phase.shrink)
settings.register_profile("chaosdurable-dev", settings.get_profile("chaosdurable-dev"),
                          max_examples=int(os.environ.get("CHAOS_TEST_EXAMPLES", "6")), phases=_phases)
