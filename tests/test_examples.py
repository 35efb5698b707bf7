"""The three examples run under the SDK's mocks, each in its own project directory and under its
own project name, importing the installed `bluegreen` package as a user's program would."""

from __future__ import annotations

import base64
from pathlib import Path

from bluegreen.contract import Outputs
from tests.harness import PROJECT_DIR, Registered, run_program

EXAMPLES = PROJECT_DIR / "examples"
OWN_NETWORK = {
    "bluegreen-own-app:vpcId": "vpc-0123456789abcdef0",
    "bluegreen-own-app:albSubnetIds": '["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]',
    "bluegreen-own-app:instanceSubnetIds": '["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]',
}
# The examples' stacks have no certificate here: each test stack allows the plain-HTTP preview route, as
# Pulumi.dev.yaml does. A stack users reach sets bluegreen:certificateArn instead.
INSECURE = {"allowInsecurePreview": True}
EXPORTED = sorted(name for output in Outputs.all() for name in output.names())


def test_the_minimal_example_is_the_whole_stack_at_its_defaults() -> None:
    rec = run_program(INSECURE, project_dir=EXAMPLES / "minimal")

    assert sorted(rec.outputs) == EXPORTED
    assert (rec.outputs["activeColor"], rec.outputs["blueRelease"], rec.outputs["greenRelease"]) == ("blue", "v1", "v1")
    assert rec.outputs["blueWeight"] == 100
    assert all(r.urn.startswith("urn:pulumi:dev::bluegreen-minimal::") for r in rec.resources)


def test_the_minimal_example_flips_with_the_same_config_key() -> None:
    before = run_program(INSECURE, project_dir=EXAMPLES / "minimal")
    after = run_program(
        {**INSECURE, "activeColor": "green"}, previous_outputs=before.outputs, project_dir=EXAMPLES / "minimal"
    )

    assert (after.outputs["blueWeight"], after.outputs["greenWeight"]) == (0, 100)


def test_the_own_app_example_runs_in_its_vpc_with_its_boot_script_and_profile() -> None:
    rec = run_program(
        {**INSECURE, "greenRelease": "v2", "greenImageId": "ami-0aaaaaaaaaaaaaaaa"},
        project_dir=EXAMPLES / "own-app",
        project_config=OWN_NETWORK,
    )

    assert rec.by_name("bluegreen-lb-alb").inputs["subnets"] == ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
    assert rec.by_name("bluegreen-green-asg").inputs["vpcZoneIdentifiers"] == [
        "subnet-0bbbbbbbbbbbbbbb1",
        "subnet-0bbbbbbbbbbbbbbb2",
    ]
    green = rec.by_name("bluegreen-green-lt").inputs
    script = base64.b64decode(green["userData"]).decode()
    assert "s3://example-artifacts/app/v2/app.tar.gz" in script and "{{" not in script
    assert green["imageId"] == "ami-0aaaaaaaaaaaaaaaa" and green["instanceType"] == "t3.small"
    assert "iamInstanceProfile" in green
    assert len(rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")) == 4  # two policies, per colour


def test_the_own_app_example_needs_its_network() -> None:
    error, registered = run_failing_in(EXAMPLES / "own-app")

    assert "Missing required configuration variable 'bluegreen-own-app:vpcId'" in str(error)
    assert registered == []


def test_the_larger_program_points_its_dns_name_at_the_service() -> None:
    rec = run_program(
        INSECURE,
        project_dir=EXAMPLES / "larger-program",
        project_config={
            "bluegreen-larger-program:hostedZoneId": "Z0123456789ABCDEFGHIJ",
            "bluegreen-larger-program:hostname": "app.example.com",
        },
    )

    record = rec.by_name("web-dns")
    alb = rec.by_name("web-lb-alb")
    assert record.inputs["aliases"][0]["name"] == alb.outputs["dnsName"]
    assert alb.urn in record.dependencies
    assert rec.outputs["url"] == "http://app.example.com"  # the smoke checks go to the name users reach
    assert set(EXPORTED) <= set(rec.outputs)


def run_failing_in(project_dir: Path) -> tuple[BaseException, list[Registered]]:
    registered: list[Registered] = []
    try:
        run_program(INSECURE, project_dir=project_dir, _registered=registered)
    except Exception as error:
        return error, registered
    raise AssertionError(f"{project_dir.name} ran without its required config")
