"""Every config key, read and validated in one place before any resource is registered.

Two ways in, one set of rules: `read_settings` parses stack config (wire-form strings, with
`Pulumi.yaml`'s defaults applied by the CLI), and a program that builds `Settings` itself in
Python passes it through `validated`, which checks it by the same code. The dataclass defaults
are `Pulumi.yaml`'s (a test holds them equal). All problems are collected and raised together as
one `ConfigError`, each line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import pulumi

from bluegreen.contract import (
    COLORS,
    DEFAULT_CAPACITY_TIMEOUT,
    DEFAULT_HEALTH_CHECK_GRACE_PERIOD_SECONDS,
    DEFAULT_TLS_POLICY,
    MAX_BAKE_MINUTES,
    MAX_IDLE_TRAFFIC_PERCENT,
    MAX_PREVIEW_TOKEN_GENERATION,
    STICKINESS_SECONDS,
    TLS_POLICY_PATTERN,
    Color,
    Keys,
    is_alb_dns_name,
    other,
)
from bluegreen.rollback_target import BAKE_DECISION_FORMAT, check_bake_decision
from bluegreen.schema_rule import schema_conflicts
from bluegreen.stack_files import CONFIG_NAMESPACE, to_wire
from bluegreen.user_data import BOOT_SCRIPT_VARIABLES, MAX_USER_DATA_BYTES, render_user_data, unknown_placeholders

T = TypeVar("T")

RESERVED_TAG_KEYS = ("Name",)
MAX_SCHEMA_VERSION = 1_000_000
RESERVED_TAG_PREFIXES = ("bluegreen:", "aws:")
# AWS tag limits shared by ELB, EC2, Auto Scaling and CloudWatch (botocore: TagKey 1..128, TagValue 0..256;
# 50 user tags per resource). The program's own tags: Name, bluegreen:color, :release, :imageId,
# :subnetTier, :schemaVersions and :spec at most.
TAG_PUNCTUATION = "_.:/=+-@"
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
MAX_TAGS_PER_RESOURCE = 50
MAX_USER_TAGS = MAX_TAGS_PER_RESOURCE - 7


class ConfigError(pulumi.RunError):
    """Stack config that the program refuses; the message lists every bad key.

    A `pulumi.RunError`, so the Python language host prints the message alone, not a traceback
    (pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec catches RunError apart from other errors).
    """

    def __init__(self, problems: list[str], message: str | None = None) -> None:
        self.problems = problems
        super().__init__(message or "invalid stack config:\n  - " + "\n  - ".join(problems))


# Every key of the `bluegreen:` namespace: the program's and the release tool's (Pulumi.yaml declares them all).
KNOWN_KEYS = frozenset([*Keys.program_names(), *Keys.tool_names()])
KEYS_REFERENCE = "docs/reference/config.md"


def closest_key(key: str) -> str | None:
    """The known key `key` most likely misspells (difflib's ratio, case ignored), or None when none is close."""
    by_folded = {known.lower(): known for known in sorted(KNOWN_KEYS)}
    found = difflib.get_close_matches(key.lower(), list(by_folded), n=1)
    return by_folded[found[0]] if found else None


def unknown_key_problem(key: str) -> str:
    """`unknown key bluegreen:activeColour (did you mean activeColor?)`."""
    near = closest_key(key)
    return f"unknown key {CONFIG_NAMESPACE}:{key}" + (f" (did you mean {near}?)" if near else "")


class UnknownKeyError(ConfigError):
    """Keys in the `bluegreen:` namespace that neither the program nor the release tool knows.

    Refused before anything else is read, on one line: a misspelt key leaves the setting it meant at its
    default (`activeColour: green` keeps traffic on blue), so every other finding would be about the wrong
    value.
    """

    def __init__(self, keys: list[str]) -> None:
        problems = [unknown_key_problem(key) for key in keys]
        super().__init__(
            problems,
            f"invalid stack config: {'; '.join(problems)}; {KEYS_REFERENCE} lists every {CONFIG_NAMESPACE}: key",
        )
        self.keys = keys


def check_known_keys(keys: Iterable[str]) -> None:
    """Raise `UnknownKeyError` naming each key of `keys` (un-namespaced) that is not in KNOWN_KEYS."""
    unknown = sorted(set(keys) - KNOWN_KEYS)
    if unknown:
        raise UnknownKeyError(unknown)


@dataclass(frozen=True)
class EgressRule:
    """One outbound rule for the instances: `protocol:port[-port]:cidr` in config."""

    protocol: str  # tcp | udp
    from_port: int
    to_port: int
    cidr: str

    @property
    def spec(self) -> str:
        ports = str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"
        return f"{self.protocol}:{ports}:{self.cidr}"


@dataclass(frozen=True)
class HealthCheck:
    path: str = "/health"
    matcher: str = "200"
    interval_seconds: int = 15
    timeout_seconds: int = 5
    healthy_threshold: int = 2
    unhealthy_threshold: int = 3


@dataclass(frozen=True)
class ColorSpec:
    """What runs on a colour besides its build, and how its health is judged.

    Part of the colour's release spec: config's values reach the idle colour, and a colour that
    serves traffic keeps the values it was deployed with (`bluegreen.release_spec`).
    """

    instance_type: str = "t3.micro"
    root_volume_size_gb: int = 8
    app_port: int = 8080
    health_check: HealthCheck = field(default_factory=HealthCheck)
    deregistration_delay_seconds: int = 30
    # The managed policies of the colour's own instance role; none: no role, no instance profile.
    instance_policy_arns: tuple[str, ...] = ()
    # EC2 detailed monitoring (one-minute instance metrics): a cost switch, off by default.
    detailed_monitoring: bool = False
    # How long the colour's Auto Scaling group lets a new instance boot before ELB health counts.
    health_check_grace_period_seconds: int = DEFAULT_HEALTH_CHECK_GRACE_PERIOD_SECONDS
    # How long `pulumi up` waits for the colour's Auto Scaling group to have healthy targets before it fails.
    capacity_timeout: str = DEFAULT_CAPACITY_TIMEOUT
    # Security groups the colour's instances join besides their own (e.g. the database's client group).
    extra_security_group_ids: tuple[str, ...] = ()
    # What the colour's instances may reach besides HTTPS: the shared instance security group opens the
    # union of both colours' entries, and an entry closes once no colour's spec has it.
    instance_egress: tuple[EgressRule, ...] = ()
    # The settings a deployed spec did not record, because it was exported before they joined the spec
    # (`bluegreen.release_spec.LATE_SPEC_KEYS`): the colour runs config's values for them, and its spec and
    # `bluegreen:spec` tag leave them out until it is restaged, so nothing about the colour changes meanwhile.
    unrecorded: frozenset[str] = field(default=frozenset(), compare=False)


@dataclass(frozen=True)
class FleetSpec:
    """The fleet settings from config. Capacity applies to both colours, so the rollback target can
    carry full load; the settings of `color_spec()` reach a colour with its next release."""

    instance_type: str = "t3.micro"
    min_size: int = 2
    max_size: int = 4
    desired_capacity: int = 2
    app_port: int = 8080
    root_volume_size_gb: int = 8
    health_check: HealthCheck = field(default_factory=HealthCheck)
    deregistration_delay_seconds: int = 30
    health_check_grace_period_seconds: int = DEFAULT_HEALTH_CHECK_GRACE_PERIOD_SECONDS
    capacity_timeout: str = DEFAULT_CAPACITY_TIMEOUT
    # The instances' IAM role gets these managed policies (an instance profile); none: no profile.
    instance_policy_arns: tuple[str, ...] = ()
    detailed_monitoring: bool = False
    # Security groups the instances join besides their own (e.g. the database's client group).
    extra_security_group_ids: tuple[str, ...] = ()

    def color_spec(self, instance_egress: tuple[EgressRule, ...] = ()) -> ColorSpec:
        """The settings config asks of the next release (`instance_egress` is the network's)."""
        return ColorSpec(
            instance_type=self.instance_type,
            root_volume_size_gb=self.root_volume_size_gb,
            app_port=self.app_port,
            health_check=self.health_check,
            deregistration_delay_seconds=self.deregistration_delay_seconds,
            instance_policy_arns=self.instance_policy_arns,
            detailed_monitoring=self.detailed_monitoring,
            health_check_grace_period_seconds=self.health_check_grace_period_seconds,
            capacity_timeout=self.capacity_timeout,
            extra_security_group_ids=self.extra_security_group_ids,
            instance_egress=instance_egress,
        )


@dataclass(frozen=True)
class Release:
    """What differs between the colours: the app version, its image, its boot script and its schema support."""

    label: str = "v1"
    image_id: str = ""  # "" means: look up the latest Amazon Linux 2023 AMI
    schema_versions: tuple[int, ...] = ()
    # The instances' boot script, a template rendered with the release (`bluegreen.user_data`);
    # "" runs the built-in demo app.
    boot_script: str = ""


def _default_releases() -> dict[Color, Release]:
    return {color: Release() for color in COLORS}


@dataclass(frozen=True)
class Traffic:
    active_color: Color = "blue"
    idle_traffic_percent: int = 0
    stickiness_seconds: int = 0  # 0 = off

    @property
    def idle_color(self) -> Color:
        return other(self.active_color)


@dataclass(frozen=True)
class Edge:
    certificate_arn: str = ""
    ssl_policy: str = DEFAULT_TLS_POLICY
    allowed_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    public_hostname: str = ""  # "" = the ALB's own DNS name
    # Without a certificate the preview token would cross the internet in clear text: refused unless set.
    allow_insecure_preview: bool = False
    # A new generation makes a new preview token (bluegreen.preview_token); `bluegreen rotate-token` adds one.
    preview_token_generation: int = 1
    # The production baseline (AWS's ELB guidance): the ALB can't be deleted by accident, and its access
    # logs say which colour served each request.
    deletion_protection: bool = True
    # The stack is about to be destroyed: deletion protection off whatever `deletion_protection` says, and the
    # load balancer says so (DECOMMISSION_TAG), the one switch-off the policy pack accepts.
    decommission: bool = False
    access_logs: bool = True
    access_logs_bucket: str = ""  # "" = the stack creates one
    access_logs_retention_days: int = 90

    @property
    def https(self) -> bool:
        return bool(self.certificate_arn)

    @property
    def alb_deletion_protection(self) -> bool:
        """What the load balancer gets: protected unless turned off, or the stack is being decommissioned."""
        return self.deletion_protection and not self.decommission


EGRESS_RULE = re.compile(r"^(tcp|udp):(\d{1,5})(?:-(\d{1,5}))?:(\S+)$")
# EC2: 60 outbound rules per security group by default (VPC quotas); HTTPS takes one of them.
MAX_INSTANCE_EGRESS_RULES = 50


def parse_egress_rule(text: str) -> EgressRule | None:
    """`tcp:5432:10.0.0.0/16` or `udp:8125-8126:10.0.0.0/16`; None when it is not one."""
    found = EGRESS_RULE.match(text)
    if found is None or not _is_cidr(found.group(4)):
        return None
    low = int(found.group(2))
    high = int(found.group(3) or low)
    if not 1 <= low <= high <= 65535:
        return None
    return EgressRule(found.group(1), low, high, found.group(4))


@dataclass(frozen=True)
class NetworkSettings:
    vpc_id: str = ""  # "" = create one
    subnet_ids: tuple[str, ...] = ()
    instance_subnet_ids: tuple[str, ...] = ()
    # Outbound rules besides HTTPS to anywhere (the default: packages, SSM, AWS APIs).
    instance_egress: tuple[EgressRule, ...] = ()
    # A created VPC puts instances in private subnets behind a NAT gateway; False: public subnets, public IPs.
    private_instances: bool = True


@dataclass(frozen=True)
class AlarmSettings:
    error_rate_percent: int = 5
    latency_p99_ms: int = 1000
    min_healthy_percent: int = 100  # of desiredCapacity; below it a colour's healthy-hosts alarm fires
    evaluation_minutes: int = 3
    bake_minutes: int = 15
    # The keep decision a bake recorded (flip, release, watched interval); "" = none (bluegreen.rollback_target).
    bake_decision: str = ""


GUARDIAN_MODES = ("bake", "always", "off")


@dataclass(frozen=True)
class GuardianSettings:
    armed: str = "bake"  # one of GUARDIAN_MODES
    ack: str = ""  # the `at` of a rollback record to override
    subscriptions: tuple[str, ...] = ()
    # Concurrency reserved for the guardian's Lambda; 0 reserves none (Lambda's unreserved pool). Reserving needs
    # an account quota of 100 unreserved plus this (Lambda developer guide, "Configuring reserved concurrency").
    reserved_concurrency: int = 0


@dataclass(frozen=True)
class Settings:
    """Everything the program builds from. Every field has `Pulumi.yaml`'s default."""

    traffic: Traffic = field(default_factory=Traffic)
    releases: Mapping[Color, Release] = field(default_factory=_default_releases)
    fleet: FleetSpec = field(default_factory=FleetSpec)
    edge: Edge = field(default_factory=Edge)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    alarms: AlarmSettings = field(default_factory=AlarmSettings)
    guardian: GuardianSettings = field(default_factory=GuardianSettings)
    tags: Mapping[str, str] = field(default_factory=dict)
    allow_live_release: bool = False
    gate_bypass: bool = False  # move traffic without the traffic gate's checks (bluegreen.gate)
    # The `usedAt` of the last update's one-update overrides, confirming them for one more (bluegreen.safety).
    emergency_ack: str = ""
    idle_scaled_down: bool = False
    database_schema_version: int = 0  # 0 = schema checks off
    migration_command: str = ""

    def color_spec(self) -> ColorSpec:
        """What config asks of the next release on a colour: the fleet's settings and the instances' egress."""
        return self.fleet.color_spec(self.network.instance_egress)


class _Reader:
    """Parses raw wire-form config (strings, JSON arrays), collecting problems instead of raising."""

    def __init__(self, raw: Mapping[str, str | None]) -> None:
        self.raw = raw
        self.problems: list[str] = []

    def _get(self, key: str) -> str | None:
        value = self.raw.get(key)
        if value is None:
            self.problems.append(f"{key} is not set (declare it with a default in Pulumi.yaml)")
        return value

    def string(self, key: str, check: Callable[[str], bool] | None = None, allowed: str = "") -> str:
        value = self._get(key)
        if value is None:
            return ""
        if check is not None and not check(value):
            self.problems.append(f"{key} must be {allowed}, got {value!r}")
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        value = self._get(key)
        if value is None:
            return low
        try:
            number = int(value)
        except ValueError:
            self.problems.append(f"{key} must be an integer from {low} to {high}, got {value!r}")
            return low
        if not low <= number <= high:
            self.problems.append(f"{key} must be from {low} to {high}, got {number}")
        return number

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if value is None:
            return False
        if value.lower() not in ("true", "false"):
            self.problems.append(f"{key} must be true or false, got {value!r}")
            return False
        return value.lower() == "true"

    def array(self, key: str, item: type[T]) -> tuple[T, ...]:
        value = self._get(key)
        if value is None:
            return ()
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            self.problems.append(f"{key} must be a list of {item.__name__}, got {value!r}")
            return ()
        ok = isinstance(parsed, list) and all(
            isinstance(x, item) and not (item is int and isinstance(x, bool)) for x in parsed
        )
        if not ok:
            self.problems.append(f"{key} must be a list of {item.__name__}, got {value!r}")
            return ()
        return tuple(cast(list[T], parsed))


RELEASE_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+:@/=-]{0,127}$")
AMI_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
MATCHER = re.compile(r"^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$")
DURATION = re.compile(r"^(?=\d)(\d+h)?(\d+m)?(\d+s)?$")
CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
USED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_GUARDIAN_SUBSCRIPTIONS = 10
MAX_GUARDIAN_RESERVED_CONCURRENCY = 10  # one invocation per alarm event; more buys nothing
HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~/-]{0,1023}$")


