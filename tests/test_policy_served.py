"""The whole pack, served as the engine serves it, analysing what the real program registers.

Each test runs `__main__.py` under the SDK's mocks (tests/harness.py), sends every resource's
inputs to `Analyze` and every resource's outputs, parents and dependencies to `AnalyzeStack`, and
compares the diagnostics that come back with the exact list expected.

The program runs as the dev stack (Pulumi.dev.yaml), which turns the production baseline off, so the
pack runs with the dev stack's policy config (`DevStackPack`); tests/test_policy_baseline.py checks
the baseline's findings.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pulumi.runtime.proto import analyzer_pb2

from policies.bluegreen_policies import PACK_DESCRIPTION
from policies.bluegreen_policies.parity import FIX
from policies.bluegreen_policies.stack import ENGINE_TYPES, is_engine_resource
from tests.harness import Recording, deployed, mock_id, run_program
from tests.policy_server import (
    DEFAULT_TAGS_BEFORE,
    DEFAULT_TAGS_NOW,
    SECRET_SIG,
    Diagnostic,
    ServedPack,
    StackResource,
    as_provider_reports,
    from_recording,
    serve_pack,
    stack_reference,
)
from tests.test_policy_baseline import DevStackPack
from tests.test_program_live_reach import without_late_settings

CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0f0f0f-0000-4000-8000-000000000000"
FIX_INGRESS = "Allow instance ingress only from the ALB's security group (referencedSecurityGroupId)."
STACK_POLICIES = {
    "blue-green-parity",
    "production-traffic-targets",
    "preview-rules-isolated",
    "rollback-readiness",
    "database-schema-compatibility",
    "instance-ingress-from-alb-only",
    "http-redirects-to-https",
    "guardian-armed",
}
RESOURCE_POLICIES = {
    "production-traffic-split",
    "launch-template-imdsv2",
    "no-public-ip-in-private-subnets",
    "alb-drops-invalid-headers",
    "https-listener-tls-policy",
    "alb-access-logs-enabled",
    "alb-deletion-protection",
    "instances-without-public-ip",
}


@pytest.fixture(scope="module")
def pack() -> Iterator[ServedPack]:
    with serve_pack() as served:
        yield DevStackPack(served)


@pytest.fixture(scope="module")
def dev() -> Recording:
    return run_program()


@pytest.fixture(scope="module")
def https() -> Recording:
    return run_program({"certificateArn": CERT, "publicHostname": "app.example.com"})


def findings(diagnostics: list[Diagnostic], resources: list[StackResource]) -> list[tuple[str, str | None, str]]:
    """(policy, resource name or None, message) for each diagnostic, sorted; all must be mandatory."""
    names = {r.urn: r.name for r in resources}
    assert all(d.mandatory for d in diagnostics), [d for d in diagnostics if d.advisory]
    return sorted((d.policy, names.get(d.urn), d.message) for d in diagnostics)


# -- the pack as the engine sees it ---------------------------------------------------------------------
def test_analyzer_info_lists_every_policy_with_its_settings(pack: ServedPack):
    info = pack.info()
    assert (info.name, info.description, info.supportsConfig) == ("bluegreen", PACK_DESCRIPTION, True)
    kinds = {p.name: p.policy_type for p in info.policies}
    assert kinds == {
        **{name: analyzer_pb2.POLICY_TYPE_STACK for name in STACK_POLICIES},
        **{name: analyzer_pb2.POLICY_TYPE_RESOURCE for name in RESOURCE_POLICIES},
    }
    assert {p.name: p.enforcementLevel for p in info.policies} == dict.fromkeys(kinds, analyzer_pb2.MANDATORY)
    schemas = {p.name: dict(p.configSchema.properties) for p in info.policies if p.configSchema.properties}
    assert {name: {k: v["default"] for k, v in props.items()} for name, props in schemas.items()} == {
        "production-traffic-split": {"maxIdleTrafficPercent": 50},
        "https-listener-tls-policy": {"minimumTlsVersion": "1.2"},
    }
    assert all(p.remediation_steps for p in info.policies)
    assert pack.plugin_version  # GetPluginInfo answers like any plugin


def test_the_pack_never_calls_the_engine_address(pack: ServedPack, dev: Recording):
    pack.run(from_recording(dev))
    assert pack.argv[-2].startswith("127.0.0.1:")
    assert pack.engine.calls == []


def test_secret_values_arrive_in_the_engines_envelope(dev: Recording):
    rule = next(r for r in from_recording(dev) if r.name == "bluegreen-router-preview-green")
    token = rule.inputs["conditions"][1]["httpHeader"]["values"][0]
    assert SECRET_SIG.items() <= token.items()


# -- clean stacks ------------------------------------------------------------------------------------------
CLEAN_CONFIGS: list[dict[str, Any]] = [
    {},
    {
        "greenRelease": "v2.0.0",
        "greenImageId": "ami-0bbbbbbbbbbbbbbbb",
        "databaseSchemaVersion": 1,
        "blueSchemaVersions": [1],
        "greenSchemaVersions": [1, 2],
    },
    {
        "blueRelease": "v0.9.0",
        "blueImageId": "ami-0aaaaaaaaaaaaaaaa",
        "databaseSchemaVersion": 1,
        "blueSchemaVersions": [1],
        "greenSchemaVersions": [1],
    },
    {"activeColor": "green"},
    {"idleTrafficPercent": 10},
    {"idleTrafficPercent": 50},
    {"certificateArn": CERT, "publicHostname": "app.example.com"},
    {"idleScaledDown": True},
    {"databaseSchemaVersion": 2, "blueSchemaVersions": [1, 2], "greenSchemaVersions": [2, 3]},
    {
        "vpcId": "vpc-0123456789abcdef0",
        "subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
        "instanceSubnetIds": ["subnet-0cccccccccccccccc", "subnet-0dddddddddddddddd"],
    },
    {"stickinessSeconds": 300, "allowedCidrs": ["10.0.0.0/8", "2001:db8::/32"], "tags": ["team=payments"]},
]


def as_mocks_record(resources: list[StackResource]) -> list[StackResource]:
    return resources


# The outputs AnalyzeStack gets: as the SDK's mocks answer (inputs plus ids and ARNs), and as
# pulumi-aws records them (every computed attribute, captured when each resource was last written).
SHAPES: dict[str, Callable[[list[StackResource]], list[StackResource]]] = {
    "mocks": as_mocks_record,
    "provider": as_provider_reports,
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("overrides", CLEAN_CONFIGS, ids=lambda o: ",".join(o) or "dev")
def test_the_program_gets_no_violations(pack: ServedPack, overrides: dict[str, Any], shape: str):
    resources = SHAPES[shape](from_recording(run_program(overrides)))
    assert pack.run(resources) == []


# -- outputs as the provider records them --------------------------------------------------------------------
def by_name(resources: list[StackResource], name: str) -> StackResource:
    return next(r for r in resources if r.name == name)


@pytest.mark.parametrize("updated", ["green", "blue"])
def test_provider_computed_outputs_captured_at_different_times_get_no_violations(
    pack: ServedPack, dev: Recording, updated: str
):
    """After `stage` updated one colour, its twin's computed outputs are older: none of that is drift."""
    resources = as_provider_reports(from_recording(dev), updated=updated)
    older = "blue" if updated == "green" else "green"
    fresh_tg, old_tg = (by_name(resources, f"bluegreen-{c}-tg").outputs for c in (updated, older))
    alb_arn = by_name(resources, "bluegreen-lb-alb").outputs["arn"]
    assert (fresh_tg["loadBalancerArns"], old_tg["loadBalancerArns"]) == ([alb_arn], [])
    assert fresh_tg["tagsAll"]["cost-centre"] == DEFAULT_TAGS_NOW["cost-centre"]
    assert old_tg["tagsAll"]["cost-centre"] == DEFAULT_TAGS_BEFORE["cost-centre"]
    fresh_asg, old_asg = (by_name(resources, f"bluegreen-{c}-asg").outputs for c in (updated, older))
    assert fresh_asg["availabilityZones"] != old_asg["availabilityZones"]
    assert fresh_asg["predictedCapacity"] != old_asg["predictedCapacity"]
    assert "warmPoolSize" in fresh_asg and "warmPoolSize" not in old_asg
    fresh_lt, old_lt = (by_name(resources, f"bluegreen-{c}-lt").outputs for c in (updated, older))
    assert fresh_lt["latestVersion"] != old_lt["latestVersion"]
    assert fresh_asg["launchTemplate"]["name"] == fresh_lt["name"]
    assert pack.run(resources) == []


