"""guardian-armed, called on the program's own resources (as the engine's stack analysis sees them),
one broken wire per test."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies.bluegreen_policies.guardian import GUARDIAN_ARMED
from tests.harness import Recording, run_program
from tests.policy_server import HandResource, validate_stack


@pytest.fixture(scope="module")
def dev() -> Recording:
    return run_program()


def stack(rec: Recording) -> dict[str, HandResource]:
    return {r.name: HandResource(r.type, r.name, {**r.inputs, **r.outputs}) for r in rec.resources if r.custom}


def violations(resources: dict[str, HandResource]) -> list[str]:
    outcome = validate_stack(GUARDIAN_ARMED, resources.values())
    assert outcome.deferred is None
    return [message for message, _ in outcome.violations]


def test_the_program_wires_both_colours_to_the_guardian(dev: Recording) -> None:
    assert violations(stack(dev)) == []


def test_a_rule_that_misses_one_colours_alarm_is_reported(dev: Recording) -> None:
    resources = stack(dev)
    rule = resources["bluegreen-guardian-alarm"].props
    pattern = json.loads(rule["eventPattern"])
    pattern["detail"]["alarmName"] = pattern["detail"]["alarmName"][:1]
    rule["eventPattern"] = json.dumps(pattern)
    (message,) = violations(resources)
    assert message.startswith(
        "No EventBridge rule sends the ALARM state changes of 'bluegreen-dev-blue-release-health'"
    )


def test_a_rule_without_the_function_as_target_is_reported(dev: Recording) -> None:
    resources = stack(dev)
    del resources["bluegreen-guardian-target"]
    assert len(violations(resources)) == 1


def test_a_colour_without_its_release_health_alarm_is_reported(dev: Recording) -> None:
    resources = stack(dev)
    del resources["bluegreen-green-alarms-release-health"]
    assert violations(resources) == [
        "green has 0 release-health alarms (composite alarms named with the colour); it needs exactly one, so the "
        "guardian can watch it."
    ]


@pytest.mark.parametrize("action", ["elasticloadbalancing:ModifyListener", "elasticloadbalancing:*", "*"])
def test_a_role_that_may_write_every_listener_is_reported(dev: Recording, action: str) -> None:
    resources = stack(dev)
    policy: dict[str, Any] = json.loads(resources["bluegreen-guardian-policy"].props["policy"])
    policy["Statement"][0]["Resource"] = "*"
    policy["Statement"][0]["Action"] = action
    resources["bluegreen-guardian-policy"].props["policy"] = json.dumps(policy)
    (message,) = violations(resources)
    assert message == (
        f"Role policy bluegreen-guardian-policy allows {action} on every resource: the guardian may write this "
        "stack's production listener only. Scope the statement to the listener's ARN."
    )
