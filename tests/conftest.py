"""Shared test configuration: pytest's own pytester, for testing the chaosdurable plugin."""

pytest_plugins = ["pytester"]
