"""Read-only views: `status` (config against what is live) and `plan` (summary + preview)."""

from __future__ import annotations

from typing import Any

from bluegreen.context import Context
from bluegreen.contract import Color, Keys, traffic_weights
from bluegreen.errors import CheckFailedError, UsageError
from bluegreen.guardian_record import acted_on, describe_record
from bluegreen.release_spec import deployed_settings, describe_plan
from bluegreen.stackconfig import COLORS, ReleaseConfig
from bluegreen.traffic import format_weights, guardian_record, health, live_weights

GATE_BYPASS_STATUS = (
    f"{Keys.GATE_BYPASS.key} is true: every `pulumi up` moves traffic without the traffic gate's checks (healthy "
    f"targets, preview route); set {Keys.GATE_BYPASS.key} to false after the emergency"
)


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
    guardian_since_update = acted_on(guardian, outputs.guardian_state_id)
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
                summary = traffic_summary(config, outputs)
            except ValueError as exc:  # the summary's own error type says which key is wrong
                raise UsageError(f"cannot summarise the change: {exc}") from None
            ctx.reporter.info(summary)
    with ctx.reporter.step("pulumi preview --diff (with policy pack)") as rec:
        result = ctx.engine.preview(ctx.reporter.engine_line)
        rec.detail = result.describe()
    out = {"summary": summary, "changes": dict(result.changes)}
    ctx.reporter.result["plan"] = out
    return out
