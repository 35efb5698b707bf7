"""plan: human traffic/release summary, then `pulumi preview --diff` with the policy pack."""

from __future__ import annotations

import argparse

from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.context import Context
from bluegreen.views import plan


def configure(parser: argparse.ArgumentParser) -> None:
    del parser  # reads only; no options of its own


def run(ctx: Context, args: argparse.Namespace) -> None:
    with command_step(ctx, args):
        plan(ctx)


COMMAND = CommandSpec(
    name="plan",
    help="print the traffic/release summary and run `pulumi preview --diff` with the policy pack",
    description=(
        "Prints bluegreen.summary.traffic_summary(config, outputs), then runs `pulumi preview --diff` "
        "with the policy pack in policies/. Exits 1 when the preview fails (including policy violations)."
    ),
    configure=configure,
    run=run,
)
