"""WORKLOAD: payload strategies, shaped like an example or described by a JSON Schema.

``payloads_like(example)`` draws JSON values with the example's shape: the same keys, the
same types, recursively (lists hold one or more items shaped like the example's items).
``payloads_from_schema(schema)`` draws values valid for a practical subset of JSON Schema.

Leaves are realistic where the key (or, for ``payloads_like``, the example value) suggests
it: ``email``, ``name``/``first_name``/``last_name``, ``address``, ``city``, ``country``,
``phone``, ``amount``/``price``/``total`` (non-negative, at most 2 decimals), ``currency``,
``id``/``*_id`` (uuids, or ids with the example's prefix), ``sku``, ``date``/``*_at``/
``timestamp`` (ISO strings), ``quantity``/``qty`` (small positive ints), ``url``,
``company`` and a few more. Realistic strings come from faker, seeded with an integer
Hypothesis draws, so every example reproduces from Hypothesis' seed and shrinks toward
seed 0. Other leaves are plain Hypothesis values of the example's type.

Every value drawn survives ``json.dumps``/``json.loads`` unchanged.

>>> from hypothesis import find
>>> order = find(payloads_like({"order_id": "ord_1a2b", "email": "a@b.co", "total": 9.99}), lambda v: True)
>>> sorted(order), "@" in order["email"], order["order_id"].startswith("ord_")
(['email', 'order_id', 'total'], True, True)
"""

from __future__ import annotations

import copy
import json
import math
import re
import string
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from faker import Faker
from hypothesis import strategies as st

__all__ = ["derived", "faker_with_seed", "json_values", "payloads_from_schema", "payloads_like"]

#: the JSON Schema keywords ``payloads_from_schema`` understands (annotations are ignored)
SUPPORTED_KEYWORDS: frozenset[str] = frozenset({
    "type", "properties", "required", "items", "enum", "const", "minimum", "maximum", "minLength",
    "maxLength", "format", "minItems", "maxItems", "additionalProperties",
})
ANNOTATIONS: frozenset[str] = frozenset({
    "$schema", "$id", "$comment", "title", "description", "default", "examples", "readOnly", "writeOnly",
    "deprecated",
})
SUPPORTED_FORMATS: tuple[str, ...] = ("email", "date", "date-time", "uuid")
JSON_TYPES: tuple[str, ...] = ("object", "array", "string", "integer", "number", "boolean", "null")

_SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
_LOCAL = threading.local()

# dates and times span 2000-01-01 .. 2030-12-31, drawn from Hypothesis directly (no "now" involved)
_EPOCH_2000 = 946_684_800
_EPOCH_END = 1_924_991_999  # 2030-12-31T23:59:59Z
_MAX_CENTS = 10_000_000  # 100,000.00


def faker_with_seed(seed: int, locale: str = "en_US") -> Faker:
    """A faker for ``locale`` (one per thread, reused) seeded with ``seed``: same seed, same values."""
    cache: dict[str, Faker] = _LOCAL.__dict__.setdefault("fakers", {})
    fake = cache.get(locale)
    if fake is None:
        fake = cache[locale] = Faker(locale)
    fake.seed_instance(seed)
    return fake


def derived(base: st.SearchStrategy[Any], fn: Callable[[Any], Any]) -> st.SearchStrategy[Any]:
    """``base.map(fn)``, except that failing examples print the value, not the call that made it
    (Hypothesis prints a mapped value as ``fn(arg)`` when that is shorter, e.g. ``make(0)``)."""

    @st.composite
    def draw(data: st.DrawFn) -> Any:
        return fn(data(base))

    return draw()


def _faked(make: Callable[[Faker], Any], locale: str) -> st.SearchStrategy[Any]:
    return derived(_SEEDS, lambda seed: make(faker_with_seed(seed, locale)))


# ----------------------------------------------------------------------------- key heuristics

def _words(key: str | None) -> list[str]:
    """``"customerEmail"`` / ``"customer-email"`` / ``"CUSTOMER_EMAIL"`` -> ``["customer", "email"]``."""
    if not key:
        return []
    key = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    return [w for w in re.split(r"[^a-zA-Z0-9]+", key.lower()) if w]


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses") or word.endswith("xes"):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


_AMOUNT = {"amount", "price", "total", "subtotal", "cost", "fee", "balance", "tax", "discount", "payment",
           "refund", "charge", "value"}
