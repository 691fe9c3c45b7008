"""Fan-out batch: import a batch of payment records with a map, one child context per record
(validate, then store), tolerating invalid records up to a completion policy, then write the batch
report and publish that the batch is done.

Side effects: DynamoDB (``payments``: one row per valid record, ``batches``: the batch total), S3
(``reports``: the batch report), a FIFO SQS queue (``batch-events.fifo``). Inputs hold at least one
and fewer than half invalid records (a malformed e-mail address or a non-positive amount), which the completion
policy (``tolerated_failure_percentage=50``) tolerates.
"""

from __future__ import annotations

import json
from typing import Any

from aws_durable_execution_sdk_python import BatchResult, DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import CompletionConfig, MapConfig, StepConfig
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from hypothesis import strategies as st

from chaosdurable.scenarios._world import client, ended_by_platform, item, items, make_fifo_queue, make_table, messages
from chaosdurable.scenarios._world import queue_url as _queue_url
from chaosdurable.scenarios.catalog import Scenario, Variant
from chaosdurable.strategies import faker_with_seed

QUEUE = "batch-events.fifo"
POLICY: MapConfig[Any] = MapConfig(max_concurrency=2,
                                   completion_config=CompletionConfig(tolerated_failure_percentage=50))
NO_RETRY = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))


def setup() -> None:
    """Empty payments and batches tables, the reports bucket and the batch-events queue."""
    make_table("payments")
    make_table("batches")
    client("s3").create_bucket(Bucket="reports")
    make_fifo_queue(QUEUE)


