"""Fire-once markers that survive the crash they cause.

Contract: ``claim(key)`` returns True exactly once per key, for every caller in every process
that shares the store, and False ever after; the marker is written *before* the caller acts on
it (crashes the sandbox, fails a checkpoint), so a crash cannot erase it and a re-invocation
never fires the same fault again. ``count(key)`` atomically adds one to a counter and returns
the new value (1 the first time); the plugin numbers invocations with it.

Two stores: ``DynamoFireOnceStore`` (a deployment: conditional writes to a table whose
partition key is the string attribute ``key``) and ``FileFireOnceStore`` (tests: one file per
marker, created with ``O_CREAT | O_EXCL`` in a directory every sandbox process sees).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

#: environment variables that select a store (the table wins when both are set)
TABLE_ENV = "CHAOSDURABLE_FIRE_ONCE_TABLE"
DIR_ENV = "CHAOSDURABLE_FIRE_ONCE_DIR"
#: the most invocations ``FileFireOnceStore.count`` numbers (a bound, not a real limit)
_MAX_COUNT = 100_000


class FireOnceStore(Protocol):
    """Where fired faults are marked; shared by every invocation of an execution."""

    def claim(self, key: str) -> bool:
        """True for the first caller of ``key`` (the marker is then durable), False for every later one."""
        ...

    def count(self, key: str) -> int:
        """Atomically increment counter ``key`` and return its new value (1 the first time)."""
        ...

    def fired(self, key: str) -> bool:
        """True when ``key`` was claimed (read-only: the harness asks which faults fired)."""
        ...


class StoreNotConfiguredError(RuntimeError):
    """A schedule is present but there is nowhere to keep fire-once markers."""


def _safe_name(key: str) -> str:
    """A file name for ``key``: readable prefix, hash suffix (ARNs hold ``/`` and ``:``)."""
    readable = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[-80:]
    return f"{readable}.{hashlib.blake2b(key.encode(), digest_size=8).hexdigest()}"


class FileFireOnceStore:
    """Markers as files in ``directory`` (created if missing); atomic on a local file system."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def claim(self, key: str) -> bool:
        """Create the marker file exclusively; an existing file means the fault already fired."""
        path = self.directory / ("fired." + _safe_name(key))
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        try:
            os.write(fd, key.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def fired(self, key: str) -> bool:
        """True when the marker file exists."""
        return (self.directory / ("fired." + _safe_name(key))).exists()

    def count(self, key: str) -> int:
        """The first ``n`` whose marker ``key#n`` this call creates (bounded by ``_MAX_COUNT``)."""
        for n in range(1, _MAX_COUNT + 1):
            if self.claim(f"{key}#{n}"):
                return n
        raise RuntimeError(f"counter {key!r} passed {_MAX_COUNT} in {self.directory}")


class DynamoFireOnceStore:
    """Markers as items of a DynamoDB table (partition key ``key``, a string)."""

    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.client = client

    def claim(self, key: str) -> bool:
        """A conditional ``PutItem``: only the first writer of ``key`` succeeds."""
        try:
            self.client.put_item(TableName=self.table, Item={"key": {"S": key}},
                                 ConditionExpression="attribute_not_exists(#k)",
                                 ExpressionAttributeNames={"#k": "key"})
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def fired(self, key: str) -> bool:
        """A strongly consistent ``GetItem`` of the marker."""
        out = self.client.get_item(TableName=self.table, Key={"key": {"S": key}}, ConsistentRead=True)
        return "Item" in out

    def count(self, key: str) -> int:
        """An atomic ``UpdateItem ... ADD``."""
        out = self.client.update_item(TableName=self.table, Key={"key": {"S": "count:" + key}},
                                      UpdateExpression="ADD #n :one", ExpressionAttributeNames={"#n": "n"},
                                      ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="UPDATED_NEW")
        return int(out["Attributes"]["n"]["N"])


def store_from_env(environ: dict[str, str] | None = None) -> FireOnceStore:
    """The store the environment names: ``CHAOSDURABLE_FIRE_ONCE_TABLE`` or ``CHAOSDURABLE_FIRE_ONCE_DIR``."""
    env = os.environ if environ is None else environ
    if env.get(TABLE_ENV):
        return DynamoFireOnceStore(env[TABLE_ENV])
    if env.get(DIR_ENV):
        return FileFireOnceStore(env[DIR_ENV])
    raise StoreNotConfiguredError(
        f"a fault schedule is set but no fire-once store is: set {TABLE_ENV} to a DynamoDB table "
        f"(partition key 'key', type S) in a deployment, or {DIR_ENV} to a directory in tests; without "
        "one a fault could not fire exactly once across the re-invocations it causes")