def with_token(resources: list[StackResource], token: str) -> list[StackResource]:
    """The same stack with another generated preview token (it decides the rules' hash order)."""
    changed = copy.deepcopy(resources)
    for res in changed:
        for props in (res.inputs, res.outputs):
            for condition in props.get("conditions", []):
                if condition["httpHeader"]["httpHeaderName"] == "X-Bluegreen-Token":
                    condition["httpHeader"]["values"] = [token]
    return changed


def test_rule_conditions_in_the_providers_hash_order_get_no_violations(pack: ServedPack, dev: Recording):
    # pulumi-terraform-bridge#2478: a rule's conditions are a set, stored in hash order. Whether twins'
    # orders differ depends on the generated token; compared by position, about every other token failed.
    orders = set()
    for n in range(8):
        resources = as_provider_reports(with_token(from_recording(dev), f"token{n:027d}"))
        headers = {
            color: [
                c["httpHeader"]["httpHeaderName"]
                for c in by_name(resources, f"bluegreen-router-preview-{color}").outputs["conditions"]
            ]
            for color in ("blue", "green")
        }
        orders.add(headers["blue"] == headers["green"])
        assert pack.run(resources) == []
    assert orders == {True, False}, "the tokens tried must give twins both the same and different orders"


def test_a_drifted_input_is_still_reported_next_to_computed_outputs(pack: ServedPack, dev: Recording):
    resources = as_provider_reports(from_recording(dev))
    tg = by_name(resources, TG)
    for props in (tg.inputs, tg.outputs):
        props["tags"] = {**props["tags"], "team": "payments"}
    assert findings(pack.run(resources), resources) == [
        parity(TGK, TG, "tags.team is 'payments' on green and 'platform' on blue")
    ]


