"""examples/README.md runs as documented from a fresh clone, and every release tool line the docs show parses.

The commands are read from the page in order and replayed from the checkout's root: `cd` moves, `pulumi config
set` sets the stack's config, `pulumi up` runs the example's program under the SDK's mocks in its own directory
(the previous run's outputs as the deployed state) after checking the policy pack it names exists from there,
`pulumi destroy` checks that nothing blocks it, and `venv/bin/bluegreen ...` runs the tool's own `main()` as
far as the point where it needs the `pulumi` CLI. Each example's requirements.txt is installed by pip, in a dry
run, from the example's directory, as Pulumi runs it.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from argparse import Namespace
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bluegreen.cli import build_parser, main
from bluegreen.engine import AutomationEngine, find_policy_pack
from bluegreen.errors import ExitCode, UsageError
from bluegreen.registry import COMMANDS
from tests.doc_commands import commands, inline_code, shell_blocks
from tests.harness import PROJECT_DIR, REGION, Recording, deployed, run_program
from tests.test_readme_tour import destroy_blockers

EXAMPLES = PROJECT_DIR / "examples"
PAGE = EXAMPLES / "README.md"
TOOL = "venv/bin/bluegreen"  # what the README's set-up command installs at the checkout's root


class StoppedBeforeEngineError(UsageError):
    """Raised by the engine factory: the command line got as far as choosing its stack."""


@dataclass
class Replay:
    cwd: Path = PROJECT_DIR
    stack: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    project_config: dict[str, str] = field(default_factory=dict)
    last: dict[Path, Recording] = field(default_factory=dict)
    ups: list[Path] = field(default_factory=list)
    destroyed: list[Path] = field(default_factory=list)
    tool: list[tuple[Path, str]] = field(default_factory=list)  # (project dir, stack) of each tool command


def project_name(project_dir: Path) -> str:
    return str(yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"])


def run_tool(argv: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Namespace:
    """`bluegreen <argv>` in `cwd`: the parsed arguments its engine would be built from."""
    seen: list[Namespace] = []

    def engine_factory(args: Namespace) -> Any:
        seen.append(args)
        raise StoppedBeforeEngineError("stop")

    monkeypatch.chdir(cwd)
    err = io.StringIO()
    code = main(argv, engine_factory=engine_factory, out=io.StringIO(), err=err)
    assert code == ExitCode.USAGE and len(seen) == 1, f"bluegreen {' '.join(argv)}: {err.getvalue()}"
    return seen[0]


def replay(page: Path, monkeypatch: pytest.MonkeyPatch) -> Replay:
    state = Replay()
    for block in shell_blocks(page.read_text(encoding="utf-8")):
        for argv in commands(block):
            if argv[0] == "cd":
                state.cwd = (state.cwd / argv[1]).resolve()
                assert state.cwd.is_dir(), argv
            elif argv[:3] == ["pulumi", "stack", "init"]:
                state.stack = argv[3]
            elif argv[:3] == ["pulumi", "config", "set"]:
                key, value = argv[3], argv[4]
                if key.startswith("aws:"):
                    assert (key, value) == ("aws:region", REGION), argv
                elif key.startswith("bluegreen:"):
                    state.config[key.removeprefix("bluegreen:")] = value
                else:  # the example project's own key
                    state.project_config[f"{project_name(state.cwd)}:{key}"] = value
            elif argv[:2] == ["pulumi", "up"]:
                pack = state.cwd / argv[argv.index("--policy-pack") + 1]
                assert (pack / "PulumiPolicy.yaml").is_file(), f"{pack} is not the policy pack"
                assert (state.cwd / "Pulumi.yaml").is_file() and (state.cwd / "requirements.txt").is_file()
                before = state.last.get(state.cwd)
                state.last[state.cwd] = run_program(
                    state.config,
                    deployed(before) if before else None,
                    stack=state.stack,
                    project_dir=state.cwd,
                    project_config=state.project_config,
                )
                state.ups.append(state.cwd)
            elif argv[:2] == ["pulumi", "destroy"]:
                assert destroy_blockers(state.last[state.cwd]) == [], f"pulumi destroy in {state.cwd}"
                state.destroyed.append(state.cwd)
            elif argv[0] == TOOL:
                assert (state.cwd / TOOL).parent.parent == PROJECT_DIR / "venv", "the tool is the checkout's"
                args = run_tool(argv[1:], state.cwd, monkeypatch)
                state.tool.append((args.project_dir.resolve(), args.stack))
            else:
                raise AssertionError(f"{page.name} shows a command this test does not model: {' '.join(argv)}")
    return state


def test_the_examples_page_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    state = replay(PAGE, monkeypatch)

    minimal = EXAMPLES / "minimal"
    assert state.ups == [minimal, minimal]  # the first deploy, then the decommission
    assert state.destroyed == [minimal]
    assert state.tool == [(minimal, "example"), (EXAMPLES / "own-app", "example")]
    assert state.last[minimal].outputs["blueWeight"] == 100


@pytest.mark.skipif(shutil.which("pulumi") is not None, reason="with the Pulumi CLI on PATH this would reach a backend")
def test_the_documented_tool_line_reaches_the_pulumi_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_DIR)
    err = io.StringIO()
    code = main(["status", "--project-dir", "examples/own-app", "--stack", "example"], out=io.StringIO(), err=err)
    assert code == ExitCode.USAGE
    assert "the `pulumi` CLI is not on PATH" in err.getvalue()


@pytest.mark.parametrize("example", ["minimal", "own-app", "larger-program"])
def test_the_tool_runs_an_example_with_this_checkouts_policy_pack(example: str) -> None:
    assert find_policy_pack(EXAMPLES / example) == PROJECT_DIR / "policies"
    engine = AutomationEngine("example", project_dir=EXAMPLES / example)
    assert engine._policy_packs() == [str(PROJECT_DIR / "policies")]


def test_a_project_with_its_own_pack_keeps_it(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    assert find_policy_pack(tmp_path) == tmp_path / "policies"
    assert find_policy_pack(PROJECT_DIR) == PROJECT_DIR / "policies"


def test_an_unrelated_pack_above_a_project_is_not_taken_for_this_one(tmp_path: Path) -> None:
    # A monorepo's own policies/ above your project: the tool must not run your updates with it (and without the
    # bluegreen pack's mandatory checks), but say that the project has no pack.
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "app").mkdir()
    assert find_policy_pack(tmp_path / "app") == tmp_path / "app" / "policies"
    with pytest.raises(UsageError, match=r"has no PulumiPolicy\.yaml"):
        AutomationEngine(
            "example", project_dir=EXAMPLES / "minimal", policy_pack_dir=tmp_path / "app" / "policies"
        )._policy_packs()


def tool_lines() -> list[tuple[str, list[str]]]:
    """Every release tool command line README.md and examples/README.md show, in blocks or inline, without the
    program's name."""
    found = []
    for page in (PROJECT_DIR / "README.md", PAGE):
        text = page.read_text(encoding="utf-8")
        lines = [argv for block in shell_blocks(text) for argv in commands(block)]
        lines += [argv for span in inline_code(text) for argv in commands(span)]
        where = str(page.relative_to(PROJECT_DIR))
        for argv in lines:
            if argv[:3] == ["python", "-m", "bluegreen"] and len(argv) > 3:  # not the program's name in prose
                found.append((where, argv[3:]))
            elif argv[0] in ("bluegreen", TOOL) and len(argv) > 1:
                found.append((where, argv[1:]))
    return found


