"""Rehearse the nightly chaos job locally, against the loopback stack (no AWS, nothing but 127.0.0.1).

Starts the loopback stack (moto server, AWS's local runner, the front door, sandboxes) with the
test handlers deployed, writes an allowlist naming the loopback function, and runs
``scripts/nightly_pytest.sh`` -- the command the workflow runs -- with ``--chaos-backend aws``
against it. The example database is Redis when ``redis`` is importable and a server answers at
``CHAOSDURABLE_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``), else a directory
(``<artifacts>/examples``), and the script says which. Afterwards it copies what the workflow
uploads into the artefact folder: the reports, the recorded histories, and the saved (shrunk,
replayable) failures with the histories of their executions. Exits with pytest's exit code.

    python scripts/rehearse_nightly.py [--function correct|buggy] [--examples N] [--artifacts DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def redis_url() -> str | None:
    """The Redis URL to use, when ``redis`` is importable and the server answers (bounded ping)."""
    url = os.environ.get("CHAOSDURABLE_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis
    except ImportError:
        print("rehearse: redis is not importable (pip install -e '.[nightly]'): using a directory example database")
        return None
    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
    except Exception as exc:  # no server: say so and fall back
        print(f"rehearse: no Redis answers at {url} ({type(exc).__name__}): using a directory example database")
        return None
    print(f"rehearse: example database: Redis at {url}")
    return url


def collect(artifacts: Path, failures: Path, histories: Path) -> None:
    """Copy the saved failures and the histories of their executions into ``artifacts``."""
    saved = sorted(failures.glob("*.json")) if failures.is_dir() else []
    if not saved:
        return
    out = artifacts / "failures"
    out.mkdir(parents=True, exist_ok=True)
    for path in saved:
        shutil.copy2(path, out / path.name)
    failed = [p for p in histories.glob("chaos-*.json") if json.loads(p.read_text()).get("status") != "SUCCEEDED"
              or "-chaotic" in p.name]
    for path in failed:
        shutil.copy2(path, out / path.name)
    print(f"rehearse: {len(saved)} saved failure(s) and {len(failed)} chaotic/failed histories in {out}")


def main(argv: list[str] | None = None) -> int:
    """Run the rehearsal; pytest's exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--function", default="correct", choices=["correct", "buggy"],
                        help="the loopback function to run the nightly suite against (buggy: see a failure)")
    parser.add_argument("--examples", type=int, default=3, help="CHAOSDURABLE_BUDGET_EXAMPLES (default 3)")
    parser.add_argument("--artifacts", default=str(ROOT / "artifacts"), help="the artefact folder")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds pytest may take before it is killed")
    args = parser.parse_args(argv)

    from tests.aws.conftest import ACCOUNT, FUNCTIONS, arn
    from tests.aws.harness.front_door import Function
    from tests.aws.harness.stack import LoopbackStack

    artifacts = Path(args.artifacts).resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="chaos-rehearsal-"))
    allowlist = scratch / "chaos-allowlist.txt"
    allowlist.write_text(f"{ACCOUNT} {args.function}\n")
    env = dict(os.environ)
    url = redis_url()
    if url:
        env["CHAOSDURABLE_REDIS_URL"] = url
    else:
        env.pop("CHAOSDURABLE_REDIS_URL", None)
        env["CHAOSDURABLE_EXAMPLE_DB_DIR"] = str(artifacts / "examples")
    histories = artifacts / "histories"
    failures = scratch / "failures"
    stack = LoopbackStack().start()
    try:
        for name, path in FUNCTIONS.items():
            stack.functions[name] = Function(path, stack.function_env())
        env.update(stack.plugin_environment())
        env.update({"CHAOSDURABLE_BUDGET_EXAMPLES": str(args.examples), "CHAOSDURABLE_RECORD_DIR": str(histories),
                    "CHAOS_ARTIFACTS": str(artifacts), "CHAOS_NIGHTLY_HANDLER": FUNCTIONS[args.function],
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))})
        command = [str(ROOT / "scripts" / "nightly_pytest.sh"), "--chaos-aws-function", arn(args.function),
                   "--chaos-aws-endpoint", stack.url, "--chaos-aws-allow-endpoint", "--chaos-aws-allowlist",
                   str(allowlist)]
        print("rehearse:", " ".join(command))
        started = time.monotonic()
        # saved failures go to .chaosdurable/failures under the working directory: run in the scratch folder's
        # sibling so the repository's own saved failures are not mixed in, then copy them
        workdir = scratch / "work"
        workdir.mkdir()
        (workdir / "tests").symlink_to(ROOT / "tests")
        try:
            code = subprocess.run(command, cwd=workdir, env=env, timeout=args.timeout).returncode
        except subprocess.TimeoutExpired:
            print(f"rehearse: pytest took longer than {args.timeout:g}s and was killed")
            code = 124
        print(f"rehearse: pytest exited {code} after {time.monotonic() - started:.1f}s "
              f"({stack.door.counters.invocations} sandboxed invocations)")
        failures = workdir / ".chaosdurable" / "failures"
        collect(artifacts, failures, histories)
    finally:
        stack.stop()
    print(f"rehearse: artefacts in {artifacts}: {', '.join(sorted(p.name for p in artifacts.iterdir()))}")
    return code


if __name__ == "__main__":
    sys.exit(main())
