"""status: config against what is live."""

from __future__ import annotations

import argparse

from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.context import Context
from bluegreen.views import status


def configure(parser: argparse.ArgumentParser) -> None:
    del parser  # reads only; no options of its own


def run(ctx: Context, args: argparse.Namespace) -> None:
    with command_step(ctx, args):
        status(ctx)


COMMAND = CommandSpec(
    name="status",
    help="show config against live AWS: weights, releases, target health, alarms, drift",
    description=(
        "Compares what config says with what is live: the listener weights read from AWS, each colour's "
        "release (config and deployed), healthy/total targets against the ASG's desired capacity, whether "
        "it is verified, and its alarm states. Exits 1 when the live weights drift from config."
    ),
    configure=configure,
    run=run,
)
