"""Payload strategies: shape, JSON stability, realism, schema validity, errors, reproducibility."""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, seed, settings
from hypothesis import strategies as st

from chaosdurable.strategies import faker_with_seed, json_values, payloads_from_schema, payloads_like

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ORDER: dict[str, Any] = {
    "order_id": "ord_8f3k2",
    "id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    "customer": {
        "customerEmail": "ada@example.com",
        "first_name": "Ada",
        "lastName": "Lovelace",
        "name": "Ada Lovelace",
        "address": "12 St James's Square, London",
        "city": "London",
        "country": "GB",
        "phone": "+44 20 7946 0958",
        "company": "Analytical Engines Ltd",
        "user_id": 42,
    },
    "items": [{"sku": "SKU-00017", "name": "Difference engine", "qty": 2, "price": 19.99}],
    "total": 39.98,
    "tax_cents": 400,
    "amount": "39.98",
    "currency": "GBP",
    "created_at": "2024-05-01T12:30:00Z",
    "delivery_date": "2024-05-03",
    "website": "https://example.com/orders",
    "quantity": 3,
    "status": "PENDING",
    "gift": False,
    "coupon": None,
    "tags": ["new", "vip"],
    "ratio": 0.5,
    "offset": -3,
    "contact": "someone@example.org",
    "nested": {"deeper": {"reference": "REF-2024-0001"}},
    "empty": [],
    "updatedTs": 1714566600,
    "response_time": 150,
    "ipAddress": "203.0.113.9",
}


# ----------------------------------------------------------------------------- helpers

def same_shape(example: Any, value: Any) -> bool:
    """``value`` has ``example``'s keys and types, recursively (lists: each item like some example item)."""
    if isinstance(example, dict):
        return isinstance(value, dict) and value.keys() == example.keys() and all(
            same_shape(example[k], value[k]) for k in example)
    if isinstance(example, list):
        if not example:
            return value == []
        return isinstance(value, list) and len(value) >= 1 and all(
            any(same_shape(e, v) for e in example) for v in value)
    return type(value) is type(example)


def json_stable(value: Any) -> bool:
    back = json.loads(json.dumps(value))
    return back == value and json.dumps(back, sort_keys=True) == json.dumps(value, sort_keys=True)


def two_places(x: float) -> bool:
    return x >= 0 and math.isfinite(x) and round(x, 2) == x and len(repr(x).partition(".")[2]) <= 2


def iso_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return bool(re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", text))


def iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


# ----------------------------------------------------------------------------- payloads_like

@FAST
@given(payloads_like(ORDER))
def test_payloads_keep_the_examples_shape_and_survive_json(order: dict[str, Any]) -> None:
    assert same_shape(ORDER, order)
    assert json_stable(order)


@FAST
@given(payloads_like(ORDER))
def test_payload_leaves_are_realistic_where_the_key_says_so(order: dict[str, Any]) -> None:
    customer = order["customer"]
    assert re.match(r"^[^@\s]+@[^@\s]+\.[a-z]+$", customer["customerEmail"])
    assert "@" in order["contact"]  # no key hint, but the example value is an email
    for key in ("first_name", "lastName", "name", "address", "city", "company"):
        assert customer[key].strip() and customer[key] != "", key
    assert " " in customer["name"]
    assert re.fullmatch(r"[A-Z]{2}", customer["country"])  # the example is a country code
    assert re.fullmatch(r"\+\d\d \d\d \d{4} \d{4}", customer["phone"])  # the example's format
    assert customer["user_id"] >= 1
    assert order["order_id"].startswith("ord_") and len(order["order_id"]) == len("ord_8f3k2")
    assert is_uuid(order["id"])
    assert order["nested"]["deeper"]["reference"].startswith("REF-2024-")
    for item in order["items"]:
        assert re.fullmatch(r"SKU-\d{5}", item["sku"])
        assert 1 <= item["qty"] <= 10
        assert two_places(item["price"])
    assert two_places(order["total"])
    assert isinstance(order["tax_cents"], int) and order["tax_cents"] >= 0
    assert re.fullmatch(r"\d+\.\d\d", order["amount"])
    assert re.fullmatch(r"[A-Z]{3}", order["currency"])
    assert iso_datetime(order["created_at"]) and order["created_at"].endswith("Z")
    assert iso_date(order["delivery_date"])
    assert order["website"].startswith(("http://", "https://"))
    assert 1 <= order["quantity"] <= 10
    assert order["ratio"] >= 0
    assert isinstance(order["offset"], int)
    assert 946_684_800 <= order["updatedTs"] < 1_924_992_000  # epoch seconds in 2000..2030
    assert order["response_time"] >= 0  # a duration, not mistaken for an epoch
    assert all(0 <= int(part) <= 255 for part in order["ipAddress"].split(".")) and order["ipAddress"].count(".") == 3


@FAST
@given(st.data())
def test_any_json_example_gives_json_stable_values_of_its_shape(data: st.DataObject) -> None:
    example = data.draw(json_values(max_leaves=8), label="example")
    value = data.draw(payloads_like(example), label="value")
    assert same_shape(example, value)
    assert json_stable(value)


def test_a_name_inside_line_items_is_a_product_not_a_person() -> None:
    item = find(payloads_like({"line_items": [{"name": "Widget"}]}), lambda v: True)["line_items"][0]
    person = find(payloads_like({"name": "Ada"}), lambda v: True)
    assert item["name"] != person["name"]


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": {1, 2}}, {1: "one"}, [object()]])
def test_non_json_examples_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="payloads_like"):
        payloads_like(bad)


