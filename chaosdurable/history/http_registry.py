"""An HTTP mock's routes as data, so a saved failure and its Python reproduction can rebuild it.

A ``responses.RequestsMock`` is an object, not importable by name. When every route registered on it
is static (a plain ``responses.Response``: method, URL or URL pattern, status, body, content type and
headers, no matchers, no callback, no passthrough), the routes are written down here as JSON-shaped
dicts; ``rebuild`` makes an equivalent mock from them and ``source`` the Python that does. A mock
with a callback route, a matcher or a streamed body cannot be written down: ``routes`` returns None,
and the reproduction asks the reader for the mock instead (``--http module:attribute``).

Contract: ``rebuild(routes(mock))`` answers every request the same way ``mock`` did (same route
order, status, body bytes, content type and headers), for any mock ``routes`` accepts.
"""

from __future__ import annotations

import base64
import re
from typing import Any


def routes(mock: Any) -> list[dict[str, Any]] | None:
    """The routes of ``mock`` as JSON-shaped dicts, in registration order; None if any is not static."""
    import responses

    out: list[dict[str, Any]] = []
    for route in mock.registered():
        if type(route) is not responses.Response or route.match or route.passthrough or route.stream:
            return None
        entry: dict[str, Any] = {"method": route.method, "status": route.status}
        if isinstance(route.url, re.Pattern):
            entry["url_regex"] = route.url.pattern
        elif isinstance(route.url, str):
            entry["url"] = route.url
        else:
            return None
        body = route.body
        if isinstance(body, bytes):
            entry["body_base64"] = base64.b64encode(body).decode()
        elif isinstance(body, str):
            entry["body"] = body
        else:
            return None  # an exception to raise, a file: not data
        if route.content_type is not None:
            entry["content_type"] = route.content_type
        if route.headers:
            entry["headers"] = dict(route.headers)
        out.append(entry)
    return out


def _add_arguments(entry: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``RequestsMock.add`` for one route (the URL as a compiled pattern if it was)."""
    body: Any = base64.b64decode(entry["body_base64"]) if "body_base64" in entry else entry.get("body", "")
    url: Any = re.compile(entry["url_regex"]) if "url_regex" in entry else entry["url"]
    kwargs: dict[str, Any] = {"method": entry["method"], "url": url, "status": entry["status"], "body": body}
    if "content_type" in entry:
        kwargs["content_type"] = entry["content_type"]
    if "headers" in entry:
        kwargs["headers"] = entry["headers"]
    return kwargs


def rebuild(entries: list[dict[str, Any]]) -> Any:
    """A new, unstarted ``responses.RequestsMock`` with these routes (unfired routes are no error)."""
    import responses

    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    for entry in entries:
        mock.add(**_add_arguments(entry))
    return mock


def source(entries: list[dict[str, Any]], name: str = "http_mock") -> list[str]:
    """Python lines that bind ``name`` to a mock with these routes (``import re`` included when needed)."""
    lines = ["import responses"]
    if any("url_regex" in e for e in entries):
        lines.append("import re")
    lines.append(f"{name} = responses.RequestsMock(assert_all_requests_are_fired=False)")
    for entry in entries:
        kwargs = _add_arguments(entry)
        url = f"re.compile({entry['url_regex']!r})" if "url_regex" in entry else repr(entry["url"])
        args = [f"{kwargs['method']!r}", url, f"status={kwargs['status']!r}", f"body={kwargs['body']!r}"]
        args += [f"{key}={kwargs[key]!r}" for key in ("content_type", "headers") if key in kwargs]
        lines.append(f"{name}.add({', '.join(args)})")
    return lines
