"""Read-only views: `status` (config against what is live) and `plan` (summary + preview)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bluegreen.context import Context
from bluegreen.contract import Color, Keys, traffic_weights
from bluegreen.engine import find_policy_pack
from bluegreen.errors import CheckFailedError, UsageError
from bluegreen.guardian_record import acted_on, describe_record
from bluegreen.outputs import StackOutputs
from bluegreen.release_spec import deployed_settings, describe_plan
from bluegreen.safety import (
    EmergencyOverrideError,
    PolicyConfigError,
    check_emergency_overrides,
    check_policy_config,
    load_policy_config,
    previous_overrides,
    read_stack_policy_config,
    stack_policy_config_path,
    weakenings,
)
from bluegreen.settings import Settings
from bluegreen.stackconfig import COLORS, ReleaseConfig
from bluegreen.traffic import format_weights, guardian_record, health, live_weights

GATE_BYPASS_STATUS = (
    f"{Keys.GATE_BYPASS.key} is true: every `pulumi up` moves traffic without the traffic gate's checks (healthy "
    f"targets, preview route); it applies to one update: set {Keys.GATE_BYPASS.key} to false after the emergency"
)


def safety_status(ctx: Context, settings: Settings, outputs: StackOutputs) -> dict[str, Any]:
    """What this stack runs with less of (`bluegreen.safety`), each a warning: the config's weakenings, the
    policies its policy file lowers, a policy file the tool refuses, and a one-update override the next
    update refuses. Read-only, so a refused file is shown, not raised: every preview and update refuses it."""
    path = stack_policy_config_path(find_policy_pack(ctx.project_dir), ctx.engine.stack_name)
    try:
        policy_config = load_policy_config(path)
        check_policy_config(policy_config, path)
        refused_file = None
    except PolicyConfigError as err:
        refused_file = f"refused: {err}"
        policy_config = None if not path.is_file() else _lenient(path)
    found = weakenings(settings, policy_config)
    for weakening in found:
        if weakening.key != Keys.GATE_BYPASS.key:  # GATE_BYPASS_STATUS says it
            ctx.reporter.warn(f"weakened safety: {weakening.what}")
    next_update = None
    try:
        check_emergency_overrides(settings, previous_overrides(outputs.raw))
    except EmergencyOverrideError as err:
        next_update = f"the next `pulumi up` is refused: {err}"
    for line in (refused_file, next_update):
        if line is not None:
            ctx.reporter.warn(line)
    return {
        "weakenings": [{"key": w.key, "what": w.what} for w in found],
        "policyConfig": str(path) if path.is_file() else None,
        "policyConfigRefused": refused_file,
        "nextUpdateRefused": next_update,
    }


def _lenient(path: Path) -> dict[str, Any] | None:
    """A refused policy file's content, to list what it lowers; None when it is not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def expected_by_color(cfg: ReleaseConfig) -> dict[Color, int]:
    return traffic_weights(cfg.settings.traffic.active_color, cfg.idle_percent)


