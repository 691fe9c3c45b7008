"""The nightly suite runs only against a deployment: without ``--chaos-backend aws`` its properties
are skipped (the engine suites cover the same handlers on every push)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this directory's tests unless the aws backend and a function are given."""
    if config.getoption("--chaos-backend") == "aws" and config.getoption("--chaos-aws-function"):
        return
    skip = pytest.mark.skip(reason="nightly chaos runs with --chaos-backend aws --chaos-aws-function ... (docs/aws.md)")
    for item in items:
        if "tests/nightly/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)
