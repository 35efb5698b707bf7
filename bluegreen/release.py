"""The release steps: stage, verify, switch, rollback. Each one is safe to re-run after a failure.

Invariants:
- `stage` and `verify` never change where production traffic goes.
- `switch` refuses unless the target colour is staged, healthy and verified for exactly what is
  deployed on it; if it fails or is interrupted part-way, traffic is put back on a healthy colour
  before the error is reported.
- `rollback` moves traffic with one ModifyListener call first, then makes config and Pulumi state
  agree with a `pulumi up`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bluegreen.aws import TargetCounts
from bluegreen.clock import iso
from bluegreen.context import Context
from bluegreen.errors import (
    CheckFailedError,
    ReleaseInterruptedError,
    RolledBackError,
    StackLockedError,
    ToolError,
    UsageError,
)
from bluegreen.interrupts import deferred_interrupts
from bluegreen.outputs import StackOutputs
from bluegreen.smoke import load_checks, run_checks
from bluegreen.stackconfig import (
    ACTIVE_COLOR,
    IDLE_SCALED_DOWN,
    IDLE_TRAFFIC_PERCENT,
    ROLLBACK_COLOR,
    ReleaseConfig,
    VerifiedRecord,
    check_color,
    check_image_id,
    check_release,
    image_key,
    other,
    release_key,
    verified_key,
    weights_for,
)
from bluegreen.traffic import choose_safe_color, confirm_live, health, put_traffic_on
from bluegreen.watch import preview_headers, smoke_variables, watch


def _not_staged(cfg: ReleaseConfig, outputs: StackOutputs, color: str) -> str | None:
    deployed = outputs.release(color)
    wanted = cfg.releases[color]
    if deployed == wanted:
        return None
    return (
        f"{color} is not staged: config bluegreen:{release_key(color)}={wanted!r} but the stack output "
        f"{release_key(color)} is {deployed!r}; run `python -m bluegreen stage {wanted}`"
    )


def wait_healthy(ctx: Context, outputs: StackOutputs, color: str) -> TargetCounts:
    """Wait until the colour's target group has its ASG's desired number of healthy targets."""
    aws = ctx.aws(outputs)
    asg = outputs.asg_name(color)
    start = ctx.clock.monotonic()
    last = ""
    while True:
        desired = aws.desired_capacity(asg)
        counts = health(ctx, outputs, color)
        if desired == 0:
            raise CheckFailedError(
                f"{color} auto scaling group {asg} has desired capacity 0, so it can never be healthy "
                "(is bluegreen:idleScaledDown true?)"
            )
        if counts.healthy >= desired:
            ctx.reporter.info(f"{color}: {counts.describe()}, desired {desired}")
            return counts
        line = f"{color}: {counts.describe()}, desired {desired}"
        if line != last:
            ctx.reporter.progress(line, start)
            last = line
        if ctx.clock.monotonic() - start >= ctx.timing.health_timeout:
            raise CheckFailedError(
                f"{color} did not reach {desired} healthy targets within "
                f"{ctx.timing.health_timeout:.0f}s: {counts.describe()}",
                details={"color": color, "healthy": counts.healthy, "total": counts.total, "desired": desired},
            )
        ctx.clock.sleep(ctx.timing.poll_interval)


def stage(ctx: Context, release: str, image_id: str | None) -> dict[str, Any]:
    cfg, _ = ctx.load()
    idle = cfg.idle
    check_release(release_key(idle), release)
    if image_id is not None:
        check_image_id(image_key(idle), image_id)
    if cfg.idle_percent > 0:
        raise UsageError(
            f"config bluegreen:{IDLE_TRAFFIC_PERCENT}={cfg.idle_percent}: the idle colour {idle} is serving "
            "traffic (a switch is in progress); finish it with `switch` or undo it with `rollback` first"
        )
    changes = {release_key(idle): release}
    if image_id is not None:
        changes[image_key(idle)] = image_id
    if cfg.idle_scaled_down:
        changes[IDLE_SCALED_DOWN] = "false"
    if cfg.rollback_color == idle:
        # The colour being replaced is no longer a rollback target.
        changes[ROLLBACK_COLOR] = ""
    with ctx.reporter.step(f"stage {release} on {idle}"):
        ctx.apply(changes, message=f"bluegreen stage {release} on {idle}")
    outputs = ctx.outputs()
    if outputs.release(idle) != release:
        raise CheckFailedError(
            f"after `pulumi up` the stack output {release_key(idle)} is {outputs.release(idle)!r}, not {release!r}"
        )
    with ctx.reporter.step(f"wait for {idle} to be healthy"):
        counts = wait_healthy(ctx, outputs, idle)
    result = {"color": idle, "release": release, "imageId": outputs.image_id(idle), "healthy": counts.healthy}
    ctx.reporter.result["stage"] = result
    return result


def verify(ctx: Context, checks_path: Path, color: str | None = None) -> dict[str, Any]:
    cfg, outputs = ctx.load()
    target = check_color("--color", color) if color else cfg.idle
    suite = load_checks(checks_path)
    problem = _not_staged(cfg, outputs, target)
    if problem:
        raise CheckFailedError(problem)
    with ctx.reporter.step(f"smoke {target} via its preview route ({len(suite.checks)} checks)") as rec:

        def _attempt(name: str, attempt: int, problem: str | None) -> None:
            ctx.reporter.info(f"{name} #{attempt}: {problem or 'ok'}")

        results = run_checks(
            suite,
            outputs.url,
            preview_headers(outputs, target),
            smoke_variables(outputs, target),
            sleep=ctx.clock.sleep,
            fetch=ctx.fetch,
            on_attempt=_attempt,
        )
        failed = [r for r in results if not r.ok]
        rec.detail = f"{len(results) - len(failed)}/{len(results)} passed"
    summary = [{"check": r.name, "ok": r.ok, "attempts": r.attempts, "detail": r.detail} for r in results]
    ctx.reporter.result["verify"] = {"color": target, "release": outputs.release(target), "checks": summary}
    if failed:
        if cfg.verified[target] is not None:
            ctx.set_config({verified_key(target): ""})
        raise CheckFailedError(
            f"{target} failed {len(failed)} smoke check(s): " + "; ".join(f"{r.name}: {r.detail}" for r in failed),
            details={"checks": summary},
        )
    record = VerifiedRecord(
        release=outputs.release(target),
        image_id=outputs.image_id(target),
        user_data_hash=outputs.user_data_hash(target),
        checks_digest=suite.digest,
        at=iso(ctx.clock.now()),
    )
    ctx.set_config({verified_key(target): record.to_wire()})
    ctx.reporter.info(f"recorded: {target} verified for release {record.release}")
    return {"color": target, "release": record.release, "checks": summary}


def require_ready(ctx: Context, cfg: ReleaseConfig, outputs: StackOutputs, color: str) -> TargetCounts:
    """Refuse unless `color` is staged, verified for what is deployed on it, and healthy."""
    problem = _not_staged(cfg, outputs, color)
    if problem:
        raise CheckFailedError(problem)
    record = cfg.verified[color]
    release = outputs.release(color)
    if record is None or not record.matches(release, outputs.image_id(color), outputs.user_data_hash(color)):
        seen = f"it was verified for {record.release!r} ({record.image_id})" if record else "it was never verified"
        raise CheckFailedError(
            f"{color} is not verified for release {release!r} ({outputs.image_id(color) or 'image unknown'}): "
            f"{seen}; run `python -m bluegreen verify --checks FILE`"
        )
    aws = ctx.aws(outputs)
    desired = aws.desired_capacity(outputs.asg_name(color))
    counts = health(ctx, outputs, color)
    if desired == 0 or counts.healthy < desired:
        raise CheckFailedError(
            f"{color} is not healthy: {counts.describe()}, desired {desired}; not switching",
            details={"color": color, "healthy": counts.healthy, "total": counts.total, "desired": desired},
        )
    ctx.reporter.info(f"{color}: release {release} verified at {record.at}; {counts.describe()}")
    return counts


def restore_traffic(ctx: Context, cfg: ReleaseConfig, outputs: StackOutputs, preferred: str, reconcile: bool) -> str:
    """After a failed or interrupted switch: traffic on a healthy colour, config to match."""
    with deferred_interrupts(reraise=False), ctx.reporter.step("restore traffic") as rec:
        try:
            color, _ = choose_safe_color(ctx, outputs, preferred)
            put_traffic_on(ctx, outputs, color, cfg.stickiness_seconds)
        except Exception as exc:
            raise CheckFailedError(
                f"COULD NOT RESTORE TRAFFIC ({exc}): the listener may still split traffic; run "
                f"`python -m bluegreen status`, then `python -m bluegreen rollback --to {preferred}`"
            ) from exc
        ctx.engine.set_config({ACTIVE_COLOR: color, IDLE_TRAFFIC_PERCENT: "0", ROLLBACK_COLOR: color})
        rec.detail = f"100% on {color} (ModifyListener), config activeColor={color}"
        if reconcile:
            try:
                ctx.engine.up(f"bluegreen switch aborted: traffic on {color}", ctx.reporter.engine_line)
            except ToolError as exc:
                ctx.reporter.warn(
                    f"traffic is on {color}, but `pulumi up` to match state failed ({exc.message.splitlines()[0]}); "
                    f"run `python -m bluegreen rollback --to {color}` once the cause is fixed"
                )
        else:
            ctx.reporter.warn(
                f"traffic is on {color}; run `python -m bluegreen rollback --to {color}` to bring Pulumi state in line"
            )
    return color


def switch(ctx: Context, to: str | None, ramp: list[int], pause: float | None) -> dict[str, Any]:
    cfg, outputs = ctx.load()
    target = check_color("--to", to) if to else cfg.idle
    previous = other(target)
    final = weights_for(target, 0)
    if cfg.active == target and cfg.idle_percent == 0:
        with ctx.reporter.step("confirm live weights"):
            confirm_live(ctx, outputs, final)
        ctx.reporter.info(f"{target} is already active; nothing to switch")
        result = {"switched": False, "active": target}
        ctx.reporter.result["switch"] = result
        return result
    with ctx.reporter.step(f"check {target} is ready"):
        require_ready(ctx, cfg, outputs, target)
    # A ramp resumes above the current step; when the target is already active only the final step is left.
    ramp = [] if cfg.active == target else [p for p in ramp if p > cfg.idle_percent]
    pause_seconds = ctx.timing.ramp_pause if pause is None else pause
    touched_live = False  # True once one of our updates has gone through
    stage_name = "start"
    try:
        for percent in ramp:
            stage_name = f"ramp to {percent}%"
            with ctx.reporter.step(f"ramp {target} to {percent}%"):
                ctx.apply(
                    {ACTIVE_COLOR: previous, IDLE_TRAFFIC_PERCENT: str(percent), ROLLBACK_COLOR: previous},
                    message=f"bluegreen switch: {target} at {percent}%",
                )
                touched_live = True
                confirm_live(ctx, outputs, weights_for(previous, percent))
            with ctx.reporter.step(f"hold {target} at {percent}% for {pause_seconds:.0f}s"):
                seen = watch(
                    ctx, outputs, target, seconds=pause_seconds, interval=ctx.timing.bake_interval, label="ramp"
                )
            if seen.tripped:
                fired = ", ".join(a.name for a in seen.fired) or "smoke checks"
                raise RolledBackError(
                    f"{fired} fired while {target} had {percent}% of traffic",
                    details={"observation": seen.as_record()},
                )
        stage_name = f"switch to {target}"
        with ctx.reporter.step(f"switch traffic to {target}"):
            ctx.apply(
                {ACTIVE_COLOR: target, IDLE_TRAFFIC_PERCENT: "0", ROLLBACK_COLOR: previous},
                message=f"bluegreen switch to {target}",
            )
            touched_live = True
        with ctx.reporter.step("confirm live weights"):
            confirm_live(ctx, outputs, final)
    except StackLockedError as exc:
        # The lock refused this update before it started (and `apply` put its config back).
        # Undo what our earlier steps did; never touch the listener when nothing of ours reached it.
        if touched_live:
            color = restore_traffic(ctx, cfg, outputs, previous, reconcile=False)
            exc.message += f"\nswitch aborted during {stage_name}; traffic is on {color}"
        else:
            exc.message += "\nnothing was changed: traffic untouched"
        exc.args = (exc.message,)
        raise
    except KeyboardInterrupt:
        color = restore_traffic(ctx, cfg, outputs, previous, reconcile=False)
        raise ReleaseInterruptedError(f"interrupted during {stage_name}; traffic is on {color}") from None
    except ToolError as exc:
        color = restore_traffic(ctx, cfg, outputs, previous, reconcile=True)
        exc.message = f"{exc.message}\nswitch aborted during {stage_name}; traffic is on {color}"
        exc.args = (exc.message,)
        raise
    except Exception as exc:
        color = restore_traffic(ctx, cfg, outputs, previous, reconcile=True)
        raise CheckFailedError(f"switch aborted during {stage_name} ({exc!r}); traffic is on {color}") from exc
    result = {"switched": True, "active": target, "previous": previous, "ramp": ramp}
    ctx.reporter.result["switch"] = result
    return result


def rollback_target(cfg: ReleaseConfig) -> str:
    if cfg.rollback_color:
        return cfg.rollback_color
    if cfg.idle_percent > 0:
        return cfg.active
    raise UsageError(
        f"config bluegreen:{ROLLBACK_COLOR} is empty, so there is no previous colour to return to "
        "(`switch` records it; `stage` clears it when it replaces that colour); pass --to blue|green"
    )


def rollback(
    ctx: Context,
    *,
    to: str | None = None,
    fast: bool = True,
    force: bool = False,
    known_health: TargetCounts | None = None,
    loaded: tuple[ReleaseConfig, StackOutputs] | None = None,
) -> dict[str, Any]:
    """`loaded` lets a caller that has just read config and outputs (bake) skip reading them
    again: with the real engine those reads are Pulumi CLI calls that would delay the fast path."""
    cfg, outputs = loaded or ctx.load()
    target = check_color("--to", to) if to else rollback_target(cfg)
    result: dict[str, Any] = {"to": target, "from": other(target), "fast": fast}
    ctx.reporter.result["rollback"] = result
    if not force:
        counts = known_health if known_health is not None else health(ctx, outputs, target)
        if counts.healthy == 0:
            raise CheckFailedError(
                f"{target} has {counts.describe()}: rolling back would send traffic to no healthy target; "
                "scale it up (bluegreen:idleScaledDown=false, then `pulumi up`) or pass --force"
            )
    if fast:
        with ctx.reporter.step(f"fast path: ModifyListener, 100% to {target}") as rec:
            seconds = put_traffic_on(ctx, outputs, target, cfg.stickiness_seconds)
            rec.detail = f"{seconds * 1000:.1f} ms"
        result["fastPathSeconds"] = round(seconds, 4)
    try:
        # Config must keep pointing at the target even when the update is refused: a later
        # `pulumi up` would otherwise undo the fast path.
        ctx.apply(
            {ACTIVE_COLOR: target, IDLE_TRAFFIC_PERCENT: "0", ROLLBACK_COLOR: target},
            message=f"bluegreen rollback to {target}",
            revert_on_lock=not fast,
        )
    except ToolError as exc:
        if fast:
            exc.message += (
                f"\ntraffic is already on {target} (fast path); Pulumi state does not match yet: "
                f"re-run `python -m bluegreen rollback --to {target}`"
            )
            exc.args = (exc.message,)
        raise
    with ctx.reporter.step("confirm live weights"):
        confirm_live(ctx, outputs, weights_for(target, 0))
    return result
