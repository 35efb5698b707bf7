"""deploy <release>: stage → verify → switch → bake."""

from __future__ import annotations

import argparse
from pathlib import Path

from bluegreen.commands.options import add_base_url_argument, add_ramp_arguments
from bluegreen.context import Context
from bluegreen.deploy import deploy
from bluegreen.stackconfig import parse_ramp

NAME = "deploy"
HELP = "stage → verify → switch → bake; stops at the first failure with traffic on a healthy colour"
DESCRIPTION = (
    "Runs stage <release>, verify --checks, switch (to the colour just staged, with --ramp/--pause) "
    "and bake (--minutes, alarms; --bake-checks adds the smoke checks). Stops at the first failure; "
    "stage and verify never move traffic, switch restores traffic on failure, bake rolls back on ALARM "
    "(exit 3). Re-running after a fixed failure resumes safely; a release already live is a no-op."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("release", help="release label to deploy, e.g. v2.4.1")
    parser.add_argument("--image-id", default=None, help="AMI id for the new release")
    parser.add_argument("--checks", type=Path, default=Path("smoke-checks.yaml"), help="smoke checks file")
    add_ramp_arguments(parser)
    parser.add_argument("--minutes", type=float, default=None, help="bake minutes (default: bakeMinutes)")
    parser.add_argument("--interval", type=float, default=None, help="seconds between bake polls (default 30)")
    parser.add_argument("--bake-checks", action="store_true", help="also run the smoke checks during bake")
    add_base_url_argument(parser)


def run(ctx: Context, args: argparse.Namespace) -> None:
    deploy(
        ctx,
        args.release,
        image_id=args.image_id,
        checks_path=args.checks,
        ramp=parse_ramp(args.ramp),
        pause=args.pause,
        minutes=args.minutes,
        bake_checks=args.bake_checks,
        base_url=args.base_url,
    )
