"""The rollback target: the colour traffic left, kept as it was until a bake decides.

The update that moves traffic off a colour records it (`rollbackTarget` output) with the
fingerprints of its release spec and of the new live colour's. Until a bake decision for the live
colour's fingerprint is recorded (`bakeDecision`, written by `bluegreen bake` on keep, or by hand),
the release guard refuses to restage, respec or scale down the target, so a rollback always lands
on the build that served users before. The record stays after the decision (`kept` false): the
release tool still refuses to roll back to a colour that no longer runs the recorded fingerprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen.contract import COLORS, Color, Keys


@dataclass(frozen=True)
class RollbackTarget:
    color: Color  # where traffic was before the flip
    fingerprint: str  # its release spec when traffic left it
    live_color: Color
    live_fingerprint: str  # the live colour's release spec at the flip: what a bake decides about
    kept: bool = True  # no bake decision for live_fingerprint yet

    def to_output(self) -> dict[str, Any]:
        return {
            "color": self.color,
            "fingerprint": self.fingerprint,
            "liveColor": self.live_color,
            "liveFingerprint": self.live_fingerprint,
            "kept": self.kept,
        }

    @staticmethod
    def from_output(value: Any) -> RollbackTarget | None:
        """Read a `rollbackTarget` output; None for `{}` (nothing recorded); ValueError when malformed."""
        if value in (None, {}):
            return None
        if not isinstance(value, Mapping):
            raise ValueError(f"should be an object, got {value!r}")
        color, live = value.get("color"), value.get("liveColor")
        fingerprints = value.get("fingerprint"), value.get("liveFingerprint")
        if color not in COLORS or live not in COLORS or color == live:
            raise ValueError(f"should name two different colours, got color={color!r} liveColor={live!r}")
        if not all(isinstance(f, str) and len(f) == 64 for f in fingerprints):
            raise ValueError(f"should carry two release spec fingerprints, got {fingerprints!r}")
        if not isinstance(value.get("kept"), bool):
            raise ValueError(f"kept should be true or false, got {value.get('kept')!r}")
        target: Color = "green" if color == "green" else "blue"
        return RollbackTarget(
            color=target,
            fingerprint=str(fingerprints[0]),
            live_color="green" if target == "blue" else "blue",
            live_fingerprint=str(fingerprints[1]),
            kept=bool(value["kept"]),
        )

    def hold_reason(self) -> str:
        """Why the target may not change, and how to release it."""
        return (
            f"{self.color} is the rollback target until a bake decision is recorded for {self.live_color}'s release "
            f"(fingerprint {self.live_fingerprint[:12]}…): run `bluegreen bake`, or once you are sure, "
            f"`pulumi config set bluegreen:{Keys.BAKE_DECISION.key} {self.live_fingerprint}`"
        )


def next_rollback_target(
    previous: RollbackTarget | None,
    active_before: Color,
    active_after: Color,
    fingerprints: Mapping[Color, str] | None,
    bake_decision: str,
) -> RollbackTarget | None:
    """The target after this update. `fingerprints` are the colours' deployed release specs (None when
    the last update exported none, so nothing can be recorded)."""
    if active_before != active_after:
        if fingerprints is None:
            return None
        live = fingerprints[active_after]
        # A release that was baked before (a rollback to it) needs no new decision.
        return RollbackTarget(active_before, fingerprints[active_before], active_after, live, bake_decision != live)
    if previous is None:
        return None
    return RollbackTarget(
        previous.color,
        previous.fingerprint,
        previous.live_color,
        previous.live_fingerprint,
        previous.kept and bake_decision != previous.live_fingerprint,
    )
