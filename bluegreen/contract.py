"""The two colours and the weight maths the listener, the policy pack and the tools agree on."""

from __future__ import annotations

from typing import Literal

Color = Literal["blue", "green"]
COLORS: tuple[Color, Color] = ("blue", "green")
# The idle colour's largest canary share; above it the "idle" colour would be the main one.
MAX_IDLE_TRAFFIC_PERCENT = 50


def other(color: Color) -> Color:
    return "green" if color == "blue" else "blue"


def traffic_weights(active: Color, idle_percent: int) -> dict[Color, int]:
    """Listener weights: the active colour gets the rest of 100, the idle colour its canary share."""
    return {active: 100 - idle_percent, other(active): idle_percent}