def _is_cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return True


def _tag_text_problem(text: str, what: str, longest: int) -> str | None:
    """Why ELB would refuse `text` as a tag key or value (botocore elbv2 TagKey/TagValue), or None.

    User tags go on every resource, and ELB is the strictest of the services involved: its pattern
    `^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$` allows letters, separators (white space), numbers and _.:/=+-@.
    """
    if len(text) > longest:
        return f"{what} {text!r} is {len(text)} characters long; AWS allows at most {longest}"
    bad = sorted({ch for ch in text if unicodedata.category(ch)[0] not in "LZN" and ch not in TAG_PUNCTUATION})
    if bad:
        return (
            f"{what} {text!r} contains {' '.join(repr(ch) for ch in bad)}; ELB tag keys and values allow only "
            f"letters, digits, white space and {TAG_PUNCTUATION}"
        )
    return None


def _tag_pairs(reader: _Reader, entries: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if not sep or not key.strip():
            reader.problems.append(f"tags entries must look like Key=Value, got {entry!r}")
        elif key in RESERVED_TAG_KEYS or key.lower().startswith(RESERVED_TAG_PREFIXES):
            reader.problems.append(f"tags must not set {key!r}: Name, aws:* and bluegreen:* are set by the program")
        elif problem := _tag_text_problem(key, "key", MAX_TAG_KEY_LENGTH) or _tag_text_problem(
            value, "value", MAX_TAG_VALUE_LENGTH
        ):
            reader.problems.append(f"tags entry {entry!r}: {problem}")
        elif key in tags:
            reader.problems.append(f"tags sets {key!r} twice")
        else:
            tags[key] = value
    if len(tags) > MAX_USER_TAGS:
        reader.problems.append(
            f"tags lists {len(tags)} tags; at most {MAX_USER_TAGS} are allowed (AWS allows {MAX_TAGS_PER_RESOURCE} "
            f"per resource and the program sets up to {MAX_TAGS_PER_RESOURCE - MAX_USER_TAGS} of its own)"
        )
    return tags


def _check_fleet(r: _Reader, fleet: FleetSpec) -> None:
    if not fleet.min_size <= fleet.desired_capacity <= fleet.max_size:
        r.problems.append(
            "minSize <= desiredCapacity <= maxSize must hold, got "
            f"minSize={fleet.min_size}, desiredCapacity={fleet.desired_capacity}, maxSize={fleet.max_size}"
        )
    hc = fleet.health_check
    if hc.timeout_seconds >= hc.interval_seconds:
        r.problems.append(
            "healthCheckTimeoutSeconds must be less than healthCheckIntervalSeconds, got "
            f"{hc.timeout_seconds} >= {hc.interval_seconds}"
        )
    for arn in fleet.instance_policy_arns:
        if not POLICY_ARN.match(arn):
            r.problems.append(
                f"instancePolicyArns entries must be IAM managed policy ARNs such as "
                f"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore, got {arn!r}"
            )
    if len(fleet.instance_policy_arns) > MAX_INSTANCE_POLICIES:
        r.problems.append(
            f"instancePolicyArns may list at most {MAX_INSTANCE_POLICIES} policies (IAM's default quota per role), "
            f"got {len(fleet.instance_policy_arns)}"
        )
    if len(set(fleet.instance_policy_arns)) != len(fleet.instance_policy_arns):
        r.problems.append(f"instancePolicyArns lists a policy twice: {list(fleet.instance_policy_arns)}")
    for group in fleet.extra_security_group_ids:
        if not SECURITY_GROUP_ID.match(group):
            r.problems.append(f"extraSecurityGroupIds entries must be security group ids (sg-...), got {group!r}")
    if len(fleet.extra_security_group_ids) > MAX_EXTRA_SECURITY_GROUPS:
        r.problems.append(
            f"extraSecurityGroupIds may list at most {MAX_EXTRA_SECURITY_GROUPS} groups (an instance's network "
            f"interface takes 5 by default, one of them its own), got {len(fleet.extra_security_group_ids)}"
        )


def _egress_rules(r: _Reader) -> tuple[EgressRule, ...]:
    key = Keys.INSTANCE_EGRESS.key
    rules: list[EgressRule] = []
    for text in r.array(key, str):
        rule = parse_egress_rule(text)
        if rule is None:
            r.problems.append(
                f"{key} entries must be protocol:port[-port]:cidr with protocol tcp or udp and ports 1-65535, "
                f"e.g. tcp:5432:10.0.0.0/16, got {text!r}"
            )
        elif rule in rules:
            r.problems.append(f"{key} lists {text!r} twice")
        else:
            rules.append(rule)
    if len(rules) > MAX_INSTANCE_EGRESS_RULES:
        r.problems.append(
            f"{key} may list at most {MAX_INSTANCE_EGRESS_RULES} rules (a security group takes 60 outbound rules "
            f"by default, HTTPS among them), got {len(rules)}"
        )
    return tuple(rules)


def configured_instance_subnets(settings: Settings) -> tuple[str, ...]:
    """The existing VPC's subnets the instances run in: instanceSubnetIds, else subnetIds; () for a created VPC."""
    net = settings.network
    return (net.instance_subnet_ids or net.subnet_ids) if net.vpc_id else ()


def _check_network(r: _Reader, net: NetworkSettings) -> None:
    if net.vpc_id:
        if len(net.subnet_ids) < 2:
            r.problems.append(
                f"subnetIds must list at least two subnets (in two AZs) when vpcId is set, got {list(net.subnet_ids)}"
            )
    elif net.subnet_ids or net.instance_subnet_ids:
        r.problems.append(
            "subnetIds and instanceSubnetIds need vpcId; set vpcId or leave both empty to create a VPC, "
            f"got subnetIds={list(net.subnet_ids)} instanceSubnetIds={list(net.instance_subnet_ids)}"
        )
    for key, ids in ((Keys.SUBNET_IDS.key, net.subnet_ids), (Keys.INSTANCE_SUBNET_IDS.key, net.instance_subnet_ids)):
        for subnet in ids:
            if not SUBNET_ID.match(subnet):
                r.problems.append(f"{key} entries must be subnet ids (subnet-...), got {subnet!r}")
        if len(set(ids)) != len(ids):
            r.problems.append(f"{key} lists a subnet twice: {list(ids)}")


# S3 general purpose bucket naming rules (S3 User Guide, "Bucket naming rules").
S3_BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}$")
SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")
# IAM: 10 managed policies per role by default (IAM quotas, "Managed policies attached to an IAM role").
MAX_INSTANCE_POLICIES = 10
# EC2: 5 security groups per network interface by default (VPC quotas); the instances' own group is one.
MAX_EXTRA_SECURITY_GROUPS = 4
BOOT_SCRIPT_FILE_PREFIX = "file:"


