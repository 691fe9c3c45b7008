"""The external world under moto: reset it, provision it, snapshot it, and diff two snapshots.

A snapshot holds, as sorted plain data: every DynamoDB item of every table, every S3
object (key -> content digest), every message sitting in every SQS queue, every message
published to every SNS topic, every SMS sent through SNS, and every email SES sent. Reading the snapshot goes through
moto's backends or read-only API calls and is never recorded as an effect.

Subprocess children reach the same world through ``serve_aws_request``: a child's botocore sends
every signed request over its pipe instead of the network, and the parent answers it from the
moto backends of the active ``World`` (moto's own request router, the one ``mock_aws`` uses in
process). No socket is opened, so nothing a child sends can leave the machine, and the snapshot,
the diff and ``reset`` see the children's writes exactly as they see in-process ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from chaosdurable.history import ledger

REGION = "us-east-1"


def _item_text(item: Any) -> str:
    """A DynamoDB item as sorted JSON, its sets (``SS``, ``NS``, ``BS``) sorted too: a set has no order, so
    two runs that added the same members in another order hold the same item."""
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (sorted(v, key=str) if k in ("SS", "NS", "BS") and isinstance(v, list) else plain(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return json.dumps(plain(item), sort_keys=True, default=str)


def _describe_body(body: bytes) -> str:
    """An S3 object's content as the snapshot shows it: the text, or a digest when it is large."""
    return body.decode(errors="replace") if len(body) <= 256 else "sha256:" + hashlib.sha256(body).hexdigest()


class World:
    """A moto-mocked AWS account for one check. Use as a context manager."""

    def __init__(self, setup: Callable[[], None] | None = None, region: str = REGION) -> None:
        self.setup = setup
        self.region = region
        self._mock: Any = None
        self._env: dict[str, str | None] = {}
        self._removed: dict[str, str] = {}
        self._clients: dict[str, Any] = {}
        #: read DynamoDB and S3 through the API instead of moto's backends (set when those moved)
        self.through_api = False

    def __enter__(self) -> World:
        from moto import mock_aws

        for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                           ("AWS_DEFAULT_REGION", self.region)):
            self._env[key] = os.environ.get(key)
            os.environ.setdefault(key, value)
        # an endpoint override would send requests past moto (its router matches AWS host names)
        self._removed = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("AWS_ENDPOINT_URL")}
        self._mock = mock_aws()
        self._mock.start()
        ledger.MOTO_ACTIVE += 1
        _serialize_requests()
        import boto3

        self._clients = {name: boto3.client(name, region_name=self.region) for name in ("dynamodb", "s3")}
        return self

    def __exit__(self, *exc: object) -> None:
        if self._mock is not None:
            self._mock.stop()
            ledger.MOTO_ACTIVE -= 1
            self._mock = None
        for key, value in self._env.items():
            if value is None:
                os.environ.pop(key, None)
        os.environ.update(self._removed)
        self._removed = {}

    def reset(self) -> None:
        """Empty every mocked service (moto's own reset: ~1 ms), then provision it again with ``setup``."""
        self._mock.reset()
        if self.setup is not None:
            recorder = ledger.ACTIVE
            if recorder is not None:
                recorder.paused += 1
            try:
                self.setup()
            finally:
                if recorder is not None:
                    recorder.paused -= 1

    def _tables_and_buckets_from_api(self) -> dict[str, list[str]]:
        """DynamoDB items and S3 objects read with read-only API calls (the reference reading)."""
        out: dict[str, list[str]] = {}
        ddb = self._clients["dynamodb"]
        for table in ddb.list_tables().get("TableNames", []):
            items: list[str] = []
            for page in ddb.get_paginator("scan").paginate(TableName=table):
                items += [_item_text(i) for i in page.get("Items", [])]
            out[f"dynamodb:{table}"] = sorted(items)
        s3 = self._clients["s3"]
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            objects = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                for obj in page.get("Contents", []):
                    body = s3.get_object(Bucket=name, Key=obj["Key"])["Body"].read()
                    objects.append(f"{obj['Key']} = {_describe_body(body)}")
            out[f"s3:{name}"] = sorted(objects)
        return out

    def _tables_and_buckets_from_backends(self, account: str) -> dict[str, list[str]]:
        """The same reading straight from moto's backends: no HTTP emulation, ~10x faster.

        Relies on moto 5's layout (``Table.all_items``, ``Item.to_json``, a bucket's versioned
        ``keys``); any change there raises, and the snapshot falls back to the API reading.
        """
        from moto.dynamodb.models import dynamodb_backends
        from moto.s3.models import s3_backends

        out: dict[str, list[str]] = {}
        for region, backend in self._regions(dynamodb_backends[account]):
            for name, table in backend.tables.items():
                out[f"dynamodb:{self._named(name, region)}"] = sorted(_item_text(item.to_json()["Attributes"])
                                                                       for item in table.all_items())
        for name, bucket in s3_backends[account]["global"].buckets.items():
            objects = []
            for key, fake in bucket.keys.items():
                body = getattr(fake, "value", None)
                if isinstance(body, bytes):  # a delete marker has no body
                    objects.append(f"{key} = {_describe_body(body)}")
            out[f"s3:{name}"] = sorted(objects)
        return out

    def _regions(self, backends: Any) -> list[tuple[str, Any]]:
        """The regions a moto service holds state in (the handler may use any, not only the world's own),
        the world's region first. Only regions already created are listed: none is created here."""
        present = [r for r in list(backends.keys()) if r != "global"]
        ordered = [self.region] if self.region in present else []
        return [(r, backends[r]) for r in ordered + sorted(r for r in present if r != self.region)]

    def _named(self, name: str, region: str) -> str:
        """``name`` in the world's region, ``name@region`` in another (same-named tables are distinct)."""
        return name if region == self.region else f"{name}@{region}"

    def snapshot(self) -> dict[str, list[str]]:
        """The state of the world as {"dynamodb:<table>": [item JSON...], ...}, each list sorted."""
        recorder = ledger.ACTIVE
        if recorder is not None:
            recorder.paused += 1
        try:
            return self._snapshot()
        finally:
            if recorder is not None:
                recorder.paused -= 1

    def _snapshot(self) -> dict[str, list[str]]:
        from moto.core import DEFAULT_ACCOUNT_ID as account

        out: dict[str, list[str]] = {}
        if not self.through_api:
            try:
                out.update(self._tables_and_buckets_from_backends(account))
            except Exception:  # moto's internals moved: read through the API instead
                out = {}
                self.through_api = True
        if self.through_api:
            out.update(self._tables_and_buckets_from_api())
        from moto.ses.models import ses_backends
        from moto.sns.models import sns_backends
        from moto.sqs.models import sqs_backends

        for region, sqs in self._regions(sqs_backends[account]):
            for qname, queue in sqs.queues.items():
                out[f"sqs:{self._named(qname, region)}"] = sorted(m.body for m in queue._messages)
        for region, other in self._regions(sns_backends[account]):
            if region == self.region:
                continue
            for topic in other.topics.values():
                out[f"sns:{self._named(topic.name, region)}"] = sorted(str(n[1]) for n in topic.sent_notifications)
        sns = sns_backends[account][self.region]
        for topic in sns.topics.values():
            out[f"sns:{topic.name}"] = sorted(str(n[1]) for n in topic.sent_notifications)
        sms = [f"{phone} <- {text}" for phone, text in getattr(sns, "sms_messages", {}).values()]
        if sms:
            out["sns:sms"] = sorted(sms)
        ses = ses_backends[account]
        ses_region = self.region if self.region in ses else next(iter(ses.keys()), None)
        if ses_region is not None:
            mails = [json.dumps({"from": m.source, "to": m.destinations, "subject": getattr(m, "subject", None),
                                 "body": getattr(m, "body", None)}, sort_keys=True, default=str)
                     for m in ses[ses_region].sent_messages]
            if mails:
                out["ses:sent"] = sorted(mails)
        return {k: v for k, v in out.items() if v or not k.startswith(("sqs:", "sns:"))}


