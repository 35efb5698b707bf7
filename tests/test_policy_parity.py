"""blue-green-parity, called directly on a hand-built stack: one changed property per test."""

from __future__ import annotations

import sys
from typing import Any

import pulumi_aws
import pytest

from policies.bluegreen_policies.parity import FIX, PARITY, allowlisted
from tests.policy_server import UNKNOWN, HandResource, hand_built_stack, set_listener_tag, set_weights, validate_stack


def parity(stack: dict[str, HandResource]) -> list[str]:
    outcome = validate_stack(PARITY, stack.values())
    assert outcome.deferred is None
    return outcome.messages


def differs(subject: str, detail: str, reference: str = "blue") -> str:
    return f"{subject} differs from {reference}: {detail}. {FIX}"


def test_clean_stack_has_no_violations():
    assert parity(hand_built_stack()) == []


def test_release_fields_may_differ():
    stack = hand_built_stack()
    # hand_built_stack already gives the colours different releases, images, user data and ids;
    # make the release tags differ everywhere they appear as well.
    green_lt = stack["bluegreen-green-lt"].props
    green_lt["tags"]["bluegreen:schemaVersions"] = "3 4"
    green_lt["tagSpecifications"][0]["tags"]["bluegreen:release"] = "v9"
    stack["bluegreen-green-asg"].props["launchTemplate"]["version"] = "17"
    assert parity(stack) == []


@pytest.mark.parametrize(
    ("name", "path", "value", "detail"),
    [
        (
            "bluegreen-green-lt",
            ["instanceType"],
            "t3.large",
            "instanceType is 't3.large' on green and 't3.micro' on blue",
        ),
        (
            "bluegreen-green-lt",
            ["metadataOptions", "httpTokens"],
            "optional",
            "metadataOptions.httpTokens is 'optional' on green and 'required' on blue",
        ),
        (
            "bluegreen-green-lt",
            ["blockDeviceMappings", 0, "ebs", "volumeSize"],
            20,
            "blockDeviceMappings[/dev/xvda].ebs.volumeSize is 20 on green and 8 on blue",
        ),
        ("bluegreen-green-lt", ["tags", "team"], "payments", "tags.team is 'payments' on green and 'platform' on blue"),
        (
            "bluegreen-green-lt",
            ["tagSpecifications", 0, "tags", "bluegreen:subnetTier"],
            "private",
            "tagSpecifications[instance].tags[\"bluegreen:subnetTier\"] is 'private' on green and 'public' on blue",
        ),
        ("bluegreen-green-asg", ["maxSize"], 6, "maxSize is 6 on green and 4 on blue"),
        (
            "bluegreen-green-asg",
            ["tags", 6, "value"],
            "payments",
            "tags[team].value is 'payments' on green and 'platform' on blue",
        ),
        (
            "bluegreen-green-asg",
            ["tags", 6, "propagateAtLaunch"],
            True,
            "tags[team].propagateAtLaunch is true on green and false on blue",
        ),
        (
            "bluegreen-green-asg",
            ["launchTemplate", "version"],
            "$Latest",
            "launchTemplate.version is '$Latest' on green and '3' on blue",
        ),
        (
            "bluegreen-green-tg",
            ["healthCheck", "matcher"],
            "200-299",
            "healthCheck.matcher is '200-299' on green and '200' on blue",
        ),
        ("bluegreen-green-alarms-5xx-rate", ["threshold"], 10, "threshold is 10 on green and 5 on blue"),
    ],
)
def test_a_changed_property_is_reported_with_its_path(name: str, path: list[Any], value: Any, detail: str):
    stack = hand_built_stack()
    target: Any = stack[name].props
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    kinds = {
        "bluegreen-green-lt": "green launch template",
        "bluegreen-green-asg": "green Auto Scaling group",
        "bluegreen-green-tg": "green target group",
        "bluegreen-green-alarms-5xx-rate": "green alarm",
        "bluegreen-router-preview-green": "green listener rule",
    }
    outcome = validate_stack(PARITY, stack.values())
    assert outcome.violations == [(differs(kinds[name], detail), stack[name].urn)]


