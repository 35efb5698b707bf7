"""deploy <release>: stage → verify → switch → bake."""

from __future__ import annotations

import argparse
from pathlib import Path

from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.commands.options import (
    SAMPLE_CHECKS_HINT,
    add_base_url_argument,
    add_checks_argument,
    add_confirm_timeout_argument,
    add_health_wait_arguments,
    add_interval_argument,
    add_minutes_argument,
    add_ramp_arguments,
    check_checks_file,
    ramp_steps,
)
from bluegreen.context import Context
from bluegreen.deploy import deploy


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("release", help="release label to deploy, e.g. v2.4.1")
    parser.add_argument(
        "--image-id",
        default=None,
        metavar="AMI",
        help="AMI id for the new release (default: keep the idle colour's image)",
    )
    add_checks_argument(parser, Path("smoke-checks.yaml"), "smoke checks file (YAML or JSON)")
    add_ramp_arguments(parser)
    add_minutes_argument(parser)
    add_interval_argument(parser, "while holding a ramp step and while baking")
    parser.add_argument("--bake-checks", action="store_true", help="also run the smoke checks during bake")
    add_base_url_argument(parser)
    add_health_wait_arguments(parser)
    add_confirm_timeout_argument(parser)


def check(args: argparse.Namespace) -> None:
    ramp_steps(args.ramp)
    check_checks_file("--checks", args.checks)


def run(ctx: Context, args: argparse.Namespace) -> None:
    with command_step(ctx, args):
        deploy(
            ctx,
            args.release,
            image_id=args.image_id,
            checks_path=args.checks,
            ramp=ramp_steps(args.ramp),
            pause=args.pause,
            minutes=args.minutes,
            bake_checks=args.bake_checks,
            base_url=args.base_url,
        )


COMMAND = CommandSpec(
    name="deploy",
    help="stage → verify → switch → bake; stops at the first failure with traffic on a healthy colour",
    description=(
        "Runs stage <release>, verify --checks, switch (to the colour just staged, with --ramp/--pause) "
        "and bake (--minutes, alarms; --bake-checks adds the smoke checks). Stops at the first failure; "
        "stage and verify never move traffic, switch restores traffic on failure, bake rolls back on ALARM "
        "(exit 3). Re-running after a fixed failure resumes safely; a release already live is a no-op.\n\n"
        f"No checks file yet? {SAMPLE_CHECKS_HINT[0].upper()}{SAMPLE_CHECKS_HINT[1:]}."
    ),
    configure=configure,
    check=check,
    run=run,
)
