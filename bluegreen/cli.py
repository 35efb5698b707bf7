"""`python -m bluegreen <command>`: argument parsing, wiring, exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from bluegreen import stack_files
from bluegreen.aws import Aws
from bluegreen.clock import Clock, SystemClock
from bluegreen.context import Context, Timing, default_aws
from bluegreen.engine import AutomationEngine, Engine
from bluegreen.errors import ExitCode, ToolError
from bluegreen.outputs import StackOutputs
from bluegreen.registry import COMMAND_MODULES, CommandSpec, load_commands
from bluegreen.smoke import Fetch, urllib_fetch

EngineFactory = Callable[[argparse.Namespace], Engine]

EPILOG = """exit codes:
  0  ok
  1  a check or step failed (traffic is on a healthy colour), or status found drift
  2  usage or config error (bad argument, bad config value, missing stack output)
  3  rolled back: an alarm fired and traffic went back to the previous colour
  4  locked: another update holds the stack lock
  130 interrupted (Ctrl-C); traffic was left on a healthy colour

See README.md (The release tool) for the release flow."""


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument(
        "--stack", default=os.environ.get("BLUEGREEN_STACK", "dev"), help="stack name (default $BLUEGREEN_STACK or dev)"
    )
    group.add_argument("--project-dir", type=Path, default=stack_files.PROJECT_DIR, help="Pulumi project directory")
    group.add_argument("--json", action="store_true", help="machine output: one JSON document on stdout")
    group.add_argument("--poll", type=float, default=Timing.poll_interval, help="seconds between health polls")
    group.add_argument(
        "--timeout", type=float, default=Timing.health_timeout, help="seconds to wait for healthy targets"
    )
    group.add_argument(
        "--confirm-timeout", type=float, default=Timing.confirm_timeout, help="seconds to wait for weights to show"
    )
    return common


def build_parser(specs: Sequence[CommandSpec]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bluegreen",
        description="Blue-green releases for the bluegreen Pulumi stack.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    common = _common_options()
    for spec in specs:
        command_parser = sub.add_parser(
            spec.name,
            help=spec.help,
            description=spec.description,
            epilog=EPILOG,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        spec.configure(command_parser)
    return parser


def _engine(args: argparse.Namespace) -> Engine:
    return AutomationEngine(args.stack, project_dir=args.project_dir)


def _timing(args: argparse.Namespace) -> Timing:
    defaults = Timing()
    pause = getattr(args, "pause", None)
    interval = getattr(args, "interval", None)
    return Timing(
        poll_interval=args.poll,
        health_timeout=args.timeout,
        confirm_interval=min(defaults.confirm_interval, args.confirm_timeout),
        confirm_timeout=args.confirm_timeout,
        ramp_pause=defaults.ramp_pause if pause is None else pause,
        bake_interval=defaults.bake_interval if interval is None else interval,
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    engine_factory: EngineFactory = _engine,
    clock: Clock | None = None,
    aws_factory: Callable[[StackOutputs], Aws] = default_aws,
    fetch: Fetch = urllib_fetch,
    modules: Sequence[str] = COMMAND_MODULES,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    specs = {spec.name: spec for spec in load_commands(modules)}
    args = build_parser(list(specs.values())).parse_args(argv)
    from bluegreen.report import Reporter

    clock = clock or SystemClock()
    reporter = Reporter(clock=clock, json_mode=args.json, out=out or sys.stdout, err=err or sys.stderr)
    error: str | None = None
    code = ExitCode.OK
    try:
        ctx = Context(
            engine=engine_factory(args),
            reporter=reporter,
            clock=clock,
            timing=_timing(args),
            aws_factory=aws_factory,
            fetch=fetch,
        )
        with reporter.step(f"{args.command} ({args.stack})"):
            specs[args.command].run(ctx, args)
    except ToolError as exc:
        code, error = exc.exit_code, exc.message
        if exc.details:
            reporter.result.setdefault("details", exc.details)
    except (ClientError, BotoCoreError) as exc:
        code, error = ExitCode.CHECK_FAILED, f"AWS call failed: {exc}"
    except KeyboardInterrupt:
        code, error = ExitCode.INTERRUPTED, "interrupted"
    reporter.finish(args.command, int(code), error)
    return int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
