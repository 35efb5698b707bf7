"""verify: smoke-test the idle colour through its preview route and record the result."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.commands.options import SAMPLE_CHECKS_HINT, add_base_url_argument, add_checks_argument, check_checks_file
from bluegreen.context import Context
from bluegreen.contract import COLORS
from bluegreen.release import verify
from bluegreen.report import Reporter
from bluegreen.smoke import Check, load_checks

SAMPLE_CHECKS = "data/smoke-checks.yaml"  # inside the bluegreen package


def sample_checks() -> str:
    """The sample smoke checks file that ships with the package (it passes against the demo app)."""
    return resources.files("bluegreen").joinpath(SAMPLE_CHECKS).read_text(encoding="utf-8")


class _PrintSampleChecks(argparse.Action):
    """Like --version: print, exit 0, before any other argument is checked or any stack is read."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(sample_checks())
        parser.exit(0)


def configure(parser: argparse.ArgumentParser) -> None:
    add_checks_argument(parser, Path("smoke-checks.yaml"), "smoke checks file (YAML or JSON)")
    parser.add_argument("--color", choices=COLORS, default=None, help="colour to verify (default: the idle colour)")
    add_base_url_argument(parser)
    parser.add_argument(
        "--print-sample-checks",
        action=_PrintSampleChecks,
        help="print a sample smoke checks file (the checks the demo app passes, with notes for your own app) "
        "and exit; `bluegreen verify --print-sample-checks > smoke-checks.yaml` starts one",
    )
    parser.add_argument(
        "--validate-only",
        action="store_true",
        help="only read and validate the --checks file, list its checks and exit (0: valid, 2: not): reads no "
        "stack, so it needs neither the `pulumi` CLI nor AWS",
    )


def check(args: argparse.Namespace) -> None:
    check_checks_file("--checks", args.checks)


def run_local(reporter: Reporter, args: argparse.Namespace) -> bool:
    """`--validate-only`: the checks file parsed and validated as `verify` reads it, its checks listed."""
    if not args.validate_only:
        return False
    with reporter.step(f"validate {args.checks}") as rec:
        suite = load_checks(args.checks)
        rec.detail = (
            f"{len(suite.checks)} checks, {suite.attempts} attempts each, {suite.interval_seconds:g}s apart, "
            f"{suite.timeout_seconds:g}s per request"
        )
        for check in suite.checks:
            reporter.info(f"{check.name}: GET {check.path} → {check.status}{_expects(check)}")
    reporter.result["checks"] = {
        "file": str(args.checks),
        "digest": suite.digest,
        "checks": [check.name for check in suite.checks],
        "attempts": suite.attempts,
        "intervalSeconds": suite.interval_seconds,
        "timeoutSeconds": suite.timeout_seconds,
    }
    return True


def _expects(check: Check) -> str:
    parts = [f"body contains {check.body_contains!r}"] if check.body_contains is not None else []
    parts += [f"body matches {check.body_regex!r}"] if check.body_regex is not None else []
    parts += [f"header {name}: {value!r}" for name, value in check.headers.items()]
    return f", {', '.join(parts)}" if parts else ""


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
        "which `switch` requires; on failure clears it and exits 1.\n\n"
        f"No checks file yet? {SAMPLE_CHECKS_HINT[0].upper()}{SAMPLE_CHECKS_HINT[1:]}. "
        "`--validate-only` checks the file alone (no stack, no `pulumi` CLI, no AWS)."
    ),
    configure=configure,
    check=check,
    run=run,
    run_local=run_local,
)
