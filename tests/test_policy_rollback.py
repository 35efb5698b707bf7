"""rollback-readiness and database-schema-compatibility, called directly: one change per test."""

from __future__ import annotations

from policies.bluegreen_policies.rollback import DATABASE_SCHEMA, ROLLBACK_READINESS
from tests.policy_server import (
    UNKNOWN,
    HandResource,
    hand_built_stack,
    set_asg_tag,
    set_listener_tag,
    set_weights,
    validate_stack,
)


def rollback(stack: dict[str, HandResource]) -> list[str]:
    outcome = validate_stack(ROLLBACK_READINESS, stack.values())
    assert outcome.deferred is None
    return outcome.messages


def schema(stack: dict[str, HandResource]) -> list[str]:
    outcome = validate_stack(DATABASE_SCHEMA, stack.values())
    assert outcome.deferred is None
    return outcome.messages


def scale_down(stack: dict[str, HandResource], color: str) -> None:
    stack[f"bluegreen-{color}-asg"].props.update(desiredCapacity=0, minSize=0, waitForElbCapacity=0)
    set_listener_tag(stack, "bluegreen:idleScaledDown", "true")


def lower_than_live(idle: str, field: str, idle_value: int, live: str, live_value: int) -> str:
    return (
        f"The idle colour {idle} is the rollback target, but its Auto Scaling group bluegreen-{idle}-asg has "
        f"{field} {idle_value}, lower than the live colour {live}'s {live_value}. Give the idle colour at least the "
        "live colour's capacity, or scale it down explicitly with idleScaledDown=true (it then receives no traffic)."
    )


# -- rollback-readiness ---------------------------------------------------------------------------
def test_equal_capacity_is_ready():
    assert rollback(hand_built_stack()) == []


def test_a_smaller_idle_colour_is_not_a_rollback_target():
    stack = hand_built_stack()
    stack["bluegreen-green-asg"].props["desiredCapacity"] = 1
    outcome = validate_stack(ROLLBACK_READINESS, stack.values())
    assert outcome.violations == [
        (lower_than_live("green", "desiredCapacity", 1, "blue", 2), stack["bluegreen-green-asg"].urn)
    ]


def test_the_idle_minimum_counts_too():
    stack = hand_built_stack()
    stack["bluegreen-green-asg"].props["minSize"] = 1
    assert rollback(stack) == [lower_than_live("green", "minSize", 1, "blue", 2)]


def test_a_larger_idle_colour_is_ready():
    stack = hand_built_stack()
    stack["bluegreen-green-asg"].props.update(desiredCapacity=3, minSize=3)
    assert rollback(stack) == []


def test_the_live_colour_follows_the_weights():
    stack = hand_built_stack()
    set_weights(stack, 0, 100)
    stack["bluegreen-blue-asg"].props["desiredCapacity"] = 1
    assert rollback(stack) == [lower_than_live("blue", "desiredCapacity", 1, "green", 2)]


def test_an_unset_desired_capacity_is_the_minimum():
    stack = hand_built_stack()
    del stack["bluegreen-green-asg"].props["desiredCapacity"]
    stack["bluegreen-green-asg"].props["minSize"] = 1
    assert rollback(stack) == [
        lower_than_live("green", "desiredCapacity", 1, "blue", 2),
        lower_than_live("green", "minSize", 1, "blue", 2),
    ]


def test_an_explicitly_scaled_down_idle_colour_is_allowed():
    stack = hand_built_stack()
    scale_down(stack, "green")
    assert rollback(stack) == []


def test_a_scaled_down_idle_colour_gets_no_traffic():
    stack = hand_built_stack()
    scale_down(stack, "green")
    set_weights(stack, 90, 10)
    outcome = validate_stack(ROLLBACK_READINESS, stack.values())
    assert outcome.violations == [
        (
            "idleScaledDown=true scales the idle colour green down, but it receives 10% of production traffic. Set "
            "idleTrafficPercent to 0, or set idleScaledDown=false to restore its capacity first.",
            stack["bluegreen-router-https"].urn,
        )
    ]


def test_scaling_down_needs_an_idle_colour():
    stack = hand_built_stack()
    set_weights(stack, 50, 50)
    set_listener_tag(stack, "bluegreen:idleScaledDown", "true")
    assert rollback(stack) == [
        "The production listener bluegreen-router-https is tagged bluegreen:idleScaledDown=true, but both colours "
        "receive 50% of production traffic, so there is no idle colour to scale down. Send all traffic to one colour "
        "first, or set idleScaledDown=false."
    ]


