"""The deploy role's policies cover what the program creates, only what it creates, and fit IAM.

The role has two: deploy/iam/github-oidc-role-policy.json (its inline policy) and
deploy/iam/github-oidc-role-policy-2.json (a managed policy attached to it, for the guardian and the
access-log bucket), split because one policy no longer fits IAM's size quota. IAM allows what either
allows, so the tests below read the union of their statements; each file's size is checked on its own."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest
import yaml

from bluegreen.contract import STACK_TAG
from tests.harness import PRODUCTION, PROJECT_DIR, run_program

# The deploy role's policies, with the IAM quota each counts against and how docs/aws-setup.md attaches it. IAM and
# AWS STS quotas (IAM User Guide) and the IAM FAQ: "the total aggregate policy size (the sum size of all inline
# policies) per entity cannot exceed [...] Role policy size cannot exceed 10,240 characters", and "The size of each
# managed policy cannot exceed 6,144 characters"; white space is not counted. A second inline policy would share the
# first one's 10,240, so the second file is a managed policy (a role takes 10 by default).
INLINE, MANAGED = "put-role-policy", "create-policy"
DEPLOY_POLICIES = {
    "deploy/iam/github-oidc-role-policy.json": (10_240, INLINE),
    "deploy/iam/github-oidc-role-policy-2.json": (6_144, MANAGED),
}
# The name patterns start with NAME_PREFIX, the name a program gives `deploy()` (`bluegreen`, this stack's, unless it
# passes `name=`): every ELB, Auto Scaling, IAM, guardian and log-bucket name starts `<name>-`. Alarms and the
# dashboard are named `<project>-<stack>-...`, so they start with PROJECT. docs/aws-setup.md's fill() sets both.
ROOT_NAME_PREFIX = "bluegreen"


def load_policies(name_prefix: str = ROOT_NAME_PREFIX, project: str = "PROJECT") -> dict[str, dict[str, Any]]:
    """Each deploy policy file with NAME_PREFIX (and, when given, PROJECT) filled in as fill() does."""
    docs = {}
    for path in DEPLOY_POLICIES:
        text = (PROJECT_DIR / path).read_text().replace("NAME_PREFIX", name_prefix).replace("PROJECT", project)
        docs[path] = json.loads(text)
    return docs


def union(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """IAM allows what either policy allows."""
    return {"Version": "2012-10-17", "Statement": [s for doc in docs.values() for s in doc["Statement"]]}


POLICY_FILES = load_policies()
POLICY = union(POLICY_FILES)
OWN_VPC = {"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]}
CONFIGS = pytest.mark.parametrize(
    "overrides",
    [{}, OWN_VPC, PRODUCTION, {**PRODUCTION, **OWN_VPC}],
    ids=["dev", "dev own VPC", "prod", "prod own VPC"],
)
ARN_KIND = {"aws:iam/role:Role": "role", "aws:iam/instanceProfile:InstanceProfile": "instance-profile"}


def test_the_two_deploy_policies_are_one_policy_split_in_two() -> None:
    assert all(doc["Version"] == "2012-10-17" for doc in POLICY_FILES.values())
    sids = [s["Sid"] for s in POLICY["Statement"]]
    assert len(sids) == len(set(sids)), "a Sid names one statement across both files"


def statements(action: str, policy: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    def actions(s: dict[str, Any]) -> list[str]:
        return s["Action"] if isinstance(s["Action"], list) else [s["Action"]]

    return [s for s in (policy or POLICY)["Statement"] if s["Effect"] == "Allow" and action in actions(s)]


def allows(action: str, arn: str, policy: dict[str, Any] | None = None) -> bool:
    for statement in statements(action, policy):
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(fnmatch.fnmatchcase(arn, pattern) for pattern in resources):
            return True
    return False


def test_the_deploy_role_may_create_the_instances_role_and_profile_and_nothing_else_in_iam() -> None:
    rec = run_program({"instancePolicyArns": ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]})

    for res in rec.resources:
        if res.type in ARN_KIND:  # Pulumi auto-names `<logical name>-<7 characters>`
            arn = f"arn:aws:iam::ACCOUNT_ID:{ARN_KIND[res.type]}/{res.name}-abcdefg"
            create = "iam:CreateRole" if res.type.endswith("Role") else "iam:CreateInstanceProfile"
            assert allows(create, arn), arn
            assert allows("iam:DeleteRole" if create == "iam:CreateRole" else "iam:DeleteInstanceProfile", arn)
    assert allows("iam:AttachRolePolicy", "arn:aws:iam::ACCOUNT_ID:role/bluegreen-instance-role-abcdefg")
    assert not allows("iam:CreateRole", "arn:aws:iam::ACCOUNT_ID:role/Admin")


def test_each_role_is_passed_to_its_own_service_only() -> None:
    passing = {s["Resource"]: s["Condition"] for s in statements("iam:PassRole")}

    assert passing == {
        "arn:aws:iam::ACCOUNT_ID:role/bluegreen-instance-role-*": {
            "StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}
        },
        "arn:aws:iam::ACCOUNT_ID:role/bluegreen-guardian-role-*": {
            "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}
        },
    }


def test_the_deploy_role_may_create_the_guardian_and_no_other_function() -> None:
    assert allows(
        "lambda:CreateFunction", "arn:aws:lambda:REGION:ACCOUNT_ID:function:bluegreen-guardian-function-abcdefg"
    )
    assert not allows("lambda:CreateFunction", "arn:aws:lambda:REGION:ACCOUNT_ID:function:payments")
    assert allows("iam:PutRolePolicy", "arn:aws:iam::ACCOUNT_ID:role/bluegreen-guardian-role-abcdefg")
    assert not allows("iam:PutRolePolicy", "arn:aws:iam::ACCOUNT_ID:role/bluegreen-instance-role-abcdefg")


# ---------------------------------------------------------------- EC2 writes: this project's resources only

# The tag the program puts on everything it creates (`<project>/<stack>`); the policy's PROJECT placeholder is
# the Pulumi project's name (docs/aws-setup.md), so `PROJECT/*` is every stack of the project.
OURS = "PROJECT/*"
REQUEST, RESOURCE = f"aws:RequestTag/{STACK_TAG}", f"aws:ResourceTag/{STACK_TAG}"
EC2 = "arn:aws:ec2:REGION:ACCOUNT_ID"
ANY_VPC = "with vpcId the group goes in your VPC, which the stack did not create and does not tag"
VIA_TEMPLATE = (
    "an instance launched from this project's launch template (ec2:LaunchTemplate) also uses AMIs, your subnets "
    "and extraSecurityGroupIds, and creates its instance, volumes and network interface"
)
# Every EC2 write the deploy role makes, by the resource types AWS authorizes it on (Service Authorization
# Reference, "Actions, resources, and condition keys for Amazon EC2"; required types and the optional ones
# this stack's calls carry) and what scopes each: REQUEST for the resource the call creates (tagged on create,
# aws:RequestTag), RESOURCE for one that must already carry this project's tag (aws:ResourceTag), or why that
# resource may be anyone's. CreateTags and DeleteTags have their own test below.
EC2_WRITES: dict[str, dict[str, str]] = {
    "ec2:CreateVpc": {"vpc": REQUEST},
    "ec2:DeleteVpc": {"vpc": RESOURCE},
    "ec2:ModifyVpcAttribute": {"vpc": RESOURCE},
    "ec2:CreateInternetGateway": {"internet-gateway": REQUEST},
    "ec2:AttachInternetGateway": {"internet-gateway": RESOURCE, "vpc": RESOURCE},
    "ec2:DetachInternetGateway": {"internet-gateway": RESOURCE, "vpc": RESOURCE},
    "ec2:DeleteInternetGateway": {"internet-gateway": RESOURCE},
    # The private subnets' NAT gateway and its Elastic IP (privateInstances, a created VPC). AllocateAddress:
    # elastic-ip* (aws:RequestTag); ipam-pool and ipv4pool-ec2 only with a pool, which the program never names.
    # CreateNatGateway: natgateway* (aws:RequestTag) and, optional, the elastic-ip, subnet and vpc it uses.
    "ec2:AllocateAddress": {"elastic-ip": REQUEST},
    "ec2:CreateNatGateway": {"natgateway": REQUEST, "elastic-ip": RESOURCE, "subnet": RESOURCE, "vpc": RESOURCE},
    "ec2:DeleteNatGateway": {"natgateway": RESOURCE},
    "ec2:ReleaseAddress": {"elastic-ip": RESOURCE},
    # aws_eip's delete disassociates first when its state holds an association id, which a refresh or a tag
    # update after the NAT gateway exists records (terraform-provider-aws ec2_eip.go, resourceEIPDelete). By then
    # the NAT gateway, deleted first, has released the address; AWS lists elastic-ip and network-interface, both
    # optional, and the NAT gateway's interface is AWS's, untagged: see docs/aws-setup.md, still unverified.
    "ec2:DisassociateAddress": {"elastic-ip": RESOURCE},
    "ec2:CreateSubnet": {"subnet": REQUEST, "vpc": RESOURCE},
    "ec2:DeleteSubnet": {"subnet": RESOURCE},
    "ec2:ModifySubnetAttribute": {"subnet": RESOURCE},
    "ec2:CreateRouteTable": {"route-table": REQUEST, "vpc": RESOURCE},
    "ec2:DeleteRouteTable": {"route-table": RESOURCE},
    "ec2:AssociateRouteTable": {"route-table": RESOURCE, "subnet": RESOURCE},
    "ec2:DisassociateRouteTable": {"route-table": RESOURCE, "subnet": RESOURCE},
    "ec2:ReplaceRouteTableAssociation": {"route-table": RESOURCE, "subnet": RESOURCE},
    "ec2:CreateRoute": {"route-table": RESOURCE},  # also to the NAT gateway: AWS checks only the route table
    "ec2:ReplaceRoute": {"route-table": RESOURCE},
    "ec2:DeleteRoute": {"route-table": RESOURCE},
    "ec2:CreateSecurityGroup": {"security-group": REQUEST, "vpc": ANY_VPC},
    "ec2:DeleteSecurityGroup": {"security-group": RESOURCE},
    "ec2:AuthorizeSecurityGroupIngress": {"security-group": RESOURCE, "security-group-rule": REQUEST},
    "ec2:AuthorizeSecurityGroupEgress": {"security-group": RESOURCE, "security-group-rule": REQUEST},
    "ec2:RevokeSecurityGroupIngress": {"security-group": RESOURCE},
    "ec2:RevokeSecurityGroupEgress": {"security-group": RESOURCE},
    "ec2:ModifySecurityGroupRules": {"security-group": RESOURCE, "security-group-rule": RESOURCE},
    "ec2:CreateLaunchTemplate": {"launch-template": REQUEST},
    "ec2:CreateLaunchTemplateVersion": {"launch-template": RESOURCE},
    "ec2:ModifyLaunchTemplate": {"launch-template": RESOURCE},
    "ec2:DeleteLaunchTemplate": {"launch-template": RESOURCE},
    "ec2:RunInstances": {
        "launch-template": RESOURCE,
        **dict.fromkeys(("image", "subnet", "security-group", "network-interface", "volume", "instance"), VIA_TEMPLATE),
    },
}
# EC2 writes AWS gives no resource-level permission, so they can only be granted on "*", each with why the stack
# needs it; docs/aws-setup.md lists them. None: every write above has a resource type that takes aws:ResourceTag
# or aws:RequestTag, and the reads (Describe*) stay in ReadOnlyDescribes.
UNSCOPABLE: dict[str, str] = {}
TAGGING = ("ec2:CreateTags", "ec2:DeleteTags")
KNOWN_TYPES = {t for types in EC2_WRITES.values() for t in types}
_EC2_ARN = re.compile(r"^arn:aws:ec2:REGION:(?:ACCOUNT_ID)?:(?P<type>[a-z-]+|\*)/\*$")


def listed(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(("Describe", "Get", "List"))


def ec2_writes(statement: dict[str, Any]) -> list[str]:
    return [a for a in listed(statement["Action"]) if a.startswith("ec2:") and not is_read(a)]


def covered(statement: dict[str, Any]) -> set[str]:
    """The EC2 resource types a statement's Resource (or NotResource) reaches, of those the writes touch."""

    def types(patterns: list[str]) -> set[str]:
        found: set[str] = set()
        for pattern in patterns:
            match = _EC2_ARN.match(pattern)
            assert match, f"{statement['Sid']}: {pattern} is not an EC2 ARN pattern of this region and account"
            found |= KNOWN_TYPES if match["type"] == "*" else {match["type"]}
        return found

    if "NotResource" in statement:
        return KNOWN_TYPES - types(listed(statement["NotResource"]))
    return types(listed(statement["Resource"]))


