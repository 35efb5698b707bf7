"""The security baseline, called directly: one change per test. Identical but unsafe still fails."""

from __future__ import annotations

from typing import Any

import pytest

from policies.bluegreen_policies.security import (
    DROP_INVALID_HEADERS,
    HTTPS_REDIRECT,
    IMDSV2,
    INSTANCE_INGRESS,
    NO_PUBLIC_IP,
    TLS_POLICY,
    oldest_tls,
)
from tests.policy_server import UNKNOWN, HandResource, hand_built_stack, validate_resource, validate_stack

FIX_INGRESS = "Allow instance ingress only from the ALB's security group (referencedSecurityGroupId)."


def resource_messages(policy: Any, res: HandResource, config: dict[str, Any] | None = None) -> list[str]:
    outcome = validate_resource(policy, res, config)
    assert outcome.deferred is None
    assert all(urn is None for _, urn in outcome.violations)
    return outcome.messages


# -- launch-template-imdsv2 ------------------------------------------------------------------------
def test_imdsv2_required_passes():
    assert resource_messages(IMDSV2, hand_built_stack()["bluegreen-blue-lt"]) == []


def test_imdsv1_is_reported():
    lt = hand_built_stack()["bluegreen-green-lt"]
    lt.props["metadataOptions"]["httpTokens"] = "optional"
    assert resource_messages(IMDSV2, lt) == [
        "Launch template bluegreen-green-lt has metadataOptions.httpTokens 'optional', so instances also answer "
        "IMDSv1 requests. Set metadataOptions.httpTokens to 'required'."
    ]


def test_missing_metadata_options_are_reported():
    lt = hand_built_stack()["bluegreen-blue-lt"]
    del lt.props["metadataOptions"]
    assert resource_messages(IMDSV2, lt) == [
        "Launch template bluegreen-blue-lt has metadataOptions.httpTokens not set, so instances also answer IMDSv1 "
        "requests. Set metadataOptions.httpTokens to 'required'."
    ]


def test_identical_but_unsafe_colours_are_both_reported():
    stack = hand_built_stack()
    for color in ("blue", "green"):
        stack[f"bluegreen-{color}-lt"].props["metadataOptions"]["httpTokens"] = "optional"
    assert [len(resource_messages(IMDSV2, stack[f"bluegreen-{c}-lt"])) for c in ("blue", "green")] == [1, 1]


def test_unknown_metadata_options_are_deferred():
    lt = hand_built_stack()["bluegreen-blue-lt"]
    lt.props["metadataOptions"] = UNKNOWN
    outcome = validate_resource(IMDSV2, lt)
    assert outcome.violations == []
    assert outcome.deferred == (
        "1 check is deferred to `pulumi up` because the values they need are not known yet: "
        "metadataOptions.httpTokens of bluegreen-blue-lt."
    )


def test_other_resources_are_not_launch_templates():
    assert resource_messages(IMDSV2, hand_built_stack()["bluegreen-blue-asg"]) == []


# -- no-public-ip-in-private-subnets -------------------------------------------------------------------
def test_public_ip_in_public_subnets_is_allowed():
    assert resource_messages(NO_PUBLIC_IP, hand_built_stack()["bluegreen-blue-lt"]) == []


@pytest.mark.parametrize("flag", ["true", "TRUE", True])
def test_public_ip_in_private_subnets_is_prohibited(flag: Any):
    lt = hand_built_stack()["bluegreen-blue-lt"]
    lt.props["tags"]["bluegreen:subnetTier"] = "private"
    lt.props["networkInterfaces"][0]["associatePublicIpAddress"] = flag
    assert resource_messages(NO_PUBLIC_IP, lt) == [
        "Launch template bluegreen-blue-lt gives instances a public IP (networkInterfaces[0].associatePublicIpAddress "
        "is true) but is tagged bluegreen:subnetTier=private. Set associatePublicIpAddress to false: instances in "
        "private subnets reach the internet through NAT."
    ]


