"""Helpers for the release tool's tests and benchmark: a real moto server, the AWS world the
program would create, a Pulumi engine double, a smoke-target HTTP server and a fake clock.

Everything listens on 127.0.0.1 only; credentials are fake.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import logging
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from bluegreen.contract import COLORS as PROGRAM_COLORS
from bluegreen.contract import Color, traffic_weights
from bluegreen.engine import OperationResult, OutputSink, preview_failed
from bluegreen.errors import EngineError, StackLockedError
from bluegreen.guardian_record import check_guardian_record, parse_record
from bluegreen.guardian_state import deployment_generation, guardian_state
from bluegreen.preview_token import MAX_VALUES_PER_CONDITION, MAX_VALUES_PER_RULE, accepted_tokens, token_keepers
from bluegreen.release_guard import (
    GuardResult,
    ReleaseGuardError,
    check_release,
    deployed_state,
    instance_subnet_tier,
)
from bluegreen.release_spec import ReleaseSpec
from bluegreen.rollback_target import RollbackTarget
from bluegreen.safety import EmergencyOverrideError, check_emergency_overrides, emergency_overrides
from bluegreen.settings import ConfigError as SettingsError
from bluegreen.settings import Settings, read_settings
from bluegreen.stack_files import with_defaults
from bluegreen.user_data import boot_script_fingerprint

REGION = "us-east-1"
COLORS = ("blue", "green")
PREVIEW_COLOR_HEADER = "X-Bluegreen-Color"
PREVIEW_TOKEN_HEADER = "X-Bluegreen-Token"
PREVIEW_TOKEN = "preview-token-0123456789abcdef"  # generation 1's token; each rotation makes another
PREVIEW_PRIORITY = {"blue": 10, "green": 20}  # components/router.py
MOTO_AMI = "ami-03cf127a"
RATE_EXPRESSION = "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"  # components/alarms.py
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


# ---------------------------------------------------------------- moto server


def _describe_alarm_history(self: Any) -> Any:
    """DescribeAlarmHistory's StateUpdate items, which moto 5.2 does not serve.

    moto keeps, per alarm, the state each SetAlarmState replaced (`Alarm.history`); each transition
    here is one of those followed by the state that replaced it. The item shape (a HistoryData JSON
    with `oldState`/`newState`, a summary "Alarm updated from OK to ALARM") is the AWS CLI's
    describe-alarm-history example. Filters: AlarmName, HistoryItemType, StartDate/EndDate
    (inclusive), ScanBy. One page: a test alarm has a handful of transitions.
    """
    from moto.core.responses import ActionResult

    name = self._get_param("AlarmName")
    item_type = self._get_param("HistoryItemType")
    start, end = self._get_param("StartDate"), self._get_param("EndDate")
    items: list[dict[str, Any]] = []
    for alarm in self.cloudwatch_backend.alarms.values():
        if name and alarm.name != name:
            continue
        states = [(h[3], h[1], h[2], h[4]) for h in alarm.history if h[0] == "StateUpdate"]
        states.append((alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp))
        for old, new in itertools.pairwise(states):
            stamp = new[3] if isinstance(new[3], datetime) else datetime.fromisoformat(str(new[3]))
            stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
            if (start and stamp < _as_time(start)) or (end and stamp > _as_time(end)):
                continue
            new_state: dict[str, Any] = {"stateValue": new[0], "stateReason": new[1]}
            if new[2]:
                new_state["stateReasonData"] = json.loads(new[2])
            data = {"version": "1.0", "oldState": {"stateValue": old[0], "stateReason": old[1]}, "newState": new_state}
            items.append(
                {
                    "AlarmName": alarm.name,
                    "AlarmType": "CompositeAlarm" if alarm.rule else "MetricAlarm",
                    "Timestamp": stamp,
                    "HistoryItemType": "StateUpdate",
                    "HistorySummary": f"Alarm updated from {old[0]} to {new[0]}",
                    "HistoryData": json.dumps(data),
                }
            )
    if item_type and item_type != "StateUpdate":
        items = []
    items.sort(key=lambda i: i["Timestamp"], reverse=self._get_param("ScanBy") != "TimestampAscending")
    return ActionResult({"AlarmHistoryItems": items})


def _as_time(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _model_alarm_history() -> None:
    from moto.cloudwatch.responses import CloudWatchResponse

    if not hasattr(CloudWatchResponse, "describe_alarm_history"):
        CloudWatchResponse.describe_alarm_history = _describe_alarm_history  # type: ignore[attr-defined]


class MotoServer:
    """A ThreadedMotoServer on 127.0.0.1 with a free port."""

    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        _model_alarm_history()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""

    def start(self) -> MotoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as reply:
            reply.read()

    def stop(self) -> None:
        self._server.stop()

    def env(self) -> dict[str, str]:
        return {**FAKE_ENV, "AWS_ENDPOINT_URL": self.endpoint}


@contextmanager
def patched_env(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in [*values, "AWS_PROFILE"]}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@functools.cache
def client(service: str, endpoint: str) -> Any:
    """One client per service and endpoint (creating one costs ~0.1 s; they are thread-safe)."""
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# ---------------------------------------------------------------- the AWS world


@dataclass
class World:
    """What the Pulumi program would have created, built with boto3 against moto."""

    endpoint: str
    listener_arn: str
    load_balancer_arn: str
    dns_name: str
    target_groups: dict[str, str]
    asg_names: dict[str, str]
    alarm_names: dict[str, list[str]]
    image_id: str
    # Each colour's composite release-health alarm, by name: what the guardian's events carry.
    release_health_alarms: dict[str, str] = field(
        default_factory=lambda: {c: f"bluegreen-{c}-alarms-release-health" for c in COLORS}
    )

    def elbv2(self) -> Any:
        return client("elbv2", self.endpoint)

    def live_weights(self) -> dict[str, int]:
        actions = self.elbv2().describe_listeners(ListenerArns=[self.listener_arn])["Listeners"][0]["DefaultActions"]
        by_arn = {g["TargetGroupArn"]: g["Weight"] for g in actions[0]["ForwardConfig"]["TargetGroups"]}
        return {color: by_arn[self.target_groups[color]] for color in COLORS}

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Change the listener behind Pulumi's back (drift)."""
        set_listener(self.elbv2(), self.listener_arn, self.target_groups, weights, 0)

    def set_alarm(self, name: str, state: str, value: float = 7.0) -> None:
        client("cloudwatch", self.endpoint).set_alarm_state(
            AlarmName=name,
            StateValue=state,
            StateReason=f"Threshold Crossed: 1 datapoint [{value}] was greater than the threshold (5.0).",
            StateReasonData=json.dumps({"version": "1.0", "recentDatapoints": [value], "threshold": 5.0}),
        )

    def instances(self, color: str) -> list[str]:
        groups = client("autoscaling", self.endpoint).describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.asg_names[color]]
        )["AutoScalingGroups"]
        return [i["InstanceId"] for i in groups[0]["Instances"]]

    def stop_instances(self, color: str) -> None:
        """moto reports stopped instances as `unused` (not healthy) in describe_target_health."""
        client("ec2", self.endpoint).stop_instances(InstanceIds=self.instances(color))

    def stop_some_instances(self, color: str, count: int) -> None:
        client("ec2", self.endpoint).stop_instances(InstanceIds=self.instances(color)[:count])

    def start_instances(self, color: str) -> None:
        client("ec2", self.endpoint).start_instances(InstanceIds=self.instances(color))