def test_a_property_set_on_one_colour_only_is_reported():
    stack = hand_built_stack()
    stack["bluegreen-green-tg"].props["healthCheck"]["timeout"] = 5
    assert parity(stack) == [differs("green target group", "healthCheck.timeout is 5 on green and not set on blue")]


def test_an_extra_list_item_is_reported_by_position():
    stack = hand_built_stack()
    stack["bluegreen-green-asg"].props["vpcZoneIdentifiers"].append("subnet-c")
    assert parity(stack) == [
        differs("green Auto Scaling group", "vpcZoneIdentifiers[2] is 'subnet-c' on green and not set on blue")
    ]


def test_a_number_is_not_equal_to_a_boolean():
    stack = hand_built_stack()
    stack["bluegreen-blue-lt"].props["metadataOptions"]["httpPutResponseHopLimit"] = True
    assert parity(stack) == [
        differs("green launch template", "metadataOptions.httpPutResponseHopLimit is 1 on green and true on blue")
    ]


def test_pointing_at_the_other_colours_resource_is_reported():
    stack = hand_built_stack()
    stack["bluegreen-green-asg"].props["targetGroupArns"] = list(stack["bluegreen-blue-asg"].props["targetGroupArns"])
    assert parity(stack) == [
        differs(
            "green Auto Scaling group",
            "targetGroupArns[0] is <bluegreen-blue-tg> on both colours, but each colour must name its own colour "
            "and resources",
        )
    ]


def test_an_alarm_watching_the_other_colour_is_reported():
    stack = hand_built_stack()
    stack["bluegreen-green-alarms-5xx-rate"].props["dimensions"]["TargetGroup"] = "targetgroup/blue-tg/1"
    assert parity(stack) == [
        differs(
            "green alarm",
            "dimensions.TargetGroup is <bluegreen-blue-tg> on both colours, but each colour must name its own "
            "colour and resources",
        )
    ]


def test_alarm_descriptions_may_name_their_own_colour_only():
    stack = hand_built_stack()
    alarm = stack["bluegreen-green-alarms-5xx-rate"].props
    alarm["alarmDescription"] = "blue: target 5xx responses above 5% of requests"
    assert parity(stack) == [
        differs(
            "green alarm",
            "alarmDescription is 'blue: target 5xx responses above 5% of requests' on both colours, but each "
            "colour must name its own colour and resources",
        )
    ]


def test_the_colour_header_must_name_the_rules_own_colour():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["conditions"][0]["httpHeader"]["values"] = ["blue"]
    assert parity(stack) == [
        differs(
            "green listener rule",
            "conditions[X-Bluegreen-Color].httpHeader.values[0] is 'blue' on both colours, but each colour must name "
            "its own colour and resources",
        )
    ]


def test_conditions_are_paired_by_the_header_they_match():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["conditions"][1]["httpHeader"]["httpHeaderName"] = "X-Token"
    # Values of other headers are not printed either: a rule's header may carry a secret.
    assert parity(stack) == [
        differs(
            "green listener rule",
            "conditions[X-Token] is {httpHeader: {httpHeaderName: 'X-Token', values: [<header value>]}} on green and "
            "not set on blue",
        ),
        differs(
            "green listener rule",
            "conditions[X-Bluegreen-Token] is not set on green and {httpHeader: {httpHeaderName: 'X-Bluegreen-Token', "
            "values: [<preview token>]}} on blue",
        ),
    ]


def test_set_typed_fields_in_the_providers_order_are_equal():
    # Terraform stores sets (rule conditions, header values, subnets, target groups) in hash order,
    # not program order (pulumi-terraform-bridge#2478): the same set in another order is no difference.
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["conditions"].reverse()
    stack["bluegreen-green-asg"].props["vpcZoneIdentifiers"].reverse()
    assert parity(stack) == []


def test_every_type_the_program_registers_has_its_set_fields_looked_up():
    from policies.bluegreen_policies.provider_sets import SET_FIELDS, UNPAIRED_TYPES
    from policies.bluegreen_policies.stack import color_in_name
    from tests.harness import run_program

    everything = {  # every optional resource on: an instance profile, HTTPS, your own network
        "instancePolicyArns": ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"],
        "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123",
        "publicHostname": "app.example.com",
    }
    resources = [r for config in ({}, everything) for r in run_program(config).resources if r.custom]
    assert {r.type for r in resources} - set(SET_FIELDS) - UNPAIRED_TYPES == set()
    # The types left out carry no colour, so parity never compares them.
    assert [r.name for r in resources if r.type in UNPAIRED_TYPES and color_in_name(r.name)] == []