def scoped_by(statement: dict[str, Any], key: str) -> bool:
    return bool(statement.get("Condition", {}).get("StringLike", {}).get(key) == OURS)


def test_no_statement_grants_a_whole_service_or_a_wildcard_write() -> None:
    for statement in POLICY["Statement"]:
        for action in listed(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), f"{statement['Sid']}: {action}"
            assert "*" not in action or is_read(action), f"{statement['Sid']}: {action} is a wildcard write"


def test_every_ec2_write_reaches_only_this_projects_resources() -> None:
    problems = []
    for s in POLICY["Statement"]:
        for action in ec2_writes(s):
            if action in TAGGING:
                continue
            if "*" in listed(s.get("Resource", [])):
                if action not in UNSCOPABLE:
                    where = sorted(EC2_WRITES[action]) if action in EC2_WRITES else "? (add it to EC2_WRITES)"
                    problems.append(f'{s["Sid"]}: {action} on "*"; AWS authorizes it on {where}')
                continue
            if action not in EC2_WRITES:
                problems.append(f"{s['Sid']}: {action} is not in EC2_WRITES: add the resource types AWS checks it on")
                continue
            for type_, scope in EC2_WRITES[action].items():
                if type_ not in covered(s):
                    continue
                # A new resource has no tags yet, so aws:ResourceTag scopes a create as tightly as aws:RequestTag.
                if scope == RESOURCE and not scoped_by(s, RESOURCE):
                    problems.append(f"{s['Sid']}: {action} on any {type_}, not only those tagged {STACK_TAG}={OURS}")
                if scope == REQUEST and not (scoped_by(s, REQUEST) or scoped_by(s, RESOURCE)):
                    problems.append(f"{s['Sid']}: {action} creates a {type_} without the tag {STACK_TAG}={OURS}")
    assert not problems, "\n".join(problems)