def set_listener(
    elbv2: Any, listener_arn: str, target_groups: Mapping[str, str], weights: Mapping[str, int], stickiness: int
) -> None:
    elbv2.modify_listener(
        ListenerArn=listener_arn,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": target_groups[c], "Weight": weights[c]} for c in COLORS],
                    "TargetGroupStickinessConfig": {"Enabled": stickiness > 0, "DurationSeconds": max(stickiness, 1)},
                },
            }
        ],
    )


def build_world(endpoint: str, desired: int = 2) -> World:
    ec2 = client("ec2", endpoint)
    elbv2 = client("elbv2", endpoint)
    autoscaling = client("autoscaling", endpoint)
    cloudwatch = client("cloudwatch", endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    lb = elbv2.create_load_balancer(Name="bluegreen-lb-alb", Subnets=subnets)["LoadBalancers"][0]
    target_groups = {
        color: elbv2.create_target_group(
            Name=f"bluegreen-{color}-tg",
            Protocol="HTTP",
            Port=8080,
            VpcId=vpc,
            TargetType="instance",
            HealthCheckPath="/health",
        )["TargetGroups"][0]["TargetGroupArn"]
        for color in COLORS
    }
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    set_listener(elbv2, listener, target_groups, {"blue": 100, "green": 0}, 0)
    # One of moto's built-in AMIs; listing them all takes seconds.
    image = ec2.describe_images(ImageIds=[MOTO_AMI])["Images"][0]["ImageId"]
    asg_names: dict[str, str] = {}
    alarm_names: dict[str, list[str]] = {}
    for color in COLORS:
        template = ec2.create_launch_template(
            LaunchTemplateName=f"bluegreen-{color}-lt",
            LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"},
        )["LaunchTemplate"]["LaunchTemplateId"]
        asg_names[color] = f"bluegreen-{color}-asg"
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=asg_names[color],
            LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
            MinSize=0,
            MaxSize=4,
            DesiredCapacity=desired,
            TargetGroupARNs=[target_groups[color]],
            VPCZoneIdentifier=",".join(subnets),
            HealthCheckType="ELB",
            HealthCheckGracePeriod=120,
        )
        alarm_names[color] = []
        dimensions = [{"Name": "TargetGroup", "Value": target_groups[color].split(":")[-1]}]
        # As components/alarms.py builds them: the 5xx *rate* is metric math over two queries,
        # p99 latency a plain metric with an extended statistic.
        rate = f"bluegreen-{color}-alarms-5xx-rate"
        cloudwatch.put_metric_alarm(
            AlarmName=rate,
            EvaluationPeriods=3,
            DatapointsToAlarm=3,
            Threshold=5.0,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
            Metrics=[
                *(
                    {
                        "Id": query_id,
                        "ReturnData": False,
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/ApplicationELB",
                                "MetricName": metric,
                                "Dimensions": dimensions,
                            },
                            "Period": 60,
                            "Stat": "Sum",
                        },
                    }
                    for query_id, metric in (("errors", "HTTPCode_Target_5XX_Count"), ("requests", "RequestCount"))
                ),
                {
                    "Id": "rate",
                    "Expression": RATE_EXPRESSION,
                    "Label": "5xx rate (%)",
                    "ReturnData": True,
                },
            ],
        )
        latency = f"bluegreen-{color}-alarms-p99-latency"
        cloudwatch.put_metric_alarm(
            AlarmName=latency,
            Namespace="AWS/ApplicationELB",
            MetricName="TargetResponseTime",
            ExtendedStatistic="p99",
            Period=60,
            EvaluationPeriods=3,
            DatapointsToAlarm=3,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
            Dimensions=dimensions,
        )
        for name in (rate, latency):
            cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="Threshold not crossed")
            alarm_names[color].append(name)
    return World(
        endpoint=endpoint,
        listener_arn=listener,
        load_balancer_arn=lb["LoadBalancerArn"],
        dns_name=lb["DNSName"],
        target_groups=target_groups,
        asg_names=asg_names,
        alarm_names=alarm_names,
        image_id=image,
    )


