"""HTTP effects: every request made through ``http.client`` (``urllib``, ``urllib3``) or ``requests``.

Each request becomes an effect in the ledger, through the ledger's public recording API
(``Recorder.effect``, so it is attributed, targeted by faults and forwarded like any other):

- name ``http:<METHOD> <host[:port]><path>`` (no query string), so a fault can name it
  (``CrashAfterEffect(effect="http:POST */pay")``);
- kind ``"explicit"`` with ``detail["via"] == "http"``: the idempotency checker counts it like an
  explicit effect. GET/HEAD/OPTIONS/TRACE, and a request to an OAuth 2 token endpoint (a path ending
  ``/token``: it issues a credential), are recorded as non-mutating (never counted, never crashed
  after; only a ``TransientFailure`` targets them), every other method as mutating;
- an ``Idempotency-Key`` / ``X-Idempotency-Key`` header is kept in ``detail["idempotency_key"]``;
  the ledger treats a later request to the same endpoint with the same key as deduplicated by the
  server (``idempotent``). A request that mints a new key on every attempt is still counted each time.

Egress: while a run is active, a request to a host that is not allowed fails inside the handler
with ``RealNetworkRefused`` (before any byte leaves, loopback included) and is listed in the
recorder's ``refused`` (as ``http:...``), so ``check()`` can raise even when the handler caught it.
A request is allowed when its host matches ``allow_hosts`` (``fnmatch`` patterns over ``host``
and ``host:port``), or answered by a ``responses.RequestsMock``: ``requests`` calls through
``responses``' own patch, ``http.client``/``urllib`` calls from the same registry (bridged here).

Layers: ``requests.Session.send`` is recorded (it sees calls that ``responses`` answers); the
``http.client`` layer records what did not come through ``requests`` and enforces egress for all.
Requests made by botocore are AWS calls, governed by the AWS fence (``ledger``: the moto world or
``allow_real_aws``), not by this layer.

Subprocess mode: the child activates the parent's policy with its forwarding recorder, so its
requests are recorded, targeted and refused the same way (refusals reach the parent's
``refused``); a parent's ``responses`` mock answers the child's requests over the pipe
(``RemoteMock`` in the child, ``serve_http_request`` in the parent), ``requests`` included.

Not covered: ``httpx``/``aiohttp`` (their own transports), raw sockets.
"""

from __future__ import annotations

import fnmatch
import hashlib
import http.client
import io
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chaosdurable.history import ledger
from chaosdurable.history.probes import where_now

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
IDEMPOTENCY_HEADERS = ("idempotency-key", "x-idempotency-key")


class RealNetworkRefused(ledger.RealAwsRefused):
    """A handler under test made an HTTP request to a host that was neither allowed nor mocked."""


@dataclass(frozen=True)
class Policy:
    """Which hosts a run may reach, and the ``responses`` mock that answers the others."""

    allow_hosts: tuple[str, ...] = ()
    mock: Any = None

    def allows(self, host: str, port: int | None) -> bool:
        """True when ``host`` (or ``host:port``) matches an allowed pattern."""
        names = [host] + ([f"{host}:{port}"] if port is not None else [])
        return any(fnmatch.fnmatchcase(n, p) for p in self.allow_hosts for n in names)


@dataclass(frozen=True)
class RemoteMock:
    """A subprocess child's stand-in for the parent's ``responses`` mock: ``answer(method, url, headers,
    body)`` returns the raw HTTP/1.1 response the parent's mock gives (``serve_http_request``)."""

    answer: Callable[[str, str, list[tuple[str, Any]], bytes | None], bytes]


POLICY: Policy | None = None
_local = threading.local()


def check_allow_hosts(allow_hosts: Iterable[str] | str | None) -> tuple[str, ...]:
    """Validate ``allow_hosts``: an iterable of host patterns (``"127.0.0.1"``, ``"*.example.com:443"``)."""
    if allow_hosts is None:
        return ()
    if isinstance(allow_hosts, str):
        raise TypeError(f"allow_hosts={allow_hosts!r} is a string; pass a list of hosts, "
                        f"e.g. allow_hosts=[{allow_hosts!r}]")
    hosts = tuple(allow_hosts)
    bad = [h for h in hosts if not isinstance(h, str) or not h or "/" in h]
    if bad:
        raise ValueError(f"allow_hosts entries must be host names or host:port patterns without a scheme or "
                         f"path (e.g. '127.0.0.1', 'api.example.com:443'); got {bad!r}")
    return hosts