def test_no_public_ip_in_private_subnets_is_fine():
    lt = hand_built_stack()["bluegreen-blue-lt"]
    lt.props["tags"]["bluegreen:subnetTier"] = "private"
    lt.props["networkInterfaces"][0]["associatePublicIpAddress"] = "false"
    assert resource_messages(NO_PUBLIC_IP, lt) == []


def test_a_public_ip_needs_a_subnet_tier():
    lt = hand_built_stack()["bluegreen-green-lt"]
    del lt.props["tags"]["bluegreen:subnetTier"]
    assert resource_messages(NO_PUBLIC_IP, lt) == [
        "Launch template bluegreen-green-lt gives instances a public IP (networkInterfaces[0].associatePublicIpAddress "
        "is true) but its bluegreen:subnetTier tag is not set. Tag it bluegreen:subnetTier=public if the instances run "
        "in public subnets; otherwise set associatePublicIpAddress to false."
    ]


def test_an_unknown_public_ip_flag_is_deferred():
    lt = hand_built_stack()["bluegreen-blue-lt"]
    lt.props["tags"]["bluegreen:subnetTier"] = "private"
    lt.props["networkInterfaces"][0]["associatePublicIpAddress"] = UNKNOWN
    outcome = validate_resource(NO_PUBLIC_IP, lt)
    assert outcome.violations == []
    assert outcome.deferred is not None
    assert "networkInterfaces[0].associatePublicIpAddress of bluegreen-blue-lt" in outcome.deferred


# -- alb-drops-invalid-headers -----------------------------------------------------------------------
def test_alb_dropping_invalid_headers_passes():
    assert resource_messages(DROP_INVALID_HEADERS, hand_built_stack()["bluegreen-lb-alb"]) == []


@pytest.mark.parametrize(("value", "shown"), [(False, "false"), (None, "not set")])
def test_alb_forwarding_invalid_headers_is_reported(value: Any, shown: str):
    alb = hand_built_stack()["bluegreen-lb-alb"]
    alb.props["dropInvalidHeaderFields"] = value
    assert resource_messages(DROP_INVALID_HEADERS, alb) == [
        f"Application load balancer bluegreen-lb-alb has dropInvalidHeaderFields {shown}, so it forwards requests with "
        "invalid HTTP header fields to the instances. Set dropInvalidHeaderFields to true."
    ]


def test_network_load_balancers_have_no_http_headers():
    alb = hand_built_stack()["bluegreen-lb-alb"]
    alb.props.update(loadBalancerType="network", dropInvalidHeaderFields=False)
    assert resource_messages(DROP_INVALID_HEADERS, alb) == []


# -- https-listener-tls-policy -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("policy", "oldest"),
    [
        ("ELBSecurityPolicy-TLS13-1-2-2021-06", "1.2"),
        ("ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "1.2"),
        ("ELBSecurityPolicy-TLS13-1-3-2021-06", "1.3"),
        ("ELBSecurityPolicy-TLS13-1-1-2021-06", "1.1"),
        ("ELBSecurityPolicy-TLS13-1-0-2021-06", "1.0"),
        ("ELBSecurityPolicy-TLS-1-2-Ext-2018-06", "1.2"),
        ("ELBSecurityPolicy-TLS-1-1-2017-01", "1.1"),
        ("ELBSecurityPolicy-FS-1-2-Res-2020-10", "1.2"),
        ("ELBSecurityPolicy-FS-2018-06", "1.0"),
        ("ELBSecurityPolicy-2016-08", "1.0"),
        ("my-own-policy", None),
    ],
)
def test_oldest_tls_version_of_a_policy(policy: str, oldest: str | None):
    assert oldest_tls(policy) == oldest


def test_tls12_policy_passes():
    assert resource_messages(TLS_POLICY, hand_built_stack()["bluegreen-router-https"]) == []


