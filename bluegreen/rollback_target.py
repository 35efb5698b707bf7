"""The rollback target: the colour traffic left, kept as it was until a bake decides.

The update that moves traffic off a colour records it (`rollbackTarget` output) with the
fingerprints of its release spec and of the new live colour's, and numbers the flip (`flip`, one
more than the last: a re-flip to the same build is a new flip). Until a keep decision for that flip
is recorded (`bakeDecision`, written by `bluegreen bake` on keep), the release guard refuses to
restage, respec or scale down the target, so a rollback always lands on the build that served users
before. The record stays after the decision (`kept` false): the release tool still refuses to roll
back to a colour that no longer runs the recorded fingerprint. A flip that rolls back (to the build the
last flip left) records the colour it leaves `disarmed`: never the guardian's to flip to, never held.

A keep decision (invariant I2) names the flip it decides and the interval a bake watched the new
colour; it counts only in an update after that flip, for that flip, and when the watch lasted at
least `bakeMinutes`. `bake_decision_problem` is that rule, called by the program (the release guard)
and by the release tool before it writes a decision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bluegreen.contract import COLORS, Color, Keys

_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# What `bakeDecision` holds: `flip=<n> fingerprint=<64 hex> start=<UTC time> end=<UTC time> minutes=<m>`.
BAKE_DECISION_FIELDS = ("flip", "fingerprint", "start", "end", "minutes")
BAKE_DECISION_FORMAT = (
    "empty or a keep decision written by `bluegreen bake`: flip=<n> fingerprint=<64 hex digits> "
    "start=<YYYY-MM-DDThh:mm:ssZ> end=<YYYY-MM-DDThh:mm:ssZ> minutes=<n>"
)


@dataclass(frozen=True)
class RollbackTarget:
    color: Color  # where traffic was before the flip
    fingerprint: str  # its release spec when traffic left it
    live_color: Color
    live_fingerprint: str  # the live colour's release spec at the flip: what a bake decides about
    kept: bool = True  # no keep decision for this flip yet
    # The flip's number: one more than the last recorded flip's (0: recorded before flips were numbered).
    flip: int = 0
    # The flip was a rollback (traffic went back to the build the last flip left), so `color` is the release
    # traffic was rolled away from: never armed, never held (`next_rollback_target`).
    disarmed: bool = False

    def holds(self) -> bool:
        """Whether the release guard holds `color` (no restage, respec or scale-down): a kept target that a
        rollback did not leave. The release a rollback left is the one to fix, so it is free at once."""
        return self.kept and not self.disarmed

    def to_output(self) -> dict[str, Any]:
        output: dict[str, Any] = {
            "color": self.color,
            "fingerprint": self.fingerprint,
            "liveColor": self.live_color,
            "liveFingerprint": self.live_fingerprint,
            "kept": self.kept,
            "flip": self.flip,
        }
        if self.disarmed:  # absent otherwise, so the outputs of every other flip read as before
            output["disarmed"] = True
        return output

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
        flip = value.get("flip", 0)  # absent: recorded before flips were numbered
        if isinstance(flip, float) and flip.is_integer():
            flip = int(flip)  # outputs read back through JSON or a StackReference may carry 3.0
        if isinstance(flip, bool) or not isinstance(flip, int) or flip < 0:
            raise ValueError(f"flip should be a whole number from 0, got {flip!r}")
        disarmed = value.get("disarmed", False)
        if not isinstance(disarmed, bool):
            raise ValueError(f"disarmed should be true or false, got {disarmed!r}")
        target: Color = "green" if color == "green" else "blue"
        return RollbackTarget(
            color=target,
            fingerprint=str(fingerprints[0]),
            live_color="green" if target == "blue" else "blue",
            live_fingerprint=str(fingerprints[1]),
            kept=bool(value["kept"]),
            flip=flip,
            disarmed=disarmed,
        )

    def hold_reason(self) -> str:
        """Why the target may not change, and how to release it."""
        return (
            f"{self.color} is the rollback target until a bake decision is recorded for {self.live_color}'s release "
            f"(flip {self.flip}, fingerprint {self.live_fingerprint[:12]}…): run `bluegreen bake`, which records "
            f"{Keys.BAKE_DECISION.key} after watching {self.live_color} for at least bakeMinutes"
        )


@dataclass(frozen=True)
class BakeDecision:
    """A keep decision: the flip it decides, the live release it kept and the interval a bake watched it."""

    flip: int
    fingerprint: str  # the live colour's release spec at the flip (RollbackTarget.live_fingerprint)
    start: str  # UTC, to the second: YYYY-MM-DDThh:mm:ssZ
    end: str
    minutes: float  # how long the bake was asked to watch

    def watched_seconds(self) -> float:
        return (_time(self.end) - _time(self.start)).total_seconds()

    def to_config(self) -> str:
        minutes = f"{self.minutes:.6f}".rstrip("0").rstrip(".")  # never an exponent, which `parse` refuses
        return f"flip={self.flip} fingerprint={self.fingerprint} start={self.start} end={self.end} minutes={minutes}"

    @staticmethod
    def parse(text: str) -> BakeDecision | None:
        """`bakeDecision` read; None when empty, ValueError (saying what is allowed) when malformed. A bare
        fingerprint (`is_legacy_decision`) is not a BakeDecision."""
        if text == "":
            return None
        fields: dict[str, str] = {}
        for part in text.split():
            key, sep, value = part.partition("=")
            if not sep or key not in BAKE_DECISION_FIELDS or key in fields:
                raise ValueError(BAKE_DECISION_FORMAT)
            fields[key] = value
        if set(fields) != set(BAKE_DECISION_FIELDS):
            raise ValueError(BAKE_DECISION_FORMAT)
        flip, minutes = fields["flip"], fields["minutes"]
        ok = (
            flip.isascii()
            and flip.isdigit()
            and bool(_FINGERPRINT.match(fields["fingerprint"]))
            and all(_TIME.match(fields[k]) for k in ("start", "end"))
            and bool(re.fullmatch(r"\d+(\.\d+)?", minutes))
        )
        if not ok:
            raise ValueError(BAKE_DECISION_FORMAT)
        decision = BakeDecision(int(flip), fields["fingerprint"], fields["start"], fields["end"], float(minutes))
        try:
            watched = decision.watched_seconds()
        except ValueError:  # an impossible date such as 2026-02-30
            raise ValueError(BAKE_DECISION_FORMAT) from None
        if watched < 0:
            raise ValueError(f"{BAKE_DECISION_FORMAT}, its end not before its start")
        return decision


def is_legacy_decision(text: str) -> bool:
    """A bare fingerprint: the `bakeDecision` of stacks decided before decisions named their flip."""
    return bool(_FINGERPRINT.match(text))


def check_bake_decision(text: str) -> bool:
    """Whether `bakeDecision` is well formed (config validation; `bake_decision_problem` judges it)."""
    try:
        return is_legacy_decision(text) or BakeDecision.parse(text) is not None or text == ""
    except ValueError:
        return False


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def bake_decision_problem(
    text: str,
    deployed: RollbackTarget | None,
    target: RollbackTarget | None,
    *,
    flipping: bool,
    bake_minutes: int,
) -> str | None:
    """Why `bakeDecision` (`text`) may not stand in this update, or None when it may (I2).

    `deployed` is the target the last update recorded, `target` the one this update records (a new flip
    when `flipping`). A keep decision is refused when it is set in the flip's own update (nothing was
    watched yet), when it names another flip or another release than the current one, or when the watch it
    records is shorter than `bakeMinutes`. A decision the deployed state shows applied already (its flip's
    target released) is spent: it stands until the next flip, whatever bakeMinutes says now.
    """
    if text == "":
        return None
    if is_legacy_decision(text):
        return _legacy_problem(text, deployed, flipping=flipping)
    try:
        decision = BakeDecision.parse(text)
    except ValueError as error:
        return f"{_KEY}={text} is not allowed: it must be {error}"
    assert decision is not None
    if flipping:
        return _flip_problem(text, decision, target)
    if deployed is not None and not deployed.kept and decision.flip == deployed.flip:
        return None  # spent: it released this flip's target in an earlier update
    return _current_flip_problem(text, decision, target, bake_minutes)


_KEY = Keys.BAKE_DECISION.key
_CLEAR = f'clear it (`pulumi config set bluegreen:{_KEY} ""`)'


def _legacy_problem(text: str, deployed: RollbackTarget | None, *, flipping: bool) -> str | None:
    """What `bake` wrote before decisions named their flip: it stands only where it was applied already."""
    if not flipping and deployed is not None and not deployed.kept and deployed.live_fingerprint == text:
        return None
    return (
        f"{_KEY}={text} is a bare release spec fingerprint, which names no flip and records no watch: run "
        f"`bluegreen bake`, which records a keep decision after watching for at least bakeMinutes, or {_CLEAR}"
    )


def _flip_problem(text: str, decision: BakeDecision, target: RollbackTarget | None) -> str:
    """A flip's own update carries no keep decision: nothing has watched the new colour yet."""
    if target is not None and decision.flip == target.flip:
        return (
            f"{_KEY}={text} is set in the update that makes flip {decision.flip} ({target.color} -> "
            f"{target.live_color}), so nothing has watched {target.live_color} yet: flip with {_KEY} empty, then "
            "run `bluegreen bake`, which records the decision after watching it for at least bakeMinutes"
        )
    now = f"this update makes flip {target.flip}" if target is not None else "this update flips activeColor"
    return (
        f"{_KEY}={text} names flip {decision.flip}, but {now}: a keep decision decides only its own flip; "
        f"{_CLEAR} for the flip, then run `bluegreen bake`"
    )


