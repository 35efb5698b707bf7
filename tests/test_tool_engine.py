"""The Automation API adapter: what it passes to pulumi.automation and how it maps errors.

The first tests replace `auto.select_stack` with a recording stack, so they run anywhere. The
last one drives the real Pulumi CLI and runs only where `pulumi` is on PATH.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult

from bluegreen.engine import AutomationEngine
from bluegreen.errors import EngineError, PreviewFailedError, StackLockedError, UsageError
from bluegreen.stackconfig import parse_config

PROJECT_YAML = """\
name: bluegreen
runtime: python
config:
  activeColor:
    type: string
    default: blue
  idleTrafficPercent:
    type: integer
    default: 0
  tags:
    type: array
    items:
      type: string
    default: []
"""


def _result(stderr: str) -> CommandResult:
    return CommandResult(stdout="", stderr=stderr, code=255)


class RecordingStack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.config: dict[str, auto.ConfigValue] = {
            "bluegreen:activeColor": auto.ConfigValue("green"),
            "aws:region": auto.ConfigValue("eu-west-1"),
        }
        self.fail_with: Exception | None = None
        self.fail_preview_with: Exception | None = None

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def up(self, **kwargs: Any) -> Any:
        self.calls.append(("up", kwargs))
        self._maybe_fail()
        kwargs["on_output"]("Updating (dev)")
        summary = type("Summary", (), {"resource_changes": {"update": 1, "same": 9}})()
        outputs = {"emergencyOverrides": auto.OutputValue({}, False)}  # what the update finished with
        return type("UpResult", (), {"summary": summary, "outputs": outputs})()

    def preview(self, **kwargs: Any) -> Any:
        self.calls.append(("preview", kwargs))
        if self.fail_preview_with is not None:
            raise self.fail_preview_with
        self._maybe_fail()
        return type("PreviewResult", (), {"change_summary": {"same": 10}})()

    def outputs(self) -> dict[str, auto.OutputValue]:
        return {"url": auto.OutputValue("http://x", False), "previewToken": auto.OutputValue("s3cret", True)}

    def get_all_config(self) -> dict[str, auto.ConfigValue]:
        return dict(self.config)

    def set_all_config(self, config: dict[str, auto.ConfigValue]) -> None:
        self.calls.append(("set_all_config", {"config": config}))
        self.config.update(config)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(PROJECT_YAML)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    return tmp_path


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, project: Path) -> RecordingStack:
    recording = RecordingStack()
    selected: list[dict[str, Any]] = []

    def select_stack(**kwargs: Any) -> RecordingStack:
        selected.append(kwargs)
        assert kwargs["work_dir"] == str(project)
        assert kwargs["stack_name"] == "dev"
        return recording

    monkeypatch.setattr(auto, "select_stack", select_stack)
    return recording


def test_up_and_preview_always_carry_the_policy_pack(stack: RecordingStack, project: Path) -> None:
    engine = AutomationEngine("dev", project_dir=project)
    lines: list[str] = []

    up = engine.up("bluegreen switch to green", lines.append)
    preview = engine.preview(lines.append)

    (_, up_preview_args), (_, up_args), (_, preview_args) = stack.calls
    for args in (up_preview_args, up_args, preview_args):
        assert args["policy_packs"] == [str(project / "policies")]
    assert preview_args["diff"] is True
    assert up_args["message"] == "bluegreen switch to green"
    assert lines == ["Updating (dev)"]
    assert up.describe() == "1 to update"
    assert up.outputs == {"emergencyOverrides": {}}
    assert preview.describe() == "no changes"


def test_a_stack_with_its_own_pack_config_gets_it_on_every_preview_and_update(
    stack: RecordingStack, project: Path
) -> None:
    # policies/stacks/<stack>.json: the dev stack runs without the production baseline, as advisory findings.
    (project / "policies" / "stacks").mkdir()
    config = project / "policies" / "stacks" / "dev.json"
    config.write_text('{"alb-deletion-protection": "advisory"}')

    engine = AutomationEngine("dev", project_dir=project)
    engine.up("bluegreen stage v2 on green", print)
    engine.preview(print)
    config.unlink()  # a stack without one runs the pack as it is
    engine.preview(print)

    assert [args["policy_pack_configs"] for _, args in stack.calls] == [[str(config)]] * 3 + [None]


@pytest.mark.parametrize(
    "content",
    [{"all": "disabled"}, {"blue-green-parity": "advisory", "alb-deletion-protection": "advisory"}],
    ids=["all", "safety-policy"],
)
def test_a_pack_config_that_lowers_more_than_the_baseline_is_refused_before_pulumi_runs(
    monkeypatch: pytest.MonkeyPatch, project: Path, content: dict[str, Any]
) -> None:
    # Issue 22: `{"all": "disabled"}` turned the whole pack off, silently.
    (project / "policies" / "stacks").mkdir()
    path = project / "policies" / "stacks" / "dev.json"
    path.write_text(json.dumps(content))
    selected: list[dict[str, Any]] = []
    monkeypatch.setattr(auto, "select_stack", lambda **kwargs: selected.append(kwargs))
    engine = AutomationEngine("dev", project_dir=project)

    def up() -> None:
        engine.up("x", print)

    def preview() -> None:
        engine.preview(print)

    for run in (up, preview):
        with pytest.raises(UsageError) as raised:
            run()
        assert raised.value.exit_code == 2
        assert raised.value.message.startswith(f"{path} lowers ")
        assert "may lower only the production baseline (alb-access-logs-enabled, " in raised.value.message
        assert "alb-deletion-protection" not in raised.value.message.split(";")[0]
    assert selected == []  # no pulumi command ran, not even `stack select`


def test_up_previews_first_because_the_update_skips_its_preview(stack: RecordingStack, project: Path) -> None:
    """`stack.up` runs `pulumi up --yes --skip-preview`, so stack policies would only see applied outputs."""
    AutomationEngine("dev", project_dir=project).up("bluegreen stage v2 on green", print)

    assert [name for name, _ in stack.calls] == ["preview", "up"]
    _, preview_args = stack.calls[0]
    assert preview_args["diff"] is True
    assert preview_args["message"] == "bluegreen stage v2 on green"


def test_a_failed_preview_means_up_never_runs(stack: RecordingStack, project: Path) -> None:
    stack.fail_preview_with = auto.CommandError(
        _result("error: preview failed: mandatory policy violation: rollback-readiness")
    )

    with pytest.raises(PreviewFailedError) as raised:
        AutomationEngine("dev", project_dir=project).up("x", print)

    assert [name for name, _ in stack.calls] == ["preview"]
    assert "`pulumi up` did not run and nothing was changed" in raised.value.message
    assert "mandatory policy violation: rollback-readiness" in raised.value.message
    assert raised.value.exit_code == 1


def test_a_locked_preview_before_up_is_a_lock_error(stack: RecordingStack, project: Path) -> None:
    stack.fail_preview_with = auto.ConcurrentUpdateError(_result("error: the stack is currently locked by 1 lock(s)"))

    with pytest.raises(StackLockedError):
        AutomationEngine("dev", project_dir=project).up("x", print)

    assert [name for name, _ in stack.calls] == ["preview"]


def test_missing_policy_pack_refuses_to_update(stack: RecordingStack, project: Path) -> None:
    (project / "policies" / "PulumiPolicy.yaml").unlink()

    with pytest.raises(UsageError, match=r"has no PulumiPolicy\.yaml"):
        AutomationEngine("dev", project_dir=project).up("x", print)
    assert stack.calls == []


def test_config_merges_project_defaults_with_stack_values(stack: RecordingStack, project: Path) -> None:
    engine = AutomationEngine("dev", project_dir=project)

    config = engine.config()
    engine.set_config({"idleTrafficPercent": "10"})

    assert config == {"activeColor": "green", "idleTrafficPercent": "0", "tags": "[]"}
    _, args = stack.calls[-1]
    assert {k: (v.value, v.secret) for k, v in args["config"].items()} == {
        "bluegreen:idleTrafficPercent": ("10", False)
    }


def test_in_a_project_of_another_name_the_tool_reads_and_writes_the_bluegreen_namespace(
    stack: RecordingStack, project: Path
) -> None:
    # Your own program (examples/own-app) reads `bluegreen:` with load_settings; its project's keys are its own.
    (project / "Pulumi.yaml").write_text("name: shop\nruntime: python\nconfig:\n  vpcId: {type: string, default: x}\n")
    stack.config["shop:activeColor"] = auto.ConfigValue("blue")
    engine = AutomationEngine("dev", project_dir=project)

    config = engine.config()
    engine.set_config({"idleTrafficPercent": "10"})

    assert config == {"activeColor": "green"}
    _, args = stack.calls[-1]
    assert list(args["config"]) == ["bluegreen:idleTrafficPercent"]
    sandbox = {**config, "allowInsecurePreview": "true"}
    assert parse_config(sandbox, project_dir=project).active == "green"  # the program's defaults fill in the rest


def test_outputs_are_plain_values_including_secrets(stack: RecordingStack, project: Path) -> None:
    assert AutomationEngine("dev", project_dir=project).outputs() == {"url": "http://x", "previewToken": "s3cret"}


def test_stack_lock_becomes_a_clear_lock_error(stack: RecordingStack, project: Path) -> None:
    stack.fail_with = auto.ConcurrentUpdateError(_result("error: the stack is currently locked by 1 lock(s)"))

    with pytest.raises(StackLockedError) as raised:
        AutomationEngine("dev", project_dir=project).up("x", print)

    assert "locked by another update" in raised.value.message
    assert "Only one release runs per stack at a time" in raised.value.message
    assert raised.value.exit_code == 4


def test_failed_update_becomes_an_engine_error_with_the_tail_of_stderr(stack: RecordingStack, project: Path) -> None:
    stack.fail_with = auto.CommandError(_result("error: release guard refused this update"))

    with pytest.raises(EngineError, match="release guard refused this update") as raised:
        AutomationEngine("dev", project_dir=project).preview(print)

    assert not isinstance(raised.value, StackLockedError)


def test_missing_stack_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    def select_stack(**_kwargs: Any) -> None:
        raise auto.StackNotFoundError(_result("no stack named 'dev' found"))

    monkeypatch.setattr(auto, "select_stack", select_stack)

    with pytest.raises(UsageError, match="pulumi stack init dev"):
        AutomationEngine("dev", project_dir=project).outputs()


def test_missing_pulumi_cli_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    def select_stack(**_kwargs: Any) -> None:
        raise FileNotFoundError(2, "No such file or directory", "pulumi")

    monkeypatch.setattr(auto, "select_stack", select_stack)

    with pytest.raises(UsageError, match="`pulumi` CLI is not on PATH"):
        AutomationEngine("dev", project_dir=project).config()


@pytest.mark.skipif(shutil.which("pulumi") is None, reason="needs the Pulumi CLI on PATH (not installed here)")
def test_real_automation_api_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Config set/get, up with a policy pack, outputs and preview through the real CLI and a file backend."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text(PROJECT_YAML.replace("runtime: python", "runtime:\n  name: python"))
    (project / "__main__.py").write_text(
        textwrap.dedent(
            """
            import pulumi
            config = pulumi.Config()
            pulumi.export("activeColor", config.get("activeColor") or "blue")
            pulumi.export("previewToken", pulumi.Output.secret("s3cret"))
            """
        )
    )
    pack = project / "policies"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 0.0.1\ndescription: test pack\n")
    (pack / "__main__.py").write_text(
        textwrap.dedent(
            """
            from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationPolicy

            def validate(args, report_violation):
                pass

            PolicyPack(
                name="test-pack",
                enforcement_level=EnforcementLevel.MANDATORY,
                policies=[StackValidationPolicy(name="allow-all", description="Checks nothing.", validate=validate)],
            )
            """
        )
    )
    backend = tmp_path / "state"
    backend.mkdir()
    env = {"PULUMI_BACKEND_URL": f"file://{backend}", "PULUMI_CONFIG_PASSPHRASE": "test"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    auto.create_stack("dev", work_dir=str(project))

    engine = AutomationEngine("dev", project_dir=project, env_vars=env)
    engine.set_config({"activeColor": "green"})
    assert engine.config()["activeColor"] == "green"
    assert engine.up("test", print).changes
    assert engine.outputs() == {"activeColor": "green", "previewToken": "s3cret"}
    assert engine.preview(print).changes
