"""Typed access to the stack outputs, by the names in `bluegreen.contract.Outputs` (docs/reference/outputs.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen.contract import COLORS, Outputs
from bluegreen.errors import OutputError


@dataclass(frozen=True)
class StackOutputs:
    raw: Mapping[str, Any]

    def _str(self, key: str) -> str:
        value = self.raw.get(key)
        if value is None or value == "":
            raise OutputError(key, "is missing")
        if not isinstance(value, str):
            raise OutputError(key, f"should be a string, got {type(value).__name__}")
        return value

    def _optional_str(self, key: str) -> str:
        value = self.raw.get(key, "")
        return value if isinstance(value, str) else str(value)

    @property
    def url(self) -> str:
        return self._str(Outputs.URL.name())

    @property
    def active_color(self) -> str:
        """The colour the last update made live (output activeColor)."""
        value = self._str(Outputs.ACTIVE_COLOR.name())
        if value not in COLORS:
            raise OutputError(Outputs.ACTIVE_COLOR.name(), f"should be blue or green, got {value!r}")
        return value

    def weight(self, color: str) -> int:
        """The colour's deployed listener weight (output <colour>Weight); 0 when absent."""
        key = Outputs.WEIGHT.name(color)
        value = self.raw.get(key, 0)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise OutputError(key, f"should be an integer, got {value!r}") from None

    @property
    def listener_arn(self) -> str:
        return self._str(Outputs.LISTENER_ARN.name())

    def target_group_arn(self, color: str) -> str:
        return self._str(Outputs.TARGET_GROUP_ARN.name(color))

    def asg_name(self, color: str) -> str:
        return self._str(Outputs.ASG_NAME.name(color))

    def release(self, color: str) -> str:
        return self._optional_str(Outputs.RELEASE.name(color))

    def image_id(self, color: str) -> str:
        return self._optional_str(Outputs.IMAGE_ID.name(color))

    def user_data_hash(self, color: str) -> str:
        return self._optional_str(Outputs.USER_DATA_HASH.name(color))

    def alarm_names(self, color: str) -> list[str]:
        key = Outputs.ALARM_NAMES.name(color)
        value = self.raw.get(key)
        if value is None:
            raise OutputError(key, "is missing")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise OutputError(key, "should be a list of alarm names")
        return list(value)

    @property
    def preview_color_header(self) -> str:
        return self._str(Outputs.PREVIEW_COLOR_HEADER.name())

    @property
    def preview_token_header(self) -> str:
        return self._str(Outputs.PREVIEW_TOKEN_HEADER.name())

    @property
    def preview_token(self) -> str:
        return self._str(Outputs.PREVIEW_TOKEN.name())

    def region(self) -> str:
        """The region, taken from the listener ARN (arn:aws:elasticloadbalancing:REGION:...)."""
        parts = self.listener_arn.split(":")
        if len(parts) < 6 or not parts[3]:
            raise OutputError(Outputs.LISTENER_ARN.name(), f"is not an ARN with a region: {self.listener_arn!r}")
        return parts[3]

    def color_of_target_group(self, arn: str) -> str | None:
        for color in COLORS:
            if self.raw.get(Outputs.TARGET_GROUP_ARN.name(color)) == arn:
                return color
        return None
