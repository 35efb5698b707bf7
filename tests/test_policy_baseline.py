"""The production baseline: ALB access logs, ALB deletion protection, instances without public IPs.

Called directly (AWSGuard style: one happy-path builder, one changed property per test), then served
as the engine serves it: the project's defaults pass, the dev stack (which turns the baseline off in
Pulumi.dev.yaml) gets advisory findings with its policy config (policies/stacks/dev.json) and
mandatory ones without it.

`DevStackPack` is how the other served tests run the dev stack: with its policy config, leaving out
the baseline's advisory findings that the tests here check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

import pytest
import yaml

from bluegreen.contract import DECOMMISSION_TAG
from policies.bluegreen_policies import POLICIES
from policies.bluegreen_policies.baseline import ACCESS_LOGS, DELETION_PROTECTION, NO_INSTANCE_PUBLIC_IP
from tests.harness import PROJECT_DIR, Recording, deployed, run_program
from tests.policy_server import (
    PACK_DIR,
    UNKNOWN,
    Diagnostic,
    HandResource,
    ServedPack,
    StackResource,
    fresh_preview,
    from_recording,
    hand_built_stack,
    serve_pack,
    validate_resource,
)

BASELINE: Final = frozenset({"alb-access-logs-enabled", "alb-deletion-protection", "instances-without-public-ip"})
DEV_STACK_CONFIG: Final[dict[str, Any]] = json.loads((PACK_DIR / "stacks" / "dev.json").read_text())
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0f0f0f0f-0000-4000-8000-000000000000"
LOG_BUCKET = "acme-alb-access-logs"

FIX_ACCESS_LOGS = (
    "Turn on access logs (config accessLogs: true, to the bucket the stack creates or to accessLogsBucket)."
)
FIX_PUBLIC_IP = (
    "Run the instances in private subnets (config privateInstances: true in a created VPC, or instanceSubnetIds "
    "in an existing one), so the launch template sets associatePublicIpAddress to false."
)


class DevStackPack(ServedPack):
    """The served pack as the dev stack runs it: policies/stacks/dev.json, then whatever a test adds.

    That config lowers the production baseline, which the dev stack turns off on purpose, to advisory.
    `run` leaves those advisory findings out (this module checks them), so a test sees everything else.
    """

    def __init__(self, served: ServedPack) -> None:
        super().__init__(served.stub, served.engine, served.argv)
        self.plugin_version = served.plugin_version

    def run(self, resources: list[StackResource], config: Mapping[str, Any] | None = None) -> list[Diagnostic]:
        found = super().run(resources, {**DEV_STACK_CONFIG, **(config or {})})
        return [d for d in found if not (d.advisory and d.policy in BASELINE)]


def messages(policy: Any, res: HandResource) -> list[str]:
    outcome = validate_resource(policy, res)
    assert outcome.deferred is None
    assert all(urn is None for _, urn in outcome.violations)
    return outcome.messages


# -- the happy path: the hand-built stack with the baseline on -----------------------------------------------
def production_stack() -> dict[str, HandResource]:
    stack = hand_built_stack()
    stack["bluegreen-lb-alb"].props.update(
        enableDeletionProtection=True, accessLogs={"bucket": LOG_BUCKET, "enabled": True, "prefix": "alb"}
    )
    for color in ("blue", "green"):
        lt = stack[f"bluegreen-{color}-lt"].props
        lt["networkInterfaces"][0]["associatePublicIpAddress"] = "false"
        for tags in (lt["tags"], lt["tagSpecifications"][0]["tags"]):
            tags["bluegreen:subnetTier"] = "private"
    return stack


def alb() -> HandResource:
    return production_stack()["bluegreen-lb-alb"]


def template(color: str = "blue") -> HandResource:
    return production_stack()[f"bluegreen-{color}-lt"]


# -- alb-access-logs-enabled -------------------------------------------------------------------------------
def test_an_alb_writing_access_logs_to_a_bucket_passes():
    assert messages(ACCESS_LOGS, alb()) == []


def test_an_alb_without_access_logs_is_reported():
    res = alb()
    del res.props["accessLogs"]
    assert messages(ACCESS_LOGS, res) == [
        "Application load balancer bluegreen-lb-alb writes no access logs (accessLogs not set), so no record says "
        f"which colour served a request. {FIX_ACCESS_LOGS}"
    ]


@pytest.mark.parametrize(("enabled", "shown"), [(False, "false"), (None, "not set"), ("false", "'false'")])
def test_access_logs_that_are_not_enabled_are_reported(enabled: Any, shown: str):
    res = alb()
    res.props["accessLogs"]["enabled"] = enabled  # AWS keeps them off unless enabled is true, bucket or not
    assert messages(ACCESS_LOGS, res) == [
        f"Application load balancer bluegreen-lb-alb writes no access logs (accessLogs.enabled {shown}), so no "
        f"record says which colour served a request. {FIX_ACCESS_LOGS}"
    ]


@pytest.mark.parametrize(("bucket", "shown"), [("", "''"), (None, "not set")])
def test_access_logs_without_a_bucket_are_reported(bucket: Any, shown: str):
    res = alb()
    res.props["accessLogs"]["bucket"] = bucket
    assert messages(ACCESS_LOGS, res) == [
        f"Application load balancer bluegreen-lb-alb turns on access logs but names no bucket (accessLogs.bucket "
        f"{shown}). Set accessLogs.bucket to the log bucket (config accessLogsBucket, or empty to let the stack "
        "create one)."
    ]


def test_a_log_bucket_the_update_creates_is_not_a_violation_in_a_preview():
    res = alb()
    res.props["accessLogs"]["bucket"] = UNKNOWN
    outcome = validate_resource(ACCESS_LOGS, res)
    assert outcome.violations == []
    assert outcome.deferred == (
        "1 check is deferred to `pulumi up` because the values they need are not known yet: "
        "accessLogs.bucket of bluegreen-lb-alb."
    )


@pytest.mark.parametrize("field", ["accessLogs", "loadBalancerType"])
def test_unknown_access_logs_are_deferred(field: str):
    res = alb()
    res.props["accessLogs"] = {"bucket": LOG_BUCKET, "enabled": False}  # would be a violation if known
    res.props[field] = UNKNOWN
    outcome = validate_resource(ACCESS_LOGS, res)
    assert outcome.violations == []
    assert outcome.deferred is not None
    assert f"{field} of bluegreen-lb-alb" in outcome.deferred


def test_an_unknown_enabled_flag_is_deferred():
    res = alb()
    res.props["accessLogs"]["enabled"] = UNKNOWN
    outcome = validate_resource(ACCESS_LOGS, res)
    assert outcome.violations == []
    assert outcome.deferred is not None
    assert "accessLogs.enabled of bluegreen-lb-alb" in outcome.deferred


def test_access_logs_are_checked_on_application_load_balancers_only():
    res = alb()
    res.props.update(loadBalancerType="network", accessLogs=None)
    assert messages(ACCESS_LOGS, res) == []
    assert messages(ACCESS_LOGS, template()) == []


# -- alb-deletion-protection -------------------------------------------------------------------------------
def test_an_alb_with_deletion_protection_passes():
    assert messages(DELETION_PROTECTION, alb()) == []


@pytest.mark.parametrize(("value", "shown"), [(False, "false"), (None, "not set")])
def test_an_alb_without_deletion_protection_is_reported(value: Any, shown: str):
    res = alb()
    res.props["enableDeletionProtection"] = value
    assert messages(DELETION_PROTECTION, res) == [
        f"Application load balancer bluegreen-lb-alb has enableDeletionProtection {shown}, so one delete or "
        "replacement takes down the only front door of both colours. Set enableDeletionProtection to true "
        "(config albDeletionProtection: true); to destroy the stack, set config decommission: true instead."
    ]


def test_unknown_deletion_protection_is_deferred():
    res = alb()
    res.props["enableDeletionProtection"] = UNKNOWN
    outcome = validate_resource(DELETION_PROTECTION, res)
    assert outcome.violations == []
    assert outcome.deferred == (
        "1 check is deferred to `pulumi up` because the values they need are not known yet: "
        "enableDeletionProtection of bluegreen-lb-alb."
    )


def decommissioned(tag: Any = "true") -> HandResource:
    """The load balancer as config decommission: true registers it: unprotected and tagged so."""
    res = alb()
    res.props["enableDeletionProtection"] = False
    res.props.setdefault("tags", {})[DECOMMISSION_TAG] = tag
    return res


def test_a_decommissioned_alb_may_go_without_deletion_protection():
    assert messages(DELETION_PROTECTION, decommissioned()) == []


@pytest.mark.parametrize("tag", ["false", "", "True", "yes"])
def test_only_the_decommission_tag_true_lets_deletion_protection_go(tag: str):
    assert messages(DELETION_PROTECTION, decommissioned(tag)) == [
        "Application load balancer bluegreen-lb-alb has enableDeletionProtection false, so one delete or "
        "replacement takes down the only front door of both colours. Set enableDeletionProtection to true "
        "(config albDeletionProtection: true); to destroy the stack, set config decommission: true instead."
    ]


@pytest.mark.parametrize("where", ["tags", "tag"])
def test_an_unknown_decommission_tag_is_deferred(where: str):
    res = decommissioned()
    if where == "tags":
        res.props["tags"] = UNKNOWN
    else:
        res.props["tags"][DECOMMISSION_TAG] = UNKNOWN
    outcome = validate_resource(DELETION_PROTECTION, res)
    assert outcome.violations == []
    assert outcome.deferred is not None and f"tags.{DECOMMISSION_TAG} of bluegreen-lb-alb" in outcome.deferred


def test_deletion_protection_is_checked_on_application_load_balancers_only():
    res = alb()
    res.props.update(loadBalancerType="network", enableDeletionProtection=False)
    assert messages(DELETION_PROTECTION, res) == []
    assert messages(DELETION_PROTECTION, template()) == []


# -- instances-without-public-ip ---------------------------------------------------------------------------
def test_a_template_without_public_ip_passes():
    assert messages(NO_INSTANCE_PUBLIC_IP, template()) == []


@pytest.mark.parametrize("flag", ["true", "TRUE", True])
def test_a_public_ip_is_reported(flag: Any):
    res = template()
    res.props["networkInterfaces"][0]["associatePublicIpAddress"] = flag
    assert messages(NO_INSTANCE_PUBLIC_IP, res) == [
        "Launch template bluegreen-blue-lt gives instances a public IP (networkInterfaces[0].associatePublicIpAddress "
        f"is true). {FIX_PUBLIC_IP}"
    ]


def test_a_public_ip_is_reported_in_public_subnets_too():
    """What `no-public-ip-in-private-subnets` allows (the tier tag says public), the baseline does not."""
    res = hand_built_stack()["bluegreen-green-lt"]
    assert res.props["tags"]["bluegreen:subnetTier"] == "public"
    assert messages(NO_INSTANCE_PUBLIC_IP, res) == [
        "Launch template bluegreen-green-lt gives instances a public IP (networkInterfaces[0].associatePublicIpAddress "
        f"is true). {FIX_PUBLIC_IP}"
    ]


def test_an_unset_public_ip_flag_is_reported():
    res = template()
    del res.props["networkInterfaces"][0]["associatePublicIpAddress"]
    assert messages(NO_INSTANCE_PUBLIC_IP, res) == [
        "Launch template bluegreen-blue-lt leaves it to the subnet whether instances get a public IP "
        "(networkInterfaces[0].associatePublicIpAddress not set). Set associatePublicIpAddress to false on its "
        "network interface with device index 0."
    ]


def test_a_template_without_network_interfaces_is_reported():
    res = template()
    del res.props["networkInterfaces"]
    assert messages(NO_INSTANCE_PUBLIC_IP, res) == [
        "Launch template bluegreen-blue-lt leaves it to the subnet whether instances get a public IP "
        "(networkInterfaces not set). Set associatePublicIpAddress to false on its network interface with device "
        "index 0."
    ]


def test_only_the_interface_with_device_index_0_must_say_false():
    res = template()
    res.props["networkInterfaces"].append({"deviceIndex": 1, "securityGroups": ["sg-0a1b0000000000002"]})
    assert messages(NO_INSTANCE_PUBLIC_IP, res) == []
    res.props["networkInterfaces"].reverse()
    res.props["networkInterfaces"][1]["associatePublicIpAddress"] = None
    assert len(messages(NO_INSTANCE_PUBLIC_IP, res)) == 1


@pytest.mark.parametrize("path", [("networkInterfaces",), ("networkInterfaces", 0, "associatePublicIpAddress")])
def test_an_unknown_public_ip_flag_is_deferred(path: tuple[Any, ...]):
    res = template()
    target: Any = res.props
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = UNKNOWN
    outcome = validate_resource(NO_INSTANCE_PUBLIC_IP, res)
    assert outcome.violations == []
    assert outcome.deferred is not None
    assert "networkInterfaces" in outcome.deferred and "of bluegreen-blue-lt" in outcome.deferred


def test_public_ips_are_checked_on_launch_templates_only():
    assert messages(NO_INSTANCE_PUBLIC_IP, alb()) == []


# -- what the policies ask for exists -----------------------------------------------------------------------
def test_the_fixes_name_config_keys_the_project_declares():
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    for key in ("accessLogs", "accessLogsBucket", "albDeletionProtection", "privateInstances", "instanceSubnetIds"):
        assert key in declared, key
    for key, default in (("accessLogs", True), ("albDeletionProtection", True), ("privateInstances", True)):
        assert declared[key]["default"] is default, f"{key}: the production baseline is the default"


def test_the_dev_stacks_policy_config_only_lowers_the_baseline_to_advisory():
    """Its exceptions stay visible (advisory is printed on every preview); nothing is disabled."""
    assert dict.fromkeys(sorted(BASELINE), "advisory") == DEV_STACK_CONFIG
    assert {p.name for p in POLICIES} >= BASELINE


# -- served, with what the program registers ------------------------------------------------------------------
@pytest.fixture(scope="module")
def pack() -> Iterator[ServedPack]:
    with serve_pack() as served:
        yield served


@pytest.fixture(scope="module")
def dev() -> Recording:
    return run_program()


@pytest.fixture(scope="module")
def prod() -> Recording:
    """A stack with no stack file (the project's defaults), logging to a bucket it names."""
    return run_program(
        {"certificateArn": CERT, "publicHostname": "app.example.com", "accessLogsBucket": LOG_BUCKET}, stack="prod"
    )


def by_name(resources: list[StackResource], name: str) -> StackResource:
    return next(r for r in resources if r.name == name)


def test_the_project_defaults_meet_the_production_baseline(pack: ServedPack, prod: Recording):
    resources = from_recording(prod)
    assert by_name(resources, "bluegreen-lb-alb").inputs["enableDeletionProtection"] is True
    assert pack.run(resources) == []


def test_the_project_defaults_with_the_bucket_the_stack_creates_meet_the_production_baseline(pack: ServedPack):
    resources = from_recording(run_program({"certificateArn": CERT, "publicHostname": "app.example.com"}, stack="prod"))
    assert pack.run(resources) == []


# What the dev stack (Pulumi.dev.yaml turns the baseline off) gets: (policy, resource, message).
DEV_FINDINGS: Final = [
    (
        "alb-access-logs-enabled",
        "bluegreen-lb-alb",
        "Application load balancer bluegreen-lb-alb writes no access logs (accessLogs not set), so no record says "
        f"which colour served a request. {FIX_ACCESS_LOGS}",
    ),
    (
        "alb-deletion-protection",
        "bluegreen-lb-alb",
        "Application load balancer bluegreen-lb-alb has enableDeletionProtection false, so one delete or "
        "replacement takes down the only front door of both colours. Set enableDeletionProtection to true "
        "(config albDeletionProtection: true); to destroy the stack, set config decommission: true instead.",
    ),
    *(
        (
            "instances-without-public-ip",
            f"bluegreen-{color}-lt",
            f"Launch template bluegreen-{color}-lt gives instances a public IP "
            f"(networkInterfaces[0].associatePublicIpAddress is true). {FIX_PUBLIC_IP}",
        )
        for color in ("blue", "green")
    ),
]


def test_the_dev_stack_runs_without_the_baseline_with_advisory_findings(pack: ServedPack, dev: Recording):
    """With policies/stacks/dev.json, as `--policy-pack-config` passes it: printed on every preview, not blocking."""
    diagnostics = pack.run(from_recording(dev), DEV_STACK_CONFIG)
    assert [d for d in diagnostics if d.mandatory] == []
    assert sorted((d.policy, d.message) for d in diagnostics) == [(p, m) for p, _, m in DEV_FINDINGS]


def test_without_its_policy_config_the_dev_stack_fails_the_baseline(pack: ServedPack, dev: Recording):
    resources = from_recording(dev)
    names = {r.urn: r.name for r in resources}
    diagnostics = pack.run(resources)
    assert all(d.mandatory for d in diagnostics)
    assert sorted((d.policy, names[d.urn], d.message) for d in diagnostics) == DEV_FINDINGS


def test_the_dev_stack_pack_leaves_out_only_the_baseline_it_lowers(pack: ServedPack, dev: Recording):
    resources = from_recording(dev)
    assert DevStackPack(pack).run(resources) == []
    alb = by_name(resources, "bluegreen-lb-alb")
    alb.inputs["dropInvalidHeaderFields"] = alb.outputs["dropInvalidHeaderFields"] = False
    assert [(d.policy, d.mandatory) for d in DevStackPack(pack).run(resources)] == [("alb-drops-invalid-headers", True)]


def public_instances(resources: list[StackResource]) -> None:
    """Both colours in public subnets with public IPs, as privateInstances: false registers them."""
    for color in ("blue", "green"):
        lt = by_name(resources, f"bluegreen-{color}-lt")
        for props in (lt.inputs, lt.outputs):
            props["networkInterfaces"][0]["associatePublicIpAddress"] = "true"
            props["tags"]["bluegreen:subnetTier"] = "public"


def no_deletion_protection(resources: list[StackResource]) -> None:
    alb = by_name(resources, "bluegreen-lb-alb")
    alb.inputs["enableDeletionProtection"] = alb.outputs["enableDeletionProtection"] = False


def logs_disabled(resources: list[StackResource]) -> None:
    alb = by_name(resources, "bluegreen-lb-alb")
    for props in (alb.inputs, alb.outputs):
        props["accessLogs"]["enabled"] = False


def no_access_logs(resources: list[StackResource]) -> None:
    alb = by_name(resources, "bluegreen-lb-alb")
    for props in (alb.inputs, alb.outputs):
        del props["accessLogs"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (no_deletion_protection, [("alb-deletion-protection", "bluegreen-lb-alb")]),
        (logs_disabled, [("alb-access-logs-enabled", "bluegreen-lb-alb")]),
        (no_access_logs, [("alb-access-logs-enabled", "bluegreen-lb-alb")]),
        (
            public_instances,
            [
                ("instances-without-public-ip", "bluegreen-blue-lt"),
                ("instances-without-public-ip", "bluegreen-green-lt"),
            ],
        ),
    ],
    ids=lambda v: v.__name__ if callable(v) else "",
)
def test_switching_one_baseline_setting_off_fails_only_its_policy(
    pack: ServedPack, prod: Recording, change: Any, expected: list[tuple[str, str]]
):
    resources = from_recording(prod)
    change(resources)
    names = {r.urn: r.name for r in resources}
    diagnostics = pack.run(resources)
    assert all(d.mandatory for d in diagnostics)
    assert sorted((d.policy, names[d.urn]) for d in diagnostics) == expected


