"""Run the policy pack the way the Pulumi engine does, and build policy arguments by hand.

Serving: the engine starts a Python pack through its `pulumi-analyzer-policy-python` shim, which
runs `python -u -m pulumi.policy <engine-address> .` (the venv's python when PulumiPolicy.yaml
names a virtualenv) in the pack directory. The engine reads the analyzer's gRPC port from the
first line of its stdout, then calls Handshake (unimplemented in pulumi-policy 1.21, which the
engine accepts), ConfigureStack, GetAnalyzerInfo and Configure (the policy config with the
schema defaults filled in), `Analyze` once per resource with its inputs, and `AnalyzeStack`
once with every resource's outputs, parents and dependencies.
`pulumi.policy` parses the engine address but never dials it (its runtime settings get no
engine), so `FakeEngine` only records calls; the tests assert that it saw none.

Outputs: `from_recording()` gives what the SDK's mocks answer (the inputs plus ids and ARNs),
`as_provider_reports()` the same stack as pulumi-aws records it (every computed attribute, each
captured when that resource was last written), `fresh_preview()` a first preview's unknowns.

By hand: `hand_built_stack()` is a small, clean blue-green stack as the policies see it in
`AnalyzeStack` (outputs, camelCase). `validate_stack()` and `validate_resource()` call a policy
directly, AWSGuard style, and return what it reported.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]
from google.protobuf import empty_pb2, json_format, struct_pb2  # type: ignore[import-untyped, unused-ignore]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2, engine_pb2_grpc
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from policies.bluegreen_policies.provider_sets import is_set_field
from tests.harness import Recording

PACK_DIR = Path(__file__).resolve().parent.parent / "policies"
PROJECT, STACK = "bluegreen", "dev"
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
UNKNOWN = UNKNOWN_STRING_VALUE


# -- what the engine sends ---------------------------------------------------------------------
@dataclass
class StackResource:
    """One resource as the engine knows it: inputs for Analyze, outputs for AnalyzeStack."""

    type: str
    name: str
    urn: str
    parent: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)

    @property
    def custom(self) -> bool:
        return not self.type.startswith(("bluegreen:", "pulumi:pulumi:"))


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    message: str  # what the policy reported; the SDK's "<description>\n" prefix is removed
    urn: str
    mandatory: bool

    @property
    def advisory(self) -> bool:
        return not self.mandatory


def from_recording(recording: Recording) -> list[StackResource]:
    """What the engine would hold after `pulumi up` of a recorded program run.

    Adds the root stack resource (its outputs are the stack outputs), and sends values that the
    program marked secret in the engine's secret envelope, as the engine does.
    """
    secrets = {v for k, v in recording.outputs.items() if k in recording.secret_outputs and isinstance(v, str)}
    resources = [
        StackResource(
            type="pulumi:pulumi:Stack",
            name=f"{PROJECT}-{STACK}",
            urn=STACK_URN,
            parent=None,
            inputs={},
            outputs=_wrap_secrets(dict(recording.outputs), secrets),
        )
    ]
    for res in recording.resources:
        resources.append(
            StackResource(
                type=res.type,
                name=res.name,
                urn=res.urn,
                parent=res.parent,
                inputs=_wrap_secrets(copy.deepcopy(res.inputs), secrets),
                outputs=_wrap_secrets(copy.deepcopy(res.outputs), secrets),
                dependencies=list(res.dependencies),
            )
        )
    return resources


def _wrap_secrets(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _wrap_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_wrap_secrets(v, secrets) for v in value]
    if isinstance(value, str) and value in secrets:
        return {**SECRET_SIG, "value": value}
    return value


def fresh_preview(resources: list[StackResource]) -> list[StackResource]:
    """The same stack as the engine sees it in a preview before anything exists.

    Everything the provider computes (ids, ARNs, ARN suffixes, DNS names, generated names, the
    launch template version, the preview token) is unknown, and so is every input that the
    program took from one of those outputs.
    """
    computed: set[str] = set()
    for res in resources:
        if not res.custom:
            continue
        for key, value in res.outputs.items():
            if key in res.inputs:
                continue
            if isinstance(value, str):
                computed.add(value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                computed.add(str(int(value)))
    preview = []
    for res in resources:
        inputs = _unknown_where(res.inputs, computed)
        outputs = dict(inputs)
        if res.custom:
            outputs.update({k: UNKNOWN for k in res.outputs if k not in res.inputs})
        preview.append(replace(res, inputs=inputs, outputs=outputs))
    return preview


def _unknown_where(value: Any, computed: set[str]) -> Any:
    if isinstance(value, dict):
        if SECRET_SIG.items() <= value.items():
            inner = _unknown_where(value["value"], computed)
            return inner if inner == UNKNOWN else {**value, "value": inner}
        return {k: _unknown_where(v, computed) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknown_where(v, computed) for v in value]
    if isinstance(value, str) and value in computed:
        return UNKNOWN
    return value


# Provider default tags (`aws:defaultTags`) as they were when a resource was last written: changed
# since the older colour was last updated.
DEFAULT_TAGS_BEFORE = {"managed-by": "pulumi", "cost-centre": "web"}
DEFAULT_TAGS_NOW = {"managed-by": "pulumi", "cost-centre": "web-platform"}
ZONES = ["eu-west-1a", "eu-west-1b"]
TAGGED_TYPES = {
    "aws:lb/targetGroup:TargetGroup",
    "aws:lb/listener:Listener",
    "aws:lb/listenerRule:ListenerRule",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:ec2/securityGroup:SecurityGroup",
}


def _hash_key(item: Any) -> str:
    return hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()


def in_provider_set_order(type_: str, value: Any, path: tuple[object, ...] = ()) -> Any:
    """`value` with every set-typed list in hash order, as Terraform stores sets (not program order).

    Twins' sets hash differently (their colour header values and ARNs differ), so their orders differ
    the way they do in a real state file (pulumi-terraform-bridge#2478).
    """
    if isinstance(value, dict):
        return {k: in_provider_set_order(type_, v, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        items = [in_provider_set_order(type_, v, (*path, i)) for i, v in enumerate(value)]
        return sorted(items, key=_hash_key) if is_set_field(type_, path) else items
    return value


def as_provider_reports(resources: list[StackResource], updated: str = "green") -> list[StackResource]:
    """The same stack with outputs shaped the way pulumi-aws 7.x records them in the state.

    The engine's `AnalyzeStack` sends each resource's outputs as last recorded, and the provider
    records computed attributes when it last wrote (or read) that resource. Here the `updated`
    colour was written by the last update (`stage`), the other colour and the shared resources
    earlier, so the provider-computed attributes of twins differ: `tagsAll` (with the provider's
    default tags of the time), target group `loadBalancerArns` (only the updated colour's names
    the ALB), launch template `latestVersion`/`defaultVersion`, and Auto Scaling group
    `availabilityZones` (a set, in the order the API returned it), `predictedCapacity` and
    `warmPoolSize` (missing from the older state). Every set-typed field (from the provider's schema,
    `SET_FIELDS`) comes back in hash order, not program order. Ids, names and ARNs take the provider's forms
    (a target group's id is its ARN, an Auto Scaling group's and an alarm's their name), and the
    computed defaults that both colours share are filled in. Inputs are left as they are.
    """
    shaped = copy.deepcopy(resources)
    alb = next((r for r in shaped if r.type == "aws:lb/loadBalancer:LoadBalancer"), None)
    alb_arn = alb.outputs["arn"] if alb is not None else None
    templates: dict[str, dict[str, Any]] = {}
    for res in shaped:
        res.outputs = in_provider_set_order(res.type, res.outputs)
    for res in shaped:
        words = res.name.split("-")
        color = next((c for c in ("blue", "green") if c in words), None)
        fresh = color == updated
        out = res.outputs
        suffix = str(out.get("id", ""))[:7]
        if res.type in TAGGED_TYPES and isinstance(out.get("tags"), dict):
            out["tagsAll"] = {**(DEFAULT_TAGS_NOW if fresh else DEFAULT_TAGS_BEFORE), **out["tags"]}
        if res.type in (
            "aws:lb/targetGroup:TargetGroup",
            "aws:lb/listener:Listener",
            "aws:lb/listenerRule:ListenerRule",
        ):
            out["id"] = out["arn"]
        if res.type == "aws:lb/targetGroup:TargetGroup":
            out["name"] = f"{res.name}-{suffix}"
            out["loadBalancerArns"] = [alb_arn] if fresh and alb_arn else []
            out.update(
                loadBalancingAlgorithmType="round_robin",
                ipAddressType="ipv4",
                protocolVersion="HTTP1",
                slowStart=0,
                stickiness={"enabled": False, "type": "lb_cookie", "cookieDuration": 86400},
            )
        elif res.type == "aws:ec2/launchTemplate:LaunchTemplate":
            version = 7 if fresh else 3
            out.update(name=f"{res.name}-{suffix}", latestVersion=version, defaultVersion=version)
            templates[str(out["id"])] = out
        elif res.type == "aws:autoscaling/group:Group":
            out["id"] = out["name"]
            out["availabilityZones"] = list(reversed(ZONES)) if fresh else list(ZONES)
            out["predictedCapacity"] = 2 if fresh else 0
            if fresh:
                out["warmPoolSize"] = 0
            out.update(
                defaultCooldown=300,
                loadBalancers=[],
                warmPool=None,
                serviceLinkedRoleArn="arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/"
                "AWSServiceRoleForAutoScaling",
                trafficSources=[{"identifier": arn, "type": "elbv2"} for arn in out.get("targetGroupArns", [])],
            )
        elif res.type == "aws:cloudwatch/metricAlarm:MetricAlarm":
            out["id"] = out["name"]
            out.setdefault("actionsEnabled", True)
        elif res.type == "aws:lb/listenerRule:ListenerRule":
            for order, action in enumerate(out.get("actions", []), start=1):
                action.setdefault("order", order)
    for res in shaped:
        if res.type == "aws:autoscaling/group:Group":
            spec = res.outputs.get("launchTemplate")
            template = templates.get(str(spec.get("id"))) if isinstance(spec, dict) else None
            if isinstance(spec, dict) and template is not None:
                spec.update(name=template["name"], version=str(template["latestVersion"]))
    return shaped


def stack_reference(name: str, outputs: Mapping[str, Any]) -> StackResource:
    """A `pulumi.StackReference` as the engine holds it: a read resource whose outputs are another stack's."""
    stack_name = f"organization/{PROJECT}/{STACK}"
    return StackResource(
        type="pulumi:pulumi:StackReference",
        name=name,
        urn=f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:StackReference::{name}",
        parent=STACK_URN,
        inputs={"name": stack_name},
        outputs={"id": stack_name, "name": stack_name, "outputs": dict(outputs), "secretOutputNames": []},
    )


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(props)
    return struct


def _options(res: StackResource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(parent=res.parent or "")


# -- the engine's own gRPC service ---------------------------------------------------------------
class FakeEngine(engine_pb2_grpc.EngineServicer):
    """Stands at the engine address the pack is given; records every call it receives."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def Log(self, request: engine_pb2.LogRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        self.calls.append(f"Log: {request.message}")
        return empty_pb2.Empty()

    def GetRootResource(
        self, request: engine_pb2.GetRootResourceRequest, context: grpc.ServicerContext
    ) -> engine_pb2.GetRootResourceResponse:
        self.calls.append("GetRootResource")
        return engine_pb2.GetRootResourceResponse(urn=STACK_URN)


class ServedPack:
    """A running policy pack and the analyzer client the engine would use."""

    def __init__(self, stub: analyzer_pb2_grpc.AnalyzerStub, engine: FakeEngine, argv: list[str]) -> None:
        self.stub = stub
        self.engine = engine
        self.argv = argv
        self.plugin_version = ""
        self._info: analyzer_pb2.AnalyzerInfo | None = None

    def info(self) -> analyzer_pb2.AnalyzerInfo:
        if self._info is None:
            self._info = self.stub.GetAnalyzerInfo(empty_pb2.Empty())
        return self._info

    def configure(self, overrides: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """Sends the policy config as the engine reconciles it: schema defaults, then `overrides`.

        `overrides` has the shape of a `--policy-pack-config` file: policy name to an enforcement
        level string or to an object of properties (optionally with "enforcementLevel").
        """
        levels = {
            "advisory": analyzer_pb2.ADVISORY,
            "mandatory": analyzer_pb2.MANDATORY,
            "disabled": analyzer_pb2.DISABLED,
        }
        config: dict[str, dict[str, Any]] = {}
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        every = (overrides or {}).get("all")
        for policy in self.info().policies:
            schema = json_format.MessageToDict(policy.configSchema.properties)
            properties = {k: v["default"] for k, v in schema.items() if "default" in v}
            level = levels[every] if isinstance(every, str) else policy.enforcementLevel
            given = (overrides or {}).get(policy.name)
            if isinstance(given, str):
                level = levels[given]
            elif isinstance(given, Mapping):
                for key, value in given.items():
                    if key == "enforcementLevel":
                        level = levels[value]
                    else:
                        properties[key] = value
            config[policy.name] = properties
            entry = request.policyConfig[policy.name]
            entry.enforcementLevel = level
            entry.properties.update(properties)
        self.stub.Configure(request)
        return config

    def analyze(self, res: StackResource) -> list[Diagnostic]:
        """Analyze one resource's inputs; like the engine, attributes the findings to that resource."""
        response = self.stub.Analyze(
            analyzer_pb2.AnalyzeRequest(
                type=res.type, name=res.name, urn=res.urn, properties=_struct(res.inputs), options=_options(res)
            )
        )
        return [replace(d, urn=d.urn or res.urn) if d.mandatory else d for d in _diagnostics(response)]

    def analyze_stack(self, resources: Iterable[StackResource]) -> list[Diagnostic]:
        request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=res.type,
                    name=res.name,
                    urn=res.urn,
                    properties=_struct(res.outputs),
                    options=_options(res),
                    parent=res.parent or "",
                    dependencies=res.dependencies,
                )
                for res in resources
            ]
        )
        return _diagnostics(self.stub.AnalyzeStack(request))

    def run(self, resources: list[StackResource], config: Mapping[str, Any] | None = None) -> list[Diagnostic]:
        """One full analysis: Configure, Analyze for every resource but the stack, AnalyzeStack."""
        self.configure(config)
        found: list[Diagnostic] = []
        for res in resources:
            if res.type != "pulumi:pulumi:Stack":
                found += self.analyze(res)
        return found + self.analyze_stack(resources)


