"""Release tool scenarios against a real moto server, with a Pulumi engine double that applies
the listener weights to moto on `up` as the program would."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bluegreen.aws import Aws
from bluegreen.cli import main
from bluegreen.errors import EngineError
from tests.moto_server import (
    REGION,
    SMOKE_CHECKS_YAML,
    CallLog,
    FakeClock,
    FakeEngine,
    MotoServer,
    SmokeTarget,
    World,
    build_world,
    patched_env,
)

GREEN_5XX = "bluegreen-green-alarms-5xx-rate"
FAST = ["--poll", "1", "--timeout", "30", "--confirm-timeout", "5"]


@dataclass
class Run:
    code: int
    out: str
    err: str
    doc: dict[str, Any]


class Tool:
    """Runs `python -m bluegreen` in-process with the doubles wired in.

    `log` records every AWS call the tool makes (botocore before-call hooks on its clients).
    """

    def __init__(self, engine: FakeEngine, clock: FakeClock, aws: Aws, log: CallLog) -> None:
        self.engine = engine
        self.clock = clock
        self.aws = aws
        self.log = log

    def __call__(self, *argv: str, json_mode: bool = True) -> Run:
        out, err = io.StringIO(), io.StringIO()
        args = [*argv, *FAST, *(["--json"] if json_mode else [])]
        code = main(
            args,
            engine_factory=lambda _args: self.engine,
            clock=self.clock,
            aws_factory=lambda _outputs: self.aws,
            out=out,
            err=err,
        )
        doc = json.loads(out.getvalue()) if json_mode else {}
        return Run(code, out.getvalue(), err.getvalue(), doc)


@dataclass
class AwsEnv:
    server: MotoServer
    aws: Aws
    log: CallLog


@pytest.fixture(scope="module")
def moto() -> Iterator[AwsEnv]:
    """One moto server per module, fake credentials, and the tool's boto3 clients pointed at it."""
    server = MotoServer().start()
    with patched_env(server.env()):
        log = CallLog()
        aws = Aws(REGION)
        aws.add_call_hook(log)
        yield AwsEnv(server, aws, log)
    server.stop()


@pytest.fixture
def world(moto: AwsEnv) -> World:
    moto.server.reset()
    moto.log.calls.clear()
    return build_world(moto.server.endpoint)


@pytest.fixture
def engine(world: World) -> FakeEngine:
    return FakeEngine(world)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def smoke(engine: FakeEngine) -> Iterator[SmokeTarget]:
    target = SmokeTarget(releases=lambda color: str(engine.outputs_values[f"{color}Release"]))
    with target.serving():
        engine.url = target.url
        engine.publish()
        yield target


@pytest.fixture
def checks(tmp_path: Path) -> Path:
    path = tmp_path / "smoke.yaml"
    path.write_text(SMOKE_CHECKS_YAML)
    return path


@pytest.fixture
def tool(engine: FakeEngine, clock: FakeClock, smoke: SmokeTarget, moto: AwsEnv) -> Tool:
    del smoke  # every scenario serves the preview routes
    return Tool(engine, clock, moto.aws, moto.log)


def stage_and_verify(tool: Tool, checks: Path, release: str = "v2") -> None:
    assert tool("stage", release).code == 0
    assert tool("verify", "--checks", str(checks)).code == 0


def fail_on_up(number: int, error: BaseException) -> Callable[[FakeEngine, int], None]:
    def hook(_engine: FakeEngine, count: int) -> None:
        if count == number:
            raise error

    return hook


# ---------------------------------------------------------------- happy path


def test_deploy_happy_path_moves_traffic_and_records_everything(
    tool: Tool, world: World, engine: FakeEngine, smoke: SmokeTarget, checks: Path, clock: FakeClock
) -> None:
    run = tool("deploy", "v2", "--checks", str(checks), "--minutes", "1", "--interval", "20")

    assert run.code == 0, run.doc["error"]
    assert world.live_weights() == {"blue": 0, "green": 100}
    assert engine.config_values["activeColor"] == "green"
    assert engine.config_values["greenRelease"] == "v2"
    assert engine.config_values["rollbackColor"] == "blue"
    assert json.loads(engine.config_values["greenVerified"])["release"] == "v2"
    names = [step["name"] for step in run.doc["steps"]]
    assert {"stage", "verify", "switch", "bake"} <= set(names)
    assert all(step["status"] == "ok" for step in run.doc["steps"])
    assert run.doc["result"]["decision"]["decision"] == "keep"
    assert ("/version", "green") in smoke.requests
    assert clock.t >= 60  # the bake watched for the full minute
    assert engine.messages == ["bluegreen stage v2 on green", "bluegreen switch to green"]


