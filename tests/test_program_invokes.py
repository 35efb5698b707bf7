"""Every lookup (invoke) the program makes, with its arguments.

A lookup runs on every preview and update, the rollback's included, so one that AWS stops answering
(a deprecated image left out of DescribeImages, a parameter that is gone) stops them all. Each is pinned
here with its arguments; a new one, or new arguments, is a change to review, with its IAM action in
`tests/test_preview_policy.py`. The harness answers each as AWS would (`tests/harness.py`, `_Mocks.call`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.harness import LOOKED_UP_AMI, LOOKED_UP_ARM_AMI, PRODUCTION, Recording, deployed, run_program

OWN_VPC = {"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]}
PINNED = {"blueImageId": "ami-0aaaaaaaaaaaaaaaa", "greenImageId": "ami-0bbbbbbbbbbbbbbbb"}
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-"

INSTANCE_TYPE = "aws:ec2/getInstanceType:getInstanceType"
PARAMETER = "aws:ssm/getParameter:getParameter"
AMI = "aws:ec2/getAmi:getAmi"
ZONES = "aws:index/getAvailabilityZones:getAvailabilityZones"
OFFERINGS = "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings"
REGION = "aws:index/getRegion:getRegion"
ELB_ACCOUNT = "aws:elb/getServiceAccount:getServiceAccount"
CALLER = "aws:index/getCallerIdentity:getCallerIdentity"
# Every lookup the program makes, and what it is for.
TOKENS = {
    INSTANCE_TYPE: "the architectures the instance type runs (bluegreen.images)",
    PARAMETER: "the latest Amazon Linux 2023 AMI for that architecture, and the guardian's record on an update",
    AMI: "each colour's image: architecture, root device and snapshot, deprecation time (deprecated ones included)",
    ZONES: "a created VPC's zones",
    OFFERINGS: "which of them offer the instance type",
    REGION: "the dashboard's region",
    ELB_ACCOUNT: "the ELB account the access-log bucket's policy trusts",
    CALLER: "this account, for the access-log bucket's policy",
}


def image(ami: str) -> tuple[str, dict[str, Any]]:
    return AMI, {"includeDeprecated": True, "filters": [{"name": "image-id", "values": [ami]}]}


def offerings(instance_type: str) -> tuple[str, dict[str, Any]]:
    return OFFERINGS, {
        "locationType": "availability-zone",
        "filters": [{"name": "instance-type", "values": [instance_type]}],
    }


def new_vpc(instance_type: str = "t3.micro") -> list[tuple[str, dict[str, Any]]]:
    return [(ZONES, {"state": "available"}), offerings(instance_type)]


def as_set(invokes: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Invokes as sorted JSON lines: their order is the engine's, their arguments are what matter."""
    return sorted(f"{token} {json.dumps(args, sort_keys=True)}" for token, args in invokes)


def scenarios() -> dict[str, tuple[Recording, list[tuple[str, dict[str, Any]]]]]:
    """Runs that between them make every lookup, each with exactly the lookups it must make."""
    live = deployed(run_program())
    return {
        "first deploy, latest AL2023, new VPC": (
            run_program(),
            [(INSTANCE_TYPE, {"instanceType": "t3.micro"}), (PARAMETER, {"name": f"{AL2023}x86_64"}),
             image(LOOKED_UP_AMI), *new_vpc(), (REGION, {})],
        ),
        "Graviton": (
            run_program({"instanceType": "t4g.micro"}),
            [(INSTANCE_TYPE, {"instanceType": "t4g.micro"}), (PARAMETER, {"name": f"{AL2023}arm64"}),
             image(LOOKED_UP_ARM_AMI), *new_vpc("t4g.micro"), (REGION, {})],
        ),
        "pinned images": (
            run_program(PINNED),
            [(INSTANCE_TYPE, {"instanceType": "t3.micro"}), image(PINNED["blueImageId"]),
             image(PINNED["greenImageId"]), *new_vpc(), (REGION, {})],
        ),
        "your own VPC": (
            run_program(OWN_VPC),
            [(INSTANCE_TYPE, {"instanceType": "t3.micro"}), (PARAMETER, {"name": f"{AL2023}x86_64"}),
             image(LOOKED_UP_AMI), (REGION, {})],
        ),
        "an update reads the guardian's record": (
            run_program({"greenRelease": "v2.0.0"}, live),
            [(PARAMETER, {"name": "/bluegreen/bluegreen/dev/guardian-record"}),
             (INSTANCE_TYPE, {"instanceType": "t3.micro"}), (PARAMETER, {"name": f"{AL2023}x86_64"}),
             image(LOOKED_UP_AMI), *new_vpc(), (REGION, {})],
        ),
        "production: access logs to a bucket the stack creates": (
            run_program(PRODUCTION),
            [(INSTANCE_TYPE, {"instanceType": "t3.micro"}), (PARAMETER, {"name": f"{AL2023}x86_64"}),
             image(LOOKED_UP_AMI), *new_vpc(), (ELB_ACCOUNT, {}), (CALLER, {}), (REGION, {})],
        ),
    }  # fmt: skip


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[Recording, list[tuple[str, dict[str, Any]]]]]:
    return scenarios()


def test_each_run_makes_exactly_the_lookups_listed_with_their_arguments(runs) -> None:
    for name, (rec, expected) in runs.items():
        assert as_set(rec.invokes) == as_set(expected), name


def test_the_program_makes_these_lookups_and_no_others(runs) -> None:
    made = {token for rec, _ in runs.values() for token, _ in rec.invokes}
    assert made == set(TOKENS)


def test_every_image_lookup_includes_deprecated_images(runs) -> None:
    lookups = [args for rec, _ in runs.values() for token, args in rec.invokes if token == AMI]
    assert lookups and all(args.get("includeDeprecated") is True for args in lookups)
