"""`bluegreen plan` on a machine without the `pulumi` CLI: the summary from the stack file, then exit 2.

These run the real engine (AutomationEngine, the default) with PATH holding no `pulumi`; with the
CLI present, plan previews through it (tests/test_tool_release.py covers that with an engine double).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import yaml

from bluegreen.ci.summary import traffic_summary
from bluegreen.cli import main
from bluegreen.errors import ExitCode
from bluegreen.stack_files import PROJECT_DIR, effective_config

NEEDS_CLI = (
    "the preview (`pulumi preview --diff` with the policy pack) needs the `pulumi` CLI, which is not on PATH; "
    "the summary above is Pulumi.prod.yaml against no deployed outputs. Install the CLI "
    "(https://www.pulumi.com/docs/install/), log in to the stack's backend (`pulumi login`), then run plan again"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with a `prod` stack file that puts v2 on green, on a PATH without `pulumi`."""
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert shutil.which("pulumi") is None
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project / "Pulumi.yaml")
    stack_file = {
        "config": {
            "bluegreen:greenRelease": "v2",
            "bluegreen:activeColor": "blue",
            "bluegreen:certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123",
            "bluegreen:publicHostname": "app.example.com",
        }
    }
    (project / "Pulumi.prod.yaml").write_text(yaml.safe_dump(stack_file))
    return project


def test_plan_without_the_cli_prints_the_summary_then_says_the_preview_needs_it(project: Path) -> None:
    out, err = io.StringIO(), io.StringIO()

    code = main(["plan", "--stack", "prod", "--project-dir", str(project)], out=out, err=err)

    assert code == ExitCode.USAGE
    summary = traffic_summary(effective_config("prod", project_dir=project), {})
    assert "v2" in summary  # the pending release is in it ...
    assert all(line in out.getvalue() for line in summary.splitlines() if line)  # ... and plan printed all of it
    assert err.getvalue() == f"error: {NEEDS_CLI}\n"


def test_plan_without_the_cli_in_json_mode_records_the_summary_and_that_no_preview_ran(project: Path) -> None:
    out = io.StringIO()

    code = main(["plan", "--stack", "prod", "--project-dir", str(project), "--json"], out=out, err=io.StringIO())

    doc = json.loads(out.getvalue())
    assert (code, doc["exitCode"], doc["error"]) == (ExitCode.USAGE, 2, NEEDS_CLI)
    assert doc["result"]["plan"]["summary"] == traffic_summary(effective_config("prod", project_dir=project), {})
    assert doc["result"]["plan"]["preview"] == "not run: no `pulumi` CLI"
    assert [(s["name"], s["status"]) for s in doc["steps"]] == [
        ("plan (prod)", "failed"),
        ("traffic summary from Pulumi.prod.yaml (no `pulumi` CLI)", "ok"),
    ]


def test_plan_without_the_cli_names_a_stack_that_has_no_stack_file(project: Path) -> None:
    out = io.StringIO()

    code = main(["plan", "--stack", "acme/bluegreen/staging", "--project-dir", str(project), "--json"], out=out)

    assert code == ExitCode.USAGE
    assert json.loads(out.getvalue())["error"] == (
        f"--stack acme/bluegreen/staging: there is no stack file {project / 'Pulumi.staging.yaml'}, and without "
        "the `pulumi` CLI plan reads the config from it; pass the stack whose Pulumi.<stack>.yaml is in --project-dir"
    )


def _plan(project: Path, stack: str = "prod") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["plan", "--stack", stack, "--project-dir", str(project)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_plan_refuses_an_unknown_key_naming_the_closest_known_one(project: Path) -> None:
    stack_file = project / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace("bluegreen:activeColor:", "bluegreen:activeColour:"))

    code, out, err = _plan(project)

    assert code == ExitCode.USAGE
    assert "activeColour" not in out  # said once, on stderr
    assert err == (
        "error: cannot summarise Pulumi.prod.yaml: invalid stack config: unknown key bluegreen:activeColour "
        "(did you mean activeColor?); docs/reference/config.md lists every bluegreen: key\n"
    )


def test_plan_names_the_file_and_line_of_a_yaml_error_without_a_traceback(project: Path) -> None:
    stack_file = project / "Pulumi.prod.yaml"
    stack_file.write_text("config:\n  bluegreen:activeColor: blue\n  bluegreen:greenRelease v2\n  bluegreen:x: 1\n")

    code, out, err = _plan(project)

    assert code == ExitCode.USAGE
    assert err == (
        f"error: {stack_file} line 3, column 3: not valid YAML (while scanning a simple key: could not find "
        "expected ':' at line 4, column 3)\n"
    )
    assert "Traceback" not in out + err


def test_a_failing_command_prints_its_error_once(project: Path) -> None:
    # Each step the error leaves is marked failed, but only `error:` (stderr) says why, once.
    code, out, err = _plan(project)

    assert code == ExitCode.USAGE
    assert (out + err).count(NEEDS_CLI) == 1 and err == f"error: {NEEDS_CLI}\n"
    assert out.splitlines()[-1].startswith("✘ plan (prod) (") and out.splitlines()[-1].endswith("s)")