def test_every_ec2_write_the_stack_makes_is_granted_with_its_scope() -> None:
    missing = []
    for action, types in EC2_WRITES.items():
        for type_, scope in types.items():
            grants = [s for s in POLICY["Statement"] if action in listed(s["Action"]) and type_ in covered(s)]
            if scope in (REQUEST, RESOURCE):
                grants = [s for s in grants if scoped_by(s, scope)]
            if not grants:
                missing.append(
                    f"{action} on {type_}" + (f" with {scope} like {OURS}" if scope in (REQUEST, RESOURCE) else "")
                )
    assert not missing, "the deploy would be refused:\n" + "\n".join(missing)


def test_instances_launch_only_through_this_projects_launch_templates() -> None:
    for s in POLICY["Statement"]:
        if "ec2:RunInstances" not in listed(s["Action"]) or scoped_by(s, RESOURCE):
            continue
        assert "launch-template" not in covered(s), s["Sid"]
        assert s["Condition"] == {"ArnLike": {"ec2:LaunchTemplate": f"{EC2}:launch-template/*"}}, s["Sid"]


def test_tags_are_written_on_create_or_on_this_projects_resources_and_the_stack_tag_never_changes() -> None:
    creates = {a.removeprefix("ec2:") for a, types in EC2_WRITES.items() if REQUEST in types.values()}
    on_create, retag = [], []
    for s in POLICY["Statement"]:
        if not set(TAGGING) & set(listed(s["Action"])):
            continue
        condition = s.get("Condition", {})
        if "ec2:CreateAction" in condition.get("StringEquals", {}):
            # Grant permission to tag Amazon EC2 resources during creation (EC2 User Guide): CreateTags only in
            # the context of a create call, which its own statement scopes; never on an existing resource.
            assert listed(s["Action"]) == ["ec2:CreateTags"] and condition.keys() == {"StringEquals"}, s["Sid"]
            on_create += listed(condition["StringEquals"]["ec2:CreateAction"])
        else:
            assert condition == {
                "StringLike": {RESOURCE: OURS},
                "ForAllValues:StringNotEquals": {"aws:TagKeys": STACK_TAG},
                "Null": {"aws:TagKeys": "false"},
            }, s["Sid"]
            retag += listed(s["Action"])
    assert sorted(on_create) == sorted({*creates, "RunInstances"})
    assert sorted(retag) == sorted(TAGGING)


