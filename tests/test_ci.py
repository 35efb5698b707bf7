"""The reviewer's summary: traffic headline, per-colour table, release-guard warnings, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bluegreen.ci.__main__ import main
from bluegreen.ci.bake_report import bake_summary
from bluegreen.ci.drift import GuardDecision, drift_guard, unrecorded_traffic_change
from bluegreen.ci.summary import (
    SummaryError,
    headline,
    traffic_from_config,
    traffic_from_outputs,
    traffic_summary,
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
        "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123",  # the production baseline
        "publicHostname": "app.example.com",  # the name the certificate covers
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


# What the guardian wrote after it moved traffic off green, for the deployment `stateId` names.
GUARDIAN_RECORD = {
    "action": "rollback",
    "from": "green",
    "to": "blue",
    "alarm": "bluegreen-dev-green-release-health",
    "at": "2026-12-02T10:00:00Z",
    "why": "bluegreen-dev-green-release-health is ALARM on green, which carried 100%; blue is armed",
    "stateId": "state-7",
}
GREEN_LIVE_WITH_GUARDIAN = {
    "activeColor": "green",
    "idleColor": "blue",
    "blueWeight": 0,
    "greenWeight": 100,
    "guardianStateId": "state-7",
    "guardianRecordParameter": "/bluegreen/bluegreen/dev/guardian-record",
}


def test_a_guardian_rollback_is_shown_and_a_change_that_sends_traffic_back_is_marked_refused():
    md = traffic_summary(config(activeColor="green"), outputs(**GREEN_LIVE_WITH_GUARDIAN), GUARDIAN_RECORD)

    refused = next(line for line in md.splitlines() if line.startswith("> ⛔"))
    assert "refused: the guardian rolled back from green to blue at 2026-12-02T10:00:00Z" in refused
    assert "`activeColor: blue`" in refused and "`guardianAck: 2026-12-02T10:00:00Z`" in refused


@pytest.mark.parametrize(
    "change",
    [{"activeColor": "blue"}, {"activeColor": "green", "guardianAck": "2026-12-02T10:00:00Z"}],
    ids=["accepts", "acknowledges"],
)
def test_a_change_that_accepts_or_acknowledges_the_guardian_rollback_is_not_refused(change):
    md = traffic_summary(config(**change), outputs(**GREEN_LIVE_WITH_GUARDIAN), GUARDIAN_RECORD)

    assert "> ⛔" not in md
    assert "> ℹ️ the guardian rolled back from green to blue" in md


def test_a_guardian_record_from_an_earlier_deployment_is_not_shown():
    earlier = outputs(**{**GREEN_LIVE_WITH_GUARDIAN, "guardianStateId": "state-8"})  # an update since recorded it

    assert "guardian" not in traffic_summary(config(activeColor="green"), earlier, GUARDIAN_RECORD)


def test_gate_bypass_is_a_warning_in_the_summary_and_the_pr_comment():
    # The summary is both the CI job summary and the PR comment (.github/workflows/preview.yml).
    assert not [w for w in warnings(traffic_summary(config(), outputs())) if "gateBypass" in w]
    (line,) = [w for w in warnings(traffic_summary(config(gateBypass="true"), outputs())) if "gateBypass" in w]
    assert line.startswith("> ⚠️ **`gateBypass` is true**: this update moves traffic without the traffic gate's checks")


def test_every_weakening_of_safety_is_a_warning_in_the_summary_and_the_pr_comment():
    # Issue 22: loosened thresholds, a disarmed guardian and a lowered pack were silent.
    assert not [w for w in warnings(traffic_summary(config(), outputs())) if "weakened safety" in w]
    weakened = config(
        rollbackErrorRatePercent="10",
        rollbackLatencyP99Ms="500",  # tighter: not a weakening
        rollbackMinHealthyPercent="50",
        alarmEvaluationMinutes="5",
        bakeMinutes="0",
        guardianArmed="off",
    )
    policy = {"alb-access-logs-enabled": "advisory", "alb-deletion-protection": {"enforcementLevel": "disabled"}}

    lines = [w for w in warnings(traffic_summary(weakened, outputs(), policy_config=policy)) if "weakened" in w]

    assert lines == [
        "> ⚠️ **weakened safety**: `guardianArmed` is off: the guardian never rolls back, canary included.",
        "> ⚠️ **weakened safety**: `rollbackErrorRatePercent` is 10, looser than the default 5: the 5xx alarm needs "
        "more errors.",
        "> ⚠️ **weakened safety**: `rollbackMinHealthyPercent` is 50, looser than the default 100: the healthy-hosts "
        "alarm lets more targets fail.",
        "> ⚠️ **weakened safety**: `alarmEvaluationMinutes` is 5, looser than the default 3: every alarm waits "
        "longer before it fires.",
        "> ⚠️ **weakened safety**: `bakeMinutes` is 0, looser than the default 15: a new live colour is watched for "
        "less time.",
        "> ⚠️ **weakened safety**: policy `alb-access-logs-enabled` is advisory (mandatory by default).",
        "> ⚠️ **weakened safety**: policy `alb-deletion-protection` is disabled (mandatory by default).",
    ]


def test_an_override_the_last_update_used_is_shown_as_refused_until_it_is_confirmed():
    last = outputs(emergencyOverrides={"usedAt": "2026-12-01T08:00:00Z", "gateBypass": True})

    md = traffic_summary(config(gateBypass="true"), last)
    (refused,) = [line for line in md.splitlines() if line.startswith("> ⛔")]
    assert refused.startswith("> ⛔ **refused**: gateBypass=true already applied to the last update")
    assert "`pulumi config set bluegreen:emergencyAck 2026-12-01T08:00:00Z`" in refused
    assert "> ⛔" not in traffic_summary(config(gateBypass="true", emergencyAck="2026-12-01T08:00:00Z"), last)
    assert "> ⛔" not in traffic_summary(config(), last)


def write_policy_file(project: Path, stack: str, content: Any) -> Path:
    (project / "policies" / "stacks").mkdir(parents=True, exist_ok=True)
    (project / "policies" / "PulumiPolicy.yaml").write_text("runtime: python\n", encoding="utf-8")
    path = project / "policies" / "stacks" / f"{stack}.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


def test_the_cli_lists_what_the_stacks_policy_file_lowers(project, capsys):
    write_policy_file(project, "dev", {"instances-without-public-ip": "advisory"})

    assert main(["--stack", "dev", "--project-dir", str(project)]) == 0

    out = capsys.readouterr().out
    assert "> ⚠️ **weakened safety**: policy `instances-without-public-ip` is advisory (mandatory by default)." in out


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ({"all": "disabled"}, '"all": "disabled" (it lowers every policy, the safety policies too)'),
        ({"rollback-readiness": {"enforcementLevel": "advisory"}}, '"rollback-readiness": "advisory"'),
    ],
    ids=["all", "safety-policy"],
)
def test_the_cli_refuses_a_policy_file_that_lowers_more_than_the_baseline(project, capsys, content, named):
    path = write_policy_file(project, "dev", content)

    assert main(["--stack", "dev", "--project-dir", str(project)]) == 2

    captured = capsys.readouterr()
    assert captured.out.startswith(f"### `dev`\n\n> ⛔ **refused**: {path} lowers {named}; ")  # the job summary
    assert captured.err.startswith(f"bluegreen.ci: {path} lowers {named}; a stack's policy file may lower only the ")
    assert "(alb-access-logs-enabled, alb-deletion-protection, instances-without-public-ip)" in captured.err


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
  bluegreen:certificateArn: arn:aws:acm:eu-west-1:123456789012:certificate/abc-123
  bluegreen:publicHostname: app.example.com
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


def test_cli_reads_the_guardian_record_parameters_value(project, capsys):
    live = write_outputs(project, outputs(**GREEN_LIVE_WITH_GUARDIAN))
    record = project / "guardian-record.json"
    record.write_text(json.dumps(GUARDIAN_RECORD), encoding="utf-8")

    args = ["--stack", "dev", "--outputs", str(live), "--project-dir", str(project), "--guardian-record", str(record)]
    assert main(args) == 0  # the summary reports; the program itself refuses the update

    assert "> ⛔ **refused: the guardian rolled back from green to blue" in capsys.readouterr().out
    record.write_text("{}", encoding="utf-8")  # the value the parameter starts with: no decision yet
    assert main(args) == 0
    assert "guardian" not in capsys.readouterr().out


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
def test_cli_without_outputs_or_with_empty_ones_is_a_first_deploy(project, capsys, content):
    args = ["--stack", "dev", "--project-dir", str(project)]
    if content is not None:
        path = project / "outputs.json"
        path.write_text(content, encoding="utf-8")
        args += ["--outputs", str(path)]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[2] == "**traffic: first deploy → green 100%**"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--outputs", "--outputs {path} does not exist: write it with `pulumi stack output --json > {path}`"),
        ("--bake-report", "--bake-report {path} does not exist: it is the stdout of `python -m bluegreen bake --json`"),
    ],
)
def test_cli_a_file_that_is_not_there_is_an_error_not_a_first_deploy(project, capsys, flag, message):
    path = project / "outptus.json"  # a typo

    assert main(["--stack", "dev", "--project-dir", str(project), flag, str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message.format(path=path) in captured.err


def test_cli_accepts_a_fully_qualified_stack_name(project, capsys):
    assert main(["--stack", "acme/bluegreen/dev", "--project-dir", str(project)]) == 0
    assert capsys.readouterr().out.startswith("### bluegreen `dev`\n")


@pytest.mark.parametrize(
    ("stack", "outputs_text", "message"),
    [
        ("prod", None, "no stack file Pulumi.prod.yaml"),
        ("dev", "not json", "is not JSON"),
        ("dev", "[1, 2]", "expected an object of stack outputs"),
        ("dev", '{"activeColor": "purple"}', "(activeColor='purple'), so it cannot tell which colour serves traffic"),
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


def test_cli_refuses_an_unknown_key_in_the_stack_file(project, capsys):
    stack_file = project / "Pulumi.dev.yaml"
    stack_file.write_text(STACK_YAML.replace("bluegreen:activeColor:", "bluegreen:activeColour:"), encoding="utf-8")

    assert main(["--stack", "dev", "--project-dir", str(project)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "bluegreen.ci: invalid stack config: unknown key bluegreen:activeColour (did you mean activeColor?); "
        "docs/reference/config.md lists every bluegreen: key\n"
    )


def test_cli_reads_only_the_bluegreen_namespace_in_a_project_of_another_name(tmp_path, capsys):
    # Your own program (examples/own-app): its project's keys and aws: keys are not the program's.
    (tmp_path / "Pulumi.yaml").write_text(
        "name: shop\nruntime: python\nconfig:\n  albSubnetIds: {type: array, items: {type: string}, default: []}\n",
        encoding="utf-8",
    )
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  shop:albSubnetIds: [subnet-1]\n  shop:activeColour: x\n"
        "  bluegreen:activeColor: green\n  bluegreen:allowInsecurePreview: true\n",
        encoding="utf-8",
    )

    assert main(["--stack", "dev", "--project-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[2] == "**traffic: first deploy → green 100%**"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "config:\n  bluegreen:activeColor: green\n  bluegreen:greenRelease v2\n  bluegreen:blueRelease: v1\n",
            " line 3, column 3: not valid YAML (while scanning a simple key: could not find expected ':' at line 4, "
            "column 3)",
        ),
        (
            "config:\n  bluegreen:activeColor: green\n   bluegreen:blueRelease: v1\n",
            " line 3, column 25: not valid YAML (mapping values are not allowed here)",
        ),
        ("config:\n  - bluegreen:activeColor: green\n", ": `config:` must be a mapping of keys to values, got a list"),
    ],
)
def test_cli_names_the_file_and_line_of_a_stack_file_it_cannot_read(project, capsys, text, where):
    stack_file = project / "Pulumi.dev.yaml"
    stack_file.write_text(text, encoding="utf-8")

    assert main(["--stack", "dev", "--project-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bluegreen.ci: {stack_file}{where}") and err.count("\n") == 1


def test_python_dash_m_runs_standalone(project):
    path = write_outputs(project, outputs(greenRelease="v2"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bluegreen.ci",
            "--stack",
            "dev",
            "--outputs",
            str(path),
            "--project-dir",
            str(project),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert "**traffic: blue 100% → green 100%**" in result.stdout.splitlines()


# ---- deploy guard: traffic moved outside git ---------------------------------------------------

GREEN_LIVE = {"activeColor": "green", "idleColor": "blue", "blueWeight": 0, "greenWeight": 100}


def test_unrecorded_switch_is_caught_when_the_push_leaves_traffic_alone():
    # main said blue; a switch outside git moved traffic to green; this push changes nothing about traffic
    decision = drift_guard(config(), config(blueRelease="v1"), outputs(**GREEN_LIVE))
    assert decision.refuse
    assert decision.message is not None
    assert decision.message.startswith(
        "live traffic is green 100% but the config before this change says blue 100% and this change leaves "
        "traffic alone: the stack was switched or rolled back outside git"
    )
    assert "force: true" in decision.message


@pytest.mark.parametrize(
    "pushed",
    [
        config(idleTrafficPercent="10"),  # a canary on top of a main that is already stale
        config(idleTrafficPercent="50"),
        config(activeColor="green", idleTrafficPercent="10"),  # moves traffic, but not to what is live
    ],
)
def test_a_push_that_moves_traffic_is_refused_too_when_live_traffic_was_not_recorded(pushed):
    # The old rule let any push that touched traffic through; it would have undone the unrecorded switch.
    message = unrecorded_traffic_change(config(), pushed, outputs(**GREEN_LIVE))
    assert message is not None
    assert message.startswith(
        "live traffic is green 100% but the config before this change says blue 100% and this change asks for "
    )


def test_a_push_that_records_exactly_the_live_traffic_passes_with_a_note():
    decision = drift_guard(config(), config(activeColor="green"), outputs(**GREEN_LIVE))
    assert not decision.refuse
    assert decision.message == (
        "live traffic (green 100%) was moved outside git away from blue 100%; this change records it, "
        "so deploying leaves traffic where it is."
    )
    assert unrecorded_traffic_change(config(), config(activeColor="green"), outputs(**GREEN_LIVE)) is None


def test_recording_a_canary_needs_the_same_weights():
    canary_live = outputs(blueWeight=90, greenWeight=10)
    assert drift_guard(config(), config(idleTrafficPercent="10"), canary_live) == GuardDecision(
        False,
        "live traffic (blue 90% / green 10%) was moved outside git away from blue 100%; this change records it, "
        "so deploying leaves traffic where it is.",
    )
    assert drift_guard(config(), config(idleTrafficPercent="20"), canary_live).refuse
    assert drift_guard(config(), config(), canary_live).refuse


def test_same_weights_on_the_other_active_colour_is_drift():
    # 50/50 either way: the weights match but the active colour (and so the flip target) does not
    live = outputs(activeColor="green", idleColor="blue", blueWeight=50, greenWeight=50)
    assert drift_guard(config(idleTrafficPercent="50"), config(idleTrafficPercent="50"), live).refuse
    assert not drift_guard(
        config(idleTrafficPercent="50"), config(activeColor="green", idleTrafficPercent="50"), live
    ).refuse


def test_deliberate_traffic_change_when_main_matches_live_passes_silently():
    assert drift_guard(config(), config(activeColor="green"), outputs()) == GuardDecision(False)  # push flips
    assert drift_guard(config(), config(idleTrafficPercent="10"), outputs()) == GuardDecision(False)  # canary
    assert drift_guard(config(), config(), outputs()) == GuardDecision(False)  # nothing moves
    assert drift_guard(config(), config(), {}) == GuardDecision(False)  # first deploy


def test_idle_scale_down_is_not_traffic():
    assert not drift_guard(config(), config(idleScaledDown="true"), outputs(idleScaledDown=True)).refuse


def test_manual_run_compares_with_its_own_commit():
    # deploy.yml on workflow_dispatch without force passes this commit as its own base: it refuses exactly
    # when live traffic differs from main, and passes when they agree
    assert drift_guard(config(), config(), outputs(**GREEN_LIVE)).refuse
    assert not drift_guard(config(activeColor="green"), config(activeColor="green"), outputs(**GREEN_LIVE)).refuse


@pytest.fixture
def base(tmp_path: Path) -> Path:
    path = tmp_path / "base"
    path.mkdir()
    (path / "Pulumi.yaml").write_text(PROJECT_YAML, encoding="utf-8")
    (path / "Pulumi.dev.yaml").write_text(STACK_YAML, encoding="utf-8")  # green live, like the project
    return path


def test_cli_base_project_dir_exits_3_on_unrecorded_traffic(project, base, capsys):
    live = write_outputs(project, outputs(greenRelease="v2"))  # blue is live: rolled back outside git
    args = ["--stack", "dev", "--outputs", str(live), "--project-dir", str(project), "--base-project-dir", str(base)]
    assert main(args) == 3
    captured = capsys.readouterr()
    assert (
        "> ⛔ **not deploying**: live traffic is blue 100% but the config before this change says green 100% "
        "and this change leaves traffic alone"
    ) in captured.out
    assert captured.out.startswith("### bluegreen `dev`\n")  # the summary is still there, above the refusal
    assert "switched or rolled back outside git" in captured.err


def test_cli_refuses_a_push_that_moves_traffic_away_from_an_unrecorded_state(project, base, capsys):
    # main said blue (base); green went live outside git; the push asks for blue 90% / green 10%
    (base / "Pulumi.dev.yaml").write_text(STACK_YAML.replace("activeColor: green", "activeColor: blue"), "utf-8")
    (project / "Pulumi.dev.yaml").write_text(
        STACK_YAML.replace("activeColor: green", "activeColor: blue\n  bluegreen:idleTrafficPercent: 10"), "utf-8"
    )
    live = write_outputs(project, outputs(**GREEN_LIVE, greenRelease="v2"))
    args = ["--stack", "dev", "--outputs", str(live), "--project-dir", str(project), "--base-project-dir", str(base)]
    assert main(args) == 3
    assert "this change asks for blue 90% / green 10%" in capsys.readouterr().out


def test_cli_passes_the_push_that_records_live_traffic_and_says_so(project, base, capsys):
    (base / "Pulumi.dev.yaml").write_text(STACK_YAML.replace("activeColor: green", "activeColor: blue"), "utf-8")
    live = write_outputs(project, outputs(**GREEN_LIVE, greenRelease="v2"))  # the project's stack file says green
    args = ["--stack", "dev", "--outputs", str(live), "--project-dir", str(project), "--base-project-dir", str(base)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "> ℹ️ **drift recorded**: live traffic (green 100%) was moved outside git away from blue 100%" in captured.out
    assert captured.err == ""


def test_cli_passes_a_deliberate_flip_when_main_matched_live(project, base, capsys):
    (base / "Pulumi.dev.yaml").write_text(STACK_YAML.replace("activeColor: green", "activeColor: blue"), "utf-8")
    live = write_outputs(project, outputs(greenRelease="v2"))  # blue live, as main said: the push flips
    args = ["--stack", "dev", "--outputs", str(live), "--project-dir", str(project), "--base-project-dir", str(base)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "**traffic: blue 100% → green 100%**" in out
    assert "> ⛔" not in out and "> ℹ️" not in out


def test_cli_without_base_project_dir_never_guards(project, capsys):
    live = write_outputs(project, outputs(greenRelease="v2"))  # blue live, config green: a flip, not drift
    assert main(["--stack", "dev", "--outputs", str(live), "--project-dir", str(project)]) == 0
    assert "not deploying" not in capsys.readouterr().out


# ---- bake report (switch.yml puts it in the job summary) -----------------------------------------


def bake_report(decision: dict[str, Any] | None, exit_code: int = 0, error: str | None = None) -> dict[str, Any]:
    steps = [
        {
            "name": "bake green for 15 min",
            "status": "ok" if exit_code == 0 else "tripped",
            "seconds": 900.2,
            "detail": "no alarm" if exit_code == 0 else "alarm",
        }
    ]
    return {
        "command": "bake",
        "ok": exit_code == 0,
        "exitCode": exit_code,
        "steps": steps,
        "result": {} if decision is None else {"decision": decision},
        "error": error,
    }


KEEP: dict[str, Any] = {
    "decision": "keep",
    "color": "green",
    "release": "v2",
    "rollbackTo": None,
    "elapsedSeconds": 900.0,
    "polls": 31,
    "startedAt": "2026-01-01T12:00:00Z",
    "decidedAt": "2026-01-01T12:15:00Z",
    "fired": [],
    "smokeFailures": [],
    "minutes": 15.0,
    "alarms": {},
}


def test_bake_summary_keep():
    md = bake_summary(bake_report(KEEP), "prod")
    lines = md.splitlines()
    assert lines[0] == "### bake `prod`"
    assert lines[2] == (
        "**KEEP green** (release `v2`): no alarm in 900s over 31 polls (2026-01-01T12:00:00Z → 2026-01-01T12:15:00Z)"
    )
    assert "| bake green for 15 min | ok | 900.2 | no alarm |" in lines
    assert "**error**" not in md


def test_bake_summary_no_keep_says_the_target_stays_held():
    short = {**KEEP, "decision": "no-keep", "minutes": 0.0, "elapsedSeconds": 0.0, "polls": 1, "bakeMinutes": 15}
    md = bake_summary(bake_report(short), "prod")
    assert md.splitlines()[2] == (
        "**NO KEEP green** (release `v2`): no alarm in 0s, but 0.0 min is shorter than bakeMinutes (15): the "
        "rollback target stays held"
    )


def test_bake_summary_rollback_names_the_alarm_and_escapes_table_cells():
    fired = {
        "alarm": "bluegreen-green-alarms-5xx-rate",
        "state": "ALARM",
        "since": "2026-01-01T12:00:45Z",
        "metric": "HTTPCode_Target_5XX_Count",
        "threshold": 5.0,
        "values": [12.0, 9.0],
        "reason": "Threshold Crossed:\n 2 datapoints | greater than 5.0",
    }
    decision = {
        **KEEP,
        "decision": "rollback",
        "rollbackTo": "blue",
        "elapsedSeconds": 60.0,
        "polls": 4,
        "decidedAt": "2026-01-01T12:01:00Z",
        "fired": [fired],
        "smokeFailures": [{"check": "version", "detail": "status 500", "attempts": 3}],
    }
    error = "bluegreen-green-alarms-5xx-rate fired during bake; traffic is back on blue"
    md = bake_summary(bake_report(decision, 3, error), "prod")
    lines = md.splitlines()
    assert lines[2] == (
        "**ROLLED BACK green → blue** (release `v2`): tripped 60s into the bake, at 2026-01-01T12:01:00Z (4 polls)"
    )
    assert (
        "| bluegreen-green-alarms-5xx-rate | ALARM | 2026-01-01T12:00:45Z | HTTPCode_Target_5XX_Count | 5.0 "
        "| [12.0, 9.0] | Threshold Crossed: 2 datapoints \\| greater than 5.0 |"
    ) in lines
    assert "- smoke check `version` failed: status 500" in lines
    assert f"**error** (exit 3): {error}" in lines


def test_bake_summary_lists_the_tools_warnings():
    report = {
        **bake_report(KEEP),
        "warnings": ["config bluegreen:bakeMinutes=1 is shorter than the 5 minutes it takes an alarm to fire"],
    }
    md = bake_summary(report, "prod")
    assert "- ⚠️ config bluegreen:bakeMinutes=1 is shorter than the 5 minutes it takes an alarm to fire" in md


def test_bake_summary_interrupted_rollback():
    decision = {**KEEP, "decision": "rollback-interrupted", "rollbackTo": "blue"}
    md = bake_summary(bake_report(decision, 130, "interrupted"), "prod")
    assert md.splitlines()[2].startswith("**ROLLBACK INTERRUPTED green → blue** (release `v2`)")


def test_bake_summary_without_a_decision_says_so():
    md = bake_summary(bake_report(None, 2, "config bluegreen:idleTrafficPercent=10: a switch is in progress"), "dev")
    assert md.splitlines()[2] == (
        "**bake did not decide** (exit 2): config bluegreen:idleTrafficPercent=10: a switch is in progress"
    )


def test_cli_bake_report(tmp_path, capsys):
    path = tmp_path / "bake.json"
    path.write_text(json.dumps(bake_report(KEEP)), encoding="utf-8")
    assert main(["--stack", "org/bluegreen/prod", "--bake-report", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[2].startswith("**KEEP green**")


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "printed no JSON report"), ("{", "is not JSON"), ("[]", "expected the tool's --json report")],
)
def test_cli_bad_bake_report_exits_2(tmp_path, capsys, content, message):
    path = tmp_path / "bake.json"
    path.write_text(content, encoding="utf-8")
    assert main(["--stack", "prod", "--bake-report", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


# -- release-spec settings and the shared edge ---------------------------------------------------------------
def deployed_stack_outputs(**config: Any) -> dict[str, Any]:
    """The outputs of a real program run (under mocks), as the next PR's summary reads them."""
    from tests.harness import deployed, run_program

    return deployed(run_program(config))


