"""Run the real Pulumi program under the SDK's mocks and record every registration.

`run_program()` loads config exactly as the CLI would (Pulumi.yaml defaults, then
Pulumi.dev.yaml, then overrides), runs `__main__.py`, and returns every resource the program
registered with its URN, parent, dependencies and inputs (wire names, camelCase), plus the
resolved stack outputs. `previous_outputs` stands in for the stack's last deployed outputs,
which the program reads through a StackReference to itself.
"""

from __future__ import annotations

import hashlib
import os
import re
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.sync_await import _sync_await

from bluegreen.stack_files import effective_config, namespaced, to_wire

PROJECT_DIR = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "eu-west-1"
ELB_LOG_ACCOUNT = "156460612806"  # eu-west-1
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123"
# The name users reach, which CERT covers: HTTPS needs it (no certificate covers *.elb.amazonaws.com).
PUBLIC_HOSTNAME = "app.example.com"
# HTTPS as a stack users reach has it: the certificate and the name it covers.
HTTPS: dict[str, Any] = {"certificateArn": CERT, "publicHostname": PUBLIC_HOSTNAME}
# A stack users reach, at Pulumi.yaml's defaults where Pulumi.dev.yaml (every test's base) turns them off: HTTPS,
# deletion protection, access logs to a bucket the stack creates, instances in private subnets behind a NAT gateway.
PRODUCTION: dict[str, Any] = {
    **HTTPS,
    "allowInsecurePreview": False,
    "albDeletionProtection": True,
    "accessLogs": True,
    "privateInstances": True,
}
LOOKED_UP_AMI = "ami-0123456789abcdef0"
LOOKED_UP_ARM_AMI = "ami-0123456789abcdefa"
# What DescribeImages says of the images tests use: (architecture, root device name, root snapshot GiB).
IMAGES: dict[str, tuple[str, str, int]] = {
    LOOKED_UP_AMI: ("x86_64", "/dev/xvda", 8),
    LOOKED_UP_ARM_AMI: ("arm64", "/dev/xvda", 8),
    "ami-0aaaaaaaaaaaaaaaa": ("x86_64", "/dev/xvda", 8),
    "ami-0bbbbbbbbbbbbbbbb": ("x86_64", "/dev/xvda", 8),
    "ami-0fffffffffffffff0": ("x86_64", "/dev/xvda", 8),
    "ami-0dbdbdbdbdbdbdbd1": ("x86_64", "/dev/sda1", 30),
    "ami-0a4400000000000a1": ("arm64", "/dev/xvda", 8),
}
# Images AWS has deprecated, or will (DescribeImages DeprecationTime). As for any AMI user, a lookup that does not
# include deprecated images finds nothing once the time has passed ("Deprecate an Amazon EC2 AMI", EC2 user guide).
DEPRECATED_AMI = "ami-0dec0000000000001"
SOON_DEPRECATED_AMI = "ami-0dec0000000000002"
DEPRECATION_TIMES: dict[str, str] = {
    DEPRECATED_AMI: "2024-06-19T02:23:00.000Z",
    SOON_DEPRECATED_AMI: "2099-06-19T02:23:00.000Z",
}
# Zones that do not offer a type (DescribeInstanceTypeOfferings), to test the zone choice.
MISSING_OFFERINGS: dict[str, set[str]] = {"c7gn.large": {f"{REGION}a"}, "p5.48xlarge": {f"{REGION}a", f"{REGION}b"}}


@dataclass
class Registered:
    type: str
    name: str
    urn: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    # `delete_before_replace`: a replacement deletes the old resource before it creates the new one.
    delete_before_replace: bool = False
    provider: str = ""
    # The URNs this resource answers to besides its own (`pulumi.Alias`): a deployed stack's resource under
    # one of them is updated in place, not replaced.
    alias_urns: list[str] = field(default_factory=list)
    # `protect=True`: `pulumi destroy` refuses to delete the resource until it is unprotected.
    protect: bool = False


@dataclass
class Recording:
    resources: list[Registered]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    invokes: list[tuple[str, dict[str, Any]]]
    logs: list[tuple[str, str]]
    stack_references: list[tuple[str, str]] = field(default_factory=list)

    def by_name(self, name: str) -> Registered:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, found {len(matches)}"
        return matches[0]

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def names(self) -> set[str]:
        return {r.name for r in self.resources}


def mock_id(type_: str, name: str) -> str:
    """The id the mocks give a resource: stable, so tests can name it."""
    return _fake_id(type_, name)


