"""The PR preview role (deploy/iam/github-oidc-preview-role-policy.json) allows the reads a `pulumi preview`
makes and nothing more: the program's invokes, recorded under the SDK's mocks, each mapped to the IAM
actions it needs. Anyone who can push a branch can use the role, so a read it does not need (ELB's
`DescribeRules` returns the preview route's header value: the preview token) is a leak.

A preview without `--refresh` reads no resource of the stack: only the state backend, and what the
program's invokes ask the provider for. A new invoke fails here, in CI, rather than in a PR's preview.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from tests.harness import PRODUCTION, PROJECT_DIR, Recording, deployed, run_program

POLICY: dict[str, Any] = json.loads((PROJECT_DIR / "deploy/iam/github-oidc-preview-role-policy.json").read_text())
BACKEND = "SelfManagedBackend"  # the state bucket's statements: s3 only, deleted with Pulumi Cloud

# What each invoke costs in IAM: the provider's data source and the API it calls.
INVOKE_ACTIONS: dict[str, tuple[str, ...]] = {
    # terraform-provider-aws data sources (internal/service/ec2, internal/service/ssm): each makes the one
    # call named. aws_ami also calls ec2:GetInstanceUefiData and ignores its failure (`if err == nil`), so a
    # denial costs nothing: not granted (ec2:Get* holds GetPasswordData and GetConsoleOutput).
    "aws:ec2/getAmi:getAmi": ("ec2:DescribeImages",),
    "aws:ec2/getInstanceType:getInstanceType": ("ec2:DescribeInstanceTypes",),
    "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": ("ec2:DescribeInstanceTypeOfferings",),
    "aws:index/getAvailabilityZones:getAvailabilityZones": ("ec2:DescribeAvailabilityZones",),
    # aws_ssm_parameter: GetParameter (with_decryption defaults to true; the parameters read are String, so
    # no kms:Decrypt). The resources are checked per parameter below.
    "aws:ssm/getParameter:getParameter": ("ssm:GetParameter",),
    # aws_region (internal/service/meta/region_data_source.go) resolves the provider's region from the SDK's
    # endpoint tables (FindRegionByName over endpoints.DefaultPartitions()): no API call.
    "aws:index/getRegion:getRegion": (),
    # STS API Reference, GetCallerIdentity: "No permissions are required to perform this operation." The access-log
    # bucket's policy names this account.
    "aws:index/getCallerIdentity:getCallerIdentity": (),
    # aws_elb_service_account (internal/service/elb/service_account_data_source.go) looks the region up in a fixed
    # map, accountIDPerRegionMap, of the ELB accounts the access-log bucket policy trusts: no API call.
    "aws:elb/getServiceAccount:getServiceAccount": (),
}

# Calls the provider makes when it is configured, which no invoke shows. pulumi-aws validates the
# credentials (provider/config.go: validateCredentials, unless skipCredentialsValidation) and
# terraform-provider-aws reads the account id (internal/conns/config.go: GetAwsAccountIDAndPartition),
# both with sts:GetCallerIdentity (aws-sdk-go-base aws_config.go); region validation
# (skip_region_validation) checks a built-in list and calls nothing.
PROVIDER_CONFIGURE: dict[str, str] = {
    "sts:GetCallerIdentity": "needs no permission (STS API Reference: GetCallerIdentity)",
}

OWN_VPC = {"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]}
PINNED = {"blueImageId": "ami-0aaaaaaaaaaaaaaaa", "greenImageId": "ami-0bbbbbbbbbbbbbbbb"}


@pytest.fixture(scope="module")
def previews() -> list[Recording]:
    """Previews that between them make every kind of invoke: a new VPC (zones and offerings) or your own,
    the latest AL2023 (SSM, x86 and arm64) or pinned images, a first deploy or an update of a deployed
    stack (its guardian record), the dev stack or production's defaults (the access-log bucket's invokes)."""
    live = deployed(run_program())
    return [
        run_program(preview=True),
        run_program({"instanceType": "t4g.micro"}, preview=True),
        run_program(PINNED, preview=True),
        run_program(OWN_VPC, preview=True),
        run_program({"greenRelease": "v2.0.0"}, live, preview=True),
        run_program({**OWN_VPC, **PINNED}, deployed(run_program({**OWN_VPC, **PINNED})), preview=True),
        run_program(PRODUCTION, deployed(run_program(PRODUCTION)), preview=True),
    ]


def invoked(previews: list[Recording]) -> set[str]:
    return {token for rec in previews for token, _ in rec.invokes}


def test_the_previews_make_the_access_log_buckets_invokes(previews: list[Recording]) -> None:
    access_logs = {"aws:elb/getServiceAccount:getServiceAccount", "aws:index/getCallerIdentity:getCallerIdentity"}
    assert access_logs <= invoked(previews), "no preview runs with access logs to a bucket the stack creates"


def statements(backend: bool = False) -> list[dict[str, Any]]:
    return [s for s in POLICY["Statement"] if s["Sid"].startswith(BACKEND) == backend]


def listed(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def parameter_arn(name: str) -> str:
    """What IAM checks GetParameter against: `parameter/<name without its leading slash>` (Service
    Authorization Reference, AWS Systems Manager); AWS's public parameters carry no account."""
    path = name.removeprefix("/")
    return f"arn:aws:ssm:REGION:{'' if path.startswith('aws/service/') else 'ACCOUNT_ID'}:parameter/{path}"