_REQUEST_LOCK = threading.RLock()


def _serialize_requests() -> None:
    """Answer moto's requests one at a time (idempotent): a real AWS request is atomic (a conditional
    write checks and writes one item as one step), but moto checks then writes without a lock, so two
    concurrent duplicate invocations could both pass the same condition, a false alarm real DynamoDB
    never gives. Requests in one order is one legal linearization of what AWS does."""
    from moto.core.models import botocore_stubber

    if getattr(botocore_stubber, "_chaosdurable_serialized", False):
        return
    process = botocore_stubber.process_request

    def process_request(request: Any) -> Any:
        with _REQUEST_LOCK:
            return process(request)

    botocore_stubber.process_request = process_request  # type: ignore[method-assign]
    botocore_stubber._chaosdurable_serialized = True  # type: ignore[attr-defined]


def serve_aws_request(method: str, url: str, headers: dict[str, str],
                      body: bytes | None) -> tuple[int, dict[str, str], bytes]:
    """Answer one raw AWS HTTP request (from a subprocess child) out of the active moto world.

    Contract: a moto world (``World``) is entered in this process; otherwise the answer is a 403
    saying so (nothing is ever sent anywhere). A URL no moto backend serves gets moto's own 404.
    """
    if not ledger.MOTO_ACTIVE:
        return 403, {}, b'{"__type": "ChaosDurableNoWorld", "message": "no moto world is active in the parent"}'
    from botocore.awsrequest import AWSPreparedRequest
    from botocore.compat import HTTPHeaders
    from moto.core.models import botocore_stubber

    prepared_headers = HTTPHeaders()
    for key, value in headers.items():
        prepared_headers[key] = value
    request = AWSPreparedRequest(method=method, url=url, headers=prepared_headers, body=body, stream_output=False)
    try:
        answer = botocore_stubber.process_request(request)
    except Exception as exc:  # a moto bug or an unsupported service: the child sees a 500, not a hang
        return 500, {}, json.dumps({"__type": "InternalFailure", "message": f"moto: {exc!r}"}).encode()
    if answer is None:
        return 404, {}, f"no moto backend serves {url}".encode()
    status, out_headers, out_body = answer
    data = out_body.encode() if isinstance(out_body, str) else bytes(out_body or b"")
    return int(status), {str(k): str(v) for k, v in (out_headers or {}).items()}, data


def diff_worlds(reference: dict[str, list[str]], chaotic: dict[str, list[str]]) -> list[str]:
    """Item-by-item differences, as readable lines ("+" only after the chaotic run, "-" missing)."""
    lines: list[str] = []
    for place in sorted(set(reference) | set(chaotic)):
        ref = Counter(reference.get(place, []))
        got = Counter(chaotic.get(place, []))
        for item, n in sorted((got - ref).items()):
            lines.append(f"{place}: + {item}" + (f"  (x{n})" if n > 1 else ""))
        for item, n in sorted((ref - got).items()):
            lines.append(f"{place}: - {item}" + (f"  (x{n})" if n > 1 else ""))
    return lines
