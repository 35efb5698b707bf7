"""The CLI surface: the command table, what each command's --help lists, and the errors bad input gets.

Usage errors exit 2 with a message that names the flag, the value and what is allowed, and they come
before the tool reads the stack or touches AWS: the engine factories below fail the test if called.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

import bluegreen
from bluegreen.cli import build_parser, check_numbers, main
from bluegreen.commands import migrate
from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.context import Context
from bluegreen.engine import OperationResult, OutputSink
from bluegreen.errors import EngineError, ExitCode, UsageError
from bluegreen.registry import COMMAND_MODULES, COMMANDS, load_commands
from bluegreen.stack_files import effective_config
from bluegreen.stackconfig import parse_config

ROOT = Path(__file__).resolve().parent.parent
COMMAND_NAMES = [
    *("status", "plan", "stage", "verify", "switch", "bake", "rollback", "history", "deploy", "migrate"),
    "rotate-token",
]


def never_called(_args: argparse.Namespace) -> Any:
    raise AssertionError("the engine was built for an invocation that should have been refused first")


class RefusingEngine:
    """An engine whose every call fails, so a command stops at its first read."""

    stack_name = "stub"

    def _refuse(self) -> NoReturn:
        raise EngineError("the engine double refuses every call")

    def outputs(self) -> dict[str, Any]:
        return self._refuse()

    def config(self) -> dict[str, str]:
        return self._refuse()

    def set_config(self, values: Mapping[str, str]) -> None:
        self._refuse()

    def up(self, message: str, on_output: OutputSink) -> OperationResult:
        return self._refuse()

    def preview(self, on_output: OutputSink) -> OperationResult:
        return self._refuse()


def run_json(argv: list[str], **kwargs: Any) -> tuple[int, dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    kwargs.setdefault("engine_factory", never_called)
    code = main([*argv, "--json"], out=out, err=err, **kwargs)
    return code, json.loads(out.getvalue()), err.getvalue()


# ---------------------------------------------------------------- the command table


def test_the_table_lists_every_command_in_help_order() -> None:
    assert [spec.name for spec in COMMANDS] == COMMAND_NAMES


def test_every_command_module_is_in_the_table() -> None:
    shared = {"__init__", "base", "options"}
    modules = {f"bluegreen.commands.{p.stem}" for p in (ROOT / "bluegreen/commands").glob("*.py")} - {
        f"bluegreen.commands.{name}" for name in shared
    }

    assert set(COMMAND_MODULES) == modules  # a module without its line in the table would be dead code


def test_a_new_command_is_one_spec_plus_one_line_in_the_table() -> None:
    calls: list[tuple[str, int]] = []

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("phase", choices=("expand", "contract"))
        parser.add_argument("version", type=int)

    def run(ctx: Context, args: argparse.Namespace) -> None:
        with command_step(ctx, args):
            calls.append((args.phase, args.version))

    example = CommandSpec("example", "an example step", "An example step with two arguments.", configure, run)

    code, doc, _ = run_json(
        ["example", "expand", "7"], commands=(*COMMANDS, example), engine_factory=lambda _args: RefusingEngine()
    )

    assert code == 0
    assert calls == [("expand", 7)]
    assert [step["name"] for step in doc["steps"]] == ["example (stub)"]


def test_two_commands_with_one_name_are_refused() -> None:
    again = CommandSpec("status", "another status", "Another status.", lambda _p: None, lambda _c, _a: None)

    with pytest.raises(TypeError, match="two command specs define the command 'status'"):
        build_parser((*COMMANDS, again))


def test_modules_pick_commands_from_the_table_without_importing_anything() -> None:
    assert load_commands(("bluegreen.commands.migrate",)) == [migrate.COMMAND]
    with pytest.raises(ValueError, match=r"bluegreen\.commands\.nope is not a command module"):
        load_commands(("bluegreen.commands.nope",))
    with pytest.raises(SystemExit) as exit_info:
        main(["status"], modules=("bluegreen.commands.migrate",), err=io.StringIO())
    assert exit_info.value.code == ExitCode.USAGE  # only migrate is there


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("status", []),
        ("plan", []),
        ("stage", ["v2"]),
        ("verify", ["--checks", "CHECKS"]),
        ("switch", []),
        ("bake", []),
        ("rollback", []),
        ("deploy", ["v2", "--checks", "CHECKS"]),
        ("migrate", ["expand", "2"]),
        ("rotate-token", []),
    ],
)
def test_each_command_reports_its_work_under_one_step_named_after_it_and_the_stack(
    command: str, args: list[str], tmp_path: Path
) -> None:
    checks = tmp_path / "smoke-checks.yaml"
    checks.write_text("checks: [{path: /version, bodyContains: '{release}'}]\n")
    argv = [command, *(str(checks) if arg == "CHECKS" else arg for arg in args)]

    code, doc, _ = run_json(argv, engine_factory=lambda _args: RefusingEngine())

    assert code == ExitCode.CHECK_FAILED
    assert [(step["name"], step["status"]) for step in doc["steps"]] == [(f"{command} (stub)", "failed")]
    assert doc["error"] == "the engine double refuses every call"


# ---------------------------------------------------------------- help


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_each_command_has_help_with_its_description_and_the_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])

    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: bluegreen {command} ")
    spec = next(s for s in COMMANDS if s.name == command)
    assert " ".join(spec.description.split()[:6]) in " ".join(text.split())
    assert "3  rolled back" in text  # exit codes are listed on every command


COMMON = {"-h", "--help", "--stack", "--project-dir", "--json"}
HEALTH_WAIT = {"--poll", "--timeout"}
CONFIRM = {"--confirm-timeout"}
OPTIONS_USED = {
    "status": set(),
    "plan": set(),
    "stage": {"--image-id", *HEALTH_WAIT},
    "verify": {"--checks", "--color", "--base-url", "--print-sample-checks", "--validate-only"},
    "switch": {"--to", "--ramp", "--pause", "--interval", *CONFIRM},
    "bake": {"--minutes", "--checks", "--base-url", "--interval", "--no-rollback", *CONFIRM},
    "rollback": {"--to", "--no-fast", "--force", *CONFIRM},
    "history": {"--limit"},
    "deploy": {
        "--image-id",
        "--checks",
        "--ramp",
        "--pause",
        "--minutes",
        "--interval",
        "--bake-checks",
        "--base-url",
        *HEALTH_WAIT,
        *CONFIRM,
    },
    "migrate": {"--timeout"},
    "rotate-token": {"--base-url", "--finish"},
}
OPTION_LINE = re.compile(r"^  (?:(-\w), )?(--[\w-]+)(?: ([A-Z][\w,.\[\]]*|\{[\w,]+\}))?(.*)$")


@dataclass
class Option:
    metavar: str | None  # None: a flag that takes no value
    help: str = ""


def help_options(text: str) -> dict[str, Option]:
    """Each option `--help` lists: its metavar and its help text (the lines up to the next option)."""
    options: dict[str, Option] = {}
    current: list[Option] = []
    for line in text.splitlines():
        match = OPTION_LINE.match(line)
        if match:
            current = [options.setdefault(flag, Option(match[3])) for flag in filter(None, match.group(1, 2))]
            rest = match[4]
        elif line.startswith("    ") and current:
            rest = line
        else:
            current = []
            continue
        for option in current:
            option.help = " ".join([*option.help.split(), *rest.split()])
    return options


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_each_command_lists_exactly_the_options_it_uses_each_with_its_default(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])

    options = help_options(capsys.readouterr().out)
    assert set(options) == COMMON | OPTIONS_USED[command]
    for flag, option in options.items():
        if option.metavar is not None:  # an option that takes a value says what it is when not given
            assert "default" in option.help, f"{command} {flag} does not say its default: {option.help}"


def test_help_shows_numeric_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["stage", "--help"])

    options = help_options(capsys.readouterr().out)
    assert options["--poll"].help.endswith("(default: 10.0)")
    assert options["--timeout"].help.endswith("(default: 900.0)")


def test_migrate_timeout_says_what_it_times(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["migrate", "--help"])

    assert help_options(capsys.readouterr().out)["--timeout"].help == (
        "seconds the migration command may run; then its whole process group is killed and "
        "databaseSchemaVersion stays as it was (default: 900.0)"
    )


def test_the_console_script_is_called_bluegreen(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"bluegreen {bluegreen.__version__}\n"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: bluegreen [-h] [--version] <command> ...")


def test_the_module_entry_point_is_called_python_m_bluegreen() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m bluegreen [-h] [--version] <command> ...")
    for command in COMMAND_NAMES:
        assert f"    {command} " in result.stdout


# ---------------------------------------------------------------- bad input


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["launch"])

    assert exit_info.value.code == ExitCode.USAGE
    assert "invalid choice: 'launch'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stage", "v2", "--poll", "0"], "--poll=0 is not allowed: a number of seconds above 0"),
        (["bake", "--interval", "0"], "--interval=0 is not allowed: a number of seconds above 0"),
        (["stage", "v2", "--timeout", "-5"], "--timeout=-5 is not allowed: a number of seconds above 0"),
        (["switch", "--pause", "-1"], "--pause=-1 is not allowed: a number of seconds >= 0"),
        (["rollback", "--confirm-timeout", "-1"], "--confirm-timeout=-1 is not allowed: a number of seconds >= 0"),
        (["deploy", "v2", "--minutes", "-1"], "--minutes=-1 is not allowed: a number of minutes from 0 to 1440"),
        (["bake", "--minutes", "1441"], "--minutes=1441 is not allowed: a number of minutes from 0 to 1440"),
        (["stage", "v2", "--poll", "nan"], "--poll=nan is not allowed: a number of seconds above 0"),
        (["stage", "v2", "--timeout", "inf"], "--timeout=inf is not allowed: a number of seconds above 0"),
        (["migrate", "expand", "2", "--timeout", "0"], "--timeout=0 is not allowed: a number of seconds above 0"),
    ],
)
def test_bad_numbers_are_usage_errors_naming_flag_value_and_what_is_allowed(argv: list[str], message: str) -> None:
    code, doc, _ = run_json(argv)

    assert code == ExitCode.USAGE
    assert doc["error"] == message
    assert doc["steps"] == []  # refused before anything ran


def test_zero_is_allowed_where_it_means_something() -> None:
    zeros = argparse.Namespace(poll=1.0, timeout=1.0, interval=1.0, confirm_timeout=0.0, pause=0.0, minutes=0.0)

    check_numbers(zeros)  # confirm once, no hold, no bake: no error


def test_minutes_take_the_range_of_config_bake_minutes() -> None:
    def config_allows(minutes: int) -> bool:
        try:
            parse_config(effective_config("dev", {"bakeMinutes": minutes}))
        except UsageError:
            return False
        return True

    assert config_allows(1440) and not config_allows(1441)
    # 1440 passes the number check, so the command goes on to check its --checks file; 1440.5 does not.
    assert run_json(["bake", "--minutes", "1440", "--checks", "nope.yaml"])[1]["error"].startswith("--checks nope")
    assert run_json(["bake", "--minutes", "1440.5"])[1]["error"] == (
        "--minutes=1440.5 is not allowed: a number of minutes from 0 to 1440"
    )


@pytest.mark.parametrize(
    ("ramp", "problem"),
    [
        ("10,60", "60 is outside 1 to 50"),
        ("0,10", "0 is outside 1 to 50"),
        ("50,10", "10 does not increase on 50"),
        ("10,10", "10 does not increase on 10"),
        ("10,x", "'x' is not a whole number"),
        ("10.5", "'10.5' is not a whole number"),
        ("-10", "'-10' is not a whole number"),
        ("10,,50", "it has an empty step"),
    ],
)
@pytest.mark.parametrize("command", [["switch"], ["deploy", "v2"]])
def test_a_bad_ramp_names_ramp_the_value_and_what_is_allowed(command: list[str], ramp: str, problem: str) -> None:
    code, doc, _ = run_json([*command, "--ramp", ramp])

    assert code == ExitCode.USAGE
    assert doc["error"] == (
        f"--ramp={ramp} is not allowed ({problem}): comma-separated whole percentages from 1 to 50 that "
        "increase, e.g. 10,50 (each is the idle colour's share of traffic at one step)"
    )
    assert doc["result"]["details"]["argument"] == "--ramp"


def test_a_missing_checks_file_names_the_flag_and_how_to_start_one(tmp_path: Path) -> None:
    missing = tmp_path / "smoke-checks.yaml"

    code, doc, _ = run_json(["verify", "--checks", str(missing)])

    assert code == ExitCode.USAGE
    assert doc["error"] == (
        f"--checks {missing}: no such file; it must be a smoke checks file (YAML or JSON); "
        "`bluegreen verify --print-sample-checks > smoke-checks.yaml` writes a sample to start from"
    )


def test_an_option_a_command_does_not_use_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    # `status` waits on nothing, so it has no --poll: passing one is a mistake worth hearing about.
    with pytest.raises(SystemExit) as exited:
        main(["status", "--poll", "1"])

    assert exited.value.code == ExitCode.USAGE
    assert "unrecognized arguments: --poll 1" in capsys.readouterr().err


def test_project_dir_without_pulumi_yaml_is_a_usage_error(tmp_path: Path) -> None:
    code, doc, _ = run_json(["status", "--project-dir", str(tmp_path)])

    assert code == ExitCode.USAGE
    assert doc["error"].startswith(f"--project-dir {tmp_path} has no Pulumi.yaml")