def _diagnostics(response: analyzer_pb2.AnalyzeResponse) -> list[Diagnostic]:
    found = []
    for diag in response.diagnostics:
        prefix = diag.description + "\n"
        message = diag.message[len(prefix) :] if diag.message.startswith(prefix) else diag.message
        found.append(Diagnostic(diag.policyName, message, diag.urn, diag.enforcementLevel == analyzer_pb2.MANDATORY))
    return found


def _read_port(proc: subprocess.Popen[bytes], timeout: float) -> int:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"the policy pack printed no port within {timeout} s")
    line = proc.stdout.readline().decode().strip()
    if not line.isdigit():
        raise RuntimeError(f"the policy pack printed {line!r} instead of its port")
    return int(line)


@contextmanager
def serve_pack(pack_dir: Path = PACK_DIR, timeout: float = 30.0) -> Iterator[ServedPack]:
    """Starts the pack exactly as the engine does and yields a client; stops both afterwards."""
    engine = FakeEngine()
    engine_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(engine, engine_server)
    engine_port = engine_server.add_insecure_port("127.0.0.1:0")
    engine_server.start()
    argv = [sys.executable, "-u", "-m", "pulumi.policy", f"127.0.0.1:{engine_port}", "."]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(argv, cwd=pack_dir, stdout=subprocess.PIPE, stderr=stderr, env=env)
        channel: grpc.Channel | None = None
        try:
            try:
                port = _read_port(proc, timeout)
            except (TimeoutError, RuntimeError) as error:
                proc.kill()
                proc.wait()
                stderr.seek(0)
                raise RuntimeError(f"{error}; stderr:\n{stderr.read().decode()}") from error
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            grpc.channel_ready_future(channel).result(timeout=timeout)
            pack = ServedPack(analyzer_pb2_grpc.AnalyzerStub(channel), engine, argv)
            _engine_handshake(pack)
            yield pack
        finally:
            if channel is not None:
                channel.close()
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            engine_server.stop(0)


