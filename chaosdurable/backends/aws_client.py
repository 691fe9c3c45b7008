"""The thin boto3 client the ``aws`` backend drives a deployed durable function with.

Contract: every call is bounded -- botocore's own connect/read timeouts, and a tenacity retry
that waits exponentially (capped) on throttling, 5xx and connection errors for at most
``attempts`` tries, then re-raises. ``GetDurableExecutionHistory`` also goes through a
``RateLimiter`` shared by every worker (default 15 requests per second, the service's quota).
Nothing here logs a request or a response.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

T = TypeVar("T")

#: error codes worth another try (the service's own transient classes)
TRANSIENT_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "ServiceException",
                             "InternalFailure", "ServiceUnavailableException", "RequestLimitExceeded"})
#: the documented quota of GetDurableExecutionHistory, per account and Region
HISTORY_RPS = 15.0


class RateLimiter:
    """At most ``rate`` acquisitions per second across threads (a spacing limiter: no bursts)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()
        self.acquired = 0

    def acquire(self) -> None:
        """Wait (at most one interval per waiter ahead) until the next slot, and take it."""
        with self._lock:
            now = self._clock()
            at = max(now, self._next)
            self._next = at + self.interval
            self.acquired += 1
        if at > now:
            self._sleep(at - now)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | ReadTimeoutError):
        return True
    if isinstance(exc, ClientError):
        meta = exc.response.get("ResponseMetadata", {})
        return (exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES
                or int(meta.get("HTTPStatusCode", 0)) >= 500)
    return False


class DurableApi:
    """The durable-execution calls the harness makes, each retried on transient errors."""

    def __init__(self, client: Any, *, attempts: int = 5, max_wait: float = 8.0,
                 history_rps: float = HISTORY_RPS, limiter: RateLimiter | None = None) -> None:
        self.client = client
        self.attempts = attempts
        self.max_wait = max_wait
        self.limiter = limiter or RateLimiter(history_rps)
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def _call(self, name: str, fn: Callable[..., T], **kwargs: Any) -> T:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
        retrying = Retrying(stop=stop_after_attempt(self.attempts), reraise=True,
                            wait=wait_exponential(multiplier=0.1, max=self.max_wait),
                            retry=retry_if_exception(_transient))
        return retrying(fn, **kwargs)

    def start(self, function: str, name: str, payload: str) -> str:
        """``Invoke`` (Event) with ``DurableExecutionName``; the execution's ARN."""
        out = self._call("Invoke", self.client.invoke, FunctionName=function, InvocationType="Event",
                         DurableExecutionName=name, Payload=payload.encode())
        return str(out["DurableExecutionArn"])

    def describe(self, arn: str) -> dict[str, Any]:
        """``GetDurableExecution`` with its data (status, result, error)."""
        out: dict[str, Any] = self._call("GetDurableExecution", self.client.get_durable_execution,
                                         DurableExecutionArn=arn, IncludeExecutionData=True)
        return out

    def history_page(self, arn: str, marker: str | None, page_size: int) -> dict[str, Any]:
        """One ``GetDurableExecutionHistory`` page (rate-limited)."""
        self.limiter.acquire()
        kwargs: dict[str, Any] = {"DurableExecutionArn": arn, "IncludeExecutionData": True, "MaxItems": page_size}
        if marker:
            kwargs["Marker"] = marker
        out: dict[str, Any] = self._call("GetDurableExecutionHistory", self.client.get_durable_execution_history,
                                         **kwargs)
        return out

    def callback_success(self, callback_id: str, result: bytes) -> None:
        """``SendDurableExecutionCallbackSuccess``."""
        self._call("SendDurableExecutionCallbackSuccess", self.client.send_durable_execution_callback_success,
                   CallbackId=callback_id, Result=result)

    def callback_failure(self, callback_id: str, error: dict[str, Any]) -> None:
        """``SendDurableExecutionCallbackFailure``."""
        self._call("SendDurableExecutionCallbackFailure", self.client.send_durable_execution_callback_failure,
                   CallbackId=callback_id, Error=error)

    def callback_heartbeat(self, callback_id: str) -> None:
        """``SendDurableExecutionCallbackHeartbeat``."""
        self._call("SendDurableExecutionCallbackHeartbeat", self.client.send_durable_execution_callback_heartbeat,
                   CallbackId=callback_id)

    def stop(self, arn: str, reason: str) -> None:
        """``StopDurableExecution`` with a chaosdurable error naming why."""
        self._call("StopDurableExecution", self.client.stop_durable_execution, DurableExecutionArn=arn,
                   Error={"ErrorType": "ChaosDurableStop", "ErrorMessage": reason})


def make_client(endpoint_url: str | None, region: str | None, timeout: float = 10.0) -> Any:
    """A boto3 ``lambda`` client with bounded timeouts and botocore's own retries off (tenacity retries)."""
    import boto3

    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client("lambda", endpoint_url=endpoint_url, region_name=region, config=config)
