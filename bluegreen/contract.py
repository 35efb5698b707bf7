"""The names and limits that the program, the policy pack, the release tool and the CI summary share.

Each one is defined here once and imported everywhere else. The policy pack imports the names
but keeps its own checks, so a bug in the program cannot silence a policy. This module imports
nothing outside the standard library: the pack and the tool load it without Pulumi's SDK.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

# ---------------------------------------------------------------- colours and weights

Color = Literal["blue", "green"]
COLORS: tuple[Color, Color] = ("blue", "green")
# The idle colour's largest canary share; above it the "idle" colour would be the main one.
MAX_IDLE_TRAFFIC_PERCENT: Final = 50


def other(color: Color) -> Color:
    return "green" if color == "blue" else "blue"


def traffic_weights(active: Color, idle_percent: int) -> dict[Color, int]:
    """Listener weights: the active colour gets the rest of 100, the idle colour its canary share."""
    return {active: 100 - idle_percent, other(active): idle_percent}


# ---------------------------------------------------------------- type tokens

TYPE_PREFIX: Final = "bluegreen:aws:"


def type_token(component: str) -> str:
    """`bluegreen:aws:<Name>`: part of every URN, so a rename would replace deployed resources."""
    return f"{TYPE_PREFIX}{component}"


# ---------------------------------------------------------------- tag keys

TAG_PREFIX: Final = "bluegreen:"
COLOR_TAG: Final = "bluegreen:color"
RELEASE_TAG: Final = "bluegreen:release"
IMAGE_ID_TAG: Final = "bluegreen:imageId"
SUBNET_TIER_TAG: Final = "bluegreen:subnetTier"
# `<project>/<stack>` on everything the stack creates: the deploy role's EC2 writes are conditioned on it
# (`aws:ResourceTag/bluegreen:stack`, `aws:RequestTag/bluegreen:stack` on create).
STACK_TAG: Final = "bluegreen:stack"
SCHEMA_VERSIONS_TAG: Final = "bluegreen:schemaVersions"  # space-separated: ELB tag values allow no comma
IDLE_SCALED_DOWN_TAG: Final = "bluegreen:idleScaledDown"
# On the load balancer while config `decommission` is true: the one deletion-protection switch-off the pack accepts.
DECOMMISSION_TAG: Final = "bluegreen:decommission"
DATABASE_SCHEMA_VERSION_TAG: Final = "bluegreen:databaseSchemaVersion"
# On each colour's launch template, target group and ASG: `settings_fingerprint` of the settings the
# colour runs with. Where the colours' tags differ, their release specs declare a difference.
SPEC_TAG: Final = "bluegreen:spec"


def settings_fingerprint(values: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a colour's release-spec settings keyed by their config keys (instanceType,
    appPort, healthCheckPath, ...), as canonical JSON. The program tags each colour with it, and the
    policy pack recomputes it from what the colour's resources run."""
    canonical = json.dumps(dict(values), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# ---------------------------------------------------------------- policies a stack may lower

# The production baseline (docs/policies.md, "Stacks that run without the production baseline"): the only
# policies a stack's own policy config (`policies/stacks/<stack>.json`) may lower from mandatory. Every other
# policy is a safety invariant of the release, and `all` would lower those too; the release tool and the CI
# summary refuse a file that lowers one (`bluegreen.safety`).
LOWERABLE_POLICIES: Final = ("alb-access-logs-enabled", "alb-deletion-protection", "instances-without-public-ip")
# Enforcement levels that lower a policy below the pack's mandatory.
LOWERED_LEVELS: Final = ("advisory", "disabled")
# The pack-wide entry of a policy config file (pulumi-policy: it sets every policy's level at once).
ALL_POLICIES: Final = "all"


# ---------------------------------------------------------------- the preview route

PREVIEW_COLOR_HEADER: Final = "X-Bluegreen-Color"
PREVIEW_TOKEN_HEADER: Final = "X-Bluegreen-Token"

# The ALB's own DNS names (public and internal, all partitions). No certificate can be issued for them: a
# certificate's name must match the custom domain users reach (ELB User Guide, "SSL certificates for your
# Application Load Balancer"), so HTTPS checks go to `publicHostname`, never to these.
ALB_DNS_SUFFIXES: Final = (".elb.amazonaws.com", ".elb.amazonaws.com.cn")


def is_alb_dns_name(host: str) -> bool:
    """Whether `host` is under the ALB's own DNS domain, which no certificate covers."""
    name = host.lower().rstrip(".")
    return name.endswith(ALB_DNS_SUFFIXES) or f".{name}" in ALB_DNS_SUFFIXES


# ---------------------------------------------------------------- limits

# The forward action's stickiness duration, in seconds (ELB API, TargetGroupStickinessConfig).
STICKINESS_SECONDS: Final = (1, 604_800)
# TLS 1.2 or newer ELB security policies (ELB docs, "Security policies for your Application Load Balancer").
TLS_POLICY_PATTERN: Final = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)(-[A-Za-z0-9]+)*$")
DEFAULT_TLS_POLICY: Final = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# healthCheckGracePeriodSeconds' default: a release spec leaves the setting out at it, and the policy pack counts
# a colour's grace period only away from it (`bluegreen.release_spec`).
DEFAULT_HEALTH_CHECK_GRACE_PERIOD_SECONDS: Final = 120
DEFAULT_CAPACITY_TIMEOUT: Final = "10m"  # capacityTimeout's, likewise
# The longest bake, in minutes: config bakeMinutes and `bake --minutes` share it.
MAX_BAKE_MINUTES: Final = 1440
# The highest preview token generation (config previewTokenGeneration; `rotate-token` adds one).
MAX_PREVIEW_TOKEN_GENERATION: Final = 1_000_000
# The version of the state document each update writes for the guardian (`bluegreen.guardian_state`);
# the handler refuses any other, so an old function never misreads a newer state.
GUARDIAN_STATE_VERSION: Final = 1

