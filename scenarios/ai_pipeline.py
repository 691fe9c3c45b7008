"""AI training pipeline: ingest a dataset, start a long training job, poll it with
``wait_for_condition`` (an hour between polls), wait for a human approval by callback that may come
days later (up to the one-year maximum timeout), then deploy the model; a rejected or expired model
is archived instead.

Side effects: S3 (``ml-artifacts``: the dataset manifest), DynamoDB (``models``), a FIFO SQS queue
(``approvals.fifo``: the approval request), HTTP to the training service (``ml.example.com``) under a
``responses`` mock. All waiting is virtual: a 30-day approval costs milliseconds.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests
import responses
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, WaitForCallbackConfig
from aws_durable_execution_sdk_python.exceptions import CallbackError
from aws_durable_execution_sdk_python.waits import WaitForConditionConfig, WaitForConditionDecision
from hypothesis import strategies as st

from chaosdurable.checks.base import plural
from chaosdurable.run import Answer
from chaosdurable.scenarios._world import client, ended_by_platform, http_requests, item, make_fifo_queue, make_table
from chaosdurable.scenarios._world import queue_url as _queue_url
from chaosdurable.scenarios.catalog import Scenario, Variant
from chaosdurable.strategies import faker_with_seed

ML = "https://ml.example.com"
QUEUE = "approvals.fifo"
TRAIN = "http:POST ml.example.com/training-jobs"
DEPLOY = "http:POST ml.example.com/endpoints"
APPROVAL = WaitForCallbackConfig(timeout=Duration.from_days(365))


def setup() -> None:
    """The artifacts bucket, the models table and the approvals queue."""
    client("s3").create_bucket(Bucket="ml-artifacts")
    make_table("models")
    make_fifo_queue(QUEUE)


def http_mock() -> responses.RequestsMock:
    """The training service: a job per request; a job's status reports ``poll`` epochs done; endpoints deploy."""
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)

    def start(request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        return 200, {}, json.dumps({"job": f"job-{body['model']}-{body['version']}"})

    def status(request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, json.dumps({"epochs_done": int(request.params.get("poll", "0"))})

    mock.add_callback(responses.POST, f"{ML}/training-jobs", callback=start)
    mock.add_callback(responses.GET, f"{ML}/training-jobs/status", callback=status)
    mock.add(responses.POST, f"{ML}/endpoints", json={"endpoint": "live"})
    return mock


def training_requests() -> st.SearchStrategy[dict[str, Any]]:
    """Training requests from faker: a model name, a version, a dataset, 1-4 epochs, an approver."""
    @st.composite
    def draw(data: st.DrawFn) -> dict[str, Any]:
        fake = faker_with_seed(data(st.integers(0, 2**20)))
        return {"model": fake.slug(), "version": fake.numerify("v#.#"), "dataset": f"s3://lake/{fake.file_path()}",
                "epochs": data(st.integers(1, 4)), "approver": fake.email()}

    return draw()


SAMPLE = {"model": "churn", "version": "v1.0", "dataset": "s3://lake/churn.parquet", "epochs": 2,
          "approver": "ml-lead@example.com"}


# ----------------------------------------------------------------------------- steps
def _ingest(job: dict[str, Any]) -> str:
    key = f"{job['model']}/{job['version']}/manifest.json"
    client("s3").put_object(Bucket="ml-artifacts", Key=key, Body=json.dumps({"source": job["dataset"]}).encode())
    return key


def _start_training(job: dict[str, Any], keyed: bool) -> str:
    headers = {"Idempotency-Key": f"train-{job['model']}-{job['version']}"} if keyed else {}
    answer = requests.post(f"{ML}/training-jobs", json={"model": job["model"], "version": job["version"],
                                                        "epochs": job["epochs"]}, headers=headers, timeout=30)
    return str(answer.json()["job"])


def _poll(job_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """One status read. A failed read keeps the last state, so the next poll (an hour later) tries again: an
    error raised from a ``wait_for_condition`` check is not retried, it fails the whole pipeline."""
    polls = state["polls"] + 1
    try:
        answer = requests.get(f"{ML}/training-jobs/status", params={"job": job_id, "poll": polls}, timeout=10)
        answer.raise_for_status()
    except requests.RequestException:
        return {"polls": polls, "epochs_done": state["epochs_done"]}
    return {"polls": polls, "epochs_done": int(answer.json()["epochs_done"])}


def _record(job: dict[str, Any], status: str) -> str:
    client("dynamodb").put_item(TableName="models", Item={"pk": {"S": job["model"]}, "version": {"S": job["version"]},
                                                          "status": {"S": status}})
    return status


def _deploy(job: dict[str, Any]) -> str:
    requests.post(f"{ML}/endpoints", json={"model": job["model"], "version": job["version"]},
                  headers={"Idempotency-Key": f"deploy-{job['model']}-{job['version']}"}, timeout=30)
    return _record(job, "LIVE")


def _request_approval(job: dict[str, Any], callback_id: str) -> None:
    client("sqs").send_message(QueueUrl=_queue_url(QUEUE), MessageBody=f"approve {job['model']} {job['version']} "
                               f"by {job['approver']} token={callback_id}", MessageGroupId=job["model"],
                               MessageDeduplicationId=f"approve-{job['model']}-{job['version']}")


def _pipeline(event: dict[str, Any], context: DurableContext, *, version: str, keyed: bool) -> dict[str, Any]:
    job = dict(event, version=version)
    context.step(lambda _: _ingest(job), name=f"ingest-{version}")
    job_id = context.step(lambda _: _start_training(job, keyed), name=f"start-training-{version}")
    epochs = int(job["epochs"])

    def strategy(state: dict[str, Any], attempts: int) -> WaitForConditionDecision:
        if state["epochs_done"] >= epochs:
            return WaitForConditionDecision.stop_polling()
        return WaitForConditionDecision.continue_waiting(Duration.from_hours(1))

    context.wait_for_condition(lambda state, _ctx: _poll(job_id, state), name=f"training-{version}",
                               config=WaitForConditionConfig(wait_strategy=strategy,
                                                             initial_state={"polls": 0, "epochs_done": 0}))
    context.step(lambda _: _record(job, "TRAINED"), name=f"record-trained-{version}")
    try:
        decision = context.wait_for_callback(lambda callback_id, _ctx: _request_approval(job, callback_id),
                                             name="approval", config=APPROVAL)
        approved = bool((decision if isinstance(decision, dict) else json.loads(decision or "{}")).get("approved"))
    except CallbackError:
        approved = False
    if not approved:
        context.step(lambda _: _record(job, "ARCHIVED"), name=f"archive-{version}")
        return {"model": job["model"], "version": version, "status": "ARCHIVED"}
    context.step(lambda _: _deploy(job), name=f"deploy-{version}")
    return {"model": job["model"], "version": version, "status": "LIVE"}


# ----------------------------------------------------------------------------- variants
@durable_execution
def pipeline_correct(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Correct: the version comes from the input; the training job is started with an idempotency key."""
    return _pipeline(event, context, version=str(event["version"]), keyed=True)


@durable_execution
def pipeline_version_from_uuid(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """BUG: the run's version is minted with uuid4() in handler code, outside any step."""
    return _pipeline(event, context, version=f"run-{uuid.uuid4().hex[:8]}", keyed=True)


@durable_execution
def pipeline_training_unkeyed(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """BUG: the training job is started without an idempotency key in an at-least-once step."""
    return _pipeline(event, context, version=str(event["version"]), keyed=False)


# ----------------------------------------------------------------------------- invariants
def one_training_job(event: dict[str, Any], run: Any) -> None:
    """At most one (paid, GPU-hours) training job is started per request; exactly one when the pipeline ran."""
    jobs = http_requests(run, TRAIN)
    assert jobs <= 1, f"model {event['model']} {event['version']}: {jobs} training jobs were started"
    if not ended_by_platform(run):
        assert jobs == 1, f"model {event['model']} {event['version']}: {jobs} training jobs were started"


def deployed_only_if_approved(event: dict[str, Any], run: Any) -> None:
    """A model is deployed once when approved and never otherwise; the models table says which."""
    row = item(run, "models", event["model"]) or {}
    deploys = http_requests(run, DEPLOY)
    assert deploys <= 1, f"model {event['model']} was deployed {deploys} times"
    if ended_by_platform(run):
        return
    want = 1 if row.get("status") == "LIVE" else 0
    assert deploys == want, (
        f"model {event['model']} is {row.get('status')} but was deployed {plural(deploys, 'time')}")
    if run.status == "SUCCEEDED":
        assert row.get("status") in ("LIVE", "ARCHIVED"), (
            f"the pipeline for {event['model']} ended but the model is {row.get('status')}")
        assert row.get("version") == event["version"], (
            f"model {event['model']} was recorded as version {row.get('version')}, not {event['version']}")


_M = "chaosdurable.scenarios.ai_pipeline"
SCENARIO = Scenario(
    name="ai-pipeline",
    description=__doc__.strip().splitlines()[0],
    inputs=training_requests,
    sample=SAMPLE,
    variants=(
        Variant("correct", pipeline_correct, f"{_M}:pipeline_correct"),
        Variant("version-from-uuid", pipeline_version_from_uuid, f"{_M}:pipeline_version_from_uuid",
                bug="The model version is minted with uuid4() in handler code outside any step and used in step "
                    "names, so the replay after the approval arrives takes different operations."),
        Variant("training-unkeyed", pipeline_training_unkeyed, f"{_M}:pipeline_training_unkeyed",
                bug="The training job is started with a POST without an idempotency key in an at-least-once step, "
                    "so a crash after the request launches a second GPU job."),
    ),
    invariants=(one_training_job, deployed_only_if_approved),
    setup=setup,
    callbacks={"approval": Answer(result={"approved": True}, delay=30 * 86_400)},
    http=http_mock,
    tags=("s3", "dynamodb", "sqs", "http", "wait_for_condition", "callback"),
)
