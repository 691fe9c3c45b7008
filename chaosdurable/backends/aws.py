"""The ``aws`` backend: the same properties and checkers, against a deployed durable function.

One ``run``: ``Invoke`` (Event) with the idempotent name ``chaos-<run id>-<label>``, the
in-function faults in the input under ``__chaos__`` (the deployed plugin applies them; the
function must say ``CHAOSDURABLE_FAULTS_FROM_INPUT=1``); a duplicate start (same name, same
input: the service must hand back the same execution); then poll ``GetDurableExecution``
every ``poll`` seconds, reading the history (paged, rate-limited) to answer callbacks as the
workload and the schedule say, until the execution ends or ``run_timeout`` passes (then it is
stopped). The history is read once more at the end, recorded (``record_dir``) and turned into a
``RunRecord``; the ``Nemesis`` says which faults fired: the in-function ones from the fire-once
store, the harness's own (callbacks) as it applied them.

Safety: the constructor passes the target through ``deployed.safety.gate`` (switch, allowlist,
account) and refuses an ``endpoint_url`` that is not an AWS endpoint unless its host is listed in
``allow_endpoints``. Executions a run started and did not see end are stopped when the run ends,
whatever ends it (Ctrl-C included), and by ``close()``. Records hold no credentials, and no
payloads unless ``keep_payloads`` (payloads become fingerprints, so runs stay comparable).

Fault kinds: ``crash_at_checkpoint`` and ``checkpoint_error`` (the plugin, in the function) and
``callback`` (the harness). The others need the engine's control of the service or of the
handler's process (see docs/aws.md): ``refuse_unsupported`` names them.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from chaosdurable.backends import aws_history, aws_world
from chaosdurable.backends.aws_client import DurableApi, make_client
from chaosdurable.backends.aws_harness import CallbackDriver, Inflight
from chaosdurable.backends.aws_record import scrub, write
from chaosdurable.backends.base import Guards, Limits, Workload, refuse_unsupported
from chaosdurable.deployed.fire_once import DynamoFireOnceStore, FileFireOnceStore
from chaosdurable.deployed.plugin import INPUT_KEY, fault_key
from chaosdurable.deployed.safety import Allowlist, AwsRefused, Target, gate
from chaosdurable.faults.nemesis import Nemesis
from chaosdurable.faults.schedule import CheckpointApiError, CrashAtCheckpoint, FaultSchedule
from chaosdurable.history.record import RunRecord
from chaosdurable.history.world import World

IN_FUNCTION_KINDS = frozenset({"crash_at_checkpoint", "checkpoint_error"})
HARNESS_KINDS = frozenset({"callback", "event_redelivery", "event_swap"})  # event faults: answers from EventStream
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"})
_AWS_HOST = re.compile(r"(^|\.)amazonaws\.com(\.cn)?$")


@dataclass
class Aws:
    """Drive a deployed durable function (see the module docstring).

    function_name: the function (an ARN names its account; a bare name asks STS). endpoint_url:
    the Lambda endpoint (default: AWS's). allow_endpoints: non-AWS hosts allowed as endpoints
    (the loopback tests: ``("127.0.0.1",)``). allowlist: an ``Allowlist`` or a file (else
    ``CHAOSDURABLE_AWS_ALLOWLIST``). workers: executions ``run_many`` runs at once. poll: seconds
    between status polls. run_timeout: real seconds one run may take before it is stopped.
    time_scale: real seconds per ``Answer.delay`` second. fire_once_table / fire_once_dir: where
    the plugin's markers are (to tell which in-function faults fired); fire_once_endpoint_url:
    the DynamoDB endpoint of that table. record_dir: where fetched histories are written.
    keep_payloads: keep payloads in records (needed to replay them locally). duplicate_starts:
    re-invoke each execution by name once and check the service hands back the same one.
    world: the deployment's external world (``aws_world.EndpointWorld``, or any object with
    ``reset()``, ``snapshot()`` and ``provision(setup)``): reset before each run, provisioned with
    the workload's ``setup``, snapshotted after it. An in-process moto ``World`` handed to ``run``
    is not the deployment's and is ignored.

    Options the pytest plugin has no flag for come from the environment when not given:
    ``CHAOSDURABLE_RECORD_DIR`` (record_dir), ``CHAOSDURABLE_FIRE_ONCE_TABLE`` /
    ``CHAOSDURABLE_FIRE_ONCE_ENDPOINT`` (fire_once_table / fire_once_endpoint_url),
    ``CHAOSDURABLE_AWS_POLL`` (poll), ``CHAOSDURABLE_AWS_TIME_SCALE`` (time_scale) and
    ``CHAOSDURABLE_AWS_WORLD_ENDPOINT`` (+ ``CHAOSDURABLE_AWS_WORLD_RESET=1``, loopback only): world.
    """

    function_name: str
    endpoint_url: str | None = None
    region: str | None = None
    allowlist: Allowlist | str | None = None
    allow_endpoints: tuple[str, ...] = ()
    workers: int = 1
    poll: float | None = None
    run_timeout: float = 600.0
    time_scale: float | None = None
    fire_once_table: str | None = None
    fire_once_dir: str | None = None
    fire_once_endpoint_url: str | None = None
    record_dir: str | None = None
    keep_payloads: bool = False
    duplicate_starts: bool = True
    page_size: int = 100
    world: Any = None
    sts_client: Any = field(default=None, repr=False, compare=False)
    client: Any = field(default=None, repr=False, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        env = os.environ
        if self.record_dir is None:  # the nightly workflow names it in the environment
            self.record_dir = env.get("CHAOSDURABLE_RECORD_DIR") or None
        self.fire_once_table = self.fire_once_table or env.get("CHAOSDURABLE_FIRE_ONCE_TABLE") or None
        self.fire_once_endpoint_url = self.fire_once_endpoint_url or env.get("CHAOSDURABLE_FIRE_ONCE_ENDPOINT") or None
        self.poll = float(self.poll if self.poll is not None else env.get("CHAOSDURABLE_AWS_POLL") or 0.5)
        self.time_scale = float(self.time_scale if self.time_scale is not None
                                else env.get("CHAOSDURABLE_AWS_TIME_SCALE") or 1.0)
        if self.world is None:
            self.world = aws_world.from_env(self.fire_once_table, self.region)
        self._check_endpoint()
        self.target: Target = gate(self.function_name, allowlist=self.allowlist, sts_client=self.sts_client)
        self.api = DurableApi(self.client or make_client(self.endpoint_url, self.region or self.target.region))
        self.inflight = Inflight()
        #: history pages read, per run label (measurements)
        self.pages: list[int] = []

    def _check_endpoint(self) -> None:
        if self.endpoint_url is None:
            return
        host = urlparse(self.endpoint_url).hostname or ""
        if not _AWS_HOST.search(host) and host not in self.allow_endpoints:
            raise AwsRefused(f"refusing endpoint {self.endpoint_url!r}: {host!r} is not an AWS endpoint and not in "
                             "allow_endpoints. Pass allow_endpoints=('" + host + "',) to allow it explicitly.")

    # ------------------------------------------------------------------ Backend
    @property
    def name(self) -> str:
        """``"aws"``."""
        return "aws"

    @property
    def fault_kinds(self) -> frozenset[str]:
        """What a deployment can suffer: the plugin's checkpoint faults and the harness's callbacks."""
        return IN_FUNCTION_KINDS | HARNESS_KINDS

    def spec(self) -> dict[str, Any]:
        """The JSON-able options (never credentials; an ``Allowlist`` object is not recorded)."""
        out: dict[str, Any] = {"name": "aws", "function_name": self.function_name}
        for key in ("endpoint_url", "region", "workers", "poll", "run_timeout", "time_scale", "fire_once_table",
                    "fire_once_dir", "fire_once_endpoint_url", "record_dir", "keep_payloads"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if isinstance(self.allowlist, str):
            out["allowlist"] = self.allowlist
        if self.allow_endpoints:
            out["allow_endpoints"] = list(self.allow_endpoints)
        return out

    def driver(self, workload: Workload, limits: Limits) -> Any:
        """The execution API of a deployment is the boto3 client itself (``DurableApi``)."""
        return self.api

    def run(self, workload: Workload, payload: str, schedule: FaultSchedule, limits: Limits, guards: Guards,
            world: World | None = None, label: str = "run") -> tuple[RunRecord, Nemesis]:
        """One execution on the deployment, to its end (or stopped after ``run_timeout``)."""
        refuse_unsupported(self, schedule)
        text = _with_schedule(payload, schedule)
        nemesis = Nemesis(schedule)
        world = self._prepare_world(workload, world)
        name = _execution_name(label)
        diagnostics: list[str] = []
        callbacks = CallbackDriver(self.api, nemesis, workload.callbacks, float(self.time_scale or 1.0))
        arn = self.api.start(self.function_name, name, text)
        self.inflight.add(arn, self.api)
        stuck: str | None = None
        try:
            if self.duplicate_starts:
                again = self.api.start(self.function_name, name, text)
                if again != arn:
                    self.inflight.add(again, self.api)
                    self.inflight.stop(again, "duplicate start by chaosdurable")
                    diagnostics.append("a duplicate start with the same name and input started a second execution "
                                       "instead of returning the first (name idempotency broken)")
            described, stuck = self._drive(arn, callbacks)
            if stuck is None:
                self.inflight.done(arn)
        finally:
            if self.inflight.stop(arn, f"chaosdurable run {label!r} ended"):
                stuck = stuck or "stopped by chaosdurable when the run ended before the execution did"
        if stuck:
            described = self.api.describe(arn)
        callbacks.finish()
        events, pages = aws_history.read_history(self.api, arn, self.page_size)
        self.pages.append(pages)
        self._mark_fired(nemesis, arn)
        snapshot = world.snapshot() if world is not None else None
        if self.record_dir:
            write(self.record_dir, name, events, {"arn": arn, "label": label, "function": self.function_name,
                                                  "status": described.get("Status"),
                                                  "schedule": json.loads(schedule.to_json())}, self.keep_payloads)
        return self._record(label, arn, described, events, callbacks.log, snapshot, stuck, diagnostics), nemesis

    def run_many(self, jobs: Iterable[tuple[Workload, str, FaultSchedule, str]], limits: Limits | None = None,
                 guards: Guards | None = None) -> list[tuple[RunRecord, Nemesis]]:
        """``run`` each (workload, payload, schedule, label), ``workers`` at a time, in order of the jobs."""
        limits, guards = limits or Limits(), guards or Guards()
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            futures = [pool.submit(self.run, w, p, s, limits, guards, None, label) for w, p, s, label in jobs]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                self.close()
                raise

    def close(self) -> int:
        """Stop every execution still running that this backend started; how many."""
        return self.inflight.stop_all("chaosdurable closed")

    # ------------------------------------------------------------------ internals
    def _drive(self, arn: str, callbacks: CallbackDriver) -> tuple[dict[str, Any], str | None]:
        deadline = time.monotonic() + self.run_timeout
        while True:
            described = self.api.describe(arn)
            if described.get("Status") in TERMINAL:
                return described, None
            now = time.monotonic()
            if now >= deadline:
                return described, f"the execution was still {described.get('Status')} after {self.run_timeout}s"
            events, _ = aws_history.read_history(self.api, arn, self.page_size)
            open_callbacks, closed = aws_history.callbacks(events)
            callbacks.see(open_callbacks, closed, now)
            callbacks.tick(now)
            self.sleep(float(self.poll or 0.5))

    def _prepare_world(self, workload: Workload, given: Any) -> Any:
        """The deployment's world, reset and provisioned with ``workload.setup`` (None: no world).

        ``self.world`` wins; a world handed in is used unless it is an in-process moto ``World``
        (which cannot see what a deployed function writes). A ``setup`` with no world to run it in
        is refused rather than run against whatever endpoint boto3 would pick.
        """
        world = self.world if self.world is not None else (None if isinstance(given, World) else given)
        if world is not None:
            world.reset()
        if workload.setup is not None:
            provision = getattr(world, "provision", None)
            if provision is None:
                raise ValueError("the aws backend runs setup= against the deployment's world, and it has none that "
                                 "can run it: pass Aws(world=EndpointWorld(...)) (or check(world=...) with a "
                                 "provision(setup) method), or provision the deployment yourself and drop setup=")
            provision(workload.setup)
        return world

    def _store(self) -> Any:
        if self.fire_once_table:
            import boto3

            return DynamoFireOnceStore(self.fire_once_table, boto3.client(
                "dynamodb", endpoint_url=self.fire_once_endpoint_url, region_name=self.region or self.target.region))
        if self.fire_once_dir:
            return FileFireOnceStore(self.fire_once_dir)
        return None

    def _mark_fired(self, nemesis: Nemesis, arn: str) -> None:
        store = None
        for index, fault in enumerate(nemesis.schedule.faults):
            if not isinstance(fault, CrashAtCheckpoint | CheckpointApiError):
                continue
            store = store or self._store()
            if store is not None and store.fired(fault_key(arn, index, fault)):
                nemesis._take(index, "inside the deployed function (its fire-once marker is set)")

    def _record(self, label: str, arn: str, described: dict[str, Any], events: list[dict[str, Any]],
                log: list[dict[str, Any]], world: dict[str, Any] | None, stuck: str | None,
                diagnostics: list[str]) -> RunRecord:
        keep = self.keep_payloads
        raw = described.get("Result")
        payload = raw if keep or raw is None else scrub({"Result": raw})["Result"]
        try:
            value = json.loads(payload) if payload is not None else None
        except ValueError:
            value = payload
        history = scrub(events, keep)
        for event in history:  # the local runner records invocations without details; readers expect the key
            if event.get("EventType") == "InvocationCompleted":
                event.setdefault("InvocationCompletedDetails", {})
        return RunRecord(label=label, status=str(described.get("Status")), result=value, result_payload=payload,
                         error=scrub(described.get("Error"), keep), history=history,
                         operations=aws_history.operations(history), invocations=aws_history.invocations(events),
                         callbacks=log, world=world, stuck=stuck, diagnostics=diagnostics,
                         handler=f"aws:{self.target.account}:{self.target.function}", arn=arn)


def _with_schedule(payload: str, schedule: FaultSchedule) -> str:
    """The input with the in-function faults under ``__chaos__`` (the input must then be an object)."""
    inside = [f for f in schedule.faults if f.kind in IN_FUNCTION_KINDS]
    if not inside:
        return payload
    data = json.loads(payload) if payload.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("the aws backend carries in-function faults in the input's __chaos__ key, so the input "
                         f"must be a JSON object; got {type(data).__name__}. Put the schedule in the function's "
                         "CHAOSDURABLE_SCHEDULE instead, or wrap the input in an object")
    # the whole schedule keeps each fault's index, so the plugin's fire-once keys match ours
    return json.dumps({**data, INPUT_KEY: json.loads(schedule.to_json())})


def _execution_name(label: str) -> str:
    """``chaos-<12 hex>-<label>``, at most 64 characters of ``[a-zA-Z0-9-_]``."""
    clean = re.sub(r"[^a-zA-Z0-9_-]", "-", label)[:40]
    return f"chaos-{uuid.uuid4().hex[:12]}-{clean}"[:64]