# ---------------------------------------------------------------- the production forward action


@dataclass(frozen=True)
class ForwardShape:
    """The field names of a weighted forward action in one of the three places it is written."""

    type: str
    forward: str
    target_groups: str
    arn: str
    weight: str
    stickiness: str
    enabled: str
    duration: str
    single_arn: str  # a forward to one group, without a forward block


# Pulumi's resource inputs (aws.lb.ListenerDefaultActionArgs), the provider's state as the policy pack
# sees it, and the ELB API (ModifyListener / DescribeListeners).
FORWARD_ARGS: Final = ForwardShape(
    "type", "forward", "target_groups", "arn", "weight", "stickiness", "enabled", "duration", "target_group_arn"
)
FORWARD_STATE: Final = ForwardShape(
    "type", "forward", "targetGroups", "arn", "weight", "stickiness", "enabled", "duration", "targetGroupArn"
)
FORWARD_API: Final = ForwardShape(
    "Type",
    "ForwardConfig",
    "TargetGroups",
    "TargetGroupArn",
    "Weight",
    "TargetGroupStickinessConfig",
    "Enabled",
    "DurationSeconds",
    "TargetGroupArn",
)


def forward_action(groups: Sequence[tuple[Any, int]], stickiness_seconds: int, shape: ForwardShape) -> dict[str, Any]:
    """The production listener's one action: forward to (target group, weight) pairs. A flip changes
    only the weights. The stickiness duration is required even when stickiness is off (ELB API,
    TargetGroupStickinessConfig), so it is at least 1."""
    return {
        shape.type: "forward",
        shape.forward: {
            shape.target_groups: [{shape.arn: arn, shape.weight: weight} for arn, weight in groups],
            shape.stickiness: {shape.enabled: stickiness_seconds > 0, shape.duration: max(stickiness_seconds, 1)},
        },
    }


def forward_weights(actions: Any, shape: ForwardShape) -> dict[Any, Any] | None:
    """Target group -> weight of the first forward action in `actions`; None when there is none.

    A weight the action leaves out is ELB's default of 1; a forward to a single group has weight 1.
    Values are returned as found (the policy pack sees unknowns during a preview).
    """
    if not isinstance(actions, list):
        return None
    for action in actions:
        if not isinstance(action, Mapping) or action.get(shape.type) != "forward":
            continue
        block = action.get(shape.forward)
        groups = block.get(shape.target_groups) if isinstance(block, Mapping) else None
        if isinstance(groups, list) and groups:
            return {g.get(shape.arn): g.get(shape.weight, 1) for g in groups if isinstance(g, Mapping)}
        if action.get(shape.single_arn):
            return {action[shape.single_arn]: 1}
    return None


# ---------------------------------------------------------------- config keys