def test_a_resource_without_twin_is_reported():
    stack = hand_built_stack()
    del stack["bluegreen-green-alarms-5xx-rate"]
    outcome = validate_stack(PARITY, stack.values())
    assert outcome.violations == [
        (
            "blue alarm bluegreen-blue-alarms-5xx-rate has no green twin: expected bluegreen-green-alarms-5xx-rate "
            "of type aws:cloudwatch/metricAlarm:MetricAlarm. Every per-colour resource must exist for both colours; "
            "add the green twin or remove this resource.",
            stack["bluegreen-blue-alarms-5xx-rate"].urn,
        )
    ]


def test_a_twin_of_another_type_does_not_count():
    stack = hand_built_stack()
    stack["bluegreen-green-alarms-5xx-rate"].type = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
    assert parity(stack) == [
        "blue alarm bluegreen-blue-alarms-5xx-rate has no green twin: expected bluegreen-green-alarms-5xx-rate of "
        "type aws:cloudwatch/metricAlarm:MetricAlarm. Every per-colour resource must exist for both colours; add "
        "the green twin or remove this resource.",
        "green composite alarm bluegreen-green-alarms-5xx-rate has no blue twin: "
        "expected bluegreen-blue-alarms-5xx-rate of type aws:cloudwatch/compositeAlarm:CompositeAlarm. Every "
        "per-colour resource must exist for both colours; add the blue twin or remove this resource.",
    ]


def test_the_project_name_is_not_a_colour():
    stack = hand_built_stack()
    stack["bluegreen-dashboard"] = HandResource("aws:cloudwatch/dashboard:Dashboard", "bluegreen-dashboard", {})
    assert parity(stack) == []


def test_resources_with_only_a_colour_tag_are_paired_by_type():
    stack = hand_built_stack()
    for color, size in (("blue", 8), ("green", 16)):
        stack[f"cache-{color}"] = HandResource(
            "aws:elasticache/cluster:Cluster",
            f"cache-{color}",
            {"numCacheNodes": size, "tags": {"bluegreen:color": color}},
        )
    stack["cache-blue"].name = "cache-a"
    stack["cache-green"].name = "cache-b"
    assert parity(stack) == [
        differs("green aws:elasticache/cluster:Cluster", "numCacheNodes is 16 on green and 8 on blue")
    ]


def test_a_tagged_resource_without_twin_is_reported():
    stack = hand_built_stack()
    stack["cache"] = HandResource("aws:elasticache/cluster:Cluster", "cache", {"tags": {"bluegreen:color": "green"}})
    assert parity(stack) == [
        "green aws:elasticache/cluster:Cluster cache has no blue twin: expected one aws:elasticache/cluster:Cluster "
        "tagged bluegreen:color=blue. Every per-colour resource must exist for both colours; add the blue twin or "
        "remove this resource."
    ]


def test_several_tagged_resources_of_a_type_cannot_be_paired():
    stack = hand_built_stack()
    for name in ("cache-a", "cache-b"):
        stack[name] = HandResource("aws:elasticache/cluster:Cluster", name, {"tags": {"bluegreen:color": "green"}})
    assert parity(stack) == [
        f"aws:elasticache/cluster:Cluster {name} is tagged bluegreen:color=green but its name has no colour word, and "
        "it cannot be paired by type alone. Name per-colour resources <service>-<colour>-<role> so that blue and "
        "green twins differ only by the colour word."
        for name in ("cache-a", "cache-b")
    ]


def test_a_colour_tag_that_contradicts_the_name_is_reported():
    stack = hand_built_stack()
    stack["bluegreen-green-tg"].props["tags"]["bluegreen:color"] = "blue"
    assert parity(stack) == [
        "target group bluegreen-green-tg is tagged bluegreen:color='blue' but its name says green. Tag every "
        "per-colour resource with the colour in its name."
    ]