def _fake_id(type_: str, name: str) -> str:
    return hashlib.sha1(f"{type_}/{name}".encode()).hexdigest()[:17]


class _Mocks(pulumi.runtime.Mocks):
    """Answers like AWS would: ids, ARNs and the attributes the program reads."""

    def __init__(
        self, previous_outputs: Mapping[str, Any] | None, image: str, parameters: Mapping[str, str] | None = None
    ) -> None:
        self.previous_outputs = dict(previous_outputs or {})
        self.image = image
        self.parameters = dict(parameters or {})  # SSM parameters in the account, by name
        # The last update created the guardian's record parameter, empty until the guardian writes it.
        record = self.previous_outputs.get("guardianRecordParameter")
        if isinstance(record, str):
            self.parameters.setdefault(record, "{}")
        self.invokes: list[tuple[str, dict[str, Any]]] = []
        self.stack_references: list[tuple[str, str]] = []  # (logical name, the stack it reads)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            self.stack_references.append((args.name, str(args.inputs.get("name") or args.resource_id)))
            return args.name, {"name": args.name, "outputs": self.previous_outputs, "secretOutputNames": []}
        rid = _fake_id(args.typ, args.name)
        state = dict(args.inputs)
        service = args.typ.split(":")[1].split("/")[0]
        arn = f"arn:aws:{service}:{REGION}:{ACCOUNT}:{args.name}/{rid}"
        state.setdefault("arn", arn)
        if args.typ == "aws:lb/loadBalancer:LoadBalancer":
            state["arnSuffix"] = f"app/{args.name}/{rid}"
            state["dnsName"] = f"{args.name}-{rid[:8]}.{REGION}.elb.amazonaws.com"
        elif args.typ == "aws:lb/targetGroup:TargetGroup":
            state["arnSuffix"] = f"targetgroup/{args.name}/{rid}"
        elif args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state["latestVersion"] = 1
        elif args.typ == "aws:ec2/eip:Eip":
            state["allocationId"] = f"eipalloc-{rid}"
        elif args.typ == "aws:s3/bucket:Bucket":  # auto-named as the provider does, and an S3 ARN has no region
            state.setdefault("bucket", f"{args.name}-{rid[:7]}")
            state["arn"] = f"arn:aws:s3:::{state['bucket']}"
        elif args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = hashlib.sha256(args.name.encode()).hexdigest()[: int(args.inputs.get("length", 32))]
        elif args.typ in (
            "aws:autoscaling/group:Group",
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "aws:cloudwatch/eventRule:EventRule",
            "aws:lambda/function:Function",
        ):
            state.setdefault("name", f"{args.name}-{rid[:7]}")
        return rid, state

    def _parameter(self, name: str) -> dict[str, Any]:
        """GetParameter: the account's parameters, and the public AL2023 AMI parameters."""
        if name in self.parameters:
            value = self.parameters[name]
        elif name.startswith("/aws/service/"):
            value = LOOKED_UP_ARM_AMI if name.endswith("arm64") and self.image == LOOKED_UP_AMI else self.image
        else:
            raise RuntimeError(f"ParameterNotFound: {name}")  # as GetParameter answers
        return {"id": name, "name": name, "type": "String", "value": value, "version": 1}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:  # noqa: PLR0911
        self.invokes.append((args.token, dict(args.args)))
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {
                "names": [f"{REGION}a", f"{REGION}b", f"{REGION}c"],
                "zoneIds": ["euw1-az1", "euw1-az2", "euw1-az3"],
            }, []
        if args.token == "aws:ssm/getParameter:getParameter":
            return self._parameter(args.args["name"]), []
        if args.token == "aws:ec2/getInstanceType:getInstanceType":
            family = args.args["instanceType"].split(".")[0]
            graviton = bool(re.search(r"\dg[a-z]*$", family)) or family == "a1"
            return {
                "instanceType": args.args["instanceType"],
                "supportedArchitectures": ["arm64"] if graviton else ["i386", "x86_64"],
            }, []
        if args.token == "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
            wanted = args.args["filters"][0]["values"][0]
            zones = [
                z for z in (f"{REGION}a", f"{REGION}b", f"{REGION}c") if z not in MISSING_OFFERINGS.get(wanted, set())
            ]
            return {
                "id": REGION,
                "locations": zones,
                "locationTypes": ["availability-zone"] * len(zones),
                "instanceTypes": [wanted] * len(zones),
            }, []
        if args.token == "aws:ec2/getAmi:getAmi":
            image = args.args["filters"][0]["values"][0]
            deprecation = DEPRECATION_TIMES.get(image, "")
            past = bool(deprecation) and datetime.fromisoformat(deprecation) <= datetime.now(UTC)
            if past and not args.args.get("includeDeprecated"):
                # terraform-provider-aws aws_ami with no image found (the image-id filter is not ImageIds).
                raise RuntimeError("Your query returned no results. Please change your search criteria and try again.")
            arch, root, size = IMAGES.get(image, ("x86_64", "/dev/xvda", 8))
            mappings = [{"deviceName": root, "ebs": {"volume_size": str(size), "volume_type": "gp3"}}]
            return {
                "id": image,
                "imageId": image,
                "architecture": arch,
                "rootDeviceName": root,
                "blockDeviceMappings": mappings,
                "deprecationTime": deprecation,
            }, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"id": REGION, "name": REGION, "region": REGION}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
                "userId": "AIDTEST",
                "id": ACCOUNT,
            }, []
        if args.token == "aws:elb/getServiceAccount:getServiceAccount":
            # The provider's fixed table: eu-west-1's ELB account (ELB User Guide, access logs).
            return {"id": ELB_LOG_ACCOUNT, "arn": f"arn:aws:iam::{ELB_LOG_ACCOUNT}:root"}, []
        raise NotImplementedError(f"no mock for invoke {args.token}")