class _Named:
    """A name that is either shared or per colour (the colour followed by `key`)."""

    key: str
    per_color: bool
    kind: str  # for messages: "config key", "output"

    def name(self, color: str | None = None) -> str:
        if self.per_color:
            if color is None:
                raise ValueError(f"{self.kind} {self.key!r} is per colour: pass a colour")
            return f"{color}{self.key}"
        return self.key

    def names(self) -> list[str]:
        return [self.name(c) for c in COLORS] if self.per_color else [self.key]


@dataclass(frozen=True)
class Key(_Named):
    """One stack config key (namespace `bluegreen`). A per-colour key's name is the colour followed by `suffix`."""

    key: str  # the name, or for a per-colour key its suffix ("Release" -> blueRelease, greenRelease)
    per_color: bool = False
    tool: bool = False  # written by the release tool; the program ignores it
    kind: str = "config key"


class Keys:
    """Every config key `Pulumi.yaml` declares, in its order. The descriptions live in `Pulumi.yaml`."""

    ACTIVE_COLOR = Key("activeColor")
    IDLE_TRAFFIC_PERCENT = Key("idleTrafficPercent")
    STICKINESS_SECONDS = Key("stickinessSeconds")
    RELEASE = Key("Release", per_color=True)
    IMAGE_ID = Key("ImageId", per_color=True)
    BOOT_SCRIPT = Key("BootScript", per_color=True)
    ALLOW_LIVE_RELEASE = Key("allowLiveRelease")
    GATE_BYPASS = Key("gateBypass")
    EMERGENCY_ACK = Key("emergencyAck")
    INSTANCE_TYPE = Key("instanceType")
    MIN_SIZE = Key("minSize")
    MAX_SIZE = Key("maxSize")
    DESIRED_CAPACITY = Key("desiredCapacity")
    IDLE_SCALED_DOWN = Key("idleScaledDown")
    CAPACITY_TIMEOUT = Key("capacityTimeout")
    ROOT_VOLUME_SIZE_GB = Key("rootVolumeSizeGb")
    HEALTH_CHECK_GRACE_PERIOD_SECONDS = Key("healthCheckGracePeriodSeconds")
    INSTANCE_POLICY_ARNS = Key("instancePolicyArns")
    DETAILED_MONITORING = Key("detailedMonitoring")
    EXTRA_SECURITY_GROUP_IDS = Key("extraSecurityGroupIds")
    APP_PORT = Key("appPort")
    HEALTH_CHECK_PATH = Key("healthCheckPath")
    HEALTH_CHECK_MATCHER = Key("healthCheckMatcher")
    HEALTH_CHECK_INTERVAL_SECONDS = Key("healthCheckIntervalSeconds")
    HEALTH_CHECK_TIMEOUT_SECONDS = Key("healthCheckTimeoutSeconds")
    HEALTHY_THRESHOLD = Key("healthyThreshold")
    UNHEALTHY_THRESHOLD = Key("unhealthyThreshold")
    DEREGISTRATION_DELAY_SECONDS = Key("deregistrationDelaySeconds")
    CERTIFICATE_ARN = Key("certificateArn")
    ALLOW_INSECURE_PREVIEW = Key("allowInsecurePreview")
    PREVIEW_TOKEN_GENERATION = Key("previewTokenGeneration")
    PUBLIC_HOSTNAME = Key("publicHostname")
    SSL_POLICY = Key("sslPolicy")
    ALLOWED_CIDRS = Key("allowedCidrs")
    ALB_DELETION_PROTECTION = Key("albDeletionProtection")
    DECOMMISSION = Key("decommission")
    ACCESS_LOGS = Key("accessLogs")
    ACCESS_LOGS_BUCKET = Key("accessLogsBucket")
    ACCESS_LOGS_RETENTION_DAYS = Key("accessLogsRetentionDays")
    VPC_ID = Key("vpcId")
    SUBNET_IDS = Key("subnetIds")
    INSTANCE_SUBNET_IDS = Key("instanceSubnetIds")
    INSTANCE_EGRESS = Key("instanceEgress")
    PRIVATE_INSTANCES = Key("privateInstances")
    TAGS = Key("tags")
    ROLLBACK_ERROR_RATE_PERCENT = Key("rollbackErrorRatePercent")
    ROLLBACK_LATENCY_P99_MS = Key("rollbackLatencyP99Ms")
    ROLLBACK_MIN_HEALTHY_PERCENT = Key("rollbackMinHealthyPercent")
    ALARM_EVALUATION_MINUTES = Key("alarmEvaluationMinutes")
    BAKE_MINUTES = Key("bakeMinutes")
    BAKE_DECISION = Key("bakeDecision")
    GUARDIAN_ARMED = Key("guardianArmed")
    GUARDIAN_ACK = Key("guardianAck")
    GUARDIAN_SUBSCRIPTIONS = Key("guardianSubscriptions")
    GUARDIAN_RESERVED_CONCURRENCY = Key("guardianReservedConcurrency")
    DATABASE_SCHEMA_VERSION = Key("databaseSchemaVersion")
    SCHEMA_VERSIONS = Key("SchemaVersions", per_color=True)
    MIGRATION_COMMAND = Key("migrationCommand")
    VERIFIED = Key("Verified", per_color=True, tool=True)
    ROLLBACK_COLOR = Key("rollbackColor", tool=True)

    @classmethod
    def all(cls) -> list[Key]:
        return [value for value in vars(cls).values() if isinstance(value, Key)]

    @classmethod
    def program_names(cls) -> list[str]:
        """The keys the program reads."""
        return [name for key in cls.all() if not key.tool for name in key.names()]

    @classmethod
    def tool_names(cls) -> list[str]:
        """The keys the release tool writes to record its state."""
        return [name for key in cls.all() if key.tool for name in key.names()]


