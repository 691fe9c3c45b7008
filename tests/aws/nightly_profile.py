"""Pytest plugin for the nightly run (``-p tests.aws.nightly_profile``): Hypothesis examples go to
the Redis named by ``CHAOSDURABLE_REDIS_URL`` (``RedisExampleDatabase``), so the failures found
last night are tried first tonight; ``CHAOSDURABLE_BUDGET_EXAMPLES`` bounds examples per test.
Without the variable it changes nothing."""

from __future__ import annotations

import os

from hypothesis import settings


def pytest_configure(config: object) -> None:
    """Register and load the ``nightly`` profile when a Redis URL is given."""
    url = os.environ.get("CHAOSDURABLE_REDIS_URL")
    if not url:
        return
    import redis
    from hypothesis.extra.redis import RedisExampleDatabase

    database = RedisExampleDatabase(redis.Redis.from_url(url), expire_after=__import__("datetime").timedelta(days=14))
    settings.register_profile("nightly", database=database, deadline=None,
                              max_examples=int(os.environ.get("CHAOSDURABLE_BUDGET_EXAMPLES", "50")))
    settings.load_profile("nightly")