def test_an_even_split_has_no_rollback_target():
    stack = hand_built_stack()
    set_weights(stack, 50, 50)
    stack["bluegreen-green-asg"].props["desiredCapacity"] = 1
    assert rollback(stack) == []


def test_unknown_weights_defer_the_check():
    stack = hand_built_stack()
    set_weights(stack, UNKNOWN, UNKNOWN)
    stack["bluegreen-green-asg"].props["desiredCapacity"] = 1
    outcome = validate_stack(ROLLBACK_READINESS, stack.values())
    assert outcome.violations == []
    assert outcome.deferred == (
        "1 check is deferred to `pulumi up` because the values they need are not known yet: which colour is live."
    )


def test_an_unknown_scale_down_flag_defers_the_check():
    stack = hand_built_stack()
    set_listener_tag(stack, "bluegreen:idleScaledDown", UNKNOWN)
    outcome = validate_stack(ROLLBACK_READINESS, stack.values())
    assert outcome.violations == []
    assert outcome.deferred is not None
    assert "the bluegreen:idleScaledDown tag of bluegreen-router-https" in outcome.deferred


# -- database-schema-compatibility -------------------------------------------------------------------
def at_version(stack: dict[str, HandResource], version: str, blue: str, green: str) -> None:
    set_listener_tag(stack, "bluegreen:databaseSchemaVersion", version)
    set_asg_tag(stack, "blue", "bluegreen:schemaVersions", blue)
    set_asg_tag(stack, "green", "bluegreen:schemaVersions", green)


def incompatible(color: str, role: str, listed: str, version: str = "3") -> str:
    return (
        f"The shared database is at schema version {version}, but the {color} colour, which {role}, supports schema "
        f"versions [{listed}] (tag bluegreen:schemaVersions on bluegreen-{color}-asg). Every colour that can receive "
        "traffic or be rolled back to must work with the current schema. Use expand-and-contract: release a build "
        f"that works with both the old and the new schema and list {version} in {color}SchemaVersions before "
        "migrating, and contract the old schema only when no such colour needs it (scaling the idle colour down "
        "with idleScaledDown=true retires it as a rollback target)."
    )


def test_schema_checks_are_off_at_version_0():
    stack = hand_built_stack()
    at_version(stack, "0", "", "")
    assert schema(stack) == []


def test_both_colours_support_the_current_version():
    stack = hand_built_stack()
    at_version(stack, "3", "2 3", "3 4")
    assert schema(stack) == []


def test_the_rollback_target_must_support_the_current_version():
    stack = hand_built_stack()
    at_version(stack, "3", "2 3", "4")
    outcome = validate_stack(DATABASE_SCHEMA, stack.values())
    assert outcome.violations == [
        (incompatible("green", "is the rollback target", "4"), stack["bluegreen-green-asg"].urn)
    ]


def test_the_live_colour_must_support_the_current_version():
    stack = hand_built_stack()
    at_version(stack, "3", "", "3")
    assert schema(stack) == [incompatible("blue", "is live", "none")]


def test_a_scaled_down_idle_colour_is_no_rollback_target():
    stack = hand_built_stack()
    at_version(stack, "3", "3", "2")
    scale_down(stack, "green")
    assert schema(stack) == []


def test_a_colour_with_a_canary_share_receives_traffic():
    stack = hand_built_stack()
    at_version(stack, "3", "3", "2")
    scale_down(stack, "green")
    set_weights(stack, 90, 10)
    assert schema(stack) == [incompatible("green", "receives traffic", "2")]


def test_versions_are_compared_as_numbers_and_trimmed():
    stack = hand_built_stack()
    at_version(stack, "3", " 2, 03 ", "3")
    assert schema(stack) == []


def test_an_unknown_version_list_is_deferred():
    stack = hand_built_stack()
    at_version(stack, "3", "3", UNKNOWN)
    outcome = validate_stack(DATABASE_SCHEMA, stack.values())
    assert outcome.violations == []
    assert outcome.deferred == (
        "1 check is deferred to `pulumi up` because the values they need are not known yet: the "
        "bluegreen:schemaVersions tag of bluegreen-green-asg."
    )
