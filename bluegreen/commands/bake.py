"""bake: watch the live colour's alarms; roll back automatically on ALARM."""

from __future__ import annotations

import argparse
from pathlib import Path

from bluegreen.bake import bake
from bluegreen.commands.options import add_base_url_argument
from bluegreen.context import Context

NAME = "bake"
HELP = "watch the live colour's alarms for N minutes; on ALARM roll back and print a decision record"
DESCRIPTION = (
    "Polls the live colour's alarms (stack output <colour>AlarmNames) every --interval seconds for "
    "--minutes (default: config bakeMinutes), and with --checks also runs the smoke checks each poll. "
    "On ALARM (or a failed smoke check) it rolls back at once (fast path, then `pulumi up`) and exits 3. "
    "Prints a decision record: what fired, when, the values and thresholds. Warns when the bake is shorter "
    "than an alarm needs to fire ((alarmEvaluationMinutes + 2) minutes)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=None, help="how long to watch (default: bakeMinutes)")
    parser.add_argument("--checks", type=Path, default=None, help="also run these smoke checks on each poll")
    add_base_url_argument(parser)
    parser.add_argument("--interval", type=float, default=None, help="seconds between polls (default 30)")
    parser.add_argument(
        "--no-rollback", dest="auto_rollback", action="store_false", help="report only; exit 1 instead of rolling back"
    )


def run(ctx: Context, args: argparse.Namespace) -> None:
    bake(ctx, args.minutes, args.checks, auto_rollback=args.auto_rollback, base_url=args.base_url)
