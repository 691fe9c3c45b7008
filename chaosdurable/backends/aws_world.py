"""The external world of a deployment, as the ``aws`` backend sees it: read (and, on loopback,
emptied) through boto3 at an endpoint, never through this process's moto.

Contract of ``EndpointWorld``:

- ``snapshot()`` reads every DynamoDB table (except the fire-once table, which is the
  harness's) and every S3 object through read-only API calls, in the shape of
  ``chaosdurable.history.world.World.snapshot`` (``{"dynamodb:<table>": [item JSON, ...]}``,
  each list sorted), so the same checkers compare it.
- ``reset()`` empties the world only when ``reset_route`` is on, which is allowed for a
  loopback endpoint only (moto server's own ``/moto-api/reset``); then it recreates the
  fire-once table. On any other endpoint ``reset()`` changes nothing: chaosdurable never
  deletes data in an account.
- ``provision(setup)`` runs a workload's ``setup=`` with every boto3 client it makes pointed at
  ``endpoint_url`` (``AWS_ENDPOINT_URL``), under a lock (the environment is process-wide).

An in-process moto ``World`` cannot see a deployment (the function writes to its own
services), so the ``aws`` backend uses this world, not the one ``check``/``given`` enter.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_ENV_LOCK = threading.Lock()


@dataclass
class EndpointWorld:
    """A deployment's DynamoDB and S3, reached at ``endpoint_url`` (see the module docstring).

    region: the region of the clients. reset_route: empty the world before each run through moto
    server's reset route (loopback endpoints only). fire_once_table: the plugin's marker table
    (left out of snapshots; recreated after a reset).
    """

    endpoint_url: str
    region: str = "us-east-1"
    reset_route: bool = False
    fire_once_table: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        host = urlparse(self.endpoint_url).hostname or ""
        if self.reset_route and host not in _LOOPBACK:
            raise ValueError(f"EndpointWorld(reset_route=True) empties every service at {self.endpoint_url!r}; "
                             "it is allowed on a loopback endpoint (moto server) only")

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` at the endpoint (made once)."""
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region)
        return self._clients[service]

    def reset(self) -> None:
        """Empty the world (loopback with ``reset_route`` only) and recreate the fire-once table."""
        if not self.reset_route:
            return
        import urllib.request

        request = urllib.request.Request(self.endpoint_url.rstrip("/") + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
        if self.fire_once_table:
            self.client("dynamodb").create_table(
                TableName=self.fire_once_table, KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST")

    def provision(self, setup: Callable[[], None]) -> None:
        """Run ``setup`` with its boto3 clients pointed at the endpoint."""
        keys = ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION")
        with _ENV_LOCK:
            saved = {k: os.environ.get(k) for k in keys}
            os.environ.update({"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_DEFAULT_REGION": self.region})
            try:
                setup()
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value

    def snapshot(self) -> dict[str, list[str]]:
        """DynamoDB items and S3 objects, read through the API (the fire-once table left out)."""
        out: dict[str, list[str]] = {}
        ddb = self.client("dynamodb")
        for table in ddb.list_tables().get("TableNames", []):
            if table == self.fire_once_table:
                continue
            items: list[str] = []
            for page in ddb.get_paginator("scan").paginate(TableName=table):
                items += [json.dumps(i, sort_keys=True) for i in page.get("Items", [])]
            out[f"dynamodb:{table}"] = sorted(items)
        s3 = self.client("s3")
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            objects = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                for obj in page.get("Contents", []):
                    body = s3.get_object(Bucket=name, Key=obj["Key"])["Body"].read()
                    objects.append(f"{obj['Key']} = {body.decode(errors='replace')[:200]}")
            out[f"s3:{name}"] = sorted(objects)
        return out


def from_env(fire_once_table: str | None, region: str | None) -> EndpointWorld | None:
    """``CHAOSDURABLE_AWS_WORLD_ENDPOINT`` (and ``CHAOSDURABLE_AWS_WORLD_RESET=1``) as a world, else None."""
    url = os.environ.get("CHAOSDURABLE_AWS_WORLD_ENDPOINT")
    if not url:
        return None
    return EndpointWorld(url, region=region or "us-east-1",
                         reset_route=os.environ.get("CHAOSDURABLE_AWS_WORLD_RESET") == "1",
                         fire_once_table=fire_once_table)