def _boot_script(r: _Reader, key: str, read_file: Callable[[str], str]) -> str:
    """`<colour>BootScript`: "" (the demo app), `file:<path>` (a template file) or the script itself."""
    value = r.string(key)
    if not value.startswith(BOOT_SCRIPT_FILE_PREFIX):
        return value
    path = value[len(BOOT_SCRIPT_FILE_PREFIX) :]
    try:
        return read_file(path)
    except OSError as exc:
        r.problems.append(
            f"{key}={value!r}: cannot read {path!r} ({exc.strerror or exc}); a file: path is relative to the "
            "project directory"
        )
        return ""


def _check_boot_scripts(r: _Reader, releases: Mapping[Color, Release], fleet: FleetSpec) -> None:
    for color, release in releases.items():
        key = Keys.BOOT_SCRIPT.name(color)
        unknown = unknown_placeholders(release.boot_script)
        if unknown:
            r.problems.append(
                f"{key} uses {', '.join(unknown)}, which the boot script template does not know; allowed: "
                + ", ".join(f"{{{{{name}}}}}" for name in BOOT_SCRIPT_VARIABLES)
            )
            continue
        rendered = render_user_data(release.boot_script, release.label, fleet.app_port, fleet.health_check.path)
        size = len(rendered.encode("utf-8"))  # EC2 counts bytes
        if size > MAX_USER_DATA_BYTES:
            r.problems.append(
                f"{key} renders to {size} bytes for release {release.label!r}; EC2 allows at most "
                f"{MAX_USER_DATA_BYTES} bytes of user data"
            )


