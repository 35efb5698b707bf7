"""Weights and routes: what the production listener and the preview rules do for each config."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import Recording, run_program

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
        "databaseSchemaVersion", "bakeMinutes", "edge", "rollbackTarget", "guardianStateId", "guardianRecordParameter",
        "decisionLogParameter", "allowInsecurePreview",
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
