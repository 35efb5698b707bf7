"""switch: move production traffic to the idle colour, optionally ramping."""

from __future__ import annotations

import argparse

from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.commands.options import (
    add_confirm_timeout_argument,
    add_interval_argument,
    add_ramp_arguments,
    ramp_steps,
)
from bluegreen.context import Context
from bluegreen.contract import COLORS
from bluegreen.release import switch


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", choices=COLORS, default=None, help="target colour (default: the idle colour)")
    add_ramp_arguments(parser)
    add_interval_argument(parser, "while holding a ramp step")
    add_confirm_timeout_argument(parser)


def check(args: argparse.Namespace) -> None:
    ramp_steps(args.ramp)


def run(ctx: Context, args: argparse.Namespace) -> None:
    with command_step(ctx, args):
        switch(ctx, to=args.to, ramp=ramp_steps(args.ramp), pause=args.pause)


COMMAND = CommandSpec(
    name="switch",
    help="send production traffic to the idle colour (refuses unless healthy and verified)",
    description=(
        "Refuses unless the target colour is staged, verified for exactly what is deployed on it and has "
        "its desired number of healthy targets. With --ramp 10,50 it first sets idleTrafficPercent to each "
        "step, runs `pulumi up`, confirms the weights in AWS and holds for --pause seconds watching the "
        "target's alarms (default: long enough for an alarm to fire, (alarmEvaluationMinutes + 2) * 60; a "
        "shorter --pause is warned about). Then sets activeColor, runs `pulumi up` and confirms the new weights "
        "are live. On failure or Ctrl-C, traffic is put back on a healthy colour before exiting. "
        "Pass --to to make a re-run idempotent (without it, the target is whichever colour is idle)."
    ),
    configure=configure,
    check=check,
    run=run,
)
