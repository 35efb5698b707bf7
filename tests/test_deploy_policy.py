"""The deploy role's policy (deploy/iam/github-oidc-role-policy.json) covers the IAM resources the
program creates, and hands the instances' role to EC2 only."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest

from bluegreen.contract import STACK_TAG
from tests.harness import PROJECT_DIR, run_program

POLICY = json.loads((PROJECT_DIR / "deploy/iam/github-oidc-role-policy.json").read_text())
ARN_KIND = {"aws:iam/role:Role": "role", "aws:iam/instanceProfile:InstanceProfile": "instance-profile"}


def statements(action: str) -> list[dict[str, Any]]:
    def actions(s: dict[str, Any]) -> list[str]:
        return s["Action"] if isinstance(s["Action"], list) else [s["Action"]]

    return [s for s in POLICY["Statement"] if s["Effect"] == "Allow" and action in actions(s)]


def allows(action: str, arn: str) -> bool:
    for statement in statements(action):
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
    "ec2:CreateSubnet": {"subnet": REQUEST, "vpc": RESOURCE},
    "ec2:DeleteSubnet": {"subnet": RESOURCE},
    "ec2:ModifySubnetAttribute": {"subnet": RESOURCE},
    "ec2:CreateRouteTable": {"route-table": REQUEST, "vpc": RESOURCE},
    "ec2:DeleteRouteTable": {"route-table": RESOURCE},
    "ec2:AssociateRouteTable": {"route-table": RESOURCE, "subnet": RESOURCE},
    "ec2:DisassociateRouteTable": {"route-table": RESOURCE, "subnet": RESOURCE},
    "ec2:ReplaceRouteTableAssociation": {"route-table": RESOURCE, "subnet": RESOURCE},
    "ec2:CreateRoute": {"route-table": RESOURCE},
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
}
UNTAGGABLE = {"aws:ec2/route:Route", "aws:ec2/routeTableAssociation:RouteTableAssociation"}
CREATED = {type_ for types in EC2_WRITES.values() for type_, scope in types.items() if scope == REQUEST}


@pytest.mark.parametrize(
    "overrides",
    [{}, {"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]}],
    ids=["new VPC", "own VPC"],
)
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


# ---------------------------------------------------------------- the filled policies fit IAM


def filled(path: str, region: str, project: str, bucket: str) -> str:
    """The policy as docs/aws-setup.md's fill() writes it, without white space (IAM does not count it)."""
    text = json.dumps(json.loads((PROJECT_DIR / path).read_text()), separators=(",", ":"))
    for placeholder, value in (("ACCOUNT_ID", "123456789012"), ("REGION", region), ("PROJECT", project)):
        text = text.replace(placeholder, value)
    return text.replace("OWNER/REPO", "acme/bluegreen").replace("BACKEND_BUCKET", bucket)


@pytest.mark.parametrize(
    "path", ["deploy/iam/github-oidc-role-policy.json", "deploy/iam/github-oidc-preview-role-policy.json"]
)
def test_each_role_policy_fits_iams_inline_policy_quota(path: str) -> None:
    # IAM and AWS STS quotas (IAM User Guide): "Role policy size cannot exceed 10,240 characters", the sum of a
    # role's inline policies, white space not counted. A 63-character bucket name and a long region and project.
    assert len(filled(path, "ap-southeast-2", "a-thirty-character-project-nam", "b" * 63)) <= 10_240


def test_the_setup_guide_fills_every_placeholder_of_the_policies() -> None:
    guide = (PROJECT_DIR / "docs/aws-setup.md").read_text()
    fill = guide[guide.index("fill() {") : guide.index("}", guide.index("fill() {"))]
    for path in sorted((PROJECT_DIR / "deploy/iam").glob("*.json")):
        for placeholder in sorted(set(re.findall(r"\b[A-Z][A-Z_]{3,}\b|OWNER/REPO", path.read_text()))):
            assert placeholder in fill, f"{path.name}: {placeholder} is not filled in by docs/aws-setup.md's fill()"