# ---------------------------------------------------------------- stack outputs


@dataclass(frozen=True)
class Output(_Named):
    """One stack output. A per-colour output's name is the colour followed by `suffix`."""

    key: str  # the name, or for a per-colour output its suffix ("Weight" -> blueWeight, greenWeight)
    meaning: str
    per_color: bool = False
    secret: bool = False
    kind: str = "output"


class Outputs:
    """Every stack output the program exports, in the order it exports them."""

    URL = Output(
        "url",
        "Where the service answers: `https://<publicHostname>` with a certificate (HTTPS needs publicHostname); "
        "without one, `http://` and publicHostname when set, else the ALB's DNS name.",
    )
    ALB_DNS_NAME = Output("albDnsName", "The load balancer's DNS name (point `publicHostname` at it).")
    LOAD_BALANCER_ARN = Output("loadBalancerArn", "The load balancer.")
    ACTIVE_COLOR = Output("activeColor", "The colour the production listener sends the main share of traffic to.")
    IDLE_COLOR = Output("idleColor", "The other colour: idle, or being prepared with the next release.")
    LISTENER_ARN = Output("listenerArn", "The production listener (HTTPS with a certificate, else HTTP).")
    HTTP_LISTENER_ARN = Output("httpListenerArn", "The port 80 listener (the redirect when HTTPS is on).")
    WEIGHT = Output("Weight", "The colour's weight on the production listener (0 to 100).", per_color=True)
    TARGET_GROUP_ARN = Output("TargetGroupArn", "The colour's target group.", per_color=True)
    ASG_NAME = Output("AsgName", "The colour's Auto Scaling Group.", per_color=True)
    RELEASE = Output("Release", "The release label the colour runs; the release guard reads it back.", per_color=True)
    IMAGE_ID = Output("ImageId", "The AMI the colour runs (a lookup resolved and pinned).", per_color=True)
    USER_DATA_HASH = Output(
        "UserDataHash", "SHA-256 of the colour's boot script; `verify` binds its record to it.", per_color=True
    )
    BOOT_SCRIPT_HASH = Output(
        "BootScriptHash",
        "SHA-256 of the colour's boot script template (empty for the demo app); the release guard compares it.",
        per_color=True,
    )
    SCHEMA_VERSIONS = Output(
        "SchemaVersions", "The database schema versions the colour's release supports.", per_color=True
    )
    SPEC = Output(
        "Spec",
        "The colour's deployed release spec: `{version, fingerprint, spec}`, where spec holds its release, image, "
        "boot script hash, schema support and the settings it runs with (instanceType, appPort, the health check, "
        "...). A colour that serves traffic is rebuilt from it, so config changes reach the idle colour first.",
        per_color=True,
    )
    ALARM_NAMES = Output(
        "AlarmNames",
        "The colour's alarms (5xx rate, p99 latency, healthy hosts), as `bake` watches them.",
        per_color=True,
    )
    ROLLBACK_TARGET = Output(
        "rollbackTarget",
        "The colour traffic left at the last flip, `{color, fingerprint, liveColor, liveFingerprint, kept, flip}`: "
        "kept as it was until a keep decision for this flip (its number, `flip`) is recorded (`bakeDecision`); "
        "`{}` before any flip. `disarmed: true` (absent otherwise) when the flip was a rollback: `color` is the "
        "release traffic was rolled away from, which the guardian never flips to and the release guard does not hold.",
    )
    GUARDIAN_STATE_ID = Output(
        "guardianStateId",
        "The id of the state this update wrote for the guardian; its records name it. Unique per deployment: "
        "it covers guardianGeneration, so a re-flip to the same build is a new id.",
    )
    GUARDIAN_GENERATION = Output(
        "guardianGeneration",
        "Counts the updates that moved traffic (the weights or the rollback target changed since the last "
        "update's outputs); part of guardianStateId, so a guardian record of an earlier deployment never names "
        "this one.",
    )
    GUARDIAN_RECORD_PARAMETER = Output(
        "guardianRecordParameter", "The SSM parameter holding the guardian's last decision record."
    )
    DECISION_LOG_PARAMETER = Output(
        "decisionLogParameter",
        "The SSM parameter the release tool appends its decision records to (switch, bake decision, rollback); "
        "its version history and the guardian's record parameter's are what `bluegreen history` prints.",
    )
    EDGE = Output(
        "edge",
        "The shared edge as deployed, by config key (certificateArn, sslPolicy, allowedCidrs, publicHostname, "
        "stickinessSeconds): it changes in place for both colours, and the summary says so.",
    )
    INSTANCE_SUBNET_TIER = Output(
        "instanceSubnetTier",
        "Where the instances run: `private` (no public IP; a created VPC's private subnets behind its NAT gateway, "
        "or an existing VPC) or `public`. The release guard refuses to move a colour that serves traffic.",
    )
    INSTANCE_SUBNET_IDS = Output(
        "instanceSubnetIds",
        "The subnets an existing VPC's instances run in (instanceSubnetIds, else subnetIds; `[]` for a VPC the "
        "stack created). Both colours' Auto Scaling groups share them, so the release guard refuses to move them "
        "while a colour serves traffic.",
    )
    AVAILABILITY_ZONES = Output(
        "availabilityZones",
        "The two zones a VPC the stack created has its subnets in (`[]` with vpcId). Pinned: later updates read "
        "them back and keep them, since a subnet's zone forces its replacement, and refuse an instance type "
        "either zone does not offer.",
    )
    RELEASE_HEALTH_ALARM = Output(
        "ReleaseHealthAlarm",
        "The colour's composite release-health alarm: ALARM when any of its alarms is (the guardian acts on it).",
        per_color=True,
    )
    ALLOW_INSECURE_PREVIEW = Output(
        "allowInsecurePreview",
        "Whether the preview route was deployed over plain HTTP (`allowInsecurePreview`, no certificate); the "
        "release tool refuses to send the preview token to an http:// URL unless it is true.",
    )
    PREVIEW_COLOR_HEADER = Output("previewColorHeader", "The header that picks a colour on the preview route.")
    PREVIEW_TOKEN_HEADER = Output("previewTokenHeader", "The header that carries the preview token.")
    PREVIEW_TOKEN = Output("previewToken", "The preview route's token.", secret=True)
    DASHBOARD_NAME = Output("dashboardName", "The CloudWatch dashboard with both colours side by side.")
    IDLE_SCALED_DOWN = Output("idleScaledDown", "Whether the idle colour is scaled to zero.")
    DATABASE_SCHEMA_VERSION = Output("databaseSchemaVersion", "The schema version the shared database is at.")
    BAKE_MINUTES = Output("bakeMinutes", "How long `bake` watches a new live colour by default.")
    EMERGENCY_OVERRIDES = Output(
        "emergencyOverrides",
        "The one-update overrides this update ran with, `{usedAt, gateBypass, guardianArmed}` (only those set), or "
        "`{}`: the next update that still sets one is refused unless `emergencyAck` names `usedAt`.",
    )

    @classmethod
    def all(cls) -> list[Output]:
        return [value for value in vars(cls).values() if isinstance(value, Output)]
