"""Fire-once stores: the first claim wins, in every process and across store instances."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chaosdurable.deployed.fire_once import (
    DynamoFireOnceStore,
    FileFireOnceStore,
    StoreNotConfiguredError,
    store_from_env,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:pay:$LATEST/durable-execution/o-1/abc"


def test_a_file_marker_is_claimed_once_across_instances_and_processes(tmp_path: Path) -> None:
    assert FileFireOnceStore(tmp_path).claim(ARN + "|fault0")
    assert not FileFireOnceStore(tmp_path).claim(ARN + "|fault0")
    assert FileFireOnceStore(tmp_path).claim(ARN + "|fault1")
    code = ("import sys; from chaosdurable.deployed.fire_once import FileFireOnceStore as S; "
            "sys.exit(0 if S(sys.argv[1]).claim(sys.argv[2]) else 3)")
    other = subprocess.run([sys.executable, "-c", code, str(tmp_path), ARN + "|fault0"], timeout=60, check=False)
    assert other.returncode == 3


def test_a_file_counter_counts(tmp_path: Path) -> None:
    store = FileFireOnceStore(tmp_path / "new")
    assert [store.count("inv"), store.count("inv"), FileFireOnceStore(tmp_path / "new").count("inv")] == [1, 2, 3]
    assert store.count("other") == 1


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(TableName="chaos-fires", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}])
        yield client


def test_a_dynamodb_marker_is_claimed_once(table: object) -> None:
    assert DynamoFireOnceStore("chaos-fires").claim(ARN + "|fault0")
    assert not DynamoFireOnceStore("chaos-fires").claim(ARN + "|fault0")
    assert DynamoFireOnceStore("chaos-fires", client=table).claim(ARN + "|fault1")


def test_a_dynamodb_counter_counts(table: object) -> None:
    store = DynamoFireOnceStore("chaos-fires")
    assert [store.count("inv"), store.count("inv"), store.count("other")] == [1, 2, 1]


def test_the_environment_chooses_the_store(tmp_path: Path, table: object) -> None:
    assert isinstance(store_from_env({"CHAOSDURABLE_FIRE_ONCE_DIR": str(tmp_path)}), FileFireOnceStore)
    chosen = store_from_env({"CHAOSDURABLE_FIRE_ONCE_TABLE": "chaos-fires", "CHAOSDURABLE_FIRE_ONCE_DIR": "x"})
    assert isinstance(chosen, DynamoFireOnceStore) and chosen.table == "chaos-fires"
    with pytest.raises(StoreNotConfiguredError, match="CHAOSDURABLE_FIRE_ONCE_TABLE"):
        store_from_env({})