# -- the engine's own resources ---------------------------------------------------------------------------
def test_stack_references_are_listed_as_engine_resources():
    assert {"pulumi:pulumi:Stack", "pulumi:pulumi:StackReference"} == ENGINE_TYPES
    assert is_engine_resource("pulumi:providers:aws")
    assert not is_engine_resource("pulumi:pulumi:StackOutputs")  # exact types, not a prefix
    assert not is_engine_resource("aws:lb/listener:Listener")


def test_the_release_guards_stack_reference_is_ignored(pack: ServedPack, dev: Recording):
    """The release guard reads the stack's last outputs through a StackReference, which AnalyzeStack gets too."""
    resources = [*from_recording(dev), stack_reference("bluegreen-deployed-state", dev.outputs)]
    assert pack.analyze_stack(resources) == []


# -- one drift at a time -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Where:
    """Picks the list item for which `test(item)` holds: set-typed lists have no stable positions."""

    test: Callable[[Any], bool]
    label: str

    def __str__(self) -> str:
        return self.label


Select = str | int | dict[str, str] | Where


def locate(value: Any, path: list[Select]) -> tuple[Any, str | int]:
    """The container and key of `path`; a dict step picks the list item whose fields match it."""
    for step in path[:-1]:
        value = _step(value, step)
    last = path[-1]
    if isinstance(last, dict | Where):
        return value, value.index(_step(value, last))
    return value, last


def _step(value: Any, step: Select) -> Any:
    if isinstance(step, Where):
        return next(item for item in value if step.test(item))
    if isinstance(step, dict):
        return next(item for item in value if step.items() <= item.items())
    return value[step]


def header(name: str) -> Where:
    return Where(lambda condition: condition["httpHeader"]["httpHeaderName"] == name, name)


SUBNET_1 = Where(lambda subnet: subnet == mock_id("aws:ec2/subnet:Subnet", "bluegreen-network-subnet-1"), "subnet-1")


@dataclass(frozen=True)
class Drift:
    """Changes one field of one resource, in its inputs and its outputs alike."""

    resource: str
    path: list[Select]
    value: Any  # DELETE removes the field; a callable gets the recording and returns the value
    expected: list[tuple[str, str | None, str]]

    def apply(self, resources: list[StackResource], dev: Recording) -> list[StackResource]:
        drifted = copy.deepcopy(resources)
        if self.path == []:
            return [r for r in drifted if r.name != self.resource]
        target = next(r for r in drifted if r.name == self.resource)
        value = self.value(dev) if callable(self.value) else self.value
        for props in (target.inputs, target.outputs):
            container, key = locate(props, self.path)
            if value is DELETE:
                del container[key]
            else:
                container[key] = copy.deepcopy(value)
        return drifted


DELETE = object()


def out(name: str, key: str) -> Callable[[Recording], Any]:
    return lambda rec: rec.by_name(name).outputs[key]


def blue_lt_id(rec: Recording) -> str:
    return str(rec.by_name("bluegreen-blue-asg").inputs["launchTemplate"]["id"])


def parity(kind: str, resource: str, detail: str) -> tuple[str, str | None, str]:
    return ("blue-green-parity", resource, f"green {kind} differs from blue: {detail}. {FIX}")


def both(path: str, shown: str) -> str:
    return f"{path} is {shown} on both colours, but each colour must name its own colour and resources"


LT, ASG, TG = "bluegreen-green-lt", "bluegreen-green-asg", "bluegreen-green-tg"
RULE, E5XX, P99 = (
    "bluegreen-router-preview-green",
    "bluegreen-green-alarms-5xx-rate",
    "bluegreen-green-alarms-p99-latency",
)
LTK, ASGK, TGK, RULEK = "launch template", "Auto Scaling group", "target group", "listener rule router-preview-green"
E5XXK, P99K = "alarm 5xx-rate", "alarm p99-latency"
ROLLBACK_FIX = (
    "Give the idle colour at least the live colour's capacity, or scale it down explicitly with idleScaledDown=true "
    "(it then receives no traffic)."
)
TOKEN_MISSING = (
    "preview-rules-isolated",
    RULE,
    "Preview rule bluegreen-router-preview-green does not require the X-Bluegreen-Token header, so anyone who sets "
    "the colour header reaches that colour. Add an http-header condition on X-Bluegreen-Token with the preview token.",
)
ALB_SG_ID = out("bluegreen-lb-alb", "securityGroups")