# ----------------------------------------------------------------------------- reproducibility

def _draws(strategy: st.SearchStrategy[Any]) -> list[Any]:
    seen: list[Any] = []

    @seed(20240501)
    @settings(max_examples=15, database=None, deadline=None, phases=["generate"])
    @given(strategy)
    def collect(value: Any) -> None:
        seen.append(value)

    collect()
    return seen


def test_the_same_hypothesis_seed_draws_the_same_payloads() -> None:
    first, second = _draws(payloads_like(ORDER)), _draws(payloads_like(ORDER))
    assert first == second
    assert len({json.dumps(v, sort_keys=True) for v in first}) > 1  # and they do vary
    schema = {"type": "object", "properties": {"email": {"type": "string"}, "n": {"type": "integer"}}}
    assert _draws(payloads_from_schema(schema)) == _draws(payloads_from_schema(schema))


def test_faker_values_follow_the_drawn_seed_and_shrink_to_seed_zero() -> None:
    assert faker_with_seed(7).email() == faker_with_seed(7).email()
    assert find(payloads_like({"email": "x@y.z"}), lambda v: True) == {"email": faker_with_seed(0).email()}
    # shrinking keeps the condition: the smallest payload whose amount exceeds 100
    big = find(payloads_like({"email": "x@y.z", "amount": 1.5}), lambda v: v["amount"] > 100)
    assert big["amount"] == 100.01


# ----------------------------------------------------------------------------- payloads_from_schema

def validate(value: Any, schema: Any, path: str = "#") -> list[str]:
    """A tiny validator for the supported subset: the list of violations."""
    if schema is True or schema == {}:
        return []
    errors: list[str] = []
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: not the const")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: not in the enum")
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        checks = {"null": value is None, "boolean": isinstance(value, bool),
                  "integer": isinstance(value, int) and not isinstance(value, bool),
                  "number": isinstance(value, int | float) and not isinstance(value, bool),
                  "string": isinstance(value, str), "array": isinstance(value, list),
                  "object": isinstance(value, dict)}
        if not any(checks[t] for t in types):
            return [f"{path}: {value!r} is not of type {types}"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below minimum")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above maximum")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", math.inf):
            errors.append(f"{path}: length {len(value)} out of bounds")
        fmt = schema.get("format")
        if fmt == "email" and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            errors.append(f"{path}: not an email")
        if fmt == "date" and not iso_date(value):
            errors.append(f"{path}: not a date")
        if fmt == "date-time" and not iso_datetime(value):
            errors.append(f"{path}: not a date-time")
        if fmt == "uuid" and not is_uuid(value):
            errors.append(f"{path}: not a uuid")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", math.inf):
            errors.append(f"{path}: {len(value)} items out of bounds")
        for i, item in enumerate(value):
            errors += validate(item, schema.get("items", True), f"{path}/{i}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errors += [f"{path}: missing {name!r}" for name in schema.get("required", []) if name not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"{path}: extra {name!r}" for name in value if name not in props]
        for name, sub in props.items():
            if name in value:
                errors += validate(value[name], sub, f"{path}/{name}")
    return errors


ORDER_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Order",
    "type": "object",
    "required": ["orderId", "email", "items", "total", "status"],
    "additionalProperties": False,
    "properties": {
        "orderId": {"type": "string", "format": "uuid"},
        "email": {"type": "string", "format": "email"},
        "customerName": {"type": "string", "minLength": 1, "maxLength": 40},
        "city": {"type": "string"},
        "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]},
        "status": {"const": "NEW"},
        "total": {"type": "number", "minimum": 0, "maximum": 10000},
        "placedOn": {"type": "string", "format": "date"},
        "placedAt": {"type": "string", "format": "date-time"},
        "note": {"type": ["string", "null"], "maxLength": 5},
        "express": {"type": "boolean"},
        "items": {
            "type": "array", "minItems": 1, "maxItems": 4,
            "items": {
                "type": "object", "required": ["sku", "quantity", "price"],
                "properties": {
                    "sku": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 99},
                    "price": {"type": "number", "minimum": 0.5},
                },
            },
        },
    },
}


