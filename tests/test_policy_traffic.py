"""production-traffic-split, production-traffic-targets and preview-rules-isolated, called directly.

`production-traffic-split` is a resource policy: it gets the production listener's inputs only
(no other resource), as the engine's `Analyze` does before the listener is created or changed.
One change per test.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ResourceValidationPolicy

from policies.bluegreen_policies.traffic import PREVIEW_RULES, PRODUCTION_TARGETS, PRODUCTION_TRAFFIC
from tests.policy_server import (
    UNKNOWN,
    HandResource,
    hand_built_stack,
    set_weights,
    validate_resource,
    validate_stack,
)

LISTENER = "The production listener bluegreen-router-https"
BLUE_TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/blue-tg/1"


def split(stack: dict[str, HandResource], config: dict[str, object] | None = None) -> list[str]:
    """What the resource policy reports for the production listener, from its own properties alone."""
    outcome = validate_resource(PRODUCTION_TRAFFIC, stack["bluegreen-router-https"], config)
    assert outcome.deferred is None
    assert all(urn is None for _, urn in outcome.violations)  # the engine attributes them to the listener
    return outcome.messages


def targets(stack: dict[str, HandResource]) -> list[str]:
    outcome = validate_stack(PRODUCTION_TARGETS, stack.values())
    assert outcome.deferred is None
    assert all(urn == stack["bluegreen-router-https"].urn for _, urn in outcome.violations)
    return outcome.messages


def previews(stack: dict[str, HandResource]) -> list[str]:
    outcome = validate_stack(PREVIEW_RULES, stack.values())
    assert outcome.deferred is None
    for message, urn in outcome.violations:  # each on the rule it names
        assert urn is not None and f"rule {urn.split('::')[-1]} " in message, (message, urn)
    return outcome.messages


def forward(stack: dict[str, HandResource]) -> dict[str, Any]:
    block: dict[str, Any] = stack["bluegreen-router-https"].props["defaultActions"][0]["forward"]
    return block


def forward_groups(stack: dict[str, HandResource]) -> list[dict[str, object]]:
    groups: list[dict[str, object]] = forward(stack)["targetGroups"]
    return groups


# -- production-traffic-split: the listener's own inputs ---------------------------------------------
def test_the_split_is_a_resource_policy_so_it_runs_before_the_listener_changes():
    # The engine runs resource policies before each step, in the update too (`--skip-preview`);
    # stack policies only after every step has been applied.
    assert isinstance(PRODUCTION_TRAFFIC, ResourceValidationPolicy)


def test_clean_split_has_no_violations():
    assert split(hand_built_stack()) == []


def test_the_split_is_decided_from_the_listener_alone():
    stack = hand_built_stack()
    set_weights(stack, 70, 30)
    assert split(stack, {"maxIdleTrafficPercent": 20}) == [
        f"{LISTENER} sends 30% of production traffic to the idle colour, more than the allowed 20% (policy config "
        "maxIdleTrafficPercent). Lower idleTrafficPercent to at most 20."
    ]


def test_other_listeners_and_other_resources_are_not_checked():
    stack = hand_built_stack()
    assert validate_resource(PRODUCTION_TRAFFIC, stack["bluegreen-router-http"]).violations == []
    set_weights(stack, 10, 10)
    not_a_listener = HandResource("aws:lb/listenerRule:ListenerRule", "x", stack["bluegreen-router-https"].props)
    assert validate_resource(PRODUCTION_TRAFFIC, not_a_listener).violations == []


def test_a_canary_within_the_maximum_is_allowed():
    stack = hand_built_stack()
    set_weights(stack, 60, 40)
    assert split(stack) == []


def test_weights_must_add_up_to_100():
    stack = hand_built_stack()
    set_weights(stack, 90, 0)
    assert split(stack) == [
        f"{LISTENER} has weights that add up to 90, not 100. Give the active colour 100 minus the idle colour's share."
    ]


def test_the_active_colour_gets_at_least_half():
    stack = hand_built_stack()
    set_weights(stack, 45, 45)
    assert split(stack) == [
        f"{LISTENER} has weights that add up to 90, not 100. Give the active colour 100 minus the idle colour's share.",
        f"{LISTENER} gives no target group at least 50% of production traffic (largest weight 45). The active "
        "colour must receive at least half.",
    ]


def test_the_idle_share_is_limited_by_policy_config():
    stack = hand_built_stack()
    set_weights(stack, 60, 40)
    assert split(stack, {"maxIdleTrafficPercent": 10}) == [
        f"{LISTENER} sends 40% of production traffic to the idle colour, more than the allowed 10% (policy "
        "config maxIdleTrafficPercent). Lower idleTrafficPercent to at most 10."
    ]


def test_an_even_split_is_allowed_up_to_the_default_maximum():
    stack = hand_built_stack()
    set_weights(stack, 50, 50)
    assert split(stack) == []
    assert split(stack, {"maxIdleTrafficPercent": 20}) == [
        f"{LISTENER} sends 50% of production traffic to the idle colour, more than the allowed 20% (policy config "
        "maxIdleTrafficPercent). Lower idleTrafficPercent to at most 20."
    ]


def test_exactly_two_target_groups():
    stack = hand_built_stack()
    del forward_groups(stack)[1]
    assert split(stack) == [
        f"{LISTENER} forwards to 1 target group. Forward to exactly two, one per colour, with weight 0 for the "
        "colour that gets no traffic."
    ]
    forward_groups(stack).extend([{"arn": "arn:aws:elasticloadbalancing:x:1:targetgroup/a/1", "weight": 0}] * 2)
    assert split(stack) == [
        f"{LISTENER} forwards to 3 target groups. Forward to exactly two, one per colour, with weight 0 for the "
        "colour that gets no traffic.",
        f"{LISTENER} lists target group 'arn:aws:elasticloadbalancing:x:1:targetgroup/a/1' 2 times. List each "
        "colour's target group exactly once.",
    ]


def test_a_target_group_may_be_listed_once():
    stack = hand_built_stack()
    forward_groups(stack)[1]["arn"] = forward_groups(stack)[0]["arn"]
    assert split(stack) == [
        f"{LISTENER} lists target group '{BLUE_TG}' 2 times. List each colour's target group exactly once."
    ]


def test_weights_are_explicit():
    stack = hand_built_stack()
    del forward_groups(stack)[1]["weight"]
    green = stack["bluegreen-green-tg"].props["arn"]
    assert split(stack) == [
        f"{LISTENER} forwards to '{green}' without a weight. Set every target group's weight explicitly."
    ]


def test_the_forward_needs_a_stickiness_duration():
    stack = hand_built_stack()
    del forward(stack)["stickiness"]
    message = (
        f"{LISTENER} sets no stickiness duration on its weighted forward. Set forward.stickiness.duration (1 to "
        "604800 seconds) even when stickiness is disabled: the program uses stickinessSeconds, or 1 when it is 0."
    )
    assert split(stack) == [message]
    forward(stack)["stickiness"] = {"enabled": False}
    assert split(stack) == [message]


def test_the_stickiness_duration_is_within_what_aws_accepts():
    stack = hand_built_stack()
    forward(stack)["stickiness"] = {"enabled": True, "duration": 604801}
    assert split(stack) == [
        f"{LISTENER} sets a stickiness duration of 604801 seconds; AWS accepts 1 to 604800. Set stickinessSeconds "
        "within that range (0 turns stickiness off)."
    ]


def test_unknown_target_groups_still_check_the_weights():
    """A first preview: the target groups do not exist yet, the weights come from config."""
    stack = hand_built_stack()
    for group in forward_groups(stack):
        group["arn"] = UNKNOWN
    set_weights(stack, 30, 70)
    outcome = validate_resource(PRODUCTION_TRAFFIC, stack["bluegreen-router-https"], {"maxIdleTrafficPercent": 20})
    assert outcome.messages == [
        f"{LISTENER} sends 30% of production traffic to the idle colour, more than the allowed 20% (policy config "
        "maxIdleTrafficPercent). Lower idleTrafficPercent to at most 20."
    ]
    assert outcome.deferred == (
        "1 check is deferred to `pulumi up` because the values they need are not known yet: whether "
        "bluegreen-router-https lists a target group twice."
    )


def test_unknown_weights_are_deferred():
    stack = hand_built_stack()
    set_weights(stack, UNKNOWN, UNKNOWN)
    outcome = validate_resource(PRODUCTION_TRAFFIC, stack["bluegreen-router-https"])
    assert outcome.violations == []
    assert outcome.deferred == (
        "1 check is deferred to `pulumi up` because the values they need are not known yet: weights of "
        "bluegreen-router-https."
    )


def test_unknown_default_actions_are_deferred():
    stack = hand_built_stack()
    stack["bluegreen-router-https"].props["defaultActions"] = UNKNOWN
    outcome = validate_resource(PRODUCTION_TRAFFIC, stack["bluegreen-router-https"])
    assert outcome.violations == []
    assert outcome.deferred is not None
    assert outcome.deferred.endswith("whether listener bluegreen-router-https splits production traffic.")


# -- production-traffic-targets: which resources the split reaches ----------------------------------
def test_clean_targets_have_no_violations():
    assert targets(hand_built_stack()) == []


def test_the_targets_are_a_stack_policy_that_leaves_the_weights_to_the_split():
    stack = hand_built_stack()
    set_weights(stack, 45, 45)
    assert targets(stack) == []


def test_both_colours_must_be_listed():
    stack = hand_built_stack()
    del forward_groups(stack)[1]
    assert targets(stack) == [
        f"{LISTENER} does not forward to the green target group bluegreen-green-tg. List both colours' target "
        "groups in the forward action, with weight 0 for the colour that gets no traffic."
    ]


def test_only_the_colours_target_groups_may_be_listed():
    stack = hand_built_stack()
    forward_groups(stack)[1]["arn"] = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/legacy/9"
    assert targets(stack) == [
        f"{LISTENER} forwards to 'arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/legacy/9', which is not the "
        "blue or green target group. Forward only to the two colours' target groups.",
        f"{LISTENER} does not forward to the green target group bluegreen-green-tg. List both colours' target groups "
        "in the forward action, with weight 0 for the colour that gets no traffic.",
    ]


def test_a_colour_listed_twice_leaves_the_other_out():
    stack = hand_built_stack()
    forward_groups(stack)[1]["arn"] = forward_groups(stack)[0]["arn"]
    assert targets(stack) == [
        f"{LISTENER} does not forward to the green target group bluegreen-green-tg. List both colours' target groups "
        "in the forward action, with weight 0 for the colour that gets no traffic.",
    ]


def test_no_traffic_to_a_colour_without_instances():
    stack = hand_built_stack()
    set_weights(stack, 90, 10)
    stack["bluegreen-green-asg"].props["desiredCapacity"] = 0
    assert targets(stack) == [
        "The green colour receives 10% of production traffic, but its Auto Scaling group bluegreen-green-asg "
        "has a desired capacity of 0. Give it instances before sending it traffic, or set its weight to 0."
    ]


def test_an_idle_colour_without_instances_and_without_traffic_is_fine():
    stack = hand_built_stack()
    stack["bluegreen-green-asg"].props["desiredCapacity"] = 0
    assert targets(stack) == []


def test_a_stack_without_a_production_listener_is_reported():
    stack = hand_built_stack()
    stack["bluegreen-router-https"].props["defaultActions"] = [{"type": "fixed-response"}]
    outcome = validate_stack(PRODUCTION_TARGETS, stack.values())
    assert outcome.violations == [
        (
            "No listener forwards production traffic with weights to the blue and green target groups. Give the "
            "production listener (HTTPS when a certificate is set, else HTTP) a default forward action with one "
            "weighted target group per colour.",
            None,
        )
    ]


def test_only_one_listener_may_split_traffic():
    stack = hand_built_stack()
    stack["bluegreen-router-http"].props["defaultActions"] = stack["bluegreen-router-https"].props["defaultActions"]
    assert validate_stack(PRODUCTION_TARGETS, stack.values()).messages == [
        "Listeners bluegreen-router-https, bluegreen-router-http all split traffic with weighted forward actions, "
        "but only one production listener may. Make the other listeners redirect to the production listener's "
        "protocol."
    ]


def test_unknown_target_groups_are_deferred():
    stack = hand_built_stack()
    for group in forward_groups(stack):
        group["arn"] = UNKNOWN
    outcome = validate_stack(PRODUCTION_TARGETS, stack.values())
    assert outcome.violations == []
    assert outcome.deferred == (
        "1 check is deferred to `pulumi up` because the values they need are not known yet: which target groups "
        "bluegreen-router-https forwards to."
    )


def test_unknown_weights_defer_the_capacity_check():
    stack = hand_built_stack()
    set_weights(stack, UNKNOWN, UNKNOWN)
    stack["bluegreen-green-asg"].props["desiredCapacity"] = 0
    outcome = validate_stack(PRODUCTION_TARGETS, stack.values())
    assert outcome.violations == []
    assert outcome.deferred == (
        "1 check is deferred to `pulumi up` because the values they need are not known yet: which colours "
        "bluegreen-router-https sends traffic to."
    )


# -- preview-rules-isolated ------------------------------------------------------------------------------
def test_clean_preview_rules_have_no_violations():
    assert previews(hand_built_stack()) == []


def test_a_preview_rule_requires_the_token_header():
    stack = hand_built_stack()
    del stack["bluegreen-router-preview-green"].props["conditions"][1]
    outcome = validate_stack(PREVIEW_RULES, stack.values())
    assert outcome.violations == [
        (
            "Preview rule bluegreen-router-preview-green does not require the X-Bluegreen-Token header, so anyone who "
            "sets the colour header reaches that colour. Add an http-header condition on X-Bluegreen-Token with the "
            "preview token.",
            stack["bluegreen-router-preview-green"].urn,
        )
    ]


def test_the_token_header_name_is_case_insensitive():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["conditions"][1]["httpHeader"]["httpHeaderName"] = "x-bluegreen-token"
    assert previews(stack) == []


def test_an_empty_token_is_not_a_token():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-blue"].props["conditions"][1]["httpHeader"]["values"] = [""]
    assert previews(stack) == [
        "Preview rule bluegreen-router-preview-blue requires the X-Bluegreen-Token header with an empty value ['']. "
        "Match the generated preview token."
    ]


def test_a_preview_rule_forwards_to_one_colour_only():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["actions"] = [
        {
            "type": "forward",
            "forward": {
                "targetGroups": [
                    {"arn": stack["bluegreen-blue-tg"].props["arn"], "weight": 50},
                    {"arn": stack["bluegreen-green-tg"].props["arn"], "weight": 50},
                ]
            },
        }
    ]
    assert previews(stack) == [
        "Preview rule bluegreen-router-preview-green forwards to blue, green; a preview rule must forward to exactly "
        "one colour's target group."
    ]


def test_a_zero_weight_target_group_receives_nothing():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["actions"] = [
        {
            "type": "forward",
            "forward": {
                "targetGroups": [
                    {"arn": stack["bluegreen-blue-tg"].props["arn"], "weight": 0},
                    {"arn": stack["bluegreen-green-tg"].props["arn"], "weight": 1},
                ]
            },
        }
    ]
    assert previews(stack) == []


def test_a_preview_rule_forwards_to_its_own_colour():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["actions"][0]["targetGroupArn"] = stack["bluegreen-blue-tg"].props[
        "arn"
    ]
    assert previews(stack) == [
        "Preview rule bluegreen-router-preview-green forwards to the blue target group although its name says green. "
        "Forward it to the green target group.",
        "Preview rule bluegreen-router-preview-green matches X-Bluegreen-Color ['green'] but forwards to blue. Match "
        "exactly the colour it forwards to: 'blue'.",
    ]


def test_the_colour_header_matches_the_forwarded_colour():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-blue"].props["conditions"][0]["httpHeader"]["values"] = ["blue", "green"]
    assert previews(stack) == [
        "Preview rule bluegreen-router-preview-blue matches X-Bluegreen-Color ['blue', 'green'] but forwards to blue. "
        "Match exactly the colour it forwards to: 'blue'."
    ]


def test_any_rule_that_reaches_a_colour_needs_the_token():
    stack = hand_built_stack()
    stack["bluegreen-router-canary"] = HandResource(
        "aws:lb/listenerRule:ListenerRule",
        "bluegreen-router-canary",
        {
            "actions": [{"type": "forward", "targetGroupArn": stack["bluegreen-green-tg"].props["arn"]}],
            "conditions": [{"pathPattern": {"values": ["/canary/*"]}}],
        },
    )
    assert previews(stack) == [
        "Preview rule bluegreen-router-canary does not require the X-Bluegreen-Token header, so anyone who sets the "
        "colour header reaches that colour. Add an http-header condition on X-Bluegreen-Token with the preview token."
    ]


def test_rules_that_reach_no_colour_are_not_preview_rules():
    stack = hand_built_stack()
    stack["bluegreen-router-maintenance"] = HandResource(
        "aws:lb/listenerRule:ListenerRule",
        "bluegreen-router-maintenance",
        {"actions": [{"type": "fixed-response"}], "conditions": [{"pathPattern": {"values": ["/down"]}}]},
    )
    assert previews(stack) == []


def test_an_unknown_token_value_is_still_a_token():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-blue"].props["conditions"][1]["httpHeader"]["values"] = [UNKNOWN]
    assert previews(stack) == []


def test_unknown_rule_targets_are_deferred():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-blue"].props["actions"][0]["targetGroupArn"] = UNKNOWN
    outcome = validate_stack(PREVIEW_RULES, stack.values())
    assert outcome.violations == []
    assert outcome.deferred == (
        "1 check is deferred to `pulumi up` because the values they need are not known yet: target groups of preview "
        "rule bluegreen-router-preview-blue."
    )


# -- items the checks must look past, and where each violation lands -------------------------------------
def test_a_preview_rule_is_judged_by_its_forward_even_after_another_action():
    stack = hand_built_stack()
    rule = stack["bluegreen-router-preview-green"].props
    rule["actions"] = [{"type": "authenticate-oidc"}, {"type": "forward", "targetGroupArn": BLUE_TG}]
    assert previews(stack) == [
        "Preview rule bluegreen-router-preview-green forwards to the blue target group although its name says "
        "green. Forward it to the green target group.",
        "Preview rule bluegreen-router-preview-green matches X-Bluegreen-Color ['green'] but forwards to blue. "
        "Match exactly the colour it forwards to: 'blue'.",
    ]


def test_headers_are_found_after_other_conditions():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["conditions"].insert(0, {"pathPattern": {"values": ["/*"]}})
    assert previews(stack) == []
    stack["bluegreen-router-preview-green"].props["conditions"].pop()  # the token condition
    assert previews(stack) == [
        "Preview rule bluegreen-router-preview-green does not require the X-Bluegreen-Token header, so anyone who "
        "sets the colour header reaches that colour. Add an http-header condition on X-Bluegreen-Token with the "
        "preview token."
    ]


def test_a_weighted_forward_in_a_rule_reaches_every_group_with_weight():
    stack = hand_built_stack()
    green_tg = stack["bluegreen-green-tg"].props["arn"]
    stack["bluegreen-router-preview-green"].props["actions"] = [
        {"type": "forward", "forward": {"targetGroups": [{"arn": BLUE_TG, "weight": 0}, {"arn": green_tg}]}}
    ]
    assert previews(stack) == []  # weight 0 reaches nothing; a group without a weight gets traffic
    stack["bluegreen-router-preview-green"].props["actions"][0]["forward"]["targetGroups"][0]["weight"] = 1
    assert previews(stack)[0] == (
        "Preview rule bluegreen-router-preview-green forwards to blue, green; a preview rule must forward to "
        "exactly one colour's target group."
    )


def test_a_rule_that_forwards_nowhere_is_named():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["actions"] = [{"type": "fixed-response"}]
    assert previews(stack)[0] == (
        "Preview rule bluegreen-router-preview-green forwards to no target group; a preview rule must forward to "
        "exactly one colour's target group."
    )


def test_an_empty_token_is_refused():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["conditions"][1]["httpHeader"]["values"] = [""]
    assert previews(stack) == [
        "Preview rule bluegreen-router-preview-green requires the X-Bluegreen-Token header with an empty value "
        "['']. Match the generated preview token."
    ]


def test_a_second_production_listener_is_reported_on_that_listener():
    stack = hand_built_stack()
    prod = stack["bluegreen-router-https"]
    extra = HandResource(prod.type, "bluegreen-router-extra", {**prod.props, "port": 8443})
    outcome = validate_stack(PRODUCTION_TARGETS, [*stack.values(), extra])
    ((message, urn),) = outcome.violations
    assert urn == extra.urn and "bluegreen-router-extra" in message


def test_even_a_1_percent_share_needs_instances():
    stack = hand_built_stack()
    set_weights(stack, 99, 1)
    stack["bluegreen-green-asg"].props["desiredCapacity"] = 0
    assert targets(stack) == [
        "The green colour receives 1% of production traffic, but its Auto Scaling group bluegreen-green-asg has a "
        "desired capacity of 0. Give it instances before sending it traffic, or set its weight to 0."
    ]


# -- values a preview does not know yet: each check waits for the update, and names what it waits for -----
def deferred(outcome: Any) -> str:
    assert outcome.violations == []
    assert outcome.deferred is not None
    return str(outcome.deferred)


def split_outcome(stack: dict[str, HandResource]) -> Any:
    return validate_resource(PRODUCTION_TRAFFIC, stack["bluegreen-router-https"])


def test_an_unknown_action_beside_no_forward_is_deferred():
    stack = hand_built_stack()
    stack["bluegreen-router-https"].props["defaultActions"] = [UNKNOWN, {"type": "fixed-response"}]
    assert deferred(split_outcome(stack)).endswith("whether listener bluegreen-router-https splits production traffic.")
    assert "which listener is the production listener" in deferred(validate_stack(PRODUCTION_TARGETS, stack.values()))


def test_an_unknown_action_type_or_forward_block_is_deferred():
    for key in ("type", "forward"):
        stack = hand_built_stack()
        stack["bluegreen-router-https"].props["defaultActions"][0][key] = UNKNOWN
        assert deferred(split_outcome(stack)).endswith(
            "whether listener bluegreen-router-https splits production traffic."
        ), key


def test_unknown_target_groups_and_stickiness_are_deferred_by_name():
    stack = hand_built_stack()
    forward(stack)["targetGroups"] = UNKNOWN
    assert "target groups of bluegreen-router-https" in deferred(split_outcome(stack))
    stack = hand_built_stack()
    forward(stack)["stickiness"]["duration"] = UNKNOWN
    assert "stickiness of bluegreen-router-https" in deferred(split_outcome(stack))
    stack = hand_built_stack()
    forward(stack)["stickiness"] = UNKNOWN
    assert "stickiness of bluegreen-router-https" in deferred(split_outcome(stack))


def test_a_stickiness_duration_at_its_bounds_passes():
    for duration in (1, 604800):
        stack = hand_built_stack()
        forward(stack)["stickiness"]["duration"] = duration
        assert split(stack) == []
    forward(stack)["stickiness"]["duration"] = 604801
    assert split(stack)[0].startswith("The production listener bluegreen-router-https sets a stickiness duration")


def test_an_unknown_capacity_of_a_colour_with_traffic_is_deferred():
    stack = hand_built_stack()
    set_weights(stack, 90, 10)
    stack["bluegreen-green-asg"].props["desiredCapacity"] = UNKNOWN
    assert "capacity of bluegreen-green-asg" in deferred(validate_stack(PRODUCTION_TARGETS, stack.values()))


def test_unknown_rule_parts_are_deferred_by_name():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["actions"] = UNKNOWN
    assert "target groups of preview rule bluegreen-router-preview-green" in deferred(
        validate_stack(PREVIEW_RULES, stack.values())
    )
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["conditions"] = UNKNOWN
    assert "conditions of preview rule bluegreen-router-preview-green" in deferred(
        validate_stack(PREVIEW_RULES, stack.values())
    )
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["conditions"][0]["httpHeader"]["values"] = [UNKNOWN]
    assert "colour header of preview rule bluegreen-router-preview-green" in deferred(
        validate_stack(PREVIEW_RULES, stack.values())
    )


def test_an_unknown_forward_on_a_rule_without_a_colour_name_is_deferred():
    stack = hand_built_stack()
    rule = stack["bluegreen-router-preview-green"]
    props = {k: v for k, v in rule.props.items() if k != "tags"}
    other = HandResource(rule.type, "bluegreen-router-extra", {**props, "actions": [UNKNOWN]})
    outcome = validate_stack(PREVIEW_RULES, [*stack.values(), other])
    assert "whether listener rule bluegreen-router-extra reaches a colour" in deferred(outcome)


def test_a_preview_rule_to_a_group_of_no_colour_names_that_group_or_its_arn():
    stack = hand_built_stack()
    shared_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shared/9"
    stack["bluegreen-shared-tg"] = HandResource(
        "aws:lb/targetGroup:TargetGroup", "bluegreen-shared-tg", {"arn": shared_arn, "port": 8080}
    )
    stack["bluegreen-router-preview-green"].props["actions"] = [{"type": "forward", "targetGroupArn": shared_arn}]
    assert previews(stack)[0].startswith("Preview rule bluegreen-router-preview-green forwards to bluegreen-shared-tg;")
    stack["bluegreen-router-preview-green"].props["actions"][0]["targetGroupArn"] = "arn:aws:elb:nowhere"
    assert previews(stack)[0].startswith(
        "Preview rule bluegreen-router-preview-green forwards to 'arn:aws:elb:nowhere';"
    )


def test_the_production_listener_must_forward_to_target_groups_not_other_colour_resources():
    stack = hand_built_stack()
    asg_arn = stack["bluegreen-green-asg"].props.setdefault("arn", "arn:aws:autoscaling:eu-west-1:1:asg/green")
    forward_groups(stack)[1]["arn"] = asg_arn
    messages = targets(stack)
    assert any("which is not the blue or green target group" in m for m in messages), messages


def test_a_stickiness_duration_of_0_is_out_of_range():
    stack = hand_built_stack()
    forward(stack)["stickiness"]["duration"] = 0
    assert split(stack) == [
        "The production listener bluegreen-router-https sets a stickiness duration of 0 seconds; AWS accepts 1 to "
        "604800. Set stickinessSeconds within that range (0 turns stickiness off)."
    ]
