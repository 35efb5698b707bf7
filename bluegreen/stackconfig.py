"""The release-relevant part of the stack config: parsed, validated, and the weight maths.

Values arrive in wire form (strings), as `stack_files.effective_config` and the Automation
API return them. Every error names the key, the bad value and what is allowed.
Weights are computed exactly like the program does: the active colour gets
100 - idleTrafficPercent, the idle colour gets idleTrafficPercent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bluegreen import contract, stack_files
from bluegreen.contract import COLORS as PROGRAM_COLORS
from bluegreen.contract import MAX_IDLE_TRAFFIC_PERCENT, Color, traffic_weights
from bluegreen.errors import ConfigValueError, UsageError
from bluegreen.settings import AMI_ID, RELEASE_LABEL, read_settings
from bluegreen.settings import ConfigError as SettingsError

COLORS: tuple[str, str] = PROGRAM_COLORS

ACTIVE_COLOR = "activeColor"
IDLE_TRAFFIC_PERCENT = "idleTrafficPercent"
IDLE_SCALED_DOWN = "idleScaledDown"
# Keys the release tool owns (declared in Pulumi.yaml with default "", ignored by the program).
ROLLBACK_COLOR = "rollbackColor"

# CloudWatch publishes ALB metrics about a minute late and evaluates an alarm after its period
# closes: allow this much on top of alarmEvaluationMinutes before an alarm can have fired.
ALARM_DELAY_MINUTES = 2


def release_key(color: str) -> str:
    return f"{color}Release"


def image_key(color: str) -> str:
    return f"{color}ImageId"


def verified_key(color: str) -> str:
    return f"{color}Verified"


def other(color: str) -> str:
    return contract.other(check_color("color", color))


def check_color(key: str, value: str) -> contract.Color:
    for color in PROGRAM_COLORS:
        if value == color:
            return color
    raise ConfigValueError(key, value, "use blue or green")


def check_release(key: str, value: str) -> str:
    """A release label the program accepts (same pattern as bluegreen.settings)."""
    if not RELEASE_LABEL.match(value):
        raise ConfigValueError(
            key, value, "a non-empty label of up to 128 letters, digits and ._+:@/=- starting with a letter or digit"
        )
    return value


def check_image_id(key: str, value: str) -> str:
    if value and not AMI_ID.match(value):
        raise ConfigValueError(key, value, '"" (latest Amazon Linux 2023) or an AMI id like ami-0123456789abcdef0')
    return value


@dataclass(frozen=True)
class VerifiedRecord:
    """What `verify` proved: the idle colour passed the smoke checks for this exact deployment."""

    release: str
    image_id: str
    user_data_hash: str
    checks_digest: str
    at: str

    def to_wire(self) -> str:
        return json.dumps(
            {
                "release": self.release,
                "imageId": self.image_id,
                "userDataHash": self.user_data_hash,
                "checks": self.checks_digest,
                "at": self.at,
            },
            sort_keys=True,
        )

    @classmethod
    def from_wire(cls, key: str, text: str) -> VerifiedRecord | None:
        if not text:
            return None
        try:
            data: Any = json.loads(text)
            return cls(
                release=str(data["release"]),
                image_id=str(data.get("imageId", "")),
                user_data_hash=str(data.get("userDataHash", "")),
                checks_digest=str(data.get("checks", "")),
                at=str(data.get("at", "")),
            )
        except (ValueError, KeyError, TypeError):
            raise ConfigValueError(
                key, text, 'a record written by `bluegreen verify`, or "" (run verify again)'
            ) from None

    def matches(self, release: str, image_id: str, user_data_hash: str) -> bool:
        """True when the record is for this deployment; empty fields in outputs are not compared."""
        if self.release != release:
            return False
        if image_id and self.image_id != image_id:
            return False
        return not (user_data_hash and self.user_data_hash != user_data_hash)


@dataclass(frozen=True)
class ReleaseConfig:
    active: str
    idle_percent: int
    releases: Mapping[str, str]
    image_ids: Mapping[str, str]
    idle_scaled_down: bool
    bake_minutes: int
    alarm_evaluation_minutes: int
    stickiness_seconds: int
    rollback_color: str | None
    verified: Mapping[str, VerifiedRecord | None]
    database_schema_version: int = 0
    schema_versions: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def idle(self) -> str:
        return other(self.active)

    @property
    def alarm_window_seconds(self) -> int:
        """How long a regression takes to fire an alarm at the earliest: `alarmEvaluationMinutes`
        consecutive one-minute datapoints, plus CloudWatch's delay. A ramp hold or a bake shorter
        than this cannot catch one; it is the default `--pause`."""
        return (self.alarm_evaluation_minutes + ALARM_DELAY_MINUTES) * 60

    def alarm_window_text(self) -> str:
        return (
            f"{self.alarm_window_seconds}s (alarmEvaluationMinutes={self.alarm_evaluation_minutes} consecutive "
            f"one-minute datapoints + ~{ALARM_DELAY_MINUTES} min CloudWatch delay)"
        )

    def weights(self) -> dict[str, int]:
        return weights_for(self.active, self.idle_percent)


def weights_for(active: str, idle_percent: int) -> dict[str, int]:
    """The listener weights the program sets for this config (the program's own function)."""
    live: Color = "green" if check_color(ACTIVE_COLOR, active) == "green" else "blue"
    return {str(color): weight for color, weight in traffic_weights(live, idle_percent).items()}


def parse_config(raw: Mapping[str, str], project_dir: Path = stack_files.PROJECT_DIR) -> ReleaseConfig:
    """Validate with the program's own `read_settings` (over the defaults declared in
    `project_dir`'s Pulumi.yaml, as the CLI applies them), so the tool refuses exactly what
    `pulumi up` would; then read the tool's keys."""
    wire = stack_files.with_defaults(raw, project_dir)
    try:
        settings = read_settings(wire)
    except SettingsError as error:
        raise UsageError(str(error), details={"problems": error.problems}) from None
    verified = {c: VerifiedRecord.from_wire(verified_key(c), wire.get(verified_key(c), "")) for c in COLORS}
    rollback_raw = wire.get(ROLLBACK_COLOR, "")
    return ReleaseConfig(
        active=settings.traffic.active_color,
        idle_percent=settings.traffic.idle_traffic_percent,
        releases={c: settings.releases[c].label for c in PROGRAM_COLORS},
        image_ids={c: settings.releases[c].image_id for c in PROGRAM_COLORS},
        idle_scaled_down=settings.idle_scaled_down,
        bake_minutes=settings.alarms.bake_minutes,
        alarm_evaluation_minutes=settings.alarms.evaluation_minutes,
        stickiness_seconds=settings.traffic.stickiness_seconds,
        rollback_color=check_color(ROLLBACK_COLOR, rollback_raw) if rollback_raw else None,
        verified=verified,
        database_schema_version=settings.database_schema_version,
        schema_versions={c: settings.releases[c].schema_versions for c in PROGRAM_COLORS},
    )


def parse_ramp(text: str) -> list[int]:
    """`--ramp 10,50` -> [10, 50]: strictly increasing idleTrafficPercent steps."""
    if not text.strip():
        return []
    steps: list[int] = []
    for part in text.split(","):
        try:
            step = int(part.strip())
        except ValueError:
            raise ConfigValueError(IDLE_TRAFFIC_PERCENT, part.strip(), "--ramp takes integers, e.g. 10,50") from None
        if not 1 <= step <= MAX_IDLE_TRAFFIC_PERCENT:
            raise ConfigValueError(IDLE_TRAFFIC_PERCENT, step, f"ramp steps from 1 to {MAX_IDLE_TRAFFIC_PERCENT}")
        if steps and step <= steps[-1]:
            raise ConfigValueError(IDLE_TRAFFIC_PERCENT, step, "ramp steps that increase, e.g. 10,50")
        steps.append(step)
    return steps
