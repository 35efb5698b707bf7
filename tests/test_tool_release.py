"""Release tool scenarios against a real moto server, with a Pulumi engine double that applies
the listener weights to moto on `up` as the program would."""

from __future__ import annotations

import argparse
import io
import json
import signal
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import bluegreen.bake as bake_module
from bluegreen.aws import Aws
from bluegreen.ci.summary import traffic_summary
from bluegreen.cli import build_parser, main
from bluegreen.clock import SystemClock, iso
from bluegreen.errors import EngineError, PreviewFailedError, StackLockedError
from bluegreen.gate import ColorCheck, check_color
from bluegreen.guardian import handler as guardian
from bluegreen.outputs import StackOutputs
from bluegreen.preview_token import preview_rule_tokens
from bluegreen.registry import COMMANDS
from bluegreen.report import Reporter
from bluegreen.rollback_target import BakeDecision
from bluegreen.stack_files import PROJECT_DIR
from tests.moto_server import (
    GUARDIAN_RECORD_PARAMETER,
    GUARDIAN_STATE_PARAMETER,
    PREVIEW_COLOR_HEADER,
    PREVIEW_TOKEN_HEADER,
    RATE_EXPRESSION,
    REGION,
    SMOKE_CHECKS_YAML,
    CallLog,
    FakeClock,
    FakeEngine,
    MotoServer,
    SmokeTarget,
    World,
    build_world,
    client,
    patched_env,
)

GREEN_5XX = "bluegreen-green-alarms-5xx-rate"
FAST = ["--poll", "1", "--timeout", "30", "--confirm-timeout", "5"]


def command_options(command: str) -> set[str]:
    """The options `bluegreen <command>` takes: each command lists only the timings it uses."""
    parser = build_parser(COMMANDS)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {flag for action in sub.choices[command]._actions for flag in action.option_strings}


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
        takes = command_options(argv[0])
        defaults = [
            arg
            for flag, value in zip(FAST[::2], FAST[1::2], strict=True)
            if flag in takes and flag not in argv
            for arg in (flag, value)
        ]
        args = [*argv, *defaults, *(["--json"] if json_mode else [])]
        code = main(
            args,
            engine_factory=lambda _args: self.engine,
            clock=self.clock,
            aws_factory=self._aws_for,
            out=out,
            err=err,
        )
        doc = json.loads(out.getvalue()) if json_mode else {}
        return Run(code, out.getvalue(), err.getvalue(), doc)

    def _aws_for(self, outputs: StackOutputs) -> Aws:
        # The tool builds its clients for the stack's own region, read from its outputs.
        assert outputs.region() == REGION
        return self.aws


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
    # Routed as the ALB would, by the preview rules the engine's `pulumi up` writes to moto.
    target = SmokeTarget(releases=lambda color: str(engine.outputs_values[f"{color}Release"]), world=engine.world)
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
    run = tool("deploy", "v2", "--checks", str(checks), "--minutes", "2", "--interval", "20")

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
    assert clock.t >= 120  # the bake watched for the stack's full bakeMinutes (2)
    assert engine.messages == ["bluegreen stage v2 on green", "bluegreen switch to green"]


def test_human_output_shows_steps_timers_and_progress(tool: Tool, checks: Path) -> None:
    run = tool("deploy", "v2", "--checks", str(checks), "--minutes", "2", "--interval", "30", json_mode=False)

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
    # the 5xx alarm is metric math (a rate): described by its expression and the queries it reads
    assert record["fired"][0]["metric"] == (
        f"5xx rate (%) = {RATE_EXPRESSION} (where errors = AWS/ApplicationELB HTTPCode_Target_5XX_Count Sum/60s; "
        "requests = AWS/ApplicationELB RequestCount Sum/60s)"
    )
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
    assert f": metric 5xx rate (%) = {RATE_EXPRESSION} (where errors = " in run.out
    assert "values [9.0]" in run.out


GREEN_P99 = "bluegreen-green-alarms-p99-latency"


def switched_to_green(tool: Tool, checks: Path) -> None:
    stage_and_verify(tool, checks)
    assert tool("switch").code == 0


def at(clock: FakeClock, seconds: float) -> str:
    """The decision record's timestamp for `seconds` on the fake clock."""
    return iso(clock.now() + timedelta(seconds=seconds - clock.t))


def test_a_quiet_bake_keeps_the_colour_and_records_every_poll(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock
) -> None:
    switched_to_green(tool, checks)
    start = clock.t
    engine.on_read = tool.log
    tool.log.calls.clear()

    run = tool("bake", "--minutes", "2", "--interval", "30")

    assert run.code == 0, run.doc["error"]
    assert run.doc["result"]["decision"] == {
        "color": "green",
        "startedAt": at(clock, start),
        "decidedAt": at(clock, start + 120),
        "elapsedSeconds": 120.0,
        "polls": 5,  # at 0, 30, 60, 90 and 120 s
        "fired": [],
        "smokeFailures": [],
        "alarms": {GREEN_5XX: "OK", GREEN_P99: "OK"},
        "release": "v2",
        "minutes": 2.0,
        "bakeMinutes": 2,
        "decision": "keep",
        "bakeDecision": engine.config_values["bakeDecision"],
        "rollbackTo": None,
        "shortOfTargets": None,
        "guardian": None,
    }
    # Each poll reads the alarms, the guardian's record (has it already rolled back?), the live colour's
    # health (a colour short of targets is a rollback) and the rollback target's, so that a rollback
    # decided at any poll goes straight to its ModifyListener. The decision goes to the decision log.
    assert tool.log.calls == [
        "<config>",
        "<outputs>",
        "DescribeAutoScalingGroups",  # the live colour's desired capacity, once
        "GetParameter",  # the guardian's record before the bake: only a new one counts
        *["DescribeAlarms", "GetParameter", "DescribeTargetHealth", "DescribeTargetHealth"] * 5,
        "PutParameter",  # the keep decision, in the stack's decision log
    ]
    assert clock.sleeps[-4:] == [30, 30, 30, 30]
    bake_step = next(s for s in run.doc["steps"] if s["name"] == "bake green for 2 min")
    assert (bake_step["status"], bake_step["detail"]) == ("ok", "no alarm")
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_a_bake_watches_until_its_last_fraction_of_a_second(tool: Tool, checks: Path, clock: FakeClock) -> None:
    switched_to_green(tool, checks)
    clock.sleeps.clear()

    run = tool("bake", "--minutes", "0.5", "--interval", "29.5")

    assert run.code == 0
    assert clock.sleeps == [29.5, 0.5]
    assert run.doc["result"]["decision"]["polls"] == 3


def test_a_bake_prints_each_poll_for_people(tool: Tool, checks: Path) -> None:
    switched_to_green(tool, checks)

    run = tool("bake", "--minutes", "2", "--interval", "30", json_mode=False)

    assert run.code == 0
    assert f"… bake green: {GREEN_5XX}=OK, {GREEN_P99}=OK; 90s left [30s]" in run.out
    assert "Decision: KEEP green (release v2): no alarm in 120s over 5 polls" in run.out


def test_bake_minutes_default_to_config_and_a_short_one_says_where_it_came_from(
    tool: Tool, engine: FakeEngine, checks: Path, clock: FakeClock
) -> None:
    switched_to_green(tool, checks)
    engine.config_values["bakeMinutes"] = "2"
    start = clock.t

    run = tool("bake", "--interval", "60")

    assert run.code == 0
    assert run.doc["result"]["decision"]["minutes"] == 2.0
    assert clock.t - start == 120
    assert run.doc["warnings"][0].startswith("config bluegreen:bakeMinutes=2 is shorter than the 300s")


def test_a_bake_as_long_as_the_alarm_window_is_not_warned_about(tool: Tool, checks: Path) -> None:
    switched_to_green(tool, checks)

    just_short = tool("bake", "--minutes", "4.99", "--interval", "60")
    long_enough = tool("bake", "--minutes", "5", "--interval", "60")

    assert just_short.doc["warnings"][0].startswith("--minutes=4.99 is shorter than the 300s")
    assert long_enough.doc["warnings"] == []


def test_bake_refuses_while_any_canary_is_configured(tool: Tool, engine: FakeEngine, checks: Path) -> None:
    switched_to_green(tool, checks)
    engine.config_values["idleTrafficPercent"] = "1"
    tool.log.calls.clear()

    run = tool("bake", "--minutes", "1")

    assert run.code == 2
    assert run.doc["error"] == (
        "config bluegreen:idleTrafficPercent=1: a switch is in progress; finish it with `switch` or undo it "
        "with `rollback` before baking"
    )
    assert tool.log.calls == []


def test_an_alarm_during_bake_rolls_back_with_one_write_and_no_further_reads(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock
) -> None:
    switched_to_green(tool, checks)
    clock.at(clock.t + 10, lambda: world.set_alarm(GREEN_5XX, "ALARM", 9.0))
    engine.on_read = tool.log
    tool.log.calls.clear()

    run = tool("bake", "--minutes", "1", "--interval", "15")

    assert run.code == 3
    assert run.doc["error"] == f"{GREEN_5XX} fired during bake; traffic is back on blue"
    # what was read on the poll that fired is all the rollback needs: its next call is the write
    assert tool.log.calls[:13] == [
        "<config>",
        "<outputs>",
        "DescribeAutoScalingGroups",
        "GetParameter",
        "DescribeAlarms",
        "GetParameter",
        "DescribeTargetHealth",
        "DescribeTargetHealth",
        "DescribeAlarms",
        "GetParameter",
        "DescribeTargetHealth",
        "DescribeTargetHealth",
        "ModifyListener",
    ]
    record = run.doc["result"]["decision"]
    assert run.doc["result"]["details"] == record
    assert (record["decision"], record["rollbackTo"], record["polls"]) == ("rollback", "blue", 2)
    assert record["alarms"] == {GREEN_5XX: "ALARM", GREEN_P99: "OK"}
    rolled = record["rollback"]
    assert (rolled["to"], rolled["from"], rolled["fast"]) == ("blue", "green", True)
    steps = {s["name"]: s for s in run.doc["steps"]}
    assert (steps["bake green for 1 min"]["status"], steps["bake green for 1 min"]["detail"]) == ("tripped", "alarm")
    assert steps["roll back to blue"]["status"] == "ok"
    fast = steps["fast path: ModifyListener, 100% to blue"]["detail"]
    assert fast.endswith(" ms") and abs(float(fast[:-3]) - rolled["fastPathSeconds"] * 1000) <= 0.1
    assert engine.messages[-1] == "bluegreen rollback to blue"
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"


