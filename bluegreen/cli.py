"""`python -m bluegreen <command>`: argument parsing, wiring, exit codes."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from bluegreen import __version__, stack_files
from bluegreen.aws import Aws
from bluegreen.clock import Clock, SystemClock
from bluegreen.context import Context, Timing, default_aws
from bluegreen.engine import AutomationEngine, Engine
from bluegreen.errors import ExitCode, ToolError, UsageError
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
    parser.add_argument("--version", action="version", version=f"bluegreen {__version__}")
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


# Numeric options: (flag, attribute, whether 0 is allowed).
# A poll or an interval of 0 would spin; a wait of 0 would give up before anything could happen.
_NUMBERS: tuple[tuple[str, str, bool], ...] = (
    ("--poll", "poll", False),
    ("--interval", "interval", False),
    ("--timeout", "timeout", False),
    ("--confirm-timeout", "confirm_timeout", True),  # 0: check the weights once, do not wait
    ("--pause", "pause", True),  # 0: no hold at a ramp step (warned: no alarm can fire in that time)
    ("--minutes", "minutes", True),  # 0: no bake
)


def check_numbers(args: argparse.Namespace) -> None:
    """Refuse a non-finite, negative or (where 0 is meaningless) zero number of seconds or minutes."""
    for flag, attribute, zero_ok in _NUMBERS:
        value = getattr(args, attribute, None)
        if value is None:
            continue
        if math.isfinite(value) and (value > 0 or (zero_ok and value == 0)):
            continue
        unit = "minutes" if flag == "--minutes" else "seconds"
        allowed = f"a number of {unit} >= 0" if zero_ok else f"a number of {unit} above 0"
        raise UsageError(
            f"{flag}={value:g} is not allowed: {allowed}",
            details={"argument": flag, "value": value, "allowed": ">= 0" if zero_ok else "> 0"},
        )


def check_project_dir(project_dir: Path) -> None:
    if not (project_dir / "Pulumi.yaml").is_file():
        raise UsageError(
            f"--project-dir {project_dir} has no Pulumi.yaml: it must be the Pulumi project directory "
            "(the tool reads the config defaults declared there)",
            details={"argument": "--project-dir", "value": str(project_dir)},
        )


def _timing(args: argparse.Namespace) -> Timing:
    check_numbers(args)
    defaults = Timing()
    interval = getattr(args, "interval", None)
    return Timing(
        poll_interval=args.poll,
        health_timeout=args.timeout,
        confirm_interval=min(defaults.confirm_interval, args.confirm_timeout),
        confirm_timeout=args.confirm_timeout,
        ramp_pause=getattr(args, "pause", None),
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
        check_project_dir(args.project_dir)
        ctx = Context(
            engine=engine_factory(args),
            reporter=reporter,
            clock=clock,
            timing=_timing(args),
            aws_factory=aws_factory,
            fetch=fetch,
            project_dir=args.project_dir,
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