_QUANTITY = {"quantity", "qty", "unit"}
_DATE_WORDS = {"date", "day", "dob", "birthday", "birthdate"}
_TIME_WORDS = {"timestamp", "time", "datetime", "at", "ts"}
_TEXT = {"description", "comment", "note", "message", "reason", "summary", "body", "text"}


_PRODUCTISH = {"product", "item", "line", "sku", "plan", "article", "good", "cart", "lineitem"}


def _kind(key: str | None, parent: str | None = None) -> str | None:
    """What the key suggests (``"email"``, ``"amount"``...), or None. ``parent`` is the enclosing
    object's key: a ``name`` inside ``items`` is a product name, not a person's."""
    kind = _key_kind(key)
    if kind == "name" and _PRODUCTISH & {_singular(w) for w in _words(parent)}:
        return "product"
    return kind


def _key_kind(key: str | None) -> str | None:
    words = [_singular(w) for w in _words(key)]
    if not words:
        return None
    last, first = words[-1], words[0]
    joined = "_".join(words)
    if last == "email" or joined in ("email_address", "mail"):
        return "email"
    if last in ("ip", "ipv4") or joined == "ip_address":
        return "ipv4"
    if joined in ("file_name", "filename"):
        return "file_name"
    if last in ("id", "uuid", "guid", "key", "ref", "reference", "token"):
        return "uuid" if last in ("uuid", "guid") else "id"
    if last == "sku" or (last == "code" and "product" in words):
        return "sku"
    if last == "name" or last == "username":
        before = words[-2] if len(words) > 1 else ""
        if before in ("first", "given", "fore"):
            return "first_name"
        if before in ("last", "family", "sur"):
            return "last_name"
        if before in ("company", "business", "organization", "organisation", "org", "merchant", "vendor"):
            return "company"
        if before in ("user", "login", "screen") or last == "username":
            return "user_name"
        if before in ("product", "item", "plan", "project"):
            return "product"
        if before in ("city", "town"):
            return "city"
        if before in ("country",):
            return "country"
        return "name"
    if last in ("firstname", "forename"):
        return "first_name"
    if last in ("lastname", "surname"):
        return "last_name"
    if last in ("company", "organization", "organisation", "employer", "merchant", "vendor"):
        return "company"
    if last in ("address", "street", "line1", "line2") or joined.startswith("address_line"):
        streety = last in ("street", "line1", "line2") or joined.startswith(("address_line", "street_address"))
        return "street" if streety else "address"
    if last in ("city", "town"):
        return "city"
    if last in ("state", "province", "region") and any(w in ("address", "shipping", "billing") for w in words):
        return "state"
    if last == "province":
        return "state"
    if joined in ("country_code", "country_iso"):
        return "country_code"
    if last == "country":
        return "country"
    if last in ("zip", "zipcode", "postcode") or joined in ("postal_code", "zip_code", "post_code"):
        return "postcode"
    if last in ("phone", "mobile", "telephone", "tel", "fax") or joined == "phone_number":
        return "phone"
    if last == "currency" or joined == "currency_code":
        return "currency"
    if last in _AMOUNT or (first in _AMOUNT and last in ("cent", "cents")):
        return "amount"
    if last in _QUANTITY:
        return "quantity"
    if last in _DATE_WORDS or first in ("dob", "birthday"):
        return "date"
    if last in _TIME_WORDS or joined in ("created", "updated", "modified", "deleted", "expires", "expiry"):
        return "datetime"
    if last in ("url", "uri", "link", "href", "website", "homepage", "site", "webhook"):
        return "url"
    if last in _TEXT:
        return "text"
    if last in ("title", "subject"):
        return "title"
    if last in ("color", "colour"):
        return "color"
    if last in ("language", "locale", "lang"):
        return "locale"
    return None


# ----------------------------------------------------------------------------- realistic leaves

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_URL_RE = re.compile(r"^https?://\S+$")
_DECIMAL_RE = re.compile(r"^-?\d+(\.\d+)?$")


def _mimic(fake: Faker, template: str) -> str:
    """A fresh string with ``template``'s character classes: digits, lower and upper letters; the rest kept."""
    out = []
    for ch in template:
        if ch.isdigit():
            out.append(fake.random.choice(string.digits))
        elif ch in string.ascii_lowercase:
            out.append(fake.random.choice(string.ascii_lowercase))
        elif ch in string.ascii_uppercase:
            out.append(fake.random.choice(string.ascii_uppercase))
        else:
            out.append(ch)
    return "".join(out)