DRIFTS: list[Drift] = [
    # launch template
    Drift(
        LT,
        ["instanceType"],
        "t3.large",
        [parity(LTK, LT, "instanceType is 't3.large' on green and 't3.micro' on blue")],
    ),
    Drift(
        LT,
        ["metadataOptions", "httpTokens"],
        "optional",
        [
            parity(LTK, LT, "metadataOptions.httpTokens is 'optional' on green and 'required' on blue"),
            (
                "launch-template-imdsv2",
                LT,
                "Launch template bluegreen-green-lt has metadataOptions.httpTokens 'optional', "
                "so instances also answer IMDSv1 requests. Set metadataOptions.httpTokens to 'required'.",
            ),
        ],
    ),
    Drift(
        LT,
        ["metadataOptions", "httpPutResponseHopLimit"],
        2,
        [parity(LTK, LT, "metadataOptions.httpPutResponseHopLimit is 2 on green and 1 on blue")],
    ),
    Drift(
        LT,
        ["metadataOptions", "httpEndpoint"],
        "disabled",
        [parity(LTK, LT, "metadataOptions.httpEndpoint is 'disabled' on green and 'enabled' on blue")],
    ),
    Drift(
        LT,
        ["blockDeviceMappings", 0, "ebs", "volumeSize"],
        20,
        [parity(LTK, LT, "blockDeviceMappings[/dev/xvda].ebs.volumeSize is 20 on green and 8 on blue")],
    ),
    Drift(
        LT,
        ["blockDeviceMappings", 0, "ebs", "encrypted"],
        "false",
        [parity(LTK, LT, "blockDeviceMappings[/dev/xvda].ebs.encrypted is 'false' on green and 'true' on blue")],
    ),
    Drift(
        LT,
        ["networkInterfaces", 0, "associatePublicIpAddress"],
        "false",
        [parity(LTK, LT, "networkInterfaces[0].associatePublicIpAddress is 'false' on green and 'true' on blue")],
    ),
    Drift(
        LT,
        ["tags", "bluegreen:subnetTier"],
        "private",
        [
            parity(LTK, LT, "tags[\"bluegreen:subnetTier\"] is 'private' on green and 'public' on blue"),
            (
                "no-public-ip-in-private-subnets",
                LT,
                "Launch template bluegreen-green-lt gives instances a public IP "
                "(networkInterfaces[0].associatePublicIpAddress is true) but is tagged bluegreen:subnetTier=private. Set "
                "associatePublicIpAddress to false: instances in private subnets reach the internet through NAT.",
            ),
        ],
    ),
    Drift(
        LT,
        ["tagSpecifications", {"resourceType": "instance"}, "tags", "team"],
        "payments",
        [parity(LTK, LT, "tagSpecifications[instance].tags.team is 'payments' on green and not set on blue")],
    ),
    Drift(
        LT,
        ["updateDefaultVersion"],
        False,
        [parity(LTK, LT, "updateDefaultVersion is false on green and true on blue")],
    ),
    Drift(
        LT,
        ["networkInterfaces", 0, "securityGroups"],
        ALB_SG_ID,
        [
            parity(
                LTK,
                LT,
                "networkInterfaces[0].securityGroups[0] is '<<alb-sg>>' on green and '<<instance-sg>>' on blue",
            ),
            (
                "instance-ingress-from-alb-only",
                "bluegreen-lb-alb-ingress-80-0-0-0-0-0",
                "Ingress rule "
                f"bluegreen-lb-alb-ingress-80-0-0-0-0-0 on the instance security group lets traffic reach the instances from "
                f"cidrIpv4 '0.0.0.0/0'. {FIX_INGRESS}",
            ),
        ],
    ),
    # Auto Scaling group
    Drift(ASG, ["maxSize"], 6, [parity(ASGK, ASG, "maxSize is 6 on green and 4 on blue")]),
    Drift(
        ASG,
        ["minSize"],
        1,
        [
            parity(ASGK, ASG, "minSize is 1 on green and 2 on blue"),
            (
                "rollback-readiness",
                ASG,
                "The idle colour green is the rollback target, but its Auto Scaling group "
                f"bluegreen-green-asg has minSize 1, lower than the live colour blue's 2. {ROLLBACK_FIX}",
            ),
        ],
    ),
    Drift(
        ASG,
        ["desiredCapacity"],
        1,
        [
            parity(ASGK, ASG, "desiredCapacity is 1 on green and 2 on blue"),
            (
                "rollback-readiness",
                ASG,
                "The idle colour green is the rollback target, but its Auto Scaling group "
                f"bluegreen-green-asg has desiredCapacity 1, lower than the live colour blue's 2. {ROLLBACK_FIX}",
            ),
        ],
    ),
    Drift(ASG, ["healthCheckType"], "EC2", [parity(ASGK, ASG, "healthCheckType is 'EC2' on green and 'ELB' on blue")]),
    Drift(
        ASG,
        ["healthCheckGracePeriod"],
        300,
        [parity(ASGK, ASG, "healthCheckGracePeriod is 300 on green and 120 on blue")],
    ),
    Drift(
        ASG,
        ["waitForCapacityTimeout"],
        "20m",
        [parity(ASGK, ASG, "waitForCapacityTimeout is '20m' on green and '10m' on blue")],
    ),
    Drift(ASG, ["waitForElbCapacity"], 0, [parity(ASGK, ASG, "waitForElbCapacity is 0 on green and 2 on blue")]),
    Drift(
        ASG,
        ["tags", {"key": "team"}, "value"],
        "payments",
        [parity(ASGK, ASG, "tags[team].value is 'payments' on green and 'platform' on blue")],
    ),
    Drift(
        ASG,
        ["tags", {"key": "service"}, "propagateAtLaunch"],
        False,
        [parity(ASGK, ASG, "tags[service].propagateAtLaunch is false on green and true on blue")],
    ),
    Drift(
        ASG,
        ["vpcZoneIdentifiers", SUBNET_1],
        DELETE,
        [parity(ASGK, ASG, "vpcZoneIdentifiers[1] is not set on green and '<<subnet-1>>' on blue")],
    ),
    Drift(
        ASG,
        ["targetGroupArns", 0],
        out("bluegreen-blue-tg", "arn"),
        [parity(ASGK, ASG, both("targetGroupArns[0]", "<bluegreen-blue-tg>"))],
    ),
    Drift(
        ASG, ["launchTemplate", "id"], blue_lt_id, [parity(ASGK, ASG, both("launchTemplate.id", "<bluegreen-blue-lt>"))]
    ),
    # target group
    Drift(TG, ["port"], 8081, [parity(TGK, TG, "port is 8081 on green and 8080 on blue")]),
    Drift(TG, ["protocol"], "HTTPS", [parity(TGK, TG, "protocol is 'HTTPS' on green and 'HTTP' on blue")]),
    Drift(
        TG,
        ["healthCheck", "path"],
        "/healthz",
        [parity(TGK, TG, "healthCheck.path is '/healthz' on green and '/health' on blue")],
    ),
    Drift(TG, ["healthCheck", "interval"], 30, [parity(TGK, TG, "healthCheck.interval is 30 on green and 15 on blue")]),
    Drift(
        TG,
        ["healthCheck", "matcher"],
        "200-399",
        [parity(TGK, TG, "healthCheck.matcher is '200-399' on green and '200' on blue")],
    ),
    Drift(TG, ["deregistrationDelay"], 300, [parity(TGK, TG, "deregistrationDelay is 300 on green and 30 on blue")]),
    # preview rule
    Drift(
        RULE,
        ["conditions", header("X-Bluegreen-Token")],
        DELETE,
        [
            parity(
                RULEK,
                RULE,
                "conditions[X-Bluegreen-Token] is not set on green and {httpHeader: {httpHeaderName: "
                "'X-Bluegreen-Token', values: [<preview token>]}} on blue",
            ),
            TOKEN_MISSING,
        ],
    ),
    Drift(
        RULE,
        ["conditions", header("X-Bluegreen-Color"), "httpHeader", "values", 0],
        "blue",
        [
            parity(RULEK, RULE, both("conditions[X-Bluegreen-Color].httpHeader.values[0]", "'blue'")),
            (
                "preview-rules-isolated",
                RULE,
                "Preview rule bluegreen-router-preview-green matches X-Bluegreen-Color "
                "['blue'] but forwards to green. Match exactly the colour it forwards to: 'green'.",
            ),
        ],
    ),
    Drift(
        RULE,
        ["actions", 0, "targetGroupArn"],
        out("bluegreen-blue-tg", "arn"),
        [
            parity(RULEK, RULE, both("actions[0].targetGroupArn", "<bluegreen-blue-tg>")),
            (
                "preview-rules-isolated",
                RULE,
                "Preview rule bluegreen-router-preview-green forwards to the blue target "
                "group although its name says green. Forward it to the green target group.",
            ),
            (
                "preview-rules-isolated",
                RULE,
                "Preview rule bluegreen-router-preview-green matches X-Bluegreen-Color "
                "['green'] but forwards to blue. Match exactly the colour it forwards to: 'blue'.",
            ),
        ],
    ),
    Drift(
        RULE,
        ["tags", "team"],
        "payments",
        [parity(RULEK, RULE, "tags.team is 'payments' on green and 'platform' on blue")],
    ),
    # alarms
    Drift(E5XX, ["threshold"], 10, [parity(E5XXK, E5XX, "threshold is 10 on green and 5 on blue")]),
    Drift(E5XX, ["evaluationPeriods"], 5, [parity(E5XXK, E5XX, "evaluationPeriods is 5 on green and 3 on blue")]),
    Drift(
        E5XX,
        ["metricQueries", {"id": "errors"}, "metric", "period"],
        300,
        [parity(E5XXK, E5XX, "metricQueries[errors].metric.period is 300 on green and 60 on blue")],
    ),
    Drift(
        E5XX,
        ["metricQueries", {"id": "rate"}, "expression"],
        "100 * errors / requests",
        [
            parity(
                E5XXK,
                E5XX,
                "metricQueries[rate].expression is '100 * errors / requests' on green and "
                "'IF(requests > 0, 100 * (FILL(errors, 0) + FILL(unreachable, 0)) / requests, 0)' on blue",
            )
        ],
    ),
    Drift(
        P99, ["extendedStatistic"], "p95", [parity(P99K, P99, "extendedStatistic is 'p95' on green and 'p99' on blue")]
    ),
    Drift(
        P99,
        ["treatMissingData"],
        "breaching",
        [parity(P99K, P99, "treatMissingData is 'breaching' on green and 'notBreaching' on blue")],
    ),
    Drift(
        P99,
        ["dimensions", "TargetGroup"],
        out("bluegreen-blue-tg", "arnSuffix"),
        [parity(P99K, P99, both("dimensions.TargetGroup", "<bluegreen-blue-tg>"))],
    ),
    # a resource that exists for one colour only
    Drift(
        P99,
        [],
        None,
        [
            (
                "blue-green-parity",
                "bluegreen-blue-alarms-p99-latency",
                "blue alarm bluegreen-blue-alarms-p99-latency has no "
                "green twin: expected bluegreen-green-alarms-p99-latency of type aws:cloudwatch/metricAlarm:MetricAlarm. Every "
                "per-colour resource must exist for both colours; add the green twin or remove this resource.",
            )
        ],
    ),
    Drift(
        RULE,
        [],
        None,
        [
            (
                "blue-green-parity",
                "bluegreen-router-preview-blue",
                "blue listener rule bluegreen-router-preview-blue has no "
                "green twin: expected bluegreen-router-preview-green of type aws:lb/listenerRule:ListenerRule. Every "
                "per-colour resource must exist for both colours; add the green twin or remove this resource.",
            )
        ],
    ),
    # shared resources
    Drift(
        "bluegreen-lb-alb",
        ["dropInvalidHeaderFields"],
        False,
        [
            (
                "alb-drops-invalid-headers",
                "bluegreen-lb-alb",
                "Application load balancer bluegreen-lb-alb has "
                "dropInvalidHeaderFields false, so it forwards requests with invalid HTTP header fields to the instances. Set "
                "dropInvalidHeaderFields to true.",
            )
        ],
    ),
    Drift(
        "bluegreen-lb-instance-ingress-8080",
        ["referencedSecurityGroupId"],
        "sg-0123456789abcdef0",
        [
            (
                "instance-ingress-from-alb-only",
                "bluegreen-lb-instance-ingress-8080",
                "Ingress rule bluegreen-lb-instance-ingress-8080 "
                f"on the instance security group lets traffic reach the instances from security group 'sg-0123456789abcdef0', "
                f"which is not the ALB's. {FIX_INGRESS}",
            )
        ],
    ),
    Drift(
        "bluegreen-router-http",
        ["defaultActions", 0, "forward", "targetGroups", 1, "weight"],
        10,
        [
            (
                "production-traffic-split",
                "bluegreen-router-http",
                "The production listener bluegreen-router-http has "
                "weights that add up to 110, not 100. Give the active colour 100 minus the idle colour's share.",
            )
        ],
    ),
]
PAIRED_TYPES = {LT, ASG, TG, RULE, E5XX, P99}


