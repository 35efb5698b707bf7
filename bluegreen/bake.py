"""bake: watch the live colour after a switch; on ALARM roll back and say why."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from bluegreen.context import Context
from bluegreen.contract import Keys
from bluegreen.decisions import log_decision
from bluegreen.errors import CheckFailedError, ReleaseInterruptedError, RolledBackError, ToolError, UsageError
from bluegreen.interrupts import InterruptHold
from bluegreen.outputs import StackOutputs
from bluegreen.release import rollback, tool_command
from bluegreen.rollback_target import BakeDecision, bake_decision_problem
from bluegreen.smoke import load_checks
from bluegreen.stackconfig import IDLE_TRAFFIC_PERCENT, ReleaseConfig, other
from bluegreen.watch import Observation, smoke_base_url, watch


def _print_record(ctx: Context, record: dict[str, Any]) -> None:
    say = ctx.reporter.info
    decision = record["decision"]
    if decision == "no-keep":
        say(
            f"Decision: NO KEEP {record['color']} (release {record['release']}): no alarm in "
            f"{record['elapsedSeconds']:.0f}s over {record['polls']} polls ({record['startedAt']} → "
            f"{record['decidedAt']}), but {record['minutes']:g} min is shorter than bakeMinutes "
            f"({record['bakeMinutes']}), so no keep decision is recorded"
        )
        return
    if decision == "keep":
        say(
            f"Decision: KEEP {record['color']} (release {record['release']}): no alarm in "
            f"{record['elapsedSeconds']:.0f}s over {record['polls']} polls "
            f"({record['startedAt']} → {record['decidedAt']})"
        )
        return
    say(f"Decision: {decision.upper()} {record['color']} (release {record['release']}) → {record['rollbackTo']}")
    acted = record.get("guardian")
    if acted:
        say(f"  guardian: rolled back {acted.get('from')} → {acted.get('to')} at {acted.get('at')}: {acted.get('why')}")
    for fired in record["fired"]:
        ended = f" (already {fired['stateAtPoll']} at the next poll, read from its history)"
        say(
            f"  fired: {fired['alarm']} {fired['state']} since {fired['since']}"
            f"{ended if fired['stateAtPoll'] != fired['state'] else ''}: metric {fired['metric']} "
            f"threshold {fired['threshold']} values {fired['values']}"
        )
        say(f"         reason: {fired['reason']}")
    for failure in record["smokeFailures"]:
        say(f"  smoke: {failure['check']}: {failure['detail']}")
    say(f"  detected at {record['decidedAt']}, {record['elapsedSeconds']:.0f}s into the bake ({record['polls']} polls)")


def _log_bake(ctx: Context, outputs: StackOutputs, record: dict[str, Any], why: str) -> None:
    """The bake decision in the stack's decision log (`bluegreen history`)."""
    live, to, decision = record["color"], record["rollbackTo"], record["decision"]
    what = {
        "keep": f"keep {live} (release {record['release']})",
        "no-keep": f"no keep for {live} (release {record['release']}): watched {record['minutes']:g} min, "
        f"shorter than bakeMinutes ({record['bakeMinutes']})",
        "rollback": f"roll back {live} → {to}",
        "rollback-advised": f"rollback of {live} advised; --no-rollback, so traffic stays on {live}",
        "rollback-failed": f"roll back {live} → {to}: FAILED (see the rollback record)",
        "rollback-interrupted": f"roll back {live} → {to}: interrupted (see the rollback record)",
        "rolled-back-by-guardian": f"the guardian rolled back {live} → {to}; config follows",
    }[decision]
    log_decision(ctx, outputs, "bake", what, why)


