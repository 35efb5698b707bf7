"""Your own app on the colours: a boot script per release, an instance profile, extra security groups;
and `Settings` built in Python, which gets the same defaults and the same checks as stack config."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from bluegreen.settings import (
    CONFIG_KEYS,
    ConfigError,
    Edge,
    FleetSpec,
    Release,
    Settings,
    read_settings,
    to_config,
    validated,
)
from bluegreen.stack_files import to_wire
from tests.harness import PROJECT_DIR, deployed, run_failing, run_program

CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123"

ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SSM = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
APP_POLICY = "arn:aws:iam::123456789012:policy/app/read-config"
TEMPLATE = "#!/bin/bash\necho '{{release}}' > /etc/app-release\nexec /opt/app/run --port {{appPort}}\n"


def boot_script(rec: Any, color: str) -> str:
    return base64.b64decode(rec.by_name(f"bluegreen-{color}-lt").inputs["userData"]).decode()


# ---------------------------------------------------------------- boot scripts


def test_a_template_file_is_rendered_with_each_colours_release(tmp_path: Path) -> None:
    template = tmp_path / "boot.sh.tmpl"
    template.write_text(TEMPLATE)

    rec = run_program(
        {
            "blueRelease": "v1.4.0",
            "greenRelease": "v1.5.0",
            "blueBootScript": f"file:{template}",
            "greenBootScript": f"file:{template}",
        }
    )

    assert boot_script(rec, "blue") == "#!/bin/bash\necho 'v1.4.0' > /etc/app-release\nexec /opt/app/run --port 8080\n"
    assert "echo 'v1.5.0'" in boot_script(rec, "green")
    assert rec.outputs["blueUserDataHash"] != rec.outputs["greenUserDataHash"]


def test_a_file_path_is_relative_to_the_project_directory(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: my-service\nruntime: python\n")
    (tmp_path / "__main__.py").write_text((PROJECT_DIR / "__main__.py").read_text())
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / "app.sh").write_text("#!/bin/bash\necho {{release}}\n")

    rec = run_program({"blueBootScript": "file:boot/app.sh", "allowInsecurePreview": True}, project_dir=tmp_path)

    assert boot_script(rec, "blue") == "#!/bin/bash\necho v1\n"  # v1: Settings' default release


def test_an_inline_script_is_sent_as_it_is_and_an_empty_one_runs_the_demo_app() -> None:
    rec = run_program({"greenBootScript": "#cloud-config\nruncmd: [[systemctl, start, app]]\n"})

    assert boot_script(rec, "green") == "#cloud-config\nruncmd: [[systemctl, start, app]]\n"
    assert "bluegreen-demo.service" in boot_script(rec, "blue")


@pytest.mark.parametrize(
    ("script", "problem"),
    [
        (
            "echo {{colour}} {{release}}",
            "blueBootScript uses {{colour}}, which the boot script template does not know; allowed: {{release}}, "
            "{{appPort}}, {{healthCheckPath}}",
        ),
        ("x" * (16 * 1024 + 1), "blueBootScript renders to 16385 bytes for release 'v1.0.0'; EC2 allows at most 16384"),
        ("file:no/such/boot.sh", "blueBootScript='file:no/such/boot.sh': cannot read 'no/such/boot.sh' (No such file"),
    ],
)
def test_a_boot_script_aws_or_the_template_would_refuse_is_refused_up_front(script: str, problem: str) -> None:
    error, registered = run_failing({"blueBootScript": script})

    assert isinstance(error, ConfigError)
    assert problem in str(error)
    assert registered == []


# ---------------------------------------------------------------- instance profile and security groups


def test_managed_policies_give_each_colour_its_own_role_and_instance_profile() -> None:
    rec = run_program({"instancePolicyArns": [SSM, APP_POLICY]})

    for color in ("blue", "green"):
        role = rec.by_name(f"bluegreen-instance-role-{color}")
        assert '"Service": "ec2.amazonaws.com"' in role.inputs["assumeRolePolicy"]
        attachments = [r for r in rec.of_type(ATTACHMENT) if r.name.startswith(f"bluegreen-instance-policy-{color}-")]
        assert {r.inputs["policyArn"] for r in attachments} == {SSM, APP_POLICY}
        profile = rec.by_name(f"bluegreen-instance-profile-{color}")
        template = rec.by_name(f"bluegreen-{color}-lt")
        assert template.inputs["iamInstanceProfile"] == {"arn": profile.outputs["arn"]}
        # instances boot with their permissions: the template waits for its colour's attachments
        assert {r.urn for r in attachments} <= set(template.dependencies)


def test_a_new_policy_reaches_the_idle_colours_role_only() -> None:
    live = run_program({"instancePolicyArns": [SSM]})
    staged = run_program({"instancePolicyArns": [SSM, APP_POLICY]}, previous_outputs=deployed(live))

    def policies(color: str) -> set[str]:
        mine = f"bluegreen-instance-policy-{color}-"
        return {r.inputs["policyArn"] for r in staged.of_type(ATTACHMENT) if r.name.startswith(mine)}

    assert policies("blue") == {SSM}  # live blue keeps the role it was deployed with
    assert policies("green") == {SSM, APP_POLICY}


def test_the_live_colours_role_keeps_the_shared_roles_name_through_an_alias() -> None:
    rec = run_program({"instancePolicyArns": [SSM]})
    blue, green = (rec.by_name(f"bluegreen-instance-role-{c}") for c in ("blue", "green"))
    assert blue.alias_urns == [blue.urn.replace("bluegreen-instance-role-blue", "bluegreen-instance-role")]
    assert green.alias_urns == []


def test_reordering_the_policies_replaces_nothing() -> None:
    first = run_program({"instancePolicyArns": [SSM, APP_POLICY]})
    reordered = run_program({"instancePolicyArns": [APP_POLICY, SSM]})

    assert {r.urn for r in first.resources} == {r.urn for r in reordered.resources}


def test_without_policies_there_is_no_instance_profile() -> None:
    rec = run_program()

    assert [r.name for r in rec.of_type("aws:iam/role:Role")] == ["bluegreen-guardian-role"]  # the guardian's own
    assert rec.of_type("aws:iam/instanceProfile:InstanceProfile") == []
    assert rec.by_name("bluegreen-blue-lt").inputs.get("iamInstanceProfile") is None


def test_extra_security_groups_join_the_instances_own() -> None:
    rec = run_program({"extraSecurityGroupIds": ["sg-0123456789abcdef0"]})

    own = rec.by_name("bluegreen-lb-instance-sg").outputs["id"]
    for color in ("blue", "green"):
        interface = rec.by_name(f"bluegreen-{color}-lt").inputs["networkInterfaces"][0]
        assert interface["securityGroups"] == [own, "sg-0123456789abcdef0"]


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        (
            {"instancePolicyArns": ["AmazonSSMManagedInstanceCore"]},
            "instancePolicyArns entries must be IAM managed policy ARNs such as "
            "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore, got 'AmazonSSMManagedInstanceCore'",
        ),
        (
            {"instancePolicyArns": [f"arn:aws:iam::123456789012:policy/p{i}" for i in range(11)]},
            "instancePolicyArns may list at most 10 policies (IAM's default quota per role), got 11",
        ),
        ({"instancePolicyArns": [SSM, SSM]}, "instancePolicyArns lists a policy twice"),
        (
            {"extraSecurityGroupIds": ["default"]},
            "extraSecurityGroupIds entries must be security group ids (sg-...), got 'default'",
        ),
        (
            {"extraSecurityGroupIds": [f"sg-0000000000000000{i}" for i in range(5)]},
            "extraSecurityGroupIds may list at most 4 groups",
        ),
    ],
)
def test_bad_profile_or_group_config_is_refused(config: dict[str, Any], problem: str) -> None:
    error, registered = run_failing(config)

    assert problem in str(error)
    assert registered == []


# ---------------------------------------------------------------- Settings in Python


def test_settings_defaults_are_the_defaults_pulumi_yaml_declares() -> None:
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]

    assert to_config(Settings()) == {key: to_wire(declared[key]["default"]) for key in CONFIG_KEYS}


def test_settings_survive_the_trip_through_stack_config() -> None:
    settings = Settings(
        fleet=FleetSpec(instance_type="m7g.large", desired_capacity=3, instance_policy_arns=(SSM,)),
        releases={
            "blue": Release("v7", boot_script=TEMPLATE, schema_versions=(3,)),
            "green": Release("v8", schema_versions=(3, 4)),
        },
        database_schema_version=3,
        tags={"team": "payments"},
        edge=Edge(certificate_arn=CERT, public_hostname="app.example.com"),
    )

    assert read_settings(to_config(settings)) == settings
    assert validated(settings) == settings


def test_settings_built_in_python_are_checked_by_the_same_rules() -> None:
    bad = Settings(
        fleet=dataclasses.replace(FleetSpec(), app_port=0, instance_type="large"),
        edge=Edge(certificate_arn=CERT, public_hostname="app.example.com"),
    )

    with pytest.raises(ConfigError) as refused:
        validated(bad)

    assert refused.value.problems == [
        "instanceType must be an EC2 instance type such as t3.micro, got 'large'",
        "appPort must be from 1 to 65535, got 0",
    ]


def test_settings_need_a_release_for_each_colour() -> None:
    with pytest.raises(ConfigError, match="releases must give a Release for each of blue, green, got \\['blue'\\]"):
        validated(Settings(releases={"blue": Release()}))


def test_the_user_data_limit_counts_bytes_not_characters() -> None:
    script = "#!/bin/bash\n# " + "é" * 8200 + "\n"  # fewer than 16384 characters, more than 16384 bytes

    error, _ = run_failing({"blueBootScript": script})

    assert "blueBootScript renders to 16415 bytes" in str(error)
