"""Arguments that several commands share, defined once so their help and defaults agree."""

from __future__ import annotations

import argparse


def add_ramp_arguments(parser: argparse.ArgumentParser) -> None:
    """--ramp and --pause, for the commands that move traffic step by step (switch, deploy)."""
    parser.add_argument("--ramp", default="", help="idleTrafficPercent steps, e.g. 10,50")
    parser.add_argument(
        "--pause",
        type=float,
        default=None,
        help="seconds to hold each ramp step, watching alarms (default: (alarmEvaluationMinutes + 2) * 60)",
    )


def add_base_url_argument(parser: argparse.ArgumentParser) -> None:
    """--base-url, for the commands that run smoke checks (verify, bake, deploy)."""
    parser.add_argument(
        "--base-url",
        default=None,
        help="send the smoke checks here instead of the stack output `url`, e.g. https://app.example.com "
        "(needed for https when config publicHostname is not set)",
    )
