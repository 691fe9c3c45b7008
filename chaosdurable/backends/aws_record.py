"""What the ``aws`` backend keeps of a run: redacted copies, and history files to replay locally.

Contract: ``scrub`` removes every credential always and every payload unless ``keep_payloads``;
a removed text payload becomes ``"[redacted payload sha256:<12 hex>, N chars]"`` -- a fingerprint,
so two runs can still be compared (same payload, same text) without revealing it. ``write``
puts one execution's history in ``record_dir`` as ``<execution name>.json`` in the
``GetDurableExecutionHistory`` shape (``{"Events": [...]}`` plus metadata), which
``chaosdurable.replay.replay_history`` reads; it needs ``keep_payloads=True`` to replay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaosdurable.deployed.safety import CREDENTIAL_KEYS, PAYLOAD_KEYS, REDACTED, redact


def fingerprint(text: Any) -> str:
    """The stand-in for a removed payload."""
    data = text if isinstance(text, bytes) else str(text).encode()
    return f"[redacted payload sha256:{hashlib.sha256(data).hexdigest()[:12]}, {len(data)} chars]"


def scrub(value: Any, keep_payloads: bool = False) -> Any:
    """A copy without credentials and (unless ``keep_payloads``) with payloads fingerprinted."""
    if keep_payloads:
        return redact(value, keep_payloads=True)
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = str(key)
            if name.lower() in CREDENTIAL_KEYS:
                out[key] = REDACTED
            elif name in PAYLOAD_KEYS and isinstance(item, str | bytes):
                out[key] = fingerprint(item)
            else:
                out[key] = scrub(item)
        return out
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return redact(value)


def write(record_dir: str | Path, name: str, events: list[dict[str, Any]], meta: dict[str, Any],
          keep_payloads: bool = False) -> Path:
    """Write one history file; its path."""
    folder = Path(record_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    document = {**scrub(meta, keep_payloads), "payloads": keep_payloads,
                "Events": scrub(events, keep_payloads)}
    path.write_text(json.dumps(document, indent=1, sort_keys=True, default=str))
    return path
