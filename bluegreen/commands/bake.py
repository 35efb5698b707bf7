"""bake: watch the live colour's alarms; roll back automatically on ALARM."""

from __future__ import annotations

import argparse

from bluegreen.bake import bake
from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.commands.options import (
    add_base_url_argument,
    add_checks_argument,
    add_confirm_timeout_argument,
    add_interval_argument,
    add_minutes_argument,
    check_checks_file,
)
from bluegreen.context import Context


def configure(parser: argparse.ArgumentParser) -> None:
    add_minutes_argument(parser)
    add_checks_argument(parser, None, "also run these smoke checks on each poll (default: alarms only)")
    add_base_url_argument(parser)
    add_interval_argument(parser, "(and smoke check runs)")
    parser.add_argument(
        "--no-rollback", dest="auto_rollback", action="store_false", help="report only; exit 1 instead of rolling back"
    )
    add_confirm_timeout_argument(parser)


def check(args: argparse.Namespace) -> None:
    check_checks_file("--checks", args.checks)


def run(ctx: Context, args: argparse.Namespace) -> None:
    with command_step(ctx, args):
        bake(ctx, args.minutes, args.checks, auto_rollback=args.auto_rollback, base_url=args.base_url)


COMMAND = CommandSpec(
    name="bake",
    help="watch the live colour's alarms for N minutes; on ALARM roll back and print a decision record",
    description=(
        "Polls the live colour's alarms (stack output <colour>AlarmNames) every --interval seconds for "
        "--minutes (default: config bakeMinutes), and with --checks also runs the smoke checks each poll. "
        "On ALARM (or a failed smoke check) it rolls back at once (fast path, then `pulumi up`) and exits 3. "
        "A quiet watch of at least config bakeMinutes keeps the colour: it records bakeDecision (the flip it "
        "decides and the interval watched), which releases the rollback target with the next `pulumi up`; a "
        "shorter one records no keep. "
        "Prints a decision record: what fired, when, the values and thresholds. Warns when the bake is shorter "
        "than an alarm needs to fire ((alarmEvaluationMinutes + 2) minutes)."
    ),
    configure=configure,
    check=check,
    run=run,
)
