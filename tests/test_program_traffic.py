"""Weights and routes: what the production listener and the preview rules do for each config."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from bluegreen.gate import GATE_BYPASS_WARNING
from components.router import accepted_token_values
from tests.aws_rules import unreviewed, violations
from tests.harness import Recording, deployed, run_program

LISTENER = "aws:lb/listener:Listener"


def production_forward(rec: Recording) -> dict[str, Any]:
    (listener,) = [r for r in rec.of_type(LISTENER) if r.inputs["defaultActions"][0]["type"] == "forward"]
    forward: dict[str, Any] = listener.inputs["defaultActions"][0]["forward"]
    return forward


def weights_by_color(rec: Recording) -> dict[str, int]:
    arns = {c: rec.outputs[f"{c}TargetGroupArn"] for c in ("blue", "green")}
    groups = production_forward(rec)["targetGroups"]
    assert isinstance(groups, list)
    return {color: next(g["weight"] for g in groups if g["arn"] == arn) for color, arn in arns.items()}


@pytest.mark.parametrize(
    ("active", "idle_percent", "expected"),
    [
        ("blue", 0, {"blue": 100, "green": 0}),
        ("green", 0, {"blue": 0, "green": 100}),
        ("blue", 10, {"blue": 90, "green": 10}),
        ("green", 25, {"blue": 25, "green": 75}),
        ("blue", 50, {"blue": 50, "green": 50}),
    ],
)
def test_listener_weights_follow_active_color_and_canary_share(active, idle_percent, expected):
    rec = run_program({"activeColor": active, "idleTrafficPercent": idle_percent})
    assert weights_by_color(rec) == expected
    assert {c: rec.outputs[f"{c}Weight"] for c in ("blue", "green")} == expected
    assert rec.outputs["activeColor"] == active
    assert rec.outputs["idleColor"] == ("green" if active == "blue" else "blue")


def test_forward_goes_to_exactly_the_two_colour_target_groups():
    rec = run_program()
    arns = sorted(g["arn"] for g in production_forward(rec)["targetGroups"])
    assert arns == sorted(r.outputs["arn"] for r in rec.of_type("aws:lb/targetGroup:TargetGroup"))


def test_stickiness_is_off_by_default_but_still_carries_a_valid_duration():
    assert production_forward(run_program())["stickiness"] == {"enabled": False, "duration": 1}


def test_stickiness_on_uses_configured_duration():
    rec = run_program({"stickinessSeconds": 300})
    assert production_forward(rec)["stickiness"] == {"enabled": True, "duration": 300}


def test_http_only_stack_forwards_on_port_80():
    rec = run_program()
    listener = rec.by_name("bluegreen-router-http")
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    assert rec.outputs["url"].startswith("http://")
    assert rec.outputs["listenerArn"] == rec.outputs["httpListenerArn"] == listener.outputs["arn"]


def test_preview_rule_per_colour_requires_colour_and_token_headers():
    rec = run_program()
    token = rec.by_name("bluegreen-preview-token").outputs["result"]
    prod_arn = rec.outputs["listenerArn"]
    for color in ("blue", "green"):
        rule = rec.by_name(f"bluegreen-router-preview-{color}")
        assert rule.inputs["listenerArn"] == prod_arn
        assert rule.inputs["actions"] == [{"type": "forward", "targetGroupArn": rec.outputs[f"{color}TargetGroupArn"]}]
        headers = {c["httpHeader"]["httpHeaderName"]: c["httpHeader"]["values"] for c in rule.inputs["conditions"]}
        assert headers == {"X-Bluegreen-Color": [color], "X-Bluegreen-Token": [token]}


def test_preview_rules_have_distinct_priorities():
    rec = run_program()
    priorities = {rec.by_name(f"bluegreen-router-preview-{c}").inputs["priority"] for c in ("blue", "green")}
    assert len(priorities) == 2


def test_preview_token_is_exported_as_a_secret_with_its_header_names():
    rec = run_program()
    assert "previewToken" in rec.secret_outputs
    assert rec.outputs["previewToken"] == rec.by_name("bluegreen-preview-token").outputs["result"]
    assert (rec.outputs["previewColorHeader"], rec.outputs["previewTokenHeader"]) == (
        "X-Bluegreen-Color",
        "X-Bluegreen-Token",
    )
    token_input = rec.by_name("bluegreen-preview-token").inputs
    assert token_input["length"] >= 32 and token_input["special"] is False


def test_every_documented_output_is_exported():
    expected = {
        "url", "albDnsName", "loadBalancerArn", "activeColor", "idleColor", "listenerArn", "httpListenerArn",
        "previewColorHeader", "previewTokenHeader", "previewToken", "dashboardName", "idleScaledDown",
        "databaseSchemaVersion", "bakeMinutes", "edge", "rollbackTarget", "guardianStateId", "guardianGeneration",
        "guardianRecordParameter", "decisionLogParameter", "allowInsecurePreview", "instanceSubnetTier",
        "instanceSubnetIds", "availabilityZones", "emergencyOverrides",
    } | {
        f"{c}{k}"
        for c in ("blue", "green")
        for k in (
            "Weight", "TargetGroupArn", "AsgName", "Release", "ImageId", "UserDataHash", "BootScriptHash", "SchemaVersions",
            "Spec", "AlarmNames", "ReleaseHealthAlarm",
        )
    }  # fmt: skip
    assert set(run_program().outputs) == expected


def test_releases_are_exported_per_colour():
    rec = run_program({"blueRelease": "v7", "greenRelease": "v8"})
    assert (rec.outputs["blueRelease"], rec.outputs["greenRelease"]) == ("v7", "v8")


# ---------------------------------------------------------------- rotating the preview token

TOKEN_HEADER = "X-Bluegreen-Token"
GATE = "pulumi-python:dynamic/bluegreen:TrafficGate"
RULE, PASSWORD = "aws:lb/listenerRule:ListenerRule", "random:index/randomPassword:RandomPassword"
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")  # the SDK's secret envelope


def token_values(rec: Recording) -> dict[str, list[str]]:
    """The token values of every preview and warm-up rule, by rule name."""
    found = {}
    for color in ("blue", "green"):
        for name in (f"bluegreen-router-preview-{color}", f"bluegreen-{color}-warmup"):
            conditions = rec.by_name(name).inputs["conditions"]
            found[name] = next(
                c["httpHeader"]["values"] for c in conditions if c["httpHeader"]["httpHeaderName"] == TOKEN_HEADER
            )
    return found


def gate_token(rec: Recording) -> str:
    (gate,) = rec.of_type(GATE)
    envelope = gate.inputs["token"]
    assert envelope[SECRET_SIG[0]] == SECRET_SIG[1]  # sent to the gate as a secret
    return str(envelope["value"])


def test_generation_1_gives_the_token_no_keepers_so_a_deployed_stack_keeps_its_token():
    # Keepers going from absent to any value replace a RandomPassword (terraform-provider-random's
    # RequiresReplaceIfValuesNotNull), so the first generation sends none, as before the key existed.
    assert "keepers" not in run_program().by_name("bluegreen-preview-token").inputs


def test_each_later_generation_gives_the_token_its_own_keepers():
    inputs = run_program({"previewTokenGeneration": 2}).by_name("bluegreen-preview-token").inputs
    assert inputs["keepers"] == {"generation": "2"}
    again = run_program({"previewTokenGeneration": 3}).by_name("bluegreen-preview-token").inputs
    assert again["keepers"] == {"generation": "3"}


def test_while_a_new_token_is_deployed_the_rules_accept_it_and_the_deployed_one():
    # The mocks make the same `result` for every generation; the deployed token stands in for generation 1's.
    previous = {**run_program().outputs, "previewToken": "generation-1-token"}

    rec = run_program({"previewTokenGeneration": 2}, previous_outputs=previous)

    new = rec.outputs["previewToken"]
    assert new != "generation-1-token" and "previewToken" in rec.secret_outputs
    assert set(token_values(rec)) == {
        f"bluegreen-{role}" for role in ("router-preview-blue", "router-preview-green", "blue-warmup", "green-warmup")
    }
    assert all(values == [new, "generation-1-token"] for values in token_values(rec).values())
    # Within the ELB quotas: 3 values per condition, 5 per rule (the colour and two tokens).
    assert [v for v in violations(rec) if "preview" in v or "warmup" in v] == []
    assert {(t, p) for t, p in unreviewed(rec) if t in (RULE, PASSWORD)} == set()
    # The gate runs before the preview rules change in this update: it sends the token they accept now.
    assert gate_token(rec) == "generation-1-token"


def test_the_update_after_accepts_only_the_new_token_and_the_gate_sends_it():
    rotated = run_program(
        {"previewTokenGeneration": 2}, previous_outputs={**run_program().outputs, "previewToken": "x"}
    )

    rec = run_program({"previewTokenGeneration": 2}, previous_outputs=rotated.outputs)

    new = rec.outputs["previewToken"]
    assert all(values == [new] for values in token_values(rec).values())
    assert gate_token(rec) == new
    assert token_values(run_program()) == token_values(rec)  # as on a first deploy: one value


def test_the_accepted_tokens_are_a_secret_with_the_deployed_one_in_them():
    # Under the mocks `result` is not a secret; the engine makes it one (an additional secret output).
    values = accepted_token_values(pulumi.Output.secret("new"), "deployed")

    assert _sync_await(values.future()) == ["new", "deployed"]
    assert _sync_await(values.is_secret())


def test_gate_bypass_is_warned_about_by_the_program_on_every_update_while_it_is_on():
    # The gate's provider runs in a process of its own, so its warning never reached the user reliably (issue 21,
    # defect 8); the program warns, where `pulumi up` and `pulumi preview` show it.
    def bypass_warnings(rec: Recording) -> list[str]:
        return [m for level, m in rec.logs if level == "warning" and m.startswith("GATE BYPASS")]

    assert bypass_warnings(run_program()) == []
    first = run_program({"gateBypass": True})
    used_at = first.outputs["emergencyOverrides"]["usedAt"]  # it applies to one update unless confirmed again
    again = run_program({"gateBypass": True, "emergencyAck": used_at, "activeColor": "green"}, deployed(first))
    for rec in (first, again):
        assert bypass_warnings(rec) == [GATE_BYPASS_WARNING]
    assert "without the traffic gate's checks" in GATE_BYPASS_WARNING