def test_unscopable_writes_are_explained_in_the_setup_guide() -> None:
    guide = (PROJECT_DIR / "docs/aws-setup.md").read_text()
    for action, reason in UNSCOPABLE.items():
        assert reason and f"`{action}`" in guide, action


# Pulumi types of what the program creates in EC2, and the resource type each is in IAM: each is created
# carrying the stack tag, or cannot carry tags at all (a route, a route table association).
EC2_RESOURCE_TYPE = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/internetGateway:InternetGateway": "internet-gateway",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/routeTable:RouteTable": "route-table",
    "aws:ec2/securityGroup:SecurityGroup": "security-group",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "security-group-rule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "security-group-rule",
    "aws:ec2/launchTemplate:LaunchTemplate": "launch-template",
    "aws:ec2/eip:Eip": "elastic-ip",
    "aws:ec2/natGateway:NatGateway": "natgateway",
}
UNTAGGABLE = {"aws:ec2/route:Route", "aws:ec2/routeTableAssociation:RouteTableAssociation"}
CREATED = {type_ for types in EC2_WRITES.values() for type_, scope in types.items() if scope == REQUEST}


@CONFIGS
def test_the_program_tags_what_it_creates_in_ec2_as_the_policy_expects(overrides: dict[str, Any]) -> None:
    rec = run_program(overrides)
    ours = OURS.replace("PROJECT", "bluegreen")  # the project in Pulumi.yaml
    for res in rec.resources:
        if not res.type.startswith(("aws:ec2/", "aws:vpc/")):
            continue
        assert res.type in EC2_RESOURCE_TYPE or res.type in UNTAGGABLE, (
            f"{res.type} is new in EC2: add it to EC2_RESOURCE_TYPE (and its calls to EC2_WRITES and the policy)"
        )
        if res.type in EC2_RESOURCE_TYPE:
            assert EC2_RESOURCE_TYPE[res.type] in CREATED, (
                f"no EC2_WRITES entry creates a {EC2_RESOURCE_TYPE[res.type]}"
            )
            value = (res.inputs.get("tags") or {}).get(STACK_TAG, "")
            assert fnmatch.fnmatchcase(value, ours), f"{res.name} is created without {STACK_TAG}={ours}: {value!r}"


