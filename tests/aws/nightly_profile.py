"""Pytest plugin for the nightly run (``-p tests.aws.nightly_profile``): the example database of every
chaos property, so the failures found last night are tried first tonight.

- ``CHAOSDURABLE_REDIS_URL``: Hypothesis' ``RedisExampleDatabase`` (entries expire after 14 days);
- else ``CHAOSDURABLE_EXAMPLE_DB_DIR``: a ``DirectoryBasedExampleDatabase`` there;
- ``CHAOSDURABLE_BUDGET_EXAMPLES``: examples per property (default: the profile's).

``given()`` takes its settings from the ``chaosdurable-<profile>`` profiles, so those are the ones
re-registered here (loading a default profile would not reach them). Without either variable it
changes nothing.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from hypothesis import settings


def database() -> Any:
    """The example database the environment names, or None."""
    url = os.environ.get("CHAOSDURABLE_REDIS_URL")
    if url:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase

        return RedisExampleDatabase(redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10),
                                    expire_after=datetime.timedelta(days=14))
    folder = os.environ.get("CHAOSDURABLE_EXAMPLE_DB_DIR")
    if folder:
        from hypothesis.database import DirectoryBasedExampleDatabase

        return DirectoryBasedExampleDatabase(folder)
    return None


def pytest_configure(config: object) -> None:
    """Re-register the chaosdurable profiles with the database and the example budget."""
    from chaosdurable.pytest_plugin import PROFILES

    db = database()
    budget = os.environ.get("CHAOSDURABLE_BUDGET_EXAMPLES")
    if db is None and not budget:
        return
    for name in PROFILES:
        changes: dict[str, Any] = {}
        if db is not None:
            changes["database"] = db
        if budget:
            changes["max_examples"] = int(budget)
        settings.register_profile(f"chaosdurable-{name}", settings.get_profile(f"chaosdurable-{name}"), **changes)
