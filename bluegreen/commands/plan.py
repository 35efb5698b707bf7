"""plan: human traffic/release summary, then `pulumi preview --diff` with the policy pack."""

from __future__ import annotations

import argparse

from bluegreen.context import Context
from bluegreen.views import plan

NAME = "plan"
HELP = "print the traffic/release summary and run `pulumi preview --diff` with the policy pack"
DESCRIPTION = (
    "Prints bluegreen.summary.traffic_summary(config, outputs), then runs `pulumi preview --diff` "
    "with the policy pack in policies/. Exits 1 when the preview fails (including policy violations)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    del parser


def run(ctx: Context, args: argparse.Namespace) -> None:
    plan(ctx)
