"""The gate in front of every real AWS target, and the redaction of what gets recorded.

Contract of ``gate``: it returns the ``Target`` only when all of these hold, and otherwise raises
``AwsRefused`` naming the first missing piece and how to provide it:

1. the switch: ``CHAOSDURABLE_ALLOW_AWS=1`` in the environment;
2. an allowlist: the ``allowlist=`` option (an ``Allowlist``, or the path of a file), or the file
   named by ``CHAOSDURABLE_AWS_ALLOWLIST``; each line of the file is ``<account-id> <function-name>``
   (``#`` starts a comment);
3. the account: the one in the function's ARN, or -- for a bare function name -- the caller's
   account from STS ``GetCallerIdentity``; when both are known they must agree;
4. that (account, function) pair is on the allowlist.

``redact`` copies a history event, a history, a report dict or a text with every credential
removed (always) and every payload removed (unless ``keep_payloads=True``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALLOW_ENV = "CHAOSDURABLE_ALLOW_AWS"
ALLOWLIST_ENV = "CHAOSDURABLE_AWS_ALLOWLIST"

_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
                  r"(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[^/]+))?(?:/.*)?$")
_ACCOUNT = re.compile(r"^\d{12}$")


class AwsRefused(RuntimeError):
    """A real AWS target was refused; the message says what is missing and how to provide it."""


@dataclass(frozen=True)
class Target:
    """An allowed function: its account, name, and region/qualifier when the ARN said so."""

    account: str
    function: str
    region: str | None = None
    qualifier: str | None = None


def parse_function_arn(arn: str) -> Target | None:
    """The target of a Lambda function (or durable execution) ARN, or None for a bare name."""
    match = _ARN.match(arn)
    if match is None:
        return None
    return Target(match["account"], match["name"], match["region"], match["qualifier"])


@dataclass(frozen=True)
class Allowlist:
    """Explicitly allowed (account, function name) pairs, and where they came from (for messages)."""

    entries: frozenset[tuple[str, str]]
    source: str = "the allowlist option"

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Allowlist:
        """Read ``<account-id> <function-name>`` lines; a malformed line is an ``AwsRefused``."""
        file = Path(path)
        try:
            text = file.read_text()
        except OSError as exc:
            raise AwsRefused(f"the allowlist file {str(file)!r} cannot be read ({exc.strerror}); create it with "
                             "one '<account-id> <function-name>' line per allowed function") from None
        entries = set()
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2 or not _ACCOUNT.match(parts[0]):
                raise AwsRefused(f"{file}:{number}: expected '<12-digit account-id> <function-name>', got {raw!r}")
            entries.add((parts[0], parts[1]))
        return cls(frozenset(entries), source=str(file))

    def allows(self, target: Target) -> bool:
        """True when the target's (account, function) pair is listed."""
        return (target.account, target.function) in self.entries


def _caller_account(sts_client: Any) -> str:
    if sts_client is None:
        import boto3

        sts_client = boto3.client("sts")
    return str(sts_client.get_caller_identity()["Account"])


def gate(function: str, *, allowlist: Allowlist | str | os.PathLike[str] | None = None,
         environ: Mapping[str, str] | None = None, sts_client: Any = None) -> Target:
    """The target ``function`` (an ARN or a name) if every key is in place, else ``AwsRefused``."""
    env = os.environ if environ is None else environ
    if env.get(ALLOW_ENV) != "1":
        raise AwsRefused(f"refusing to run against AWS function {function!r}: the switch is off. "
                         f"Set {ALLOW_ENV}=1 in the environment to allow real AWS calls at all.")
    if allowlist is None:
        path = env.get(ALLOWLIST_ENV)
        if not path:
            raise AwsRefused(f"refusing to run against AWS function {function!r}: no allowlist. Pass "
                             f"allowlist= (a file path or an Allowlist) or set {ALLOWLIST_ENV} to a file with "
                             "one '<account-id> <function-name>' line per allowed function.")
        allowlist = path
    if not isinstance(allowlist, Allowlist):
        allowlist = Allowlist.from_file(allowlist)

    from_arn = parse_function_arn(function)
    if from_arn is not None:
        target = from_arn
        if sts_client is not None and (caller := _caller_account(sts_client)) != target.account:
            raise AwsRefused(f"refusing: the credentials are for account {caller}, but {function!r} is in "
                             f"account {target.account}. Use credentials of the allowlisted account.")
    else:
        target = Target(_caller_account(sts_client), function)
    if not allowlist.allows(target):
        listed = sorted({account for account, _ in allowlist.entries})
        raise AwsRefused(f"refusing: function {target.function!r} in account {target.account} is not on "
                         f"{allowlist.source} (accounts listed: {', '.join(listed) or 'none'}). Add the line "
                         f"'{target.account} {target.function}' if this function is meant for chaos testing.")
    return target


# ---------------------------------------------------------------------- redaction
#: keys whose values are credentials, wherever they appear (case-insensitive)
CREDENTIAL_KEYS = frozenset(k.lower() for k in (
    "AccessKeyId", "SecretAccessKey", "SessionToken", "aws_access_key_id", "aws_secret_access_key",
    "aws_session_token", "Credentials", "Authorization", "X-Amz-Security-Token", "CheckpointToken",
    "Password", "Secret", "ClientToken"))
#: keys whose values are payloads (input, results, error details); recursed into when they hold objects
PAYLOAD_KEYS = frozenset(("Payload", "InputPayload", "Result", "ErrorMessage", "ErrorData", "StackTrace",
                          "Error", "Input"))
_SECRET_TEXT = [
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "[redacted access key]"),
    (re.compile(r"(?i)((?:secret|session|security)[_-]?(?:access[_-]?)?(?:key|token)[\"']?\s*[:=]\s*[\"']?)"
                r"[A-Za-z0-9/+=]{16,}"), r"\1[redacted]"),
]
REDACTED = "[redacted]"


def _scrub(text: str) -> str:
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any, *, keep_payloads: bool = False) -> Any:
    """A copy of ``value`` (dicts, lists, strings) without credentials and, unless asked, payloads.

    A payload that is text becomes ``"[redacted payload: N chars]"``; one that is an object is
    walked (so an error keeps its ``ErrorType``). Access-key ids and ``secret...=...`` pairs are
    scrubbed from every string, payload kept or not.
    """
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = str(key)
            if name.lower() in CREDENTIAL_KEYS:
                out[key] = REDACTED
            elif (not keep_payloads and name in PAYLOAD_KEYS and item is not None
                  and not isinstance(item, Mapping | list | tuple | bool | int | float)):
                out[key] = f"[redacted payload: {len(str(item))} chars]"
            elif not keep_payloads and name == "StackTrace" and isinstance(item, list | tuple):
                out[key] = f"[redacted payload: {len(item)} frames]"
            else:
                out[key] = redact(item, keep_payloads=keep_payloads)
        return out
    if isinstance(value, list | tuple):
        return [redact(item, keep_payloads=keep_payloads) for item in value]
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, bytes):
        return f"[redacted bytes: {len(value)}]" if not keep_payloads else _scrub(value.decode(errors="replace"))
    return value