class _RecordingMonitor(MockMonitor):
    """Sees what `Mocks` does not: URNs, parents, dependencies and resource options."""

    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            state = self.resources[response.urn].state
            self.registered.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent or None,
                    custom=bool(request.custom),
                    inputs=_comparable(pulumi.runtime.rpc.deserialize_properties(request.object)),
                    outputs=_comparable({**state, "id": response.id}),
                    dependencies=list(request.dependencies),
                    replace_on_changes=list(request.replaceOnChanges),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    provider=request.provider,
                    alias_urns=_alias_urns(response.urn, request),
                    protect=bool(request.protect),
                )
            )
        return response


def _comparable(value: Any) -> Any:
    """Inputs with assets and archives as what they hold: the engine compares them by content hash, so two
    runs that package the same files send the same archive."""
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {path: _comparable(item) for path, item in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileAsset):
        return {"file": str(value.path)}
    if isinstance(value, pulumi.StringAsset):
        return {"text": value.text}
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


def _alias_urns(urn: str, request: Any) -> list[str]:
    """The URNs of the request's aliases: full URNs as sent, and alias specs that rename the resource or
    its type (the program's own, and the old type tokens pulumi-aws lists) resolved against its own URN.
    A URN is `urn:pulumi:<stack>::<project>::<parent types $-joined>$<type>::<name>`."""
    urns = list(request.aliasURNs)
    for alias in request.aliases:
        if alias.WhichOneof("alias") == "urn":
            urns.append(alias.urn)
            continue
        spec = alias.spec
        if spec.project or spec.stack:
            raise NotImplementedError(f"alias spec not modelled by the harness: {alias}")
        prefix, name = urn.rsplit("::", 1)
        head, qualified = prefix.rsplit("::", 1)
        types = qualified.split("$")
        types[-1] = spec.type or types[-1]
        urns.append(f"{head}::{'$'.join(types)}::{spec.name or name}")
    return urns


class _LogRecorder:
    def __init__(self) -> None:
        self.records: list[tuple[str, str]] = []

    def _log(self, level: str, msg: str) -> None:
        self.records.append((level, msg))

    def debug(self, msg: str, *_: Any, **__: Any) -> None:
        self._log("debug", msg)

    def info(self, msg: str, *_: Any, **__: Any) -> None:
        self._log("info", msg)

    def warning(self, msg: str, *_: Any, **__: Any) -> None:
        self._log("warning", msg)

    def error(self, msg: str, *_: Any, **__: Any) -> None:
        self._log("error", msg)


def program_config(
    overrides: Mapping[str, Any] | None = None, stack: str = "dev", project_dir: Path = PROJECT_DIR
) -> dict[str, str]:
    """Full `bluegreen:`/`aws:` keys as the CLI would hand them to the program.

    Another project (an example) declares none of the `bluegreen:` keys: only `overrides` are set,
    and the program's own defaults apply, as they would for that project.
    """
    if project_dir == PROJECT_DIR:
        config = namespaced(effective_config(stack, dict(overrides or {}), PROJECT_DIR))
    else:
        config = namespaced({key: to_wire(value) for key, value in (overrides or {}).items()})
    config["aws:region"] = REGION
    return config