def batches() -> st.SearchStrategy[dict[str, Any]]:
    """Batches from faker: 3-5 payment records, at least one and fewer than half of them invalid."""
    @st.composite
    def draw(data: st.DrawFn) -> dict[str, Any]:
        fake = faker_with_seed(data(st.integers(0, 2**20)))
        size = data(st.integers(3, 5))
        bad = set(data(st.lists(st.integers(0, size - 1), min_size=1, max_size=(size - 1) // 2, unique=True)))
        records = []
        for index in range(size):
            record = {"id": f"pay-{fake.numerify('#####')}-{index}", "email": fake.email(),
                      "amount": fake.pyint(1, 900)}
            if index in bad:
                record.update(data(st.sampled_from([{"email": fake.user_name()}, {"amount": 0}])))
            records.append(record)
        return {"batch_id": f"batch-{fake.date(pattern='%Y%m%d')}-{fake.numerify('###')}", "records": records}

    return draw()


SAMPLE = {"batch_id": "batch-20260101-001", "records": [
    {"id": "pay-1", "email": "ada@example.com", "amount": 120}, {"id": "pay-2", "email": "grace", "amount": 40},
    {"id": "pay-3", "email": "alan@example.com", "amount": 75}]}


def valid(record: dict[str, Any]) -> bool:
    """A record is valid when its e-mail address has an @ and its amount is positive."""
    return "@" in str(record["email"]) and int(record["amount"]) > 0


# ----------------------------------------------------------------------------- steps
def _validate(record: dict[str, Any]) -> dict[str, Any]:
    if not valid(record):
        raise ValueError(f"record {record['id']} is invalid")
    return record


def _store(batch_id: str, record: dict[str, Any]) -> int:
    client("dynamodb").put_item(TableName="payments", Item={"pk": {"S": record["id"]}, "batch": {"S": batch_id},
                                                            "amount": {"N": str(record["amount"])}})
    return int(record["amount"])


def _store_and_count(batch_id: str, record: dict[str, Any]) -> int:
    _store(batch_id, record)
    client("dynamodb").update_item(TableName="batches", Key={"pk": {"S": batch_id}}, UpdateExpression="ADD #t :a",
                                   ExpressionAttributeNames={"#t": "total"},
                                   ExpressionAttributeValues={":a": {"N": str(record["amount"])}})
    return int(record["amount"])


def _report(batch_id: str, stored: list[str], rejected: list[str], total: int) -> str:
    client("dynamodb").put_item(TableName="batches", Item={"pk": {"S": batch_id}, "total": {"N": str(total)}})
    body = json.dumps({"stored": sorted(stored), "rejected": sorted(rejected), "total": total}, sort_keys=True)
    client("s3").put_object(Bucket="reports", Key=f"{batch_id}.json", Body=body.encode())
    client("sqs").send_message(QueueUrl=_queue_url(QUEUE), MessageBody=f"done {batch_id}", MessageGroupId=batch_id,
                               MessageDeduplicationId=f"done-{batch_id}")
    return body


def _counted_report(batch_id: str, stored: list[str], rejected: list[str], total: int) -> str:
    """The report of the counter variant: the batch total was already ADDed item by item."""
    body = json.dumps({"stored": sorted(stored), "rejected": sorted(rejected), "total": total}, sort_keys=True)
    client("s3").put_object(Bucket="reports", Key=f"{batch_id}.json", Body=body.encode())
    client("sqs").send_message(QueueUrl=_queue_url(QUEUE), MessageBody=f"done {batch_id}", MessageGroupId=batch_id,
                               MessageDeduplicationId=f"done-{batch_id}")
    return body


# ----------------------------------------------------------------------------- variants
@durable_execution
def fanout_correct(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Correct: what was stored and rejected is read from the map's checkpointed BatchResult."""
    batch_id = event["batch_id"]

    def one(ctx: DurableContext, record: dict[str, Any], index: int, _all: Any) -> int:
        checked = ctx.step(lambda _: _validate(record), name=f"validate-{record['id']}", config=NO_RETRY)
        return int(ctx.step(lambda _: _store(batch_id, checked), name=f"store-{record['id']}"))

    result: BatchResult[int] = context.map(event["records"], one, name="import", config=POLICY)
    records = event["records"]
    stored = [records[i.index]["id"] for i in result.succeeded()]
    rejected = [records[i.index]["id"] for i in result.failed()]
    total = sum(int(i.result or 0) for i in result.succeeded())
    context.step(lambda _: _report(batch_id, stored, rejected, total), name="report")
    return {"batch": batch_id, "stored": len(stored), "rejected": len(rejected), "total": total}


@durable_execution
def fanout_rejections_in_memory(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """BUG: rejected record ids are collected in a Python list by the map function, outside any step."""
    batch_id = event["batch_id"]
    rejected: list[str] = []

    def one(ctx: DurableContext, record: dict[str, Any], index: int, _all: Any) -> int:
        try:
            checked = ctx.step(lambda _: _validate(record), name=f"validate-{record['id']}", config=NO_RETRY)
        except StepError:
            rejected.append(record["id"])  # lost when the map is replayed from its checkpoint
            raise
        return int(ctx.step(lambda _: _store(batch_id, checked), name=f"store-{record['id']}"))

    result: BatchResult[int] = context.map(event["records"], one, name="import", config=POLICY)
    records = event["records"]
    stored = [records[i.index]["id"] for i in result.succeeded()]
    total = sum(int(i.result or 0) for i in result.succeeded())
    context.step(lambda _: _report(batch_id, stored, list(rejected), total), name="report")
    return {"batch": batch_id, "stored": len(stored), "rejected": len(rejected), "total": total}


@durable_execution
def fanout_total_counter(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """BUG: every item adds its amount to the batch total with ADD in its at-least-once store step."""
    batch_id = event["batch_id"]

    def one(ctx: DurableContext, record: dict[str, Any], index: int, _all: Any) -> int:
        checked = ctx.step(lambda _: _validate(record), name=f"validate-{record['id']}", config=NO_RETRY)
        return int(ctx.step(lambda _: _store_and_count(batch_id, checked), name=f"store-{record['id']}"))

    result: BatchResult[int] = context.map(event["records"], one, name="import", config=POLICY)
    records = event["records"]
    stored = [records[i.index]["id"] for i in result.succeeded()]
    rejected = [records[i.index]["id"] for i in result.failed()]
    total = sum(int(i.result or 0) for i in result.succeeded())
    context.step(lambda _: _counted_report(batch_id, stored, rejected, total), name="report")
    return {"batch": batch_id, "stored": len(stored), "rejected": len(rejected), "total": total}


# ----------------------------------------------------------------------------- invariants
def valid_records_stored_once(event: dict[str, Any], run: Any) -> None:
    """Only valid records are stored and the batch total never exceeds what was stored; when the workflow ran
    its course, exactly the valid records are stored and the total is the sum of their amounts."""
    want = {r["id"] for r in event["records"] if valid(r)}
    got = [row["pk"] for row in items(run, "payments")]
    assert set(got) <= want, f"batch {event['batch_id']} stored invalid records {sorted(set(got) - want)}"
    row = item(run, "batches", event["batch_id"])
    stored_total = sum(int(row["amount"]) for row in items(run, "payments"))
    if row is not None:
        assert int(row["total"]) <= stored_total, (
            f"batch {event['batch_id']} total is {row['total']}, but the payments stored add up to {stored_total}")
    if ended_by_platform(run):
        return
    assert sorted(got) == sorted(want), f"batch {event['batch_id']} stored {sorted(got)}, expected {sorted(want)}"
    if row is not None:
        total = sum(int(r["amount"]) for r in event["records"] if valid(r))
        assert int(row["total"]) == total, (
            f"batch {event['batch_id']} total is {row['total']}, but its valid records add up to {total}")


def report_accounts_for_every_record(event: dict[str, Any], run: Any) -> None:
    """The batch report lists every valid record as stored and every invalid one as rejected."""
    lines = (run.world or {}).get("s3:reports", [])
    if not lines:
        return
    report = json.loads(lines[0].split(" = ", 1)[1])
    want_rejected = sorted(r["id"] for r in event["records"] if not valid(r))
    want_stored = sorted(r["id"] for r in event["records"] if valid(r))
    assert report["rejected"] == want_rejected and report["stored"] == want_stored, (
        f"batch {event['batch_id']} report says stored {report['stored']} rejected {report['rejected']}, "
        f"but the batch has stored {want_stored} rejected {want_rejected}")
    announced = len([m for m in messages(run, QUEUE) if m == f"done {event['batch_id']}"])
    assert announced == 1 or (announced == 0 and ended_by_platform(run)), (
        f"batch {event['batch_id']} was announced done {announced} times")


_M = "chaosdurable.scenarios.fanout"
SCENARIO = Scenario(
    name="fanout-batch",
    description=__doc__.strip().splitlines()[0],
    inputs=batches,
    sample=SAMPLE,
    variants=(
        Variant("correct", fanout_correct, f"{_M}:fanout_correct"),
        Variant("rejections-in-memory", fanout_rejections_in_memory, f"{_M}:fanout_rejections_in_memory",
                bug="Rejected record ids are collected in a Python list by the map function outside any step, so "
                    "after a replay (the map comes back from its checkpoint) the report lists no rejections."),
        Variant("total-counter", fanout_total_counter, f"{_M}:fanout_total_counter",
                bug="Each item ADDs its amount to the batch total in its at-least-once store step, so a crash "
                    "after the update counts that payment twice."),
    ),
    invariants=(valid_records_stored_once, report_accounts_for_every_record),
    setup=setup,
    tags=("dynamodb", "s3", "sqs", "map", "child-context", "completion-policy"),
)