def _check_hostname(r: _Reader, edge: Edge) -> None:
    """HTTPS needs the name users reach: the gate, `verify` and the bake poll verify the certificate against it.

    An ACM certificate cannot name the ALB's own DNS name (`*.elb.amazonaws.com` is Amazon's), and Python's
    ssl module checks the name (`check_hostname`), so without `publicHostname` every gate check, verify and
    bake poll would fail TLS verification and every flip with it.
    """
    host = edge.public_hostname
    if HOSTNAME.match(host) and is_alb_dns_name(host):
        r.problems.append(
            f"{Keys.PUBLIC_HOSTNAME.key} must be the name users reach, which the certificate covers, got {host!r}: "
            "no certificate can cover the load balancer's own DNS name (*.elb.amazonaws.com); point your own name "
            "at the output albDnsName and set that"
        )
    elif edge.https and not host:
        r.problems.append(
            f"{Keys.PUBLIC_HOSTNAME.key} must be set when {Keys.CERTIFICATE_ARN.key} is set "
            f"(certificateArn={edge.certificate_arn!r}, publicHostname=''): the traffic gate and the release tool "
            "check the certificate against the name users reach, a DNS name the certificate covers such as "
            "app.example.com (no certificate covers the ALB's own *.elb.amazonaws.com)"
        )