def test_the_idle_colour_is_compared_with_the_live_one():
    stack = hand_built_stack()
    set_weights(stack, 0, 100)
    stack["bluegreen-green-lt"].props["instanceType"] = "t3.large"
    outcome = validate_stack(PARITY, stack.values())
    assert outcome.violations == [
        (
            differs("blue launch template", "instanceType is 't3.micro' on blue and 't3.large' on green", "green"),
            stack["bluegreen-blue-lt"].urn,
        )
    ]


def test_capacity_may_differ_only_while_the_idle_colour_is_scaled_down():
    stack = hand_built_stack()
    stack["bluegreen-green-asg"].props.update(desiredCapacity=0, minSize=0, waitForElbCapacity=0)
    assert parity(stack) == [
        differs("green Auto Scaling group", "minSize is 0 on green and 2 on blue"),
        differs("green Auto Scaling group", "desiredCapacity is 0 on green and 2 on blue"),
        differs("green Auto Scaling group", "waitForElbCapacity is 0 on green and 2 on blue"),
    ]
    set_listener_tag(stack, "bluegreen:idleScaledDown", "true")
    assert parity(stack) == []


def test_unknown_values_defer_the_comparison_instead_of_failing_it():
    stack = hand_built_stack()
    stack["bluegreen-green-tg"].props["port"] = UNKNOWN
    stack["bluegreen-green-lt"].props["metadataOptions"] = UNKNOWN
    stack["bluegreen-green-lt"].props["instanceType"] = "t3.large"
    outcome = validate_stack(PARITY, stack.values())
    assert outcome.messages == [
        differs("green launch template", "instanceType is 't3.large' on green and 't3.micro' on blue")
    ]
    assert outcome.deferred == (
        "2 checks are deferred to `pulumi up` because the values they need are not known yet: parity of green "
        "target group (port); parity of green launch template (metadataOptions)."
    )


def test_an_unknown_launch_template_version_is_a_version_counter():
    stack = hand_built_stack()
    stack["bluegreen-green-asg"].props["launchTemplate"]["version"] = UNKNOWN
    stack["bluegreen-green-lt"].props["latestVersion"] = UNKNOWN
    assert parity(stack) == []


