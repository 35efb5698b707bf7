"""stage <release>: put a release on the idle colour and wait until it is healthy."""

from __future__ import annotations

import argparse

from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.commands.options import add_health_wait_arguments
from bluegreen.context import Context
from bluegreen.release import stage


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("release", help="release label for the idle colour, e.g. v2.4.1")
    parser.add_argument(
        "--image-id",
        default=None,
        metavar="AMI",
        help='AMI id for the idle colour ("" = latest AL2023; default: keep its configured image)',
    )
    add_health_wait_arguments(parser)


def run(ctx: Context, args: argparse.Namespace) -> None:
    with command_step(ctx, args):
        stage(ctx, args.release, args.image_id)


COMMAND = CommandSpec(
    name="stage",
    help="set the idle colour's release (and image) and `pulumi up`; wait for healthy targets",
    description=(
        "Sets bluegreen:<idle>Release (and <idle>ImageId with --image-id; idleScaledDown=false when it was "
        "true), runs `pulumi up` with the policy pack, then waits (--poll, --timeout) until the idle target "
        "group has the ASG's desired number of healthy targets. Never changes production traffic. Safe to re-run."
    ),
    configure=configure,
    run=run,
)
