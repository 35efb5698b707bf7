"""The reviewer's summary: traffic headline, per-colour table, release-guard warnings, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bluegreen.summary import (
    SummaryError,
    headline,
    main,
    traffic_from_config,
    traffic_from_outputs,
    traffic_summary,
    unrecorded_traffic_change,
    weights,
)

REPO = Path(__file__).resolve().parent.parent
AMI_BLUE = "ami-0123456789abcdef0"
AMI_GREEN = "ami-0fedcba9876543210"


def config(**changes: str) -> dict[str, str]:
    """The new config in wire form: blue live with v1, green idle with v1, explicit AMIs."""
    base = {
        "activeColor": "blue",
        "idleTrafficPercent": "0",
        "blueRelease": "v1",
        "greenRelease": "v1",
        "blueImageId": AMI_BLUE,
        "greenImageId": AMI_GREEN,
        "allowLiveRelease": "false",
        "idleScaledDown": "false",
    }
    base.update(changes)
    return base


def outputs(**changes: Any) -> dict[str, Any]:
    """Last deployed outputs matching `config()`, as `pulumi stack output --json` prints them."""
    base: dict[str, Any] = {
        "activeColor": "blue",
        "idleColor": "green",
        "blueWeight": 100,
        "greenWeight": 0,
        "blueRelease": "v1",
        "greenRelease": "v1",
        "blueImageId": AMI_BLUE,
        "greenImageId": AMI_GREEN,
        "idleScaledDown": False,
        "previewToken": "[secret]",
    }
    base.update(changes)
    return base


def first_line(markdown: str) -> str:
    return markdown.splitlines()[0]


def row(markdown: str, color: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(f"| {color} |"))


def warnings(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("> ⚠️")]


def test_weights_active_gets_the_rest_idle_gets_its_share():
    assert weights("blue", 0) == {"blue": 100, "green": 0}
    assert weights("green", 10) == {"green": 90, "blue": 10}
    assert weights("blue", 50) == {"blue": 50, "green": 50}


@pytest.mark.parametrize(("active", "idle"), [("purple", 0), ("blue", 51), ("blue", -1)])
def test_weights_reject_values_the_program_rejects(active, idle):
    with pytest.raises(SummaryError):
        weights(active, idle)


def test_unchanged():
    md = traffic_summary(config(), outputs())
    assert first_line(md) == "**traffic: unchanged (blue 100%)**"
    assert row(md, "blue") == f"| blue | live 100% | `v1` | `{AMI_BLUE}` |"
    assert row(md, "green") == f"| green | idle 0% | `v1` | `{AMI_GREEN}` |"
    assert "(changed)" not in md
    assert warnings(md) == []


def test_flip():
    before, after = outputs(greenRelease="v2"), config(activeColor="green", greenRelease="v2")
    assert headline(traffic_from_outputs(before), traffic_from_config(after)) == "traffic: blue 100% → green 100%"
    md = traffic_summary(after, before)
    assert first_line(md) == "**traffic: blue 100% → green 100%**"
    assert row(md, "blue") == f"| blue | live 100% → idle 0% | `v1` | `{AMI_BLUE}` |"
    assert row(md, "green") == f"| green | idle 0% → live 100% | `v2` | `{AMI_GREEN}` |"
    assert warnings(md) == []


def test_flip_with_a_release_change_warns():
    # green was staged and tested with v2; flipping to it with another release puts an untested build live
    md = traffic_summary(config(activeColor="green", greenRelease="v3"), outputs(greenRelease="v2"))
    assert first_line(md) == "**traffic: blue 100% → green 100%**"
    assert row(md, "green").startswith("| green | idle 0% → live 100% | `v2` → `v3` (changed) |")
    [warning] = warnings(md)
    assert warning.startswith("> ⚠️ **green serves traffic and its release changes**")


def test_rollback_after_a_flip():
    live = outputs(activeColor="green", idleColor="blue", blueWeight=0, greenWeight=100, greenRelease="v2")
    md = traffic_summary(config(activeColor="blue", greenRelease="v2"), live)
    assert first_line(md) == "**traffic: green 100% → blue 100%**"
    assert row(md, "blue").startswith("| blue | idle 0% → live 100% | `v1` |")
    assert row(md, "green").startswith("| green | live 100% → idle 0% | `v2` |")
    assert warnings(md) == []


def test_canary():
    md = traffic_summary(config(idleTrafficPercent="10", greenRelease="v2"), outputs(greenRelease="v2"))
    assert first_line(md) == "**traffic: blue 100% → blue 90% / green 10%**"
    assert row(md, "blue").startswith("| blue | live 100% → live 90% |")
    assert row(md, "green").startswith("| green | idle 0% → idle 10% | `v2` |")
    assert warnings(md) == []


def test_rollback_of_a_canary():
    md = traffic_summary(config(greenRelease="v2"), outputs(blueWeight=90, greenWeight=10, greenRelease="v2"))
    assert first_line(md) == "**traffic: blue 90% / green 10% → blue 100%**"
    assert row(md, "green").startswith("| green | idle 10% → idle 0% | `v2` |")


def test_staging_changes_the_idle_release_only():
    md = traffic_summary(config(greenRelease="v2", greenImageId="ami-0aaaaaaaaaaaaaaaa"), outputs())
    assert first_line(md) == "**traffic: unchanged (blue 100%)**"
    assert row(md, "blue") == f"| blue | live 100% | `v1` | `{AMI_BLUE}` |"
    assert row(md, "green") == (
        f"| green | idle 0% | `v1` → `v2` (changed) | `{AMI_GREEN}` → `ami-0aaaaaaaaaaaaaaaa` (changed) |"
    )
    assert warnings(md) == []


def test_first_deploy():
    md = traffic_summary(config(blueImageId="", greenImageId=""), {})
    assert first_line(md) == "**traffic: first deploy → blue 100%**"
    assert row(md, "blue") == "| blue | live 100% | `v1` | latest AL2023 (looked up at deploy) |"
    assert row(md, "green") == "| green | idle 0% | `v1` | latest AL2023 (looked up at deploy) |"
    assert warnings(md) == []


def test_live_release_change_warns_that_the_program_refuses_it():
    md = traffic_summary(config(blueRelease="v2"), outputs())
    assert first_line(md) == "**traffic: unchanged (blue 100%)**"
    assert row(md, "blue").startswith("| blue | live 100% | `v1` → `v2` (changed) |")
    [warning] = warnings(md)
    assert "blue serves traffic and its release changes" in warning
    assert "refuses this unless `allowLiveRelease` is true" in warning


def test_live_release_change_with_allow_live_release_still_warns():
    md = traffic_summary(config(blueRelease="v2", allowLiveRelease="true"), outputs())
    [warning] = warnings(md)
    assert "allowed only because `allowLiveRelease` is true" in warning


def test_release_change_on_the_canary_colour_warns():
    md = traffic_summary(config(idleTrafficPercent="10", greenRelease="v3"), outputs(greenRelease="v2"))
    [warning] = warnings(md)
    assert warning.startswith("> ⚠️ **green serves traffic")


def test_empty_image_id_is_pinned_while_live_and_looked_up_while_idle():
    md = traffic_summary(config(blueImageId="", greenImageId=""), outputs())
    assert row(md, "blue").endswith(f"| `{AMI_BLUE}` (pinned while live) |")
    assert row(md, "green").endswith(f"| `{AMI_GREEN}` → latest AL2023 (changed if newer) |")
    assert warnings(md) == []


def test_flip_while_idle_is_scaled_down_warns():
    md = traffic_summary(config(activeColor="green"), outputs(idleScaledDown=True))
    assert first_line(md) == "**traffic: blue 100% → green 100%**"
    assert row(md, "green").startswith("| green | idle 0% (scaled down) → live 100% |")
    assert any("the flip to green is refused" in w for w in warnings(md))


def test_weights_come_from_outputs_not_from_the_active_colour():
    # Outputs are what is live; a canary left running shows up even if activeColor alone says blue.
    live = traffic_from_outputs(outputs(blueWeight="75", greenWeight="25"))
    assert live is not None
    assert live.describe() == "blue 75% / green 25%"


def test_bad_config_is_an_error_not_a_summary():
    with pytest.raises(SummaryError, match="activeColor"):
        traffic_summary(config(activeColor="purple"), outputs())
    with pytest.raises(SummaryError, match="idleTrafficPercent"):
        traffic_summary(config(idleTrafficPercent="ten"), outputs())


# ---- CLI: stack files + outputs JSON ----------------------------------------------------------

PROJECT_YAML = """\
name: bluegreen
runtime: python
config:
  activeColor: {type: string, default: blue}
  idleTrafficPercent: {type: integer, default: 0}
  blueRelease: {type: string, default: v1}
  greenRelease: {type: string, default: v1}
  blueImageId: {type: string, default: ""}
  greenImageId: {type: string, default: ""}
  allowLiveRelease: {type: boolean, default: false}
  idleScaledDown: {type: boolean, default: false}
  tags: {type: array, items: {type: string}, default: []}