def _read_file(path: str) -> str:
    # Pulumi runs the program in the project directory, so relative paths are the project's.
    return Path(path).read_text(encoding="utf-8")


def read_settings(raw: Mapping[str, str | None], read_file: Callable[[str], str] = _read_file) -> Settings:
    """Turn raw wire-form config into `Settings`, or raise one `ConfigError` listing every problem.

    `raw` holds every key the stack sets in the `bluegreen:` namespace (un-namespaced); one that is not
    a known key is refused first (`UnknownKeyError`).
    """
    check_known_keys(raw)
    r = _Reader(raw)
    active = r.string(Keys.ACTIVE_COLOR.key, lambda v: v in COLORS, "'blue' or 'green'")
    traffic = Traffic(
        active_color="green" if active == "green" else "blue",
        idle_traffic_percent=r.integer(Keys.IDLE_TRAFFIC_PERCENT.key, 0, MAX_IDLE_TRAFFIC_PERCENT),
        stickiness_seconds=r.integer(Keys.STICKINESS_SECONDS.key, 0, STICKINESS_SECONDS[1]),
    )
    releases: dict[Color, Release] = {}
    for color in COLORS:
        releases[color] = Release(
            label=r.string(
                Keys.RELEASE.name(color),
                lambda v: bool(RELEASE_LABEL.match(v)),
                "a non-empty label of up to 128 letters, digits and ._+:@/=- starting with a letter or digit",
            ),
            image_id=r.string(
                Keys.IMAGE_ID.name(color), lambda v: v == "" or bool(AMI_ID.match(v)), "empty or an AMI id (ami-...)"
            ),
            schema_versions=r.array(Keys.SCHEMA_VERSIONS.name(color), int),
            boot_script=_boot_script(r, Keys.BOOT_SCRIPT.name(color), read_file),
        )
        for version in releases[color].schema_versions:
            if version < 1:
                r.problems.append(f"{color}SchemaVersions entries must be positive integers, got {version}")
    health = HealthCheck(
        path=r.string(
            Keys.HEALTH_CHECK_PATH.key,
            lambda v: bool(HEALTH_PATH.match(v)),
            "a path starting with '/' (URL-safe characters)",
        ),
        matcher=r.string(
            Keys.HEALTH_CHECK_MATCHER.key,
            lambda v: bool(MATCHER.match(v)),
            "HTTP codes such as 200, 200-299 or 200,302",
        ),
        interval_seconds=r.integer(Keys.HEALTH_CHECK_INTERVAL_SECONDS.key, 5, 300),
        timeout_seconds=r.integer(Keys.HEALTH_CHECK_TIMEOUT_SECONDS.key, 2, 120),
        healthy_threshold=r.integer(Keys.HEALTHY_THRESHOLD.key, 2, 10),
        unhealthy_threshold=r.integer(Keys.UNHEALTHY_THRESHOLD.key, 2, 10),
    )
    fleet = FleetSpec(
        instance_type=r.string(
            Keys.INSTANCE_TYPE.key, lambda v: bool(INSTANCE_TYPE.match(v)), "an EC2 instance type such as t3.micro"
        ),
        min_size=r.integer(Keys.MIN_SIZE.key, 1, 1000),
        max_size=r.integer(Keys.MAX_SIZE.key, 1, 1000),
        desired_capacity=r.integer(Keys.DESIRED_CAPACITY.key, 1, 1000),
        app_port=r.integer(Keys.APP_PORT.key, 1, 65535),
        root_volume_size_gb=r.integer(Keys.ROOT_VOLUME_SIZE_GB.key, 8, 16384),
        health_check=health,
        deregistration_delay_seconds=r.integer(Keys.DEREGISTRATION_DELAY_SECONDS.key, 0, 3600),
        health_check_grace_period_seconds=r.integer(Keys.HEALTH_CHECK_GRACE_PERIOD_SECONDS.key, 0, 7200),
        capacity_timeout=r.string(
            Keys.CAPACITY_TIMEOUT.key, lambda v: bool(DURATION.match(v)), "a duration such as 10m or 1h30m"
        ),
        instance_policy_arns=r.array(Keys.INSTANCE_POLICY_ARNS.key, str),
        detailed_monitoring=r.boolean(Keys.DETAILED_MONITORING.key),
        extra_security_group_ids=r.array(Keys.EXTRA_SECURITY_GROUP_IDS.key, str),
    )
    _check_fleet(r, fleet)
    _check_boot_scripts(r, releases, fleet)
    edge = Edge(
        certificate_arn=r.string(
            Keys.CERTIFICATE_ARN.key, lambda v: v == "" or bool(CERT_ARN.match(v)), "empty or an ACM certificate ARN"
        ),
        ssl_policy=r.string(
            Keys.SSL_POLICY.key,
            lambda v: bool(TLS_POLICY_PATTERN.match(v)),
            f"a TLS 1.2+ ELB policy such as {DEFAULT_TLS_POLICY}",
        ),
        allowed_cidrs=r.array(Keys.ALLOWED_CIDRS.key, str),
        allow_insecure_preview=r.boolean(Keys.ALLOW_INSECURE_PREVIEW.key),
        preview_token_generation=r.integer(Keys.PREVIEW_TOKEN_GENERATION.key, 1, MAX_PREVIEW_TOKEN_GENERATION),
        deletion_protection=r.boolean(Keys.ALB_DELETION_PROTECTION.key),
        decommission=r.boolean(Keys.DECOMMISSION.key),
        access_logs=r.boolean(Keys.ACCESS_LOGS.key),
        access_logs_bucket=r.string(
            Keys.ACCESS_LOGS_BUCKET.key,
            lambda v: v == "" or bool(S3_BUCKET.match(v)),
            "empty or an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)",
        ),
        access_logs_retention_days=r.integer(Keys.ACCESS_LOGS_RETENTION_DAYS.key, 1, 3650),
        public_hostname=r.string(
            Keys.PUBLIC_HOSTNAME.key,
            lambda v: v == "" or bool(HOSTNAME.match(v)),
            "empty or a lower-case DNS name such as app.example.com",
        ),
    )
    _check_hostname(r, edge)
    if not edge.https and not edge.allow_insecure_preview:
        r.problems.append(
            f"{Keys.CERTIFICATE_ARN.key} is empty, so the preview route and its token would be served over plain "
            f"HTTP: set {Keys.CERTIFICATE_ARN.key} to an ACM certificate ARN, or, for a throwaway stack only, "
            f"set {Keys.ALLOW_INSECURE_PREVIEW.key} to true"
        )
    if not edge.allowed_cidrs and Keys.ALLOWED_CIDRS.key in raw:
        r.problems.append("allowedCidrs must list at least one CIDR block, got []")
    for cidr in edge.allowed_cidrs:
        if not _is_cidr(cidr):
            r.problems.append(f"allowedCidrs entries must be CIDR blocks such as 203.0.113.0/24, got {cidr!r}")
    network = NetworkSettings(
        vpc_id=r.string(Keys.VPC_ID.key, lambda v: v == "" or bool(VPC_ID.match(v)), "empty or a VPC id (vpc-...)"),
        subnet_ids=r.array(Keys.SUBNET_IDS.key, str),
        instance_subnet_ids=r.array(Keys.INSTANCE_SUBNET_IDS.key, str),
        instance_egress=_egress_rules(r),
        private_instances=r.boolean(Keys.PRIVATE_INSTANCES.key),
    )
    _check_network(r, network)
    alarms = AlarmSettings(
        error_rate_percent=r.integer(Keys.ROLLBACK_ERROR_RATE_PERCENT.key, 1, 100),
        latency_p99_ms=r.integer(Keys.ROLLBACK_LATENCY_P99_MS.key, 1, 60000),
        min_healthy_percent=r.integer(Keys.ROLLBACK_MIN_HEALTHY_PERCENT.key, 1, 100),
        evaluation_minutes=r.integer(Keys.ALARM_EVALUATION_MINUTES.key, 1, 60),
        bake_minutes=r.integer(Keys.BAKE_MINUTES.key, 0, MAX_BAKE_MINUTES),
        bake_decision=r.string(
            Keys.BAKE_DECISION.key,
            check_bake_decision,
            BAKE_DECISION_FORMAT,
        ),
    )
    guardian = GuardianSettings(
        armed=r.string(Keys.GUARDIAN_ARMED.key, lambda v: v in GUARDIAN_MODES, " or ".join(GUARDIAN_MODES)),
        ack=r.string(Keys.GUARDIAN_ACK.key),
        subscriptions=r.array(Keys.GUARDIAN_SUBSCRIPTIONS.key, str),
        reserved_concurrency=r.integer(Keys.GUARDIAN_RESERVED_CONCURRENCY.key, 0, MAX_GUARDIAN_RESERVED_CONCURRENCY),
    )
    for endpoint in guardian.subscriptions:
        if not (EMAIL.match(endpoint) or endpoint.startswith("https://")):
            r.problems.append(
                f"{Keys.GUARDIAN_SUBSCRIPTIONS.key} entries must be email addresses or https:// endpoints, "
                f"got {endpoint!r}"
            )
    if len(guardian.subscriptions) > MAX_GUARDIAN_SUBSCRIPTIONS:
        r.problems.append(
            f"{Keys.GUARDIAN_SUBSCRIPTIONS.key} may list at most {MAX_GUARDIAN_SUBSCRIPTIONS} endpoints, "
            f"got {len(guardian.subscriptions)}"
        )
    tags = _tag_pairs(r, r.array(Keys.TAGS.key, str))
    idle_scaled_down = r.boolean(Keys.IDLE_SCALED_DOWN.key)
    if idle_scaled_down and traffic.idle_traffic_percent > 0:
        r.problems.append(
            f"idleTrafficPercent must be 0 while idleScaledDown is true (the idle colour has no instances), "
            f"got {traffic.idle_traffic_percent}"
        )
    settings = Settings(
        traffic=traffic,
        releases=releases,
        fleet=fleet,
        edge=edge,
        network=network,
        alarms=alarms,
        guardian=guardian,
        tags=tags,
        allow_live_release=r.boolean(Keys.ALLOW_LIVE_RELEASE.key),
        gate_bypass=r.boolean(Keys.GATE_BYPASS.key),
        emergency_ack=r.string(
            Keys.EMERGENCY_ACK.key,
            lambda v: v == "" or bool(USED_AT.match(v)),
            "empty or the usedAt of the emergencyOverrides output, such as 2026-12-08T02:50:00Z",
        ),
        idle_scaled_down=idle_scaled_down,
        database_schema_version=r.integer(Keys.DATABASE_SCHEMA_VERSION.key, 0, MAX_SCHEMA_VERSION),
        migration_command=r.string(Keys.MIGRATION_COMMAND.key),
    )
    if not r.problems:
        r.problems.extend(
            schema_conflicts(
                settings.database_schema_version,
                {c: settings.releases[c].schema_versions for c in COLORS},
                settings.traffic.active_color,
                settings.idle_scaled_down,
            )
        )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


