"""The CLI surface: every command has --help, usage errors exit 2, and the registry takes new commands."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from bluegreen.cli import check_numbers, main
from bluegreen.context import Context
from bluegreen.errors import ExitCode
from bluegreen.registry import COMMAND_MODULES, load_commands

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["status", "plan", "stage", "verify", "switch", "bake", "rollback", "deploy"]


def test_every_issue_command_is_registered() -> None:
    names = [spec.name for spec in load_commands()]
    assert names[: len(COMMANDS)] == COMMANDS  # more may follow (e.g. migrate)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])

    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    spec = next(s for s in load_commands() if s.name == command)
    assert spec.description.split()[0] in text
    assert "--json" in text
    assert "3  rolled back" in text  # exit codes are listed on every command


def test_module_entry_point_prints_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["launch"])

    assert exit_info.value.code == ExitCode.USAGE


def test_bad_ramp_is_a_usage_error_naming_the_key() -> None:
    out = io.StringIO()
    code = main(
        ["switch", "--ramp", "10,80", "--json"],
        engine_factory=lambda _args: object(),  # type: ignore[arg-type,return-value]  # never used
        out=out,
        err=io.StringIO(),
    )

    assert code == ExitCode.USAGE
    assert "bluegreen:idleTrafficPercent=80 is not allowed: ramp steps from 1 to 50" in out.getvalue()


@pytest.fixture
def extra_command() -> Iterator[str]:
    """A command module as another engineer would add one (like bluegreen/commands/migrate.py)."""
    module = types.ModuleType("bluegreen_test_example")
    module.NAME = "example"  # type: ignore[attr-defined]
    module.HELP = "an example step with two arguments"  # type: ignore[attr-defined]
    calls: list[tuple[str, int]] = []

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("phase", choices=("expand", "contract"))
        parser.add_argument("version", type=int)

    def run(ctx: Context, args: argparse.Namespace) -> None:
        del ctx
        calls.append((args.phase, args.version))

    module.configure = configure  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    module.calls = calls  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module.__name__
    del sys.modules[module.__name__]


def test_a_new_command_is_one_module_plus_one_line(extra_command: str) -> None:
    modules = (*COMMAND_MODULES, extra_command)

    code = main(
        ["example", "expand", "7"],
        engine_factory=lambda _args: object(),  # type: ignore[arg-type,return-value]
        modules=modules,
        out=io.StringIO(),
        err=io.StringIO(),
    )

    assert code == 0
    assert sys.modules[extra_command].calls == [("expand", 7)]


def test_registry_rejects_incomplete_or_duplicate_modules(extra_command: str) -> None:
    with pytest.raises(TypeError, match="define the command 'example'"):
        load_commands((extra_command, extra_command))
    del sys.modules[extra_command].run
    with pytest.raises(TypeError, match="lacks run"):
        load_commands((extra_command,))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status", "--poll", "0"], "--poll=0 is not allowed: a number of seconds above 0"),
        (["bake", "--interval", "0"], "--interval=0 is not allowed: a number of seconds above 0"),
        (["stage", "v2", "--timeout", "-5"], "--timeout=-5 is not allowed: a number of seconds above 0"),
        (["switch", "--pause", "-1"], "--pause=-1 is not allowed: a number of seconds >= 0"),
        (["status", "--confirm-timeout", "-1"], "--confirm-timeout=-1 is not allowed: a number of seconds >= 0"),
        (["deploy", "v2", "--minutes", "-1"], "--minutes=-1 is not allowed: a number of minutes >= 0"),
        (["status", "--poll", "nan"], "--poll=nan is not allowed: a number of seconds above 0"),
        (["status", "--timeout", "inf"], "--timeout=inf is not allowed: a number of seconds above 0"),
    ],
)
def test_bad_numbers_are_usage_errors_naming_flag_value_and_what_is_allowed(argv: list[str], message: str) -> None:
    out = io.StringIO()
    code = main(
        [*argv, "--json"],
        engine_factory=lambda _args: object(),  # type: ignore[arg-type,return-value]  # never used
        out=out,
        err=io.StringIO(),
    )

    assert code == ExitCode.USAGE
    assert json.loads(out.getvalue())["error"] == message


def test_zero_is_allowed_where_it_means_something() -> None:
    zeros = argparse.Namespace(poll=1.0, timeout=1.0, interval=1.0, confirm_timeout=0.0, pause=0.0, minutes=0.0)

    check_numbers(zeros)  # confirm once, no hold, no bake: no error


def test_project_dir_without_pulumi_yaml_is_a_usage_error(tmp_path: Path) -> None:
    out = io.StringIO()
    code = main(
        ["status", "--project-dir", str(tmp_path), "--json"],
        engine_factory=lambda _args: object(),  # type: ignore[arg-type,return-value]  # never used
        out=out,
        err=io.StringIO(),
    )

    assert code == ExitCode.USAGE
    assert json.loads(out.getvalue())["error"].startswith(f"--project-dir {tmp_path} has no Pulumi.yaml")
