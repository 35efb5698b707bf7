"""Which stack the tool works on when --stack is not given: the one Pulumi would use.

Order: --stack, then $BLUEGREEN_STACK, then $PULUMI_STACK (documented by Pulumi:
https://www.pulumi.com/docs/iac/cli/environment-variables/), then the stack `pulumi stack select`
recorded for the project, else a usage error that says how to choose one. The Pulumi CLI records
the selection in $PULUMI_HOME/workspaces/<project>-<sha1 of the Pulumi.yaml path>-workspace.json;
each test here has its own PULUMI_HOME.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from bluegreen.cli import main, resolve_stack
from bluegreen.errors import ExitCode, UsageError
from bluegreen.stack_files import PROJECT_DIR

STACK_ALLOWED = "a stack name (letters, digits, -, _ and .), optionally qualified as org/name or org/project/name"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project / "Pulumi.yaml")
    cert = (
        "  bluegreen:certificateArn: arn:aws:acm:eu-west-1:123456789012:certificate/abc-123\n"
        "  bluegreen:publicHostname: app.example.com\n"
    )
    (project / "Pulumi.staging.yaml").write_text("config:\n  bluegreen:greenRelease: v2\n" + cert)
    (project / "Pulumi.prod.yaml").write_text("config:\n" + cert)
    return project


@pytest.fixture
def pulumi_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "pulumi-home"
    for key in ("BLUEGREEN_STACK", "PULUMI_STACK"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PULUMI_HOME", str(home))
    return home


def select(pulumi_home: Path, project: Path, stack: str) -> Path:
    """What `pulumi stack select <stack>` writes for `project`."""
    digest = hashlib.sha1(str(project / "Pulumi.yaml").encode()).hexdigest()
    path = pulumi_home / "workspaces" / f"bluegreen-{digest}-workspace.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"stack": stack}, indent=4))
    return path


def test_the_selected_stack_is_the_default(project: Path, pulumi_home: Path) -> None:
    select(pulumi_home, project, "staging")

    assert resolve_stack(None, project, os.environ) == "staging"


def test_the_selection_is_per_project(project: Path, pulumi_home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(project / "Pulumi.yaml", other / "Pulumi.yaml")
    select(pulumi_home, other, "prod")

    with pytest.raises(UsageError, match="no stack chosen"):
        resolve_stack(None, project, os.environ)


@pytest.mark.parametrize(
    ("flag", "env", "chosen"),
    [
        ("prod", {"BLUEGREEN_STACK": "dev", "PULUMI_STACK": "dev"}, "prod"),
        (None, {"BLUEGREEN_STACK": "prod", "PULUMI_STACK": "dev"}, "prod"),
        (None, {"BLUEGREEN_STACK": "", "PULUMI_STACK": "prod"}, "prod"),  # empty means unset, as in Pulumi
        (None, {"PULUMI_STACK": "acme/bluegreen/prod"}, "acme/bluegreen/prod"),
    ],
)
def test_the_flag_then_the_environment_come_before_the_selected_stack(
    project: Path, pulumi_home: Path, flag: str | None, env: dict[str, str], chosen: str
) -> None:
    select(pulumi_home, project, "staging")

    assert resolve_stack(flag, project, {**os.environ, **env}) == chosen


def test_no_stack_anywhere_is_a_usage_error_that_says_how_to_choose_one(project: Path, pulumi_home: Path) -> None:
    with pytest.raises(UsageError) as error:
        resolve_stack(None, project, os.environ)

    assert error.value.message == (
        f"no stack chosen: pass --stack NAME, {STACK_ALLOWED} (stack files in {project}: prod, staging); or set "
        f"$BLUEGREEN_STACK or $PULUMI_STACK, or run `pulumi stack select NAME` in {project}"
    )


@pytest.mark.parametrize(
    ("flag", "env", "shown"),
    [
        ("my stack", {}, "--stack='my stack'"),
        ("", {}, "--stack=''"),
        (None, {"BLUEGREEN_STACK": "a/b/c/d"}, "$BLUEGREEN_STACK='a/b/c/d'"),
    ],
)
def test_a_stack_name_pulumi_would_refuse_is_named_with_where_it_came_from(
    project: Path, pulumi_home: Path, flag: str | None, env: dict[str, str], shown: str
) -> None:
    with pytest.raises(UsageError) as error:
        resolve_stack(flag, project, {**os.environ, **env})

    assert error.value.message == f"{shown} is not allowed: {STACK_ALLOWED}"


def test_a_workspace_file_that_is_not_json_is_named(project: Path, pulumi_home: Path) -> None:
    path = select(pulumi_home, project, "staging")
    path.write_text("{not json")

    with pytest.raises(UsageError, match=f"cannot read the Pulumi workspace file {path}: "):
        resolve_stack(None, project, os.environ)


def test_the_tool_runs_on_the_selected_stack(
    project: Path, pulumi_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real engine, on a PATH without `pulumi`: plan still prints the selected stack's summary.
    select(pulumi_home, project, "staging")
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    out = io.StringIO()

    code = main(["plan", "--project-dir", str(project), "--json"], out=out, err=io.StringIO())

    doc = json.loads(out.getvalue())
    assert code == ExitCode.USAGE  # the preview needs the CLI
    assert doc["steps"][0]["name"] == "plan (staging)"
    assert "`v2`" in doc["result"]["plan"]["summary"]  # from Pulumi.staging.yaml


def test_without_a_stack_a_command_stops_before_it_reads_anything(project: Path, pulumi_home: Path) -> None:
    out = io.StringIO()

    code = main(["status", "--project-dir", str(project), "--json"], out=out, err=io.StringIO())

    doc = json.loads(out.getvalue())
    assert (code, doc["steps"]) == (ExitCode.USAGE, [])
    assert doc["error"].startswith("no stack chosen: pass --stack NAME")
    assert doc["result"]["details"]["stackFiles"] == ["prod", "staging"]