def readable(name: str) -> bool:
    return any(
        "ssm:GetParameter" in listed(s["Action"])
        and any(fnmatch.fnmatchcase(parameter_arn(name), r) for r in listed(s["Resource"]))
        for s in POLICY["Statement"]
    )


def test_every_invoke_the_program_makes_has_its_iam_actions_listed(previews: list[Recording]) -> None:
    unknown = sorted(invoked(previews) - INVOKE_ACTIONS.keys())
    assert not unknown, (
        f"the program makes invokes {unknown} that INVOKE_ACTIONS in tests/test_preview_policy.py does not list: "
        "add each with the IAM actions its data source calls, and grant those to the preview role "
        "(deploy/iam/github-oidc-preview-role-policy.json, docs/aws-setup.md), or every PR preview fails"
    )


def test_the_preview_role_allows_exactly_what_those_invokes_need(previews: list[Recording]) -> None:
    needed = {action for token in invoked(previews) for action in INVOKE_ACTIONS.get(token, ())}
    granted = {action for s in statements() for action in listed(s["Action"])}

    assert all(s["Effect"] == "Allow" for s in POLICY["Statement"])
    assert granted == needed, f"granted but not needed: {granted - needed}; needed but not granted: {needed - granted}"
    assert not PROVIDER_CONFIGURE.keys() & granted, "the provider's own calls need no grant"


def test_reads_without_resource_level_permissions_stay_in_the_region() -> None:
    for s in statements():
        if "*" in listed(s["Resource"]):
            assert all(a.startswith("ec2:Describe") and "*" not in a for a in listed(s["Action"])), s["Sid"]
            assert s["Condition"] == {"StringEquals": {"aws:RequestedRegion": "REGION"}}, s["Sid"]


def test_the_role_reads_the_parameters_the_program_reads_and_no_others(previews: list[Recording]) -> None:
    names = {
        args["name"] for rec in previews for token, args in rec.invokes if token == "aws:ssm/getParameter:getParameter"
    }
    assert "/bluegreen/bluegreen/dev/guardian-record" in names  # the update previews read the guardian's record
    assert all(readable(name) for name in names), [n for n in names if not readable(n)]

    # The guardian's state and the decision log are the deploy role's; nothing else in the account either.
    for name in ("/bluegreen/bluegreen/dev/guardian-state", "/bluegreen/bluegreen/dev/decisions", "/prod/db-password"):
        assert not readable(name), name
    # No grant that no read uses.
    for s in statements():
        if "ssm:GetParameter" in listed(s["Action"]):
            for pattern in listed(s["Resource"]):
                assert any(fnmatch.fnmatchcase(parameter_arn(n), pattern) for n in names), pattern


def test_no_statement_reads_the_load_balancer() -> None:
    actions = [a for s in POLICY["Statement"] for a in listed(s["Action"])]
    assert not [a for a in actions if a.startswith("elasticloadbalancing:") or a in ("*", "ec2:*")]


def test_the_backend_statements_only_read_this_projects_state(previews: list[Recording]) -> None:
    for s in statements(backend=True):
        assert set(listed(s["Action"])) <= {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"}, s["Sid"]
        assert all(r.startswith("arn:aws:s3:::BACKEND_BUCKET") for r in listed(s["Resource"])), s["Sid"]
    # The only stack the program reads through the backend is its own (the release guard's StackReference).
    assert {ref for rec in previews for _, ref in rec.stack_references} == {"organization/bluegreen/dev"}