def test_the_production_stack_creates_the_nat_gateway_and_its_address() -> None:
    # So the parametrized test above sees them: the dev stack turns privateInstances off.
    created = {res.type for res in run_program(PRODUCTION).resources}
    assert {"aws:ec2/eip:Eip", "aws:ec2/natGateway:NatGateway"} <= created


# ---------------------------------------------------------------- the access-log bucket: S3 by bucket name

# What terraform-provider-aws calls for each S3 resource the program creates, as IAM actions (S3 API Reference: each
# operation's permission; DeletePublicAccessBlock, DeleteBucketOwnershipControls, DeleteBucketEncryption and
# DeleteBucketLifecycle need the Put action, e.g. "For this operation, a user must have the
# s3:PutLifecycleConfiguration permission"). All on the bucket (Service Authorization Reference, Amazon S3: resource
# type bucket, arn:aws:s3:::<name>), except the object deletes.
S3_BUCKET_ACTIONS: dict[str, tuple[str, ...]] = {
    # aws_s3_bucket (internal/service/s3/bucket.go): CreateBucket; read: HeadBucket (s3:ListBucket) and the
    # bucket's policy, ACL, CORS, website, versioning, accelerate, request payment, logging, lifecycle,
    # replication, encryption and Object Lock configurations (it tolerates "not found" and "not implemented"
    # answers, not a refusal); DeleteBucket.
    # Tags: pulumi-aws 7 "will now attempt to send tags in the create request and use the S3 Control tagging APIs
    # TagResource, UntagResource, and ListTagsForResource for read and update operations" (s3.Bucket docs).
    "aws:s3/bucket:Bucket": (
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:ListBucket",
        "s3:TagResource",
        "s3:UntagResource",
        "s3:ListTagsForResource",
        "s3:GetBucketPolicy",
        "s3:GetBucketAcl",
        "s3:GetBucketCORS",
        "s3:GetBucketWebsite",
        "s3:GetBucketVersioning",
        "s3:GetAccelerateConfiguration",
        "s3:GetBucketRequestPayment",
        "s3:GetBucketLogging",
        "s3:GetLifecycleConfiguration",
        "s3:GetReplicationConfiguration",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketObjectLockConfiguration",
        # force_destroy empties the bucket first (internal/service/s3/delete.go, emptyBucket): ListObjectVersions,
        # then DeleteObjects of every version and delete marker.
        "s3:ListBucketVersions",
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (
        "s3:PutBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3:PutEncryptionConfiguration",
        "s3:GetEncryptionConfiguration",
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "s3:PutLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
    ),
    "aws:s3/bucketPolicy:BucketPolicy": ("s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"),
}
# On arn:aws:s3:::<bucket>/<key> (resource type object): what emptying the bucket deletes. DeleteObjects is authorized
# per object, with s3:DeleteObjectVersion for a version id (every entry ListObjectVersions returns has one).
S3_OBJECT_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion")
BACKEND = "SelfManagedBackend"  # the state bucket's statements


def s3_statements() -> list[dict[str, Any]]:
    return [
        s
        for s in POLICY["Statement"]
        if not s["Sid"].startswith(BACKEND) and any(a.startswith("s3:") for a in listed(s["Action"]))
    ]


@CONFIGS
def test_every_s3_call_the_program_needs_is_allowed_on_its_own_bucket(overrides: dict[str, Any]) -> None:
    rec = run_program(overrides)
    buckets = {res.outputs["id"]: res for res in rec.of_type("aws:s3/bucket:Bucket")}
    assert bool(buckets) == bool(overrides.get("accessLogs")), sorted(buckets)
    missing = []
    for res in rec.resources:
        if not res.type.startswith("aws:s3/"):
            continue
        assert res.type in S3_BUCKET_ACTIONS, f"{res.type} is new in S3: add the calls it makes to S3_BUCKET_ACTIONS"
        bucket = res if res.type == "aws:s3/bucket:Bucket" else buckets[res.inputs["bucket"]]
        # Pulumi auto-names the bucket `<logical name>-<7 characters>` (as the mocks do), like the IAM names above.
        assert bucket.outputs["bucket"].startswith(f"{bucket.name}-"), bucket.outputs["bucket"]
        arn = bucket.outputs["arn"]
        missing += [f"{a} on {arn}" for a in S3_BUCKET_ACTIONS[res.type] if not allows(a, arn)]
        if res.type == "aws:s3/bucket:Bucket":
            missing += [f"{a} on {arn}/alb/x" for a in S3_OBJECT_ACTIONS if not allows(a, f"{arn}/alb/x")]
    assert not missing, "the deploy would be refused:\n" + "\n".join(missing)


def test_s3_is_granted_on_the_access_log_buckets_only_and_only_what_their_calls_need() -> None:
    granted = {a for s in s3_statements() for a in listed(s["Action"])}
    needed = {a for actions in S3_BUCKET_ACTIONS.values() for a in actions} | set(S3_OBJECT_ACTIONS)
    assert granted == needed, f"granted but not needed: {granted - needed}; needed but not granted: {needed - granted}"
    for s in s3_statements():
        resources = listed(s["Resource"])
        assert all(r.startswith("arn:aws:s3:::bluegreen-access-logs-bucket-") for r in resources), s["Sid"]
    # Not a state bucket named after the project, nor another bucket whose name starts like the log bucket's.
    for name in ("bluegreen-pulumi-state", "bluegreen-access-logs", "bluegreen-access-logs-bucketeer", "logs"):
        assert not allows("s3:DeleteBucket", f"arn:aws:s3:::{name}"), name
        assert not allows("s3:DeleteObject", f"arn:aws:s3:::{name}/.pulumi/stacks/x.json"), name


@pytest.mark.parametrize("overrides", [{}, PRODUCTION], ids=["dev", "prod"])
def test_the_load_balancers_access_logs_and_deletion_protection_attributes_are_allowed(
    overrides: dict[str, Any],
) -> None:
    # Access logs and deletion protection are load balancer attributes (ModifyLoadBalancerAttributes, also on
    # create). ELB itself writes the logs, under the bucket policy the program sets: the role needs no S3 write.
    albs = run_program(overrides).of_type("aws:lb/loadBalancer:LoadBalancer")
    assert albs
    for res in albs:
        arn = f"arn:aws:elasticloadbalancing:REGION:ACCOUNT_ID:loadbalancer/app/{res.name}-abcdefg/50dc6c495c0c9188"
        assert allows("elasticloadbalancing:ModifyLoadBalancerAttributes", arn), arn


def test_the_deploy_role_may_decommission_and_destroy_the_load_balancer() -> None:
    # decommission: deletion protection off (an attribute) and the bluegreen:decommission tag on; then the destroy.
    arn = "arn:aws:elasticloadbalancing:REGION:ACCOUNT_ID:loadbalancer/app/bluegreen-lb-alb-abcdefg/50dc6c495c0c9188"
    for action in ("ModifyLoadBalancerAttributes", "AddTags", "RemoveTags", "DeleteLoadBalancer"):
        assert allows(f"elasticloadbalancing:{action}", arn), action


# ---------------------------------------------------------------- the filled policies fit IAM


def filled(path: str, region: str, project: str, bucket: str, name_prefix: str = ROOT_NAME_PREFIX) -> str:
    """The policy as docs/aws-setup.md's fill() writes it, without white space (IAM does not count it)."""
    text = json.dumps(json.loads((PROJECT_DIR / path).read_text()), separators=(",", ":"))
    for placeholder, value in (
        ("ACCOUNT_ID", "123456789012"),
        ("REGION", region),
        ("NAME_PREFIX", name_prefix),
        ("PROJECT", project),
    ):
        text = text.replace(placeholder, value)
    return text.replace("OWNER/REPO", "acme/bluegreen").replace("BACKEND_BUCKET", bucket)


ROLE_POLICIES = {**DEPLOY_POLICIES, "deploy/iam/github-oidc-preview-role-policy.json": (10_240, INLINE)}


@pytest.mark.parametrize("path", sorted(ROLE_POLICIES))
def test_each_role_policy_fits_its_iam_quota(path: str) -> None:
    # Each role has one inline policy, so its size is the role's inline total. A 63-character bucket name and a
    # long region and project.
    quota, _ = ROLE_POLICIES[path]
    assert (
        len(filled(path, "ap-southeast-2", "a-thirty-character-project-nam", "b" * 63, "a-twenty-char-prefix")) <= quota
    )


def test_the_setup_guide_attaches_each_policy_as_its_quota_assumes() -> None:
    guide = (PROJECT_DIR / "docs/aws-setup.md").read_text()
    block = guide[guide.index("fill() {") :].split("```", 1)[0].replace("\\\n", " ")
    commands = [line.split() for line in block.splitlines() if line.startswith("aws iam ")]
    for path, (_, how) in ROLE_POLICIES.items():
        name = path.removeprefix("deploy/iam/github-oidc-").removesuffix(".json")
        assert re.search(rf"\bfill {name}(;|$)", block, re.MULTILINE), f"{path} is not filled in"
        verbs = [command[2] for command in commands if f"file://{name}.json" in command]
        assert verbs == [how], f"{path}: written with {verbs}, but its quota is the {how} one"
    attached = [c for c in commands if c[2] == "attach-role-policy" and "bluegreen-github" in c]
    assert len(attached) == 1, "the managed policy is attached to the deploy role"


def test_the_setup_guide_fills_every_placeholder_of_the_policies() -> None:
    guide = (PROJECT_DIR / "docs/aws-setup.md").read_text()
    fill = guide[guide.index("fill() {") : guide.index("}", guide.index("fill() {"))]
    for path in sorted((PROJECT_DIR / "deploy/iam").glob("*.json")):
        for placeholder in sorted(set(re.findall(r"\b[A-Z][A-Z_]{3,}\b|OWNER/REPO", path.read_text()))):
            assert placeholder in fill, f"{path.name}: {placeholder} is not filled in by docs/aws-setup.md's fill()"


# ---------------------------------------------------------------- the examples: each filled with its own names

# ARN of what each named resource type creates, from its physical name, and the call that creates it. Pulumi
# auto-names `<logical name>-<7 characters>` (the mocks give `name` where the program reads it back).
_ELB = "arn:aws:elasticloadbalancing:REGION:ACCOUNT_ID"
NAMED_CREATES: dict[str, tuple[str, str]] = {
    "aws:autoscaling/group:Group": (
        "autoscaling:CreateAutoScalingGroup",
        "arn:aws:autoscaling:REGION:ACCOUNT_ID:autoScalingGroup:0c0ffee0:autoScalingGroupName/{name}",
    ),
    "aws:lb/loadBalancer:LoadBalancer": (
        "elasticloadbalancing:CreateLoadBalancer",
        _ELB + ":loadbalancer/app/{auto}/5a",
    ),
    "aws:lb/targetGroup:TargetGroup": ("elasticloadbalancing:CreateTargetGroup", _ELB + ":targetgroup/{auto}/5b"),
    "aws:lb/listener:Listener": ("elasticloadbalancing:CreateListener", _ELB + ":listener/app/{alb}/5a/5c"),
    "aws:lb/listenerRule:ListenerRule": ("elasticloadbalancing:CreateRule", _ELB + ":listener-rule/app/{alb}/5a/5c/5d"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "cloudwatch:PutMetricAlarm",
        "arn:aws:cloudwatch:REGION:ACCOUNT_ID:alarm:{name}",
    ),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": (
        "cloudwatch:PutCompositeAlarm",
        "arn:aws:cloudwatch:REGION:ACCOUNT_ID:alarm:{alarmName}",
    ),
    "aws:cloudwatch/dashboard:Dashboard": (
        "cloudwatch:PutDashboard",
        "arn:aws:cloudwatch::ACCOUNT_ID:dashboard/{dashboardName}",
    ),
    "aws:iam/role:Role": ("iam:CreateRole", "arn:aws:iam::ACCOUNT_ID:role/{auto}"),
    "aws:iam/instanceProfile:InstanceProfile": (
        "iam:CreateInstanceProfile",
        "arn:aws:iam::ACCOUNT_ID:instance-profile/{auto}",
    ),
    "aws:lambda/function:Function": ("lambda:CreateFunction", "arn:aws:lambda:REGION:ACCOUNT_ID:function:{name}"),
    "aws:sns/topic:Topic": ("sns:CreateTopic", "arn:aws:sns:REGION:ACCOUNT_ID:{auto}"),
    "aws:cloudwatch/eventRule:EventRule": ("events:PutRule", "arn:aws:events:REGION:ACCOUNT_ID:rule/{name}"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs:CreateLogGroup", "arn:aws:logs:REGION:ACCOUNT_ID:log-group:{auto}"),
    "aws:ssm/parameter:Parameter": ("ssm:PutParameter", "arn:aws:ssm:REGION:ACCOUNT_ID:parameter{name}"),
    "aws:s3/bucket:Bucket": ("s3:CreateBucket", "arn:aws:s3:::{bucket}"),
}
EXAMPLES = PROJECT_DIR / "examples"
EXAMPLE_CONFIG: dict[str, dict[str, str]] = {
    "minimal": {},
    "own-app": {
        "bluegreen-own-app:vpcId": "vpc-0123456789abcdef0",
        "bluegreen-own-app:albSubnetIds": '["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]',
        "bluegreen-own-app:instanceSubnetIds": '["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]',
    },
    "larger-program": {
        "bluegreen-larger-program:hostedZoneId": "Z0123456789ABCDEFGHIJ",
        "bluegreen-larger-program:hostname": "app.example.com",
    },
}
SERVICE = "bluegreen:aws:BlueGreenService"


def arn_of(res: Any, alb: str) -> str:
    _, pattern = NAMED_CREATES[res.type]
    values = {**res.inputs, **res.outputs}
    return pattern.format(
        auto=f"{res.name}-abcdefg", alb=alb, **{k: v for k, v in values.items() if isinstance(v, str)}
    )


@pytest.mark.parametrize("example", sorted(EXAMPLE_CONFIG))
def test_each_example_deploys_with_the_policies_filled_in_with_its_own_names(example: str) -> None:
    """docs/aws-setup.md: NAME_PREFIX is the name the program gives `deploy()`, PROJECT its Pulumi project."""
    project_dir = EXAMPLES / example
    rec = run_program({"allowInsecurePreview": True}, project_dir=project_dir, project_config=EXAMPLE_CONFIG[example])
    project = str(yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"])
    (service,) = rec.of_type(SERVICE)
    policy = union(load_policies(name_prefix=service.name, project=project))
    (alb,) = rec.of_type("aws:lb/loadBalancer:LoadBalancer")
    named = [res for res in rec.resources if res.type in NAMED_CREATES]
    # Instance profiles only with instancePolicyArns (own-app's).
    optional = {"aws:iam/instanceProfile:InstanceProfile"}
    assert set(NAMED_CREATES) - optional <= {res.type for res in named}, "each example creates every named type"
    refused = [
        f"{NAMED_CREATES[res.type][0]} on {arn_of(res, f'{alb.name}-abcdefg')}"
        for res in named
        if not allows(NAMED_CREATES[res.type][0], arn_of(res, f"{alb.name}-abcdefg"), policy)
    ]
    assert not refused, f"{example} (name {service.name!r}, project {project}) would be refused:\n" + "\n".join(refused)


def test_the_name_patterns_are_the_placeholders_not_this_stacks_names() -> None:
    # Only the SSM path (/bluegreen/<project>/<stack>, fixed) and the stack tag key name `bluegreen` themselves.
    for path in DEPLOY_POLICIES:
        text = (PROJECT_DIR / path).read_text()
        assert re.findall(r"bluegreen[^:/]", text.replace("bluegreen/*", "")) == [], path
