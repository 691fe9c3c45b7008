"""Results are shown as the values they hold, not in the SDK's typed envelope (trial6: a first divergent
operation read ``SUCCEEDED {"t": "m", "v": {"lines": {"t": "m", ...``)."""

from __future__ import annotations

import json

from chaosdurable.checks.base import unwrapped
from chaosdurable.verdict import _shown


def test_typed_envelopes_are_unwrapped_recursively() -> None:
    wire = {"t": "m", "v": {"polls": {"t": "i", "v": 2}, "ids": {"t": "l", "v": [{"t": "s", "v": "a"}]}}}
    assert unwrapped(wire) == {"polls": 2, "ids": ["a"]}
    assert _shown(json.dumps(wire)) == '{"polls": 2, "ids": ["a"]}'


def test_plain_json_and_unknown_tags_are_left_alone() -> None:
    assert unwrapped({"t": "x", "v": 1}) == {"t": "x", "v": 1}
    assert _shown('{"status": "LIVE"}') == '{"status": "LIVE"}'
    assert _shown('"done"') == "'done'"