@pytest.mark.parametrize(("page", "argv"), tool_lines(), ids=[" ".join(a) for _, a in tool_lines()])
def test_every_tool_line_the_docs_show_parses(page: str, argv: list[str]) -> None:
    if argv == ["--version"]:
        with pytest.raises(SystemExit) as exited:
            build_parser(COMMANDS).parse_args(argv)
        assert exited.value.code == 0
        return
    args = build_parser(COMMANDS).parse_args(argv)
    assert args.command == argv[0], page


# -- requirements.txt: this checkout, from the example's directory ---------------------------------------------
def test_the_examples_install_the_same_requirements() -> None:
    files = {(EXAMPLES / e / "requirements.txt").read_text() for e in ("minimal", "own-app", "larger-program")}
    assert len(files) == 1


def test_an_examples_requirements_install_this_checkout_with_the_policy_extra(tmp_path: Path) -> None:
    """What `pulumi up` does first: pip in the example's directory (Pulumi.yaml: toolchain pip, virtualenv venv).
    A dry run without the index or the network: it resolves the requirements and builds the package's metadata."""
    report = tmp_path / "report.json"
    pip = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index", "--no-build-isolation"]
    result = subprocess.run(
        [*pip, "--quiet", "--report", str(report), "-r", "requirements.txt"],
        cwd=EXAMPLES / "larger-program",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (install,) = json.loads(report.read_text())["install"]
    assert install["metadata"]["name"] == "bluegreen"
    assert install["download_info"] == {"url": PROJECT_DIR.as_uri(), "dir_info": {"editable": True}}
    assert install["requested_extras"] == ["policy"]
