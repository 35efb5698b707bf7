"""Typed access to the stack outputs named in docs/design.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
        return self._str("url")

    @property
    def active_color(self) -> str:
        """The colour the last update made live (output activeColor)."""
        value = self._str("activeColor")
        if value not in ("blue", "green"):
            raise OutputError("activeColor", f"should be blue or green, got {value!r}")
        return value

    def weight(self, color: str) -> int:
        """The colour's deployed listener weight (output <colour>Weight); 0 when absent."""
        value = self.raw.get(f"{color}Weight", 0)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise OutputError(f"{color}Weight", f"should be an integer, got {value!r}") from None

    @property
    def listener_arn(self) -> str:
        return self._str("listenerArn")

    def target_group_arn(self, color: str) -> str:
        return self._str(f"{color}TargetGroupArn")

    def asg_name(self, color: str) -> str:
        return self._str(f"{color}AsgName")

    def release(self, color: str) -> str:
        return self._optional_str(f"{color}Release")

    def image_id(self, color: str) -> str:
        return self._optional_str(f"{color}ImageId")

    def user_data_hash(self, color: str) -> str:
        return self._optional_str(f"{color}UserDataHash")

    def alarm_names(self, color: str) -> list[str]:
        key = f"{color}AlarmNames"
        value = self.raw.get(key)
        if value is None:
            raise OutputError(key, "is missing")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise OutputError(key, "should be a list of alarm names")
        return list(value)

    @property
    def preview_color_header(self) -> str:
        return self._str("previewColorHeader")

    @property
    def preview_token_header(self) -> str:
        return self._str("previewTokenHeader")

    @property
    def preview_token(self) -> str:
        return self._str("previewToken")

    def region(self) -> str:
        """The region, taken from the listener ARN (arn:aws:elasticloadbalancing:REGION:...)."""
        parts = self.listener_arn.split(":")
        if len(parts) < 6 or not parts[3]:
            raise OutputError("listenerArn", f"is not an ARN with a region: {self.listener_arn!r}")
        return parts[3]

    def color_of_target_group(self, arn: str) -> str | None:
        for color in ("blue", "green"):
            if self.raw.get(f"{color}TargetGroupArn") == arn:
                return color
        return None