# -- outputs the provider computes ------------------------------------------------------------------
PAIRED_SDK_CLASSES = {
    # type: (pulumi_aws module, resource class) in the pulumi-aws Python SDK
    "aws:lb/targetGroup:TargetGroup": ("lb", "TargetGroup"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("ec2", "LaunchTemplate"),
    "aws:autoscaling/group:Group": ("autoscaling", "Group"),
    "aws:lb/listenerRule:ListenerRule": ("lb", "ListenerRule"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", "MetricAlarm"),
}


def wire_names(cls: type) -> set[str]:
    """The camelCase property names of an SDK args or state class (what the engine sends)."""
    return {
        getattr(attr.fget, "_pulumi_name", key)
        for key, attr in vars(cls).items()
        if isinstance(attr, property) and attr.fget is not None
    }


def output_only(type_: str) -> set[str]:
    """In the resource's state (what `get()` reads back) but not in its args: computed by the provider only."""
    package, resource = PAIRED_SDK_CLASSES[type_]
    args = getattr(getattr(pulumi_aws, package), f"{resource}Args")  # through the SDK's lazy modules
    state = getattr(sys.modules[args.__module__], f"_{resource}State")
    return wire_names(state) - wire_names(args)


def test_the_sdk_audit_finds_the_output_only_attributes():
    assert output_only("aws:lb/targetGroup:TargetGroup") >= {"arn", "arnSuffix", "loadBalancerArns", "tagsAll"}
    assert "port" not in output_only("aws:lb/targetGroup:TargetGroup")


@pytest.mark.parametrize("type_", PAIRED_SDK_CLASSES)
def test_every_output_only_attribute_of_a_paired_type_may_differ(type_: str):
    """Output-only attributes are computed and captured by the provider; twins written at different times differ.

    A new pulumi-aws version that adds one makes this fail: decide whether it is time-captured (allowlist it
    with a reason in parity.py) or derived from compared inputs only.
    """
    attributes = output_only(type_)
    assert attributes, type_
    assert sorted(a for a in attributes if not allowlisted(type_, (a,))) == []


@pytest.mark.parametrize(
    ("name", "key", "green", "blue"),
    [
        (
            "bluegreen-green-tg",
            "loadBalancerArns",
            ["arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/a/1"],
            [],
        ),
        ("bluegreen-green-tg", "tagsAll", {"team": "platform", "cost-centre": "web-platform"}, {"team": "platform"}),
        ("bluegreen-green-lt", "latestVersion", 9, 3),
        ("bluegreen-green-lt", "tagsAll", {"managed-by": "pulumi"}, {}),
        ("bluegreen-green-asg", "predictedCapacity", 2, 0),
        ("bluegreen-green-asg", "warmPoolSize", 0, None),
        ("bluegreen-green-asg", "availabilityZones", ["eu-west-1b", "eu-west-1a"], ["eu-west-1a", "eu-west-1b"]),
        ("bluegreen-green-alarms-5xx-rate", "tagsAll", {"cost-centre": "web-platform"}, {"cost-centre": "web"}),
        ("bluegreen-router-preview-green", "tagsAll", {"cost-centre": "web-platform"}, {"cost-centre": "web"}),
    ],
)
def test_computed_outputs_captured_at_different_times_may_differ(name: str, key: str, green: Any, blue: Any):
    stack = hand_built_stack()
    stack[name].props[key] = green
    twin = stack[name.replace("-green", "-blue")].props
    if blue is None:
        twin.pop(key, None)
    else:
        twin[key] = blue
    assert parity(stack) == []


def test_the_warm_pool_itself_is_compared():
    stack = hand_built_stack()
    stack["bluegreen-green-asg"].props["warmPool"] = {"minSize": 1, "poolState": "Stopped"}
    assert parity(stack) == [
        differs(
            "green Auto Scaling group", "warmPool is {minSize: 1, poolState: 'Stopped'} on green and not set on blue"
        )
    ]


def test_availability_zones_are_compared_when_they_are_the_groups_input():
    stack = hand_built_stack()
    for color, zones in (("blue", ["eu-west-1a", "eu-west-1b"]), ("green", ["eu-west-1a"])):
        props = stack[f"bluegreen-{color}-asg"].props
        props["availabilityZones"] = zones
        props["vpcZoneIdentifiers"] = []
    assert parity(stack) == [
        differs("green Auto Scaling group", "availabilityZones[1] is not set on green and 'eu-west-1b' on blue")
    ]


# -- what the comparison treats as a set, a key, a secret or a derived field ----------------------
@pytest.mark.parametrize(
    ("type_", "path", "is_set"),
    [
        ("aws:lb/listenerRule:ListenerRule", ("conditions",), True),
        ("aws:lb/listenerRule:ListenerRule", ("conditions", 0, "httpHeader", "values"), True),
        ("aws:lb/listenerRule:ListenerRule", ("conditions", "httpHeader", "httpHeader", "values"), False),
        ("aws:lb/listenerRule:ListenerRule", ("actions",), False),  # a list: the order of actions matters
        ("aws:lb/listener:Listener", ("defaultActions", 0, "forward", "targetGroups"), True),
        ("aws:lb/listener:Listener", ("defaultActions",), False),
        ("aws:autoscaling/group:Group", ("vpcZoneIdentifiers",), True),
        ("aws:autoscaling/group:Group", ("loadBalancerArns",), False),  # a target group's set, not an ASG's
        ("aws:ec2/launchTemplate:LaunchTemplate", ("networkInterfaces",), False),
        ("aws:ec2/launchTemplate:LaunchTemplate", ("networkInterfaces", 0, "securityGroups"), True),
        ("aws:unknown/type:Type", ("vpcZoneIdentifiers",), False),
    ],
)
def test_set_typed_fields_come_from_the_providers_schema(type_: str, path: tuple[object, ...], is_set: bool):
    from policies.bluegreen_policies.provider_sets import is_set_field

    assert is_set_field(type_, path) is is_set


def test_a_list_that_is_no_set_keeps_its_order():
    stack = hand_built_stack()
    for name in ("bluegreen-blue-lt", "bluegreen-green-lt"):
        stack[name].props["networkInterfaces"] = [{"deviceIndex": 0}, {"deviceIndex": 1}]
    stack["bluegreen-green-lt"].props["networkInterfaces"].reverse()
    assert parity(stack) == [
        differs("green launch template", "networkInterfaces[0].deviceIndex is 1 on green and 0 on blue"),
        differs("green launch template", "networkInterfaces[1].deviceIndex is 0 on green and 1 on blue"),
    ]


def test_a_set_member_only_one_colour_has_is_reported():
    stack = hand_built_stack()
    stack["bluegreen-green-asg"].props["vpcZoneIdentifiers"] = ["subnet-b", "subnet-c"]
    assert parity(stack) == [
        differs("green Auto Scaling group", "vpcZoneIdentifiers[1] is 'subnet-c' on green and 'subnet-a' on blue")
    ]


def test_conditions_other_than_headers_pair_by_their_kind():
    stack = hand_built_stack()
    for color in ("blue", "green"):
        stack[f"bluegreen-router-preview-{color}"].props["conditions"].append({"pathPattern": {"values": ["/api/*"]}})
    stack["bluegreen-router-preview-green"].props["conditions"].reverse()
    assert parity(stack) == []
    stack["bluegreen-router-preview-green"].props["conditions"][0]["pathPattern"]["values"] = ["/v2/*"]
    assert parity(stack) == [
        differs(
            "green listener rule",
            "conditions[pathPattern].pathPattern.values[0] is '/v2/*' on green and '/api/*' on blue",
        )
    ]


def test_a_different_preview_token_is_reported_without_printing_either():
    stack = hand_built_stack()
    stack["bluegreen-router-preview-green"].props["conditions"][1]["httpHeader"]["values"] = ["another-token"]
    assert parity(stack) == [
        differs(
            "green listener rule",
            "conditions[X-Bluegreen-Token].httpHeader.values[0] differs between green and blue (the values are secret)",
        )
    ]


def test_a_different_value_of_another_header_is_reported_without_printing_it():
    stack = hand_built_stack()
    for color, value in (("blue", "one"), ("green", "two")):
        stack[f"bluegreen-router-preview-{color}"].props["conditions"].append(
            {"httpHeader": {"httpHeaderName": "X-Team", "values": [value]}}
        )
    assert parity(stack) == [
        differs(
            "green listener rule",
            "conditions[X-Team].httpHeader.values[0] differs between green and blue (the values are secret)",
        )
    ]


def test_only_alarm_descriptions_may_name_their_colour():
    stack = hand_built_stack()
    for color in ("blue", "green"):
        stack[f"bluegreen-{color}-tg"].props["tags"]["note"] = f"{color} group"
    assert parity(stack) == [
        differs("green target group", "tags.note is 'green group' on green and 'blue group' on blue")
    ]


def test_an_alarm_description_may_name_its_colour_in_any_case():
    stack = hand_built_stack()
    for color in ("blue", "green"):
        alarm = stack[f"bluegreen-{color}-alarms-5xx-rate"].props
        alarm["alarmDescription"] = f"{color.upper()}: target 5xx responses above 5% of requests"
    assert parity(stack) == []


def test_zones_may_differ_only_while_both_groups_set_their_subnets():
    stack = hand_built_stack()
    for color, zones in (("blue", ["eu-west-1a", "eu-west-1b"]), ("green", ["eu-west-1b", "eu-west-1c"])):
        stack[f"bluegreen-{color}-asg"].props["availabilityZones"] = zones
    assert parity(stack) == []
    stack["bluegreen-green-asg"].props["vpcZoneIdentifiers"] = []
    messages = parity(stack)
    assert (
        differs("green Auto Scaling group", "availabilityZones[1] is 'eu-west-1c' on green and 'eu-west-1a' on blue")
        in messages
    )


def test_an_empty_string_counts_as_not_set_for_derived_fields():
    stack = hand_built_stack()
    for color, zones in (("blue", ["eu-west-1a"]), ("green", ["eu-west-1c"])):
        stack[f"bluegreen-{color}-asg"].props["availabilityZones"] = zones
    stack["bluegreen-green-asg"].props["vpcZoneIdentifiers"] = ""
    assert any("availabilityZones" in m for m in parity(stack))


def test_a_scaled_down_idle_colour_skips_only_the_capacity_fields():
    stack = hand_built_stack()
    set_listener_tag(stack, "bluegreen:idleScaledDown", "true")
    green = stack["bluegreen-green-asg"].props
    green.update(desiredCapacity=0, minSize=0, waitForElbCapacity=0, maxSize=9)
    stack["bluegreen-green-tg"].props["minSize"] = 3  # not an ASG: compared
    assert sorted(parity(stack)) == [
        differs("green Auto Scaling group", "maxSize is 9 on green and 4 on blue"),
        differs("green target group", "minSize is 3 on green and not set on blue"),
    ]


# -- the comparison engine itself -------------------------------------------------------------------------
def test_sets_of_structures_compare_by_membership():
    from policies.bluegreen_policies.parity import SetList, differences

    one = SetList([{"a": [1, 2], "b": {"c": 3}}, {"d": 4}])
    same = SetList([{"d": 4}, {"b": {"c": 3}, "a": [1, 2]}])
    assert list(differences(one, same)) == []
    other = SetList([{"d": 4}, {"b": {"c": 3}, "a": [2, 1]}])  # a list inside a member keeps its order
    assert [(d.path, d.mine, d.theirs, d.deferred) for d in differences(one, other)] == [
        ((0, "a", 0), 1, 2, False),
        ((0, "a", 1), 2, 1, False),
    ]


def test_a_set_with_a_member_not_known_yet_is_deferred_whole():
    from policies.bluegreen_policies.parity import Leaf, SetList, differences
    from policies.bluegreen_policies.values import UNKNOWN as PACK_UNKNOWN

    unknown = Leaf(PACK_UNKNOWN, "<unknown>")
    found = list(differences(SetList(["a", unknown]), SetList(["a", "b", "c"]), ("subnets",)))
    assert [(d.path, d.deferred) for d in found] == [
        (("subnets", 0), True),
        (("subnets", 1), True),
        (("subnets", 2), True),
    ]
    nested = list(differences(SetList([{"x": [unknown]}]), SetList([{"x": ["y"]}]), ("s",)))
    assert [(d.path, d.deferred) for d in nested] == [(("s", 0), True)]


def test_a_resource_type_with_several_per_colour_is_named_by_its_role():
    stack = hand_built_stack()
    for color in ("blue", "green"):
        rate = stack[f"bluegreen-{color}-alarms-5xx-rate"]
        stack[f"bluegreen-{color}-alarms-p99-latency"] = HandResource(
            rate.type, f"bluegreen-{color}-alarms-p99-latency", {**rate.props, "threshold": 1000}
        )
    stack["bluegreen-green-alarms-p99-latency"].props["threshold"] = 2000
    assert parity(stack) == [differs("green alarm p99-latency", "threshold is 2000 on green and 1000 on blue")]


def test_a_repeated_token_condition_still_never_prints_the_token():
    stack = hand_built_stack()
    for color in ("blue", "green"):
        conditions = stack[f"bluegreen-router-preview-{color}"].props["conditions"]
        conditions.append({"httpHeader": {"httpHeaderName": "X-Bluegreen-Token", "values": ["second-secret"]}})
    stack["bluegreen-router-preview-green"].props["conditions"][2]["httpHeader"]["values"] = ["other-secret"]
    (message,) = parity(stack)
    assert "secret" in message and "other-secret" not in message and "second-secret" not in message
    assert message == differs(
        "green listener rule",
        "conditions[2].httpHeader.values[0] differs between green and blue (the values are secret)",
    )


def test_a_missing_keyed_list_is_printed_with_its_items():
    stack = hand_built_stack()
    del stack["bluegreen-green-lt"].props["tagSpecifications"]
    (message,) = parity(stack)
    assert message.startswith(
        "green launch template differs from blue: tagSpecifications is not set on green and [{resourceType: "
        "'instance', tags: {"
    )


def test_capacity_is_deferred_while_the_idle_scaled_down_tag_is_not_known():
    stack = hand_built_stack()
    set_listener_tag(stack, "bluegreen:idleScaledDown", UNKNOWN)
    stack["bluegreen-green-asg"].props["desiredCapacity"] = 0
    outcome = validate_stack(PARITY, stack.values())
    assert outcome.violations == []
    assert outcome.deferred is not None and "parity of green Auto Scaling group (desiredCapacity)" in outcome.deferred


def test_capacity_is_compared_while_the_idle_colour_is_not_scaled_down():
    stack = hand_built_stack()
    stack["bluegreen-green-asg"].props["desiredCapacity"] = 0
    assert parity(stack) == [differs("green Auto Scaling group", "desiredCapacity is 0 on green and 2 on blue")]


def test_an_unknown_colour_tag_is_deferred_and_a_missing_one_is_no_finding():
    stack = hand_built_stack()
    stack["bluegreen-green-tg"].props["tags"]["bluegreen:color"] = UNKNOWN
    outcome = validate_stack(PARITY, stack.values())
    assert outcome.deferred is not None and "colour tag of bluegreen-green-tg" in outcome.deferred
    stack = hand_built_stack()
    for color in ("blue", "green"):
        del stack[f"bluegreen-{color}-tg"].props["tags"]["bluegreen:color"]
    assert parity(stack) == []


def test_without_a_production_listener_green_is_compared_with_blue():
    stack = hand_built_stack()
    del stack["bluegreen-router-https"]
    stack["bluegreen-blue-tg"].props["port"] = 9090
    assert parity(stack) == [differs("green target group", "port is 8080 on green and 9090 on blue")]


def test_a_launch_templates_default_version_counter_may_differ():
    stack = hand_built_stack()
    stack["bluegreen-blue-lt"].props["defaultVersion"] = 3
    stack["bluegreen-green-lt"].props["defaultVersion"] = 7
    assert parity(stack) == []


def test_a_list_that_is_no_set_and_grows_is_reported_by_position():
    stack = hand_built_stack()
    for name in ("bluegreen-blue-lt", "bluegreen-green-lt"):
        stack[name].props["networkInterfaces"] = [{"deviceIndex": 0}]
    stack["bluegreen-green-lt"].props["networkInterfaces"].append({"deviceIndex": 1})
    assert parity(stack) == [
        differs("green launch template", "networkInterfaces[1] is {deviceIndex: 1} on green and not set on blue")
    ]


def test_a_structure_against_a_plain_value_is_reported():
    stack = hand_built_stack()
    stack["bluegreen-green-tg"].props["healthCheck"] = "/health"
    (message,) = parity(stack)
    assert message.startswith("green target group differs from blue: healthCheck is '/health' on green and {")


def test_an_unknown_value_on_either_side_is_deferred():
    for color in ("blue", "green"):
        stack = hand_built_stack()
        stack[f"bluegreen-{color}-tg"].props["port"] = UNKNOWN
        outcome = validate_stack(PARITY, stack.values())
        assert outcome.violations == [], color
        assert outcome.deferred is not None and "parity of green target group (port)" in outcome.deferred
    stack = hand_built_stack()
    stack["bluegreen-green-tg"].props["slowStart"] = UNKNOWN  # not set on blue at all
    assert "parity of green target group (slowStart)" in str(validate_stack(PARITY, stack.values()).deferred)


def test_only_an_asgs_own_capacity_waits_for_the_scaled_down_tag():
    stack = hand_built_stack()
    set_listener_tag(stack, "bluegreen:idleScaledDown", UNKNOWN)
    stack["bluegreen-green-tg"].props["minSize"] = 3  # not an ASG: compared now
    stack["bluegreen-green-asg"].props["launchTemplate"]["minSize"] = 1  # nested, not the capacity field
    outcome = validate_stack(PARITY, stack.values())
    assert sorted(outcome.messages) == [
        differs("green Auto Scaling group", "launchTemplate.minSize is 1 on green and not set on blue"),
        differs("green target group", "minSize is 3 on green and not set on blue"),
    ]


def test_only_the_alarm_description_may_name_the_colour_not_its_other_fields():
    stack = hand_built_stack()
    for color in ("blue", "green"):
        stack[f"bluegreen-{color}-alarms-5xx-rate"].props["tags"]["note"] = f"pages {color} on-call"
    assert parity(stack) == [
        differs("green alarm", "tags.note is 'pages green on-call' on green and 'pages blue on-call' on blue")
    ]


def test_every_allowed_difference_says_why() -> None:
    from policies.bluegreen_policies.parity import _allowed

    entries = _allowed()

    assert entries
    unexplained = [e for e in entries if not isinstance(e.reason, str) or len(e.reason.split()) < 2]
    assert unexplained == [], "each allowlist entry needs a reason a reviewer can read"