"""

STACK_YAML = """\
config:
  aws:region: eu-west-1
  bluegreen:activeColor: green
  bluegreen:blueRelease: v1
  bluegreen:greenRelease: v2
  bluegreen:tags: [team=platform]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(PROJECT_YAML, encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text(STACK_YAML, encoding="utf-8")
    return tmp_path


def write_outputs(project: Path, data: Any) -> Path:
    path = project / "outputs.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_cli_reads_stack_file_and_outputs(project, capsys):
    path = write_outputs(project, outputs(greenRelease="v2"))
    assert main(["--stack", "dev", "--outputs", str(path), "--project-dir", str(project)]) == 0
    md = capsys.readouterr().out
    lines = md.splitlines()
    assert lines[0] == "### bluegreen `dev`"
    assert lines[2] == "**traffic: blue 100% → green 100%**"
    assert row(md, "green").startswith("| green | idle 0% → live 100% | `v2` |")
    # stack file leaves image ids at the Pulumi.yaml default "": green becomes live, so it is pinned
    assert row(md, "green").endswith(f"| `{AMI_GREEN}` (pinned while live) |")


@pytest.mark.parametrize("content", [None, "", "  \n", "{}"])
def test_cli_missing_or_empty_outputs_is_a_first_deploy(project, capsys, content):
    args = ["--stack", "dev", "--project-dir", str(project)]
    if content is not None:
        path = project / "outputs.json"
        path.write_text(content, encoding="utf-8")
        args += ["--outputs", str(path)]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[2] == "**traffic: first deploy → green 100%**"


def test_cli_accepts_a_fully_qualified_stack_name(project, capsys):
    assert main(["--stack", "acme/bluegreen/dev", "--project-dir", str(project)]) == 0
    assert capsys.readouterr().out.startswith("### bluegreen `dev`\n")


@pytest.mark.parametrize(
    ("stack", "outputs_text", "message"),
    [
        ("prod", None, "no stack file Pulumi.prod.yaml"),
        ("dev", "not json", "is not JSON"),
        ("dev", "[1, 2]", "expected an object of stack outputs"),
        ("dev", '{"activeColor": "purple"}', "output activeColor is 'purple'"),
    ],
)
def test_cli_errors_exit_2_with_a_message(project, capsys, stack, outputs_text, message):
    args = ["--stack", stack, "--project-dir", str(project)]
    if outputs_text is not None:
        path = project / "outputs.json"
        path.write_text(outputs_text, encoding="utf-8")
        args += ["--outputs", str(path)]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_python_dash_m_runs_standalone(project):
    path = write_outputs(project, outputs(greenRelease="v2"))
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen.summary", "--stack", "dev", "--outputs", str(path),
         "--project-dir", str(project)],
        cwd=REPO, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert "**traffic: blue 100% → green 100%**" in result.stdout.splitlines()


