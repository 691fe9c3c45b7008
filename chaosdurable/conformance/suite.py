"""The AWS conformance suite: ``aws-durable-execution-conformance-tests==1.0.0`` as data.

The wheel declares Python >= 3.14, so it is never installed: it is downloaded with pip as
a data file, its SHA-256 is checked against the pinned value, and its YAML files are read
straight from the zip. The cache lives in ``$CHAOSDURABLE_CACHE`` (default ``.cache/`` at
the current directory).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PACKAGE = "aws-durable-execution-conformance-tests"
VERSION = "1.0.0"
WHEEL = "aws_durable_execution_conformance_tests-1.0.0-py3-none-any.whl"
SHA256 = "59b46cda93c0cbfed6a80f342ab0b93542ad8841196200a15fc716ebaa619c30"
PREFIX = "aws_durable_execution_conformance_tests/test_requirements/"


@dataclass(frozen=True)
class Requirement:
    """One YAML requirement: ``id`` like "1-17", ``category`` like "step", and its parsed body."""

    id: str
    category: str
    data: dict[str, Any]

    @property
    def description(self) -> str:
        """The requirement's one-line description."""
        return str(self.data.get("description", "")).strip()


def cache_dir() -> Path:
    """Where the wheel is cached."""
    return Path(os.environ.get("CHAOSDURABLE_CACHE", ".cache")) / "conformance"


def wheel_path(download: bool = True) -> Path:
    """The cached wheel, downloaded with pip on first use and verified against ``SHA256``."""
    path = cache_dir() / WHEEL
    if not path.exists():
        if not download:
            raise FileNotFoundError(f"{path} is missing; run `python -m chaosdurable.conformance.suite` to fetch it")
        path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--python-version", "3.14",
               "--only-binary=:all:", "--dest", str(path.parent), f"{PACKAGE}=={VERSION}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0 or not path.exists():
            raise RuntimeError(f"could not download {PACKAGE}=={VERSION} with pip: {proc.stderr.strip()[-800:]}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256:
        raise RuntimeError(f"{path} has SHA-256 {digest}, expected {SHA256}: delete it and fetch again")
    return path


def load_suite(path: Path | None = None) -> list[Requirement]:
    """All requirements, sorted by category then numerically by id."""
    out = []
    with zipfile.ZipFile(path or wheel_path()) as zf:
        for name in zf.namelist():
            if name.startswith(PREFIX) and name.endswith(".yaml"):
                category, file = name[len(PREFIX):].split("/", 1)
                out.append(Requirement(file[: -len(".yaml")], category, yaml.safe_load(zf.read(name))))
    return sorted(out, key=lambda r: (r.category, [int(x) for x in r.id.split("-")]))


if __name__ == "__main__":
    print(f"{len(load_suite())} requirements in {wheel_path()}")
