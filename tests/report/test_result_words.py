"""Results in reports read as values, not as escaped JSON (trial3: '"{\\"payment_id\\": ...}"')."""

from __future__ import annotations

from chaosdurable.verdict import _shown


def test_a_result_is_shown_as_its_value() -> None:
    assert _shown('"{\\"payment_id\\": \\"pay-2\\"}"') == "'{\"payment_id\": \"pay-2\"}'"  # JSON text in a string
    assert _shown('"ch_1"') == "'ch_1'"
    assert _shown('{"a": 1}') == '{"a": 1}'
    assert _shown(None) == "(no result)"
    assert _shown("not json") == "'not json'"