def test_the_corpus_covers_every_paired_resource_type():
    paired = [d for d in DRIFTS if d.resource in PAIRED_TYPES and d.path]
    assert len(paired) >= 25
    assert {d.resource for d in paired} == PAIRED_TYPES


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("drift", DRIFTS, ids=lambda d: f"{d.resource}:{'.'.join(map(str, d.path)) or 'removed'}")
def test_a_single_drift_gets_exactly_the_expected_violations(
    pack: ServedPack, dev: Recording, drift: Drift, shape: str
):
    resources = drift.apply(SHAPES[shape](from_recording(dev)), dev)
    assert findings(pack.run(resources), resources) == sorted(with_ids(drift.expected, dev))


def with_ids(expected: list[tuple[str, str | None, str]], dev: Recording) -> list[tuple[str, str | None, str]]:
    """Fills in the ids that the mocks gave the shared resources (`<<alb-sg>>` ...)."""
    ids = {
        "<<alb-sg>>": dev.by_name("bluegreen-lb-alb").inputs["securityGroups"][0],
        "<<instance-sg>>": dev.by_name("bluegreen-lb-instance-ingress-8080").inputs["securityGroupId"],
        "<<subnet-1>>": dev.by_name("bluegreen-blue-asg").inputs["vpcZoneIdentifiers"][1],
    }
    filled = []
    for policy, resource, template in expected:
        message = template
        for placeholder, value in ids.items():
            message = message.replace(placeholder, value)
        filled.append((policy, resource, message))
    return filled


