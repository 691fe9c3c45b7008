"""``chaosdurable replay-history HISTORY... --handler MODULE:NAME [--target NAME=MODULE:FUNCTION]``.

Contract: ``register(subparsers)`` adds the ``replay-history`` parser and sets ``command_main``.
``main(args, console)`` replays every HISTORY (a file, a folder of ``*.json``, or an execution
ARN, read through the AWS gate) against the handler, prints one report per history and a
summary, and returns the exit code: 0 every history replays identically, 1 a divergence, 2 an
unreadable history or a handler that cannot be loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

EXIT_OK, EXIT_DIVERGENCE, EXIT_USAGE = 0, 1, 2

HELP = """exit codes:
  0  every history replays identically under the handler
  1  a divergence: the report names the first one (operation path, expected vs actual, source line)
  2  unreadable input: a missing or malformed file, a history without execution data, an ARN refused by
     the AWS gate (CHAOSDURABLE_ALLOW_AWS=1 and an allowlist), or a handler that cannot be loaded
"""


def register(subparsers: Any) -> None:
    """Add the ``replay-history`` subcommand to the ``chaosdurable`` parser."""
    parser = subparsers.add_parser(
        "replay-history", help="replay recorded histories against the current handler code (before a deploy)",
        description=__doc__, epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("history", nargs="+", metavar="HISTORY",
                        help="a GetDurableExecutionHistory export (one page or a list of pages), a file written "
                             "by chaosdurable, a folder of them, or a durable execution ARN")
    parser.add_argument("--handler", required=True, metavar="MODULE:NAME",
                        help="the @durable_execution handler as it will be deployed")
    parser.add_argument("--target", "--targets", action="append", dest="targets", metavar="NAME=MODULE:FUNCTION",
                        help="a chained-invoke target (repeatable), as for `check`; replay never runs it")
    parser.add_argument("--allowlist", metavar="FILE",
                        help="the AWS allowlist for execution ARNs (default: $CHAOSDURABLE_AWS_ALLOWLIST)")
    parser.set_defaults(command_main=main)


def _targets(specs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in specs or []:
        name, sep, ref = spec.partition("=")
        if not sep or not name or ":" not in ref:
            raise ValueError(f"--target must be NAME=module:function, got {spec!r}")
        out[name] = ref
    return out


def main(args: argparse.Namespace, console: Any) -> int:
    """Run the subcommand; returns its exit code (see the module docstring)."""
    from chaosdurable.replay.api import replay_history

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # find the user's modules from here, like `python -m`
    try:
        targets = _targets(args.targets)
        aws = {"allowlist": args.allowlist} if args.allowlist else None
        report = replay_history(args.history, args.handler, targets=targets, aws=aws)
    except ValueError as exc:
        console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_USAGE
    console.print(report.report(), markup=False, highlight=False, soft_wrap=True)
    return report.exit_code
