"""The release steps: stage, verify, switch, rollback. Each one is safe to re-run after a failure.

Invariants:
- `stage` and `verify` never change where production traffic goes.
- `switch` refuses unless the target colour is staged, healthy and verified for exactly what is
  deployed on it; if it fails or is interrupted part-way, traffic is put back on a healthy colour
  before the error is reported.
- `rollback` moves traffic with one ModifyListener call first, then makes config and Pulumi state
  agree with a `pulumi up`. Ctrl-C is held off from the fast path until config points at the
  target too, so an interrupt never leaves the listener and config disagreeing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bluegreen.aws import TargetCounts
from bluegreen.clock import iso
from bluegreen.context import Context
from bluegreen.contract import Keys
from bluegreen.decisions import log_decision
from bluegreen.errors import (
    CheckFailedError,
    OutputError,
    PreviewFailedError,
    ReleaseInterruptedError,
    RolledBackError,
    StackLockedError,
    ToolError,
    UsageError,
)
from bluegreen.interrupts import InterruptHold, held_interrupts
from bluegreen.outputs import StackOutputs
from bluegreen.smoke import load_checks
from bluegreen.stackconfig import (
    ACTIVE_COLOR,
    COLORS,
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
from bluegreen.traffic import (
    check_live_matches_outputs,
    choose_safe_color,
    confirm_live,
    guardian_record,
    health,
    live_weights,
    put_traffic_on,
)
from bluegreen.watch import smoke_base_url, smoke_color, watch


def tool_command(ctx: Context, command: str) -> str:
    """A `python -m bluegreen` command line for this stack, to quote in messages."""
    return f"python -m bluegreen {command} --stack {ctx.engine.stack_name}"


def after_interrupt(ctx: Context, color: str) -> str:
    """What to do after a Ctrl-C that may have hit a `pulumi` CLI in the middle of an update."""
    return (
        f"if the Ctrl-C came while `pulumi` was updating, that CLI may still finish (or abandon) resource "
        f"operations it had started; run `{tool_command(ctx, 'status')}`, then "
        f"`{tool_command(ctx, f'rollback --to {color}')}` (if the stack is reported locked, "
        f"`pulumi cancel --stack {ctx.engine.stack_name}` releases the lock once no `pulumi` process is left)"
    )


def config_write_failed(ctx: Context, color: str, changes: dict[str, str], exc: BaseException) -> CheckFailedError:
    """Traffic is on `color` but config does not say so: a later `pulumi up` would move it back."""
    first = (exc.message if isinstance(exc, ToolError) else str(exc)).splitlines() or [type(exc).__name__]
    return CheckFailedError(
        f"traffic is on {color} (ModifyListener), but writing the stack config failed ({first[0]}), so config "
        f"does not point at {color} and the next `pulumi up` would move traffic away from it. Run "
        f"`{ctx.config_set_command(changes)}`, then `{tool_command(ctx, f'rollback --to {color}')}`",
        details={"trafficOn": color, "configNotWritten": changes},
    )


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
        else:
            ctx.reporter.heartbeat(line, start)
        if ctx.clock.monotonic() - start >= ctx.timing.health_timeout:
            raise CheckFailedError(
                f"{color} did not reach {desired} healthy targets within "
                f"{ctx.timing.health_timeout:.0f}s: {counts.describe()}",
                details={"color": color, "healthy": counts.healthy, "total": counts.total, "desired": desired},
            )
        ctx.clock.sleep(ctx.timing.poll_interval)


def stage(ctx: Context, release: str, image_id: str | None) -> dict[str, Any]:
    cfg, loaded = ctx.load()
    check_live_matches_outputs(ctx, loaded, "stage")
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


def verify(ctx: Context, checks_path: Path, color: str | None = None, base_url: str | None = None) -> dict[str, Any]:
    cfg, outputs = ctx.load()
    target = check_color("--color", color) if color else cfg.idle
    suite = load_checks(checks_path)
    url = smoke_base_url(outputs, base_url, ctx.reporter.warn)
    problem = _not_staged(cfg, outputs, target)
    if problem:
        raise CheckFailedError(problem)
    with ctx.reporter.step(f"smoke {target} via its preview route ({len(suite.checks)} checks)") as rec:

        def _attempt(name: str, attempt: int, problem: str | None) -> None:
            ctx.reporter.info(f"{name} #{attempt}: {problem or 'ok'}")

        results = smoke_color(ctx, outputs, target, suite=suite, url=url, on_attempt=_attempt)
        failed = [r for r in results if not r.ok]
        rec.detail = f"{len(results) - len(failed)}/{len(results)} passed"
    summary = [{"check": r.name, "ok": r.ok, "attempts": r.attempts, "detail": r.detail} for r in results]
    ctx.reporter.result["verify"] = {
        "color": target,
        "release": outputs.release(target),
        "url": url,
        "checks": summary,
    }
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
        fingerprint=outputs.spec_fingerprint(target),
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
    fingerprint = outputs.spec_fingerprint(color)
    if record is None or not record.matches(
        release, outputs.image_id(color), outputs.user_data_hash(color), fingerprint
    ):
        if record is None:
            seen = "it was never verified"
        elif record.release == release and fingerprint and record.fingerprint != fingerprint:
            seen = "its release spec changed since it was verified (instance type, port, health check, ...)"
        else:
            seen = f"it was verified for {record.release!r} ({record.image_id})"
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


def restore_traffic(
    ctx: Context,
    cfg: ReleaseConfig,
    outputs: StackOutputs,
    preferred: str,
    *,
    reconcile: bool,
    why: str,
    moved_by_guardian: str | None = None,
) -> str:
    """After a failed or interrupted switch: traffic on a healthy colour, config to match.

    Ctrl-C is held off until both the listener and config point at that colour; if either write
    fails, the error says so (with `why` the switch stopped) and gives the commands to run.
    `moved_by_guardian`: the colour the guardian has already sent 100% to; the listener is left as
    it is (the guardian checked that colour's health), and only config and state follow.
    """
    with held_interrupts(), ctx.reporter.step("restore traffic") as rec:
        try:
            if moved_by_guardian is not None:
                color = moved_by_guardian
                # A step's `pulumi up` may have rewritten the listener after the guardian acted: make sure.
                if live_weights(ctx, outputs) != weights_for(color, 0):
                    put_traffic_on(ctx, outputs, color, cfg.stickiness_seconds)
            else:
                color, _ = choose_safe_color(ctx, outputs, preferred)
                put_traffic_on(ctx, outputs, color, cfg.stickiness_seconds)
        except Exception as exc:
            raise CheckFailedError(
                f"{why}; COULD NOT RESTORE TRAFFIC ({exc}): the listener may still split traffic; run "
                f"`{tool_command(ctx, 'status')}`, then `{tool_command(ctx, f'rollback --to {preferred}')}`"
            ) from exc
        changes = {ACTIVE_COLOR: color, IDLE_TRAFFIC_PERCENT: "0", ROLLBACK_COLOR: color, **_flip_clears(cfg, color)}
        try:
            ctx.engine.set_config(changes)
        except Exception as exc:
            failed = config_write_failed(ctx, color, changes, exc)
            failed.message = f"{why}; {failed.message}"
            failed.args = (failed.message,)
            raise failed from exc
        moved = "by the guardian" if moved_by_guardian is not None else "(ModifyListener)"
        rec.detail = f"100% on {color} {moved}, config activeColor={color}"
        log_decision(ctx, outputs, "rollback", f"traffic back on {color} (the switch stopped)", why)
        if reconcile:
            try:
                withdraw = ctx.confirm_emergency_overrides()  # the restore is part of the command that used one
                try:
                    with ctx.reporter.keepalive("pulumi up is still running"):
                        restored = ctx.engine.up(
                            f"bluegreen switch aborted: traffic on {color}", ctx.reporter.engine_line
                        )
                except BaseException:
                    withdraw()
                    raise
                ctx.record_emergency_overrides(restored)
            except ToolError as exc:
                first = (exc.message.splitlines() or [type(exc).__name__])[0]
                ctx.reporter.warn(
                    f"traffic is on {color}, but `pulumi up` to match state failed ({first}); "
                    f"run `{tool_command(ctx, f'rollback --to {color}')}` once the cause is fixed"
                )
        else:
            ctx.reporter.warn(
                f"traffic is on {color}; run `{tool_command(ctx, f'rollback --to {color}')}` "
                "to bring Pulumi state in line"
            )
    return color


def switch(ctx: Context, to: str | None, ramp: list[int], pause: float | None) -> dict[str, Any]:
    cfg, outputs = ctx.load()
    target = to or cfg.idle  # `--to` is one of COLORS (argparse choices)
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
        ready = require_ready(ctx, cfg, outputs, target)
    # A ramp resumes above the current step; when the target is already active only the final step is left.
    ramp = [] if cfg.active == target else [p for p in ramp if p > cfg.idle_percent]
    requested = pause
    pause_seconds = float(cfg.alarm_window_seconds) if requested is None else requested
    if ramp and requested is not None and requested < cfg.alarm_window_seconds:
        ctx.reporter.warn(
            f"--pause {requested:g}s is shorter than the {cfg.alarm_window_text()} it takes an alarm to fire: "
            "a regression at a ramp step may not be caught before the next step (default --pause is that window)"
        )
    # The guardian's record before this switch: a rollback it makes during any step (even during a step's
    # `pulumi up`) is new against it, so the next hold sees it.
    guardian_before = guardian_record(ctx, outputs) if ramp else None
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
                    ctx,
                    outputs,
                    target,
                    seconds=pause_seconds,
                    interval=ctx.timing.bake_interval,
                    label="ramp",
                    guardian_baseline=guardian_before,
                )
            if seen.tripped:
                raise RolledBackError(
                    f"{seen.what()} tripped while {target} had {percent}% of traffic",
                    details={"observation": seen.as_record(), "guardian": seen.guardian},
                )
        stage_name = f"switch to {target}"
        with ctx.reporter.step(f"switch traffic to {target}"):
            ctx.apply(
                {
                    ACTIVE_COLOR: target,
                    IDLE_TRAFFIC_PERCENT: "0",
                    ROLLBACK_COLOR: previous,
                    **_flip_clears(cfg, target),
                },
                message=f"bluegreen switch to {target}",
            )
        with ctx.reporter.step("confirm live weights"):
            confirm_live(ctx, outputs, final)
    except (StackLockedError, PreviewFailedError) as exc:
        # The lock or the preview (a mandatory policy violation, the program refusing) stopped this
        # update before it started, and `apply` put its config back. Undo what our earlier steps
        # did; never touch the listener when nothing of ours reached it.
        if touched_live:
            locked = isinstance(exc, StackLockedError)
            color = restore_traffic(
                ctx,
                cfg,
                outputs,
                previous,
                reconcile=not locked,
                why=f"switch aborted during {stage_name} ({'locked' if locked else 'preview failed'})",
            )
            exc.message += f"\nswitch aborted during {stage_name}; traffic is on {color}"
        else:
            exc.message += "\nnothing was changed: traffic untouched"
        exc.args = (exc.message,)
        raise
    except KeyboardInterrupt:
        color = restore_traffic(
            ctx, cfg, outputs, previous, reconcile=False, why=f"switch interrupted during {stage_name}"
        )
        raise ReleaseInterruptedError(
            f"interrupted during {stage_name}; traffic is on {color}; {after_interrupt(ctx, color)}"
        ) from None
    except ToolError as exc:
        why = f"switch aborted during {stage_name} ({(exc.message.splitlines() or [type(exc).__name__])[0]})"
        acted = exc.details.get("guardian") if isinstance(exc, RolledBackError) else None
        guardian_to = str(acted["to"]) if isinstance(acted, dict) and acted.get("to") in COLORS else None
        color = restore_traffic(ctx, cfg, outputs, previous, reconcile=True, why=why, moved_by_guardian=guardian_to)
        exc.message = f"{exc.message}\nswitch aborted during {stage_name}; traffic is on {color}"
        exc.args = (exc.message,)
        raise
    except Exception as exc:
        why = f"switch aborted during {stage_name} ({exc!r})"
        color = restore_traffic(ctx, cfg, outputs, previous, reconcile=True, why=why)
        raise CheckFailedError(f"{why}; traffic is on {color}") from exc
    result = {"switched": True, "active": target, "previous": previous, "ramp": ramp}
    ctx.reporter.result["switch"] = result
    steps = f" in steps {', '.join(f'{p}%' for p in ramp)}, 100%" if ramp else ""
    log_decision(
        ctx,
        outputs,
        "switch",
        f"traffic {previous} → {target}{steps}",
        f"{target} runs release {outputs.release(target)}, verified, {ready.describe()}; an operator ran "
        "`bluegreen switch`",
    )
    return result


def _flip_clears(cfg: ReleaseConfig, to: str) -> dict[str, str]:
    """The config a flip to `to` clears besides traffic: the last flip's keep decision (`bakeDecision`).
    A flip's own update carries no decision (I2, the release guard refuses one); the next is `bake`'s."""
    return {Keys.BAKE_DECISION.key: ""} if to != cfg.active and cfg.settings.alarms.bake_decision else {}


def rollback_target(ctx: Context, cfg: ReleaseConfig, outputs: StackOutputs) -> str:
    """`rollbackColor` when a switch recorded one; otherwise undo what is deployed."""
    if cfg.rollback_color:
        return cfg.rollback_color
    if cfg.idle_percent > 0:
        ctx.reporter.info(
            f"config bluegreen:{ROLLBACK_COLOR} is empty; a canary is configured "
            f"({IDLE_TRAFFIC_PERCENT}={cfg.idle_percent}), so rolling back to the active colour {cfg.active}"
        )
        return cfg.active
    try:
        deployed = outputs.active_color
        canary = outputs.weight(other(deployed))
    except OutputError as exc:
        raise UsageError(
            f"config bluegreen:{ROLLBACK_COLOR} is empty and the deployed activeColor cannot be read "
            f"({exc.message}); pass --to blue|green"
        ) from None
    if canary > 0:
        ctx.reporter.info(
            f"config bluegreen:{ROLLBACK_COLOR} is empty; the deployed canary sends {canary}% to "
            f"{other(deployed)}, so rolling back to the deployed activeColor {deployed}"
        )
        return deployed
    target = other(deployed)
    ctx.reporter.info(
        f"config bluegreen:{ROLLBACK_COLOR} is empty (no switch recorded one): rolling back to {target}, "
        f"the colour opposite the deployed activeColor ({deployed}); pass --to to choose"
    )
    return target


def check_still_the_rollback_target(outputs: StackOutputs, target: str) -> None:
    """Refuse to roll back to a colour that no longer runs the release traffic left (it was restaged
    after the bake released it), or that runs the release a rollback left (`disarmed`: going back would undo
    the rollback). `--force` does not skip this: it would send users an untested or failing build."""
    deployed = outputs.deployed()
    recorded = deployed.rollback_target if deployed is not None else None
    if recorded is None or recorded.color != target or deployed is None or deployed.specs is None:
        return
    now = deployed.specs[recorded.color].fingerprint
    if recorded.disarmed and now == recorded.fingerprint:
        raise CheckFailedError(
            f"{target} runs the release traffic was rolled away from (flip {recorded.flip}, fingerprint "
            f"{recorded.fingerprint[:12]}…): rolling back to it would undo that rollback. Stage a fix on {target}, "
            f"`verify` it and `switch` to it",
            details={"recorded": recorded.fingerprint, "now": now, "disarmed": True},
        )
    if now != recorded.fingerprint:
        raise CheckFailedError(
            f"{target} no longer runs the release traffic left when {recorded.live_color} went live (fingerprint "
            f"{recorded.fingerprint[:12]}… then, {now[:12]}… now): it was restaged since, so rolling back would send "
            f"users an untested build. `verify` it and `switch` to it instead, or fix forward on {recorded.live_color}",
            details={"recorded": recorded.fingerprint, "now": now},
        )


def rollback(
    ctx: Context,
    *,
    to: str | None,
    fast: bool,
    force: bool,
    known_health: TargetCounts | None = None,
    loaded: tuple[ReleaseConfig, StackOutputs] | None = None,
    hold: InterruptHold | None = None,
    traffic_moved: bool = False,
    reason: str = "an operator ran `bluegreen rollback`",
) -> dict[str, Any]:
    """Traffic to the target now (fast path), config to match, then `pulumi up` and confirm.

    `traffic_moved`: the guardian has already made the fast path's ModifyListener call, so this
    one writes config and runs `pulumi up` (under the same Ctrl-C hold) but touches no listener,
    and checks neither the target's health nor its fingerprint: once traffic is there, config
    must follow, or the next `pulumi up` would send it back to the colour it left.

    `loaded` lets a caller that has just read config and outputs (bake) skip reading them
    again: with the real engine those reads are Pulumi CLI calls that would delay the fast path.
    `hold` is a Ctrl-C hold the caller started when it decided to roll back (bake); otherwise one
    starts just before the fast path. Either way it ends only once the listener *and* config point
    at the target, so an interrupt cannot leave config aiming at the colour traffic just left (a
    later `pulumi up` would undo the rollback). A Ctrl-C received meanwhile is raised then, as
    ReleaseInterruptedError, before `pulumi up` starts.
    """
    hold = hold or InterruptHold()
    try:
        cfg, outputs = loaded or ctx.load()
        target = to or rollback_target(ctx, cfg, outputs)  # `--to` is one of COLORS (argparse choices)
        result: dict[str, Any] = {"to": target, "from": other(target), "fast": fast}
        ctx.reporter.result["rollback"] = result
        if not traffic_moved:
            check_still_the_rollback_target(outputs, target)
        if not force and not traffic_moved:
            counts = known_health if known_health is not None else health(ctx, outputs, target)
            if counts.healthy == 0:
                raise CheckFailedError(
                    f"{target} has {counts.describe()}: rolling back would send traffic to no healthy target; "
                    "scale it up (bluegreen:idleScaledDown=false, then `pulumi up`) or pass --force"
                )
        changes = {ACTIVE_COLOR: target, IDLE_TRAFFIC_PERCENT: "0", ROLLBACK_COLOR: target, **_flip_clears(cfg, target)}
        if fast:
            hold.start()
            if traffic_moved:
                result["fastPath"] = "guardian"
            else:
                with ctx.reporter.step(f"fast path: ModifyListener, 100% to {target}") as rec:
                    seconds = put_traffic_on(ctx, outputs, target, cfg.stickiness_seconds)
                    rec.detail = f"{seconds * 1000:.1f} ms"
                result["fastPathSeconds"] = round(seconds, 4)
            # Config must point at the target before anything else: a later `pulumi up` (ours, or
            # anyone's after a failure) would otherwise undo the fast path.
            try:
                ctx.set_config(changes)
            except Exception as exc:
                raise config_write_failed(ctx, target, changes, exc) from exc
    except BaseException:
        hold.discard()
        raise
    if fast:  # traffic and config are on the target: the decision is carried out, whatever `pulumi up` does
        _log_rollback(ctx, outputs, result, reason)
    try:
        hold.release()  # only the fast path starts a hold, so a Ctrl-C raised here came after it
    except KeyboardInterrupt:
        raise ReleaseInterruptedError(
            f"interrupted: traffic is on {target} (fast path) and config points at it, but `pulumi up` did not "
            f"run; run `{tool_command(ctx, f'rollback --to {target}')}` to finish"
        ) from None
    try:
        if fast:
            ctx.up(f"bluegreen rollback to {target}")
        else:
            ctx.apply(changes, message=f"bluegreen rollback to {target}")
    except KeyboardInterrupt:
        where = f"traffic is on {target} (fast path) and config points at it" if fast else "config points at " + target
        raise ReleaseInterruptedError(
            f"interrupted during `pulumi up`: {where}; {after_interrupt(ctx, target)}"
        ) from None
    except ToolError as exc:
        if fast:
            exc.message += (
                f"\ntraffic is already on {target} (fast path) and config points at it; Pulumi state does not "
                f"match yet: re-run `{tool_command(ctx, f'rollback --to {target}')}`"
            )
            exc.args = (exc.message,)
        raise
    if not fast:
        _log_rollback(ctx, outputs, result, reason)
    with ctx.reporter.step("confirm live weights"):
        confirm_live(ctx, outputs, weights_for(target, 0))
    return result


def _log_rollback(ctx: Context, outputs: StackOutputs, result: dict[str, Any], reason: str) -> None:
    how = {"guardian": "the guardian's ModifyListener"}.get(str(result.get("fastPath")), "")
    how = how or ("fast path: one ModifyListener" if result["fast"] else "`pulumi up` only")
    log_decision(ctx, outputs, "rollback", f"rollback {result['from']} → {result['to']} ({how})", reason)