def _after_guardian(
    ctx: Context,
    record: dict[str, Any],
    acted: dict[str, Any],
    loaded: tuple[ReleaseConfig, StackOutputs],
    what: str,
    *,
    auto_rollback: bool,
) -> NoReturn:
    """The guardian has already moved traffic: no second ModifyListener, only config and state to match.

    With --no-rollback nothing is written; the next `pulumi up` is refused until config accepts the
    rollback or acknowledges the record, so the message gives both.
    """
    to = str(acted.get("to"))
    record["rollbackTo"] = to
    if not auto_rollback:
        record["decision"] = "rolled-back-by-guardian"
        _print_record(ctx, record)
        raise CheckFailedError(
            f"{what}: the guardian moved traffic to {to} at {acted.get('at')}; --no-rollback given, so config was "
            f"not changed. Accept it with `{ctx.config_set_command({Keys.ACTIVE_COLOR.key: to})}`, or re-arm once "
            f"the colour is fixed with `{ctx.config_set_command({Keys.GUARDIAN_ACK.key: str(acted.get('at'))})}`",
            details=record,
        )
    _roll_back(
        ctx,
        record,
        what,
        decision="rolled-back-by-guardian",
        step=f"make config and state agree with the guardian's rollback to {to}",
        interrupted=f"{what}; making config agree was ",
        failed=f"{what}; traffic is on {to}, but making config and state agree failed: ",
        done=f"{what} during bake; traffic is on {to} and config agrees",
        to=to,
        loaded=loaded,
        traffic_moved=True,
        reason=what,
    )


def _roll_back(
    ctx: Context,
    record: dict[str, Any],
    what: str,
    *,
    decision: str,
    step: str,
    interrupted: str,
    failed: str,
    done: str,
    loaded: tuple[ReleaseConfig, StackOutputs],
    **rollback_args: Any,
) -> NoReturn:
    """The bake's decision carried out: `rollback` under a Ctrl-C hold from the moment it is decided until
    traffic and config are both on the target (`rollback` ends the hold after its config write; a held Ctrl-C
    is raised then). The outcome goes into `record` and, after the fast path, never before it, into the
    decision log. `interrupted` and `failed` prefix the error's own message; `done` is the RolledBackError's."""
    hold = InterruptHold().start()
    try:
        record["decision"] = decision
        _print_record(ctx, record)
        with ctx.reporter.step(step):
            record["rollback"] = rollback(ctx, fast=True, force=False, loaded=loaded, hold=hold, **rollback_args)
    except ReleaseInterruptedError as exc:
        record["decision"] = "rollback-interrupted"
        exc.message = f"{interrupted}{exc.message}"
        exc.args = (exc.message,)
        raise
    except ToolError as exc:
        record["decision"] = "rollback-failed"
        exc.message = f"{failed}{exc.message}"
        exc.args = (exc.message,)
        raise
    finally:
        hold.discard()
        _log_bake(ctx, loaded[1], record, what)
    raise RolledBackError(done, details=record)


def record_keep(ctx: Context, outputs: StackOutputs, live: str, record: dict[str, Any], bake_minutes: int) -> None:
    """Record the keep decision for the current flip (`bakeDecision`): it names the flip, the live colour's
    release spec and the interval this bake watched, and releases the rollback target with the next update,
    so it may restage the other colour. Checked with the program's own rule first (I2), so the tool never
    writes a decision the release guard would refuse."""
    deployed = outputs.deployed()
    target = deployed.rollback_target if deployed is not None else None
    if target is None or target.live_color != live or not target.kept:
        return
    decision = BakeDecision(
        flip=target.flip,
        fingerprint=target.live_fingerprint,
        start=record["startedAt"],
        end=record["decidedAt"],
        minutes=record["minutes"],
    ).to_config()
    problem = bake_decision_problem(decision, target, target, flipping=False, bake_minutes=bake_minutes)
    if problem is not None:
        raise CheckFailedError(f"no keep decision recorded: {problem}", details=record)
    ctx.set_config({Keys.BAKE_DECISION.key: decision})
    record["bakeDecision"] = decision
    ctx.reporter.info(
        f"recorded {Keys.BAKE_DECISION.key} for flip {target.flip} ({target.color} → {live}, "
        f"{target.live_fingerprint[:12]}…): {target.color} stops being held as the rollback target with the next "
        "`pulumi up`"
    )