def schema_tag(asg: StackResource) -> str:
    return str(next(t["value"] for t in asg.inputs["tags"] if t["key"] == "bluegreen:schemaVersions"))


# -- release-only differences -------------------------------------------------------------------------------
def test_release_only_differences_get_no_violations(pack: ServedPack):
    rec = run_program(
        {
            "blueRelease": "v1.0.0",
            "greenRelease": "v2.0.0",
            "blueImageId": "ami-0aaaaaaaaaaaaaaaa",
            "greenImageId": "ami-0bbbbbbbbbbbbbbbb",
            "databaseSchemaVersion": 1,
            "blueSchemaVersions": [1],
            "greenSchemaVersions": [1, 2],
        }
    )
    resources = from_recording(rec)
    blue, green = (next(r for r in resources if r.name == f"bluegreen-{c}-lt") for c in ("blue", "green"))
    assert blue.inputs["userData"] != green.inputs["userData"]
    assert blue.inputs["imageId"] != green.inputs["imageId"]
    blue_asg, asg = (next(r for r in resources if r.name == f"bluegreen-{c}-asg") for c in ("blue", "green"))
    assert schema_tag(blue_asg) == "1" and schema_tag(asg) == "1 2"
    asg.inputs["launchTemplate"]["version"] = asg.outputs["launchTemplate"]["version"] = "7"  # a newer template
    assert pack.run(resources) == []


