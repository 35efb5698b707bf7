"""The release-relevant part of the stack config: parsed, validated, and the weight maths.

Values arrive in wire form (strings), as `stack_files.effective_config` and the Automation
API return them. Every error names the key, the bad value and what is allowed.
Weights are computed exactly like the program does: the active colour gets
100 - idleTrafficPercent, the idle colour gets idleTrafficPercent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen.errors import ConfigError

COLORS: tuple[str, str] = ("blue", "green")

ACTIVE_COLOR = "activeColor"
IDLE_TRAFFIC_PERCENT = "idleTrafficPercent"
IDLE_SCALED_DOWN = "idleScaledDown"
BAKE_MINUTES = "bakeMinutes"
STICKINESS_SECONDS = "stickinessSeconds"
# Keys the release tool owns (declared in Pulumi.yaml with default "", ignored by the program).
ROLLBACK_COLOR = "rollbackColor"

MAX_IDLE_PERCENT = 50
DEFAULT_BAKE_MINUTES = 10
_AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")


def release_key(color: str) -> str:
    return f"{color}Release"


def image_key(color: str) -> str:
    return f"{color}ImageId"


def verified_key(color: str) -> str:
    return f"{color}Verified"


def other(color: str) -> str:
    check_color("color", color)
    return "green" if color == "blue" else "blue"


def check_color(key: str, value: str) -> str:
    if value not in COLORS:
        raise ConfigError(key, value, "use blue or green")
    return value


def check_release(key: str, value: str) -> str:
    if not value.strip() or value != value.strip():
        raise ConfigError(key, value, "a non-empty label without surrounding spaces, e.g. v2.4.1")
    return value


def check_image_id(key: str, value: str) -> str:
    if value and not _AMI.match(value):
        raise ConfigError(key, value, '"" (latest Amazon Linux 2023) or an AMI id like ami-0123456789abcdef0')
    return value


def check_idle_percent(key: str, value: int) -> int:
    if not 0 <= value <= MAX_IDLE_PERCENT:
        raise ConfigError(key, value, f"an integer from 0 to {MAX_IDLE_PERCENT}")
    return value


def _int(raw: Mapping[str, str], key: str, default: int, allowed: str) -> int:
    text = raw.get(key)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigError(key, text, allowed) from None


def _bool(raw: Mapping[str, str], key: str, default: bool) -> bool:
    text = raw.get(key)
    if text is None or text == "":
        return default
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise ConfigError(key, text, "true or false")


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
            raise ConfigError(key, text, 'a record written by `bluegreen verify`, or "" (run verify again)') from None

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
    stickiness_seconds: int
    rollback_color: str | None
    verified: Mapping[str, VerifiedRecord | None]

    @property
    def idle(self) -> str:
        return other(self.active)

    def weights(self) -> dict[str, int]:
        return weights_for(self.active, self.idle_percent)


def weights_for(active: str, idle_percent: int) -> dict[str, int]:
    """The listener weights the program sets for this config."""
    return {active: 100 - idle_percent, other(active): idle_percent}


def parse_config(raw: Mapping[str, str]) -> ReleaseConfig:
    active = check_color(ACTIVE_COLOR, raw.get(ACTIVE_COLOR, "blue"))
    idle_percent = check_idle_percent(
        IDLE_TRAFFIC_PERCENT,
        _int(raw, IDLE_TRAFFIC_PERCENT, 0, f"an integer from 0 to {MAX_IDLE_PERCENT}"),
    )
    releases: dict[str, str] = {}
    images: dict[str, str] = {}
    verified: dict[str, VerifiedRecord | None] = {}
    for color in COLORS:
        if release_key(color) not in raw:
            raise ConfigError(release_key(color), None, "a non-empty label; set it in the stack file")
        releases[color] = check_release(release_key(color), raw[release_key(color)])
        images[color] = check_image_id(image_key(color), raw.get(image_key(color), ""))
        verified[color] = VerifiedRecord.from_wire(verified_key(color), raw.get(verified_key(color), ""))
    bake = _int(raw, BAKE_MINUTES, DEFAULT_BAKE_MINUTES, "a whole number of minutes >= 0")
    if bake < 0:
        raise ConfigError(BAKE_MINUTES, bake, "a whole number of minutes >= 0")
    stickiness = _int(raw, STICKINESS_SECONDS, 0, "0 (off) or 1..604800 seconds")
    if not 0 <= stickiness <= 604800:
        raise ConfigError(STICKINESS_SECONDS, stickiness, "0 (off) or 1..604800 seconds")
    rollback_raw = raw.get(ROLLBACK_COLOR, "")
    rollback = check_color(ROLLBACK_COLOR, rollback_raw) if rollback_raw else None
    return ReleaseConfig(
        active=active,
        idle_percent=idle_percent,
        releases=releases,
        image_ids=images,
        idle_scaled_down=_bool(raw, IDLE_SCALED_DOWN, False),
        bake_minutes=bake,
        stickiness_seconds=stickiness,
        rollback_color=rollback,
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
            raise ConfigError(IDLE_TRAFFIC_PERCENT, part.strip(), "--ramp takes integers, e.g. 10,50") from None
        if not 1 <= step <= MAX_IDLE_PERCENT:
            raise ConfigError(IDLE_TRAFFIC_PERCENT, step, f"ramp steps from 1 to {MAX_IDLE_PERCENT}")
        if steps and step <= steps[-1]:
            raise ConfigError(IDLE_TRAFFIC_PERCENT, step, "ramp steps that increase, e.g. 10,50")
        steps.append(step)
    return steps