# ---------------------------------------------------------------- the Pulumi engine double


def base_config(**overrides: str) -> dict[str, str]:
    config = {
        "activeColor": "blue",
        "idleTrafficPercent": "0",
        "blueRelease": "v1",
        "greenRelease": "v1",
        "blueImageId": "",
        "greenImageId": "",
        "desiredCapacity": "2",
        "idleScaledDown": "false",
        "stickinessSeconds": "0",
        "allowInsecurePreview": "true",  # no certificate here: the preview route is plain HTTP, as in Pulumi.dev.yaml
        "bakeMinutes": "2",
        "allowLiveRelease": "false",
        "rollbackColor": "",
        "blueVerified": "",
        "greenVerified": "",
    }
    config.update(overrides)
    return config


def program_weights(config: Mapping[str, str]) -> dict[str, int]:
    """What `pulumi up` would set: the program's own weight function."""
    active: Color = "green" if config["activeColor"] == "green" else "blue"
    return {str(c): w for c, w in traffic_weights(active, int(config["idleTrafficPercent"])).items()}


UpHook = Callable[["FakeEngine", int], None]

# Where the program's Guardian component keeps its state and record (`/bluegreen/<project>/<stack>/…`).
GUARDIAN_STATE_PARAMETER = "/bluegreen/bluegreen/test/guardian-state"
GUARDIAN_RECORD_PARAMETER = "/bluegreen/bluegreen/test/guardian-record"
DECISION_LOG_PARAMETER = "/bluegreen/bluegreen/test/decisions"