# ---- deploy guard: traffic moved outside git ---------------------------------------------------


def test_unrecorded_switch_is_caught():
    # main said blue; a rollback/switch outside git moved traffic to green; this push changes nothing
    live = outputs(activeColor="green", blueWeight=0, greenWeight=100)
    message = unrecorded_traffic_change(config(), config(blueRelease="v1"), live)
    assert message is not None
    assert message.startswith("live traffic is green 100% but the config says blue 100%")


def test_deliberate_traffic_change_and_matching_state_pass_the_guard():
    live = outputs(activeColor="green", blueWeight=0, greenWeight=100)
    assert unrecorded_traffic_change(config(activeColor="green"), config(), live) is None  # push flips
    assert unrecorded_traffic_change(config(), config(), outputs()) is None  # live matches main
    assert unrecorded_traffic_change(config(), config(), {}) is None  # first deploy


def test_cli_base_project_dir_exits_3_on_unrecorded_traffic(project, tmp_path, capsys):
    base = tmp_path / "base"
    base.mkdir()
    (base / "Pulumi.yaml").write_text(PROJECT_YAML, encoding="utf-8")
    (base / "Pulumi.dev.yaml").write_text(STACK_YAML, encoding="utf-8")  # already green: push keeps traffic
    live = write_outputs(project, outputs(greenRelease="v2"))  # but blue is live (rolled back by hand)
    args = ["--stack", "dev", "--outputs", str(live), "--project-dir", str(project)]
    assert main([*args, "--base-project-dir", str(base)]) == 3
    captured = capsys.readouterr()
    assert "> ⛔ **not deploying**: live traffic is blue 100% but the config says green 100%" in captured.out
    assert "switched or rolled back outside git" in captured.err
    (base / "Pulumi.dev.yaml").write_text(STACK_YAML.replace("green\n", "blue\n", 1), encoding="utf-8")
    assert main([*args, "--base-project-dir", str(base)]) == 0  # the push itself flips: allowed