CONFIG_KEYS = tuple(Keys.program_names())


def to_config(settings: Settings) -> dict[str, str]:
    """`settings` as the wire-form stack config `read_settings` reads (a boot script inline)."""
    fleet, hc, edge, net, alarms = (
        settings.fleet,
        settings.fleet.health_check,
        settings.edge,
        settings.network,
        settings.alarms,
    )
    values: dict[str, Any] = {
        Keys.ACTIVE_COLOR.key: settings.traffic.active_color,
        Keys.IDLE_TRAFFIC_PERCENT.key: settings.traffic.idle_traffic_percent,
        Keys.STICKINESS_SECONDS.key: settings.traffic.stickiness_seconds,
        Keys.ALLOW_LIVE_RELEASE.key: settings.allow_live_release,
        Keys.GATE_BYPASS.key: settings.gate_bypass,
        Keys.EMERGENCY_ACK.key: settings.emergency_ack,
        Keys.INSTANCE_TYPE.key: fleet.instance_type,
        Keys.MIN_SIZE.key: fleet.min_size,
        Keys.MAX_SIZE.key: fleet.max_size,
        Keys.DESIRED_CAPACITY.key: fleet.desired_capacity,
        Keys.IDLE_SCALED_DOWN.key: settings.idle_scaled_down,
        Keys.CAPACITY_TIMEOUT.key: fleet.capacity_timeout,
        Keys.HEALTH_CHECK_GRACE_PERIOD_SECONDS.key: fleet.health_check_grace_period_seconds,
        Keys.ROOT_VOLUME_SIZE_GB.key: fleet.root_volume_size_gb,
        Keys.APP_PORT.key: fleet.app_port,
        Keys.HEALTH_CHECK_PATH.key: hc.path,
        Keys.HEALTH_CHECK_MATCHER.key: hc.matcher,
        Keys.HEALTH_CHECK_INTERVAL_SECONDS.key: hc.interval_seconds,
        Keys.HEALTH_CHECK_TIMEOUT_SECONDS.key: hc.timeout_seconds,
        Keys.HEALTHY_THRESHOLD.key: hc.healthy_threshold,
        Keys.UNHEALTHY_THRESHOLD.key: hc.unhealthy_threshold,
        Keys.DEREGISTRATION_DELAY_SECONDS.key: fleet.deregistration_delay_seconds,
        Keys.CERTIFICATE_ARN.key: edge.certificate_arn,
        Keys.PUBLIC_HOSTNAME.key: edge.public_hostname,
        Keys.SSL_POLICY.key: edge.ssl_policy,
        Keys.ALLOWED_CIDRS.key: list(edge.allowed_cidrs),
        Keys.ALLOW_INSECURE_PREVIEW.key: edge.allow_insecure_preview,
        Keys.PREVIEW_TOKEN_GENERATION.key: edge.preview_token_generation,
        Keys.ALB_DELETION_PROTECTION.key: edge.deletion_protection,
        Keys.DECOMMISSION.key: edge.decommission,
        Keys.ACCESS_LOGS.key: edge.access_logs,
        Keys.ACCESS_LOGS_BUCKET.key: edge.access_logs_bucket,
        Keys.ACCESS_LOGS_RETENTION_DAYS.key: edge.access_logs_retention_days,
        Keys.VPC_ID.key: net.vpc_id,
        Keys.SUBNET_IDS.key: list(net.subnet_ids),
        Keys.INSTANCE_SUBNET_IDS.key: list(net.instance_subnet_ids),
        Keys.INSTANCE_EGRESS.key: [rule.spec for rule in net.instance_egress],
        Keys.PRIVATE_INSTANCES.key: net.private_instances,
        Keys.TAGS.key: [f"{key}={value}" for key, value in settings.tags.items()],
        Keys.ROLLBACK_ERROR_RATE_PERCENT.key: alarms.error_rate_percent,
        Keys.ROLLBACK_LATENCY_P99_MS.key: alarms.latency_p99_ms,
        Keys.ROLLBACK_MIN_HEALTHY_PERCENT.key: alarms.min_healthy_percent,
        Keys.ALARM_EVALUATION_MINUTES.key: alarms.evaluation_minutes,
        Keys.BAKE_MINUTES.key: alarms.bake_minutes,
        Keys.BAKE_DECISION.key: alarms.bake_decision,
        Keys.GUARDIAN_ARMED.key: settings.guardian.armed,
        Keys.GUARDIAN_ACK.key: settings.guardian.ack,
        Keys.GUARDIAN_SUBSCRIPTIONS.key: list(settings.guardian.subscriptions),
        Keys.GUARDIAN_RESERVED_CONCURRENCY.key: settings.guardian.reserved_concurrency,
        Keys.DATABASE_SCHEMA_VERSION.key: settings.database_schema_version,
        Keys.MIGRATION_COMMAND.key: settings.migration_command,
        Keys.INSTANCE_POLICY_ARNS.key: list(fleet.instance_policy_arns),
        Keys.DETAILED_MONITORING.key: fleet.detailed_monitoring,
        Keys.EXTRA_SECURITY_GROUP_IDS.key: list(fleet.extra_security_group_ids),
    }
    for color in COLORS:
        release = settings.releases.get(color, Release())
        values[Keys.RELEASE.name(color)] = release.label
        values[Keys.IMAGE_ID.name(color)] = release.image_id
        values[Keys.SCHEMA_VERSIONS.name(color)] = list(release.schema_versions)
        values[Keys.BOOT_SCRIPT.name(color)] = release.boot_script
    return {key: to_wire(value) for key, value in values.items()}