def check_mock(mock: Any) -> Any:
    """Validate ``http=``: a ``responses.RequestsMock`` (or None)."""
    if mock is None:
        return None
    import responses

    if not isinstance(mock, responses.RequestsMock):
        raise TypeError(f"http= takes a responses.RequestsMock (e.g. responses.RequestsMock() with mocks added "
                        f"via .add(...)); got {type(mock).__name__}")
    return mock


#: how a request that went out and found no server fails, in the error texts of urllib, requests and urllib3
_NETWORK_FAILURES = ("Name or service not known", "nodename nor servname", "Temporary failure in name resolution",
                     "urlopen error", "Connection refused", "Max retries exceeded", "Failed to establish",
                     "Network is unreachable", "timed out", "No route to host")


def refused_message(refused: list[str], mock_given: bool) -> str:
    """What ``check`` says when it refused HTTP requests (``refused``: ``http:POST host/path`` names)."""
    listed = ", ".join(r.removeprefix("http:") for r in refused[:8]) + (", ..." if len(refused) > 8 else "")
    head = (f"the handler made HTTP requests ({listed}) and chaosdurable refused them: nothing under check() "
            "reaches the network, loopback included (the handler may have caught that error, so the run could "
            "look fine). ")
    if mock_given:
        return head + ("The responses mock passed as http= (--http) has no route that matches them: add one per "
                       "request, e.g. mock.add(responses.POST, 'https://host/path', json={...}) (a route matches "
                       "method, scheme, host and path), or allow the host with allow_hosts=[...] (--allow-host).")
    return head + ("Allow hosts with check(..., allow_hosts=['127.0.0.1', 'api.example.com:443']) (--allow-host), "
                   "or answer the requests with a responses.RequestsMock passed as check(..., http=mock) "
                   "(--http module:attribute).")


def network_hint(error_text: str, allow_hosts: Iterable[str]) -> str | None:
    """A hint when a run failed because a request to an allowed host really went out and found no server."""
    hosts = list(allow_hosts)
    if not hosts or not any(marker in error_text for marker in _NETWORK_FAILURES):
        return None
    return (f"the hosts allowed ({', '.join(hosts)}) are reached over the real network, and a request failed "
            "there: this machine may have no route to them, or nothing listens. To test without the network, "
            "answer those requests with a responses mock instead (http=mock, --http module:attribute)")


def activate(policy: Policy | None) -> None:
    """Make ``policy`` govern HTTP requests of the active recorder (None: off); installs the hooks."""
    global POLICY
    POLICY = policy
    if policy is not None:
        install_http_hooks()


#: the last path segments of an OAuth 2 token endpoint (RFC 6749 §3.2): it issues access tokens, no business effect
TOKEN_PATHS = ("/token", "/oauth/token", "/oauth2/token", "/oauth2/v2.0/token", "/connect/token")


def is_token_request(path: str) -> bool:
    """A POST to a token endpoint fetches a credential: recorded, but as a read (never counted as a repeat;
    a token fetched again after a cold start emptied a module cache is no duplicate side effect)."""
    return (urlsplit(path).path or "/").rstrip("/").endswith(TOKEN_PATHS)


def effect_name(method: str, host: str, port: int | None, path: str) -> str:
    """``http:POST 127.0.0.1:8123/pay`` (default ports omitted, query string dropped)."""
    where = host if port in (None, 80, 443) else f"{host}:{port}"
    return f"http:{method.upper()} {where}{urlsplit(path).path or '/'}"


