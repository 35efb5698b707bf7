"""Listener weights and target health: read them, confirm them, and put traffic back fast."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bluegreen.aws import TargetCounts
from bluegreen.context import Context
from bluegreen.errors import CheckFailedError
from bluegreen.guardian_record import acted_on, describe_record, parse_record
from bluegreen.outputs import StackOutputs
from bluegreen.stackconfig import COLORS, other


def live_weights(ctx: Context, outputs: StackOutputs) -> dict[str, int]:
    """Colour -> live weight; target groups that are neither colour appear as `other:<arn>`."""
    by_arn = ctx.aws(outputs).listener_weights(outputs.listener_arn)
    weights = {color: 0 for color in COLORS}
    for arn, weight in by_arn.items():
        color = outputs.color_of_target_group(arn)
        weights[color if color else f"other:{arn}"] = weight
    return weights


def check_live_matches_outputs(ctx: Context, outputs: StackOutputs, command: str) -> None:
    """Refuse to act on outputs that AWS contradicts: after an interrupted flip the outputs may say green
    while the listener still sends everything to blue, and staging "the idle colour" would then replace
    the colour that serves users. The way back is to make config and outputs follow the listener."""
    live = live_weights(ctx, outputs)
    recorded = {color: outputs.weight(color) for color in COLORS}
    if live == recorded:
        return
    serving = max(COLORS, key=lambda c: live.get(c, 0))
    record = guardian_record(ctx, outputs)
    why = (
        describe_record(record)
        if acted_on(record, outputs.guardian_state_id, outputs.guardian_generation) and record is not None
        else "a flip or rollback was interrupted, or someone changed the listener"
    )
    raise CheckFailedError(
        f"{command} refused: the production listener sends {format_weights(live)}, but the last update's outputs say "
        f"{format_weights(recorded)} ({why}). "
        f"Reconcile first: `bluegreen rollback --to {serving}` puts config and outputs on what the listener does, "
        "then run this again",
        details={"live": live, "outputs": recorded},
    )


def guardian_record(ctx: Context, outputs: StackOutputs) -> dict[str, Any] | None:
    """The guardian's last decision record (None: no guardian, no record yet, or it cannot be read)."""
    name = outputs.guardian_record_parameter
    if not name:
        return None
    try:
        return parse_record(ctx.aws(outputs).parameter(name))
    except (BotoCoreError, ClientError) as exc:
        ctx.reporter.warn(f"cannot read the guardian's record {name} ({exc})")
        return None


def format_weights(weights: dict[str, int]) -> str:
    """`blue=0 green=100`: the colours always in the same order, so two lines compare at a glance."""
    names = [*(c for c in COLORS if c in weights), *(k for k in weights if k not in COLORS)]
    return " ".join(f"{name}={weights[name]}" for name in names)


def confirm_live(ctx: Context, outputs: StackOutputs, expected: dict[str, int]) -> dict[str, int]:
    """Poll the listener until its weights equal `expected`, or fail after confirm_timeout."""
    start = ctx.clock.monotonic()
    while True:
        live = live_weights(ctx, outputs)
        if live == expected:
            ctx.reporter.info(f"live weights {format_weights(live)}")
            return live
        if ctx.clock.monotonic() - start >= ctx.timing.confirm_timeout:
            raise CheckFailedError(
                f"live weights {format_weights(live)} differ from the expected {format_weights(expected)} "
                f"after {ctx.timing.confirm_timeout:.0f}s",
                details={"live": live, "expected": expected},
            )
        ctx.reporter.progress(f"waiting for weights {format_weights(expected)}", start)
        ctx.clock.sleep(ctx.timing.confirm_interval)


def health(ctx: Context, outputs: StackOutputs, color: str) -> TargetCounts:
    return ctx.aws(outputs).target_health(outputs.target_group_arn(color))


def put_traffic_on(ctx: Context, outputs: StackOutputs, color: str, stickiness_seconds: int) -> float:
    """The fast path: ONE ModifyListener call sending 100% to `color`. Returns its latency."""
    aws = ctx.aws(outputs)
    weights = [(outputs.target_group_arn(c), 100 if c == color else 0) for c in COLORS]
    start = time.perf_counter()  # a measurement, not a wait: always the real clock
    aws.set_listener_weights(outputs.listener_arn, weights, stickiness_seconds)
    return time.perf_counter() - start


def choose_safe_color(ctx: Context, outputs: StackOutputs, preferred: str) -> tuple[str, TargetCounts]:
    """`preferred` when it has a healthy target, else the other colour when that has one."""
    counts = health(ctx, outputs, preferred)
    if counts.healthy > 0:
        return preferred, counts
    alternative = other(preferred)
    alt_counts = health(ctx, outputs, alternative)
    if alt_counts.healthy > 0:
        ctx.reporter.warn(
            f"{preferred} has {counts.describe()}; {alternative} has {alt_counts.describe()}, using {alternative}"
        )
        return alternative, alt_counts
    ctx.reporter.warn(f"neither colour has a healthy target; keeping traffic on {preferred}")
    return preferred, counts
