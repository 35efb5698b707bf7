"""Bad stack config is refused with one clear error, before any resource is registered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from bluegreen.settings import ConfigError, UnknownKeyError, namespace_keys, read_settings
from tests.harness import CERT, Registered, program_config, run_failing, run_program

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
    # HTTPS needs the name users reach: the gate and the release tool verify the certificate against it.
    ({"certificateArn": CERT}, f"publicHostname must be set when certificateArn is set (certificateArn={CERT!r}, publicHostname='')"),
    ({"publicHostname": "bluegreen-lb-alb-1234.eu-west-1.elb.amazonaws.com"}, "publicHostname must be the name users reach, which the certificate covers, got 'bluegreen-lb-alb-1234.eu-west-1.elb.amazonaws.com': no certificate can cover the load balancer's own DNS name"),
    ({"publicHostname": "internal-web-1.cn-north-1.elb.amazonaws.com.cn"}, "no certificate can cover the load balancer's own DNS name"),
    ({"publicHostname": "app..example.com"}, "publicHostname must be empty or a lower-case DNS name such as app.example.com, got 'app..example.com'"),
    ({"publicHostname": "-app.example.com"}, "publicHostname must be empty or a lower-case DNS name such as app.example.com, got '-app.example.com'"),
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
    ({"tags": [f"k{i}=v" for i in range(44)]}, "tags lists 44 tags; at most 43 are allowed"),
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

    from bluegreen.settings import CONFIG_KEYS, TOOL_KEYS
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


# -- the exact bounds, read without running the program ----------------------------------------------------
INTEGER_BOUNDS = [
    ("idleTrafficPercent", 0, 50),
    ("stickinessSeconds", 0, 604800),
    ("minSize", 1, 1000),
    ("maxSize", 1, 1000),
    ("desiredCapacity", 1, 1000),
    ("healthCheckTimeoutSeconds", 2, 120),
    ("appPort", 1, 65535),
    ("rootVolumeSizeGb", 8, 16384),
    ("healthCheckIntervalSeconds", 5, 300),
    ("healthyThreshold", 2, 10),
    ("unhealthyThreshold", 2, 10),
    ("deregistrationDelaySeconds", 0, 3600),
    ("healthCheckGracePeriodSeconds", 0, 7200),
    ("rollbackErrorRatePercent", 1, 100),
    ("rollbackLatencyP99Ms", 1, 60000),
    ("alarmEvaluationMinutes", 1, 60),
    ("bakeMinutes", 0, 1440),
    ("databaseSchemaVersion", 0, 1_000_000),
    ("previewTokenGeneration", 1, 1_000_000),
]
# Keys whose bounds depend on others: keep the rest valid around the value tried.
AROUND: dict[str, Callable[[int], dict[str, object]]] = {
    "minSize": lambda v: {"desiredCapacity": min(max(v, 1), 1000), "maxSize": min(max(v, 4), 1000)},
    "healthCheckIntervalSeconds": lambda v: {"healthCheckTimeoutSeconds": 2},
    "healthCheckTimeoutSeconds": lambda v: {"healthCheckIntervalSeconds": 300},
    "maxSize": lambda v: {"minSize": 1, "desiredCapacity": 1},
    "desiredCapacity": lambda v: {"minSize": 1, "maxSize": 1000},
    "databaseSchemaVersion": lambda v: {"blueSchemaVersions": [v], "greenSchemaVersions": [v]} if v > 0 else {},
}


def problems(overrides: dict[str, object]) -> list[str]:
    try:
        read_settings(_raw(overrides))
    except ConfigError as error:
        return error.problems
    return []


@pytest.mark.parametrize(("key", "low", "high"), INTEGER_BOUNDS, ids=[k for k, _, _ in INTEGER_BOUNDS])
def test_integer_bounds_are_inclusive(key: str, low: int, high: int):
    def at(value: int) -> list[str]:
        around = AROUND.get(key)
        return problems({key: value, **(around(value) if around else {})})

    assert at(low) == [] and at(high) == []
    assert at(low - 1)[0] == f"{key} must be from {low} to {high}, got {low - 1}"
    assert at(high + 1)[0] == f"{key} must be from {low} to {high}, got {high + 1}"


def test_valid_ids_names_and_commands_are_accepted_as_given():
    cert = "arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234"
    settings = read_settings(
        _raw(
            {
                "blueImageId": "ami-0aaaaaaaaaaaaaaaa",
                "certificateArn": cert,
                "publicHostname": "app.example.com",
                "migrationCommand": "db/migrate",
                "healthCheckMatcher": "200-299",
                **VPC,
            }
        )
    )
    assert settings.releases["blue"].image_id == "ami-0aaaaaaaaaaaaaaaa"
    assert (settings.edge.certificate_arn, settings.edge.public_hostname) == (cert, "app.example.com")
    assert settings.migration_command == "db/migrate"
    assert settings.fleet.health_check.matcher == "200-299"
    assert settings.network.vpc_id == VPC["vpcId"]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (
            {"healthCheckMatcher": "ok"},
            "healthCheckMatcher must be HTTP codes such as 200, 200-299 or 200,302, got 'ok'",
        ),
        ({"vpcId": "vpc-1", "subnetIds": VPC["subnetIds"]}, "vpcId must be empty or a VPC id (vpc-...), got 'vpc-1'"),
        (
            {"idleScaledDown": True, "idleTrafficPercent": 1},
            "idleTrafficPercent must be 0 while idleScaledDown is true",
        ),
    ],
)
def test_malformed_values_are_refused(overrides: dict[str, object], problem: str):
    assert any(p.startswith(problem) for p in problems(overrides)), problems(overrides)


def test_a_scaled_down_idle_colour_with_no_canary_is_fine():
    assert problems({"idleScaledDown": True, "idleTrafficPercent": 0}) == []


def test_a_scaled_down_idle_colour_need_not_support_the_schema():
    versions = {"databaseSchemaVersion": 2, "blueSchemaVersions": [2], "greenSchemaVersions": [1]}
    assert problems({**versions, "idleScaledDown": True}) == []
    assert problems(versions)[0].startswith("databaseSchemaVersion 2 is not supported by green")


def test_capacity_may_equal_its_bounds_but_not_pass_them():
    assert problems({"minSize": 2, "desiredCapacity": 4, "maxSize": 4}) == []
    assert problems({"minSize": 2, "desiredCapacity": 2, "maxSize": 2}) == []
    assert problems({"minSize": 2, "desiredCapacity": 5, "maxSize": 4}) == [
        "minSize <= desiredCapacity <= maxSize must hold, got minSize=2, desiredCapacity=5, maxSize=4"
    ]


def test_the_health_check_timeout_must_be_below_the_interval():
    assert problems({"healthCheckTimeoutSeconds": 9, "healthCheckIntervalSeconds": 10}) == []
    assert problems({"healthCheckTimeoutSeconds": 10, "healthCheckIntervalSeconds": 10}) == [
        "healthCheckTimeoutSeconds must be less than healthCheckIntervalSeconds, got 10 >= 10"
    ]


def test_values_are_parsed_into_settings():
    settings = read_settings(
        _raw(
            {
                "activeColor": "green",
                "idleTrafficPercent": 7,
                "allowLiveRelease": "TRUE",
                "idleScaledDown": "False",
                "tags": ["note=a=b", "team=platform"],
                "databaseSchemaVersion": 2,
                "blueSchemaVersions": [1, 2],
                "greenSchemaVersions": [2],
                "vpcId": "vpc-0123456789abcdef0",
                "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
            }
        )
    )
    assert settings.traffic.active_color == "green" and settings.traffic.idle_color == "blue"
    assert settings.traffic.idle_traffic_percent == 7
    assert settings.allow_live_release is True and settings.idle_scaled_down is False
    assert settings.tags == {"note": "a=b", "team": "platform"}  # the first '=' splits
    assert settings.releases["blue"].schema_versions == (1, 2)
    assert settings.network.subnet_ids == ("subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2")


def test_the_whole_refusal_reads_one_problem_a_line():
    with pytest.raises(ConfigError) as caught:
        read_settings(_raw({"activeColor": "red", "appPort": 0}))
    assert str(caught.value) == (
        "invalid stack config:\n"
        "  - activeColor must be 'blue' or 'green', got 'red'\n"
        "  - appPort must be from 1 to 65535, got 0"
    )


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"tags": ["k=" + "v" * 256, "k" * 128 + "=v"]}, None),
        ({"tags": [f"k{i}=v" for i in range(43)]}, None),
        ({"tags": ["team=a", "team=b"]}, "tags sets 'team' twice"),
        ({"tags": ["team=a b", "x=R&D"]}, "tags entry 'x=R&D': value 'R&D' contains '&'; ELB tag keys"),
        ({"tags": ["x=a&b;c"]}, "value 'a&b;c' contains '&' ';'; ELB tag keys and values allow only letters"),
        ({"tags": [" =v"]}, "tags entries must look like Key=Value, got ' =v'"),
        (
            {"tags": [f"k{i}=v" for i in range(45)]},
            "(AWS allows 50 per resource and the program sets up to 7 of its own)",
        ),
        (
            {**VPC, "instanceSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb1"]},
            "instanceSubnetIds lists a subnet twice: ['subnet-0bbbbbbbbbbbbbbb1', 'subnet-0bbbbbbbbbbbbbbb1']",
        ),
        (
            {**VPC, "instanceSubnetIds": ["subnet-x"]},
            "instanceSubnetIds entries must be subnet ids (subnet-...), got 'subnet-x'",
        ),
        (
            {"allowedCidrs": ["10.0.0.0/8", "10.0.0.1/8"]},
            "allowedCidrs entries must be CIDR blocks such as 203.0.113.0/24, got '10.0.0.1/8'",
        ),
        ({"greenSchemaVersions": [True]}, "greenSchemaVersions must be a list of int, got '[true]'"),
        ({"allowedCidrs": [1]}, "allowedCidrs must be a list of str, got '[1]'"),
        ({"allowedCidrs": "0.0.0.0/0"}, "allowedCidrs must be a list of str, got '0.0.0.0/0'"),
        ({"blueSchemaVersions": [0]}, "blueSchemaVersions entries must be positive integers, got 0"),
        ({"idleScaledDown": "maybe"}, "idleScaledDown must be true or false, got 'maybe'"),
    ],
)
def test_each_problem_names_the_key_and_the_value(overrides: dict[str, object], problem: str | None):
    found = problems(overrides)
    if problem is None:
        assert found == []
    else:
        assert any(problem in p for p in found), found


# -- keys of the bluegreen: namespace that nobody reads -------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "named"),
    [
        ("activeColour", "unknown key bluegreen:activeColour (did you mean activeColor?)"),
        ("ActiveColor", "unknown key bluegreen:ActiveColor (did you mean activeColor?)"),
        ("greenrelease", "unknown key bluegreen:greenrelease (did you mean greenRelease?)"),
        ("certificateARN", "unknown key bluegreen:certificateARN (did you mean certificateArn?)"),
        ("teamName", "unknown key bluegreen:teamName; docs/reference/config.md"),
    ],
)
def test_an_unknown_key_is_refused_on_one_line_naming_it_and_the_closest_known_key(key: str, named: str):
    # The typo the issue reports: `activeColour: green` must not leave traffic on blue without a word.
    error, registered = run_failing({key: "green"})

    assert isinstance(error, UnknownKeyError) and isinstance(error, pulumi.RunError), error
    assert "\n" not in str(error)
    assert str(error).startswith("invalid stack config: ") and named in str(error)
    assert registered == []


def test_every_unknown_key_is_named_at_once():
    with pytest.raises(UnknownKeyError) as caught:
        read_settings({**_raw({}), "activeColour": "green", "minsize": "3"})
    assert caught.value.keys == ["activeColour", "minsize"]
    assert caught.value.problems == [
        "unknown key bluegreen:activeColour (did you mean activeColor?)",
        "unknown key bluegreen:minsize (did you mean minSize?)",
    ]


def test_keys_of_other_namespaces_and_the_release_tools_keys_are_not_refused():
    rec = run_program(
        {"blueVerified": "", "rollbackColor": ""},  # the tool's keys, in the bluegreen: namespace
    )
    assert rec.by_name("bluegreen-lb-alb")  # aws:region (always set) and the tool's keys passed


def test_the_program_sees_keys_it_never_asks_for(monkeypatch: pytest.MonkeyPatch):
    # Under the CLI the config map reaches the program as $PULUMI_CONFIG (the exec shim loads it with
    # set_all_config); a key only there is still one of the stack's keys.
    monkeypatch.setenv("PULUMI_CONFIG", '{"bluegreen:activeColuor": "green", "aws:region": "eu-west-1"}')
    assert "activeColuor" in namespace_keys() and "region" not in namespace_keys()


def test_a_program_that_builds_settings_in_python_refuses_an_unknown_key_too(tmp_path: Path):
    # deploy() checks the namespace itself: a program of your own need not call load_settings.
    (tmp_path / "Pulumi.yaml").write_text("name: my-service\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "from bluegreen.program import deploy\n"
        "from bluegreen.settings import Edge, Settings\n"
        "deploy(Settings(edge=Edge(allow_insecure_preview=True)))\n"
    )
    registered: list[Registered] = []

    with pytest.raises(
        UnknownKeyError, match=r"unknown key bluegreen:idleTraficPercent \(did you mean idleTrafficPercent\?\)"
    ):
        run_program({"idleTraficPercent": 10}, project_dir=tmp_path, _registered=registered)
    assert registered == []
    assert run_program({"blueRelease": "v2"}, project_dir=tmp_path).outputs["activeColor"] == "blue"  # known keys pass
