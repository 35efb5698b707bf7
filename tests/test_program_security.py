"""Security properties users rely on: IMDSv2, encryption, who may reach what, TLS."""

from __future__ import annotations

import importlib
import inspect

import pytest
import yaml

from bluegreen.contract import STACK_TAG
from tests.harness import PRODUCTION, PROJECT_DIR, PUBLIC_HOSTNAME, run_failing, run_program

CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123"
EXISTING = {
    "vpcId": "vpc-0123456789abcdef0",
    "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "instanceSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
}


@pytest.fixture(scope="module")
def rec():
    return run_program()


@pytest.mark.parametrize("color", ["blue", "green"])
def test_launch_template_requires_imdsv2_and_encrypts_root_volume(rec, color):
    lt = rec.by_name(f"bluegreen-{color}-lt").inputs
    assert lt["metadataOptions"]["httpTokens"] == "required"
    assert lt["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (root,) = lt["blockDeviceMappings"]
    assert root["ebs"]["encrypted"] == "true"


def test_instances_in_a_created_vpc_use_public_subnets_and_get_a_public_ip(rec):
    lt = rec.by_name("bluegreen-blue-lt").inputs
    assert lt["networkInterfaces"][0]["associatePublicIpAddress"] == "true"
    assert lt["tags"]["bluegreen:subnetTier"] == "public"


def test_instances_in_an_existing_vpc_get_no_public_ip_and_use_instance_subnets():
    rec = run_program(EXISTING)
    assert not rec.of_type("aws:ec2/vpc:Vpc")
    lt = rec.by_name("bluegreen-blue-lt").inputs
    assert lt["networkInterfaces"][0]["associatePublicIpAddress"] == "false"
    assert lt["tags"]["bluegreen:subnetTier"] == "private"
    assert rec.by_name("bluegreen-blue-asg").inputs["vpcZoneIdentifiers"] == EXISTING["instanceSubnetIds"]
    assert rec.by_name("bluegreen-lb-alb").inputs["subnets"] == EXISTING["subnetIds"]


def test_created_network_spans_two_azs_with_an_internet_route(rec):
    subnets = rec.of_type("aws:ec2/subnet:Subnet")
    assert sorted(s.inputs["availabilityZone"] for s in subnets) == ["eu-west-1a", "eu-west-1b"]
    assert rec.by_name("bluegreen-network-route").inputs["destinationCidrBlock"] == "0.0.0.0/0"


def test_instance_security_group_admits_only_the_alb_on_the_app_port(rec):
    instance_sg = rec.by_name("bluegreen-lb-instance-sg").outputs["id"]
    alb_sg = rec.by_name("bluegreen-lb-alb-sg").outputs["id"]
    ingress = [
        r for r in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == instance_sg
    ]  # fmt: skip
    assert len(ingress) == 1
    rule = ingress[0].inputs
    assert rule["referencedSecurityGroupId"] == alb_sg
    assert (rule["fromPort"], rule["toPort"]) == (8080, 8080)
    assert "cidrIpv4" not in rule and "cidrIpv6" not in rule


def test_alb_accepts_listener_ports_from_allowed_cidrs_only():
    rec = run_program(
        {
            "allowedCidrs": ["203.0.113.0/24", "2001:db8::/32"],
            "certificateArn": CERT,
            "publicHostname": "app.example.com",
        }
    )
    alb_sg = rec.by_name("bluegreen-lb-alb-sg").outputs["id"]
    rules = [
        r.inputs for r in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == alb_sg
    ]  # fmt: skip
    seen = {(r["fromPort"], r.get("cidrIpv4") or r.get("cidrIpv6")) for r in rules}
    assert seen == {(p, c) for p in (80, 443) for c in ("203.0.113.0/24", "2001:db8::/32")}


def test_alb_egress_goes_only_to_instances_on_the_app_port():
    rec = run_program({"appPort": 9000})
    egress = rec.by_name("bluegreen-lb-alb-egress-9000").inputs
    assert egress["referencedSecurityGroupId"] == rec.by_name("bluegreen-lb-instance-sg").outputs["id"]
    assert (egress["fromPort"], egress["toPort"]) == (9000, 9000)


def instance_egress(rec) -> set[tuple[str, int, int, str]]:
    instance_sg = rec.by_name("bluegreen-lb-instance-sg").outputs["id"]
    return {
        (
            r.inputs["ipProtocol"],
            r.inputs["fromPort"],
            r.inputs["toPort"],
            r.inputs.get("cidrIpv4") or r.inputs["cidrIpv6"],
        )
        for r in rec.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == instance_sg
    }


def test_instances_may_go_out_on_https_only_by_default(rec):
    # No all-protocols rule: DNS and NTP to Amazon's servers need none (security groups do not filter them).
    assert instance_egress(rec) == {("tcp", 443, 443, "0.0.0.0/0")}


def test_instance_egress_from_config_adds_exactly_those_rules():
    rec = run_program(
        {"instanceEgress": ["tcp:5432:10.0.0.0/16", "udp:53:10.0.0.10/32", "tcp:9000-9100:2001:db8::/32"]}
    )
    assert instance_egress(rec) == {
        ("tcp", 443, 443, "0.0.0.0/0"),
        ("tcp", 5432, 5432, "10.0.0.0/16"),
        ("udp", 53, 53, "10.0.0.10/32"),
        ("tcp", 9000, 9100, "2001:db8::/32"),
    }


@pytest.mark.parametrize(
    "entry",
    [
        "icmp:0:10.0.0.0/16",
        "tcp:0:10.0.0.0/16",
        "tcp:70000:10.0.0.0/16",
        "tcp:443-80:10.0.0.0/16",
        "tcp:443:10.0.0.1/8",
    ],
)
def test_a_bad_instance_egress_entry_is_refused_naming_the_key_and_the_value(entry):
    error, registered = run_failing({"instanceEgress": [entry]})
    assert "instanceEgress entries must be protocol:port[-port]:cidr" in str(error) and repr(entry) in str(error)
    assert registered == []  # nothing half-applied


def test_alb_drops_invalid_header_fields(rec):
    assert rec.by_name("bluegreen-lb-alb").inputs["dropInvalidHeaderFields"] is True


def test_certificate_adds_tls12_https_listener_and_http_redirects():
    rec = run_program({"certificateArn": CERT, "publicHostname": "app.example.com"})
    https = rec.by_name("bluegreen-router-https").inputs
    assert (https["port"], https["protocol"], https["certificateArn"]) == (443, "HTTPS", CERT)
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["defaultActions"][0]["type"] == "forward"
    http = rec.by_name("bluegreen-router-http").inputs
    assert http["defaultActions"] == [
        {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
    ]
    assert rec.outputs["url"].startswith("https://")
    assert rec.outputs["listenerArn"] != rec.outputs["httpListenerArn"]
    for color in ("blue", "green"):
        rule = rec.by_name(f"bluegreen-router-preview-{color}").inputs
        assert rule["listenerArn"] == rec.outputs["listenerArn"]


def test_public_hostname_is_the_url_that_users_and_smoke_tests_reach():
    rec = run_program({"certificateArn": CERT, "publicHostname": "app.example.com"})
    assert rec.outputs["url"] == "https://app.example.com"
    assert rec.outputs["albDnsName"].endswith(".elb.amazonaws.com")


def test_the_gate_probes_the_name_the_certificate_covers_not_the_load_balancers():
    # Before: with certificateArn and no publicHostname the gate probed https://<alb>.elb.amazonaws.com, which no
    # certificate covers, so urllib's name check failed every flip. Now HTTPS needs publicHostname (settings).
    rec = run_program(PRODUCTION)
    assert rec.by_name("bluegreen-gate").inputs["url"] == f"https://{PUBLIC_HOSTNAME}"
    assert rec.outputs["url"] == f"https://{PUBLIC_HOSTNAME}"  # verify and the bake poll go there too


def test_the_gates_https_url_is_known_in_a_preview():
    # It no longer waits for the ALB's DNS name, so `pulumi preview` shows where the gate will probe.
    rec = run_program(PRODUCTION, preview=True)
    assert rec.by_name("bluegreen-gate").inputs["url"] == f"https://{PUBLIC_HOSTNAME}"


def test_without_a_certificate_the_gate_probes_plain_http_at_the_name_given_or_the_alb():
    assert run_program().by_name("bluegreen-gate").inputs["url"].startswith("http://bluegreen-lb-alb-")
    named = run_program({"publicHostname": PUBLIC_HOSTNAME})
    assert named.by_name("bluegreen-gate").inputs["url"] == f"http://{PUBLIC_HOSTNAME}"


@pytest.mark.parametrize("color", ["blue", "green"])
def test_asg_uses_elb_health_checks_and_waits_for_healthy_capacity(rec, color):
    asg = rec.by_name(f"bluegreen-{color}-asg").inputs
    assert asg["healthCheckType"] == "ELB"
    assert asg["healthCheckGracePeriod"] == 120
    assert asg["waitForElbCapacity"] == asg["desiredCapacity"] == 2
    assert asg["waitForCapacityTimeout"] == "10m"
    assert asg["targetGroupArns"] == [rec.outputs[f"{color}TargetGroupArn"]]


def test_target_group_health_check_and_draining_come_from_config():
    rec = run_program({"healthCheckPath": "/ready", "healthCheckMatcher": "200-299", "deregistrationDelaySeconds": 90})
    tg = rec.by_name("bluegreen-blue-tg").inputs
    assert tg["healthCheck"]["path"] == "/ready"
    assert tg["healthCheck"]["matcher"] == "200-299"
    assert tg["deregistrationDelay"] == 90


def test_idle_scaled_down_empties_only_the_idle_asg_and_is_visible_on_the_listener():
    rec = run_program({"idleScaledDown": True})
    green = rec.by_name("bluegreen-green-asg").inputs
    blue = rec.by_name("bluegreen-blue-asg").inputs
    assert (green["minSize"], green["desiredCapacity"], green["waitForElbCapacity"]) == (0, 0, 0)
    assert (blue["minSize"], blue["desiredCapacity"]) == (2, 2)
    assert rec.by_name("bluegreen-router-http").inputs["tags"]["bluegreen:idleScaledDown"] == "true"


@pytest.mark.parametrize("color", ["blue", "green"])
def test_rollback_alarms_watch_5xx_rate_and_p99_latency_with_configured_thresholds(color):
    rec = run_program({"rollbackErrorRatePercent": 2, "rollbackLatencyP99Ms": 750, "alarmEvaluationMinutes": 4})
    rate = rec.by_name(f"bluegreen-{color}-alarms-5xx-rate").inputs
    assert rate["threshold"] == 2 and rate["evaluationPeriods"] == 4
    queries = {q["id"]: q for q in rate["metricQueries"]}
    assert queries["errors"]["metric"]["metricName"] == "HTTPCode_Target_5XX_Count"
    assert queries["requests"]["metric"]["metricName"] == "RequestCount"
    assert queries["rate"]["returnData"] is True and "errors" in queries["rate"]["expression"]
    tg_suffix = rec.by_name(f"bluegreen-{color}-tg").outputs["arnSuffix"]
    assert queries["errors"]["metric"]["dimensions"]["TargetGroup"] == tg_suffix
    latency = rec.by_name(f"bluegreen-{color}-alarms-p99-latency").inputs
    assert (latency["extendedStatistic"], latency["threshold"]) == ("p99", 0.75)
    assert rec.outputs[f"{color}AlarmNames"] == [
        rec.by_name(f"bluegreen-{color}-alarms-{role}").outputs["name"]
        for role in ("5xx-rate", "p99-latency", "healthy-hosts")
    ]


@pytest.mark.parametrize("color", ["blue", "green"])
def test_a_colour_that_answers_nothing_or_loses_its_targets_alarms(color):
    rec = run_program({"desiredCapacity": 3, "rollbackMinHealthyPercent": 60})
    # The ALB's failed connections to a target count as errors: a silent colour is not "0% errors".
    rate = {q["id"]: q for q in rec.by_name(f"bluegreen-{color}-alarms-5xx-rate").inputs["metricQueries"]}
    assert rate["unreachable"]["metric"]["metricName"] == "TargetConnectionErrorCount"
    assert "FILL(unreachable, 0)" in rate["rate"]["expression"]
    healthy = rec.by_name(f"bluegreen-{color}-alarms-healthy-hosts").inputs
    assert (healthy["metricName"], healthy["statistic"], healthy["comparisonOperator"]) == (
        "HealthyHostCount",
        "Minimum",
        "LessThanThreshold",
    )
    assert healthy["threshold"] == 2  # 60% of 3, rounded up
    assert set(healthy["dimensions"]) == {"TargetGroup", "LoadBalancer"}


@pytest.mark.parametrize("color", ["blue", "green"])
def test_no_healthy_host_count_is_a_breach_and_no_requests_are_not(color):
    # A colour that carries weight and reports no HealthyHostCount answers nothing: it must not look fine
    # (issue 21, defect 9; components/alarms.py says why). The request metrics are missing whenever it is quiet.
    rec = run_program({"idleTrafficPercent": 10})
    missing = {
        role: rec.by_name(f"bluegreen-{color}-alarms-{role}").inputs["treatMissingData"]
        for role in ("5xx-rate", "p99-latency", "healthy-hosts")
    }
    assert missing == {"5xx-rate": "notBreaching", "p99-latency": "notBreaching", "healthy-hosts": "breaching"}
    described = rec.by_name(f"bluegreen-{color}-alarms-healthy-hosts").inputs["alarmDescription"]
    assert described.endswith("or no count reported")


def test_the_config_description_and_the_docs_say_what_the_alarms_do_with_missing_data():
    described = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]["rollbackMinHealthyPercent"]
    assert "so does no data (missing data is breaching" in described["description"]
    guide = " ".join((PROJECT_DIR / "docs/release-tool.md").read_text().split())
    assert "or no count reported (missing data is breaching) |" in guide
    assert "its healthy-hosts alarm treats missing data as breaching" in guide


@pytest.mark.parametrize("color", ["blue", "green"])
def test_the_release_health_alarm_is_any_of_the_colours_alarms(color):
    rec = run_program()
    names = rec.outputs[f"{color}AlarmNames"]
    health = rec.by_name(f"bluegreen-{color}-alarms-release-health").inputs
    assert health["alarmRule"] == " OR ".join(f'ALARM("{n}")' for n in names)
    assert health["alarmName"] == f"bluegreen-dev-{color}-release-health"
    assert rec.outputs[f"{color}ReleaseHealthAlarm"] == health["alarmName"]


def _takes_tags(type_token: str) -> bool:
    """Whether the pulumi_aws resource behind `aws:<module>/<name>:<Class>` has a `tags` input."""
    module, cls = type_token.split(":")[1:]
    name = module.split("/")[0]
    module_name = {"index": "pulumi_aws", "lambda": "pulumi_aws.lambda_"}.get(name, f"pulumi_aws.{name}")
    package = importlib.import_module(module_name)  # `lambda` is a keyword: its module is `lambda_`
    return "tags" in inspect.signature(getattr(package, cls)._internal_init).parameters


def test_everything_that_takes_tags_carries_the_stack_tag_the_deploy_role_is_scoped_by(rec):
    untagged = []
    for resource in rec.resources:
        if not resource.type.startswith("aws:") or not _takes_tags(resource.type):
            continue
        tags = resource.inputs.get("tags")
        if isinstance(tags, list):  # an Auto Scaling group: key/value/propagateAtLaunch, and it reaches instances
            found = {t["key"]: (t["value"], t["propagateAtLaunch"]) for t in tags}.get(STACK_TAG)
            ok = found == ("bluegreen/dev", True)
        else:
            ok = (tags or {}).get(STACK_TAG) == "bluegreen/dev"
        if not ok:
            untagged.append(resource.name)
    assert untagged == []


def test_without_a_certificate_the_preview_route_is_refused_unless_the_stack_allows_plain_http():
    error, registered = run_failing({"allowInsecurePreview": False})
    assert "certificateArn is empty, so the preview route and its token would be served over plain HTTP" in str(error)
    assert registered == []  # refused before anything is registered

    insecure = run_program()  # Pulumi.dev.yaml allows it, and every update says so
    assert [m for level, m in insecure.logs if level == "warning" and m.startswith("INSECURE PREVIEW")]
    assert insecure.outputs["allowInsecurePreview"] is True  # the release tool sends the token over http only then

    secure = run_program({"certificateArn": CERT, "publicHostname": "app.example.com", "allowInsecurePreview": False})
    assert not [m for _, m in secure.logs if "INSECURE PREVIEW" in m]
    assert secure.outputs["allowInsecurePreview"] is False
