"""`bluegreen <command>` (also `python -m bluegreen <command>`): argument parsing, wiring, exit codes."""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from bluegreen import __version__, stack_files
from bluegreen.aws import Aws
from bluegreen.clock import Clock, SystemClock
from bluegreen.context import Context, Timing, default_aws
from bluegreen.contract import MAX_BAKE_MINUTES
from bluegreen.engine import AutomationEngine, Engine
from bluegreen.errors import ExitCode, ToolError, UsageError
from bluegreen.interrupts import stopping_signals_interrupt
from bluegreen.outputs import StackOutputs
from bluegreen.registry import COMMANDS, CommandSpec, check_unique, load_commands
from bluegreen.smoke import Fetch, urllib_fetch

EngineFactory = Callable[[argparse.Namespace], Engine]

EPILOG = """exit codes:
  0  ok
  1  a check or step failed (traffic is on a healthy colour), or status found drift
  2  usage or config error (bad argument, bad config value, missing stack output, no `pulumi` CLI)
  3  rolled back: an alarm fired and traffic went back to the previous colour
  4  locked: another update holds the stack lock
  130 interrupted (Ctrl-C); traffic was left on a healthy colour

See docs/release-tool.md for the release flow."""

# Pulumi stack names: letters, digits, `-`, `_` and `.`, optionally qualified as org/name or org/project/name.
_STACK_NAME = re.compile(r"^(?:[A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]+$")
STACK_ALLOWED = "a stack name (letters, digits, -, _ and .), optionally qualified as org/name or org/project/name"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout, and appends each option's default unless its help says it in words."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or "default" in text
        ):
            return text
        return text + " (default: %(default)s)"

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        # Python 3.11 and 3.12 measure sub-commands without the indent they are listed with, so the help of a
        # long one (rotate-token) would start on the next line; 3.13 measures them as listed.
        if action.help is not argparse.SUPPRESS:
            for subaction in self._iter_indented_subactions(action):
                length = len(self._format_action_invocation(subaction)) + self._current_indent
                self._action_max_length = max(self._action_max_length, length)


def _fill(text: str) -> str:
    """A command's description as paragraphs wrapped for the terminal, as argparse wraps option help."""
    width = max(40, min(100, shutil.get_terminal_size().columns - 2))
    return "\n\n".join(
        textwrap.fill(paragraph, width=width, break_on_hyphens=False) for paragraph in text.split("\n\n")
    )