def _prefixed(template: str) -> Callable[[Faker], str]:
    """Ids like ``ord_8f3k`` / ``ORD-1042``: keep the prefix up to the last separator, regenerate the rest."""
    cut = max(template.rfind("_"), template.rfind("-"), template.rfind(":"))
    prefix, rest = (template[:cut + 1], template[cut + 1:]) if cut >= 0 else ("", template)
    if not rest:
        rest = "a1b2c3d4"
    return lambda fake: prefix + _mimic(fake, rest)


def _iso_datetime(style: str | None) -> st.SearchStrategy[str]:
    """ISO date-times in 2000..2030, UTC; ``style`` is an example whose suffix (Z, +00:00, none) is kept."""
    suffix = "Z"
    with_fraction = False
    if style:
        if style.endswith("Z"):
            suffix = "Z"
        elif re.search(r"[+-]\d{2}:?\d{2}$", style):
            suffix = "+00:00"
        else:
            suffix = ""
        with_fraction = "." in style.split("T")[-1]
    sep = " " if style and " " in style and "T" not in style else "T"

    def make(seconds: int) -> str:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        text = moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
        if with_fraction:
            text += f".{seconds % 1000:03d}"
        return text + suffix

    return derived(st.integers(_EPOCH_2000, _EPOCH_END), make)