def test_human_output_shows_steps_timers_and_progress(tool: Tool, checks: Path) -> None:
    run = tool("deploy", "v2", "--checks", str(checks), "--minutes", "1", "--interval", "30", json_mode=False)

    assert run.code == 0, run.err
    assert "▶ stage" in run.out
    assert "✔ switch (" in run.out
    assert "… bake green:" in run.out  # progress while baking
    assert "Decision: KEEP green (release v2)" in run.out


def test_deploy_of_the_live_release_is_a_no_op(tool: Tool, engine: FakeEngine, checks: Path) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    ups = engine.up_count

    run = tool("deploy", "v2", "--checks", str(checks), "--minutes", "0")

    assert run.code == 0
    assert run.doc["result"]["deploy"]["deployed"] is False
    assert engine.up_count == ups


# ---------------------------------------------------------------- no switch without health and verification


def test_idle_unhealthy_after_stage_stops_deploy_before_switch(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    engine.after_up = lambda _e, count: world.stop_instances("green") if count == 1 else None

    run = tool("deploy", "v2", "--checks", str(checks))

    assert run.code == 1
    assert "green did not reach 2 healthy targets" in run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"
    assert engine.up_count == 1  # no switch update was attempted


def test_switch_refuses_a_verified_but_unhealthy_idle_colour(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    world.stop_instances("green")
    ups = engine.up_count

    run = tool("switch")

    assert run.code == 1
    assert "green is not healthy: 0/2 healthy" in run.doc["error"]
    assert engine.up_count == ups
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert tool.log.count("ModifyListener") == 0


def test_smoke_failure_stops_deploy_and_retries_are_bounded(
    tool: Tool, world: World, engine: FakeEngine, smoke: SmokeTarget, checks: Path
) -> None:
    smoke.broken.add("green")

    run = tool("deploy", "v2", "--checks", str(checks))

    assert run.code == 1
    assert "version: status 500, expected 200" in run.doc["error"]
    assert smoke.requests.count(("/version", "green")) == 2  # attempts: 2 in the checks file
    assert engine.config_values["greenVerified"] == ""
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.up_count == 1


def test_failed_reverify_withdraws_verification(
    tool: Tool, engine: FakeEngine, smoke: SmokeTarget, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    smoke.broken.add("green")

    assert tool("verify", "--checks", str(checks)).code == 1
    run = tool("switch")

    assert engine.config_values["greenVerified"] == ""
    assert run.code == 1
    assert "green is not verified for release 'v2'" in run.doc["error"]


def test_verification_is_for_one_release_only(tool: Tool, world: World, checks: Path) -> None:
    stage_and_verify(tool, checks, "v2")
    assert tool("stage", "v3").code == 0

    run = tool("switch")

    assert run.code == 1
    assert "not verified for release 'v3'" in run.doc["error"]
    assert "verified for 'v2'" in run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_deploy_can_be_rerun_after_a_fixed_failure(
    tool: Tool, world: World, engine: FakeEngine, smoke: SmokeTarget, checks: Path
) -> None:
    smoke.broken.add("green")
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 1
    smoke.broken.clear()

    run = tool("deploy", "v2", "--checks", str(checks), "--minutes", "0")

    assert run.code == 0, run.doc["error"]
    assert world.live_weights() == {"blue": 0, "green": 100}


# ---------------------------------------------------------------- bake and rollback


def test_alarm_during_bake_rolls_back_automatically(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock
) -> None:
    clock.at(45, lambda: world.set_alarm(GREEN_5XX, "ALARM", 12.0))

    run = tool("deploy", "v2", "--checks", str(checks), "--minutes", "5", "--interval", "20")

    assert run.code == 3, run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"
    assert engine.config_values["idleTrafficPercent"] == "0"
    record = run.doc["result"]["decision"]
    assert record["decision"] == "rollback"
    assert record["rollbackTo"] == "blue"
    assert record["fired"][0]["alarm"] == GREEN_5XX
    assert record["fired"][0]["values"] == [12.0]
    assert record["fired"][0]["threshold"] == 5.0
    assert record["fired"][0]["since"]
    assert 40 <= record["elapsedSeconds"] <= 80  # detected on the first poll after it fired
    assert tool.log.count("ModifyListener") == 1  # the fast path, nothing else touched the listener


def test_bake_decision_record_is_printed_for_people(tool: Tool, world: World, checks: Path, clock: FakeClock) -> None:
    stage_and_verify(tool, checks)
    assert tool("switch").code == 0
    clock.at(clock.t + 10, lambda: world.set_alarm(GREEN_5XX, "ALARM", 9.0))

    run = tool("bake", "--minutes", "1", "--interval", "15", json_mode=False)

    assert run.code == 3
    assert "Decision: ROLLBACK green (release v2) → blue" in run.out
    assert f"fired: {GREEN_5XX} ALARM since" in run.out
    assert "values [9.0]" in run.out


def test_fast_rollback_restores_weights_with_one_call_before_pulumi_runs(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    seen: dict[str, Any] = {}

    def before(_engine: FakeEngine, _count: int) -> None:
        seen["weights"] = world.live_weights()
        seen["calls"] = list(tool.log.calls)

    engine.before_up = before
    tool.log.calls.clear()

    run = tool("rollback", "--force")

    assert run.code == 0, run.doc["error"]
    assert seen["calls"] == ["ModifyListener"]  # one call and traffic is back ...
    assert seen["weights"] == {"blue": 100, "green": 0}  # ... before `pulumi up` starts
    assert tool.log.count("ModifyListener") == 1
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"
    assert run.doc["result"]["rollback"]["fastPathSeconds"] >= 0


def test_guarded_rollback_reads_health_once_then_one_write(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    tool.log.calls.clear()
    engine.before_up = lambda _e, _c: tool.log("<pulumi up>")

    assert tool("rollback").code == 0

    assert tool.log.calls[:3] == ["DescribeTargetHealth", "ModifyListener", "<pulumi up>"]


def test_no_fast_rollback_uses_only_pulumi(tool: Tool, world: World, engine: FakeEngine, checks: Path) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    tool.log.calls.clear()

    run = tool("rollback", "--no-fast")

    assert run.code == 0
    assert tool.log.count("ModifyListener") == 0
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_rollback_refuses_a_target_without_healthy_targets(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    world.stop_instances("blue")

    run = tool("rollback")

    assert run.code == 1
    assert "blue has 0/2 healthy" in run.doc["error"]
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_rollback_is_idempotent_after_a_failed_pulumi_up(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    engine.before_up = fail_on_up(engine.up_count + 1, EngineError("pulumi up failed: provider error"))

    first = tool("rollback")
    second = tool("rollback")

    assert first.code == 1
    assert "traffic is already on blue (fast path)" in first.doc["error"]
    assert engine.config_values["activeColor"] == "blue"  # config keeps pointing at the target
    assert second.code == 0  # the re-run goes to the same colour, not back to green
    assert world.live_weights() == {"blue": 100, "green": 0}


# ---------------------------------------------------------------- status


def test_status_reports_and_detects_drift(tool: Tool, world: World) -> None:
    clean = tool("status")
    assert clean.code == 0
    assert clean.doc["result"]["status"]["drift"] is False
    assert clean.doc["result"]["status"]["colors"]["green"]["healthy"] == 2

    world.set_weights({"blue": 50, "green": 50})
    world.set_alarm(GREEN_5XX, "ALARM")
    drifted = tool("status")

    assert drifted.code == 1
    status = drifted.doc["result"]["status"]
    assert status["drift"] is True
    assert status["liveWeights"] == {"blue": 50, "green": 50}
    assert status["configWeights"] == {"blue": 100, "green": 0}
    assert status["colors"]["green"]["alarms"][GREEN_5XX] == "ALARM"
    assert "drift: live weights blue=50 green=50" in drifted.doc["error"]


def test_status_shows_pending_release(tool: Tool, engine: FakeEngine) -> None:
    engine.config_values["greenRelease"] = "v9"

    run = tool("status", json_mode=False)

    assert run.code == 0
    assert "pending `pulumi up`: greenRelease 'v1' → 'v9'" in run.out


# ---------------------------------------------------------------- one release at a time


def test_a_concurrent_release_is_refused_and_changes_nothing(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    before = dict(engine.config_values)

    with engine.held_lock():
        run = tool("deploy", "v2", "--checks", str(checks))

    assert run.code == 4
    assert "locked by another update" in run.doc["error"]
    assert engine.config_values == before
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_two_releases_at_once_the_second_is_refused(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, moto: AwsEnv
) -> None:
    """Release A is inside `pulumi up` (holding the lock) when release B starts."""
    inside_up, let_go = threading.Event(), threading.Event()

    def hold(_engine: FakeEngine, count: int) -> None:
        if count == 1:
            inside_up.set()
            assert let_go.wait(20)

    engine.before_up = hold
    first: list[Run] = []
    release_a = threading.Thread(target=lambda: first.append(tool("stage", "v2")))
    release_a.start()
    assert inside_up.wait(20)

    second = Tool(engine, FakeClock(), moto.aws, moto.log)("deploy", "v3", "--checks", str(checks))
    let_go.set()
    release_a.join(20)

    assert second.code == 4
    assert "locked by another update" in second.doc["error"]
    assert first[0].code == 0
    assert engine.config_values["greenRelease"] == "v2"  # B put back what it had set
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_a_locked_switch_step_leaves_traffic_untouched(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    before = dict(engine.config_values)
    tool.log.calls.clear()

    with engine.held_lock():
        run = tool("switch", "--ramp", "10")

    assert run.code == 4
    assert engine.config_values == before
    assert tool.log.count("ModifyListener") == 0  # the lock holder owns the listener
    assert world.live_weights() == {"blue": 100, "green": 0}


# ---------------------------------------------------------------- interrupted switches


def test_ctrl_c_mid_ramp_puts_traffic_back_on_the_old_colour(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    engine.before_up = fail_on_up(engine.up_count + 2, KeyboardInterrupt())  # during the 50% step

    run = tool("switch", "--ramp", "10,50", "--pause", "30")

    assert run.code == 130
    assert "interrupted during ramp to 50%" in run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}  # it had been at 10% green
    assert engine.config_values["activeColor"] == "blue"
    assert engine.config_values["idleTrafficPercent"] == "0"


def test_failed_up_mid_ramp_restores_and_reconciles(tool: Tool, world: World, engine: FakeEngine, checks: Path) -> None:
    stage_and_verify(tool, checks)
    failing = engine.up_count + 2
    engine.after_up = fail_on_up(failing, EngineError("pulumi up failed after updating the listener"))

    run = tool("switch", "--ramp", "10,50", "--pause", "30")

    assert run.code == 1
    assert "switch aborted during ramp to 50%; traffic is on blue" in run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"
    assert engine.up_count == failing + 1  # a reconciling update after the restore


def test_failed_final_flip_restores_traffic(tool: Tool, world: World, engine: FakeEngine, checks: Path) -> None:
    stage_and_verify(tool, checks)
    engine.after_up = fail_on_up(engine.up_count + 1, EngineError("pulumi up failed"))

    run = tool("switch")

    assert run.code == 1
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"


def test_interrupt_picks_the_healthy_colour_when_the_old_one_died(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)

    def die(_engine: FakeEngine, count: int) -> None:
        if count == engine_ups + 2:
            world.stop_instances("blue")
            raise KeyboardInterrupt

    engine_ups = engine.up_count
    engine.before_up = die

    run = tool("switch", "--ramp", "10,50", "--pause", "10")

    assert run.code == 130
    assert world.live_weights() == {"blue": 0, "green": 100}
    assert engine.config_values["activeColor"] == "green"


def test_alarm_during_a_ramp_step_rolls_back(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock
) -> None:
    stage_and_verify(tool, checks)
    clock.at(clock.t + 20, lambda: world.set_alarm(GREEN_5XX, "ALARM"))

    run = tool("switch", "--ramp", "10", "--pause", "60", "--interval", "15")

    assert run.code == 3
    assert f"{GREEN_5XX} fired while green had 10% of traffic" in run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"


def test_switch_with_to_is_idempotent(tool: Tool, world: World, engine: FakeEngine, checks: Path) -> None:
    stage_and_verify(tool, checks)
    assert tool("switch", "--to", "green").code == 0
    ups = engine.up_count

    run = tool("switch", "--to", "green")

    assert run.code == 0
    assert run.doc["result"]["switch"]["switched"] is False
    assert engine.up_count == ups
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_stage_refuses_while_the_idle_colour_serves_traffic(tool: Tool, engine: FakeEngine) -> None:
    engine.config_values["idleTrafficPercent"] = "10"

    run = tool("stage", "v2")

    assert run.code == 2
    assert "bluegreen:idleTrafficPercent=10" in run.doc["error"]


def test_stage_brings_a_scaled_down_idle_colour_back(tool: Tool, world: World, engine: FakeEngine) -> None:
    engine.config_values["idleScaledDown"] = "true"

    run = tool("stage", "v2")

    assert run.code == 0, run.doc["error"]
    assert engine.config_values["idleScaledDown"] == "false"
    assert run.doc["result"]["stage"]["healthy"] == 2


def test_plan_prints_summary_and_previews_with_the_engine(tool: Tool, engine: FakeEngine) -> None:
    engine.config_values["greenRelease"] = "v2"

    run = tool("plan", json_mode=False)

    assert run.code == 0, run.err
    assert engine.preview_count == 1
    assert "v2" in run.out