def _engine_handshake(pack: ServedPack) -> None:
    """The calls the engine makes before any analysis (see pulumi's analyzer_plugin.go)."""
    try:
        pack.stub.Handshake(analyzer_pb2.AnalyzerHandshakeRequest(engine_address="127.0.0.1:0"))
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
    pack.stub.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(stack=STACK, project=PROJECT))
    pack.plugin_version = pack.stub.GetPluginInfo(empty_pb2.Empty()).version


# -- calling policies directly ----------------------------------------------------------------------
@dataclass
class HandResource:
    type: str
    name: str
    props: dict[str, Any]

    @property
    def urn(self) -> str:
        return f"urn:pulumi:{STACK}::{PROJECT}::{self.type}::{self.name}"


@dataclass(frozen=True)
class Outcome:
    violations: list[tuple[str, str | None]]  # (message, urn)
    deferred: str | None  # the advisory message of deferred checks, if any

    @property
    def messages(self) -> list[str]:
        return [message for message, _ in self.violations]


def _no_options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def validate_stack(
    policy: StackValidationPolicy, resources: Iterable[HandResource], config: Mapping[str, Any] | None = None
) -> Outcome:
    stack = [PolicyResource(r.type, r.props, r.urn, r.name, _no_options(), None, None, [], {}) for r in resources]
    violations: list[tuple[str, str | None]] = []

    def report(message: str, urn: str | None = None) -> None:
        violations.append((message, urn))

    try:
        policy.validate(StackValidationArgs(stack, config), report)
    except UnknownValueError as deferred:
        return Outcome(violations, deferred.message)
    return Outcome(violations, None)