def _idempotency_key(headers: Iterable[tuple[str, Any]]) -> str | None:
    for name, value in headers:
        if str(name).lower() in IDEMPOTENCY_HEADERS:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _record(method: str, host: str, port: int | None, path: str, headers: Iterable[tuple[str, Any]],
            body: Any) -> tuple[str, str, Any] | None:
    """Record one request; returns (decision, name, where) or None when nothing records."""
    recorder = ledger.ACTIVE
    if recorder is None or recorder.paused:
        return None
    name = effect_name(method, host, port, path)
    mutating = method.upper() not in READ_METHODS and not is_token_request(path)
    detail: dict[str, Any] = {"via": "http", "method": method.upper(), "host": host, "port": port,
                              "path": urlsplit(path).path or "/"}
    key = _idempotency_key(headers)
    if key is not None:
        detail["idempotency_key"] = key
    if isinstance(body, (bytes, str)) and body:
        data = body.encode() if isinstance(body, str) else body
        detail["body_sha"] = hashlib.blake2b(data, digest_size=8).hexdigest()
    where = where_now()
    # counted per name, not per Idempotency-Key: a key minted per attempt is the classic double charge, so
    # requests with different keys still count as repeats (a repeat with the same key is deduplicated)
    return recorder.effect(name, None, "explicit", where, mutating, detail), name, where


def _refuse(what: str) -> RealNetworkRefused:
    recorder = ledger.ACTIVE
    refused = getattr(recorder, "refused", None)
    if isinstance(refused, list):
        refused.append(f"http:{what}")
    return RealNetworkRefused(
        f"the handler made the HTTP request {what}, and chaosdurable refuses network egress under check() "
        "(loopback included): allow the host with check(..., allow_hosts=['host' or 'host:port']) or answer it "
        "with a responses.RequestsMock passed as check(..., http=mock)")


# ----------------------------------------------------------------------------- responses bridge
class _CannedSocket:
    """A socket that swallows the request and reads back a canned response (for ``http.client``)."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw

    def sendall(self, data: Any) -> None:
        return None

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BytesIO:
        return io.BytesIO(self._raw)

    def settimeout(self, value: Any) -> None:
        return None

    def gettimeout(self) -> None:
        return None

    def setsockopt(self, *args: Any) -> None:
        return None

    def close(self) -> None:
        return None


def _body_bytes(body: Any) -> bytes | None:
    """A request body as bytes (a stream or iterator is not read: it is sent as no body)."""
    if isinstance(body, str):
        return body.encode()
    return bytes(body) if isinstance(body, (bytes, bytearray, memoryview)) else None


def _answer_from_mock(mock: Any, method: str, url: str, headers: list[tuple[str, Any]], body: Any) -> bytes:
    """The raw HTTP/1.1 response ``mock`` gives this request (its registry, matchers and ``calls``)."""
    if isinstance(mock, RemoteMock):  # in a subprocess child: the parent's mock answers over the pipe
        return mock.answer(method, url, headers, _body_bytes(body))
    import requests

    prepared = requests.Request(method, url, headers={str(k): (v.decode() if isinstance(v, bytes) else str(v))
                                                      for k, v in headers}, data=body).prepare()
    _local.bridging = True
    try:
        response = mock._on_request(requests.adapters.HTTPAdapter(), prepared)
    finally:
        _local.bridging = False
    content = response.content or b""
    lines = [f"HTTP/1.1 {response.status_code} {response.reason or 'OK'}"]
    lines += [f"{k}: {v}" for k, v in response.headers.items()
              if k.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection")]
    lines += [f"Content-Length: {len(content)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + content


def serve_http_request(method: str, url: str, headers: list[tuple[str, Any]], body: bytes | None) -> bytes:
    """Answer a subprocess child's request from this process' ``responses`` mock (raises when none
    is active or none matches: the child then refuses the request)."""
    policy = POLICY
    if policy is None or policy.mock is None or isinstance(policy.mock, RemoteMock):
        raise LookupError("no responses mock is active in the parent")
    return _answer_from_mock(policy.mock, method, url, headers, body)


def _response_from_raw(request: Any, raw: bytes) -> Any:
    """A ``requests.Response`` for ``request`` read from a raw HTTP/1.1 response (``RemoteMock``)."""
    import requests
    import urllib3

    parsed = http.client.HTTPResponse(_CannedSocket(raw), method=request.method)  # type: ignore[arg-type]
    parsed.begin()
    content = parsed.read()
    raw_response = urllib3.HTTPResponse(body=io.BytesIO(content), headers=urllib3.HTTPHeaderDict(parsed.getheaders()),
                                        status=parsed.status, reason=parsed.reason, preload_content=False,
                                        decode_content=False, request_method=request.method)
    return requests.adapters.HTTPAdapter().build_response(request, raw_response)


def _from_botocore(conn: Any) -> bool:
    """True for botocore's own connections: AWS calls, fenced by the ledger (moto world or allow_real_aws)."""
    return type(conn).__module__.startswith("botocore.")