# -- release-spec differences -------------------------------------------------------------------------------
def staged_spec() -> Recording:
    """Green staged with a new app port, instance type, health check, detailed monitoring, grace period, capacity
    timeout, extra security group and egress while blue serves on the old ones."""
    live = run_program({"instanceEgress": ["tcp:5432:10.0.0.0/16"]})
    return run_program(
        {
            "appPort": 9090,
            "instanceType": "t3.large",
            "healthCheckPath": "/ready",
            "detailedMonitoring": True,
            "healthCheckGracePeriodSeconds": 300,
            "capacityTimeout": "20m",
            "extraSecurityGroupIds": ["sg-0123456789abcdef0"],
            "instanceEgress": ["tcp:6379:10.0.0.0/16"],
        },
        previous_outputs=deployed(live),
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_differences_the_release_specs_declare_get_no_violations(pack: ServedPack, shape: str):
    resources = SHAPES[shape](from_recording(staged_spec()))
    green_tg = by_name(resources, "bluegreen-green-tg")
    assert (green_tg.inputs["port"], by_name(resources, "bluegreen-blue-tg").inputs["port"]) == (9090, 8080)
    assert pack.run(resources) == []


def test_a_colour_deployed_before_the_late_settings_joined_the_spec_may_declare_a_spec_without_them(
    pack: ServedPack,
):
    """Blue runs a grace period and an extra group its spec (exported before they joined it) leaves out, while
    restaged green declares them: each tag is what its colour runs, as far as its spec records."""
    config = {"healthCheckGracePeriodSeconds": 300, "extraSecurityGroupIds": ["sg-0123456789abcdef0"]}
    older = without_late_settings(deployed(run_program(config)))
    kept = run_program(config, previous_outputs=older)
    restaged = run_program({**config, "instanceType": "t3.large"}, previous_outputs=deployed(kept))
    assert "healthCheckGracePeriodSeconds" not in restaged.outputs["blueSpec"]["spec"]
    assert pack.run(from_recording(restaged)) == []


def test_a_difference_the_release_spec_does_not_declare_is_reported(pack: ServedPack):
    resources = from_recording(staged_spec())
    green_tg = by_name(resources, "bluegreen-green-tg")
    green_tg.inputs["deregistrationDelay"] = green_tg.outputs["deregistrationDelay"] = 5  # not what green declares
    messages = [d.message for d in pack.run(resources)]
    assert any(
        m.startswith("green declares release spec ")
        and "deregistrationDelaySeconds=5" in m
        and m.endswith("The release spec must say what the colour runs.")
        for m in messages
    ), messages


def test_release_spec_settings_still_compare_when_the_colours_declare_the_same_spec(pack: ServedPack, dev: Recording):
    resources = from_recording(dev)
    green_lt = by_name(resources, "bluegreen-green-lt")
    green_lt.inputs["instanceType"] = green_lt.outputs["instanceType"] = "t3.large"
    messages = [d.message for d in pack.run(resources)]
    assert any("instanceType is 't3.large' on green and 't3.micro' on blue" in m for m in messages), messages


# -- HTTPS -------------------------------------------------------------------------------------------------
def test_https_stack_with_a_legacy_tls_policy(pack: ServedPack, https: Recording):
    drift = Drift(
        "bluegreen-router-https",
        ["sslPolicy"],
        "ELBSecurityPolicy-TLS-1-1-2017-01",
        [
            (
                "https-listener-tls-policy",
                "bluegreen-router-https",
                "HTTPS listener bluegreen-router-https uses sslPolicy "
                "'ELBSecurityPolicy-TLS-1-1-2017-01', which accepts TLS 1.1. Use a TLS 1.2+ policy such as "
                "'ELBSecurityPolicy-TLS13-1-2-2021-06' (config sslPolicy).",
            )
        ],
    )
    resources = drift.apply(from_recording(https), https)
    assert findings(pack.run(resources), resources) == drift.expected


def test_https_stack_whose_http_listener_serves(pack: ServedPack, https: Recording):
    fixed = [{"type": "fixed-response", "fixedResponse": {"contentType": "text/plain", "statusCode": "200"}}]
    drift = Drift(
        "bluegreen-router-http",
        ["defaultActions"],
        fixed,
        [
            (
                "http-redirects-to-https",
                "bluegreen-router-http",
                "HTTP listener bluegreen-router-http serves plain HTTP "
                "although its load balancer has an HTTPS listener. Make its only default action a redirect to HTTPS (protocol "
                "'HTTPS', status 'HTTP_301').",
            )
        ],
    )
    resources = drift.apply(from_recording(https), https)
    assert findings(pack.run(resources), resources) == drift.expected


# -- policy config, as `--policy-pack-config` passes it ---------------------------------------------------
def test_the_idle_share_limit_comes_from_policy_config(pack: ServedPack):
    resources = from_recording(run_program({"idleTrafficPercent": 30}))
    assert pack.run(resources) == []
    message = (
        "The production listener bluegreen-router-http sends 30% of production traffic to the idle colour, "
        "more than the allowed 20% (policy config maxIdleTrafficPercent). Lower idleTrafficPercent to at most 20."
    )
    limited = pack.run(resources, {"production-traffic-split": {"maxIdleTrafficPercent": 20}})
    assert [(d.policy, d.message, d.mandatory) for d in limited] == [("production-traffic-split", message, True)]
    advisory = pack.run(
        resources, {"production-traffic-split": {"maxIdleTrafficPercent": 20, "enforcementLevel": "advisory"}}
    )
    assert [(d.policy, d.message, d.mandatory) for d in advisory] == [("production-traffic-split", message, False)]
    assert pack.run(resources, {"production-traffic-split": "disabled", "all": "mandatory"}) == []


def test_a_bad_split_stops_an_update_with_skip_preview_before_the_listener_changes(pack: ServedPack):
    """`pulumi up --skip-preview` runs no preview, and AnalyzeStack only after every step is applied.

    The engine calls Analyze with the listener's inputs before its step, in the update as in a
    preview; a mandatory violation there stops the update before the listener is changed.
    """
    resources = from_recording(run_program({"idleTrafficPercent": 30}))
    pack.configure({"production-traffic-split": {"maxIdleTrafficPercent": 20}})
    listener = by_name(resources, "bluegreen-router-http")
    assert [(d.policy, d.mandatory, d.urn, d.message) for d in pack.analyze(listener)] == [
        (
            "production-traffic-split",
            True,
            listener.urn,
            "The production listener bluegreen-router-http sends 30% of production traffic to the idle colour, "
            "more than the allowed 20% (policy config maxIdleTrafficPercent). Lower idleTrafficPercent to at most "
            "20.",
        )
    ]
    groups = listener.inputs["defaultActions"][0]["forward"]["targetGroups"]
    groups[0]["weight"] = groups[1]["weight"] = 45
    del listener.inputs["defaultActions"][0]["forward"]["stickiness"]
    pack.configure()
    assert sorted(d.message.split(".")[0] for d in pack.analyze(listener) if d.mandatory) == [
        "The production listener bluegreen-router-http gives no target group at least 50% of production traffic "
        "(largest weight 45)",
        "The production listener bluegreen-router-http has weights that add up to 90, not 100",
        "The production listener bluegreen-router-http sets no stickiness duration on its weighted forward",
    ]


def test_all_sets_every_policys_enforcement_level(pack: ServedPack, dev: Recording):
    drift = DRIFTS[0]
    resources = drift.apply(from_recording(dev), dev)
    diagnostics = pack.run(resources, {"all": "advisory"})
    assert [(d.policy, d.message, d.advisory) for d in diagnostics] == [
        (drift.expected[0][0], drift.expected[0][2], True)
    ]


def test_the_minimum_tls_version_comes_from_policy_config(pack: ServedPack, https: Recording):
    resources = from_recording(https)
    strict = pack.run(resources, {"https-listener-tls-policy": {"minimumTlsVersion": "1.3"}})
    assert [(d.policy, d.message) for d in strict] == [
        (
            "https-listener-tls-policy",
            "HTTPS listener bluegreen-router-https uses sslPolicy "
            "'ELBSecurityPolicy-TLS13-1-2-2021-06', which accepts TLS 1.2. Use a TLS 1.3+ policy such as "
            "'ELBSecurityPolicy-TLS13-1-2-2021-06' (config sslPolicy).",
        )
    ]


def test_a_policy_only_the_idle_colours_role_has_is_a_declared_difference(pack: ServedPack):
    ssm = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    app = "arn:aws:iam::123456789012:policy/app-reads-its-bucket"
    live = run_program({"instancePolicyArns": [ssm]})
    staged = run_program({"instancePolicyArns": [ssm, app]}, previous_outputs=deployed(live))
    resources = from_recording(staged)
    assert pack.run(resources) == []

    # An attachment that green's release spec does not declare is reported.
    smuggled = next(r for r in resources if r.name.startswith("bluegreen-instance-policy-green-"))
    smuggled.inputs["policyArn"] = smuggled.outputs["policyArn"] = "arn:aws:iam::aws:policy/AdministratorAccess"
    messages = [d.message for d in pack.run(resources)]
    assert any(m.startswith("green declares release spec ") and "AdministratorAccess" in m for m in messages), messages