def validated(settings: Settings) -> Settings:
    """`settings` built in Python, checked by exactly the rules stack config is checked by.

    Raises `ConfigError`, whose lines name the config key each field stands for.
    """
    if set(settings.releases) != set(COLORS):
        raise ConfigError(
            [f"releases must give a Release for each of {', '.join(COLORS)}, got {sorted(settings.releases)}"]
        )
    return read_settings(to_config(settings), read_file=_no_files)


def _no_files(path: str) -> str:
    raise FileNotFoundError(2, "a Settings object holds its boot script inline, not a file: path", path)


# Declared in Pulumi.yaml for the release tool, which records its state in stack config.
TOOL_KEYS = tuple(Keys.tool_names())


def namespace_keys(namespace: str = CONFIG_NAMESPACE) -> list[str]:
    """Every key the running program's config sets in `namespace`, un-namespaced.

    The language host hands the program the stack's whole config map (project defaults applied) as
    $PULUMI_CONFIG, and the exec shim loads it with `pulumi.runtime.set_all_config` before the program
    starts (pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec); tests set it the same way under
    the mocks. `pulumi.Config` only answers for keys it is asked about, so the map itself is read here.
    """
    from pulumi.runtime import config as runtime_config

    prefix = f"{namespace}:"
    names = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    return sorted(name[len(prefix) :] for name in names if name.startswith(prefix))


def load_settings() -> Settings:
    """Read this stack's `bluegreen:` config through the Pulumi SDK and validate it.

    The namespace is `bluegreen` in any project, so the release tool (which writes
    `bluegreen:activeColor` and the like) works on your own program too. A key the stack does not
    set takes `Settings`' default, which is what this project's Pulumi.yaml declares. A key the
    namespace holds that is not known (`activeColour`) is refused, naming the closest known key.
    """
    config = pulumi.Config(CONFIG_NAMESPACE)
    raw = to_config(Settings())
    for key in CONFIG_KEYS:
        value = config.get(key)
        if value is not None:
            raw[key] = value
    # The keys the program does not read (the tool's, a typo) by name only: read_settings refuses a typo.
    for key in namespace_keys():
        raw.setdefault(key, "")
    return read_settings(raw)
