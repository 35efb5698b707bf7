"""Watch one colour's alarms (and optionally its smoke checks) for a while; stop on the first ALARM."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bluegreen.aws import AlarmState, TargetCounts
from bluegreen.clock import iso
from bluegreen.context import Context
from bluegreen.errors import OutputError
from bluegreen.outputs import StackOutputs
from bluegreen.smoke import CheckResult, CheckSuite, run_checks
from bluegreen.traffic import health


@dataclass
class Observation:
    color: str
    started_at: str
    decided_at: str
    elapsed_seconds: float
    polls: int
    fired: list[AlarmState] = field(default_factory=list)
    smoke_failures: list[CheckResult] = field(default_factory=list)
    last_states: list[AlarmState] = field(default_factory=list)
    standby_health: TargetCounts | None = None

    @property
    def tripped(self) -> bool:
        return bool(self.fired or self.smoke_failures)

    def as_record(self) -> dict[str, Any]:
        return {
            "color": self.color,
            "startedAt": self.started_at,
            "decidedAt": self.decided_at,
            "elapsedSeconds": round(self.elapsed_seconds, 1),
            "polls": self.polls,
            "fired": [a.as_record() for a in self.fired],
            "smokeFailures": [
                {"check": r.name, "detail": r.detail, "attempts": r.attempts} for r in self.smoke_failures
            ],
            "alarms": {a.name: a.state for a in self.last_states},
        }


def preview_headers(outputs: StackOutputs, color: str) -> dict[str, str]:
    return {outputs.preview_color_header: color, outputs.preview_token_header: outputs.preview_token}


def smoke_variables(outputs: StackOutputs, color: str) -> dict[str, str]:
    return {"release": outputs.release(color), "color": color, "imageId": outputs.image_id(color)}


def watch(
    ctx: Context,
    outputs: StackOutputs,
    color: str,
    *,
    seconds: float,
    interval: float,
    label: str,
    suite: CheckSuite | None = None,
    standby: str | None = None,
) -> Observation:
    """Poll until `seconds` have passed or something trips.

    `standby` is the colour a rollback would go to: its health is read on every poll so that a
    rollback decided here needs no further read before its single ModifyListener call.
    """
    aws = ctx.aws(outputs)
    names = outputs.alarm_names(color)
    if not names:
        raise OutputError(f"{color}AlarmNames", "is empty, so there is nothing to watch")
    start = ctx.clock.monotonic()
    started_at = iso(ctx.clock.now())
    polls = 0
    while True:
        polls += 1
        states = aws.alarm_states(names)
        fired = [s for s in states if s.state == "ALARM"]
        smoke_failures: list[CheckResult] = []
        if suite is not None and not fired:
            results = run_checks(
                suite,
                outputs.url,
                preview_headers(outputs, color),
                smoke_variables(outputs, color),
                sleep=ctx.clock.sleep,
                fetch=ctx.fetch,
            )
            smoke_failures = [r for r in results if not r.ok]
        standby_health = health(ctx, outputs, standby) if standby else None
        elapsed = ctx.clock.monotonic() - start
        observation = Observation(
            color=color,
            started_at=started_at,
            decided_at=iso(ctx.clock.now()),
            elapsed_seconds=elapsed,
            polls=polls,
            fired=fired,
            smoke_failures=smoke_failures,
            last_states=states,
            standby_health=standby_health,
        )
        if observation.tripped:
            return observation
        remaining = seconds - elapsed
        if remaining <= 0:
            return observation
        summary = ", ".join(f"{s.name}={s.state}" for s in states)
        ctx.reporter.progress(f"{label} {color}: {summary}; {remaining:.0f}s left", start)
        ctx.clock.sleep(min(interval, remaining))
