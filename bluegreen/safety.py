"""Weakened safety, said out loud: what a stack's config and its policy file loosen, and what they may not.

Pure (no Pulumi calls, no AWS), so the program, the release tool's `status` and the CI summary (the PR
comment) list the same weakenings from the same inputs:

- `weakenings(settings, policy_config)`: every alarm threshold looser than its `Pulumi.yaml` default,
  `guardianArmed=off`, `gateBypass=true`, and every policy the stack's policy file lowers from mandatory;
- `policy_config_problems(policy_config)`: a stack's policy file may lower only the production baseline
  (`bluegreen.contract.LOWERABLE_POLICIES`); the tool and the CI summary refuse anything else, `all` included,
  before `pulumi` runs;
- `check_emergency_overrides(settings, previous)`: `gateBypass=true` and `guardianArmed=off` apply to one
  update. The program exports what it ran with (`emergency_overrides`, output `emergencyOverrides`) and refuses
  the next update that still sets one, unless `emergencyAck` names that update's `usedAt`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pulumi

from bluegreen.contract import ALL_POLICIES, LOWERABLE_POLICIES, LOWERED_LEVELS, Keys, Outputs
from bluegreen.settings import AlarmSettings, Settings

POLICIES_DOC = "docs/policies.md"
GUARDIAN_OFF = "off"


@dataclass(frozen=True)
class Weakening:
    """One way this stack runs with less safety than the defaults: `key` is the config key or the policy name."""

    key: str
    what: str


@dataclass(frozen=True)
class _Threshold:
    key: str
    field: str
    looser_when_higher: bool
    why: str


# Which way is looser, per setting: a higher error rate or latency, fewer healthy hosts, more minutes of breach
# before an alarm fires, a shorter bake.
THRESHOLDS = (
    _Threshold(Keys.ROLLBACK_ERROR_RATE_PERCENT.key, "error_rate_percent", True, "the 5xx alarm needs more errors"),
    _Threshold(Keys.ROLLBACK_LATENCY_P99_MS.key, "latency_p99_ms", True, "the latency alarm needs slower responses"),
    _Threshold(
        Keys.ROLLBACK_MIN_HEALTHY_PERCENT.key,
        "min_healthy_percent",
        False,
        "the healthy-hosts alarm lets more targets fail",
    ),
    _Threshold(
        Keys.ALARM_EVALUATION_MINUTES.key, "evaluation_minutes", True, "every alarm waits longer before it fires"
    ),
    _Threshold(Keys.BAKE_MINUTES.key, "bake_minutes", False, "a new live colour is watched for less time"),
)


def alarm_weakenings(alarms: AlarmSettings) -> list[Weakening]:
    """Each alarm or bake setting looser than its default (`AlarmSettings()` holds `Pulumi.yaml`'s defaults)."""
    defaults = AlarmSettings()
    found = []
    for t in THRESHOLDS:
        value, default = getattr(alarms, t.field), getattr(defaults, t.field)
        looser = value > default if t.looser_when_higher else value < default
        if looser:
            found.append(Weakening(t.key, f"`{t.key}` is {value}, looser than the default {default}: {t.why}"))
    return found


def _level(entry: Any) -> str | None:
    """The enforcement level a policy config entry sets: `"advisory"`, or `{"enforcementLevel": ...}`; None."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping):
        level = entry.get("enforcementLevel")
        return level if isinstance(level, str) else None
    return None


def lowered_policies(policy_config: Mapping[str, Any] | None) -> dict[str, str]:
    """Policy name (or `all`) -> the level below mandatory the file sets it to."""
    lowered = {}
    for name, entry in (policy_config or {}).items():
        level = _level(entry)
        if level in LOWERED_LEVELS:
            lowered[name] = level
    return lowered


def policy_weakenings(policy_config: Mapping[str, Any] | None) -> list[Weakening]:
    found = []
    for name, level in lowered_policies(policy_config).items():
        if name == ALL_POLICIES:
            found.append(Weakening(name, f'every policy of the pack is {level} (`"all": "{level}"`)'))
        else:
            found.append(Weakening(name, f"policy `{name}` is {level} (mandatory by default)"))
    return found


def weakenings(settings: Settings, policy_config: Mapping[str, Any] | None = None) -> list[Weakening]:
    """Everything this config and the stack's policy file loosen, in a fixed order: the one-update overrides,
    the alarm thresholds, the policies."""
    found = []
    if settings.gate_bypass:
        found.append(
            Weakening(
                Keys.GATE_BYPASS.key,
                f"`{Keys.GATE_BYPASS.key}` is true: traffic moves without the traffic gate's checks (healthy "
                "targets, preview route)",
            )
        )
    if settings.guardian.armed == GUARDIAN_OFF:
        found.append(
            Weakening(
                Keys.GUARDIAN_ARMED.key,
                f"`{Keys.GUARDIAN_ARMED.key}` is off: the guardian never rolls back, canary included",
            )
        )
    return [*found, *alarm_weakenings(settings.alarms), *policy_weakenings(policy_config)]


# ---------------------------------------------------------------- the stack's policy file


class PolicyConfigError(ValueError):
    """A stack policy file that cannot be read, or lowers a policy it may not; the message says which."""


def stack_policy_config_path(pack_dir: Path, stack: str) -> Path:
    """`<pack>/stacks/<stack>.json`, named after the last part of a fully qualified stack name."""
    return pack_dir / "stacks" / f"{stack.rsplit('/', 1)[-1]}.json"


def load_policy_config(path: Path) -> dict[str, Any] | None:
    """The stack's policy config, or None when the stack has no file (the pack runs as it is)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise PolicyConfigError(f"{path} is not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise PolicyConfigError(f"{path} holds a JSON {type(data).__name__}; expected an object of policy config")
    return data


def policy_config_problems(policy_config: Mapping[str, Any] | None) -> list[str]:
    """Each entry that lowers a policy a stack may not lower: `all`, or any policy outside the baseline."""
    problems = []
    for name, level in lowered_policies(policy_config).items():
        if name == ALL_POLICIES:
            problems.append(f'"{name}": "{level}" (it lowers every policy, the safety policies too)')
        elif name not in LOWERABLE_POLICIES:
            problems.append(f'"{name}": "{level}"')
    return problems


def check_policy_config(policy_config: Mapping[str, Any] | None, path: Path | str) -> None:
    """Refuse a stack policy file that lowers anything but the production baseline, in one line."""
    problems = policy_config_problems(policy_config)
    if problems:
        raise PolicyConfigError(
            f"{path} lowers {'; '.join(problems)}; a stack's policy file may lower only the production baseline "
            f"({', '.join(LOWERABLE_POLICIES)}) to advisory or disabled ({POLICIES_DOC}). Set the others back to "
            "mandatory or remove them"
        )


def read_stack_policy_config(pack_dir: Path, stack: str) -> tuple[Path, dict[str, Any] | None]:
    """The stack's policy file and its checked config (None without one); PolicyConfigError when it is refused."""
    path = stack_policy_config_path(pack_dir, stack)
    config = load_policy_config(path)
    check_policy_config(config, path)
    return path, config


# ---------------------------------------------------------------- one-update overrides

USED_AT = "usedAt"


def active_overrides(settings: Settings) -> dict[str, Any]:
    """The one-update overrides this config sets: `{gateBypass: true}`, `{guardianArmed: "off"}`, both or none."""
    found: dict[str, Any] = {}
    if settings.gate_bypass:
        found[Keys.GATE_BYPASS.key] = True
    if settings.guardian.armed == GUARDIAN_OFF:
        found[Keys.GUARDIAN_ARMED.key] = GUARDIAN_OFF
    return found


def emergency_overrides(settings: Settings, now: datetime) -> dict[str, Any]:
    """The `emergencyOverrides` output: what this update ran with and when (UTC, to the second), or `{}`."""
    found = active_overrides(settings)
    if not found:
        return {}
    return {USED_AT: now.strftime("%Y-%m-%dT%H:%M:%SZ"), **found}


class EmergencyOverrideError(pulumi.RunError):
    """An override that already applied to the last update is still set. A `pulumi.RunError`: the language
    host prints the message alone."""


def check_emergency_overrides(settings: Settings, previous: Mapping[str, Any] | None) -> None:
    """Refuse an update that still sets an override the last update used (`previous` is its `emergencyOverrides`
    output; None or `{}` when it used none), unless `emergencyAck` names that update's `usedAt`.

    An update that failed exported nothing, so re-running it is never refused: only a finished update uses up
    an override."""
    if not isinstance(previous, Mapping) or not previous:
        return
    used_at = previous.get(USED_AT)
    again = [key for key, value in active_overrides(settings).items() if previous.get(key) == value]
    if not again or (isinstance(used_at, str) and settings.emergency_ack == used_at):
        return
    shown = ", ".join(f"{key}={str(active_overrides(settings)[key]).lower()}" for key in again)
    raise EmergencyOverrideError(
        f"{shown} already applied to the last update (emergencyOverrides usedAt {used_at}), and it applies to one "
        f"update only: set {' and '.join(_restore(key) for key in again)} for this update, or, if the emergency "
        f"still needs it, confirm it for this one more update with "
        f"`pulumi config set bluegreen:{Keys.EMERGENCY_ACK.key} {used_at}`"
    )


def _restore(key: str) -> str:
    return f"{Keys.GATE_BYPASS.key}=false" if key == Keys.GATE_BYPASS.key else f"{Keys.GUARDIAN_ARMED.key}=bake"


def previous_overrides(outputs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The last update's `emergencyOverrides` output; None for a stack deployed before it existed."""
    value = outputs.get(Outputs.EMERGENCY_OVERRIDES.name())
    return value if isinstance(value, Mapping) else None