def _iso_date() -> st.SearchStrategy[str]:
    return derived(st.integers(_EPOCH_2000 // 86400, _EPOCH_END // 86400),
                   lambda days: (datetime(1970, 1, 1) + timedelta(days=days)).strftime("%Y-%m-%d"))


def _cents_to_number(cents: int) -> float:
    return cents / 100  # correctly rounded, so repr shows at most 2 decimals


_FAKER_STRINGS: dict[str, Callable[[Faker], str]] = {
    "email": lambda f: f.email(),
    "first_name": lambda f: f.first_name(),
    "last_name": lambda f: f.last_name(),
    "name": lambda f: f.name(),
    "user_name": lambda f: f.user_name(),
    "company": lambda f: f.company(),
    "product": lambda f: " ".join(w.capitalize() for w in f.words(2)),
    "address": lambda f: f.address(),
    "street": lambda f: f.street_address(),
    "file_name": lambda f: f.file_name(),
    "city": lambda f: f.city(),
    "state": lambda f: f.state(),
    "country": lambda f: f.country(),
    "country_code": lambda f: f.country_code(),
    "postcode": lambda f: f.postcode(),
    "phone": lambda f: f.phone_number(),
    "currency": lambda f: f.currency_code(),
    "uuid": lambda f: f.uuid4(),
    "id": lambda f: f.uuid4(),
    "sku": lambda f: f.bothify("???-#####", letters=string.ascii_uppercase),
    "url": lambda f: f.url(),
    "ipv4": lambda f: f.ipv4_public(),
    "text": lambda f: f.sentence(),
    "title": lambda f: f.sentence(nb_words=4).rstrip("."),
    "color": lambda f: f.color_name(),
    "locale": lambda f: f.locale().replace("_", "-"),
}


def _string_for(kind: str | None, example: str | None, locale: str) -> st.SearchStrategy[str] | None:
    """A realistic string strategy for ``kind``, following ``example``'s style; None when nothing fits."""
    if example is not None and kind is None:  # no hint in the key: let the value speak
        if _UUID_RE.match(example):
            kind = "uuid"
        elif _EMAIL_RE.match(example):
            kind = "email"
        elif _DATE_RE.match(example):
            kind = "date"
        elif _DATETIME_RE.match(example):
            kind = "datetime"
        elif _URL_RE.match(example):
            kind = "url"
    if kind is None:
        return None
    if kind in ("date", "datetime"):
        if example is not None and _DATE_RE.match(example):
            return _iso_date()
        if example is not None and _DATETIME_RE.match(example):
            return _iso_datetime(example)
        if example is not None:
            return None  # e.g. "deliveryTime": "morning" - not a date at all
        return _iso_date() if kind == "date" else _iso_datetime(None)
    if kind == "amount":
        if example is not None and not _DECIMAL_RE.match(example):
            return None
        decimals = len(example.split(".")[1]) if example and "." in example else 2
        if decimals == 0:
            return derived(st.integers(0, _MAX_CENTS // 100), str)
        return derived(st.integers(0, _MAX_CENTS), lambda c: f"{c / 100:.2f}")
    if kind == "quantity":
        return derived(st.integers(1, 10), str) if example is None or example.isdigit() else None
    if kind == "country" and example is not None and len(example) == 2 and example.isupper():
        return _faked(lambda f: f.country_code(), locale)
    if kind in ("id", "sku") and example is not None and not _UUID_RE.match(example):
        return _faked(_prefixed(example), locale)
    if kind == "phone" and example is not None and sum(ch.isdigit() for ch in example) >= 7:
        return _faked(lambda f: _mimic(f, example), locale)  # keep the example's format: +44 20 ...
    make = _FAKER_STRINGS.get(kind)
    return _faked(make, locale) if make is not None else None


def _integer_for(kind: str | None, example: int | None = None) -> st.SearchStrategy[int] | None:
    if kind == "amount":
        return st.integers(0, _MAX_CENTS // 100)
    if kind == "quantity":
        return st.integers(1, 10)
    if kind in ("id", "uuid"):
        return st.integers(1, 2**31 - 1)
    if kind == "datetime" and example is not None and example >= 10**12:  # epoch milliseconds
        return derived(st.integers(_EPOCH_2000, _EPOCH_END), lambda s: s * 1000)
    if kind == "datetime" and example is not None and example >= 10**8:  # epoch seconds, not a duration
        return st.integers(_EPOCH_2000, _EPOCH_END)
    return None


# ----------------------------------------------------------------------------- payloads_like

def json_values(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    """Any JSON value (null, booleans, ints, finite floats, text, lists, string-keyed objects); null first."""
    leaves = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(
        allow_nan=False, allow_infinity=False) | st.text(max_size=20)
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=10), inner, max_size=4), max_leaves=max_leaves)


def _signature(value: Any) -> Any:
    """A hashable summary of a value's shape, so list items of the same shape share one strategy."""
    if isinstance(value, Mapping):
        return ("object", tuple((k, _signature(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("array", tuple(dict.fromkeys(_signature(v) for v in value)))
    return type(value).__name__


def _like(value: Any, key: str | None, parent: str | None, locale: str, max_items: int,
          path: str) -> st.SearchStrategy[Any]:
    kind = _kind(key, parent)
    if value is None:
        return st.none()
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        special = _integer_for(kind, value)
        if special is not None:
            return special
        return st.integers(0, 2**31 - 1) if value >= 0 else st.integers(-(2**31), 2**31 - 1)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"payloads_like: {path} is {value!r}, which JSON cannot hold")
        if kind == "amount":
            return derived(st.integers(0, _MAX_CENTS), _cents_to_number)
        if kind == "quantity":
            return derived(st.integers(1, 10), float)
        if value >= 0:
            return st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)
        return st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
    if isinstance(value, str):
        realistic = _string_for(kind, value, locale)
        if realistic is not None:
            return realistic
        return st.just(value) | st.text(max_size=max(20, 2 * len(value)))
    if isinstance(value, Mapping):
        fields = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"payloads_like: {path} has the key {k!r}; JSON object keys are strings")
            fields[k] = _like(v, k, key, locale, max_items, f"{path}.{k}")
        return st.fixed_dictionaries(fields)
    if isinstance(value, list | tuple):
        if not value:
            return st.just([])
        shapes: dict[Any, Any] = {}
        for i, item in enumerate(value):
            shapes.setdefault(_signature(item), (i, item))
        items = st.one_of(*[_like(item, key, parent, locale, max_items, f"{path}[{i}]")
                            for i, item in shapes.values()])
        return st.lists(items, min_size=1, max_size=max(max_items, len(value)))
    raise ValueError(f"payloads_like: {path} is a {type(value).__name__}, which is not a JSON value")


def payloads_like(example: Any, *, locale: str = "en_US", max_items: int = 3) -> st.SearchStrategy[Any]:
    """JSON values shaped like ``example``: same keys and types, recursively, with realistic leaves.

    Objects keep every key of the example. A non-empty list becomes a list of 1..``max_items``
    (or as many as the example holds) items shaped like the example's items (several item
    shapes are drawn from in turn); an empty list stays empty. A string whose key (or value)
    suggests nothing in particular is the example's own string or arbitrary text; numbers keep
    the example's sign. ``locale`` is the faker locale.

    Raises ValueError if the example is not a JSON value (NaN, a set, a non-string key...).
    """
    return _like(example, None, None, locale, max_items, "$")


# ----------------------------------------------------------------------------- payloads_from_schema

def _check_keywords(schema: Mapping[str, Any], path: str) -> None:
    for keyword in schema:
        if keyword not in SUPPORTED_KEYWORDS and keyword not in ANNOTATIONS:
            raise ValueError(f"payloads_from_schema does not support the JSON Schema keyword {keyword!r} "
                             f"(at {path}); supported: {', '.join(sorted(SUPPORTED_KEYWORDS))}")
    if "additionalProperties" in schema and schema["additionalProperties"] is not False:
        raise ValueError(f"payloads_from_schema supports the keyword 'additionalProperties' only as false "
                         f"(at {path}); drawn objects hold only the declared properties")
    if "format" in schema and schema["format"] not in SUPPORTED_FORMATS:
        raise ValueError(f"payloads_from_schema does not support the JSON Schema keyword 'format' with value "
                         f"{schema['format']!r} (at {path}); supported formats: {', '.join(SUPPORTED_FORMATS)}")
    if "items" in schema and not isinstance(schema["items"], Mapping):
        raise ValueError(f"payloads_from_schema supports the keyword 'items' only as one schema, not "
                         f"{type(schema['items']).__name__} (tuple validation) (at {path})")


def _bounded(schema: Mapping[str, Any], low: str, high: str, path: str) -> tuple[Any, Any]:
    lo, hi = schema.get(low), schema.get(high)
    for name, bound in ((low, lo), (high, hi)):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
            raise ValueError(f"payloads_from_schema: {name!r} must be a number (at {path}), not {bound!r}")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"payloads_from_schema: {low} {lo} exceeds {high} {hi} (at {path}); nothing can satisfy it")
    return lo, hi


def _clamped(preferred: tuple[int, int], lo: int | None, hi: int | None) -> tuple[int, int] | None:
    """``preferred`` narrowed to [lo, hi], or None when they do not meet."""
    a = preferred[0] if lo is None else max(preferred[0], lo)
    b = preferred[1] if hi is None else min(preferred[1], hi)
    return (a, b) if a <= b else None


def _schema_string(schema: Mapping[str, Any], kind: str | None, locale: str, path: str) -> st.SearchStrategy[str]:
    lo, hi = _bounded(schema, "minLength", "maxLength", path)
    lo = 0 if lo is None else math.ceil(lo)
    hi = None if hi is None else math.floor(hi)
    fmt = schema.get("format")
    if fmt == "date":
        realistic: st.SearchStrategy[str] | None = _iso_date()
    elif fmt == "date-time":
        realistic = _iso_datetime(None)
    elif fmt in ("email", "uuid"):
        realistic = _faked(_FAKER_STRINGS[fmt], locale)
    else:
        realistic = _string_for(kind, None, locale)
    plain = st.text(min_size=lo, max_size=hi)
    if realistic is None:
        return plain

    def fits(text: str) -> bool:
        return lo <= len(text) and (hi is None or len(text) <= hi)

    if fmt is not None:
        return realistic.filter(fits)  # a formatted string that breaks the lengths is no use either way

    @st.composite
    def draw(data: st.DrawFn) -> str:
        text = data(realistic)
        return text if fits(text) else data(plain)

    return draw()


def _schema_integer(schema: Mapping[str, Any], kind: str | None, path: str) -> st.SearchStrategy[int]:
    lo, hi = _bounded(schema, "minimum", "maximum", path)
    lo = None if lo is None else math.ceil(lo)
    hi = None if hi is None else math.floor(hi)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"payloads_from_schema: no integer lies between minimum and maximum (at {path})")
    preferred = {"amount": (0, _MAX_CENTS // 100), "quantity": (1, 10), "id": (1, 2**31 - 1)}.get(kind or "")
    if preferred is not None:
        narrowed = _clamped(preferred, lo, hi)
        if narrowed is not None:
            return st.integers(*narrowed)
    return st.integers(min_value=lo, max_value=hi)


def _schema_number(schema: Mapping[str, Any], kind: str | None, path: str) -> st.SearchStrategy[Any]:
    lo, hi = _bounded(schema, "minimum", "maximum", path)
    if kind == "amount":
        cents = _clamped((0, _MAX_CENTS), None if lo is None else math.ceil(lo * 100),
                         None if hi is None else math.floor(hi * 100))
        if cents is not None:
            return derived(st.integers(*cents), _cents_to_number).filter(
                lambda x: (lo is None or x >= lo) and (hi is None or x <= hi))
    if kind == "quantity":
        narrowed = _clamped((1, 10), None if lo is None else math.ceil(lo), None if hi is None else math.floor(hi))
        if narrowed is not None:
            return st.integers(*narrowed)
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def _schema_object(schema: Mapping[str, Any], key: str | None, locale: str,
                   path: str) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, Mapping):
        raise ValueError(f"payloads_from_schema: 'properties' must be an object (at {path})")
    if not isinstance(required, list | tuple) or not all(isinstance(r, str) for r in required):
        raise ValueError(f"payloads_from_schema: 'required' must be a list of property names (at {path})")
    subs = {name: _schema(sub, name, key, locale, f"{path}/properties/{name}") for name, sub in properties.items()}
    if schema.get("additionalProperties") is False and set(required) - set(subs):
        raise ValueError(f"payloads_from_schema: required {sorted(set(required) - set(subs))} are not among the "
                         f"properties, and additionalProperties is false (at {path})")
    must = {name: subs.get(name, json_values(max_leaves=3)) for name in required}
    optional = {name: s for name, s in subs.items() if name not in must}
    return st.fixed_dictionaries(must, optional=optional)


def _schema_array(schema: Mapping[str, Any], key: str | None, parent: str | None, locale: str,
                  path: str) -> st.SearchStrategy[Any]:
    lo, hi = _bounded(schema, "minItems", "maxItems", path)
    lo = 0 if lo is None else math.ceil(lo)
    hi = (lo + 5) if hi is None else math.floor(hi)
    items = _schema(schema["items"], key, parent, locale, f"{path}/items") if "items" in schema else json_values(3)
    return st.lists(items, min_size=lo, max_size=hi)


def _schema(schema: Any, key: str | None, parent: str | None, locale: str, path: str) -> st.SearchStrategy[Any]:
    if schema is True or schema == {}:
        return json_values(max_leaves=5)
    if not isinstance(schema, Mapping):
        raise ValueError(f"payloads_from_schema: the schema at {path} must be an object, not {schema!r}")
    _check_keywords(schema, path)
    if "const" in schema:
        value = schema["const"]
        return derived(st.just(value), copy.deepcopy)
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list | tuple) or not values:
            raise ValueError(f"payloads_from_schema: 'enum' must be a non-empty list (at {path})")
        return derived(st.sampled_from(list(values)), copy.deepcopy)
    declared = schema.get("type")
    if declared is None:
        if "properties" in schema or "required" in schema:
            declared = "object"
        elif "items" in schema or "minItems" in schema or "maxItems" in schema:
            declared = "array"
        elif "format" in schema or "minLength" in schema or "maxLength" in schema:
            declared = "string"
        elif "minimum" in schema or "maximum" in schema:
            declared = "number"
        else:
            return json_values(max_leaves=5)
    types = [declared] if isinstance(declared, str) else list(declared)
    unknown = [t for t in types if t not in JSON_TYPES]
    if unknown or not types:
        raise ValueError(f"payloads_from_schema: unknown type {unknown or declared!r} (at {path}); "
                         f"types are {', '.join(JSON_TYPES)}")
    options: list[st.SearchStrategy[Any]] = []
    for t in types:
        if t == "null":
            options.append(st.none())
        elif t == "boolean":
            options.append(st.booleans())
        elif t == "integer":
            options.append(_schema_integer(schema, _kind(key, parent), path))
        elif t == "number":
            options.append(_schema_number(schema, _kind(key, parent), path))
        elif t == "string":
            options.append(_schema_string(schema, _kind(key, parent), locale, path))
        elif t == "array":
            options.append(_schema_array(schema, key, parent, locale, path))
        else:
            options.append(_schema_object(schema, key, locale, path))
    return st.one_of(*options)


def payloads_from_schema(schema: Mapping[str, Any] | str, *, locale: str = "en_US") -> st.SearchStrategy[Any]:
    """JSON values valid for ``schema`` (a dict, or its JSON text), drawn with realistic strings.

    The subset: ``type`` (one or a list of object, array, string, integer, number, boolean,
    null), ``properties``, ``required`` (optional properties come and go), ``items`` (one
    schema), ``enum``, ``const``, ``minimum``/``maximum``, ``minLength``/``maxLength``,
    ``format`` (email, date, date-time, uuid), ``minItems``/``maxItems``, and
    ``additionalProperties: false``; annotations (title, description, default...) are ignored.
    String properties get the same key-name heuristics as ``payloads_like`` when their values
    fit the length bounds. Anything else raises ValueError naming the keyword, when the
    strategy is built.
    """
    if isinstance(schema, str):
        schema = json.loads(schema)
    return _schema(schema, None, None, locale, "#")
