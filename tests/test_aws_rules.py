"""Every value the program sends passes AWS's own rules, across the config space.

The rules live in `tests/aws_rules.py`, each with its source; botocore's service models supply the
lengths, ranges and patterns they carry. Hypothesis draws valid configs, not only the dev stack.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.aws_rules import (
    EIPS_PER_REGION,
    GATE_URL_SOURCE,
    LAMBDA_CONCURRENCY,
    NATS_PER_ZONE,
    NEW_ACCOUNT,
    QUOTAS,
    RULES_PER_ALB,
    TARGET_GROUPS_PER_ACTION,
    gate_url_problems,
    quota_problems,
    quota_usage,
    unreviewed,
    violations,
)
from tests.harness import PRODUCTION, Recording, run_program

PUNCTUATION = "_.:/=+-@"
TAG_TEXT = st.text(
    alphabet=st.one_of(st.characters(categories=["L", "N", "Zs"]), st.sampled_from(PUNCTUATION)), max_size=40
)
TAG_KEY = st.text(
    alphabet=st.one_of(st.characters(categories=["L", "N"]), st.sampled_from("_.:/+-@ ")), min_size=1, max_size=30
).filter(lambda k: k.strip() and k != "Name" and not k.lower().startswith(("aws:", "bluegreen:")))
LABEL = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+:@/=-]{0,40}", fullmatch=True)
CIDRS = ["0.0.0.0/0", "203.0.113.0/24", "198.51.100.7/32", "::/0", "2001:db8::/32"]
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234"
HOSTNAMES = ["app.example.com", "shop.eu.example.co.uk", "x.io"]
VPC = {"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]}


POLICY_ARNS = (
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    "arn:aws:iam::123456789012:policy/app/read-config",
)
GROUPS = ("sg-0123456789abcdef0", "sg-0fedcba9876543210", "sg-00000000000000001", "sg-00000000000000002")
BOOT_SCRIPTS = (
    "",
    "#!/bin/bash\necho {{release}} > /etc/app-release\n",
    "#cloud-config\nruncmd: [[echo, '{{appPort}}']]\n",
)


EGRESS = ("tcp:5432:10.0.0.0/16", "udp:53:10.0.0.10/32", "tcp:8125-8126:2001:db8::/32")


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.integers(1, 4))
    desired = draw(st.integers(low, low + 3))
    interval = draw(st.integers(5, 300))
    scaled_down = draw(st.booleans())
    schema = draw(st.integers(0, 4))
    tag_keys = draw(st.lists(TAG_KEY, max_size=6, unique_by=str.lower))
    config: dict[str, Any] = {
        "activeColor": draw(st.sampled_from(["blue", "green"])),
        "idleTrafficPercent": 0 if scaled_down else draw(st.integers(0, 50)),
        "idleScaledDown": scaled_down,
        "stickinessSeconds": draw(st.one_of(st.just(0), st.integers(1, 604800))),
        "blueRelease": draw(LABEL),
        "greenRelease": draw(LABEL),
        "blueImageId": draw(st.sampled_from(["", "ami-0aaaaaaaaaaaaaaaa"])),
        "greenImageId": draw(st.sampled_from(["", "ami-0bbbbbbbbbbbbbbbb"])),
        "instanceType": draw(st.sampled_from(["t3.micro", "m5.large", "c6i.xlarge", "r6a.2xlarge"])),
        "minSize": low,
        "desiredCapacity": desired,
        "maxSize": draw(st.integers(desired, desired + 3)),
        "appPort": draw(st.integers(1, 65535)),
        "rootVolumeSizeGb": draw(st.integers(8, 16384)),
        "healthCheckPath": draw(st.from_regex(r"/[A-Za-z0-9._~/-]{0,60}", fullmatch=True)),
        "healthCheckMatcher": draw(st.sampled_from(["200", "200-299", "200,302", "200-499"])),
        "healthCheckIntervalSeconds": interval,
        "healthCheckTimeoutSeconds": draw(st.integers(2, min(120, interval - 1))),
        "healthyThreshold": draw(st.integers(2, 10)),
        "unhealthyThreshold": draw(st.integers(2, 10)),
        "deregistrationDelaySeconds": draw(st.integers(0, 3600)),
        "healthCheckGracePeriodSeconds": draw(st.integers(0, 7200)),
        "capacityTimeout": draw(st.sampled_from(["10m", "1h30m", "45s", "2h"])),
        "certificateArn": draw(st.sampled_from(["", CERT])),
        "allowedCidrs": draw(st.lists(st.sampled_from(CIDRS), min_size=1, max_size=3, unique=True)),
        "tags": [f"{k}={draw(TAG_TEXT)}" for k in tag_keys],
        "rollbackErrorRatePercent": draw(st.integers(1, 100)),
        "rollbackLatencyP99Ms": draw(st.integers(1, 60000)),
        "alarmEvaluationMinutes": draw(st.integers(1, 60)),
        "bakeMinutes": draw(st.integers(0, 1440)),
        "databaseSchemaVersion": schema,
        "blueSchemaVersions": [schema, schema + 1] if schema else [],
        "greenSchemaVersions": [schema] if schema else [],
    }
    # HTTPS needs the name users reach, which the certificate covers; without a certificate it is optional.
    config["publicHostname"] = draw(st.sampled_from(HOSTNAMES if config["certificateArn"] else ["", *HOSTNAMES]))
    # The production baseline on or off, each on its own, and the instances' extra outbound rules.
    config["albDeletionProtection"] = draw(st.booleans())
    config["accessLogs"] = draw(st.booleans())
    config["accessLogsBucket"] = draw(st.sampled_from(["", "acme-alb-logs", "logs.example.com"]))
    config["accessLogsRetentionDays"] = draw(st.integers(1, 3650))
    config["privateInstances"] = draw(st.booleans())
    config["instanceEgress"] = draw(st.lists(st.sampled_from(EGRESS), max_size=3, unique=True))
    if draw(st.booleans()):
        config.update(VPC)
    if draw(st.booleans()):  # your own app: an instance profile, extra groups, boot scripts
        config["instancePolicyArns"] = draw(
            st.lists(st.sampled_from(POLICY_ARNS), min_size=1, max_size=len(POLICY_ARNS), unique=True)
        )
        config["extraSecurityGroupIds"] = draw(st.lists(st.sampled_from(GROUPS), max_size=4, unique=True))
        config["blueBootScript"] = draw(st.sampled_from(BOOT_SCRIPTS))
        config["greenBootScript"] = draw(st.sampled_from(BOOT_SCRIPTS))
    return config


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_configs())
def test_every_value_sent_for_any_valid_config_passes_awss_rules(config: dict[str, Any]):
    rec = run_program(config)
    assert violations(rec) == []
    assert unreviewed(rec) == set(), "inputs that no AWS rule covers yet: add a rule with its source"
    assert quota_problems(rec) == [], "a new account could not deploy this"


def test_a_stack_name_with_dots_still_gives_a_valid_dashboard_name():
    # A stack of its own has no Pulumi.<stack>.yaml here: it needs a certificate, as production would.
    rec = run_program(
        {
            "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123",
            "publicHostname": "app.example.com",
        },
        stack="prod.eu-west-1",
    )
    assert rec.by_name("bluegreen-dashboard-dashboard").inputs["dashboardName"] == "bluegreen-prod-eu-west-1"
    assert violations(rec) == []


# -- the layer catches what a real account refuses ----------------------------------------------------------
def with_input(rec: Recording, name: str, key: str, value: Any) -> Recording:
    resources = [
        dataclasses.replace(r, inputs={**r.inputs, key: value}) if r.name == name else r for r in rec.resources
    ]
    return dataclasses.replace(rec, resources=resources)


def test_a_description_ec2_refuses_is_caught():
    # The instance egress rule's description before the fix: an apostrophe is not in EC2's charset.
    bad = with_input(run_program(), "bluegreen-lb-instance-egress", "description", "packages, SSM and the app's deps")
    (problem,) = violations(bad)
    assert problem.startswith("bluegreen-lb-instance-egress description: must be up to 255 of")
    assert "EC2 API CreateSecurityGroup" in problem


def test_a_tag_value_elb_refuses_is_caught():
    # The schema-versions tag before the fix: ELB tag values allow no comma.
    rec = run_program()
    tg = rec.by_name("bluegreen-blue-tg")
    bad = with_input(rec, tg.name, "tags", {**tg.inputs["tags"], "bluegreen:schemaVersions": "1,2"})
    (problem,) = violations(bad)
    assert problem.startswith("bluegreen-blue-tg tags[bluegreen:schemaVersions]: elbv2 TagValue must match")


def test_a_name_too_long_for_aws_is_caught():
    rec = run_program()
    tg = rec.by_name("bluegreen-blue-tg")
    longer = dataclasses.replace(rec, resources=[dataclasses.replace(tg, name="bluegreen-production-blue-tg")])
    assert violations(longer) == [
        "bluegreen-production-blue-tg <name>: the auto-name 'bluegreen-production-blue-tg-abcdefg' must be at most "
        "32 of [a-zA-Z0-9-] (ELB: target group names up to 32 alphanumerics and hyphens)"
    ]


# -- the gate's URL names a host a certificate can cover -------------------------------------------------------------
ALB_URL = "https://bluegreen-lb-alb-1a2b3c4d.eu-west-1.elb.amazonaws.com"


def test_a_gate_probing_the_load_balancers_own_name_over_https_is_caught():
    # The gate before the fix: certificateArn without publicHostname, so it probed the ALB's DNS name.
    bad = with_input(run_program(PRODUCTION), "bluegreen-gate", "url", ALB_URL)
    problems = violations(bad)
    assert problems[0] == (
        f"bluegreen-gate url: the gate probes {ALB_URL!r}: no certificate covers the load balancer's own DNS name "
        f"({GATE_URL_SOURCE})"
    )
    assert problems[1].startswith(
        f"bluegreen-gate url: the gate probes {ALB_URL!r}, not the publicHostname the stack serves ('app.example.com')"
    )
    assert len(problems) == 2


def test_a_gate_probing_another_name_than_publichostname_is_caught():
    bad = with_input(run_program(PRODUCTION), "bluegreen-gate", "url", "https://www.example.com")
    assert gate_url_problems(bad) == [
        "bluegreen-gate url: the gate probes 'https://www.example.com', not the publicHostname the stack serves "
        f"('app.example.com'), which the certificate covers ({GATE_URL_SOURCE})"
    ]


def test_a_gate_probing_a_name_no_certificate_can_name_is_caught():
    bad = with_input(run_program(PRODUCTION), "bluegreen-gate", "url", "https://10.0.0.7")
    assert gate_url_problems(bad)[0].startswith(
        "bluegreen-gate url: the gate probes 'https://10.0.0.7': '10.0.0.7' is not a DNS name a certificate can name"
    )


def test_a_plain_http_gate_has_no_certificate_to_match():
    rec = run_program()  # allowInsecurePreview: http to the ALB's own name
    assert rec.by_name("bluegreen-gate").inputs["url"].startswith("http://")
    assert gate_url_problems(rec) == []


def test_every_program_the_tests_run_has_its_gate_url_checked(monkeypatch):
    # The harness applies the rule to each recording, so a program that regresses fails every test that runs it.
    from bluegreen.components.service import BlueGreenService  # the module the program imports

    def before_the_fix(self: BlueGreenService) -> Any:  # https to publicHostname or, without it, to the ALB's name
        return self.load_balancer.alb.dns_name.apply(lambda dns: f"https://{dns}")

    monkeypatch.setattr(BlueGreenService, "url", before_the_fix)
    with pytest.raises(AssertionError, match="no certificate covers the load balancer's own DNS name"):
        run_program(PRODUCTION)


# -- account quotas: what a new account has ------------------------------------------------------------------
def test_every_quota_has_a_source_and_a_new_accounts_value():
    assert all(q.source and q.new_account > 0 for q in QUOTAS.values())
    assert NEW_ACCOUNT[LAMBDA_CONCURRENCY] == 10  # the smaller of the two figures new accounts start with


def test_production_fits_a_new_account_and_uses_what_it_should():
    rec = run_program(PRODUCTION)
    assert quota_problems(rec) == []
    used = {name: count for name, (count, _) in quota_usage(rec).items()}
    # One NAT gateway (and its address) in the first zone; warm-up and preview rules per colour; blue and green.
    assert used == {
        LAMBDA_CONCURRENCY: 0,
        EIPS_PER_REGION: 1,
        NATS_PER_ZONE: 1,
        RULES_PER_ALB: 4,
        TARGET_GROUPS_PER_ACTION: 2,
    }


def test_a_reserved_concurrency_is_refused_by_a_new_account_and_fits_a_raised_quota():
    # The guardian's reservation of 1 failed the first `pulumi up` on new accounts (issue 21, defect 2).
    rec = run_program({"guardianReservedConcurrency": 1})
    (problem,) = quota_problems(rec)
    assert problem.startswith("Lambda concurrent executions per Region")
    assert "bluegreen-guardian-function reserves 1), more than 0" in problem
    assert quota_problems(rec, {**NEW_ACCOUNT, LAMBDA_CONCURRENCY: 50}) != []
    assert quota_problems(rec, {**NEW_ACCOUNT, LAMBDA_CONCURRENCY: 1000}) == []


def copies(rec: Recording, name: str, count: int) -> Recording:
    """`rec` with `count` more of the resource `name`, as a program that made them would have registered them."""
    original = rec.by_name(name)
    extra = [
        dataclasses.replace(
            original, name=f"{name}-{i}", outputs={**original.outputs, "id": f"{original.outputs['id']}-{i}"}
        )
        for i in range(count)
    ]
    return dataclasses.replace(rec, resources=[*rec.resources, *extra])


def test_addresses_nat_gateways_rules_and_target_groups_beyond_the_quotas_are_caught():
    rec = run_program(PRODUCTION)
    crowded = copies(
        copies(copies(rec, "bluegreen-network-nat-eip", 5), "bluegreen-network-nat", 5),
        "bluegreen-router-preview-blue",
        97,
    )
    found = quota_problems(crowded)
    assert [p.split(":")[0] for p in found] == [
        "Elastic IP addresses per Region",
        "NAT gateways per Availability Zone",
        "Rules per Application Load Balancer (not counting default rules)",
    ]
    assert "6 (eu-west-1a: bluegreen-network-nat" in found[1] and "more than 5" in found[1]
    assert "101 (arn:aws:lb:" in found[2] and "more than 100" in found[2]
    listener = rec.by_name("bluegreen-router-https")
    (action,) = listener.inputs["defaultActions"]
    groups = action["forward"]["targetGroups"]
    wide = with_input(
        rec, listener.name, "defaultActions", [{**action, "forward": {**action["forward"], "targetGroups": groups * 3}}]
    )
    assert [p.split(":")[0] for p in quota_problems(wide)] == ["Target groups per action per Application Load Balancer"]
