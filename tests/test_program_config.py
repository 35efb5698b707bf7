"""Bad stack config is refused with one clear error, before any resource is registered."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.settings import ConfigError, read_settings
from tests.harness import program_config, run_failing, run_program

VPC = {"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]}

BAD_CONFIGS: list[tuple[dict[str, Any], str]] = [
    ({"activeColor": "purple"}, "activeColor must be 'blue' or 'green', got 'purple'"),
    ({"idleTrafficPercent": 60}, "idleTrafficPercent must be from 0 to 50, got 60"),
    ({"idleTrafficPercent": "ten"}, "idleTrafficPercent must be an integer from 0 to 50, got 'ten'"),
    ({"blueRelease": ""}, "blueRelease must be a non-empty label"),
    ({"greenRelease": "v 2"}, "greenRelease must be a non-empty label"),
    ({"blueImageId": "ubuntu"}, "blueImageId must be empty or an AMI id (ami-...), got 'ubuntu'"),
    ({"minSize": 3, "desiredCapacity": 2}, "minSize <= desiredCapacity <= maxSize must hold, got minSize=3"),
    ({"desiredCapacity": 5, "maxSize": 4}, "desiredCapacity=5, maxSize=4"),
    ({"appPort": 0}, "appPort must be from 1 to 65535, got 0"),
    ({"appPort": 70000}, "appPort must be from 1 to 65535, got 70000"),
    ({"healthCheckPath": "health"}, "healthCheckPath must be a path starting with '/'"),
    ({"healthCheckTimeoutSeconds": 20, "healthCheckIntervalSeconds": 10}, "healthCheckTimeoutSeconds must be less"),
    ({"instanceType": "large"}, "instanceType must be an EC2 instance type such as t3.micro, got 'large'"),
    ({"certificateArn": "my-cert"}, "certificateArn must be empty or an ACM certificate ARN, got 'my-cert'"),
    ({"publicHostname": "https://app.example.com"}, "publicHostname must be empty or a lower-case DNS name such as app.example.com, got 'https://app.example.com'"),
    ({"sslPolicy": "ELBSecurityPolicy-2016-08"}, "sslPolicy must be a TLS 1.2+ ELB policy"),
    ({"sslPolicy": "ELBSecurityPolicy-TLS-1-1-2017-01"}, "sslPolicy must be a TLS 1.2+ ELB policy"),
    ({"allowedCidrs": ["10.0.0.1/8"]}, "allowedCidrs entries must be CIDR blocks such as 203.0.113.0/24, got '10.0.0.1/8'"),
    ({"allowedCidrs": []}, "allowedCidrs must list at least one CIDR block"),
    ({"vpcId": "vpc-0123456789abcdef0"}, "subnetIds must list at least two subnets"),
    ({"subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]}, "subnetIds and instanceSubnetIds need vpcId"),
    ({**VPC, "subnetIds": ["subnet-1", "subnet-0aaaaaaaaaaaaaaa2"]}, "subnetIds entries must be subnet ids (subnet-...), got 'subnet-1'"),
    ({"tags": ["team"]}, "tags entries must look like Key=Value, got 'team'"),
    ({"tags": ["Name=web"]}, "tags must not set 'Name'"),
    ({"tags": ["bluegreen:color=red"]}, "tags must not set 'bluegreen:color'"),
    ({"tags": ["AWS:owner=me"]}, "tags must not set 'AWS:owner'"),
    # ELB allows only letters, digits, white space and _.:/=+-@ in tag keys and values.
    ({"tags": ["team=R&D"]}, "tags entry 'team=R&D': value 'R&D' contains '&'; ELB tag keys and values allow only letters, digits, white space and _.:/=+-@"),
    ({"tags": ["owner=a,b"]}, "tags entry 'owner=a,b': value 'a,b' contains ','"),
    ({"tags": ["cost's=1"]}, "tags entry \"cost's=1\": key \"cost's\" contains \"'\""),
    ({"tags": ["k=" + "v" * 257]}, "is 257 characters long; AWS allows at most 256"),
    ({"tags": ["k" * 129 + "=v"]}, "is 129 characters long; AWS allows at most 128"),
    ({"tags": [f"k{i}=v" for i in range(45)]}, "tags lists 45 tags; at most 44 are allowed"),
    ({"stickinessSeconds": 700000}, "stickinessSeconds must be from 0 to 604800, got 700000"),
    ({"capacityTimeout": "ten minutes"}, "capacityTimeout must be a duration such as 10m or 1h30m, got 'ten minutes'"),
    ({"rollbackErrorRatePercent": 0}, "rollbackErrorRatePercent must be from 1 to 100, got 0"),
    ({"alarmEvaluationMinutes": 61}, "alarmEvaluationMinutes must be from 1 to 60, got 61"),
    ({"allowLiveRelease": "yes"}, "allowLiveRelease must be true or false, got 'yes'"),
    ({"idleScaledDown": True, "idleTrafficPercent": 10}, "idleTrafficPercent must be 0 while idleScaledDown is true"),
    ({"blueSchemaVersions": ["1"]}, "blueSchemaVersions must be a list of int"),
    ({"databaseSchemaVersion": 2, "blueSchemaVersions": [1], "greenSchemaVersions": [1, 2]},
     "databaseSchemaVersion 2 is not supported by blue (the live colour)"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "message"), BAD_CONFIGS, ids=[next(iter(o)) for o, _ in BAD_CONFIGS])
def test_bad_config_is_rejected_naming_key_and_value_before_any_resource(overrides, message):
    error, registered = run_failing(overrides)
    assert isinstance(error, ConfigError), error
    assert message in str(error)
    assert registered == []


def test_refusals_are_run_errors_so_the_language_host_prints_the_message_without_a_traceback():
    error, _ = run_failing({"activeColor": "purple"})
    assert isinstance(error, pulumi.RunError)


def test_tags_aws_accepts_everywhere_pass():
    rec = run_program({"tags": ["team=R and D", "cost-centre=4711", "owner=a@example.com", "path=/a/b:c+d=e"]})
    assert rec.by_name("bluegreen-blue-tg").inputs["tags"]["team"] == "R and D"


def test_all_problems_are_reported_together():
    with pytest.raises(ConfigError) as caught:
        read_settings(_raw({"activeColor": "red", "appPort": 0, "healthCheckPath": "x"}))
    assert [p.split(" ")[0] for p in caught.value.problems] == ["activeColor", "healthCheckPath", "appPort"]


def test_an_undeclared_key_is_named():
    raw = _raw({})
    del raw["minSize"]
    with pytest.raises(ConfigError, match=r"minSize is not set"):
        read_settings(raw)


def test_every_key_the_program_reads_is_declared_in_pulumi_yaml_with_type_description_and_default():
    import yaml

    from components.settings import CONFIG_KEYS, TOOL_KEYS
    from tests.harness import PROJECT_DIR

    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    assert set(declared) == set(CONFIG_KEYS) | set(TOOL_KEYS)
    for key, spec in declared.items():
        assert {"type", "description", "default"} <= set(spec), key


def test_dev_stack_and_defaults_are_valid():
    settings = read_settings(_raw({}))
    assert settings.traffic.active_color == "blue"
    assert settings.fleet.desired_capacity == 2
    assert settings.tags == {"team": "platform", "service": "bluegreen-demo"}


def test_a_valid_existing_vpc_config_runs():
    rec = run_program(VPC)
    assert rec.by_name("bluegreen-lb-alb").inputs["subnets"] == VPC["subnetIds"]


def _raw(overrides: dict[str, object]) -> dict[str, str | None]:
    config = program_config(overrides)
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("bluegreen:")}
