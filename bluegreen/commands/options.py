"""Arguments that several commands share, defined once so their help, defaults and checks agree.

A command adds only the options it uses; `bluegreen <command> --help` lists exactly those, each
with its default.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bluegreen.context import Timing
from bluegreen.contract import MAX_BAKE_MINUTES, MAX_IDLE_TRAFFIC_PERCENT
from bluegreen.errors import UsageError

SAMPLE_CHECKS_HINT = "`bluegreen verify --print-sample-checks > smoke-checks.yaml` writes a sample to start from"

RAMP_ALLOWED = (
    f"comma-separated whole percentages from 1 to {MAX_IDLE_TRAFFIC_PERCENT} that increase, e.g. 10,50 "
    "(each is the idle colour's share of traffic at one step)"
)


def add_health_wait_arguments(parser: argparse.ArgumentParser) -> None:
    """--poll and --timeout, for the commands that wait for the idle colour to be healthy (stage, deploy)."""
    defaults = Timing()
    parser.add_argument(
        "--poll",
        type=float,
        metavar="SECONDS",
        default=defaults.poll_interval,
        help="seconds between target health polls while waiting for the idle colour",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        default=defaults.health_timeout,
        help="seconds to wait for the idle colour to have its desired number of healthy targets; "
        "then the step fails with traffic untouched",
    )


def add_confirm_timeout_argument(parser: argparse.ArgumentParser) -> None:
    """--confirm-timeout, for the commands that move traffic and then read the weights back."""
    parser.add_argument(
        "--confirm-timeout",
        type=float,
        metavar="SECONDS",
        default=Timing().confirm_timeout,
        help="seconds to wait, after moving traffic, until the listener shows the new weights (0: check once)",
    )


def add_ramp_arguments(parser: argparse.ArgumentParser) -> None:
    """--ramp and --pause, for the commands that move traffic step by step (switch, deploy)."""
    parser.add_argument(
        "--ramp",
        default=None,
        metavar="PERCENT[,PERCENT...]",
        help=f"send the idle colour this share of traffic first, step by step, e.g. 10,50 (steps from 1 to "
        f"{MAX_IDLE_TRAFFIC_PERCENT}, increasing; default: no ramp, straight to 100%%)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        metavar="SECONDS",
        default=None,
        help="seconds to hold each ramp step, watching alarms (default: long enough for an alarm to fire, "
        "(alarmEvaluationMinutes + 2) * 60)",
    )


def add_interval_argument(parser: argparse.ArgumentParser, during: str) -> None:
    """--interval: seconds between alarm polls while watching (`during` says when)."""
    parser.add_argument(
        "--interval",
        type=float,
        metavar="SECONDS",
        default=Timing().bake_interval,
        help=f"seconds between alarm polls {during}",
    )


def add_minutes_argument(parser: argparse.ArgumentParser) -> None:
    """--minutes, for the commands that bake (bake, deploy)."""
    parser.add_argument(
        "--minutes",
        type=float,
        metavar="MINUTES",
        default=None,
        help=f"minutes to watch the live colour's alarms, from 0 (no bake) to {MAX_BAKE_MINUTES} "
        "(default: config bakeMinutes); below bakeMinutes a quiet bake records no keep, so the rollback target "
        "stays held",
    )


def add_base_url_argument(parser: argparse.ArgumentParser) -> None:
    """--base-url, for the commands that run smoke checks (verify, bake, deploy)."""
    parser.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help="send the smoke checks here instead of the stack output `url`, e.g. https://app.example.com "
        "(needed for https when config publicHostname is not set; default: the stack output `url`)",
    )


def ramp_steps(text: str | None) -> list[int]:
    """`--ramp 10,50` -> [10, 50]; a UsageError naming --ramp, the value and what is allowed otherwise."""
    if text is None or not text.strip():
        return []
    steps: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not (part.isascii() and part.isdigit()):
            problem = "it has an empty step" if not part else f"{part!r} is not a whole number"
            raise _bad_ramp(text, problem)
        step = int(part)
        if not 1 <= step <= MAX_IDLE_TRAFFIC_PERCENT:
            raise _bad_ramp(text, f"{step} is outside 1 to {MAX_IDLE_TRAFFIC_PERCENT}")
        if steps and step <= steps[-1]:
            raise _bad_ramp(text, f"{step} does not increase on {steps[-1]}")
        steps.append(step)
    return steps


def _bad_ramp(text: str, problem: str) -> UsageError:
    return UsageError(
        f"--ramp={text} is not allowed ({problem}): {RAMP_ALLOWED}",
        details={"argument": "--ramp", "value": text, "allowed": RAMP_ALLOWED},
    )


def check_checks_file(flag: str, path: Path | None) -> None:
    """A checks file that does not exist is named with its flag, before anything runs."""
    if path is not None and not path.is_file():
        raise UsageError(
            f"{flag} {path}: no such file; it must be a smoke checks file (YAML or JSON); {SAMPLE_CHECKS_HINT}",
            details={"argument": flag, "value": str(path)},
        )


def add_checks_argument(parser: argparse.ArgumentParser, default: Path | None, help: str) -> None:
    """`--checks FILE`: the smoke checks (YAML or JSON); `check_checks_file` says when it is missing."""
    parser.add_argument("--checks", type=Path, metavar="FILE", default=default, help=help)
