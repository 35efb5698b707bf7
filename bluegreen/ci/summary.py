"""A reviewer's summary of what a change does to traffic and to each colour's release.

`traffic_summary(config, outputs)` compares the *new* stack config (un-namespaced, wire form:
strings, arrays as JSON, as `bluegreen.stack_files.effective_config` returns it) with the outputs
of the last deployment (as `pulumi stack output --json` prints them; empty on a first deploy) and
returns short markdown: a one-line traffic headline, a per-colour table, and warning lines for the
updates the program's release guard refuses (see `bluegreen/release_guard.py`), and every weakening of safety
(`bluegreen/safety.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen.contract import COLORS, Color, Keys, Outputs, other, traffic_weights
from bluegreen.guardian_record import GuardianRolledBackError, acted_on, check_guardian_record, describe_record
from bluegreen.outputs import DeployedState, IncompleteDeployedStateError
from bluegreen.release_spec import deployed_settings, describe_plan, edge_values
from bluegreen.safety import EmergencyOverrideError, check_emergency_overrides, previous_overrides, weakenings
from bluegreen.settings import ConfigError as SettingsConfigError
from bluegreen.settings import Settings, read_settings, to_config

ARROW = "→"
LATEST_IMAGE = "latest AL2023"


class SummaryError(ValueError):
    """The config or the outputs file cannot be summarised; the message says why."""


@dataclass(frozen=True)
class Traffic:
    """Who gets production traffic: the active colour, both listener weights, idle scale-down."""

    active: Color
    weights: Mapping[Color, int]
    idle_scaled_down: bool = False

    def same_as(self, other: Traffic) -> bool:
        """Same active colour and same listener weights (idle scale-down is not traffic)."""
        return self.active == other.active and all(self.weights[c] == other.weights[c] for c in COLORS)

    def describe(self) -> str:
        """`blue 100%`, or `blue 90% / green 10%` (active colour first) while both get traffic."""
        idle = other(self.active)
        if self.weights[idle] == 0:
            return f"{self.active} {self.weights[self.active]}%"
        return f"{self.active} {self.weights[self.active]}% / {idle} {self.weights[idle]}%"

    def role(self, color: Color) -> str:
        """`live 100%`, `live 90%`, `idle 10%`, `idle 0%` or `idle 0% (scaled down)`."""
        if color == self.active:
            return f"live {self.weights[color]}%"
        return f"idle {self.weights[color]}%" + (" (scaled down)" if self.idle_scaled_down else "")


def read_config(config: Mapping[str, str]) -> Settings:
    """`config` read by the program's own reader (`bluegreen.settings.read_settings`), keys it
    leaves out at their defaults; a refusal is a SummaryError with the program's message. Boot
    script files are not read: the summary shows no boot script."""
    try:
        return read_settings({**to_config(Settings()), **config}, read_file=lambda _path: "")
    except SettingsConfigError as err:
        raise SummaryError(str(err)) from None


def traffic_from_config(config: Mapping[str, str]) -> Traffic:
    """The traffic the new config asks for."""
    return _traffic(read_config(config))


def _traffic(settings: Settings) -> Traffic:
    traffic = settings.traffic
    return Traffic(
        traffic.active_color,
        traffic_weights(traffic.active_color, traffic.idle_traffic_percent),
        settings.idle_scaled_down,
    )


def deployed_state(outputs: Mapping[str, Any]) -> DeployedState | None:
    """The last deployment, read by the release guard's own reader, so the summary fails closed exactly
    where it does."""
    try:
        return DeployedState.from_outputs(outputs)
    except IncompleteDeployedStateError as err:
        raise SummaryError(str(err)) from None


def traffic_from_outputs(outputs: Mapping[str, Any]) -> Traffic | None:
    """The traffic the last deployment left live, or None when nothing is deployed yet."""
    deployed = deployed_state(outputs)
    if deployed is None:
        return None
    return Traffic(deployed.active_color, dict(deployed.weights), deployed.idle_scaled_down)


def spec_lines(settings: Settings, deployed: DeployedState | None, after: Traffic) -> list[str]:
    """What the update does to each colour's release-spec settings, as the program plans it
    (`bluegreen.release_spec`): what the idle colour gets now, what waits, what is refused."""
    if deployed is None or deployed.specs is None:
        return []
    wanted = settings.color_spec()
    specs = {c: deployed_settings(spec, wanted) for c, spec in deployed.specs.items()}
    text = describe_plan(settings, specs, deployed.weights, after.weights)
    lines = [f"> ℹ️ **{c.color} ({c.role}) gets** `{c.describe()}` in this update" for c in text.now]
    lines += [f"> ⏳ pending: {line}" for line in text.pending]
    lines += [
        f"> ⚠️ **traffic moves to {c.color} with release-spec changes** (`{c.describe()}`): the program refuses "
        f"this. Deploy them with {c.color} idle first, then flip in a separate update."
        for c in text.refused
    ]
    return lines


def edge_lines(settings: Settings, outputs: Mapping[str, Any]) -> list[str]:
    """The shared edge changes in place, for both colours at once: say so setting by setting."""
    previous = outputs.get(Outputs.EDGE.name())
    if not isinstance(previous, Mapping):
        return []
    wanted = edge_values(settings)
    changed = [
        f"`{key} {previous.get(key)} {ARROW} {value}`" for key, value in wanted.items() if previous.get(key) != value
    ]
    if not changed:
        return []
    return [f"> ℹ️ **shared edge, in place for both colours at once**: {', '.join(changed)}"]


def headline(before: Traffic | None, after: Traffic) -> str:
    """One line: `traffic: blue 100% → green 100%`, `traffic: unchanged (blue 100%)`, ..."""
    if before is None:
        return f"traffic: first deploy {ARROW} {after.describe()}"
    if before.describe() == after.describe():
        return f"traffic: unchanged ({after.describe()})"
    return f"traffic: {before.describe()} {ARROW} {after.describe()}"


def _serves_traffic(color: Color, before: Traffic | None, after: Traffic) -> bool:
    """Whether a deployed colour has traffic before or after the change (as the release guard sees it)."""
    return before is not None and (before.weights[color] > 0 or after.weights[color] > 0)


def _previous(outputs: Mapping[str, Any], key: str) -> str | None:
    value = outputs.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True)
class _Cell:
    text: str
    changed: bool


def _value_cell(before: str | None, after: str) -> _Cell:
    if before is None or before == after:
        return _Cell(f"`{after}`", False)
    return _Cell(f"`{before}` {ARROW} `{after}` (changed)", True)


def _image_cell(
    color: Color, config: Mapping[str, str], outputs: Mapping[str, Any], before: Traffic | None, after: Traffic
) -> _Cell:
    previous = _previous(outputs, f"{color}ImageId")
    wanted = config.get(f"{color}ImageId", "")
    if wanted:
        return _value_cell(previous, wanted)
    # "" is the latest Amazon Linux 2023 AMI: looked up at deploy, kept while the colour serves traffic.
    if previous is None:
        return _Cell(f"{LATEST_IMAGE} (looked up at deploy)", False)
    if _serves_traffic(color, before, after):
        return _Cell(f"`{previous}` (pinned while live)", False)
    return _Cell(f"`{previous}` {ARROW} {LATEST_IMAGE} (changed if newer)", False)


def _role_cell(color: Color, before: Traffic | None, after: Traffic) -> str:
    if before is None or before.role(color) == after.role(color):
        return after.role(color)
    return f"{before.role(color)} {ARROW} {after.role(color)}"


def guardian_lines(settings: Settings, deployed: DeployedState | None, record: Mapping[str, Any] | None) -> list[str]:
    """The guardian's rollback since the last update, and whether this change accepts it: the
    program refuses an update that sends traffic back (`bluegreen.guardian_record`)."""
    state_id = deployed.guardian_state_id if deployed is not None else None
    generation = deployed.guardian_generation if deployed is not None else None
    if record is None or not acted_on(record, state_id, generation, same_generation=True):  # as the program
        return []
    try:
        check_guardian_record(settings, state_id, record, generation)
    except GuardianRolledBackError:
        to, at = record.get("to"), record.get("at")
        return [
            f"> ⛔ **refused: {describe_record(record)}**, and this change still sends traffic back. "
            f"Accept the rollback (`{Keys.ACTIVE_COLOR.key}: {to}`, `{Keys.IDLE_TRAFFIC_PERCENT.key}: 0`), "
            f"or re-arm once it is fixed (`{Keys.GUARDIAN_ACK.key}: {at}`)."
        ]
    return [f"> ℹ️ {describe_record(record)}; this change accepts the rollback or acknowledges it."]


def gate_bypass_lines(settings: Settings) -> list[str]:
    """`gateBypass` on: this update moves traffic unchecked (and the next one is refused unless re-confirmed)."""
    if not settings.gate_bypass:
        return []
    return [
        f"> ⚠️ **`{Keys.GATE_BYPASS.key}` is true**: this update moves traffic without the traffic gate's checks "
        f"(healthy targets, preview route), so a broken colour can get production traffic. It applies to this "
        f"update only: set `{Keys.GATE_BYPASS.key}: false` after the emergency."
    ]


def weakening_lines(
    settings: Settings, outputs: Mapping[str, Any], policy_config: Mapping[str, Any] | None = None
) -> list[str]:
    """Every weakening of this config and the stack's policy file (`bluegreen.safety.weakenings`), one line each,
    and a refusal when a one-update override the last update used is still set without `emergencyAck`."""
    lines = gate_bypass_lines(settings)
    lines += [
        f"> ⚠️ **weakened safety**: {w.what}."
        for w in weakenings(settings, policy_config)
        if w.key != Keys.GATE_BYPASS.key
    ]
    try:
        check_emergency_overrides(settings, previous_overrides(outputs))
    except EmergencyOverrideError as err:
        lines.append(f"> ⛔ **refused**: {err}.")
    return lines


def baseline_lines(settings: Settings) -> list[str]:
    """What this stack turns off of the production baseline, so a reviewer sees it on every change."""
    edge, net = settings.edge, settings.network
    off = [
        what
        for what, missing in (
            (f"HTTPS on the preview route (`{Keys.ALLOW_INSECURE_PREVIEW.key}`: the token travels in clear text)",
             not edge.https),
            (f"ALB deletion protection (`{Keys.ALB_DELETION_PROTECTION.key}`)", not edge.deletion_protection),
            (f"ALB deletion protection (`{Keys.DECOMMISSION.key}`: this stack is about to be destroyed)",
             edge.deletion_protection and edge.decommission),
            (f"ALB access logs (`{Keys.ACCESS_LOGS.key}`)", not edge.access_logs),
            (f"private instances (`{Keys.PRIVATE_INSTANCES.key}`: they get public IPs)",
             not net.vpc_id and not net.private_instances),
        )
        if missing
    ]  # fmt: skip
    if not off:
        return []
    return [f"> ⚠️ this stack runs without the production baseline: {'; '.join(off)}."]


def traffic_summary(
    config: Mapping[str, str],
    outputs: Mapping[str, Any],
    guardian_record: Mapping[str, Any] | None = None,
    policy_config: Mapping[str, Any] | None = None,
) -> str:
    """Markdown for a reviewer: traffic headline, per-colour table, release-guard warnings, the guardian's
    record (the value of its record parameter) when it rolled back after the last update, and every weakening
    of safety, the policies the stack's policy file (`policy_config`, already checked) lowers included."""
    settings = read_config(config)
    after = _traffic(settings)
    deployed = deployed_state(outputs)
    before = traffic_from_outputs(outputs)
    lines = [f"**{headline(before, after)}**", "", "| colour | role | release | image |", "|---|---|---|---|"]
    warnings: list[str] = []
    allow_live_release = settings.allow_live_release
    for color in COLORS:
        release = _value_cell(_previous(outputs, f"{color}Release"), config.get(f"{color}Release", ""))
        image = _image_cell(color, config, outputs, before, after)
        lines.append(f"| {color} | {_role_cell(color, before, after)} | {release.text} | {image.text} |")
        if (release.changed or image.changed) and _serves_traffic(color, before, after):
            warnings.append(_live_release_warning(color, allow_live_release))
    if before is not None and before.active != after.active and (before.idle_scaled_down or after.idle_scaled_down):
        warnings.append(
            f"> ⚠️ **the flip to {after.active} is refused**: the idle colour is (or was until this update) "
            "scaled down. Set `idleScaledDown: false`, deploy, then flip in a separate update."
        )
    warnings += guardian_lines(settings, deployed, guardian_record)
    warnings += weakening_lines(settings, outputs, policy_config)
    notes = [*spec_lines(settings, deployed, after), *edge_lines(settings, outputs), *baseline_lines(settings)]
    if warnings or notes:
        lines.append("")
        lines.extend([*warnings, *notes])
    return "\n".join(lines) + "\n"


def _live_release_warning(color: Color, allowed: bool) -> str:
    text = f"> ⚠️ **{color} serves traffic and its release changes**: "
    if allowed:
        return text + "allowed only because `allowLiveRelease` is true; users get an untested build."
    return text + (
        "the program refuses this unless `allowLiveRelease` is true. "
        "Stage the release on the idle colour at 0% traffic, then flip in a separate update."
    )
