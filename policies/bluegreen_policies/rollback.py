"""rollback-readiness and database-schema-compatibility: the idle colour must be a safe way back.

The live colour is the one with the larger weight on the production listener, the idle colour the
other one (at 50/50 both are live and there is no idle colour). While the idle colour is the
rollback target it needs at least the live colour's capacity. The stack scales it down only
explicitly: config `idleScaledDown=true` tags the production listener
`bluegreen:idleScaledDown=true`, which allows the lower capacity and requires weight 0 for it.

With a shared database (`bluegreen:databaseSchemaVersion` on the production listener, other than
"0" or ""), every colour that can receive traffic or be rolled back to must list that version in
its Auto Scaling group's `bluegreen:schemaVersions` tag.
"""

from __future__ import annotations

from typing import Final

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from bluegreen.contract import COLORS, IDLE_SCALED_DOWN_TAG, SCHEMA_VERSIONS_TAG, Color, other

from .stack import (
    AUTOSCALING_GROUP,
    SCHEMA_VERSION_TAG,
    StackView,
    capacity,
)
from .values import Findings, is_unknown, show, tag_map

CAPACITY_FIELDS: Final = ("desiredCapacity", "minSize")


def check_rollback(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    findings = Findings(report_violation)
    view = StackView.from_args(args)
    traffic = view.traffic()
    if traffic is None:
        # production-traffic-targets reports a missing or ambiguous production listener.
        findings.finish()
        return
    if not traffic.complete:
        findings.defer("which colour is live")
        findings.finish()
        return
    scaled = view.idle_scaled_down()
    if scaled is None:
        findings.defer(f"the {IDLE_SCALED_DOWN_TAG} tag of {traffic.listener.name}")
        findings.finish()
        return
    idle = traffic.idle
    if idle is None:
        if scaled:
            findings.violation(
                f"The production listener {traffic.listener.name} is tagged {IDLE_SCALED_DOWN_TAG}=true, but both "
                "colours receive 50% of production traffic, so there is no idle colour to scale down. Send all "
                "traffic to one colour first, or set idleScaledDown=false.",
                traffic.listener.urn,
            )
        findings.finish()
        return
    live = other(idle)
    idle_asg = view.color_resource(AUTOSCALING_GROUP, idle)
    live_asg = view.color_resource(AUTOSCALING_GROUP, live)
    if scaled:
        weight = traffic.weights[idle]
        if weight != 0:
            findings.violation(
                f"idleScaledDown=true scales the idle colour {idle} down, but it receives {show(weight)}% of "
                "production traffic. Set idleTrafficPercent to 0, or set idleScaledDown=false to restore its "
                "capacity first.",
                traffic.listener.urn,
            )
        findings.finish()
        return
    if idle_asg is None or live_asg is None:
        findings.finish()  # blue-green-parity reports the missing Auto Scaling group
        return
    for field_name in CAPACITY_FIELDS:
        idle_value = capacity(idle_asg, field_name)
        live_value = capacity(live_asg, field_name)
        if is_unknown(idle_value) or is_unknown(live_value):
            findings.defer(f"{field_name} of {idle_asg.name} and {live_asg.name}")
            continue
        if idle_value is not None and live_value is not None and idle_value < live_value:
            findings.violation(
                f"The idle colour {idle} is the rollback target, but its Auto Scaling group {idle_asg.name} has "
                f"{field_name} {show(idle_value)}, lower than the live colour {live}'s {show(live_value)}. Give the "
                "idle colour at least the live colour's capacity, or scale it down explicitly with "
                "idleScaledDown=true (it then receives no traffic).",
                idle_asg.urn,
            )
    findings.finish()


ROLLBACK_READINESS = StackValidationPolicy(
    name="rollback-readiness",
    description=(
        "Checks whether the idle colour, while it is the rollback target, has at least the live colour's "
        "capacity, and whether an explicitly scaled-down idle colour receives no traffic."
    ),
    validate=check_rollback,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Give the idle colour the live colour's minSize and desiredCapacity, or set idleScaledDown=true (with "
        "idleTrafficPercent=0) to scale it down on purpose."
    ),
)


def _versions(raw: str) -> list[str]:
    # Space-separated: ELB tag values cannot hold a comma.
    return raw.split()


def _same_version(a: str, b: str) -> bool:
    if a.isdigit() and b.isdigit():
        return int(a) == int(b)
    return a == b


def check_schema(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    findings = Findings(report_violation)
    view = StackView.from_args(args)
    version = view.listener_tag(SCHEMA_VERSION_TAG)
    if is_unknown(version):
        findings.defer(f"the {SCHEMA_VERSION_TAG} tag of the production listener")
        findings.finish()
        return
    if not isinstance(version, str) or version.strip() in ("", "0"):
        findings.finish()
        return
    version = version.strip()
    traffic = view.traffic()
    if traffic is None:
        findings.finish()
        return
    scaled = view.idle_scaled_down()
    if not traffic.complete or scaled is None:
        findings.defer("which colours can receive traffic or be rolled back to")
        findings.finish()
        return
    idle = traffic.idle
    needed: list[Color] = [
        c for c in COLORS if traffic.weights[c] > 0 or c in traffic.live or (c == idle and not scaled)
    ]
    for color in needed:
        asg = view.color_resource(AUTOSCALING_GROUP, color)
        if asg is None:
            continue
        tags = asg.props.get("tags")
        raw = tag_map(asg.props).get(SCHEMA_VERSIONS_TAG)
        if is_unknown(tags) or is_unknown(raw):
            findings.defer(f"the {SCHEMA_VERSIONS_TAG} tag of {asg.name}")
            continue
        supported = _versions(raw) if isinstance(raw, str) else []
        if any(_same_version(v, version) for v in supported):
            continue
        role = (
            "is live"
            if color in traffic.live
            else ("receives traffic" if traffic.weights[color] > 0 else "is the rollback target")
        )
        listed = ", ".join(supported) if supported else "none"
        findings.violation(
            f"The shared database is at schema version {version}, but the {color} colour, which {role}, supports "
            f"schema versions [{listed}] (tag {SCHEMA_VERSIONS_TAG} on {asg.name}). Every colour that can receive "
            f"traffic or be rolled back to must work with the current schema. Use expand-and-contract: release "
            f"a build that works with both the old and the new schema and list {version} in {color}SchemaVersions "
            f"before migrating, and contract the old schema only when no such colour needs it (scaling the idle "
            f"colour down with idleScaledDown=true retires it as a rollback target).",
            asg.urn,
        )
    findings.finish()


DATABASE_SCHEMA = StackValidationPolicy(
    name="database-schema-compatibility",
    description=(
        "Checks whether every colour that can receive traffic or be rolled back to supports the shared "
        "database's current schema version."
    ),
    validate=check_schema,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Expand and contract: release code that supports both schema versions on every colour that can serve or be "
        "rolled back to (list the version in <colour>SchemaVersions), then migrate, then drop the old version."
    ),
)
