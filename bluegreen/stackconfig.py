"""The release-relevant part of the stack config: parsed, validated, and the weight maths.

Values arrive in wire form (strings), as `stack_files.effective_config` and the Automation
API return them. Every error names the key, the bad value and what is allowed.
Weights are computed exactly like the program does: the active colour gets
100 - idleTrafficPercent, the idle colour gets idleTrafficPercent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen import contract, stack_files
from bluegreen.contract import COLORS as PROGRAM_COLORS
from bluegreen.contract import MAX_IDLE_TRAFFIC_PERCENT, Color, Keys, traffic_weights
from bluegreen.errors import ConfigValueError, UsageError
from bluegreen.settings import AMI_ID, RELEASE_LABEL, Settings, read_settings, to_config
from bluegreen.settings import ConfigError as SettingsError

COLORS: tuple[str, str] = PROGRAM_COLORS

ACTIVE_COLOR = Keys.ACTIVE_COLOR.key
IDLE_TRAFFIC_PERCENT = Keys.IDLE_TRAFFIC_PERCENT.key
IDLE_SCALED_DOWN = Keys.IDLE_SCALED_DOWN.key
# A key the release tool owns (declared in Pulumi.yaml with default "", ignored by the program).
ROLLBACK_COLOR = Keys.ROLLBACK_COLOR.key

# CloudWatch publishes ALB metrics about a minute late and evaluates an alarm after its period
# closes: allow this much on top of alarmEvaluationMinutes before an alarm can have fired.
ALARM_DELAY_MINUTES = 2


def release_key(color: str) -> str:
    return Keys.RELEASE.name(color)


def image_key(color: str) -> str:
    return Keys.IMAGE_ID.name(color)


def verified_key(color: str) -> str:
    return Keys.VERIFIED.name(color)


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
    fingerprint: str = ""  # the colour's release spec fingerprint (output <colour>Spec) it was verified for

    def to_wire(self) -> str:
        return json.dumps(
            {
                "release": self.release,
                "imageId": self.image_id,
                "userDataHash": self.user_data_hash,
                "checks": self.checks_digest,
                "at": self.at,
                "fingerprint": self.fingerprint,
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
                fingerprint=str(data.get("fingerprint", "")),
            )
        except (ValueError, KeyError, TypeError):
            raise ConfigValueError(
                key, text, 'a record written by `bluegreen verify`, or "" (run verify again)'
            ) from None

    def matches(self, release: str, image_id: str, user_data_hash: str, fingerprint: str = "") -> bool:
        """True when the record is for this deployment; empty fields in outputs are not compared.

        Where the outputs carry the colour's release spec fingerprint, the record must name the same one:
        a spec change (instance type, port, health check, ...) needs a new verify."""
        if self.release != release:
            return False
        if fingerprint and self.fingerprint != fingerprint:
            return False
        if image_id and self.image_id != image_id:
            return False
        return not (user_data_hash and self.user_data_hash != user_data_hash)


@dataclass(frozen=True)
class ReleaseConfig:
    """The stack config as the tool sees it: the program's `Settings` (read by the program's own
    reader) plus the keys the tool records its state in. The properties are views, not copies."""

    settings: Settings
    rollback_color: str | None
    verified: Mapping[str, VerifiedRecord | None]

    @property
    def active(self) -> str:
        return self.settings.traffic.active_color

    @property
    def idle(self) -> str:
        return self.settings.traffic.idle_color

    @property
    def idle_percent(self) -> int:
        return self.settings.traffic.idle_traffic_percent

    @property
    def releases(self) -> Mapping[str, str]:
        return {c: self.settings.releases[c].label for c in PROGRAM_COLORS}

    @property
    def image_ids(self) -> Mapping[str, str]:
        return {c: self.settings.releases[c].image_id for c in PROGRAM_COLORS}

    @property
    def schema_versions(self) -> Mapping[str, tuple[int, ...]]:
        return {c: self.settings.releases[c].schema_versions for c in PROGRAM_COLORS}

    @property
    def idle_scaled_down(self) -> bool:
        return self.settings.idle_scaled_down

    @property
    def bake_minutes(self) -> int:
        return self.settings.alarms.bake_minutes

    @property
    def alarm_evaluation_minutes(self) -> int:
        return self.settings.alarms.evaluation_minutes

    @property
    def stickiness_seconds(self) -> int:
        return self.settings.traffic.stickiness_seconds

    @property
    def database_schema_version(self) -> int:
        return self.settings.database_schema_version

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
    `project_dir`'s Pulumi.yaml, as the CLI applies them, and where a project of your own declares
    none, the program's own defaults, as `load_settings` applies them), so the tool refuses exactly
    what `pulumi up` would; then read the tool's keys."""
    wire = {**to_config(Settings()), **stack_files.with_defaults(raw, project_dir)}
    try:
        settings = read_settings(wire)
    except SettingsError as error:
        raise UsageError(str(error), details={"problems": error.problems}) from None
    verified = {c: VerifiedRecord.from_wire(verified_key(c), wire.get(verified_key(c), "")) for c in COLORS}
    rollback_raw = wire.get(ROLLBACK_COLOR, "")
    return ReleaseConfig(
        settings=settings,
        rollback_color=check_color(ROLLBACK_COLOR, rollback_raw) if rollback_raw else None,
        verified=verified,
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