@dataclass
class FakeEngine:
    """The `Engine` Protocol backed by moto: `up` applies what the program would.

    `up` previews first, as `AutomationEngine.up` does; a failed preview (a `before_preview` hook
    raising, standing in for a mandatory policy violation, or the program refusing) raises
    PreviewFailedError and the update never starts. The program's decisions are the program's own
    code: config is validated with `bluegreen.settings.read_settings` (over Pulumi.yaml's
    defaults, as the CLI applies them) and the release guard is `bluegreen.release_guard.check_release`
    against a `DeployedState` built from the current outputs, so refusals match the real program.
    `latest_image` is what the program's AMI lookup returns. Hooks let a scenario fail or interrupt
    the n-th preview or update before or after it reaches AWS.
    """

    world: World
    config_values: dict[str, str] = field(default_factory=base_config)
    stack_name: str = "test"
    before_preview: UpHook | None = None
    before_up: UpHook | None = None
    after_up: UpHook | None = None
    while_applying: UpHook | None = None
    on_read: Callable[[str], None] | None = None  # told "<config>" / "<outputs>" on each read
    up_count: int = 0
    preview_count: int = 0
    messages: list[str] = field(default_factory=list)
    outputs_values: dict[str, Any] = field(default_factory=dict)
    url: str = ""
    latest_image: str = ""
    _images: dict[str, str] = field(default_factory=dict)
    _specs: dict[str, ReleaseSpec] = field(default_factory=dict)
    _target: RollbackTarget | None = None
    _generation: int = 1  # `bluegreen.guardian_state.deployment_generation`, as the program computes it
    _settings: Settings | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # The preview token (`random.RandomPassword`): a new one whenever its keepers change.
    _token: str = PREVIEW_TOKEN
    _token_keepers: dict[str, str] | None = None
    _tokens_made: int = 1
    _preview_rules: dict[str, str] = field(default_factory=dict)  # colour -> listener rule ARN

    def __post_init__(self) -> None:
        self._elbv2 = client("elbv2", self.world.endpoint)
        self._autoscaling = client("autoscaling", self.world.endpoint)
        self._ssm = client("ssm", self.world.endpoint)
        self.latest_image = self.latest_image or self.world.image_id
        settings, guard = self._program()  # the first deploy
        self._settings = settings
        self._images = {str(c): image for c, image in guard.image_ids.items()}
        self._specs = self._release_specs(settings, guard)
        self._token_keepers = token_keepers(settings.edge.preview_token_generation)
        self._write_preview_rules(accepted_tokens(self._token, None))
        self.publish()

    # -- Engine protocol
    def outputs(self) -> dict[str, Any]:
        if self.on_read:
            self.on_read("<outputs>")
        return dict(self.outputs_values)

    def config(self) -> dict[str, str]:
        if self.on_read:
            self.on_read("<config>")
        return dict(self.config_values)

    def set_config(self, values: Mapping[str, str]) -> None:
        self.config_values.update(values)

    def up(self, message: str, on_output: OutputSink) -> OperationResult:
        if not self._lock.acquire(blocking=False):
            raise StackLockedError(f"stack {self.stack_name!r} is currently locked by another update")
        try:
            try:
                self._preview(on_output)
            except EngineError as exc:
                raise preview_failed(exc) from exc
            self.up_count += 1
            self.messages.append(message)
            on_output(f"Updating ({self.stack_name}): {message}")
            if self.before_up:
                self.before_up(self, self.up_count)
            settings, guard = self._program(on_output)
            if self.while_applying:  # after the program ran, before the update reaches the listener
                self.while_applying(self, self.up_count)
            weights = program_weights(self.config_values)
            set_listener(
                self._elbv2,
                self.world.listener_arn,
                self.world.target_groups,
                weights,
                settings.traffic.stickiness_seconds,
            )
            self._scale()
            # The preview rules, as `components/router.py` builds them: the new token, and the deployed one
            # while they differ (the program reads it from the last outputs, as here).
            deployed, _ = deployed_state(self.outputs_values, settings.allow_live_release)
            self._make_token(settings)
            self._write_preview_rules(accepted_tokens(self._token, deployed.preview_token if deployed else None))
            self._images = {str(c): image for c, image in guard.image_ids.items()}
            self._specs = self._release_specs(settings, guard)
            self._target = guard.rollback_target
            self._generation = deployment_generation(deployed, settings, guard.rollback_target)
            self._settings = settings
            self.publish()
            on_output(f"weights blue={weights['blue']} green={weights['green']}")
            if self.after_up:
                self.after_up(self, self.up_count)
            return OperationResult(changes={"update": 1, "same": 30}, outputs=dict(self.outputs_values))
        finally:
            self._lock.release()

    def preview(self, on_output: OutputSink) -> OperationResult:
        if self._lock.locked():
            raise StackLockedError(f"stack {self.stack_name!r} is currently locked by another update")
        return self._preview(on_output)

    def _preview(self, on_output: OutputSink) -> OperationResult:
        self.preview_count += 1
        on_output("Previewing update")
        if self.before_preview:
            self.before_preview(self, self.preview_count)
        self._program(on_output)  # the program runs in a preview too, so its refusals fail it
        return OperationResult(changes={"same": 31})

    # -- helpers for scenarios
    @contextmanager
    def held_lock(self) -> Iterator[None]:
        """Another process holds the stack lock."""
        with self._lock:
            yield

    def _program(self, on_output: OutputSink | None = None) -> tuple[Settings, GuardResult]:
        """What `__main__.py` decides before it registers anything: settings, then the release guard."""
        wire = with_defaults(self.config_values)
        try:
            settings = read_settings(wire)
            previous, state_warnings = deployed_state(self.outputs_values, settings.allow_live_release)
            if previous is not None and previous.guardian_record_parameter:  # as `bluegreen.program.deploy`
                record = parse_record(self.parameter(previous.guardian_record_parameter))
                check_guardian_record(settings, previous.guardian_state_id, record, previous.guardian_generation)
            check_emergency_overrides(settings, previous.emergency_overrides if previous is not None else None)
            guard = check_release(settings, previous, lambda: self.latest_image)
        except (SettingsError, ReleaseGuardError, EmergencyOverrideError) as exc:
            raise EngineError(f"pulumi up failed: the program refused this update:\n{exc}") from exc
        for line in [*state_warnings, *guard.warnings]:
            if on_output:
                on_output(f"warning: {line}")
        return settings, guard

    def _make_token(self, settings: Settings) -> None:
        """`random.RandomPassword`: new keepers (a new previewTokenGeneration) make a new token."""
        keepers = token_keepers(settings.edge.preview_token_generation)
        if keepers != self._token_keepers:
            self._tokens_made += 1
            digest = hashlib.sha256(str(keepers).encode()).hexdigest()[:12]
            self._token = f"preview-token-{self._tokens_made:04d}-{digest}"
            self._token_keepers = keepers

    def _write_preview_rules(self, tokens: list[str]) -> None:
        """Each colour's preview rule on the production listener (CreateRule, then ModifyRule), matching the colour
        header and any of `tokens`. moto does not enforce the ELB quotas on condition values; AWS would refuse."""
        assert len(tokens) <= MAX_VALUES_PER_CONDITION and 1 + len(tokens) <= MAX_VALUES_PER_RULE, tokens
        for color in COLORS:
            conditions = [
                {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": name, "Values": values}}
                for name, values in ((PREVIEW_COLOR_HEADER, [color]), (PREVIEW_TOKEN_HEADER, tokens))
            ]
            if color in self._preview_rules:
                self._elbv2.modify_rule(RuleArn=self._preview_rules[color], Conditions=conditions)
                continue
            created = self._elbv2.create_rule(
                ListenerArn=self.world.listener_arn,
                Priority=PREVIEW_PRIORITY[color],
                Conditions=conditions,
                Actions=[{"Type": "forward", "TargetGroupArn": self.world.target_groups[color]}],
            )
            self._preview_rules[color] = created["Rules"][0]["RuleArn"]

    def _scale(self) -> None:
        active = self.config_values["activeColor"]
        desired = int(self.config_values["desiredCapacity"])
        for color in COLORS:
            scaled_down = color != active and self.config_values.get("idleScaledDown") == "true"
            self._autoscaling.set_desired_capacity(
                AutoScalingGroupName=self.world.asg_names[color], DesiredCapacity=0 if scaled_down else desired
            )

    def publish(self) -> None:
        """Outputs as the program exports them after an update."""
        cfg = self.config_values
        weights = program_weights(cfg)
        out: dict[str, Any] = {
            "url": self.url or f"http://{self.world.dns_name}",
            # No certificate in the test world: the stack allows a plain HTTP preview route, as the dev stack does.
            "allowInsecurePreview": True,
            "albDnsName": self.world.dns_name,
            "loadBalancerArn": self.world.load_balancer_arn,
            "listenerArn": self.world.listener_arn,
            "httpListenerArn": self.world.listener_arn,
            "activeColor": cfg["activeColor"],
            "idleColor": "green" if cfg["activeColor"] == "blue" else "blue",
            "previewColorHeader": PREVIEW_COLOR_HEADER,
            "previewTokenHeader": PREVIEW_TOKEN_HEADER,
            "previewToken": self._token,
            "idleScaledDown": cfg.get("idleScaledDown") == "true",
        }
        for color in COLORS:
            image = self._images[color]
            out[f"{color}Weight"] = weights[color]
            out[f"{color}TargetGroupArn"] = self.world.target_groups[color]
            out[f"{color}AsgName"] = self.world.asg_names[color]
            out[f"{color}Release"] = cfg[f"{color}Release"]
            out[f"{color}ImageId"] = image
            out[f"{color}UserDataHash"] = hashlib.sha256(f"{cfg[f'{color}Release']}|{image}".encode()).hexdigest()[:16]
            out[f"{color}AlarmNames"] = list(self.world.alarm_names[color])
            if color in self._specs:
                out[f"{color}SchemaVersions"] = list(self._specs[color].schema_versions)
                out[f"{color}Spec"] = self._specs[color].to_output()
        out["rollbackTarget"] = self._target.to_output() if self._target is not None else {}
        if self._settings is not None:
            # The Guardian component's state parameter, as `BlueGreenService._guardian_state` builds it.
            state = guardian_state(
                self._settings,
                self._target,
                {c: spec.fingerprint for c, spec in self._specs.items()},
                listener_arn=self.world.listener_arn,
                target_groups=self.world.target_groups,
                release_health_alarms=self.world.release_health_alarms,
                generation=self._generation,
            )
            self._ssm.put_parameter(
                Name=GUARDIAN_STATE_PARAMETER, Value=json.dumps(state, sort_keys=True), Type="String", Overwrite=True
            )
            # The guardian's record and the tool's decision log start as "{}"; only the guardian and the
            # tool write them (the program ignores changes to their values).
            for name in (GUARDIAN_RECORD_PARAMETER, DECISION_LOG_PARAMETER):
                with contextlib.suppress(self._ssm.exceptions.ParameterAlreadyExists):
                    self._ssm.put_parameter(Name=name, Value="{}", Type="String", Overwrite=False)
            out["guardianStateId"] = state["stateId"]
            out["guardianGeneration"] = self._generation
            out["guardianRecordParameter"] = GUARDIAN_RECORD_PARAMETER
            out["decisionLogParameter"] = DECISION_LOG_PARAMETER
            out["instanceSubnetTier"] = instance_subnet_tier(self._settings)
            # As the program: when this update ran. Plus the update count, so no two updates share a second.
            used_at = datetime.now(UTC) + timedelta(seconds=self.up_count)
            out["emergencyOverrides"] = emergency_overrides(self._settings, used_at)
        self.outputs_values = out

    def parameter(self, name: str) -> str | None:
        """An SSM parameter's value, as the program's `aws.ssm.get_parameter` invoke reads it; None when absent."""
        try:
            return str(self._ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except self._ssm.exceptions.ParameterNotFound:
            return None

    @staticmethod
    def _release_specs(settings: Settings, guard: GuardResult) -> dict[str, ReleaseSpec]:
        """Each colour's release spec, as `BlueGreenService.release_spec` exports it."""
        planned = guard.specs.specs if guard.specs is not None else dict.fromkeys(PROGRAM_COLORS, settings.color_spec())
        return {
            str(c): ReleaseSpec(
                release=settings.releases[c].label,
                image_id=guard.image_ids[c],
                boot_script_hash=boot_script_fingerprint(settings.releases[c].boot_script),
                schema_versions=settings.releases[c].schema_versions,
                settings=planned[c],
            )
            for c in PROGRAM_COLORS
        }


# ---------------------------------------------------------------- the smoke target


def alb_route(world: World, headers: Message) -> tuple[str, str]:
    """Where the production listener sends a request, and by which rule: the rules in moto (DescribeRules) in
    priority order, the first whose conditions all match, else the default action's weighted forward (here its
    heaviest colour). An http-header condition matches when the header, or one of its repeats, equals any of its
    values, compared case-insensitively (ELB API reference, HttpHeaderConditionConfig; no wildcards here)."""
    rules = world.elbv2().describe_rules(ListenerArn=world.listener_arn)["Rules"]
    colors = {arn: color for color, arn in world.target_groups.items()}

    def matches(condition: Mapping[str, Any]) -> bool:
        config = condition.get("HttpHeaderConfig")
        if condition.get("Field") != "http-header" or not config:
            return False  # the program's rules use http-header conditions only
        sent = [value.lower() for value in headers.get_all(config["HttpHeaderName"]) or []]
        return any(value.lower() in sent for value in config["Values"])

    for rule in sorted((r for r in rules if not r["IsDefault"]), key=lambda r: int(r["Priority"])):
        if all(matches(condition) for condition in rule["Conditions"]):
            return colors[rule["Actions"][0]["TargetGroupArn"]], f"rule {rule['Priority']}"
    weights = world.live_weights()
    return max(COLORS, key=lambda c: weights[c]), "default"


@dataclass
class SmokeTarget:
    """Stands in for the ALB's preview routes: only answers with the right colour + token headers.

    /health -> 200 "ok"; /version -> {"version": <release>} with X-App-Version.
    `broken` colours answer 500 on /version.

    With `world`, it routes as the ALB would by the listener rules in moto (`alb_route`): a request that
    matches a colour's preview rule (the tokens the FakeEngine's last `pulumi up` wrote) reaches that colour,
    any other the default action's colour; `routes` records which rule took each request. Without it, only
    the colour header with `PREVIEW_TOKEN` is answered, and anything else is refused with 403.
    """

    releases: Callable[[str], str]
    broken: set[str] = field(default_factory=set)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""
    # An app behind a route that ignores the preview headers: every request reaches this colour.
    answers_as: str | None = None
    world: World | None = None
    routes: list[tuple[str, str | None, str]] = field(default_factory=list)  # (path, colour header, rule)

    @contextmanager
    def serving(self) -> Iterator[SmokeTarget]:
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                del format, args

            def do_GET(self) -> None:
                color = self.headers.get(PREVIEW_COLOR_HEADER)
                target.requests.append((self.path, color))
                if target.world is not None:
                    routed, rule = alb_route(target.world, self.headers)
                    target.routes.append((self.path, color, rule))
                    color = target.answers_as or routed
                else:
                    color = target.answers_as or color
                    if self.headers.get(PREVIEW_TOKEN_HEADER) != PREVIEW_TOKEN:
                        color = None
                if color not in COLORS:
                    self._reply(403, "no preview route for these headers", {})
                elif self.path == "/health":
                    self._reply(200, "ok", {})
                elif self.path == "/version" and color in target.broken:
                    self._reply(500, "internal error", {})
                elif self.path == "/version":
                    release = target.releases(color)
                    self._reply(200, json.dumps({"version": release}), {"X-App-Version": release})
                else:
                    self._reply(404, "not found", {})

            def _reply(self, status: int, body: str, headers: Mapping[str, str]) -> None:
                data = body.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


SMOKE_CHECKS_YAML = """\
attempts: 2
intervalSeconds: 1
timeoutSeconds: 5
checks:
  - name: health
    path: /health
    status: 200
  - name: version
    path: /version
    status: 200
    bodyContains: '"version": "{release}"'
    headers:
      X-App-Version: "{release}"
"""


# ---------------------------------------------------------------- time


@dataclass
class FakeClock:
    """Sleeps return at once and move time on; `at(t, fn)` runs fn once time reaches t."""

    t: float = 0.0
    base: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    sleeps: list[float] = field(default_factory=list)
    _timers: list[tuple[float, Callable[[], None]]] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self.base + timedelta(seconds=self.t)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(seconds, 0.0)
        due = [timer for timer in self._timers if timer[0] <= self.t]
        self._timers = [timer for timer in self._timers if timer[0] > self.t]
        for _, action in due:
            action()

    def at(self, when: float, action: Callable[[], None]) -> None:
        self._timers.append((when, action))


# ---------------------------------------------------------------- counting AWS calls


@dataclass
class CallLog:
    calls: list[str] = field(default_factory=list)

    def __call__(self, operation: str) -> None:
        self.calls.append(operation)

    def count(self, operation: str) -> int:
        return self.calls.count(operation)
