"""The AWS gate refuses, naming what is missing; redaction removes credentials and payloads."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chaosdurable import DurableRunner
from chaosdurable.deployed.safety import Allowlist, AwsRefused, Target, gate, parse_function_arn, redact
from tests.deployed import handlers

ACCOUNT = "123456789012"   # moto's account
ARN = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:pay-staging:live"
ON = {"CHAOSDURABLE_ALLOW_AWS": "1"}


@pytest.fixture
def allowlist(tmp_path: Path) -> Path:
    path = tmp_path / "allow.txt"
    path.write_text(f"# chaos targets\n{ACCOUNT} pay-staging   # the staging alias\n")
    return path


def test_no_switch_is_refused_and_says_how_to_switch_on(allowlist: Path) -> None:
    with pytest.raises(AwsRefused, match="Set CHAOSDURABLE_ALLOW_AWS=1"):
        gate(ARN, allowlist=allowlist, environ={})
    with pytest.raises(AwsRefused, match="switch is off"):
        gate(ARN, allowlist=allowlist, environ={"CHAOSDURABLE_ALLOW_AWS": "yes"})


def test_no_allowlist_is_refused_and_names_the_option_and_the_variable() -> None:
    with pytest.raises(AwsRefused) as refused:
        gate(ARN, environ=ON)
    assert "no allowlist" in str(refused.value)
    assert "allowlist=" in str(refused.value) and "CHAOSDURABLE_AWS_ALLOWLIST" in str(refused.value)


def test_a_missing_or_malformed_allowlist_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AwsRefused, match="cannot be read"):
        gate(ARN, environ=ON | {"CHAOSDURABLE_AWS_ALLOWLIST": str(tmp_path / "nope")})
    bad = tmp_path / "bad.txt"
    bad.write_text("pay-staging\n")
    with pytest.raises(AwsRefused, match=r"bad.txt:1: expected"):
        gate(ARN, allowlist=bad, environ=ON)


def test_the_wrong_account_in_the_arn_is_refused(allowlist: Path) -> None:
    other = ARN.replace(ACCOUNT, "999999999999")
    with pytest.raises(AwsRefused) as refused:
        gate(other, allowlist=allowlist, environ=ON)
    assert "account 999999999999 is not on" in str(refused.value)
    assert "'999999999999 pay-staging'" in str(refused.value)


def test_a_function_not_listed_is_refused(allowlist: Path) -> None:
    with pytest.raises(AwsRefused, match="'pay-prod' in account 123456789012 is not on"):
        gate(ARN.replace("pay-staging", "pay-prod"), allowlist=allowlist, environ=ON)


def test_everything_in_place_passes(allowlist: Path) -> None:
    target = gate(ARN, allowlist=allowlist, environ=ON)
    assert target == Target(ACCOUNT, "pay-staging", "eu-west-1", "live")
    listed = Allowlist(frozenset({(ACCOUNT, "pay-staging")}))
    assert gate(ARN, allowlist=listed, environ=ON | {"CHAOSDURABLE_AWS_ALLOWLIST": "/ignored"}) == target
    assert gate(ARN, environ=ON | {"CHAOSDURABLE_AWS_ALLOWLIST": str(allowlist)}) == target


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> object:
    for key, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.client("sts")


def test_a_bare_name_takes_the_account_from_sts(allowlist: Path, sts: object, tmp_path: Path) -> None:
    assert gate("pay-staging", allowlist=allowlist, environ=ON, sts_client=sts) == Target(ACCOUNT, "pay-staging")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("210987654321 pay-staging\n")
    with pytest.raises(AwsRefused, match=r"in account 123456789012 is not on .*accounts listed: 210987654321"):
        gate("pay-staging", allowlist=elsewhere, environ=ON, sts_client=sts)


def test_credentials_of_another_account_than_the_arn_are_refused(allowlist: Path, sts: object,
                                                                 tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("210987654321 pay-staging\n")
    arn = ARN.replace(ACCOUNT, "210987654321")
    with pytest.raises(AwsRefused, match="credentials are for account 123456789012"):
        gate(arn, allowlist=elsewhere, environ=ON, sts_client=sts)


def test_durable_execution_arns_parse() -> None:
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:pay:$LATEST/durable-execution/o-1/abc"
    assert parse_function_arn(arn) == Target(ACCOUNT, "pay", "us-east-1", "$LATEST")
    assert parse_function_arn("pay") is None


def test_redact_removes_payloads_and_credentials_from_a_real_history() -> None:
    secret_input = {"card": "4111-1111-1111-1111", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
    runner = DurableRunner(handlers.pay)
    result = runner.run(secret_input | {"amount": 3})
    history = runner.get_execution_history(result.arn)
    text = json.dumps(redact(history), default=str)
    assert "4111" not in text and "wJalr" not in text and "confirmed" not in text
    assert "ExecutionStarted" in text and "StepSucceeded" in text and "redacted payload" in text
    kept = json.dumps(redact(history, keep_payloads=True), default=str)
    assert "4111" in kept and "confirmed" in kept
    assert "wJalr" not in kept   # a credential inside a payload is scrubbed even when payloads are kept


def test_redact_drops_credential_fields_and_keys_in_text_but_keeps_error_types() -> None:
    report = {"Credentials": {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE"}, "CheckpointToken": "tok-123",
              "Error": {"Payload": {"ErrorType": "StepError", "ErrorMessage": "card 4111 declined",
                                    "StackTrace": ["a", "b"]}},
              "log": "used key AKIAIOSFODNN7EXAMPLE with secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCY"}
    out = redact(report)
    text = json.dumps(out)
    assert "AKIA" not in text and "tok-123" not in text and "4111" not in text and "wJalr" not in text
    assert out["Error"]["Payload"]["ErrorType"] == "StepError"
    assert out["Error"]["Payload"]["StackTrace"] == "[redacted payload: 2 frames]"
    assert "AKIA" not in json.dumps(redact(report, keep_payloads=True))
