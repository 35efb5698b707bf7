"""Weakened safety (issue 22): what a config and a stack's policy file loosen, what a policy file may lower,
and the one-update overrides. Pure functions; the program, `status` and the CI summary are tested elsewhere."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bluegreen.contract import LOWERABLE_POLICIES
from bluegreen.safety import (
    THRESHOLDS,
    EmergencyOverrideError,
    PolicyConfigError,
    check_emergency_overrides,
    emergency_overrides,
    policy_config_problems,
    read_stack_policy_config,
    weakenings,
)
from bluegreen.settings import AlarmSettings, GuardianSettings, Settings

REPO = Path(__file__).resolve().parent.parent


def keys(settings: Settings, policy_config: dict[str, object] | None = None) -> list[str]:
    return [w.key for w in weakenings(settings, policy_config)]


def alarms(**changes: int) -> Settings:
    values = {**vars(AlarmSettings()), **changes}
    return Settings(alarms=AlarmSettings(**values))


def test_the_defaults_weaken_nothing() -> None:
    assert weakenings(Settings()) == []
    assert weakenings(Settings(), {}) == []


@pytest.mark.parametrize(
    ("field", "looser", "tighter", "key"),
    [
        ("error_rate_percent", 10, 1, "rollbackErrorRatePercent"),
        ("latency_p99_ms", 5000, 500, "rollbackLatencyP99Ms"),
        ("min_healthy_percent", 50, 100, "rollbackMinHealthyPercent"),
        ("evaluation_minutes", 10, 1, "alarmEvaluationMinutes"),
        ("bake_minutes", 0, 60, "bakeMinutes"),
    ],
)
def test_each_alarm_setting_is_a_weakening_only_in_its_looser_direction(
    field: str, looser: int, tighter: int, key: str
) -> None:
    (found,) = weakenings(alarms(**{field: looser}))
    assert found.key == key
    default = getattr(AlarmSettings(), field)
    assert found.what.startswith(f"`{key}` is {looser}, looser than the default {default}: ")
    assert weakenings(alarms(**{field: tighter})) == []


def test_the_thresholds_are_the_alarm_settings_and_their_defaults_are_pulumi_yamls() -> None:
    declared = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"]
    for threshold in THRESHOLDS:
        assert declared[threshold.key]["default"] == getattr(AlarmSettings(), threshold.field)


def test_gate_bypass_and_a_disarmed_guardian_are_weakenings() -> None:
    assert keys(Settings(gate_bypass=True)) == ["gateBypass"]
    assert keys(Settings(guardian=GuardianSettings(armed="off"))) == ["guardianArmed"]
    assert keys(Settings(guardian=GuardianSettings(armed="always"))) == []


def test_every_policy_a_stack_file_lowers_is_a_weakening() -> None:
    config = {
        "alb-access-logs-enabled": "advisory",
        "alb-deletion-protection": {"enforcementLevel": "disabled"},
        "production-traffic-split": {"maxIdleTrafficPercent": 10},  # a setting, not a level
        "blue-green-parity": "mandatory",
        "all": "disabled",
    }
    found = {w.key: w.what for w in weakenings(Settings(), config)}
    assert found == {
        "alb-access-logs-enabled": "policy `alb-access-logs-enabled` is advisory (mandatory by default)",
        "alb-deletion-protection": "policy `alb-deletion-protection` is disabled (mandatory by default)",
        "all": 'every policy of the pack is disabled (`"all": "disabled"`)',
    }


def test_the_dev_stack_file_lowers_only_what_may_be_lowered() -> None:
    path, config = read_stack_policy_config(REPO / "policies", "organization/bluegreen/dev")
    assert path == REPO / "policies" / "stacks" / "dev.json"
    assert sorted(w.key for w in weakenings(Settings(), config)) == sorted(LOWERABLE_POLICIES)
    assert read_stack_policy_config(REPO / "policies", "production") == (
        REPO / "policies" / "stacks" / "production.json",
        None,
    )


def test_a_stack_file_may_lower_only_the_production_baseline() -> None:
    assert policy_config_problems({name: "advisory" for name in LOWERABLE_POLICIES}) == []
    assert policy_config_problems({"blue-green-parity": "mandatory", "all": "mandatory"}) == []
    assert policy_config_problems({"all": "disabled", "guardian-armed": {"enforcementLevel": "advisory"}}) == [
        '"all": "disabled" (it lowers every policy, the safety policies too)',
        '"guardian-armed": "advisory"',
    ]


def test_a_refused_stack_file_is_one_line_naming_the_policy_and_what_may_be_lowered(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "prod.json").write_text(json.dumps({"all": "disabled"}))
    with pytest.raises(PolicyConfigError) as raised:
        read_stack_policy_config(tmp_path, "prod")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f'{tmp_path / "stacks" / "prod.json"} lowers "all": "disabled"')
    assert "may lower only the production baseline (" + ", ".join(LOWERABLE_POLICIES) + ")" in message

    (tmp_path / "stacks" / "prod.json").write_text("[]")
    with pytest.raises(PolicyConfigError, match="holds a JSON list"):
        read_stack_policy_config(tmp_path, "prod")


NOW = datetime(2026, 12, 8, 2, 50, tzinfo=UTC)
USED = "2026-12-08T02:50:00Z"


def test_the_overrides_output_names_what_the_update_ran_with_and_when() -> None:
    assert emergency_overrides(Settings(), NOW) == {}
    both = Settings(gate_bypass=True, guardian=GuardianSettings(armed="off"))
    assert emergency_overrides(both, NOW) == {"usedAt": USED, "gateBypass": True, "guardianArmed": "off"}


def test_an_override_the_last_update_used_is_refused_until_it_is_confirmed_again() -> None:
    bypass = Settings(gate_bypass=True)
    used = emergency_overrides(bypass, NOW)
    check_emergency_overrides(bypass, None)  # first deploy, or a stack from before the output
    check_emergency_overrides(bypass, {})  # the last update used none
    check_emergency_overrides(bypass, {"usedAt": USED, "guardianArmed": "off"})  # another override
    check_emergency_overrides(Settings(), used)  # turned off
    with pytest.raises(EmergencyOverrideError) as raised:
        check_emergency_overrides(bypass, used)
    assert str(raised.value) == (
        f"gateBypass=true already applied to the last update (emergencyOverrides usedAt {USED}), and it applies "
        "to one update only: set gateBypass=false for this update, or, if the emergency still needs it, confirm "
        f"it for this one more update with `pulumi config set bluegreen:emergencyAck {USED}`"
    )
    check_emergency_overrides(replace(bypass, emergency_ack=USED), used)
    with pytest.raises(EmergencyOverrideError):  # an acknowledgement of an earlier update confirms nothing
        check_emergency_overrides(replace(bypass, emergency_ack="2026-12-07T00:00:00Z"), used)


def test_a_disarmed_guardian_expires_the_same_way() -> None:
    off = Settings(guardian=GuardianSettings(armed="off"))
    with pytest.raises(EmergencyOverrideError, match=r"guardianArmed=off already applied .* set guardianArmed=bake"):
        check_emergency_overrides(off, emergency_overrides(off, NOW))