def _current_flip_problem(
    text: str, decision: BakeDecision, target: RollbackTarget | None, bake_minutes: int
) -> str | None:
    """A decision in an update after a flip: for that flip and release, after a watch of bakeMinutes."""
    if target is None:
        return f"{_KEY}={text} names flip {decision.flip}, but no flip is recorded (rollbackTarget is empty); {_CLEAR}"
    if decision.flip != target.flip or decision.fingerprint != target.live_fingerprint:
        return (
            f"{_KEY}={text} names flip {decision.flip} (release spec {decision.fingerprint[:12]}…), but the current "
            f"flip is {target.flip} ({target.color} -> {target.live_color}, {target.live_fingerprint[:12]}…): a keep "
            f"decision decides only its own flip; run `bluegreen bake`, or {_CLEAR}"
        )
    watched = decision.watched_seconds()
    if decision.minutes < bake_minutes or watched < bake_minutes * 60:
        return (
            f"{_KEY}={text} records a watch of {watched / 60:g} min ({decision.minutes:g} asked), shorter than "
            f"bakeMinutes={bake_minutes}: a keep decision needs a bake that watched {target.live_color} for at "
            "least bakeMinutes; run `bluegreen bake`"
        )
    return None


def next_rollback_target(
    previous: RollbackTarget | None,
    active_before: Color,
    active_after: Color,
    fingerprints: Mapping[Color, str] | None,
    bake_decision: str,
) -> RollbackTarget | None:
    """The target after this update. `fingerprints` are the colours' deployed release specs (None when
    the last update exported none, so nothing can be recorded). A flip is always kept: its decision comes
    from a bake after it. `bake_decision` releases the target when `bake_decision_problem` accepts it for
    the current flip (the caller refuses the update otherwise).

    A flip that is a rollback (`_rolls_back`: traffic goes back to the colour the last flip left, still on
    the build it left) records the colour it leaves disarmed (and not held). That is how the program accepts a
    guardian's rollback in config, `bluegreen rollback`, and a failed switch's restore: the colour they leave
    is the release that failed, and arming it would let the guardian, on the next alarm of the good colour,
    flip users back onto it.

    Why a disarmed record rather than no target: I5 (traffic is on a colour that passed the gate, or on the
    armed rollback target) holds either way, since the guardian never sends traffic to a disarmed colour, but
    a record keeps I3 (a rollback is never silently undone): the flip keeps its number, so a keep decision for
    an earlier flip never passes for a later one, and the release tool still knows which colour was rolled away
    from and refuses `bluegreen rollback` to it. It is never held (`holds`), so the failed colour may be
    restaged at once; `kept` keeps its meaning (no keep decision for this flip yet). It stays disarmed until
    the next flip, which needs a new release there that passes the gate (or a re-flip, which arms the colour
    it leaves as any flip does).
    """
    if active_before != active_after:
        if fingerprints is None:
            return None
        live = fingerprints[active_after]
        flip = previous.flip + 1 if previous is not None else 1
        disarmed = _rolls_back(previous, active_after, fingerprints)
        return RollbackTarget(active_before, fingerprints[active_before], active_after, live, True, flip, disarmed)
    if previous is None:
        return None
    decided = _decides(bake_decision, previous)
    return RollbackTarget(
        previous.color,
        previous.fingerprint,
        previous.live_color,
        previous.live_fingerprint,
        previous.kept and not decided,
        previous.flip,
        previous.disarmed,
    )


def _rolls_back(previous: RollbackTarget | None, active_after: Color, fingerprints: Mapping[Color, str]) -> bool:
    """Whether a flip to `active_after` is a rollback: back to the colour the last flip left, on the build it
    left. Not after a rollback (`previous.disarmed`): going back to the colour rolled away from is a flip like
    any other, and the colour it leaves, which users ran before, is armed."""
    return (
        previous is not None
        and not previous.disarmed
        and previous.color == active_after
        and fingerprints[active_after] == previous.fingerprint
    )


def _decides(text: str, target: RollbackTarget) -> bool:
    if text == "" or is_legacy_decision(text):
        return False  # a bare fingerprint stands only where it released the target already
    try:
        decision = BakeDecision.parse(text)
    except ValueError:
        return False
    return decision is not None and decision.flip == target.flip and decision.fingerprint == target.live_fingerprint
