"""verify: smoke-test the idle colour through its preview route and record the result."""

from __future__ import annotations

import argparse
from pathlib import Path

from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.commands.options import add_base_url_argument, check_checks_file
from bluegreen.context import Context
from bluegreen.release import verify


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checks",
        type=Path,
        metavar="FILE",
        default=Path("smoke-checks.yaml"),
        help="smoke checks file (YAML or JSON)",
    )
    parser.add_argument(
        "--color", choices=("blue", "green"), default=None, help="colour to verify (default: the idle colour)"
    )
    add_base_url_argument(parser)


def check(args: argparse.Namespace) -> None:
    check_checks_file("--checks", args.checks)


def run(ctx: Context, args: argparse.Namespace) -> None:
    with command_step(ctx, args):
        verify(ctx, args.checks, color=args.color, base_url=args.base_url)


COMMAND = CommandSpec(
    name="verify",
    help="smoke-test the idle colour via its preview route; record it as verified for its release",
    description=(
        "Runs the checks in --checks (YAML/JSON: path, status, bodyContains/bodyRegex, headers; "
        "{release} expands to the colour's release) against the stack output `url` with the preview "
        "headers (previewColorHeader=colour, previewTokenHeader=previewToken), or against --base-url. An https "
        "`url` on the ALB's own DNS name (*.elb.amazonaws.com) is refused up front: the certificate cannot match "
        "it; set config publicHostname or pass --base-url. Retries are bounded by the "
        "file's `attempts`. On success writes bluegreen:<colour>Verified (release, image, user-data hash), "
        "which `switch` requires; on failure clears it and exits 1."
    ),
    configure=configure,
    check=check,
    run=run,
)