def _common_options() -> argparse.ArgumentParser:
    """What every command takes: each works on one stack of one project and can report as JSON."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--stack", default=None, metavar="NAME", help=STACK_HELP)
    group.add_argument(
        "--project-dir",
        type=Path,
        metavar="DIR",
        default=stack_files.PROJECT_DIR,
        help="the Pulumi project directory (default: the nearest folder from here up that holds a Pulumi.yaml)",
    )
    group.add_argument("--json", action="store_true", help="machine output: one JSON document on stdout")
    return common


STACK_HELP = (
    "stack to operate on (default: $BLUEGREEN_STACK, else $PULUMI_STACK, else the stack `pulumi stack select` "
    "chose for --project-dir)"
)


def build_parser(specs: Sequence[CommandSpec], prog: str = "bluegreen") -> argparse.ArgumentParser:
    check_unique(specs)
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Blue-green releases for the bluegreen Pulumi stack.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bluegreen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    common = _common_options()
    for spec in specs:
        command_parser = sub.add_parser(
            spec.name,
            help=spec.help,
            description=_fill(spec.description),
            epilog=EPILOG,
            parents=[common],
            formatter_class=HelpFormatter,
        )
        spec.configure(command_parser)
    return parser


def resolve_stack(flag: str | None, project_dir: Path, env: Mapping[str, str]) -> str:
    """--stack, else $BLUEGREEN_STACK, else $PULUMI_STACK, else the stack `pulumi stack select` chose.

    The Pulumi CLI's own order is --stack, then PULUMI_STACK, then the selected stack
    (https://www.pulumi.com/docs/iac/cli/environment-variables/); $BLUEGREEN_STACK comes first so a
    shell can aim the release tool without moving every `pulumi` command too.
    """
    for source, value in (
        ("--stack", flag),
        ("$BLUEGREEN_STACK", env.get("BLUEGREEN_STACK")),
        ("$PULUMI_STACK", env.get("PULUMI_STACK")),
    ):
        if value is not None and (value or source == "--stack"):
            return _check_stack_name(source, value)
    try:
        selected = stack_files.selected_stack(project_dir, env)
    except ValueError as exc:
        raise UsageError(f"{exc}; pass --stack NAME", details={"argument": "--stack"}) from None
    if selected:
        return _check_stack_name("the stack selected with `pulumi stack select`", selected)
    known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
    files = f" (stack files in {project_dir}: {', '.join(known)})" if known else ""
    raise UsageError(
        f"no stack chosen: pass --stack NAME, {STACK_ALLOWED}{files}; or set $BLUEGREEN_STACK or "
        f"$PULUMI_STACK, or run `pulumi stack select NAME` in {project_dir}",
        details={"argument": "--stack", "allowed": STACK_ALLOWED, "stackFiles": known},
    )


def _check_stack_name(source: str, value: str) -> str:
    if not _STACK_NAME.match(value):
        shown = f"{source}={value!r}" if source.startswith(("-", "$")) else f"{source} ({value!r})"
        raise UsageError(
            f"{shown} is not allowed: {STACK_ALLOWED}",
            details={"argument": "--stack", "value": value, "allowed": STACK_ALLOWED},
        )
    return value


def _engine(args: argparse.Namespace) -> Engine:
    stack = resolve_stack(args.stack, args.project_dir, os.environ)
    return AutomationEngine(stack, project_dir=args.project_dir)


@dataclass(frozen=True)
class NumberRule:
    """A numeric option: what it counts, whether 0 means something, and its upper bound if any."""

    flag: str
    dest: str
    zero_ok: bool
    unit: str = "seconds"
    maximum: float | None = None

    def allowed(self) -> str:
        if self.maximum is not None:
            low = "0" if self.zero_ok else "above 0"
            return f"a number of {self.unit} from {low} to {self.maximum:g}"
        return f"a number of {self.unit} >= 0" if self.zero_ok else f"a number of {self.unit} above 0"

    def ok(self, value: float) -> bool:
        if not math.isfinite(value) or value < 0 or (value == 0 and not self.zero_ok):
            return False
        return self.maximum is None or value <= self.maximum


# A poll or an interval of 0 would spin; a wait of 0 would give up before anything could happen.
NUMBERS: tuple[NumberRule, ...] = (
    NumberRule("--poll", "poll", zero_ok=False),
    NumberRule("--interval", "interval", zero_ok=False),
    NumberRule("--timeout", "timeout", zero_ok=False),
    NumberRule("--timeout", "migration_timeout", zero_ok=False),  # migrate: the migration command's run time
    NumberRule("--confirm-timeout", "confirm_timeout", zero_ok=True),  # 0: check the weights once, do not wait
    NumberRule("--pause", "pause", zero_ok=True),  # 0: no hold at a ramp step (warned: no alarm can fire then)
    NumberRule("--minutes", "minutes", zero_ok=True, unit="minutes", maximum=MAX_BAKE_MINUTES),  # 0: no bake
)


def check_numbers(args: argparse.Namespace) -> None:
    """Refuse a non-finite, negative, too large or (where 0 is meaningless) zero number of seconds or minutes."""
    for rule in NUMBERS:
        value = getattr(args, rule.dest, None)
        if value is None or rule.ok(value):
            continue
        raise UsageError(
            f"{rule.flag}={value:g} is not allowed: {rule.allowed()}",
            details={"argument": rule.flag, "value": value, "allowed": rule.allowed()},
        )


def check_project_dir(project_dir: Path) -> None:
    if not (project_dir / "Pulumi.yaml").is_file():
        raise UsageError(
            f"--project-dir {project_dir} has no Pulumi.yaml: it must be the Pulumi project directory "
            "(the tool reads the config defaults declared there)",
            details={"argument": "--project-dir", "value": str(project_dir)},
        )


def _timing(args: argparse.Namespace) -> Timing:
    """The waits of this command; an option the command does not take keeps its default."""
    defaults = Timing()
    confirm_timeout = getattr(args, "confirm_timeout", defaults.confirm_timeout)
    return Timing(
        poll_interval=getattr(args, "poll", defaults.poll_interval),
        health_timeout=getattr(args, "timeout", defaults.health_timeout),
        confirm_interval=min(defaults.confirm_interval, confirm_timeout),
        confirm_timeout=confirm_timeout,
        bake_interval=getattr(args, "interval", defaults.bake_interval),
    )


def _select(commands: Sequence[CommandSpec], modules: Sequence[str] | None) -> list[CommandSpec]:
    if modules is None:
        return list(commands)
    wanted = {spec.module for spec in load_commands(modules)}
    return [spec for spec in commands if spec.module in wanted]


def main(
    argv: Sequence[str] | None = None,
    *,
    engine_factory: EngineFactory = _engine,
    clock: Clock | None = None,
    aws_factory: Callable[[StackOutputs], Aws] = default_aws,
    fetch: Fetch = urllib_fetch,
    commands: Sequence[CommandSpec] = COMMANDS,
    modules: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    prog: str = "bluegreen",
) -> int:
    """Run one command; returns its exit code (see EPILOG).

    `commands` is the command table (bluegreen.registry.COMMANDS); `modules` keeps only the commands
    defined in those modules (e.g. ("bluegreen.commands.migrate",)).
    """
    specs = _select(commands, modules)
    args = build_parser(specs, prog).parse_args(argv)
    spec = next(s for s in specs if s.name == args.command)
    from bluegreen.report import Reporter

    clock = clock or SystemClock()
    reporter = Reporter(clock=clock, json_mode=args.json, out=out or sys.stdout, err=err or sys.stderr)
    error: str | None = None
    code = ExitCode.OK
    try:
        check_numbers(args)
        spec.check(args)
        if not spec.run_local(reporter, args):  # e.g. `verify --validate-only`: a local file, no stack
            check_project_dir(args.project_dir)
            timing = _timing(args)
            ctx = Context(
                engine=engine_factory(args),
                reporter=reporter,
                clock=clock,
                timing=timing,
                aws_factory=aws_factory,
                fetch=fetch,
                project_dir=args.project_dir,
            )
            with stopping_signals_interrupt():  # a cancelled CI job (SIGTERM) is handled like Ctrl-C
                spec.run(ctx, args)  # the command reports its work under its own step
    except ToolError as exc:
        code, error = exc.exit_code, exc.message
        if exc.details:
            reporter.result.setdefault("details", exc.details)
    except stack_files.StackFileError as exc:  # a Pulumi.yaml or stack file the tool cannot read: one line
        code, error = ExitCode.USAGE, str(exc)
    except (ClientError, BotoCoreError) as exc:
        code, error = ExitCode.CHECK_FAILED, f"AWS call failed: {exc}"
    except KeyboardInterrupt:
        code, error = ExitCode.INTERRUPTED, "interrupted"
    reporter.finish(args.command, int(code), error)
    return int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(prog="python -m bluegreen.cli"))