def test_every_alarm_that_fired_is_named(tool: Tool, world: World, checks: Path, clock: FakeClock) -> None:
    switched_to_green(tool, checks)

    def both() -> None:
        world.set_alarm(GREEN_5XX, "ALARM")
        world.set_alarm(GREEN_P99, "ALARM", 2.5)

    clock.at(clock.t + 10, both)

    run = tool("bake", "--minutes", "1", "--interval", "15")

    assert run.code == 3
    assert run.doc["error"] == f"{GREEN_5XX}, {GREEN_P99} fired during bake; traffic is back on blue"


def test_bake_without_rollback_advises_and_leaves_traffic_where_it_is(
    tool: Tool, world: World, checks: Path, clock: FakeClock
) -> None:
    switched_to_green(tool, checks)
    clock.at(clock.t + 10, lambda: world.set_alarm(GREEN_5XX, "ALARM"))
    tool.log.calls.clear()

    run = tool("bake", "--minutes", "1", "--interval", "15", "--no-rollback")

    assert run.code == 1
    assert run.doc["error"] == f"{GREEN_5XX} tripped during bake; --no-rollback given, traffic left on green"
    record = run.doc["result"]["decision"]
    assert (record["decision"], record["rollbackTo"]) == ("rollback-advised", "blue")
    # Each poll reads green's own health; nothing is rolled back to, so no standby is read.
    assert tool.log.calls.count("DescribeTargetHealth") == record["polls"] == 2
    assert "ModifyListener" not in tool.log.calls
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_bake_without_rollback_prints_the_advice_for_people(
    tool: Tool, world: World, checks: Path, clock: FakeClock
) -> None:
    switched_to_green(tool, checks)
    clock.at(clock.t + 10, lambda: world.set_alarm(GREEN_5XX, "ALARM"))

    run = tool("bake", "--minutes", "1", "--interval", "15", "--no-rollback", json_mode=False)

    assert run.code == 1
    assert "Decision: ROLLBACK-ADVISED green (release v2) → blue" in run.out


def test_a_bake_rollback_onto_a_dead_colour_is_refused_and_says_why(
    tool: Tool, world: World, checks: Path, clock: FakeClock
) -> None:
    switched_to_green(tool, checks)
    world.stop_instances("blue")
    clock.at(clock.t + 10, lambda: world.set_alarm(GREEN_5XX, "ALARM"))

    run = tool("bake", "--minutes", "1", "--interval", "15")

    assert run.code == 1
    assert run.doc["error"].startswith(f"{GREEN_5XX} tripped during bake and the rollback failed: blue has 0/2 healthy")
    assert run.doc["result"]["decision"]["decision"] == "rollback-failed"
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_failing_smoke_checks_during_bake_roll_back(
    tool: Tool, world: World, checks: Path, smoke: SmokeTarget, clock: FakeClock
) -> None:
    switched_to_green(tool, checks)
    clock.at(clock.t + 10, lambda: smoke.broken.add("green"))

    run = tool("bake", "--minutes", "1", "--interval", "15", "--checks", str(checks))

    assert run.code == 3
    assert run.doc["error"] == "smoke:version fired during bake; traffic is back on blue"
    failures = run.doc["result"]["decision"]["smokeFailures"]
    assert [(f["check"], f["attempts"]) for f in failures] == [("version", 2)]
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_a_bake_without_checks_needs_no_usable_smoke_url(
    tool: Tool, engine: FakeEngine, world: World, checks: Path
) -> None:
    switched_to_green(tool, checks)
    engine.url = f"https://{world.dns_name}"
    engine.publish()
    tool.log.calls.clear()

    alarms_only = tool("bake", "--minutes", "0.5", "--interval", "15")
    with_checks = tool("bake", "--minutes", "0.5", "--interval", "15", "--checks", str(checks))

    assert alarms_only.code == 0
    assert with_checks.code == 2
    assert "cannot reach the load balancer by its own DNS name" in with_checks.doc["error"]
    assert tool.log.count("DescribeAlarms") == 3  # the refused bake polled nothing


def test_a_colour_without_alarms_cannot_be_baked(tool: Tool, engine: FakeEngine, checks: Path) -> None:
    switched_to_green(tool, checks)
    engine.outputs_values["greenAlarmNames"] = []

    run = tool("bake", "--minutes", "1")

    assert run.code == 2
    assert run.doc["error"] == (
        "stack output 'greenAlarmNames' is empty, so there is nothing to watch; run `pulumi up` with the current "
        "program first"
    )


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
    # One call and traffic is back; then the decision log, before `pulumi up` starts.
    assert seen["calls"] == ["ModifyListener", "PutParameter"]
    assert seen["weights"] == {"blue": 100, "green": 0}  # ... before `pulumi up` starts
    assert tool.log.count("ModifyListener") == 1
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"
    steps = [step["name"] for step in run.doc["steps"]]
    assert steps.index("fast path: ModifyListener, 100% to blue") < steps.index("config set") < steps.index("pulumi up")
    assert 0 < run.doc["result"]["rollback"]["fastPathSeconds"] < 5  # measured around that one call


