"""The deploy role's policy (deploy/iam/github-oidc-role-policy.json) covers the IAM resources the
program creates, and hands the instances' role to EC2 only."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

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