def validate_resource(
    policy: ResourceValidationPolicy, res: HandResource, config: Mapping[str, Any] | None = None
) -> Outcome:
    args = ResourceValidationArgs(res.type, res.props, res.urn, res.name, _no_options(), None, config)
    violations: list[tuple[str, str | None]] = []

    def report(message: str, urn: str | None = None) -> None:
        violations.append((message, urn))

    try:
        policy.validate(args, report)
    except UnknownValueError as deferred:
        return Outcome(violations, deferred.message)
    return Outcome(violations, None)


def arn(service: str, name: str) -> str:
    return f"arn:aws:{service}:eu-west-1:123456789012:{name}"


def hand_built_stack() -> dict[str, HandResource]:
    """A clean stack: blue live with all traffic, green idle with the same capacity."""
    alb_sg, instance_sg = "sg-0a1b0000000000001", "sg-0a1b0000000000002"
    res: dict[str, HandResource] = {}

    def add(type_: str, name: str, props: dict[str, Any]) -> None:
        res[name] = HandResource(type_, name, props)

    add(
        "aws:ec2/securityGroup:SecurityGroup",
        "bluegreen-lb-alb-sg",
        {"id": alb_sg, "arn": arn("ec2", f"security-group/{alb_sg}"), "vpcId": "vpc-0f"},
    )
    add(
        "aws:ec2/securityGroup:SecurityGroup",
        "bluegreen-lb-instance-sg",
        {"id": instance_sg, "arn": arn("ec2", f"security-group/{instance_sg}"), "vpcId": "vpc-0f"},
    )
    add(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "bluegreen-lb-instance-ingress-8080",
        {
            "securityGroupId": instance_sg,
            "referencedSecurityGroupId": alb_sg,
            "ipProtocol": "tcp",
            "fromPort": 8080,
            "toPort": 8080,
        },
    )
    add(
        "aws:lb/loadBalancer:LoadBalancer",
        "bluegreen-lb-alb",
        {
            "arn": arn("elasticloadbalancing", "loadbalancer/app/alb/1"),
            "arnSuffix": "app/alb/1",
            "loadBalancerType": "application",
            "securityGroups": [alb_sg],
            "dropInvalidHeaderFields": True,
        },
    )
    common_tags = {"team": "platform"}
    for color, n in (("blue", 1), ("green", 2)):
        tags = {
            **common_tags,
            "bluegreen:color": color,
            "bluegreen:release": f"v{n}",
            "bluegreen:imageId": f"ami-0{n}",
            "bluegreen:schemaVersions": "",
            "bluegreen:subnetTier": "public",
        }
        tg_arn = arn("elasticloadbalancing", f"targetgroup/{color}-tg/{n}")
        lt_id = f"lt-0{n}"
        add(
            "aws:lb/targetGroup:TargetGroup",
            f"bluegreen-{color}-tg",
            {
                "arn": tg_arn,
                "arnSuffix": f"targetgroup/{color}-tg/{n}",
                "port": 8080,
                "protocol": "HTTP",
                "healthCheck": {"path": "/health", "interval": 15, "healthyThreshold": 2, "matcher": "200"},
                "tags": {**tags, "Name": f"bluegreen-{color}-tg"},
            },
        )
        add(
            "aws:ec2/launchTemplate:LaunchTemplate",
            f"bluegreen-{color}-lt",
            {
                "id": lt_id,
                "arn": arn("ec2", f"launch-template/{lt_id}"),
                "imageId": f"ami-0{n}",
                "userData": f"release v{n}",
                "instanceType": "t3.micro",
                "latestVersion": n + 2,
                "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
                "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 8, "encrypted": "true"}}],
                "networkInterfaces": [
                    {"deviceIndex": 0, "associatePublicIpAddress": "true", "securityGroups": [instance_sg]}
                ],
                "tagSpecifications": [{"resourceType": "instance", "tags": {**tags, "Name": f"bluegreen-{color}-i"}}],
                "tags": {**tags, "Name": f"bluegreen-{color}-lt"},
            },
        )
        add(
            "aws:autoscaling/group:Group",
            f"bluegreen-{color}-asg",
            {
                "arn": arn("autoscaling", f"asg/{color}"),
                "name": f"bluegreen-{color}-asg-{n}abc",
                "minSize": 2,
                "maxSize": 4,
                "desiredCapacity": 2,
                "waitForElbCapacity": 2,
                "targetGroupArns": [tg_arn],
                "launchTemplate": {"id": lt_id, "version": str(n + 2)},
                "vpcZoneIdentifiers": ["subnet-a", "subnet-b"],
                "tags": [
                    {"key": k, "value": v, "propagateAtLaunch": False}
                    for k, v in sorted({**tags, "Name": f"bluegreen-{color}-asg"}.items())
                ],
            },
        )
        add(
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            f"bluegreen-{color}-alarms-5xx-rate",
            {
                "arn": arn("cloudwatch", f"alarm:{color}-5xx"),
                "name": f"bluegreen-{color}-alarms-5xx-rate-{n}",
                "alarmDescription": f"{color}: target 5xx responses above 5% of requests",
                "threshold": 5,
                "dimensions": {"TargetGroup": f"targetgroup/{color}-tg/{n}", "LoadBalancer": "app/alb/1"},
                "tags": {**common_tags, "bluegreen:color": color, "Name": f"bluegreen-{color}-alarms-5xx-rate"},
            },
        )
    listener_arn = arn("elasticloadbalancing", "listener/app/alb/1/https")
    add(
        "aws:lb/listener:Listener",
        "bluegreen-router-https",
        {
            "arn": listener_arn,
            "loadBalancerArn": res["bluegreen-lb-alb"].props["arn"],
            "port": 443,
            "protocol": "HTTPS",
            "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "defaultActions": [
                {
                    "type": "forward",
                    "forward": {
                        "targetGroups": [
                            {"arn": res["bluegreen-blue-tg"].props["arn"], "weight": 100},
                            {"arn": res["bluegreen-green-tg"].props["arn"], "weight": 0},
                        ],
                        "stickiness": {"enabled": False, "duration": 1},
                    },
                }
            ],
            "tags": {"bluegreen:idleScaledDown": "false", "bluegreen:databaseSchemaVersion": "0"},
        },
    )
    add(
        "aws:lb/listener:Listener",
        "bluegreen-router-http",
        {
            "arn": arn("elasticloadbalancing", "listener/app/alb/1/http"),
            "loadBalancerArn": res["bluegreen-lb-alb"].props["arn"],
            "port": 80,
            "protocol": "HTTP",
            "defaultActions": [
                {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
            ],
        },
    )
    for color, priority in (("blue", 10), ("green", 20)):
        add(
            "aws:lb/listenerRule:ListenerRule",
            f"bluegreen-router-preview-{color}",
            {
                "arn": arn("elasticloadbalancing", f"listener-rule/{color}"),
                "listenerArn": listener_arn,
                "priority": priority,
                "actions": [{"type": "forward", "targetGroupArn": res[f"bluegreen-{color}-tg"].props["arn"]}],
                "conditions": [
                    {"httpHeader": {"httpHeaderName": "X-Bluegreen-Color", "values": [color]}},
                    {"httpHeader": {"httpHeaderName": "X-Bluegreen-Token", "values": ["s3cr3t"]}},
                ],
                "tags": {"bluegreen:color": color, "Name": f"bluegreen-router-preview-{color}"},
            },
        )
    return res


def set_weights(stack: Mapping[str, HandResource], blue: Any, green: Any) -> None:
    groups = stack["bluegreen-router-https"].props["defaultActions"][0]["forward"]["targetGroups"]
    groups[0]["weight"], groups[1]["weight"] = blue, green


def set_listener_tag(stack: Mapping[str, HandResource], key: str, value: str) -> None:
    stack["bluegreen-router-https"].props["tags"][key] = value


def set_asg_tag(stack: Mapping[str, HandResource], color: str, key: str, value: str) -> None:
    for tag in stack[f"bluegreen-{color}-asg"].props["tags"]:
        if tag["key"] == key:
            tag["value"] = value