def status(ctx: Context) -> dict[str, Any]:
    cfg, outputs = ctx.load()
    aws = ctx.aws(outputs)
    expected = cfg.weights()
    live = live_weights(ctx, outputs)
    drift = live != expected
    colors: dict[str, Any] = {}
    for color in COLORS:
        counts = health(ctx, outputs, color)
        alarms = aws.alarm_states(outputs.alarm_names(color))
        record = cfg.verified[color]
        deployed = outputs.release(color)
        colors[color] = {
            "role": "active" if color == cfg.active else "idle",
            "configRelease": cfg.releases[color],
            "deployedRelease": deployed,
            "imageId": outputs.image_id(color),
            "healthy": counts.healthy,
            "total": counts.total,
            "desired": aws.desired_capacity(outputs.asg_name(color)),
            "alarms": {a.name: a.state for a in alarms},
            "verified": bool(
                record
                and record.matches(
                    deployed, outputs.image_id(color), outputs.user_data_hash(color), outputs.spec_fingerprint(color)
                )
            ),
            "configWeight": expected[color],
            "liveWeight": live.get(color, 0),
        }
    pending = [
        f"{c}Release {colors[c]['deployedRelease']!r} → {cfg.releases[c]!r}"
        for c in COLORS
        if colors[c]["configRelease"] != colors[c]["deployedRelease"]
    ]
    last = outputs.deployed()
    if last is not None and last.specs is not None:
        wanted = cfg.settings.color_spec()
        specs = {c: deployed_settings(spec, wanted) for c, spec in last.specs.items()}
        planned = describe_plan(cfg.settings, specs, last.weights, expected_by_color(cfg))
        pending += [f"{c.color} ({c.role}) gets {c.describe()}" for c in planned.now]
        pending += planned.pending
        pending += [f"refused: {c.describe()} on {c.color} while traffic moves to it" for c in planned.refused]
    guardian = guardian_record(ctx, outputs)
    guardian_since_update = acted_on(guardian, outputs.guardian_state_id, outputs.guardian_generation)
    result = {
        "stack": ctx.engine.stack_name,
        "activeColor": cfg.active,
        "idleTrafficPercent": cfg.idle_percent,
        "rollbackColor": cfg.rollback_color,
        "configWeights": expected,
        "liveWeights": live,
        "drift": drift,
        "pendingUp": pending,
        "colors": colors,
        # The guardian's last decision, and whether it acted after the last update (config must follow).
        "guardian": {"record": guardian, "sinceLastUpdate": guardian_since_update},
        "gateBypass": cfg.settings.gate_bypass,
    }
    ctx.reporter.result["status"] = result
    say = ctx.reporter.info
    say(
        f"stack {ctx.engine.stack_name}: activeColor={cfg.active} idleTrafficPercent={cfg.idle_percent} "
        f"rollbackColor={cfg.rollback_color or '-'}"
    )
    if cfg.settings.gate_bypass:
        ctx.reporter.warn(GATE_BYPASS_STATUS)
    result["safety"] = safety_status(ctx, cfg.settings, outputs)
    say(
        f"{'colour':6} {'role':6} {'config':>6} {'live':>5}  {'release (config/deployed)':28} {'targets':>9}  "
        f"{'verified':8} alarms"
    )
    for color, row in colors.items():
        rel = (
            row["configRelease"]
            if row["configRelease"] == row["deployedRelease"]
            else (f"{row['configRelease']}/{row['deployedRelease']}")
        )
        alarm_text = ", ".join(f"{n}={s}" for n, s in row["alarms"].items()) or "-"
        say(
            f"{color:6} {row['role']:6} {row['configWeight']:>6} {row['liveWeight']:>5}  {rel:28} "
            f"{row['healthy']}/{row['total']} ({row['desired']})  {'yes' if row['verified'] else 'no':8} {alarm_text}"
        )
    for line in pending:
        say(f"pending `pulumi up`: {line}")
    if guardian is not None:
        since = " after the last update" if guardian_since_update else " (an earlier deployment)"
        say(f"guardian: {describe_record(guardian)}{since}")
    if drift:
        raise CheckFailedError(
            f"drift: live weights {format_weights(live)} differ from config {format_weights(expected)} "
            f"(activeColor={cfg.active}, idleTrafficPercent={cfg.idle_percent}); "
            "`pulumi up` puts config back, `rollback --to COLOUR` moves traffic now",
            details={"live": live, "expected": expected},
        )
    say("no drift: live weights match config")
    return result


def plan(ctx: Context) -> dict[str, Any]:
    config = ctx.engine.config()
    outputs = ctx.engine.outputs()
    with ctx.reporter.step("traffic summary"):
        try:
            from bluegreen.ci.summary import traffic_summary  # owned by CI; imported lazily
        except ImportError as exc:
            ctx.reporter.warn(f"no traffic summary: bluegreen.ci.summary is not importable ({exc})")
            summary = ""
        else:
            try:
                _, policy_config = read_stack_policy_config(find_policy_pack(ctx.project_dir), ctx.engine.stack_name)
                summary = traffic_summary(config, outputs, policy_config=policy_config)
            except ValueError as exc:  # the summary's and the policy file's errors say what is wrong
                raise UsageError(f"cannot summarise the change: {exc}") from None
            ctx.reporter.info(summary)
    with ctx.reporter.step("pulumi preview --diff (with policy pack)") as rec:
        result = ctx.engine.preview(ctx.reporter.engine_line)
        rec.detail = result.describe()
    out = {"summary": summary, "changes": dict(result.changes)}
    ctx.reporter.result["plan"] = out
    return out