def test_a_fleet_setting_is_shown_reaching_the_idle_colour_and_pending_on_the_live_one():
    md = traffic_summary(config(instanceType="t3.large"), deployed_stack_outputs())
    assert "> ℹ️ **green (idle) gets** `instanceType t3.micro → t3.large` in this update" in md
    assert (
        "> ⏳ pending: instanceType t3.micro → t3.large: on green (idle) now; blue gets it when it is idle and "
        "restaged" in md
    )
    assert first_line(md) == "**traffic: unchanged (blue 100%)**"


def test_a_flip_carrying_a_fleet_setting_is_shown_as_refused():
    md = traffic_summary(config(activeColor="green", appPort="9090"), deployed_stack_outputs())
    assert (
        "> ⚠️ **traffic moves to green with release-spec changes** (`appPort 8080 → 9090`): the program refuses this."
        in md
    )


def test_a_shared_edge_change_says_it_is_in_place_for_both_colours():
    # As deployed: only the CIDRs change.
    same_edge = {"certificateArn": "", "publicHostname": "", "allowInsecurePreview": "true"}
    md = traffic_summary(config(**same_edge, allowedCidrs='["203.0.113.0/24"]'), deployed_stack_outputs())
    assert (
        "> ℹ️ **shared edge, in place for both colours at once**: `allowedCidrs ['0.0.0.0/0'] → ['203.0.113.0/24']`"
        in md
    )