def run_program(
    overrides: Mapping[str, Any] | None = None,
    previous_outputs: Mapping[str, Any] | None = None,
    *,
    stack: str = "dev",
    preview: bool = False,
    looked_up_image: str = LOOKED_UP_AMI,
    project_dir: Path = PROJECT_DIR,
    project_config: Mapping[str, str] | None = None,
    parameters: Mapping[str, str] | None = None,
    _registered: list[Registered] | None = None,
) -> Recording:
    """Run `__main__.py` with the dev stack's config plus `overrides` (un-namespaced `bluegreen:` keys).

    `project_dir` runs another project's program (an example) in its own directory, under its own
    project name, with `project_config` (full keys) as the rest of its config.
    """
    project = str(yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"])
    mocks = _Mocks(previous_outputs, looked_up_image, parameters)
    monitor = _RecordingMonitor(mocks)
    if _registered is not None:
        monitor.registered = _registered
    logger = _LogRecorder()
    # A fresh root stack: set_mocks keeps an existing one, and with it the previous run's exports.
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks,
        project=project,
        stack=stack,
        preview=preview,
        monitor=monitor,
        organization="organization",
        logger=logger,  # type: ignore[arg-type]
    )
    pulumi.runtime.set_all_config({**program_config(overrides, stack, project_dir), **(project_config or {})})

    exported: dict[str, Any] = {}
    secrets: set[str] = set()

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> pulumi.Output[Any]:
        previous_dir = os.getcwd()
        os.chdir(project_dir)  # Pulumi runs a program in its project directory
        try:
            runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")
        finally:
            os.chdir(previous_dir)
        stack_resource = pulumi.runtime.get_root_resource()
        outputs: dict[str, Any] = getattr(stack_resource, "outputs", {})

        async def resolve() -> None:
            for key, value in outputs.items():
                out = pulumi.Output.from_input(value)
                exported[key] = await out.future()
                if await out.is_secret():
                    secrets.add(key)

        return pulumi.Output.from_input(_sync_await(resolve()))

    run()
    recording = Recording(
        resources=monitor.registered,
        outputs=exported,
        secret_outputs=secrets,
        invokes=mocks.invokes,
        logs=logger.records,
        stack_references=mocks.stack_references,
    )
    # Every program a test runs: a gate that probes over https probes the name the certificate covers.
    from tests.aws_rules import gate_url_problems  # aws_rules imports this module

    problems = gate_url_problems(recording)
    assert problems == [], "\n".join(problems)
    return recording


def deployed(recording: Recording) -> dict[str, Any]:
    """The outputs a successful `pulumi up` would leave for the next update's StackReference."""
    return dict(recording.outputs)


def keep_decision(flipped: Recording, minutes: float = 15, start: str = "2026-01-01T12:00:00Z") -> str:
    """The `bakeDecision` `bluegreen bake` writes after watching `flipped`'s flip quietly for `minutes`
    (Pulumi.yaml's bakeMinutes is 15): it names the flip and the live release the outputs record."""
    from bluegreen.rollback_target import BakeDecision

    target = flipped.outputs["rollbackTarget"]
    began = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    end = (began + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return BakeDecision(target["flip"], target["liveFingerprint"], start, end, minutes).to_config()


@dataclass
class Diff:
    added: list[str]
    removed: list[str]
    changed: dict[str, list[str]]  # name -> top-level input keys that differ

    @property
    def touched(self) -> set[str]:
        return set(self.added) | set(self.removed) | set(self.changed)


def diff(before: Recording, after: Recording) -> Diff:
    """What `pulumi preview --diff` would show between two runs: resources by URN, inputs by key."""
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    changed: dict[str, list[str]] = {}
    for urn in old.keys() & new.keys():
        a, b = old[urn].inputs, new[urn].inputs
        keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        if keys:
            changed[new[urn].name] = keys
    return Diff(
        added=sorted(new[u].name for u in new.keys() - old.keys()),
        removed=sorted(old[u].name for u in old.keys() - new.keys()),
        changed=changed,
    )


def run_failing(
    overrides: Mapping[str, Any] | None = None,
    previous_outputs: Mapping[str, Any] | None = None,
    parameters: Mapping[str, str] | None = None,
) -> tuple[BaseException, list[Registered]]:
    """Run a program that must fail; returns the error and whatever was registered before it."""
    registered: list[Registered] = []
    try:
        run_program(overrides, previous_outputs, parameters=parameters, _registered=registered)
    except Exception as error:
        return error, registered
    raise AssertionError(f"program succeeded with overrides {overrides!r}")
