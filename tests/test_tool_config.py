"""Pure parts of the release tool: config parsing and weights, ramps, verification records, smoke checks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from bluegreen.aws import describe_metric
from bluegreen.errors import ConfigValueError, UsageError
from bluegreen.outputs import StackOutputs
from bluegreen.smoke import Check, CheckSuite, Response, evaluate, load_checks, run_checks
from bluegreen.stack_files import PROJECT_DIR
from bluegreen.stackconfig import VerifiedRecord, parse_config, parse_ramp, weights_for
from bluegreen.watch import smoke_base_url
from tests.moto_server import SMOKE_CHECKS_YAML, base_config, program_weights


def test_weights_match_the_program() -> None:
    for active in ("blue", "green"):
        for percent in (0, 10, 50):
            config = base_config(activeColor=active, idleTrafficPercent=str(percent))
            assert parse_config(config).weights() == program_weights(config)
    assert weights_for("green", 10) == {"green": 90, "blue": 10}


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("rollbackColor", "red", "use blue or green"),
        ("greenVerified", "{not json", "a record written by `bluegreen verify`"),
    ],
)
def test_tool_key_errors_name_key_value_and_allowed(key: str, value: str, allowed: str) -> None:
    with pytest.raises(ConfigValueError) as raised:
        parse_config(base_config(**{key: value}))

    assert raised.value.key == key
    assert raised.value.value == value
    assert f"bluegreen:{key}=" in raised.value.message
    assert allowed in raised.value.message


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("activeColor", "purple", "activeColor must be 'blue' or 'green', got 'purple'"),
        ("idleTrafficPercent", "60", "idleTrafficPercent must be from 0 to 50, got 60"),
        ("idleTrafficPercent", "ten", "idleTrafficPercent must be an integer from 0 to 50, got 'ten'"),
        ("greenRelease", " v2", "greenRelease must be a non-empty label"),
        ("blueImageId", "ubuntu", "blueImageId must be empty or an AMI id (ami-...), got 'ubuntu'"),
        ("bakeMinutes", "-1", "bakeMinutes must be from 0 to 1440, got -1"),
        ("idleScaledDown", "yes", "idleScaledDown must be true or false, got 'yes'"),
    ],
)
def test_program_keys_are_validated_exactly_as_the_program_does(key: str, value: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_config(base_config(**{key: value}))

    assert message in raised.value.message
    assert any(message in problem for problem in raised.value.details["problems"])


def test_an_unknown_key_is_refused_by_the_tool_as_by_the_program() -> None:
    with pytest.raises(UsageError) as raised:
        parse_config(base_config(activeColour="green"))

    assert "unknown key bluegreen:activeColour (did you mean activeColor?)" in raised.value.message
    assert "\n" not in raised.value.message
    assert raised.value.details["problems"] == ["unknown key bluegreen:activeColour (did you mean activeColor?)"]


def test_missing_keys_take_the_pulumi_yaml_defaults_like_the_cli() -> None:
    config = base_config()
    del config["bakeMinutes"]

    assert parse_config(config).bake_minutes == 15  # Pulumi.yaml's default


def test_ramp_steps() -> None:
    assert parse_ramp("10, 50") == [10, 50]
    assert parse_ramp("") == []
    for bad, message in (("10,5", "increase"), ("0", "from 1 to 50"), ("x", "integers"), ("60", "from 1 to 50")):
        with pytest.raises(ConfigValueError, match=message):
            parse_ramp(bad)


def test_verified_record_is_bound_to_release_image_and_user_data() -> None:
    record = VerifiedRecord("v2", "ami-0123456789abcdef0", "hash1", "sha256:x", "2026-01-01T00:00:00Z")
    back = VerifiedRecord.from_wire("greenVerified", record.to_wire())

    assert back == record
    assert back.matches("v2", "ami-0123456789abcdef0", "hash1")
    assert not back.matches("v3", "ami-0123456789abcdef0", "hash1")
    assert not back.matches("v2", "ami-0fedcba9876543210", "hash1")
    assert not back.matches("v2", "ami-0123456789abcdef0", "hash2")
    assert back.matches("v2", "", "")  # outputs without image/hash compare on release only
    assert VerifiedRecord.from_wire("greenVerified", "") is None


def test_checks_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "checks.yaml"
    path.write_text(SMOKE_CHECKS_YAML)

    suite = load_checks(path)

    assert [c.name for c in suite.checks] == ["health", "version"]
    assert suite.attempts == 2
    assert suite.checks[1].headers == {"X-App-Version": "{release}"}
    assert suite.digest.startswith("sha256:")


def test_checks_file_may_be_json(tmp_path: Path) -> None:
    path = tmp_path / "checks.json"
    path.write_text('{"checks": [{"path": "/version", "bodyContains": "{release}"}]}')

    assert load_checks(path).checks == (Check(name="/version", path="/version", body_contains="{release}"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("checks: []", "checks=[] is not allowed: a non-empty list"),
        ("checks: [{path: health}]", "checks[0].path='health' is not allowed: a path starting with /"),
        ("checks: [{path: /a, status: 99}]", "checks[0].status=99"),
        ("checks: [{path: /a, bodyRegex: '('}]", "checks[0].bodyRegex='('"),
        ("checks: [{path: /a, expect: 1}]", "checks[0].expect=1"),
        ("attempts: 0\nchecks: [{path: /a}]", "attempts=0 is not allowed: an integer from 1 to 20"),
        ("retries: 3\nchecks: [{path: /a}]", "key='retries'"),
        ("- /a", "top level='list'"),
        ("checks: [{path: /a}, {path: /a}]", "unique names"),
        (
            "checks: [{path: /health}, {path: /version, bodyContains: v2}]",
            "no check expects {release}, {color} or {imageId}, so the checks would pass whichever colour answered",
        ),
    ],
)
def test_bad_checks_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "checks.yaml"
    path.write_text(text)

    with pytest.raises(UsageError) as raised:
        load_checks(path)

    assert message in raised.value.message
    assert str(path) in raised.value.message


def test_missing_checks_file() -> None:
    with pytest.raises(UsageError, match="cannot read checks file"):
        load_checks(Path("/nonexistent/checks.yaml"))


def test_evaluate_status_body_and_headers() -> None:
    check = Check(
        "v", "/version", 200, body_contains="{release}", body_regex=r"\d+\.\d+", headers={"X-App": "{release}"}
    )
    good = Response(200, {"x-app": "2.1"}, '{"version": "2.1"}')

    assert evaluate(check, good, {"release": "2.1"}) is None
    assert evaluate(check, Response(503, {}, ""), {"release": "2.1"}) == "status 503, expected 200"
    assert "does not contain '2.2'" in str(evaluate(check, good, {"release": "2.2"}))
    assert "header X-App: None" in str(evaluate(check, Response(200, {}, "2.1"), {"release": "2.1"}))


def test_run_checks_retries_a_bounded_number_of_times() -> None:
    replies = [Response(502, {}, ""), Response(502, {}, ""), Response(200, {}, "ok")]
    slept: list[float] = []
    seen: list[tuple[str, dict[str, str]]] = []

    def fetch(url: str, headers: Mapping[str, str], timeout: float) -> Response:
        seen.append((url, dict(headers)))
        return replies.pop(0) if replies else Response(502, {}, "")

    suite = CheckSuite(checks=(Check("health", "/health"),), attempts=3, interval_seconds=2.0)
    ok = run_checks(suite, "http://alb/", {"X-Bluegreen-Color": "green"}, {}, sleep=slept.append, fetch=fetch)
    failed = run_checks(suite, "http://alb", {}, {}, sleep=slept.append, fetch=fetch)

    assert ok[0].ok and ok[0].attempts == 3
    assert seen[0] == ("http://alb/health", {"X-Bluegreen-Color": "green"})
    assert not failed[0].ok and failed[0].attempts == 3
    assert len(seen) == 6
    assert slept == [2.0, 2.0, 2.0, 2.0]


def test_alarm_window_is_read_through_the_programs_settings() -> None:
    assert parse_config(base_config()).alarm_window_seconds == (3 + 2) * 60  # Pulumi.yaml's default
    assert parse_config(base_config(alarmEvaluationMinutes="4")).alarm_window_seconds == 360
    with pytest.raises(UsageError, match="alarmEvaluationMinutes must be from 1 to 60, got 0"):
        parse_config(base_config(alarmEvaluationMinutes="0"))


def test_parse_config_takes_the_defaults_of_the_given_project(tmp_path: Path) -> None:
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    declared["config"]["bakeMinutes"]["default"] = 7
    (tmp_path / "Pulumi.yaml").write_text(yaml.safe_dump(declared))
    config = base_config()
    del config["bakeMinutes"]

    assert parse_config(config, project_dir=tmp_path).bake_minutes == 7
    assert parse_config(config).bake_minutes == 15


@pytest.mark.parametrize(
    ("url", "override", "expected"),
    [
        (
            "http://bluegreen-lb-alb-1.us-east-1.elb.amazonaws.com",
            None,
            "http://bluegreen-lb-alb-1.us-east-1.elb.amazonaws.com",
        ),
        ("https://app.example.com", None, "https://app.example.com"),
        ("https://x-1.us-east-1.elb.amazonaws.com", "https://app.example.com", "https://app.example.com"),
    ],
)
def test_smoke_base_url(url: str, override: str | None, expected: str) -> None:
    assert smoke_base_url(StackOutputs({"url": url, "allowInsecurePreview": True}), override) == expected


@pytest.mark.parametrize(
    ("url", "override"),
    [("http://app.example.com", None), ("https://app.example.com", "http://app.example.com")],
    ids=["stack-url", "base-url"],
)
def test_the_preview_token_is_never_sent_over_http_unless_the_stack_allows_it(url: str, override: str | None) -> None:
    with pytest.raises(UsageError, match="must not cross the network in clear text") as raised:
        smoke_base_url(StackOutputs({"url": url, "allowInsecurePreview": False}), override)
    assert "bluegreen:certificateArn" in raised.value.message and "allowInsecurePreview" in raised.value.message

    warnings: list[str] = []
    allowed = StackOutputs({"url": url, "allowInsecurePreview": True})
    assert smoke_base_url(allowed, override, warnings.append) == override or url
    assert warnings == [f"INSECURE PREVIEW: {override or url} is plain HTTP; the preview token travels in clear text "
                        "(allowInsecurePreview)"]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "override", "message"),
    [
        (
            "https://x-1.us-east-1.elb.amazonaws.com",
            None,
            "stack output url='https://x-1.us-east-1.elb.amazonaws.com': ",
        ),
        ("https://X-1.cn-north-1.ELB.amazonaws.com.cn.", None, "cannot reach the load balancer by its own DNS name"),
        ("http://app.example.com", "https://x-1.eu-west-1.elb.amazonaws.com/", "--base-url='https://x-1.eu-west-1"),
        ("http://app.example.com", "app.example.com", "--base-url='app.example.com' is not allowed: an http:// or"),
        ("ftp://app.example.com", None, "stack output url='ftp://app.example.com' is not allowed"),
    ],
)
def test_smoke_base_url_refusals(url: str, override: str | None, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        smoke_base_url(StackOutputs({"url": url, "allowInsecurePreview": True}), override)

    assert message in raised.value.message


def test_metric_math_alarms_are_described_by_their_expression() -> None:
    plain = {
        "Namespace": "AWS/ApplicationELB",
        "MetricName": "TargetResponseTime",
        "ExtendedStatistic": "p99",
        "Period": 60,
    }
    composite = {"AlarmRule": 'ALARM("a") OR ALARM("b")'}
    no_label = {
        "Metrics": [
            {"Id": "e", "MetricStat": {"Metric": {"Namespace": "N", "MetricName": "M"}, "Period": 300, "Stat": "Sum"}},
            {"Id": "r", "Expression": "e * 2"},
        ]
    }

    assert describe_metric(plain) == "AWS/ApplicationELB TargetResponseTime p99/60s"
    assert describe_metric(composite) == 'rule ALARM("a") OR ALARM("b")'
    assert describe_metric(no_label) == "r = e * 2 (where e = N M Sum/300s)"