def bake(
    ctx: Context,
    minutes: float | None,
    checks_path: Path | None,
    *,
    auto_rollback: bool,
    base_url: str | None,
) -> dict[str, Any]:
    cfg, outputs = ctx.load()
    live = cfg.active
    if cfg.idle_percent > 0:
        raise UsageError(
            f"config bluegreen:{IDLE_TRAFFIC_PERCENT}={cfg.idle_percent}: a switch is in progress; "
            "finish it with `switch` or undo it with `rollback` before baking"
        )
    duration = float(cfg.bake_minutes if minutes is None else minutes)
    if duration < 0:
        raise UsageError(f"--minutes={duration:g} is not allowed: a number of minutes >= 0")
    if duration * 60 < cfg.alarm_window_seconds:
        source = "--minutes" if minutes is not None else "config bluegreen:bakeMinutes"
        ctx.reporter.warn(
            f"{source}={duration:g} is shorter than the {cfg.alarm_window_text()} it takes an alarm to fire: "
            "this bake cannot catch a regression that starts now"
        )
    # After a finished switch (no canary, checked above) the way back is the other colour, which is
    # also what `rollbackColor` records.
    previous = other(live)
    suite = load_checks(checks_path) if checks_path else None
    if suite is not None:
        smoke_base_url(outputs, base_url, ctx.reporter.warn)  # an unusable URL fails now, not on the first poll
    with ctx.reporter.step(f"bake {live} for {duration:g} min") as rec:
        seen: Observation = watch(
            ctx,
            outputs,
            live,
            seconds=duration * 60,
            interval=ctx.timing.bake_interval,
            label="bake",
            suite=suite,
            base_url=base_url,
            standby=previous if auto_rollback else None,
        )
        if seen.tripped:
            rec.status, rec.detail = "tripped", "alarm"
        else:
            rec.detail = "no alarm"
    record: dict[str, Any] = {
        **seen.as_record(),
        "release": outputs.release(live),
        "minutes": duration,
        "bakeMinutes": cfg.bake_minutes,
        "decision": "keep",
        "rollbackTo": None,
    }
    ctx.reporter.result["decision"] = record
    if not seen.tripped:
        quiet = f"no alarm in {record['elapsedSeconds']:.0f}s over {record['polls']} polls"
        if duration < cfg.bake_minutes:
            # I2: a shorter watch can still roll back, but it never keeps: the rollback target stays held.
            record["decision"] = "no-keep"
            _print_record(ctx, record)
            ctx.reporter.warn(
                f"--minutes={duration:g} is shorter than config bluegreen:{Keys.BAKE_MINUTES.key}={cfg.bake_minutes}: "
                f"no keep decision recorded, so {previous} stays the rollback target; run "
                f"`{tool_command(ctx, 'bake')}` to watch {live} for {cfg.bake_minutes} min and keep it"
            )
            _log_bake(ctx, outputs, record, f"{quiet}; shorter than bakeMinutes, so no keep")
            return record
        _print_record(ctx, record)
        record_keep(ctx, outputs, live, record, cfg.bake_minutes)
        _log_bake(ctx, outputs, record, quiet)
        return record
    what = seen.what()
    record["rollbackTo"] = previous
    if seen.guardian is not None:
        return _after_guardian(ctx, record, seen.guardian, (cfg, outputs), what, auto_rollback=auto_rollback)
    if not auto_rollback:
        record["decision"] = "rollback-advised"
        _print_record(ctx, record)
        _log_bake(ctx, outputs, record, what)
        raise CheckFailedError(f"{what} tripped during bake; --no-rollback given, traffic left on {live}")
    _roll_back(
        ctx,
        record,
        what,
        decision="rollback",
        step=f"roll back to {previous}",
        interrupted=f"{what} tripped during bake; the rollback to {previous} was ",
        failed=f"{what} tripped during bake and the rollback failed: ",
        done=f"{what} fired during bake; traffic is back on {previous}",
        to=previous,
        loaded=(cfg, outputs),
        known_health=seen.standby_health,
        reason=f"bake: {what}",
    )