def test_guarded_rollback_reads_health_once_then_one_write(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    tool.log.calls.clear()
    engine.before_up = lambda _e, _c: tool.log("<pulumi up>")

    assert tool("rollback").code == 0

    assert tool.log.calls[:4] == ["DescribeTargetHealth", "ModifyListener", "PutParameter", "<pulumi up>"]


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


def test_status_says_when_gate_bypass_is_on(tool: Tool, engine: FakeEngine) -> None:
    # The gate's own warning comes from its provider's process, which the user rarely sees (issue 21, defect 8).
    quiet = tool("status")
    assert quiet.doc["result"]["status"]["gateBypass"] is False
    assert not [w for w in quiet.doc["warnings"] if "gateBypass" in w]

    engine.config_values["gateBypass"] = "true"
    run = tool("status")
    text = tool("status", json_mode=False)

    assert run.code == 0 and run.doc["result"]["status"]["gateBypass"] is True
    (warning,) = [w for w in run.doc["warnings"] if "gateBypass" in w]
    assert warning.startswith("gateBypass is true: every `pulumi up` moves traffic without the traffic gate's checks")
    assert f"! {warning}" in text.out + text.err


def test_status_lists_every_weakening_of_safety(tool: Tool, engine: FakeEngine, tmp_path: Path) -> None:
    # Issue 22: loosened thresholds, a disarmed guardian and a lowered pack showed nowhere.
    project = tmp_path / "project"
    (project / "policies" / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (project / "policies" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    policy_file = project / "policies" / "stacks" / f"{engine.stack_name}.json"
    policy_file.write_text(json.dumps({"alb-access-logs-enabled": "advisory"}))
    # The test world's short bake (2 minutes) is a weakening too: the default here.
    engine.config_values.update(rollbackLatencyP99Ms="3000", guardianArmed="off", bakeMinutes="15")

    run = tool("status", "--project-dir", str(project))

    assert run.code == 0, run.doc["error"]
    safety = run.doc["result"]["status"]["safety"]
    assert [w["key"] for w in safety["weakenings"]] == [
        "guardianArmed",
        "rollbackLatencyP99Ms",
        "alb-access-logs-enabled",
    ]
    assert safety["policyConfig"] == str(policy_file) and safety["policyConfigRefused"] is None
    assert [w for w in run.doc["warnings"] if w.startswith("weakened safety: ")] == [
        "weakened safety: `guardianArmed` is off: the guardian never rolls back, canary included",
        "weakened safety: `rollbackLatencyP99Ms` is 3000, looser than the default 1000: the latency alarm needs "
        "slower responses",
        "weakened safety: policy `alb-access-logs-enabled` is advisory (mandatory by default)",
    ]

    policy_file.write_text(json.dumps({"all": "disabled"}))  # shown, not raised: status only reads
    refused = tool("status", "--project-dir", str(project))
    assert refused.code == 0
    assert 'weakened safety: every policy of the pack is disabled (`"all": "disabled"`)' in refused.doc["warnings"]
    (line,) = [w for w in refused.doc["warnings"] if w.startswith("refused: ")]
    assert line.startswith(f'refused: {policy_file} lowers "all": "disabled"')


def test_an_emergency_override_lasts_one_command_and_the_next_update_is_refused(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    # A ramp is several updates, and a failed switch's restore one more: the tool confirms an override its own
    # last update used for its next one, and the update after the command needs a person to confirm it again.
    stage_and_verify(tool, checks)
    engine.config_values["gateBypass"] = "true"

    switched = tool("switch", "--ramp", "10,50")

    assert switched.code == 0, switched.doc["error"]
    confirmations = [w for w in switched.doc["warnings"] if w.startswith("emergencyAck=")]
    assert len(confirmations) == 2  # the 50% step and the flip
    used_at = engine.outputs_values["emergencyOverrides"]["usedAt"]
    assert engine.config_values["emergencyAck"] != used_at  # confirmed for the flip, not for what follows
    status = tool("status")
    assert status.doc["result"]["status"]["safety"]["nextUpdateRefused"].startswith(
        "the next `pulumi up` is refused: gateBypass=true already applied to the last update"
    )

    refused = tool("rollback", "--no-fast")
    assert refused.code == 1
    assert f"`pulumi config set bluegreen:emergencyAck {used_at}`" in refused.doc["error"]

    engine.config_values["emergencyAck"] = used_at  # a person confirms it for one more update
    assert tool("rollback", "--no-fast").code == 0
    engine.config_values["gateBypass"] = "false"
    assert tool("status").doc["result"]["status"]["safety"]["nextUpdateRefused"] is None


def test_status_shows_pending_release(tool: Tool, engine: FakeEngine) -> None:
    engine.config_values["greenRelease"] = "v9"

    run = tool("status", json_mode=False)

    assert run.code == 0
    assert "pending `pulumi up`: greenRelease 'v1' → 'v9'" in run.out


def test_status_shows_a_fleet_setting_reaching_idle_first_and_waiting_on_live(tool: Tool, engine: FakeEngine) -> None:
    engine.config_values["instanceType"] = "t3.large"

    run = tool("status", json_mode=False)

    assert run.code == 0
    assert "pending `pulumi up`: green (idle) gets instanceType t3.micro → t3.large" in run.out
    assert (
        "pending `pulumi up`: instanceType t3.micro → t3.large: on green (idle) now; blue gets it when it is idle "
        "and restaged" in run.out
    )


def test_staging_a_fleet_setting_leaves_the_live_colours_spec_alone(tool: Tool, engine: FakeEngine) -> None:
    live_before = engine.outputs()["blueSpec"]
    engine.config_values["appPort"] = "9090"

    run = tool("stage", "v2")

    assert run.code == 0, run.err
    outputs = engine.outputs()
    assert outputs["blueSpec"] == live_before
    assert outputs["greenSpec"]["spec"]["appPort"] == 9090


# ---------------------------------------------------------------- the rollback target is kept


def test_staging_over_the_rollback_target_right_after_a_switch_is_refused(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    switched_to_green(tool, checks)
    blue_before = engine.outputs()["blueSpec"]

    run = tool("stage", "v3")

    assert run.code != 0
    assert "blue is the rollback target until a bake decision is recorded for green's release" in run.doc["error"]
    assert engine.outputs()["blueSpec"] == blue_before
    assert engine.config_values["blueRelease"] == "v1"  # the refused stage put config back


def test_a_kept_bake_releases_the_rollback_target_for_the_next_stage(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    switched_to_green(tool, checks)

    baked = tool("bake")  # config bakeMinutes: 2

    assert baked.code == 0, baked.err
    decision = BakeDecision.parse(engine.config_values["bakeDecision"])
    assert decision is not None
    assert (decision.flip, decision.fingerprint) == (
        engine.outputs()["rollbackTarget"]["flip"],
        engine.outputs()["greenSpec"]["fingerprint"],
    )
    assert tool("stage", "v3").code == 0
    assert engine.outputs()["blueRelease"] == "v3"


def test_a_bake_shorter_than_bake_minutes_records_no_keep(tool: Tool, engine: FakeEngine, checks: Path) -> None:
    switched_to_green(tool, checks)

    run = tool("bake", "--minutes", "0")  # config bakeMinutes: 2

    assert run.code == 0, run.doc["error"]
    assert run.doc["result"]["decision"]["decision"] == "no-keep"
    assert engine.config_values.get("bakeDecision", "") == ""
    assert any(
        w.startswith("--minutes=0 is shorter than config bluegreen:bakeMinutes=2: no keep decision recorded, so blue")
        for w in run.doc["warnings"]
    )
    refused = tool("stage", "v3")
    assert refused.code == 1
    assert "blue is the rollback target until a bake decision is recorded" in refused.doc["error"]


def test_deploy_with_a_bake_shorter_than_bake_minutes_records_no_keep(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    run = tool("deploy", "v2", "--checks", str(checks), "--minutes", "0")

    assert run.code == 0, run.doc["error"]
    assert run.doc["result"]["decision"]["decision"] == "no-keep"
    assert engine.config_values.get("bakeDecision", "") == ""
    assert tool("stage", "v3").code == 1  # blue is still held as the rollback target


def test_the_keep_decision_names_the_flip_and_the_interval_the_bake_watched(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    switched_to_green(tool, checks)

    run = tool("bake")

    assert run.code == 0, run.doc["error"]
    record = run.doc["result"]["decision"]
    assert BakeDecision.parse(engine.config_values["bakeDecision"]) == BakeDecision(
        flip=1,
        fingerprint=engine.outputs()["greenSpec"]["fingerprint"],
        start=record["startedAt"],
        end=record["decidedAt"],
        minutes=2.0,
    )
    assert tool("stage", "v3").code == 0
    assert engine.outputs()["rollbackTarget"]["kept"] is False  # the keep released blue in stage's update


def test_the_next_flip_clears_the_last_keep_decision_and_the_next_bake_names_the_new_flip(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks)).code == 0
    first = BakeDecision.parse(engine.config_values["bakeDecision"])

    run = tool("deploy", "v3", "--checks", str(checks))

    assert run.code == 0, run.doc["error"]
    assert engine.outputs()["activeColor"] == "blue"
    second = BakeDecision.parse(engine.config_values["bakeDecision"])
    assert first is not None and second is not None
    assert (first.flip, second.flip) == (1, 2)
    assert second.fingerprint == engine.outputs()["blueSpec"]["fingerprint"]


def test_rollback_refuses_a_colour_restaged_since_traffic_left_it(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    switched_to_green(tool, checks)
    assert tool("bake").code == 0
    assert tool("stage", "v3").code == 0  # blue runs v3 now, which never served users

    run = tool("rollback", "--to", "blue")

    assert run.code == 1
    assert run.doc["error"].startswith("blue no longer runs the release traffic left when green went live")
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_a_rollback_leaves_the_colour_it_rolled_away_from_disarmed_and_refuses_to_go_back(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    switched_to_green(tool, checks)
    assert json.loads(engine.parameter(GUARDIAN_STATE_PARAMETER) or "{}")["target"]["armed"] is True

    assert tool("rollback").code == 0

    # The rollback's update is a flip, but green is the release it left: never the guardian's target to flip to.
    target = engine.outputs()["rollbackTarget"]
    assert (target["color"], target["disarmed"]) == ("green", True)
    state = json.loads(engine.parameter(GUARDIAN_STATE_PARAMETER) or "{}")
    assert (state["target"]["color"], state["target"]["armed"]) == ("green", False)
    refused = tool("rollback", "--to", "green")
    assert refused.code == 1
    assert refused.doc["error"].startswith("green runs the release traffic was rolled away from")
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert tool("stage", "v3").code == 0  # not held: the failed colour may be restaged at once


def test_stage_trusts_the_listener_over_the_outputs_after_an_interrupted_flip(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    switched_to_green(tool, checks)
    assert tool("bake").code == 0
    world.set_weights({"blue": 100, "green": 0})  # outputs say green; the listener still sends all to blue
    ups = engine.up_count

    run = tool("stage", "v3")

    assert run.code == 1
    assert run.doc["error"].startswith(
        "stage refused: the production listener sends blue=100 green=0, but the last update's outputs say "
        "blue=0 green=100"
    )
    assert "`bluegreen rollback --to blue`" in run.doc["error"]
    assert engine.up_count == ups and engine.config_values["blueRelease"] == "v1"


def test_a_verify_record_does_not_survive_a_change_of_the_colours_spec(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    engine.config_values["appPort"] = "9090"
    assert tool("stage", "v2").code == 0  # the same release, now on 9090: green was never checked like this

    run = tool("switch")

    assert run.code == 1
    assert "its release spec changed since it was verified" in run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}


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


@pytest.mark.usefixtures("no_gc_callbacks")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_a_cancelled_job_mid_ramp_puts_traffic_back_and_config_too(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock, stop: signal.Signals
) -> None:
    # A CI runner cancels the job (SIGTERM) or the terminal closes (SIGHUP) while 10% is on green.
    stage_and_verify(tool, checks)
    holds = engine.up_count + 1

    def cancel(_engine: FakeEngine, count: int) -> None:
        if count == holds:
            clock.at(clock.t + 5, lambda: signal.raise_signal(stop))

    engine.after_up = cancel

    run = tool("switch", "--ramp", "10,50", "--pause", "30")

    assert run.code == 130
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"
    assert engine.config_values["idleTrafficPercent"] == "0"
    assert signal.getsignal(stop) is signal.SIG_DFL  # the tool put the default handling back


def lose_targets(world: World, color: str) -> None:
    """The colour's instances drop out of its target group (a crash loop, a bad deploy of its own)."""
    targets = [{"Id": instance} for instance in world.instances(color)]
    client("elbv2", world.endpoint).deregister_targets(TargetGroupArn=world.target_groups[color], Targets=targets)


def test_a_colour_that_loses_its_targets_during_a_ramp_hold_is_rolled_back_before_any_alarm(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock
) -> None:
    stage_and_verify(tool, checks)
    holds = engine.up_count + 1
    engine.after_up = lambda _e, count: (
        clock.at(clock.t + 5, lambda: lose_targets(world, "green")) if count == holds else None
    )

    run = tool("switch", "--ramp", "10,50", "--pause", "120")

    assert run.code == 3
    assert "targets: green has 0/0 healthy, desired 2" in run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}  # never reached 50%, let alone 100%


def test_a_bake_of_a_colour_that_lost_its_targets_rolls_back(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock
) -> None:
    switched_to_green(tool, checks)
    clock.at(clock.t + 30, lambda: lose_targets(world, "green"))

    run = tool("bake", "--minutes", "5")

    assert run.code == 3
    assert run.doc["result"]["decision"]["shortOfTargets"] == "green has 0/0 healthy, desired 2"
    assert world.live_weights() == {"blue": 100, "green": 0}


def blip(world: World, alarm: str) -> None:
    """ALARM, then OK again before the tool's next poll: only the alarm's history shows it."""
    world.set_alarm(alarm, "ALARM", 40.0)
    world.set_alarm(alarm, "OK", 0.0)


def test_an_alarm_shorter_than_a_bake_poll_is_read_from_the_history_and_rolls_back(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock
) -> None:
    switched_to_green(tool, checks)
    clock.at(clock.t + 25, lambda: blip(world, GREEN_5XX))

    run = tool("bake", "--minutes", "5", "--interval", "20")

    assert run.code == 3, run.doc["error"]
    record = run.doc["result"]["decision"]
    assert record["decision"] == "rollback"
    fired = record["fired"][0]
    assert (fired["alarm"], fired["state"], fired["stateAtPoll"], fired["values"]) == (GREEN_5XX, "ALARM", "OK", [40.0])
    assert f"{GREEN_5XX} (ALARM at " in run.doc["error"] and "OK by the next poll" in run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"


def test_a_quiet_poll_reads_no_alarm_history(tool: Tool, world: World, checks: Path) -> None:
    switched_to_green(tool, checks)
    tool.log.calls.clear()

    assert tool("bake", "--minutes", "1", "--interval", "20").code == 0
    assert tool.log.count("DescribeAlarmHistory") == 0  # only a state change since the last poll costs a read


def guardian_acts(world: World, color: str, clock: FakeClock | None = None) -> dict[str, Any]:
    """The guardian's Lambda as EventBridge invokes it when `color`'s release-health alarm goes to ALARM:
    the real handler, against the state the engine double's last `pulumi up` wrote to moto's SSM."""
    event = {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": world.release_health_alarms[color], "state": {"value": "ALARM"}},
    }
    return guardian.decide(
        event,
        state_parameter=GUARDIAN_STATE_PARAMETER,
        record_parameter=GUARDIAN_RECORD_PARAMETER,
        topic_arn="",
        clients=guardian.Clients(),
        now=(lambda: iso(clock.now())) if clock is not None else guardian.utc_now,
    )


def test_a_bake_defers_to_the_guardian_and_only_makes_config_agree(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock
) -> None:
    switched_to_green(tool, checks)
    acted: dict[str, Any] = {}
    # The guardian acts between two polls; the tool's own alarms never show ALARM, only the record tells.
    clock.at(clock.t + 25, lambda: acted.update(guardian_acts(world, "green")))
    tool.log.calls.clear()

    run = tool("bake", "--minutes", "5", "--interval", "20")

    assert acted["action"] == "rollback", acted["why"]
    assert run.code == 3, run.doc["error"]
    record = run.doc["result"]["decision"]
    assert (record["decision"], record["rollbackTo"], record["guardian"]) == ("rolled-back-by-guardian", "blue", acted)
    assert record["rollback"]["fastPath"] == "guardian"
    assert tool.log.count("ModifyListener") == 0  # the guardian's one call moved traffic
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert (engine.config_values["activeColor"], engine.config_values["rollbackColor"]) == ("blue", "blue")
    assert "guardian: rolled back to blue" in run.doc["error"]
    # The record names the deployment it acted on; the reconciling update is a new one, so a later
    # bake of blue is not tripped by it.
    assert tool("bake", "--minutes", "1", "--interval", "20").code == 0


def test_after_the_guardian_acts_an_update_that_sends_traffic_back_is_refused(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    switched_to_green(tool, checks)
    assert guardian_acts(world, "green")["action"] == "rollback"  # no runner alive: only the guardian acted

    # Config still sends traffic to green: a plain `pulumi up` is refused by the program itself ...
    with pytest.raises(PreviewFailedError, match="the guardian rolled back from green to blue") as refused:
        engine.up("pulumi up", lambda _line: None)
    assert "pulumi config set bluegreen:activeColor blue" in refused.value.message
    assert "pulumi config set bluegreen:guardianAck" in refused.value.message
    # ... and the tool says why the listener and the outputs disagree before it changes anything.
    run = tool("stage", "v3")
    assert run.code != 0
    assert "(the guardian rolled back from green to blue at " in run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["greenRelease"] == "v2" and engine.config_values["blueRelease"] == "v1"
    # Accepting the rollback is the way forward: config follows traffic, and the update goes through.
    assert tool("rollback", "--to", "blue").code == 0
    assert (world.live_weights(), engine.config_values["activeColor"]) == ({"blue": 100, "green": 0}, "blue")


def reflipped_to_the_same_build(tool: Tool, world: World, engine: FakeEngine, checks: Path) -> dict[str, Any]:
    """green (v2) went live, the guardian rolled it back, config followed, and green, the same build, went live
    again: a new deployment, though the state document says what the first one said."""
    switched_to_green(tool, checks)
    first = guardian_acts(world, "green")
    assert first["action"] == "rollback"
    assert tool("rollback", "--to", "blue").code == 0
    assert tool("switch").code == 0
    assert world.live_weights() == {"blue": 0, "green": 100}
    assert engine.outputs_values["guardianStateId"] != first["stateId"]
    return first


def test_a_reflip_to_the_same_build_is_a_new_deployment_the_guardian_acts_on(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    first = reflipped_to_the_same_build(tool, world, engine, checks)

    again = guardian_acts(world, "green")

    assert again["action"] == "rollback", again["why"]
    assert again["stateId"] == engine.outputs_values["guardianStateId"] != first["stateId"]
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_the_record_of_an_older_deployment_does_not_make_a_bake_roll_back_a_healthy_colour(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    reflipped_to_the_same_build(tool, world, engine, checks)  # the record still says "rolled back from green"

    run = tool("bake", "--minutes", "2", "--interval", "20")  # a full bake (bakeMinutes): it may keep

    assert run.code == 0, run.doc.get("error")
    assert run.doc["result"]["decision"]["decision"] == "keep"
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_a_ramp_hold_defers_to_the_guardian_and_writes_no_listener_itself(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock
) -> None:
    stage_and_verify(tool, checks)
    holds = engine.up_count + 1
    acted: dict[str, Any] = {}

    def alarm_during_the_hold(_engine: FakeEngine, count: int) -> None:
        if count == holds:  # green has 10%; its release-health alarm fires and the guardian acts
            clock.at(clock.t + 5, lambda: acted.update(guardian_acts(world, "green")))

    engine.after_up = alarm_during_the_hold
    tool.log.calls.clear()

    run = tool("switch", "--ramp", "10,50", "--pause", "60")

    assert acted["action"] == "rollback", acted["why"]
    assert run.code == 3, run.doc["error"]
    assert "guardian: rolled back to blue" in run.doc["error"]
    assert tool.log.count("ModifyListener") == 0  # the guardian's one call is the only listener write
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert (engine.config_values["activeColor"], engine.config_values["idleTrafficPercent"]) == ("blue", "0")
    restore = next(s for s in run.doc["steps"] if s["name"] == "restore traffic")
    assert restore["detail"] == "100% on blue by the guardian, config activeColor=blue"


def test_a_guardian_rollback_that_a_ramp_steps_update_overwrites_is_caught_at_the_next_hold(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    second_step = engine.up_count + 2
    acted: dict[str, Any] = {}

    def guardian_during_the_update(_engine: FakeEngine, count: int) -> None:
        # Green has 10%; it alarms while the 50% step is being applied: the program's check has already run,
        # so the update goes on and writes 50/50 over the guardian's 100/0.
        if count == second_step:
            acted.update(guardian_acts(world, "green"))

    engine.while_applying = guardian_during_the_update

    run = tool("switch", "--ramp", "10,50", "--pause", "60")

    assert acted["action"] == "rollback", acted.get("why")
    assert run.code == 3, run.doc["error"]
    assert "guardian: rolled back to blue" in run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}  # put back: the listener said 50/50
    assert tool.log.count("ModifyListener") == 1
    assert (engine.config_values["activeColor"], engine.config_values["idleTrafficPercent"]) == ("blue", "0")


def test_history_shows_every_decision_with_who_why_and_fingerprints_from_any_machine(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock, moto: AwsEnv
) -> None:
    switched_to_green(tool, checks)
    acted: dict[str, Any] = {}
    clock.at(clock.t + 25, lambda: acted.update(guardian_acts(world, "green", clock)))  # the tool's clock
    assert tool("bake", "--minutes", "5", "--interval", "20").code == 3
    assert acted["action"] == "rollback"
    fingerprints = {c: engine.outputs_values[f"{c}Spec"]["fingerprint"] for c in ("blue", "green")}

    # Another machine: new clients, nothing shared with the runs above but the account.
    elsewhere = Tool(engine, clock, Aws(REGION), CallLog())
    run = elsewhere("history")

    assert run.code == 0, run.doc["error"]
    records = run.doc["result"]["history"]
    assert [(r["kind"], r["source"]) for r in records] == [
        ("switch", "tool"),
        ("guardian", "guardian"),
        ("rollback", "tool"),  # config follows the guardian first, then the bake records its decision
        ("bake", "tool"),
    ]
    switch, acted, rolled, baked = records
    assert switch["what"] == "traffic blue → green"
    assert "green runs release v2, verified, 2/2 healthy" in switch["why"]
    assert acted["what"] == "rollback green → blue (one ModifyListener call)"
    assert acted["who"].startswith("the guardian (Lambda")
    assert baked["what"] == "the guardian rolled back green → blue; config follows"
    assert rolled["what"] == "rollback green → blue (the guardian's ModifyListener)"
    caller = moto.aws.sts.get_caller_identity()["Arn"]
    assert all(r["who"] == caller for r in records if r["source"] == "tool")
    assert all(r["fingerprints"] == fingerprints for r in records)
    assert [r["at"] for r in records] == sorted(r["at"] for r in records)
    # For people: one block per record, oldest first; --limit keeps the newest.
    text = elsewhere("history", "--limit", "2", json_mode=False).out
    assert "the newest 2 of 4 records" in text
    assert "bake      the guardian rolled back green → blue" in text and "switch " not in text
    assert f"fingerprints: blue={fingerprints['blue'][:12]} green={fingerprints['green'][:12]}" in text


def test_history_of_a_stack_deployed_without_a_decision_log_says_what_to_do(tool: Tool, engine: FakeEngine) -> None:
    for key in ("decisionLogParameter", "guardianRecordParameter"):
        del engine.outputs_values[key]

    run = tool("history")

    assert run.code == 2
    assert "run `pulumi up` with the current program first" in run.doc["error"]


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


@pytest.mark.parametrize(
    ("fault", "named"),
    [
        (lambda world: world.set_alarm(GREEN_5XX, "ALARM"), f"{GREEN_5XX} tripped"),
        # over before the next poll: read from the alarm's history
        (lambda world: blip(world, GREEN_5XX), "OK by the next poll) tripped"),
    ],
    ids=["alarm", "short-alarm"],
)
def test_alarm_during_a_ramp_step_rolls_back(
    tool: Tool,
    world: World,
    engine: FakeEngine,
    checks: Path,
    clock: FakeClock,
    fault: Callable[[World], None],
    named: str,
) -> None:
    stage_and_verify(tool, checks)
    clock.at(clock.t + 20, lambda: fault(world))

    run = tool("switch", "--ramp", "10", "--pause", "60", "--interval", "15")

    assert run.code == 3
    assert f"{named} while green had 10% of traffic" in run.doc["error"]
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
    summary = [line for line in traffic_summary(engine.config(), engine.outputs()).splitlines() if line]
    assert any("v2" in line for line in summary)  # the pending release is in the summary ...
    assert all(line in run.out for line in summary)  # ... and plan printed all of it


# ---------------------------------------------------------------- every update is previewed first


def policy_violation(number: int) -> Callable[[FakeEngine, int], None]:
    """The n-th preview fails as a mandatory policy violation does."""
    return fail_on_up(number, EngineError("pulumi preview failed:\nmandatory policy violation: rollback-readiness"))


def test_a_failed_preview_stops_a_switch_before_anything_changes(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    before = dict(engine.config_values)
    ups = engine.up_count
    engine.before_preview = policy_violation(engine.preview_count + 1)
    tool.log.calls.clear()

    run = tool("switch")

    assert run.code == 1
    assert "`pulumi up` did not run and nothing was changed" in run.doc["error"]
    assert "mandatory policy violation: rollback-readiness" in run.doc["error"]
    assert "nothing was changed: traffic untouched" in run.doc["error"]
    assert engine.up_count == ups  # the update never started
    assert engine.config_values == before  # and config was put back
    assert tool.log.count("ModifyListener") == 0
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_a_failed_preview_mid_ramp_puts_traffic_back(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    engine.before_preview = policy_violation(engine.preview_count + 2)  # the 50% step

    run = tool("switch", "--ramp", "10,50", "--pause", "30")

    assert run.code == 1
    assert "switch aborted during ramp to 50%; traffic is on blue" in run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}  # it had been at 10% green
    assert engine.config_values["activeColor"] == "blue"
    assert engine.config_values["idleTrafficPercent"] == "0"


# ---------------------------------------------------------------- the engine double runs the program's own guard


def test_the_engine_double_refuses_what_the_program_refuses(engine: FakeEngine) -> None:
    """A flip while the idle colour was scaled down until this update: the program's guard refuses it."""
    engine.set_config({"idleScaledDown": "true"})
    engine.up("scale the idle colour down", lambda _line: None)
    engine.set_config({"idleScaledDown": "false", "activeColor": "green"})

    with pytest.raises(PreviewFailedError) as raised:
        engine.up("flip", lambda _line: None)

    assert "release guard refused this update" in raised.value.message
    assert (
        "activeColor changes from blue to green while the idle colour is (or was until this update) scaled down"
        in raised.value.message
    )
    assert engine.up_count == 1


def test_the_engine_double_fails_closed_on_incomplete_outputs_like_the_program(engine: FakeEngine) -> None:
    del engine.outputs_values["greenWeight"]

    with pytest.raises(PreviewFailedError, match="stack outputs greenWeight are missing"):
        engine.up("anything", lambda _line: None)

    engine.set_config({"allowLiveRelease": "true"})  # the program's override for this one update
    assert engine.up("anything", lambda _line: None).changes
    assert engine.outputs_values["greenWeight"] == 0


def test_a_newer_ami_lookup_reaches_only_the_colour_being_staged(tool: Tool, world: World, engine: FakeEngine) -> None:
    engine.latest_image = "ami-0fedcba9876543210"

    run = tool("stage", "v2")

    assert run.code == 0, run.doc["error"]
    assert engine.outputs_values["greenImageId"] == "ami-0fedcba9876543210"  # its release changed: new lookup
    assert engine.outputs_values["blueImageId"] == world.image_id  # live: stays on the image it was deployed with


# ---------------------------------------------------------------- where the smoke checks go


def test_verify_refuses_https_on_the_alb_dns_name_before_any_request(
    tool: Tool, engine: FakeEngine, smoke: SmokeTarget, checks: Path
) -> None:
    assert tool("stage", "v2").code == 0
    assert engine.world.dns_name.endswith(".elb.amazonaws.com")
    engine.url = f"https://{engine.world.dns_name}"
    engine.publish()

    run = tool("verify", "--checks", str(checks))

    assert run.code == 2
    assert "cannot reach the load balancer by its own DNS name" in run.doc["error"]
    assert "bluegreen:publicHostname" in run.doc["error"]
    assert "--base-url" in run.doc["error"]
    assert smoke.requests == []
    assert engine.config_values["greenVerified"] == ""


def test_deploy_refuses_an_unusable_smoke_url_before_staging(tool: Tool, engine: FakeEngine, checks: Path) -> None:
    engine.url = f"https://{engine.world.dns_name}"
    engine.publish()

    run = tool("deploy", "v2", "--checks", str(checks))

    assert run.code == 2
    assert "publicHostname" in run.doc["error"]
    assert engine.up_count == 0


def test_base_url_overrides_the_stack_url_for_verify_and_bake(
    tool: Tool, world: World, engine: FakeEngine, smoke: SmokeTarget, checks: Path
) -> None:
    engine.url = f"https://{world.dns_name}"
    engine.publish()

    run = tool(
        "deploy", "v2", "--checks", str(checks), "--bake-checks", "--minutes", "1", "--interval", "30",
        "--base-url", smoke.url,
    )  # fmt: skip

    assert run.code == 0, run.doc["error"]
    assert run.doc["result"]["verify"]["url"] == smoke.url
    assert smoke.requests.count(("/version", "green")) == 4  # verify once, then 3 bake polls (0s, 30s, 60s)
    assert world.live_weights() == {"blue": 0, "green": 100}


# ---------------------------------------------------------------- holds long enough for an alarm to fire


def test_ramp_holds_default_to_the_alarm_window(tool: Tool, engine: FakeEngine, checks: Path) -> None:
    engine.config_values["alarmEvaluationMinutes"] = "1"
    stage_and_verify(tool, checks)

    run = tool("switch", "--ramp", "10", "--interval", "30")

    assert run.code == 0, run.doc["error"]
    assert "hold green at 10% for 180s" in [step["name"] for step in run.doc["steps"]]  # (1 + 2) minutes
    assert run.doc["warnings"] == []


def test_the_alarm_window_comes_from_the_project_dir_defaults(tool: Tool, checks: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert declared["config"]["alarmEvaluationMinutes"]["default"] == 3
    declared["config"]["alarmEvaluationMinutes"]["default"] = 4
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(declared))
    stage_and_verify(tool, checks)

    run = tool("switch", "--ramp", "10", "--interval", "60", "--project-dir", str(project))

    assert run.code == 0, run.doc["error"]
    assert "hold green at 10% for 360s" in [step["name"] for step in run.doc["steps"]]  # (4 + 2) minutes


def test_a_pause_or_bake_shorter_than_the_alarm_window_is_warned_about(tool: Tool, checks: Path) -> None:
    stage_and_verify(tool, checks)

    switched = tool("switch", "--ramp", "10", "--pause", "60", "--interval", "30")
    short_bake = tool("bake", "--minutes", "2", "--interval", "60")
    long_bake = tool("bake", "--minutes", "5", "--interval", "60")

    assert switched.code == 0 and short_bake.code == 0 and long_bake.code == 0
    window = "300s (alarmEvaluationMinutes=3 consecutive one-minute datapoints + ~2 min CloudWatch delay)"
    assert switched.doc["warnings"] == [
        f"--pause 60s is shorter than the {window} it takes an alarm to fire: a regression at a ramp step may not "
        "be caught before the next step (default --pause is that window)"
    ]
    assert short_bake.doc["warnings"] == [
        f"--minutes=2 is shorter than the {window} it takes an alarm to fire: this bake cannot catch a regression "
        "that starts now"
    ]
    assert long_bake.doc["warnings"] == []


# ---------------------------------------------------------------- Ctrl-C and failed config writes
@pytest.mark.usefixtures("no_gc_callbacks")
def test_ctrl_c_during_a_rollback_is_held_until_config_points_at_the_target(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    ups = engine.up_count
    write = engine.set_config

    def ctrl_c_then_write(values: Mapping[str, str]) -> None:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C after the fast path, as config is being written
        write(values)

    monkeypatch.setattr(engine, "set_config", ctrl_c_then_write)

    run = tool("rollback")

    assert run.code == 130
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"  # so a later `pulumi up` keeps traffic on blue
    assert engine.config_values["rollbackColor"] == "blue"
    assert engine.up_count == ups  # the Ctrl-C is honoured before `pulumi up` starts
    assert "traffic is on blue (fast path) and config points at it" in run.doc["error"]
    assert "python -m bluegreen rollback --to blue --stack test" in run.doc["error"]


@pytest.mark.usefixtures("no_gc_callbacks")
def test_ctrl_c_once_bake_decided_to_roll_back_does_not_stop_the_rollback(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage_and_verify(tool, checks)
    assert tool("switch").code == 0
    clock.at(clock.t + 10, lambda: world.set_alarm(GREEN_5XX, "ALARM"))
    printed = bake_module._print_record

    def ctrl_c_while_printing(ctx: Any, record: dict[str, Any]) -> None:
        signal.raise_signal(signal.SIGINT)  # between the decision and the fast path
        printed(ctx, record)

    monkeypatch.setattr(bake_module, "_print_record", ctrl_c_while_printing)
    ups = engine.up_count

    run = tool("bake", "--minutes", "1", "--interval", "15")

    assert run.code == 130
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"
    assert engine.up_count == ups
    assert run.doc["result"]["decision"]["decision"] == "rollback-interrupted"
    assert "tripped during bake; the rollback to blue was interrupted" in run.doc["error"]


RESTORE_TO_BLUE = (
    "--stack test --plaintext bluegreen:activeColor=blue --plaintext bluegreen:idleTrafficPercent=0 "
    "--plaintext bluegreen:rollbackColor=blue`, then `python -m bluegreen rollback --to blue --stack test`"
)


def test_a_failed_config_write_while_restoring_a_switch_says_exactly_what_to_run(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage_and_verify(tool, checks)
    engine.after_up = fail_on_up(engine.up_count + 2, EngineError("pulumi up failed after updating the listener"))
    write = engine.set_config

    def restore_write_fails(values: Mapping[str, str]) -> None:
        if values.get("activeColor") == "blue" and values.get("idleTrafficPercent") == "0":
            raise EngineError("pulumi config set failed:\nerror: could not write Pulumi.test.yaml")
        write(values)

    monkeypatch.setattr(engine, "set_config", restore_write_fails)

    run = tool("switch", "--ramp", "10,50", "--pause", "30")

    assert run.code == 1
    assert world.live_weights() == {"blue": 100, "green": 0}
    error = run.doc["error"]
    assert error.startswith(
        "switch aborted during ramp to 50% (pulumi up failed after updating the listener); traffic is on blue "
        "(ModifyListener), but writing the stack config failed (pulumi config set failed:), so config does not "
        "point at blue and the next `pulumi up` would move traffic away from it. Run `pulumi config set-all"
    )
    assert error.endswith(RESTORE_TO_BLUE)


def test_a_failed_config_write_after_the_fast_path_says_exactly_what_to_run(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    ups = engine.up_count

    def write_fails(_values: Mapping[str, str]) -> None:
        raise EngineError("pulumi config set failed:\nerror: could not write Pulumi.test.yaml")

    monkeypatch.setattr(engine, "set_config", write_fails)

    run = tool("rollback")

    assert run.code == 1
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert "traffic is on blue (ModifyListener), but writing the stack config failed" in run.doc["error"]
    assert run.doc["error"].endswith(RESTORE_TO_BLUE)
    assert engine.up_count == ups  # no `pulumi up` against config that still says green


# ---------------------------------------------------------------- rollback without a recorded colour


def test_rollback_without_rollback_color_goes_opposite_the_deployed_active_colour(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    engine.config_values["rollbackColor"] = ""

    run = tool("rollback", json_mode=False)

    assert run.code == 0, run.err
    assert "rolling back to blue, the colour opposite the deployed activeColor (green)" in run.out
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert engine.config_values["activeColor"] == "blue"
    assert engine.config_values["rollbackColor"] == "blue"


# ---------------------------------------------------------------- where traffic ends after an interrupt


def interrupt_mid_ramp(tool: Tool, world: World, engine: FakeEngine, checks: Path, harm: Callable[[], None]) -> Run:
    stage_and_verify(tool, checks)
    ups = engine.up_count

    def hook(_engine: FakeEngine, count: int) -> None:
        if count == ups + 2:
            harm()
            raise KeyboardInterrupt

    engine.before_up = hook
    return tool("switch", "--ramp", "10,50", "--pause", "10", json_mode=False)


def test_an_interrupt_keeps_the_old_colour_while_one_of_its_targets_is_healthy(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    run = interrupt_mid_ramp(tool, world, engine, checks, lambda: world.stop_some_instances("blue", 1))
    assert run.code == 130
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_an_interrupt_with_the_old_colour_dead_uses_the_other_with_one_healthy_target(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    def harm() -> None:
        world.stop_instances("blue")
        world.stop_some_instances("green", 1)

    run = interrupt_mid_ramp(tool, world, engine, checks, harm)
    assert run.code == 130
    assert world.live_weights() == {"blue": 0, "green": 100}
    said = run.out + run.err
    assert "blue has 0/2 healthy" in said and "using green" in said


def test_an_interrupt_with_both_colours_dead_keeps_traffic_on_the_old_colour_and_says_so(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    def harm() -> None:
        world.stop_instances("blue")
        world.stop_instances("green")

    run = interrupt_mid_ramp(tool, world, engine, checks, harm)
    assert run.code == 130
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert "neither colour has a healthy target; keeping traffic on blue" in run.out + run.err


def test_rollback_during_even_a_1_percent_canary_goes_to_the_active_colour(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    engine.config_values.update(idleTrafficPercent="1", rollbackColor="")

    run = tool("rollback", json_mode=False)

    assert run.code == 0, run.err
    assert "a canary is configured (idleTrafficPercent=1), so rolling back to the active colour blue" in run.out
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_rollback_of_a_deployed_canary_goes_to_the_deployed_active_colour(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    assert tool("switch", "--ramp", "10", "--pause", "0").code == 0
    engine.config_values.update(rollbackColor="")
    engine.outputs_values.update(activeColor="blue", blueWeight=90, greenWeight=10)
    engine.config_values.update(activeColor="blue", idleTrafficPercent="0")

    run = tool("rollback", json_mode=False)

    assert run.code == 0, run.err
    assert "the deployed canary sends 10% to green, so rolling back to the deployed activeColor blue" in run.out
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_rollback_to_an_explicit_colour_goes_there_and_reports_the_move(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    engine.config_values["rollbackColor"] = "green"  # a recorded target that --to overrides

    run = tool("rollback", "--to", "blue", "--force")

    assert run.code == 0, run.doc["error"]
    assert world.live_weights() == {"blue": 100, "green": 0}
    result = run.doc["result"]["rollback"]
    assert (result["to"], result["from"], result["fast"]) == ("blue", "green", True)
    assert isinstance(result["fastPathSeconds"], float)


def test_a_failed_listener_write_while_restoring_says_which_commands_to_run(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage_and_verify(tool, checks)
    ups = engine.up_count

    def hook(_engine: FakeEngine, count: int) -> None:
        if count == ups + 2:
            monkeypatch.setattr(Aws, "set_listener_weights", _refuse)
            raise EngineError("pulumi up failed: provider error")

    engine.before_up = hook
    run = tool("switch", "--ramp", "10,50", "--pause", "10")

    assert run.code != 0
    error = run.doc["error"]
    assert "COULD NOT RESTORE TRAFFIC" in error, error
    stack = engine.stack_name
    assert (
        f"`python -m bluegreen status --stack {stack}`, then `python -m bluegreen rollback --to blue --stack {stack}`"
        in error
    )


AFTER_CTRL_C_ON_BLUE = (
    "if the Ctrl-C came while `pulumi` was updating, that CLI may still finish (or abandon) resource operations it "
    "had started; run `python -m bluegreen status --stack test`, then `python -m bluegreen rollback --to blue "
    "--stack test` (if the stack is reported locked, `pulumi cancel --stack test` releases the lock once no "
    "`pulumi` process is left)"
)


@pytest.mark.parametrize(
    ("flags", "where"),
    [((), "traffic is on blue (fast path) and config points at it"), (("--no-fast",), "config points at blue")],
)
def test_ctrl_c_during_the_rollbacks_pulumi_up_says_where_traffic_is_and_what_to_run(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, flags: tuple[str, ...], where: str
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    engine.before_up = fail_on_up(engine.up_count + 1, KeyboardInterrupt())

    run = tool("rollback", *flags)

    assert run.code == 130
    assert run.doc["error"] == f"interrupted during `pulumi up`: {where}; {AFTER_CTRL_C_ON_BLUE}"
    assert engine.config_values["activeColor"] == "blue"


def test_a_failed_pulumi_up_after_the_fast_path_keeps_its_own_error_and_says_to_re_run(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0
    engine.before_up = fail_on_up(engine.up_count + 1, EngineError("pulumi up failed: provider error"))

    fast = tool("rollback")
    engine.before_up = fail_on_up(engine.up_count + 1, EngineError("pulumi up failed: provider error"))
    slow = tool("rollback", "--no-fast")

    assert fast.doc["error"] == (
        "pulumi up failed: provider error\ntraffic is already on blue (fast path) and config points at it; Pulumi "
        "state does not match yet: re-run `python -m bluegreen rollback --to blue --stack test`"
    )
    assert slow.doc["error"] == "pulumi up failed: provider error"  # no fast path: nothing else to say


@pytest.mark.parametrize(("error", "shown"), [(OSError("disk full\nerrno 28"), "disk full"), (OSError(), "OSError")])
def test_a_config_write_that_fails_outside_pulumi_is_named_by_its_first_line(
    tool: Tool, engine: FakeEngine, checks: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, shown: str
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0

    def write_fails(_values: Mapping[str, str]) -> None:
        raise error

    monkeypatch.setattr(engine, "set_config", write_fails)

    run = tool("rollback")

    assert run.code == 1
    assert f"but writing the stack config failed ({shown}), so config does not point at blue" in run.doc["error"]
    assert run.doc["result"]["details"] == {
        "trafficOn": "blue",
        "configNotWritten": {"activeColor": "blue", "idleTrafficPercent": "0", "rollbackColor": "blue"},
    }


def test_a_restored_switch_says_what_it_did_and_reconciles_with_its_own_message(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    engine.after_up = fail_on_up(engine.up_count + 2, EngineError("pulumi up failed after updating the listener"))

    run = tool("switch", "--ramp", "10,50", "--pause", "30")

    assert run.code == 1
    restore = next(s for s in run.doc["steps"] if s["name"] == "restore traffic")
    assert (restore["status"], restore["detail"]) == ("ok", "100% on blue (ModifyListener), config activeColor=blue")
    assert engine.messages[-1] == "bluegreen switch aborted: traffic on blue"


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (EngineError("pulumi up failed: still broken\nmore detail"), "pulumi up failed: still broken"),
        (EngineError(""), "EngineError"),
    ],
)
def test_a_failed_reconcile_after_a_restore_warns_with_the_command_to_run(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, error: EngineError, shown: str
) -> None:
    stage_and_verify(tool, checks)
    ups = engine.up_count
    engine.after_up = fail_on_up(ups + 2, EngineError("pulumi up failed after updating the listener"))
    engine.before_up = fail_on_up(ups + 3, error)  # the reconciling update fails too

    run = tool("switch", "--ramp", "10,50", "--pause", "30")

    assert run.code == 1
    assert world.live_weights() == {"blue": 100, "green": 0}
    assert run.doc["warnings"][1:] == [
        f"traffic is on blue, but `pulumi up` to match state failed ({shown}); run "
        "`python -m bluegreen rollback --to blue --stack test` once the cause is fixed"
    ]


def test_an_interrupted_switch_leaves_state_to_a_rollback_and_says_so(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    ups = engine.up_count
    engine.before_up = fail_on_up(ups + 2, KeyboardInterrupt())

    run = tool("switch", "--ramp", "10,50", "--pause", "30")

    assert run.code == 130
    assert engine.up_count == ups + 2  # no reconciling update after a Ctrl-C
    assert run.doc["warnings"][1:] == [  # after the short --pause warning
        "traffic is on blue; run `python -m bluegreen rollback --to blue --stack test` to bring Pulumi state in line"
    ]
    assert run.doc["error"] == f"interrupted during ramp to 50%; traffic is on blue; {AFTER_CTRL_C_ON_BLUE}"


def test_a_listener_that_does_not_take_the_new_weights_fails_the_switch_after_the_confirm_timeout(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    ups = engine.up_count

    def overwritten(_engine: FakeEngine, count: int) -> None:
        if count == ups + 1:
            world.set_weights({"blue": 100, "green": 0})  # something else rewrites the listener
            tool.log.calls.clear()

    engine.after_up = overwritten

    run = tool("switch", "--confirm-timeout", "4")

    assert run.code == 1
    assert run.doc["error"].startswith(
        "live weights blue=100 green=0 differ from the expected blue=0 green=100 after 4s\n"
        "switch aborted during switch to green; traffic is on blue"
    )
    assert run.doc["result"]["details"] == {"live": {"blue": 100, "green": 0}, "expected": {"blue": 0, "green": 100}}
    # read at 0, 2 and 4 s (every 2 s up to the timeout), then the restore's single write
    confirm = tool.log.calls[: tool.log.calls.index("ModifyListener")]
    assert confirm.count("DescribeListeners") == 3


# ---------------------------------------------------------------- what switch checks and says


def step_names(run: Run) -> list[str]:
    return [step["name"] for step in run.doc["steps"]]


def test_a_switch_to_a_colour_whose_config_is_ahead_of_what_is_deployed_is_refused(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    engine.config_values["greenRelease"] = "v3"  # set, but never staged with `pulumi up`

    run = tool("switch")

    assert run.code == 1
    assert run.doc["error"] == (
        "green is not staged: config bluegreen:greenRelease='v3' but the stack output greenRelease is 'v2'; "
        "run `python -m bluegreen stage v3`"
    )
    assert tool.log.count("ModifyListener") == 0


@pytest.mark.parametrize("output", ["greenImageId", "greenUserDataHash"])
def test_a_verification_does_not_carry_over_to_a_different_image_or_boot_script(
    tool: Tool, engine: FakeEngine, checks: Path, output: str
) -> None:
    stage_and_verify(tool, checks)
    engine.outputs_values[output] = "ami-0fffffffffffffff0" if output == "greenImageId" else "0" * 64
    ups = engine.up_count

    run = tool("switch")

    assert run.code == 1
    shown = "ami-0fffffffffffffff0" if output == "greenImageId" else engine.outputs_values["greenImageId"]
    assert run.doc["error"].startswith(f"green is not verified for release 'v2' ({shown}): it was verified for 'v2' (")
    assert engine.up_count == ups


def test_an_unhealthy_colour_is_refused_with_its_counts(tool: Tool, world: World, checks: Path) -> None:
    stage_and_verify(tool, checks)
    world.stop_some_instances("green", 1)

    run = tool("switch")

    assert run.code == 1
    assert run.doc["result"]["details"] == {"color": "green", "healthy": 1, "total": 2, "desired": 2}


def test_a_colour_of_one_healthy_instance_out_of_one_can_take_traffic(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    engine.config_values.update(minSize="1", desiredCapacity="1")
    stage_and_verify(tool, checks)

    run = tool("switch")

    assert run.code == 0, run.doc["error"]
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_a_switch_says_each_step_and_each_update_names_what_it_does(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    ups = len(engine.messages)

    run = tool("switch", "--ramp", "10,50", "--pause", "30", "--interval", "30")

    assert run.code == 0, run.doc["error"]
    assert [n for n in step_names(run) if not n.startswith(("config", "pulumi", "switch ("))] == [
        "check green is ready",
        "ramp green to 10%",
        "hold green at 10% for 30s",
        "ramp green to 50%",
        "hold green at 50% for 30s",
        "switch traffic to green",
        "confirm live weights",
    ]
    assert engine.messages[ups:] == [
        "bluegreen switch: green at 10%",
        "bluegreen switch: green at 50%",
        "bluegreen switch to green",
    ]
    assert run.doc["result"]["switch"] == {"switched": True, "active": "green", "previous": "blue", "ramp": [10, 50]}


def test_a_ramp_hold_prints_its_alarms_for_people(tool: Tool, checks: Path) -> None:
    stage_and_verify(tool, checks)

    run = tool("switch", "--ramp", "10", "--pause", "60", "--interval", "30", json_mode=False)

    assert run.code == 0
    assert f"… ramp green: {GREEN_5XX}=OK, {GREEN_P99}=OK; 30s left [30s]" in run.out


def test_a_resumed_ramp_skips_the_steps_already_taken(tool: Tool, engine: FakeEngine, checks: Path) -> None:
    stage_and_verify(tool, checks)
    engine.config_values.update(idleTrafficPercent="10", rollbackColor="blue")  # a ramp left at its 10% step
    ups = len(engine.messages)

    run = tool("switch", "--to", "green", "--ramp", "10,50", "--pause", "0")

    assert run.code == 0, run.doc["error"]
    assert engine.messages[ups:] == ["bluegreen switch: green at 50%", "bluegreen switch to green"]


def test_a_canary_back_toward_the_active_colour_goes_straight_to_the_final_step(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    assert tool("switch").code == 0
    engine.config_values["idleTrafficPercent"] = "10"  # green active, 10% canary on blue
    ups = len(engine.messages)

    run = tool("switch", "--to", "green", "--ramp", "10,50", "--pause", "0")

    assert run.code == 0, run.doc["error"]
    assert engine.messages[ups:] == ["bluegreen switch to green"]
    assert world.live_weights() == {"blue": 0, "green": 100}


def test_switching_to_the_live_colour_changes_nothing_and_says_so(tool: Tool, engine: FakeEngine, checks: Path) -> None:
    stage_and_verify(tool, checks)
    assert tool("switch").code == 0

    run = tool("switch", "--to", "green")

    assert run.doc["result"]["switch"] == {"switched": False, "active": "green"}
    assert "confirm live weights" in step_names(run)


def test_a_pause_as_long_as_the_alarm_window_is_not_warned_about(tool: Tool, checks: Path) -> None:
    stage_and_verify(tool, checks)

    run = tool("switch", "--ramp", "10", "--pause", "300", "--interval", "300")

    assert run.code == 0
    assert run.doc["warnings"] == []


def test_two_alarms_during_a_ramp_are_both_named_and_recorded(
    tool: Tool, world: World, checks: Path, clock: FakeClock
) -> None:
    stage_and_verify(tool, checks)

    def both() -> None:
        world.set_alarm(GREEN_5XX, "ALARM")
        world.set_alarm(GREEN_P99, "ALARM", 2.0)

    clock.at(clock.t + 20, both)

    run = tool("switch", "--ramp", "10", "--pause", "60", "--interval", "15")

    assert run.code == 3
    assert run.doc["error"].startswith(f"{GREEN_5XX}, {GREEN_P99} tripped while green had 10% of traffic")
    fired = run.doc["result"]["details"]["observation"]["fired"]
    assert [f["alarm"] for f in fired] == [GREEN_5XX, GREEN_P99]


# ---------------------------------------------------------------- what rollback and status read


def test_a_rollback_without_a_readable_deployed_colour_asks_for_to(tool: Tool, engine: FakeEngine) -> None:
    engine.config_values["rollbackColor"] = ""
    engine.outputs_values["activeColor"] = "purple"

    run = tool("rollback")

    assert run.code == 2
    assert run.doc["error"] == (
        "config bluegreen:rollbackColor is empty and the deployed activeColor cannot be read (stack output "
        "'activeColor' should be blue or green, got 'purple'; run `pulumi up` with the current program first); "
        "pass --to blue|green"
    )


def test_rollback_of_a_deployed_1_percent_canary_goes_to_the_deployed_active_colour(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    engine.config_values.update(rollbackColor="")
    engine.outputs_values.update(activeColor="blue", blueWeight=99, greenWeight=1)

    run = tool("rollback", json_mode=False)

    assert run.code == 0, run.err
    assert "the deployed canary sends 1% to green, so rolling back to the deployed activeColor blue" in run.out


def test_a_slow_rollback_names_its_update_and_confirms_the_weights(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    assert tool("deploy", "v2", "--checks", str(checks), "--minutes", "0").code == 0

    run = tool("rollback", "--no-fast")

    assert run.code == 0
    assert engine.messages[-1] == "bluegreen rollback to blue"
    assert step_names(run)[-1] == "confirm live weights"


def test_status_shows_a_colour_missing_from_the_listener_as_0_and_a_foreign_target_group_by_its_arn(
    tool: Tool, world: World
) -> None:
    foreign = world.elbv2().create_target_group(
        Name="someone-else",
        Protocol="HTTP",
        Port=80,
        VpcId=world.elbv2().describe_target_groups(TargetGroupArns=[world.target_groups["blue"]])["TargetGroups"][0][
            "VpcId"
        ],
    )["TargetGroups"][0]["TargetGroupArn"]
    world.elbv2().modify_listener(
        ListenerArn=world.listener_arn,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": world.target_groups["blue"], "Weight": 90},
                        {"TargetGroupArn": foreign, "Weight": 10},
                    ]
                },
            }
        ],
    )

    run = tool("status")

    assert run.doc["result"]["status"]["liveWeights"] == {"blue": 90, "green": 0, f"other:{foreign}": 10}


def test_a_listener_that_keeps_old_weights_is_waited_for_and_said_so(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, clock: FakeClock
) -> None:
    stage_and_verify(tool, checks)
    clock.sleep(1000)  # a clock that is not at zero, as a real one never is
    ups = engine.up_count

    def overwritten(_engine: FakeEngine, count: int) -> None:
        if count == ups + 1:
            world.set_weights({"blue": 100, "green": 0})
            tool.log.calls.clear()

    engine.after_up = overwritten

    run = tool("switch", "--confirm-timeout", "4", json_mode=False)

    assert run.code == 1
    assert "… waiting for weights blue=0 green=100 [0s]" in run.out
    assert "… waiting for weights blue=0 green=100 [2s]" in run.out
    assert tool.log.calls[: tool.log.calls.index("ModifyListener")].count("DescribeListeners") == 3


# ---------------------------------------------------------------- long waits say they are waiting


def test_a_bake_with_long_polls_prints_a_heartbeat_at_least_every_30_seconds(
    tool: Tool, checks: Path, clock: FakeClock
) -> None:
    switched_to_green(tool, checks)
    clock.sleeps.clear()

    run = tool("bake", "--minutes", "3", "--interval", "90", json_mode=False)

    assert run.code == 0
    assert clock.sleeps == [30, 30, 30, 30, 30, 30]  # two polls 90 s apart, each wait in 30 s slices
    assert "… bake green: next poll in 60s [30s]" in run.out
    assert "… bake green: next poll in 30s [60s]" in run.out


def test_a_slow_health_wait_prints_a_heartbeat_when_nothing_changes(
    tool: Tool, world: World, engine: FakeEngine, clock: FakeClock
) -> None:
    def slow_boot(_engine: FakeEngine, _count: int) -> None:
        world.stop_instances("green")
        clock.at(clock.t + 95, lambda: world.start_instances("green"))

    engine.after_up = slow_boot

    run = tool("stage", "v2", "--poll", "10", "--timeout", "300", json_mode=False)

    assert run.code == 0, run.err
    waiting = [line for line in run.out.splitlines() if "green: 0/2 healthy" in line]
    assert [line.rsplit("[", 1)[1] for line in waiting] == ["0s]", "30s]", "60s]", "90s]"]


def test_a_silent_pulumi_up_still_prints_a_heartbeat_and_stops_when_it_returns() -> None:
    # `pulumi up` prints nothing while an ASG waits for capacity; the tool must not look hung.
    out = io.StringIO()
    reporter = Reporter(SystemClock(), out=out)
    with reporter.keepalive("pulumi up is still running", every=0.2):
        time.sleep(1.0)
    beats = out.getvalue().count("pulumi up is still running")
    assert beats >= 3
    time.sleep(0.5)
    assert out.getvalue().count("pulumi up is still running") == beats


def test_no_heartbeat_while_pulumi_prints() -> None:
    out = io.StringIO()
    reporter = Reporter(SystemClock(), out=out)
    with reporter.keepalive("pulumi up is still running", every=0.5):
        for _ in range(10):
            reporter.engine_line("+ aws:autoscaling:Group creating")
            time.sleep(0.1)
    assert "still running" not in out.getvalue().split("creating", 1)[1]


def test_a_lock_taken_mid_ramp_puts_traffic_back_and_says_the_lock_stopped_it(
    tool: Tool, world: World, engine: FakeEngine, checks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage_and_verify(tool, checks)
    up = engine.up
    calls = {"n": 0}

    def locked_on_the_second_step(message: str, on_output: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise StackLockedError("stack 'test' is currently locked by another update")
        return up(message, on_output)

    monkeypatch.setattr(engine, "up", locked_on_the_second_step)
    ups = engine.up_count

    run = tool("switch", "--ramp", "10,50", "--pause", "0")

    assert run.code == 4
    assert world.live_weights() == {"blue": 100, "green": 0}  # it had been at 10% green
    assert run.doc["error"].endswith("\nswitch aborted during ramp to 50%; traffic is on blue")
    restore = next(s for s in run.doc["steps"] if s["name"] == "restore traffic")
    assert restore["status"] == "ok"
    assert engine.up_count == ups + 1  # the 10% step only: a locked stack is not updated again


def test_an_unexpected_error_mid_ramp_puts_traffic_back_and_names_it(
    tool: Tool, world: World, engine: FakeEngine, checks: Path
) -> None:
    stage_and_verify(tool, checks)
    engine.before_up = fail_on_up(engine.up_count + 2, RuntimeError("disk full"))

    run = tool("switch", "--ramp", "10,50", "--pause", "0")

    assert run.code == 1
    assert run.doc["error"] == "switch aborted during ramp to 50% (RuntimeError('disk full')); traffic is on blue"
    assert world.live_weights() == {"blue": 100, "green": 0}


def test_verify_prints_each_attempt_for_people(tool: Tool, checks: Path) -> None:
    assert tool("stage", "v2").code == 0

    run = tool("verify", "--checks", str(checks), json_mode=False)

    assert run.code == 0
    assert "health #1: ok" in run.out
    assert "version #1: ok" in run.out


def _refuse(*_args: Any, **_kwargs: Any) -> None:
    raise RuntimeError("ModifyListener refused")


# ---------------------------------------------------------------- rotating the preview token


def probe(smoke: SmokeTarget, color: str, token: str) -> tuple[str, str]:
    """GET /version through the (moto-routed) preview route: (the rule that took it, the release that answered)."""
    headers = {PREVIEW_COLOR_HEADER: color, PREVIEW_TOKEN_HEADER: token}
    request = urllib.request.Request(f"{smoke.url}/version", headers=headers)
    with urllib.request.urlopen(request, timeout=5) as reply:
        answered = str(json.loads(reply.read())["version"])
    return smoke.routes[-1][2], answered


def rule_tokens(world: World) -> dict[str, set[str]]:
    rules = world.elbv2().describe_rules(ListenerArn=world.listener_arn)["Rules"]
    found = preview_rule_tokens(rules, PREVIEW_COLOR_HEADER, PREVIEW_TOKEN_HEADER, ("blue", "green"))
    return {color: set(values) for color, values in found.items()}


def test_rotate_token_accepts_old_and_new_during_the_switch_then_only_the_new(
    tool: Tool, world: World, engine: FakeEngine, smoke: SmokeTarget, checks: Path, moto: AwsEnv, clock: FakeClock
) -> None:
    assert tool("stage", "v2").code == 0  # green (idle) answers v2, blue (live) v1: /version tells them apart
    old = engine.outputs_values["previewToken"]
    assert probe(smoke, "green", old) == ("rule 20", "v2")
    during: dict[str, Any] = {}

    def in_the_switch(engine: FakeEngine, count: int) -> None:
        if count == ups + 1:  # the update that makes the new token has finished; the next one has not started
            new = engine.outputs_values["previewToken"]
            during.update(rules=rule_tokens(world), new=new, old_probe=probe(smoke, "green", old))
            during["new_probe"] = probe(smoke, "green", new)

    ups = engine.up_count
    engine.after_up = in_the_switch

    run = tool("rotate-token")

    assert run.code == 0, run.doc["error"]
    new = engine.outputs_values["previewToken"]
    assert new != old and during["new"] == new
    # During the switch both tokens reach the idle colour through its preview rule.
    assert during["rules"] == {"blue": {old, new}, "green": {old, new}}
    assert during["old_probe"] == ("rule 20", "v2")
    assert during["new_probe"] == ("rule 20", "v2")
    # After it only the new one does; the old one falls through to the default action, the live colour.
    assert rule_tokens(world) == {"blue": {new}, "green": {new}}
    assert probe(smoke, "green", new) == ("rule 20", "v2")
    assert probe(smoke, "green", old) == ("default", "v1")
    assert engine.config_values["previewTokenGeneration"] == "2"
    assert engine.messages[-2:] == [
        "bluegreen rotate-token: generation 2",
        "bluegreen rotate-token: retire the token before generation 2",
    ]
    assert run.doc["result"]["rotateToken"] == {"generation": 2, "previousGeneration": 1, "checkedColor": "green"}
    names = [step["name"] for step in run.doc["steps"]]
    assert "the preview rules accept the old and the new token" in names
    assert "the preview rules accept only the new token" in names
    assert old not in run.out + run.err and new not in run.out + run.err  # compared, never shown
    # The tool (verify reads the previewToken output) and the gate use the new token: the program gives the gate
    # the deployed token, which is now the new one; the old one would reach blue, which answers v1, not v2.
    assert tool("verify", "--checks", str(checks)).code == 0
    assert smoke.routes[-1][1:] == ("green", "rule 20")
    green = ColorCheck("green", "v2", world.target_groups["green"], 2, "/health")

    def gate(token: str) -> list[str]:
        return check_color(
            green,
            url=smoke.url,
            token=token,
            healthy_count=lambda arn: moto.aws.target_health(arn).healthy,
            sleep=clock.sleep,
        )

    assert gate(new) == []
    assert gate(old) == [
        "green /version through the preview route: answered release 'v1', not 'v2': another colour answered (does "
        "the app ignore the preview headers?), or the colour does not run the release it was deployed with"
    ]


def test_a_rotation_stopped_between_its_updates_says_so_and_finish_completes_it(
    tool: Tool, world: World, engine: FakeEngine, smoke: SmokeTarget
) -> None:
    old = engine.outputs_values["previewToken"]
    smoke.broken.add("green")  # the new token reaches green, whose /version answers 500

    run = tool("rotate-token")

    assert run.code == 1
    new = engine.outputs_values["previewToken"]
    assert run.doc["error"].startswith(
        "rotate-token stopped after the update that made the new token (green /version through the preview route: "
        "status 500, expected 200). previewTokenGeneration=2 is deployed: the preview rules accept the old and the "
        "new token, and the stack output previewToken, which verify, bake and the traffic gate use, is the new one."
    )
    assert run.doc["error"].endswith(
        "Fix the cause, then run `python -m bluegreen rotate-token --finish --stack test` (or `pulumi up "
        "--policy-pack policies`) to retire it"
    )
    assert run.doc["result"]["details"] == {"generation": 2, "resume": "rotate-token --finish"}
    assert rule_tokens(world) == {"blue": {old, new}, "green": {old, new}}

    smoke.broken.clear()
    ups = engine.up_count
    finished = tool("rotate-token", "--finish")

    assert finished.code == 0, finished.doc["error"]
    assert engine.up_count == ups + 1
    assert engine.outputs_values["previewToken"] == new
    assert engine.config_values["previewTokenGeneration"] == "2"  # --finish makes no new token
    assert rule_tokens(world) == {"blue": {new}, "green": {new}}


def test_a_rotation_whose_first_update_failed_is_finished_by_two_updates(
    tool: Tool, world: World, engine: FakeEngine
) -> None:
    old = engine.outputs_values["previewToken"]
    engine.before_up = fail_on_up(engine.up_count + 1, EngineError("pulumi up failed: provider error"))

    run = tool("rotate-token")

    assert run.code == 1
    assert run.doc["error"].startswith(
        "rotate-token stopped in the update that makes the new token (pulumi up failed: provider error). Config "
        "previewTokenGeneration is 2. Until an update with it finishes, the stack output previewToken names the old "
        "token and the preview rules accept it"
    )
    assert engine.outputs_values["previewToken"] == old
    assert rule_tokens(world) == {"blue": {old}, "green": {old}}

    ups = engine.up_count
    finished = tool("rotate-token", "--finish")

    assert finished.code == 0, finished.doc["error"]
    assert engine.up_count == ups + 2  # the first makes the new token (both accepted), the second retires the old
    new = engine.outputs_values["previewToken"]
    assert new != old
    assert rule_tokens(world) == {"blue": {new}, "green": {new}}


def test_a_rotation_refused_by_its_preview_changes_nothing(tool: Tool, world: World, engine: FakeEngine) -> None:
    old = engine.outputs_values["previewToken"]
    # As the Automation API engine's config() reads it: Pulumi.yaml's default applied (this double applies none).
    engine.config_values["previewTokenGeneration"] = "1"
    engine.before_preview = fail_on_up(
        engine.preview_count + 1, EngineError("pulumi preview failed:\nmandatory policy violation")
    )

    run = tool("rotate-token")

    assert run.code == 1
    assert "config left as it was: previewTokenGeneration" in run.doc["error"]
    assert engine.config_values["previewTokenGeneration"] == "1"
    assert engine.outputs_values["previewToken"] == old
    assert rule_tokens(world) == {"blue": {old}, "green": {old}}


def test_rotate_token_checks_the_live_colours_route_while_the_idle_one_is_scaled_down(
    tool: Tool, engine: FakeEngine
) -> None:
    engine.config_values["idleScaledDown"] = "true"
    engine.up("scale down green", lambda _line: None)

    run = tool("rotate-token")

    assert run.code == 0, run.doc["error"]
    assert run.doc["result"]["rotateToken"]["checkedColor"] == "blue"


def test_an_override_the_tool_confirmed_for_an_update_that_failed_is_not_left_confirmed(
    tool: Tool, engine: FakeEngine, checks: Path
) -> None:
    # review22: the ramp's first step used gateBypass; the tool confirmed it for the 50% step, which failed. A
    # failed update uses up nothing, so the tool's emergencyAck, left in config, let the next command's update
    # bypass the gate with nobody confirming it.
    stage_and_verify(tool, checks)
    engine.config_values["gateBypass"] = "true"
    first = engine.up_count + 1

    def fail_after_the_first(_engine: FakeEngine, count: int) -> None:
        if count > first:
            raise EngineError("pulumi up failed: provider error")

    engine.before_up = fail_after_the_first
    assert tool("switch", "--ramp", "10,50").code == 1
    used_at = engine.outputs_values["emergencyOverrides"]["usedAt"]
    assert engine.config_values.get("emergencyAck", "") != used_at

    engine.before_up = None
    refused = tool("rollback", "--no-fast")
    assert refused.code == 1
    assert f"`pulumi config set bluegreen:emergencyAck {used_at}`" in refused.doc["error"]
