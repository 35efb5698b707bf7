"""A release is the whole colour: its build and the settings it runs and is judged with.

Each colour's deployed spec is exported as one versioned output (`<colour>Spec`) with a
fingerprint. Config's fleet settings (`instanceType`, `appPort`, the health check, ...) are shared
keys, but they describe the *next* release: `plan_specs` gives them to a colour only while it is
idle, and builds a colour that serves traffic from the spec it was deployed with, so a change never
reaches users before it ran on the idle colour. What a colour does not get yet is `pending`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bluegreen.contract import COLORS, Color, Keys, settings_fingerprint
from bluegreen.settings import ColorSpec, HealthCheck, Settings, parse_egress_rule

SPEC_VERSION = 1


def color_spec_values(spec: ColorSpec, *, recorded_only: bool = False) -> dict[str, Any]:
    """The spec's settings, keyed by the config keys they come from; `recorded_only` leaves out those its
    deployed spec did not record (`ColorSpec.unrecorded`), as its output and tag do."""
    values = _color_spec_values(spec)
    return {k: v for k, v in values.items() if k not in spec.unrecorded} if recorded_only else values


def _color_spec_values(spec: ColorSpec) -> dict[str, Any]:
    hc = spec.health_check
    return {
        Keys.INSTANCE_TYPE.key: spec.instance_type,
        Keys.ROOT_VOLUME_SIZE_GB.key: spec.root_volume_size_gb,
        Keys.APP_PORT.key: spec.app_port,
        Keys.HEALTH_CHECK_PATH.key: hc.path,
        Keys.HEALTH_CHECK_MATCHER.key: hc.matcher,
        Keys.HEALTH_CHECK_INTERVAL_SECONDS.key: hc.interval_seconds,
        Keys.HEALTH_CHECK_TIMEOUT_SECONDS.key: hc.timeout_seconds,
        Keys.HEALTHY_THRESHOLD.key: hc.healthy_threshold,
        Keys.UNHEALTHY_THRESHOLD.key: hc.unhealthy_threshold,
        Keys.DEREGISTRATION_DELAY_SECONDS.key: spec.deregistration_delay_seconds,
        # Sorted: the order in config attaches nothing differently (attachments are named by policy).
        Keys.INSTANCE_POLICY_ARNS.key: sorted(spec.instance_policy_arns),
        # Present only when on: a spec without it fingerprints as it did before the setting existed.
        **({Keys.DETAILED_MONITORING.key: True} if spec.detailed_monitoring else {}),
        # Joined the spec later (issue 22); present only away from their defaults, for the same reason.
        **_unless_default(Keys.HEALTH_CHECK_GRACE_PERIOD_SECONDS.key, spec.health_check_grace_period_seconds),
        **_unless_default(Keys.CAPACITY_TIMEOUT.key, spec.capacity_timeout),
        # Sorted: an instance's security groups and a group's rules are sets.
        **_unless_default(Keys.EXTRA_SECURITY_GROUP_IDS.key, sorted(spec.extra_security_group_ids)),
        **_unless_default(Keys.INSTANCE_EGRESS.key, sorted(rule.spec for rule in spec.instance_egress)),
    }


# Settings a spec leaves out at their default, so older specs and their fingerprints stay valid.
OPTIONAL_SPEC_DEFAULTS: dict[str, Any] = {
    Keys.DETAILED_MONITORING.key: False,
    Keys.HEALTH_CHECK_GRACE_PERIOD_SECONDS.key: ColorSpec().health_check_grace_period_seconds,
    Keys.CAPACITY_TIMEOUT.key: ColorSpec().capacity_timeout,
    Keys.EXTRA_SECURITY_GROUP_IDS.key: [],
    Keys.INSTANCE_EGRESS.key: [],
}
# Settings that were config keys before they joined the spec: a spec written before then (its output has no
# `recorded` list naming them) does not say what the colour runs; that colour ran config's value, so the
# release guard takes config's for it (`deployed_settings`) until the colour is restaged.
LATE_SPEC_KEYS: tuple[str, ...] = (
    Keys.HEALTH_CHECK_GRACE_PERIOD_SECONDS.key,
    Keys.CAPACITY_TIMEOUT.key,
    Keys.EXTRA_SECURITY_GROUP_IDS.key,
    Keys.INSTANCE_EGRESS.key,
)


def _unless_default(key: str, value: Any) -> dict[str, Any]:
    return {} if value == OPTIONAL_SPEC_DEFAULTS[key] else {key: value}


SPEC_KEYS: tuple[str, ...] = tuple(dict.fromkeys([*color_spec_values(ColorSpec()), *OPTIONAL_SPEC_DEFAULTS]))
# The settings each colour's resources carry (its `bluegreen:spec` tag, which the policy pack recomputes from
# them): all but the egress, which is on the instances' shared security group.
TAGGED_SPEC_KEYS: tuple[str, ...] = tuple(key for key in SPEC_KEYS if key != Keys.INSTANCE_EGRESS.key)


def spec_value(values: Mapping[str, Any], key: str) -> Any:
    """A setting of `color_spec_values`, with an optional one at its default when left out."""
    return values[key] if key in values else OPTIONAL_SPEC_DEFAULTS[key]


def edge_values(settings: Settings) -> dict[str, Any]:
    """The shared edge, keyed by config key: what changes in place for both colours at once."""
    edge = settings.edge
    return {
        Keys.CERTIFICATE_ARN.key: edge.certificate_arn,
        Keys.SSL_POLICY.key: edge.ssl_policy,
        Keys.ALLOWED_CIDRS.key: list(edge.allowed_cidrs),
        Keys.PUBLIC_HOSTNAME.key: edge.public_hostname,
        Keys.STICKINESS_SECONDS.key: settings.traffic.stickiness_seconds,
    }


def settings_fingerprint_of(spec: ColorSpec) -> str:
    """The colour's `bluegreen:spec` tag: what the policy pack checks the colour's resources against (the
    settings they carry, `TAGGED_SPEC_KEYS`)."""
    values = color_spec_values(spec, recorded_only=True)
    return settings_fingerprint({k: v for k, v in values.items() if k in TAGGED_SPEC_KEYS})


def color_spec_from_values(values: Mapping[str, Any]) -> ColorSpec:
    """The inverse of `color_spec_values`; raises ValueError naming a missing or mistyped setting."""

    def text(key: str) -> str:
        value = values.get(key)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key} should be a non-empty string, got {value!r}")
        return value

    def number(key: str) -> int:
        value = values.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            # Pulumi's outputs may carry whole numbers as floats.
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError(f"{key} should be an integer, got {value!r}")
        return value

    def texts(key: str) -> tuple[str, ...]:
        value = values.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"{key} should be a list of strings, got {value!r}")
        return tuple(value)

    egress = []
    for text_ in texts(Keys.INSTANCE_EGRESS.key):
        rule = parse_egress_rule(text_)
        if rule is None:
            raise ValueError(f"{Keys.INSTANCE_EGRESS.key} should list protocol:port[-port]:cidr entries, got {text_!r}")
        egress.append(rule)
    grace = OPTIONAL_SPEC_DEFAULTS[Keys.HEALTH_CHECK_GRACE_PERIOD_SECONDS.key]
    if Keys.HEALTH_CHECK_GRACE_PERIOD_SECONDS.key in values:
        grace = number(Keys.HEALTH_CHECK_GRACE_PERIOD_SECONDS.key)
    arns = values.get(Keys.INSTANCE_POLICY_ARNS.key)
    if not isinstance(arns, list) or not all(isinstance(arn, str) for arn in arns):
        raise ValueError(f"{Keys.INSTANCE_POLICY_ARNS.key} should be a list of policy ARNs, got {arns!r}")
    return ColorSpec(
        instance_type=text(Keys.INSTANCE_TYPE.key),
        root_volume_size_gb=number(Keys.ROOT_VOLUME_SIZE_GB.key),
        app_port=number(Keys.APP_PORT.key),
        health_check=HealthCheck(
            path=text(Keys.HEALTH_CHECK_PATH.key),
            matcher=text(Keys.HEALTH_CHECK_MATCHER.key),
            interval_seconds=number(Keys.HEALTH_CHECK_INTERVAL_SECONDS.key),
            timeout_seconds=number(Keys.HEALTH_CHECK_TIMEOUT_SECONDS.key),
            healthy_threshold=number(Keys.HEALTHY_THRESHOLD.key),
            unhealthy_threshold=number(Keys.UNHEALTHY_THRESHOLD.key),
        ),
        deregistration_delay_seconds=number(Keys.DEREGISTRATION_DELAY_SECONDS.key),
        instance_policy_arns=tuple(arns),
        detailed_monitoring=values.get(Keys.DETAILED_MONITORING.key) is True,
        health_check_grace_period_seconds=grace,
        capacity_timeout=text(Keys.CAPACITY_TIMEOUT.key)
        if Keys.CAPACITY_TIMEOUT.key in values
        else ColorSpec().capacity_timeout,
        extra_security_group_ids=texts(Keys.EXTRA_SECURITY_GROUP_IDS.key),
        instance_egress=tuple(egress),
    )


@dataclass(frozen=True)
class ReleaseSpec:
    """Everything that decides what runs on one colour and how its health is judged."""

    release: str
    image_id: str
    boot_script_hash: str  # "" for the demo app
    schema_versions: tuple[int, ...]
    settings: ColorSpec

    def values(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "imageId": self.image_id,
            "bootScriptHash": self.boot_script_hash,
            "schemaVersions": list(self.schema_versions),
            **color_spec_values(self.settings, recorded_only=True),
        }

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the spec's canonical JSON: equal exactly when the colour would run the same."""
        canonical = json.dumps({"version": SPEC_VERSION, **self.values()}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_output(self) -> dict[str, Any]:
        # `recorded`, outside the fingerprint: the late settings this spec records, at their default when left out.
        return {
            "version": SPEC_VERSION,
            "fingerprint": self.fingerprint,
            "spec": self.values(),
            "recorded": [key for key in LATE_SPEC_KEYS if key not in self.settings.unrecorded],
        }

    @staticmethod
    def from_output(value: Any) -> ReleaseSpec:
        """Read a `<colour>Spec` output; ValueError when it is not one this version understands."""
        if not isinstance(value, Mapping) or value.get("version") != SPEC_VERSION:
            raise ValueError(f"should be a version {SPEC_VERSION} release spec, got {value!r}")
        spec = value.get("spec")
        if not isinstance(spec, Mapping):
            raise ValueError(f"has no spec object, got {spec!r}")
        versions = spec.get("schemaVersions")
        if not isinstance(versions, list) or not all(isinstance(v, int | float) for v in versions):
            raise ValueError(f"schemaVersions should be a list of integers, got {versions!r}")
        recorded = value.get("recorded", [])
        if not isinstance(recorded, list):
            raise ValueError(f"recorded should be a list of settings, got {recorded!r}")
        read = ReleaseSpec(
            release=str(spec.get("release", "")),
            image_id=str(spec.get("imageId", "")),
            boot_script_hash=str(spec.get("bootScriptHash", "")),
            schema_versions=tuple(int(v) for v in versions),
            settings=replace(
                color_spec_from_values(spec),
                unrecorded=frozenset(key for key in LATE_SPEC_KEYS if key not in spec and key not in recorded),
            ),
        )
        if value.get("fingerprint") != read.fingerprint:
            raise ValueError("fingerprint does not match its spec (edited by hand?)")
        return read


_LATE_FIELDS: dict[str, str] = {
    Keys.HEALTH_CHECK_GRACE_PERIOD_SECONDS.key: "health_check_grace_period_seconds",
    Keys.CAPACITY_TIMEOUT.key: "capacity_timeout",
    Keys.EXTRA_SECURITY_GROUP_IDS.key: "extra_security_group_ids",
    Keys.INSTANCE_EGRESS.key: "instance_egress",
}


def deployed_settings(spec: ReleaseSpec, wanted: ColorSpec) -> ColorSpec:
    """What the colour runs: its deployed spec's settings, and config's (`wanted`) for those it did not record.

    A spec exported before a setting joined it (`ColorSpec.unrecorded`) was deployed with config's value for it;
    taking config's again changes nothing on the colour, where reading the default would change the live one.
    The result still leaves the setting out of the colour's spec and tag, so neither changes until it is restaged.
    """
    late = {_LATE_FIELDS[key]: getattr(wanted, _LATE_FIELDS[key]) for key in spec.settings.unrecorded}
    return replace(spec.settings, **late) if late else spec.settings


@dataclass(frozen=True)
class SpecChange:
    """One setting config changes for a colour: `key` from `deployed` to `wanted`."""

    key: str
    deployed: Any
    wanted: Any

    def describe(self) -> str:
        return f"{self.key} {self.deployed} → {self.wanted}"


def spec_changes(deployed: ColorSpec, wanted: ColorSpec) -> list[SpecChange]:
    before, after = color_spec_values(deployed), color_spec_values(wanted)
    return [
        SpecChange(key, spec_value(before, key), spec_value(after, key))
        for key in SPEC_KEYS
        if spec_value(before, key) != spec_value(after, key)
    ]


@dataclass(frozen=True)
class SpecPlan:
    """What each colour is built from in this update, and what waits."""

    specs: Mapping[Color, ColorSpec]
    # Settings config changes that a colour does not get in this update, because it serves traffic.
    pending: Mapping[Color, tuple[SpecChange, ...]] = field(default_factory=dict)
    # Spec changes on a colour that this update moves traffic to: refused like a release change.
    refused: Mapping[Color, tuple[SpecChange, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    kept: frozenset[Color] = frozenset()  # the rollback target, held until a bake decides

    def pending_lines(self, roles: Mapping[Color, str]) -> list[str]:
        """One line per setting a colour waits for, e.g. `instanceType t3.small → t3.large: on green (idle)
        now; blue gets it when it is idle and restaged`. `roles` names each colour's role ("live", ...)."""
        lines: list[str] = []
        for color, changes in self.pending.items():
            for change in changes:
                have = [c for c in COLORS if spec_value(color_spec_values(self.specs[c]), change.key) == change.wanted]
                now = "; ".join(f"on {c} ({roles[c]}) now" for c in have) or "on no colour yet"
                when = (
                    "once a bake decides and it is restaged" if color in self.kept else "when it is idle and restaged"
                )
                lines.append(f"{change.describe()}: {now}; {color} gets it {when}")
        return lines


def plan_specs(
    settings: Settings,
    deployed: Mapping[Color, ColorSpec] | None,
    weights_before: Mapping[Color, int] | None,
    weights_after: Mapping[Color, int],
    kept: frozenset[Color] = frozenset(),
) -> SpecPlan:
    """Each colour's settings for this update.

    `deployed` is each colour's deployed settings (None on a first deploy, or when the last update
    exported no spec); `kept` are colours held as the rollback target, which keep theirs too.
    """
    wanted = settings.color_spec()
    if deployed is None or weights_before is None:
        note = (
            () if weights_before is None else ("the last update recorded no release spec: both colours take config's",)
        )
        return SpecPlan(dict.fromkeys(COLORS, wanted), notes=note)
    specs: dict[Color, ColorSpec] = {}
    pending: dict[Color, tuple[SpecChange, ...]] = {}
    refused: dict[Color, tuple[SpecChange, ...]] = {}
    for color in COLORS:
        changes = tuple(spec_changes(deployed[color], wanted))
        if not changes:
            # The deployed spec, equal to config's: it keeps leaving out what it did not record, so the colour's
            # tag (on its launch template's instances) changes nothing.
            specs[color] = deployed[color]
        elif weights_before[color] > 0 or color in kept:
            specs[color], pending[color] = deployed[color], changes
        elif weights_after[color] > 0:
            specs[color], refused[color] = deployed[color], changes
        else:
            specs[color] = wanted
    return SpecPlan(specs, pending, refused, kept=kept)


@dataclass(frozen=True)
class ColorChanges:
    color: Color
    role: str  # "live" or "idle" after the update
    changes: tuple[SpecChange, ...]

    def describe(self) -> str:
        return ", ".join(change.describe() for change in self.changes)


@dataclass(frozen=True)
class PlanText:
    """A spec plan for people (`status`, the CI summary)."""

    now: list[ColorChanges]  # what each colour gets in the update
    pending: list[str]  # SpecPlan.pending_lines
    refused: list[ColorChanges]  # spec changes on a colour that traffic moves to


def describe_plan(
    settings: Settings,
    deployed: Mapping[Color, ColorSpec] | None,
    weights_before: Mapping[Color, int] | None,
    weights_after: Mapping[Color, int],
) -> PlanText:
    """What the next update does to each colour's release-spec settings, as the program plans it."""
    if deployed is None or weights_before is None:
        return PlanText([], [], [])
    plan = plan_specs(settings, deployed, weights_before, weights_after)
    roles = {c: "live" if c == settings.traffic.active_color else "idle" for c in COLORS}
    now = [
        ColorChanges(color, roles[color], tuple(changes))
        for color in COLORS
        if (changes := spec_changes(deployed[color], plan.specs[color]))
    ]
    refused = [ColorChanges(color, roles[color], changes) for color, changes in plan.refused.items()]
    return PlanText(now, plan.pending_lines(roles), refused)
