"""Expand-and-contract: every colour that may serve traffic must support the database schema.

Both colours share one database. The live colour serves it, and the idle colour is the rollback
target (and is smoke-tested against the same database) unless it is explicitly scaled down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bluegreen.contract import COLORS, Color

EXPLAIN = (
    "Both colours share one database, so change its schema by expand-and-contract: first release "
    "code that works with both the old and the new schema on every colour that can serve traffic "
    "(or scale the idle colour down with idleScaledDown=true), then migrate, and only drop what "
    "the old release needs once no running colour uses it."
)


# ELB tag values allow only letters, digits, white space and _.:/=+-@ (botocore's elbv2 model,
# shape TagValue), so the list is space-separated: "1 2", never "1,2".
SCHEMA_TAG_SEPARATOR = " "


def encode_schema_versions(versions: Sequence[int]) -> str:
    """The `bluegreen:schemaVersions` tag value for a release's supported versions."""
    return SCHEMA_TAG_SEPARATOR.join(str(v) for v in versions)


def serving_colors(active: Color, idle_scaled_down: bool) -> tuple[Color, ...]:
    """Colours that can receive traffic or be rolled back to."""
    return (active,) if idle_scaled_down else tuple(sorted(COLORS, key=lambda c: c != active))


def schema_conflicts(
    database_version: int,
    versions: Mapping[Color, Sequence[int]],
    active: Color,
    idle_scaled_down: bool,
) -> list[str]:
    """One message per serving colour whose release does not list `database_version`; [] when off.

    0 turns the checks off, and is allowed only while no colour declares schema support: lowering
    the version to 0 must not switch off the rule that protects a release that reads the schema.
    """
    if database_version == 0:
        declared = {color: list(listed) for color, listed in versions.items() if listed}
        if not declared:
            return []
        shown = ", ".join(f"{color}SchemaVersions={listed}" for color, listed in sorted(declared.items()))
        return [
            f"databaseSchemaVersion 0 turns the schema checks off, but {shown} declare schema support; set "
            "databaseSchemaVersion to the version the database is at (the checks stay on once releases declare "
            "what they read)"
        ]
    problems = []
    for color in serving_colors(active, idle_scaled_down):
        supported = list(versions.get(color, ()))
        if database_version in supported:
            continue
        role = "the live colour" if color == active else "the idle colour and rollback target"
        listed = f"supports {supported}" if supported else f"declares no versions ({color}SchemaVersions is empty)"
        problems.append(
            f"databaseSchemaVersion {database_version} is not supported by {color} ({role}), whose release "
            f"{listed}. {EXPLAIN}"
        )
    return problems