@FAST
@given(payloads_from_schema(ORDER_SCHEMA))
def test_schema_payloads_validate_and_look_real(order: dict[str, Any]) -> None:
    assert validate(order, ORDER_SCHEMA) == []
    assert json_stable(order)
    if "city" in order:
        assert order["city"] and order["city"][0].isupper()
    for item in order["items"]:
        assert re.fullmatch(r"[A-Z]{3}-\d{5}", item["sku"])
        assert 1 <= item["quantity"] <= 10  # realistic, and within the schema's bounds
        assert two_places(item["price"]) and item["price"] >= 0.5
    assert two_places(order["total"])


def test_schema_text_is_accepted_and_optional_properties_shrink_away() -> None:
    assert find(payloads_from_schema(json.dumps(ORDER_SCHEMA)), lambda v: True).keys() == {
        "orderId", "email", "items", "total", "status"}


NAMES = st.sampled_from(["email", "name", "city", "amount", "qty", "id", "created_at", "x", "label"])
LEAF_SCHEMAS = st.one_of(
    st.builds(lambda t: {"type": t}, st.sampled_from(["string", "integer", "number", "boolean", "null"])),
    st.tuples(st.integers(0, 5), st.integers(0, 30)).map(
        lambda b: {"type": "string", "minLength": min(b), "maxLength": max(b)}),
    st.tuples(st.integers(-1000, 1000), st.integers(-1000, 1000)).map(
        lambda b: {"type": "integer", "minimum": min(b), "maximum": max(b)}),
    st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)).map(
        lambda b: {"type": "number", "minimum": min(b), "maximum": max(b)}),
    st.sampled_from(["email", "date", "date-time", "uuid"]).map(lambda f: {"type": "string", "format": f}),
    st.lists(json_values(max_leaves=2), min_size=1, max_size=3).map(lambda e: {"enum": e}),
    json_values(max_leaves=3).map(lambda c: {"const": c}),
    st.just({"type": ["integer", "null"], "minimum": 0}),
)


def _object(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": [r for r in required if r in props]}


SCHEMAS = st.recursive(LEAF_SCHEMAS, lambda inner: st.one_of(
    st.tuples(inner, st.integers(0, 2), st.integers(0, 3)).map(
        lambda t: {"type": "array", "items": t[0], "minItems": t[1], "maxItems": t[1] + t[2]}),
    st.builds(_object, st.dictionaries(NAMES, inner, max_size=4), st.lists(NAMES, max_size=3)),
), max_leaves=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_values_drawn_from_any_subset_schema_validate(data: st.DataObject) -> None:
    schema = data.draw(SCHEMAS, label="schema")
    value = data.draw(payloads_from_schema(schema), label="value")
    assert validate(value, schema) == []
    assert json_stable(value)


@pytest.mark.parametrize("keyword, extra", [
    ("oneOf", [{"type": "string"}]), ("anyOf", [{"type": "string"}]), ("allOf", [{"type": "string"}]),
    ("not", {"type": "string"}), ("$ref", "#/$defs/x"), ("pattern", "^a"), ("exclusiveMinimum", 0),
    ("multipleOf", 2), ("uniqueItems", True), ("patternProperties", {}), ("if", {}),
])
def test_unsupported_keywords_raise_naming_them(keyword: str, extra: Any) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(keyword))):
        payloads_from_schema({"type": "string", keyword: extra})
    nested = {"type": "object", "properties": {"items": {"type": "array", "items": {keyword: extra}}}}
    with pytest.raises(ValueError, match=re.escape(repr(keyword)) + r".*#/properties/items/items"):
        payloads_from_schema(nested)


@pytest.mark.parametrize("schema, words", [
    ({"type": "string", "format": "ipv4"}, "'format' with value 'ipv4'"),
    ({"type": "object", "additionalProperties": True}, "'additionalProperties' only as false"),
    ({"type": "array", "items": [{"type": "string"}]}, "'items' only as one schema"),
    ({"type": "integer", "minimum": 5, "maximum": 1}, "minimum 5 exceeds maximum 1"),
    ({"type": "decimal"}, "unknown type"),
])
def test_other_unsupported_schemas_say_why(schema: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        payloads_from_schema(schema)


# ----------------------------------------------------------------------------- docs

def test_module_doc_examples_run() -> None:
    import doctest

    import chaosdurable.strategies.callbacks as callbacks
    import chaosdurable.strategies.payloads as payloads

    for module in (payloads, callbacks):
        failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert attempted > 0 and failed == 0, module.__name__


def test_failing_examples_print_the_values_not_the_calls_that_made_them() -> None:
    @settings(database=None, max_examples=5, deadline=None)
    @given(payloads_like({"id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "address": "x", "at": "2024-01-01"}))
    def fails(value: Any) -> None:
        raise AssertionError("boom")

    with pytest.raises(AssertionError) as info:
        fails()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "'id': 'e3e70682-" in notes and "'at': '2000-01-01'" in notes, notes
    assert "faker_with_seed" not in notes and "make(" not in notes, notes