def test_a_first_preview_defers_the_log_bucket_the_update_creates(pack: ServedPack, prod: Recording):
    resources = fresh_preview(from_recording(prod))
    alb = by_name(resources, "bluegreen-lb-alb")
    alb.inputs["accessLogs"]["bucket"] = UNKNOWN  # as the engine sends a bucket created in the same update
    baseline = [(d.policy, d.mandatory, d.message) for d in pack.run(resources) if d.policy in BASELINE]
    assert baseline == [
        (
            "alb-access-logs-enabled",
            False,
            "can't run policy 'alb-access-logs-enabled' from policy pack 'bluegreen@v0.0.1' during preview: 1 check "
            "is deferred to `pulumi up` because the values they need are not known yet: accessLogs.bucket of "
            "bluegreen-lb-alb.",
        )
    ]


# -- the one way to destroy: decommission, served with what the program registers ----------------------------
def test_decommissioning_a_deployed_production_stack_passes_the_served_pack(pack: ServedPack, prod: Recording):
    config = {"certificateArn": CERT, "publicHostname": "app.example.com", "accessLogsBucket": LOG_BUCKET}
    unlocked = run_program({**config, "decommission": True}, deployed(prod), stack="prod")
    alb = by_name(from_recording(unlocked), "bluegreen-lb-alb")
    assert alb.inputs["enableDeletionProtection"] is False
    assert alb.inputs["tags"][DECOMMISSION_TAG] == "true"
    assert pack.run(from_recording(unlocked)) == []


def test_a_plain_switch_off_on_a_deployed_production_stack_still_fails_the_served_pack(
    pack: ServedPack, prod: Recording
):
    config = {"certificateArn": CERT, "publicHostname": "app.example.com", "accessLogsBucket": LOG_BUCKET}
    switched_off = from_recording(run_program({**config, "albDeletionProtection": False}, deployed(prod), stack="prod"))
    names = {r.urn: r.name for r in switched_off}
    assert [(d.policy, names[d.urn], d.mandatory) for d in pack.run(switched_off)] == [
        ("alb-deletion-protection", "bluegreen-lb-alb", True)
    ]
