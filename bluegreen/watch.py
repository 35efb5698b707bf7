"""Watch one colour's alarms (and optionally its smoke checks) for a while; stop on the first ALARM."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bluegreen.aws import AlarmState, Aws, TargetCounts
from bluegreen.clock import iso
from bluegreen.context import Context
from bluegreen.contract import is_alb_dns_name
from bluegreen.errors import OutputError, UsageError
from bluegreen.guardian_record import acted_on, parse_record
from bluegreen.outputs import StackOutputs
from bluegreen.report import HEARTBEAT_SECONDS
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
    # Set when the watched colour has fewer healthy targets than its desired capacity: a dying colour
    # trips the watch before its alarms' evaluation periods have passed.
    short_of_targets: str | None = None
    # The guardian's decision record, when it moved traffic off the watched colour during the watch
    # (or after the update being watched): the tool then only makes config and state agree.
    guardian: dict[str, Any] | None = None

    @property
    def tripped(self) -> bool:
        return bool(self.fired or self.smoke_failures or self.short_of_targets or self.guardian)

    def what(self) -> str:
        """What tripped, e.g. `bluegreen-dev-green-5xx-rate, targets: green has 0/2 healthy`."""
        parts = [a.label for a in self.fired] + [f"smoke:{r.name}" for r in self.smoke_failures]
        if self.short_of_targets:
            parts.append(f"targets: {self.short_of_targets}")
        if self.guardian:
            parts.append(f"guardian: rolled back to {self.guardian.get('to')} on {self.guardian.get('alarm')}")
        return ", ".join(parts)

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
            "shortOfTargets": self.short_of_targets,
            "guardian": self.guardian,
        }


def preview_headers(outputs: StackOutputs, color: str) -> dict[str, str]:
    return {outputs.preview_color_header: color, outputs.preview_token_header: outputs.preview_token}


def smoke_base_url(
    outputs: StackOutputs, override: str | None = None, warn: Callable[[str], None] | None = None
) -> str:
    """Where smoke checks go: `--base-url`, else the stack output `url`.

    Refuses an http:// URL unless the stack was deployed with `allowInsecurePreview` (the checks carry
    the preview token), and warns through `warn` when it was. Refuses up front, before any request, an
    https URL whose host is the ALB's own DNS name: the
    listener's certificate is for your domain, so every request would fail TLS verification (and
    a failed verify looks like a broken release). Set config `publicHostname` (then `url` is
    https://<publicHostname>) or pass `--base-url`.
    """
    source = "--base-url" if override else "stack output url"
    url = override or outputs.url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"{source}={url!r} is not allowed: an http:// or https:// URL with a host name, "
            "e.g. https://app.example.com",
            details={"argument": source, "value": url},
        )
    if parts.scheme == "http":
        if not outputs.allow_insecure_preview:
            raise UsageError(
                f"{source}={url!r}: the smoke checks carry the preview token, which must not cross the network in "
                "clear text. Use an https:// URL (set config bluegreen:certificateArn and run `pulumi up`); for a "
                "throwaway stack only, set bluegreen:allowInsecurePreview=true and run `pulumi up`",
                details={"argument": source, "value": url},
            )
        if warn is not None:
            warn(
                f"INSECURE PREVIEW: {url} is plain HTTP; the preview token travels in clear text (allowInsecurePreview)"
            )
    host = parts.hostname.lower().rstrip(".")
    if parts.scheme == "https" and is_alb_dns_name(host):
        raise UsageError(
            f"{source}={url!r}: smoke checks over https cannot reach the load balancer by its own DNS name "
            f"({host}), because the listener's certificate is for your domain, not for *.elb.amazonaws.com, "
            "so every request would fail certificate verification. Set config bluegreen:publicHostname to "
            "the name the certificate covers (`url` then becomes https://<publicHostname>) and run `pulumi up`, "
            "or pass --base-url https://<that name>",
            details={"argument": source, "value": url},
        )
    return url


def smoke_variables(outputs: StackOutputs, color: str) -> dict[str, str]:
    return {"release": outputs.release(color), "color": color, "imageId": outputs.image_id(color)}


def smoke_color(
    ctx: Context,
    outputs: StackOutputs,
    color: str,
    *,
    suite: CheckSuite,
    url: str,
    on_attempt: Callable[[str, int, str | None], None] | None = None,
) -> list[CheckResult]:
    """Run `suite` against `color` only, through its preview route."""
    return run_checks(
        suite,
        url,
        preview_headers(outputs, color),
        smoke_variables(outputs, color),
        sleep=ctx.clock.sleep,
        fetch=ctx.fetch,
        on_attempt=on_attempt,
    )


READ_AT_START: Any = object()  # watch(): read the guardian's record when the watch starts


def watch(
    ctx: Context,
    outputs: StackOutputs,
    color: str,
    *,
    seconds: float,
    interval: float,
    label: str,
    suite: CheckSuite | None = None,
    base_url: str | None = None,
    standby: str | None = None,
    guardian_baseline: dict[str, Any] | object | None = READ_AT_START,
) -> Observation:
    """Poll until `seconds` have passed or something trips.

    `guardian_baseline` is the guardian's record as it was before the command began (a ramp reads it
    once, so a rollback the guardian made during a step's `pulumi up` still counts at the next hold);
    by default it is read when the watch starts.

    `standby` is the colour a rollback would go to: its health is read on every poll so that a
    rollback decided here needs no further read before its single ModifyListener call.
    """
    aws = ctx.aws(outputs)
    names = outputs.alarm_names(color)
    if not names:
        raise OutputError(f"{color}AlarmNames", "is empty, so there is nothing to watch")
    smoke = (suite, smoke_base_url(outputs, base_url)) if suite is not None else None
    desired = aws.desired_capacity(outputs.asg_name(color))  # fixed while it is watched
    start = ctx.clock.monotonic()
    started_at = iso(ctx.clock.now())
    polls = 0
    changed_at: dict[str, datetime | None] = {}  # alarm -> StateUpdatedTimestamp at the previous poll
    guardian = GuardianRecordWatch(ctx, aws, outputs, color, guardian_baseline)
    while True:
        polls += 1
        states = aws.alarm_states(names)
        fired = [s for s in states if s.state == "ALARM"] + _raised_between_polls(aws, states, changed_at)
        changed_at = {s.name: s.changed for s in states}
        acted = guardian.acted()
        smoke_failures: list[CheckResult] = []
        if smoke is not None and not fired:
            results = smoke_color(ctx, outputs, color, suite=smoke[0], url=smoke[1])
            smoke_failures = [r for r in results if not r.ok]
        counts = health(ctx, outputs, color)
        short = f"{color} has {counts.describe()}, desired {desired}" if counts.healthy < desired else None
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
            short_of_targets=short,
            guardian=acted,
        )
        if observation.tripped:
            return observation
        remaining = seconds - elapsed
        if remaining <= 0:
            return observation
        summary = ", ".join(f"{s.name}={s.state}" for s in states)
        ctx.reporter.progress(f"{label} {color}: {summary}; {remaining:.0f}s left", start)
        _wait(ctx, min(interval, remaining), f"{label} {color}: next poll", start)


class GuardianRecordWatch:
    """Reads the guardian's record parameter on each poll: has it rolled back from the watched colour?

    It has when the record is a rollback from `color` and is either new since the watch began or
    names the deployment being watched (its `stateId`): a rollback recorded before an earlier
    update is history. A stack without a guardian (no record output) costs no call; a record the
    operator may not read (no `ssm:GetParameter`) is warned about once and the alarms still decide.
    """

    def __init__(self, ctx: Context, aws: Aws, outputs: StackOutputs, color: str, baseline: object = None) -> None:
        self.ctx, self.aws, self.color = ctx, aws, color
        self.name = outputs.guardian_record_parameter
        self.state_id = outputs.guardian_state_id
        self.generation = outputs.guardian_generation
        self.baseline = self._read() if baseline is READ_AT_START else baseline

    def _read(self) -> dict[str, Any] | None:
        if not self.name:
            return None
        try:
            return parse_record(self.aws.parameter(self.name))
        except (BotoCoreError, ClientError) as exc:
            self.ctx.reporter.warn(
                f"cannot read the guardian's record {self.name} ({exc}); the alarms alone decide this watch"
            )
            self.name = None
            return None

    def acted(self) -> dict[str, Any] | None:
        record = self._read()
        if record is None or record.get("action") != "rollback" or record.get("from") != self.color:
            return None
        return record if record != self.baseline or acted_on(record, self.state_id, self.generation) else None


def _raised_between_polls(
    aws: Aws, states: list[AlarmState], changed_at: dict[str, datetime | None]
) -> list[AlarmState]:
    """ALARMs that began and ended between two polls.

    Only an alarm that is not in ALARM now but whose state changed since the previous poll can hide
    one, so the history is read for those alone: a quiet poll costs no extra call.
    """
    raised: list[AlarmState] = []
    for state in states:
        before = changed_at.get(state.name)
        if state.state != "ALARM" and before is not None and state.changed != before:
            raised.extend(aws.alarms_raised_since(state, before))
    return raised


def _wait(ctx: Context, seconds: float, what: str, start: float) -> None:
    """Sleep `seconds`, in slices of at most HEARTBEAT_SECONDS with a heartbeat after each one."""
    until = ctx.clock.monotonic() + seconds
    while (left := until - ctx.clock.monotonic()) > 0:
        ctx.clock.sleep(min(left, HEARTBEAT_SECONDS))
        if until - ctx.clock.monotonic() > 0:
            ctx.reporter.heartbeat(f"{what} in {until - ctx.clock.monotonic():.0f}s", start)
