"""stage <release>: put a release on the idle colour and wait until it is healthy."""

from __future__ import annotations

import argparse

from bluegreen.context import Context
from bluegreen.release import stage

NAME = "stage"
HELP = "set the idle colour's release (and image) and `pulumi up`; wait for healthy targets"
DESCRIPTION = (
    "Sets bluegreen:<idle>Release (and <idle>ImageId with --image-id; idleScaledDown=false when it was "
    "true), runs `pulumi up` with the policy pack, then waits (--poll, --timeout) until the idle target "
    "group has the ASG's desired number of healthy targets. Never changes production traffic. Safe to re-run."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("release", help="release label for the idle colour, e.g. v2.4.1")
    parser.add_argument("--image-id", default=None, help='AMI id for the idle colour ("" = latest AL2023)')


def run(ctx: Context, args: argparse.Namespace) -> None:
    stage(ctx, args.release, args.image_id)