# -- the drift guard trusts the listener over the outputs ------------------------------------------------------
BLUE_TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/blue/1"
GREEN_TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/green/2"


def described_listener(blue: int, green: int) -> dict[str, Any]:
    """`aws elbv2 describe-listeners --listener-arns <arn>`, as the deploy workflow writes it."""
    groups = [{"TargetGroupArn": BLUE_TG, "Weight": blue}, {"TargetGroupArn": GREEN_TG, "Weight": green}]
    return {"Listeners": [{"DefaultActions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]}]}


def test_a_listener_that_contradicts_the_outputs_stops_the_deploy(project, base, capsys, tmp_path):
    # main and the outputs agree on green, but an interrupted flip left the listener on blue.
    (base / "Pulumi.dev.yaml").write_text(STACK_YAML, "utf-8")
    live = write_outputs(
        project, outputs(**GREEN_LIVE, greenRelease="v2", blueTargetGroupArn=BLUE_TG, greenTargetGroupArn=GREEN_TG)
    )
    listener = tmp_path / "listener.json"
    args = ["--stack", "dev", "--outputs", str(live), "--project-dir", str(project), "--base-project-dir", str(base)]

    listener.write_text(json.dumps(described_listener(0, 100)))
    assert main([*args, "--listener", str(listener)]) == 0
    capsys.readouterr()

    listener.write_text(json.dumps(described_listener(100, 0)))
    assert main([*args, "--listener", str(listener)]) == 3
    assert (
        "> ⛔ **not deploying**: the production listener sends blue=100 green=0, but the last outputs say blue=0 "
        "green=100" in capsys.readouterr().out
    )


def test_a_stack_without_the_production_baseline_says_so_on_every_change():
    dev = config(
        certificateArn="",
        allowInsecurePreview="true",
        albDeletionProtection="false",
        accessLogs="false",
        privateInstances="false",
    )

    (line,) = [line for line in traffic_summary(dev, outputs()).splitlines() if "production baseline" in line]

    assert "HTTPS on the preview route (`allowInsecurePreview`" in line
    assert "ALB deletion protection (`albDeletionProtection`)" in line
    assert "ALB access logs (`accessLogs`)" in line
    assert "private instances (`privateInstances`" in line
    assert "production baseline" not in traffic_summary(config(), outputs())  # Pulumi.yaml's defaults


def test_a_stack_being_decommissioned_says_its_load_balancer_is_unprotected():
    (line,) = [
        line
        for line in traffic_summary(config(decommission="true"), outputs()).splitlines()
        if "production baseline" in line
    ]

    assert "ALB deletion protection (`decommission`: this stack is about to be destroyed)" in line
    assert "`albDeletionProtection`" not in line