# ----------------------------------------------------------------------------- hooks
_hook_lock = threading.Lock()
_installed = False


def install_http_hooks() -> None:
    """Wrap ``http.client.HTTPConnection`` and ``requests.Session.send`` once per process
    (pass-through when no recorder or policy is active)."""
    global _installed
    with _hook_lock:
        if _installed:
            return
        _install_http_client()
        _install_urllib3()
        _install_requests()
        _installed = True


def _install_http_client() -> None:
    conn = http.client.HTTPConnection
    o_putrequest, o_putheader, o_endheaders = conn.putrequest, conn.putheader, conn.endheaders
    o_getresponse, o_connect = conn.getresponse, conn.connect

    def active(conn: Any) -> bool:
        return (POLICY is not None and ledger.ACTIVE is not None and not ledger.ACTIVE.paused
                and not _from_botocore(conn))

    def putrequest(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if active(self):
            self._cd_request = (method, url, [])
        return o_putrequest(self, method, url, *args, **kwargs)

    def putheader(self: Any, header: Any, *values: Any) -> Any:
        pending = getattr(self, "_cd_request", None)
        if pending is not None and values:
            pending[2].append((header.decode() if isinstance(header, bytes) else header, values[0]))
        return o_putheader(self, header, *values)

    def endheaders(self: Any, message_body: Any = None, **kwargs: Any) -> Any:
        pending = getattr(self, "_cd_request", None)
        self._cd_request = None
        if pending is None or not active(self) or getattr(_local, "bridging", False):
            return o_endheaders(self, message_body, **kwargs)
        assert POLICY is not None
        method, url, headers = pending
        host, port = self.host, self.port
        parts = urlsplit(url)
        if parts.hostname:  # an absolute URL (through a proxy): the real destination
            host, port = parts.hostname, parts.port
        path = parts.path or "/"
        what = f"{method} {effect_name(method, host, port, path).split(' ', 1)[1]}"
        allowed = POLICY.allows(host, port)
        if not allowed and POLICY.mock is None:
            raise _refuse(what)
        decided = None if getattr(_local, "in_requests", False) else _record(method, host, port, path, headers,
                                                                             message_body)
        if decided is not None and decided[0] == "fail":
            raise ConnectionRefusedError(f"injected failure of {decided[1]!r} (a flaky dependency)")
        if decided is not None and decided[0] == "crash":
            self._cd_crash = decided
        if not allowed:
            scheme = "https" if isinstance(self, getattr(http.client, "HTTPSConnection", ())) else "http"
            default = {"http": 80, "https": 443}[scheme]
            netloc = host if port in (None, default) else f"{host}:{port}"  # responses matches no default port
            url_full = url if parts.hostname else f"{scheme}://{netloc}{path}" + (
                f"?{parts.query}" if parts.query else "")
            try:
                self.sock = _CannedSocket(_answer_from_mock(POLICY.mock, method, url_full, headers, message_body))
            except Exception as exc:  # no mock matched: refused like any other egress
                refused = _refuse(what)
                raise RealNetworkRefused(f"{refused} (no mock matched: {exc})") from None
        return o_endheaders(self, message_body, **kwargs)

    def getresponse(self: Any) -> Any:
        crash = getattr(self, "_cd_crash", None)
        self._cd_crash = None
        response = o_getresponse(self)
        recorder = ledger.ACTIVE
        if crash is not None and recorder is not None:
            raise recorder.crash(crash[2], crash[1])
        return response

    def connect(self: Any) -> Any:
        if active(self) and not getattr(_local, "bridging", False):
            assert POLICY is not None
            if not POLICY.allows(self.host, self.port):
                raise _refuse(f"connection to {self.host}:{self.port}")
        return o_connect(self)

    for name, fn, original in (("putrequest", putrequest, o_putrequest), ("putheader", putheader, o_putheader),
                               ("endheaders", endheaders, o_endheaders), ("getresponse", getresponse, o_getresponse),
                               ("connect", connect, o_connect)):
        setattr(fn, "__wrapped__", original)  # noqa: B010
        setattr(conn, name, fn)


def _install_urllib3() -> None:
    """urllib3 opens its own sockets (``_new_conn``), and an HTTPS pool connects (TCP, then the TLS
    handshake) before the request is written: refuse a host that is not allowed there, before any
    byte leaves. Plain HTTP with a mock never gets here: ``endheaders`` gave it a canned socket."""
    try:
        import urllib3.connection
    except ImportError:
        return
    conn = urllib3.connection.HTTPConnection
    original = conn._new_conn

    def _new_conn(self: Any) -> Any:
        if (POLICY is not None and ledger.ACTIVE is not None and not ledger.ACTIVE.paused
                and not _from_botocore(self) and not getattr(_local, "bridging", False)
                and not POLICY.allows(self.host, self.port)):
            raise _refuse(f"connection to {self.host}:{self.port}")
        return original(self)

    _new_conn.__wrapped__ = original  # type: ignore[attr-defined]
    conn._new_conn = _new_conn  # type: ignore[method-assign]


def _install_requests() -> None:
    try:
        import requests
    except ImportError:  # requests not installed: http.client covers urllib
        return
    original = requests.Session.send
    original_adapter_send = requests.adapters.HTTPAdapter.send

    def remote_adapter_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        """In a subprocess child, answer from the parent's mock what no allowed host serves (as ``responses``
        does in-process by patching this method): no connection is opened for it."""
        policy = POLICY
        if policy is not None and isinstance(policy.mock, RemoteMock) and ledger.ACTIVE is not None:
            parts = urlsplit(request.url)
            if not policy.allows(parts.hostname or "", parts.port):
                try:
                    raw = policy.mock.answer(request.method or "GET", request.url, list(request.headers.items()),
                                             _body_bytes(request.body))
                except Exception as exc:
                    raise requests.ConnectionError(f"Connection refused by the responses mock: {exc}",
                                                   request=request) from None
                return _response_from_raw(request, raw)
        return original_adapter_send(self, request, *args, **kwargs)

    remote_adapter_send.__wrapped__ = original_adapter_send  # type: ignore[attr-defined]
    requests.adapters.HTTPAdapter.send = remote_adapter_send  # type: ignore[method-assign]
    adapter_send = requests.adapters.HTTPAdapter.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        if POLICY is None or getattr(_local, "in_requests", False):
            return original(self, request, **kwargs)
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        mocked = POLICY.mock is not None or requests.adapters.HTTPAdapter.send is not adapter_send
        if ledger.ACTIVE is not None and not ledger.ACTIVE.paused and not mocked and not POLICY.allows(
                host, parts.port):
            path = effect_name(request.method or "GET", host, parts.port, parts.path or "/").split(" ", 1)[1]
            raise _refuse(f"{request.method} {path}")
        decided = _record(request.method or "GET", host, parts.port, parts.path or "/",
                          list(request.headers.items()), request.body)
        if decided is None:
            return original(self, request, **kwargs)
        if decided[0] == "fail":
            raise requests.ConnectionError(f"injected failure of {decided[1]!r} (a flaky dependency)")
        _local.in_requests = True
        try:
            response = original(self, request, **kwargs)
        finally:
            _local.in_requests = False
        recorder = ledger.ACTIVE
        if decided[0] == "crash" and recorder is not None:
            raise recorder.crash(decided[2], decided[1])
        return response

    send.__wrapped__ = original  # type: ignore[attr-defined]
    requests.Session.send = send  # type: ignore[method-assign]