def test_legacy_tls_policy_is_reported():
    listener = hand_built_stack()["bluegreen-router-https"]
    listener.props["sslPolicy"] = "ELBSecurityPolicy-2016-08"
    assert resource_messages(TLS_POLICY, listener) == [
        "HTTPS listener bluegreen-router-https uses sslPolicy 'ELBSecurityPolicy-2016-08', which accepts TLS 1.0. Use "
        "a TLS 1.2+ policy such as 'ELBSecurityPolicy-TLS13-1-2-2021-06' (config sslPolicy)."
    ]


def test_missing_tls_policy_is_reported():
    listener = hand_built_stack()["bluegreen-router-https"]
    del listener.props["sslPolicy"]
    assert resource_messages(TLS_POLICY, listener) == [
        "HTTPS listener bluegreen-router-https sets no sslPolicy, so AWS picks its default. Set sslPolicy to a TLS "
        "1.2+ policy such as 'ELBSecurityPolicy-TLS13-1-2-2021-06'."
    ]


def test_unknown_tls_policy_name_is_reported():
    listener = hand_built_stack()["bluegreen-router-https"]
    listener.props["sslPolicy"] = "strong"
    assert resource_messages(TLS_POLICY, listener) == [
        "HTTPS listener bluegreen-router-https uses sslPolicy 'strong', which is not an ELB security policy name. Use "
        "a TLS 1.2+ policy such as 'ELBSecurityPolicy-TLS13-1-2-2021-06'."
    ]


def test_minimum_tls_version_is_configurable():
    listener = hand_built_stack()["bluegreen-router-https"]
    assert len(resource_messages(TLS_POLICY, listener, {"minimumTlsVersion": "1.3"})) == 1
    listener.props["sslPolicy"] = "ELBSecurityPolicy-TLS13-1-3-2021-06"
    assert resource_messages(TLS_POLICY, listener, {"minimumTlsVersion": "1.3"}) == []


def test_http_listeners_have_no_tls_policy():
    assert resource_messages(TLS_POLICY, hand_built_stack()["bluegreen-router-http"]) == []


# -- instance-ingress-from-alb-only ---------------------------------------------------------------------
def ingress(stack: dict[str, HandResource]) -> list[str]:
    outcome = validate_stack(INSTANCE_INGRESS, stack.values())
    assert outcome.deferred is None
    return outcome.messages


def add_rule(stack: dict[str, HandResource], type_: str, name: str, props: dict[str, Any]) -> None:
    stack[name] = HandResource(type_, name, props)


INSTANCE_SG = "sg-0a1b0000000000002"
ALB_SG = "sg-0a1b0000000000001"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def test_ingress_from_the_alb_only_passes():
    assert ingress(hand_built_stack()) == []


def test_ingress_from_a_cidr_is_reported():
    stack = hand_built_stack()
    add_rule(stack, INGRESS, "ssh", {"securityGroupId": INSTANCE_SG, "cidrIpv4": "0.0.0.0/0", "fromPort": 22})
    outcome = validate_stack(INSTANCE_INGRESS, stack.values())
    assert outcome.violations == [
        (
            "Ingress rule ssh on the instance security group lets traffic reach the instances from cidrIpv4 "
            f"'0.0.0.0/0'. {FIX_INGRESS}",
            stack["ssh"].urn,
        )
    ]


def test_ingress_from_another_security_group_is_reported():
    stack = hand_built_stack()
    stack["bluegreen-lb-instance-ingress-8080"].props["referencedSecurityGroupId"] = "sg-0bastion"
    assert ingress(stack) == [
        "Ingress rule bluegreen-lb-instance-ingress-8080 on the instance security group lets traffic reach the instances "
        f"from security group 'sg-0bastion', which is not the ALB's. {FIX_INGRESS}"
    ]


def test_ingress_referring_to_the_instance_group_itself_is_reported():
    stack = hand_built_stack()
    stack["bluegreen-lb-instance-ingress-8080"].props["referencedSecurityGroupId"] = INSTANCE_SG
    assert ingress(stack) == [
        "Ingress rule bluegreen-lb-instance-ingress-8080 on the instance security group lets traffic reach the instances "
        f"from security group bluegreen-lb-instance-sg, which is not the ALB's. {FIX_INGRESS}"
    ]


