"""switch: move production traffic to the idle colour, optionally ramping."""

from __future__ import annotations

import argparse

from bluegreen.commands.options import add_ramp_arguments
from bluegreen.context import Context
from bluegreen.release import switch
from bluegreen.stackconfig import parse_ramp

NAME = "switch"
HELP = "send production traffic to the idle colour (refuses unless healthy and verified)"
DESCRIPTION = (
    "Refuses unless the target colour is staged, verified for exactly what is deployed on it and has "
    "its desired number of healthy targets. With --ramp 10,50 it first sets idleTrafficPercent to each "
    "step, runs `pulumi up`, confirms the weights in AWS and holds for --pause seconds watching the "
    "target's alarms (default: long enough for an alarm to fire, (alarmEvaluationMinutes + 2) * 60; a "
    "shorter --pause is warned about). Then sets activeColor, runs `pulumi up` and confirms the new weights are live. "
    "On failure or Ctrl-C, traffic is put back on a healthy colour before exiting. "
    "Pass --to to make a re-run idempotent (without it, the target is whichever colour is idle)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", choices=("blue", "green"), default=None, help="target colour (default: idle)")
    add_ramp_arguments(parser)
    parser.add_argument("--interval", type=float, default=None, help="seconds between alarm polls while holding")


def run(ctx: Context, args: argparse.Namespace) -> None:
    switch(ctx, to=args.to, ramp=parse_ramp(args.ramp), pause=args.pause)