def test_the_alb_itself_may_be_open():
    stack = hand_built_stack()
    add_rule(stack, INGRESS, "https-in", {"securityGroupId": ALB_SG, "cidrIpv4": "0.0.0.0/0", "fromPort": 443})
    assert ingress(stack) == []


def test_inline_ingress_with_cidr_is_reported():
    stack = hand_built_stack()
    stack["bluegreen-lb-instance-sg"].props["ingress"] = [
        {"fromPort": 22, "toPort": 22, "protocol": "tcp", "cidrBlocks": ["10.0.0.0/8"], "securityGroups": []}
    ]
    assert ingress(stack) == [
        "Inline ingress rule 0 of instance security group bluegreen-lb-instance-sg lets traffic reach the instances "
        f"from cidrBlocks ['10.0.0.0/8']. {FIX_INGRESS}"
    ]


def test_legacy_security_group_rules_are_checked():
    stack = hand_built_stack()
    add_rule(
        stack,
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "legacy",
        {"type": "ingress", "securityGroupId": INSTANCE_SG, "self": True, "fromPort": 0},
    )
    add_rule(
        stack,
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "egress",
        {"type": "egress", "securityGroupId": INSTANCE_SG, "cidrBlocks": ["0.0.0.0/0"]},
    )
    assert ingress(stack) == [
        f"Ingress rule legacy on the instance security group lets traffic reach the instances from the group itself (self). "
        f"{FIX_INGRESS}"
    ]


def test_an_unknown_rule_target_is_deferred():
    stack = hand_built_stack()
    stack["bluegreen-lb-instance-ingress-8080"].props["securityGroupId"] = UNKNOWN
    outcome = validate_stack(INSTANCE_INGRESS, stack.values())
    assert outcome.violations == []
    assert outcome.deferred is not None
    assert "security group of bluegreen-lb-instance-ingress-8080" in outcome.deferred


# -- http-redirects-to-https ---------------------------------------------------------------------------
def redirects(stack: dict[str, HandResource]) -> list[str]:
    outcome = validate_stack(HTTPS_REDIRECT, stack.values())
    assert outcome.deferred is None
    return outcome.messages


def test_http_redirecting_to_https_passes():
    assert redirects(hand_built_stack()) == []


def test_http_serving_next_to_https_is_reported():
    stack = hand_built_stack()
    stack["bluegreen-router-http"].props["defaultActions"] = [{"type": "forward", "targetGroupArn": "x"}]
    outcome = validate_stack(HTTPS_REDIRECT, stack.values())
    assert outcome.violations == [
        (
            "HTTP listener bluegreen-router-http serves plain HTTP although its load balancer has an HTTPS listener. "
            "Make its only default action a redirect to HTTPS (protocol 'HTTPS', status 'HTTP_301').",
            stack["bluegreen-router-http"].urn,
        )
    ]


def test_a_redirect_to_http_is_not_a_redirect_to_https():
    stack = hand_built_stack()
    stack["bluegreen-router-http"].props["defaultActions"][0]["redirect"]["protocol"] = "HTTP"
    assert len(redirects(stack)) == 1


def test_without_https_http_may_serve():
    stack = hand_built_stack()
    del stack["bluegreen-router-https"]
    stack["bluegreen-router-http"].props["defaultActions"] = [{"type": "forward", "targetGroupArn": "x"}]
    assert redirects(stack) == []


def test_listeners_of_other_load_balancers_are_separate():
    stack = hand_built_stack()
    stack["other-http"] = HandResource(
        "aws:lb/listener:Listener",
        "other-http",
        {
            "loadBalancerArn": "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/other/2",
            "protocol": "HTTP",
            "defaultActions": [{"type": "forward", "targetGroupArn": "y"}],
        },
    )
    assert redirects(stack) == []
