"""A release is the whole colour: config's fleet settings reach the idle colour first.

Each test runs the program twice under mocks, the second time with the first run's outputs as the
stack's previous outputs, as `pulumi up` after a deploy does.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.release_guard import ReleaseGuardError
from bluegreen.release_spec import SPEC_VERSION, ReleaseSpec
from bluegreen.rollback_target import BakeDecision
from tests.harness import Recording, deployed, diff, keep_decision, run_failing, run_program

# One new value for every setting that is part of a colour's release spec.
SPEC_CHANGES: dict[str, Any] = {
    "instanceType": "t3.large",
    "rootVolumeSizeGb": 20,
    "appPort": 9090,
    "healthCheckPath": "/ready",
    "healthCheckMatcher": "200-299",
    "healthCheckIntervalSeconds": 30,
    "healthCheckTimeoutSeconds": 10,
    "healthyThreshold": 3,
    "unhealthyThreshold": 5,
    "deregistrationDelaySeconds": 60,
    "detailedMonitoring": True,
}


@pytest.fixture(scope="module")
def live_blue() -> Recording:
    """A deployed stack: blue live, green idle, both on the defaults."""
    return run_program()


def colour_resources(rec: Recording, color: str) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in rec.resources if r.name.startswith(f"bluegreen-{color}-")}


def ports_open(rec: Recording) -> set[int]:
    """The ports the ALB may reach the instances on: both an ALB egress and an instance ingress rule."""
    ingress = {r.inputs["fromPort"] for r in rec.resources if r.name.startswith("bluegreen-lb-instance-ingress-")}
    egress = {r.inputs["fromPort"] for r in rec.resources if r.name.startswith("bluegreen-lb-alb-egress-")}
    return ingress & egress


@pytest.mark.parametrize("key", sorted(SPEC_CHANGES))
def test_a_spec_change_reaches_the_idle_colour_only(live_blue: Recording, key: str) -> None:
    after = run_program({key: SPEC_CHANGES[key]}, previous_outputs=deployed(live_blue))

    changes = diff(live_blue, after)
    assert not [name for name in changes.changed if name.startswith("bluegreen-blue-")], changes
    assert [name for name in changes.changed if name.startswith("bluegreen-green-")], changes
    assert colour_resources(after, "blue") == colour_resources(live_blue, "blue")
    assert 8080 in ports_open(after), "live blue's port stays open from the ALB"


def test_detailed_monitoring_is_a_release_setting_that_older_specs_read_as_off(live_blue: Recording) -> None:
    after = run_program({"detailedMonitoring": True}, previous_outputs=deployed(live_blue))

    assert after.by_name("bluegreen-green-lt").inputs["monitoring"] == {"enabled": True}
    assert "monitoring" not in after.by_name("bluegreen-blue-lt").inputs
    # Off, a spec leaves the setting out: every fingerprint a stack exported before it existed still holds.
    assert "detailedMonitoring" not in after.outputs["blueSpec"]["spec"]
    assert after.outputs["blueSpec"]["fingerprint"] == live_blue.outputs["blueSpec"]["fingerprint"]
    assert after.outputs["greenSpec"]["spec"]["detailedMonitoring"] is True


def test_a_new_app_port_keeps_both_ports_open_until_no_colour_uses_the_old_one(live_blue: Recording) -> None:
    staged = run_program({"appPort": 9090}, previous_outputs=deployed(live_blue))
    assert ports_open(staged) == {8080, 9090}
    assert staged.by_name("bluegreen-green-tg").inputs["port"] == 9090
    assert staged.by_name("bluegreen-blue-tg").inputs["port"] == 8080

    flipped = run_program({"appPort": 9090, "activeColor": "green"}, previous_outputs=deployed(staged))
    assert ports_open(flipped) == {8080, 9090}, "blue still runs on 8080 while it serves traffic in the flip"

    # Blue is the rollback target until green's bake is decided; then the next update gives it 9090 and 8080 closes.
    kept = run_program({"appPort": 9090, "activeColor": "green"}, previous_outputs=deployed(flipped))
    assert ports_open(kept) == {8080, 9090}
    decided = {"appPort": 9090, "activeColor": "green", "bakeDecision": keep_decision(flipped)}
    restaged = run_program(decided, previous_outputs=deployed(kept))
    assert restaged.by_name("bluegreen-blue-tg").inputs["port"] == 9090
    assert ports_open(restaged) == {9090}


def test_the_pending_setting_is_said_setting_by_setting(live_blue: Recording) -> None:
    after = run_program({"instanceType": "t3.large"}, previous_outputs=deployed(live_blue))
    assert (
        "info",
        "instanceType t3.micro → t3.large: on green (idle) now; blue gets it when it is idle and restaged",
    ) in after.logs


def test_a_spec_change_with_a_flip_is_refused(live_blue: Recording) -> None:
    error, registered = run_failing({"healthCheckPath": "/ready", "activeColor": "green"}, deployed(live_blue))
    assert isinstance(error, ReleaseGuardError) and registered == []
    assert (
        "healthCheckPath /health → /ready on green in the update that moves traffic to green (0% now, 100% after); "
        "these settings are part of the release: run pulumi up with green idle first" in str(error)
    )


def test_a_canary_step_counts_as_serving_traffic(live_blue: Recording) -> None:
    error, _ = run_failing({"appPort": 9090, "idleTrafficPercent": 10}, deployed(live_blue))
    assert isinstance(error, ReleaseGuardError)
    assert "appPort 8080 → 9090 on green in the update that moves traffic to green (0% now, 10% after)" in str(error)


def test_the_emergency_override_gives_the_setting_to_every_colour_and_says_so(live_blue: Recording) -> None:
    after = run_program({"healthCheckPath": "/ready", "allowLiveRelease": True}, previous_outputs=deployed(live_blue))
    assert after.by_name("bluegreen-blue-tg").inputs["healthCheck"]["path"] == "/ready"
    assert any(
        level == "warning" and "allowLiveRelease=true: healthCheckPath reach every colour" in message
        for level, message in after.logs
    )


def test_each_colours_spec_is_exported_versioned_with_a_fingerprint(live_blue: Recording) -> None:
    staged = run_program({"instanceType": "t3.large"}, previous_outputs=deployed(live_blue))
    blue, green = (ReleaseSpec.from_output(staged.outputs[f"{c}Spec"]) for c in ("blue", "green"))
    assert staged.outputs["greenSpec"]["version"] == SPEC_VERSION
    assert (blue.settings.instance_type, green.settings.instance_type) == ("t3.micro", "t3.large")
    assert blue.fingerprint == ReleaseSpec.from_output(live_blue.outputs["blueSpec"]).fingerprint
    assert blue.fingerprint != green.fingerprint


def test_a_hand_edited_spec_output_fails_closed(live_blue: Recording) -> None:
    outputs = deployed(live_blue)
    outputs["blueSpec"] = {**outputs["blueSpec"], "spec": {**outputs["blueSpec"]["spec"], "appPort": 1}}
    error, registered = run_failing({}, outputs)
    assert isinstance(error, ReleaseGuardError) and registered == []
    assert "blueSpec (fingerprint does not match its spec (edited by hand?))" in str(error)


def test_outputs_of_an_older_program_without_specs_give_config_to_both_once(live_blue: Recording) -> None:
    outputs = {k: v for k, v in deployed(live_blue).items() if not k.endswith("Spec")}
    after = run_program({"instanceType": "t3.large"}, previous_outputs=outputs)
    assert after.by_name("bluegreen-blue-lt").inputs["instanceType"] == "t3.large"
    assert ("info", "the last update recorded no release spec: both colours take config's") in after.logs


def test_schema_support_changes_only_with_the_release_on_an_idle_colour() -> None:
    on = {"databaseSchemaVersion": 1, "blueSchemaVersions": [1], "greenSchemaVersions": [1]}
    # Turning the checks on declares what the deployed releases read: allowed on live blue this once.
    checked = run_program(on, previous_outputs=deployed(run_program()))

    error, _ = run_failing({**on, "blueSchemaVersions": [1, 2]}, deployed(checked))
    assert isinstance(error, ReleaseGuardError)
    assert "blueSchemaVersions change from [1] to [1, 2] but blue serves traffic" in str(error)
    staged = run_program({**on, "greenSchemaVersions": [1, 2]}, previous_outputs=deployed(checked))
    assert staged.outputs["greenSchemaVersions"] == [1, 2]


# -- the rollback target is kept until the bake is decided ----------------------------------------------------
@pytest.fixture(scope="module")
def just_flipped(live_blue: Recording) -> Recording:
    """Green staged with v2, then the flip: blue (v1) is the rollback target, no bake decided yet."""
    staged = run_program({"greenRelease": "v2.0.0"}, previous_outputs=deployed(live_blue))
    return run_program({"greenRelease": "v2.0.0", "activeColor": "green"}, previous_outputs=deployed(staged))


FLIPPED = {"greenRelease": "v2.0.0", "activeColor": "green"}


def test_the_flip_records_the_colour_traffic_left_with_both_fingerprints(just_flipped: Recording) -> None:
    target = just_flipped.outputs["rollbackTarget"]
    assert target == {
        "color": "blue",
        "fingerprint": just_flipped.outputs["blueSpec"]["fingerprint"],
        "liveColor": "green",
        "liveFingerprint": just_flipped.outputs["greenSpec"]["fingerprint"],
        "kept": True,
        "flip": 1,
    }


def test_restaging_the_rollback_target_before_the_bake_is_decided_is_refused(just_flipped: Recording) -> None:
    error, registered = run_failing({**FLIPPED, "blueRelease": "v3.0.0"}, deployed(just_flipped))
    assert isinstance(error, ReleaseGuardError) and registered == []
    live = just_flipped.outputs["greenSpec"]["fingerprint"]
    assert (
        f"blue is the rollback target until a bake decision is recorded for green's release (flip 1, fingerprint "
        f"{live[:12]}…): run `bluegreen bake`, which records bakeDecision after watching green for at least "
        "bakeMinutes"
    ) in str(error)


def test_scaling_the_rollback_target_down_before_the_bake_is_decided_is_refused(just_flipped: Recording) -> None:
    error, _ = run_failing({**FLIPPED, "idleScaledDown": True}, deployed(just_flipped))
    assert isinstance(error, ReleaseGuardError)
    assert "idleScaledDown=true would scale down blue, but blue is the rollback target" in str(error)


def test_the_rollback_target_keeps_its_settings_until_the_bake_is_decided(just_flipped: Recording) -> None:
    after = run_program({**FLIPPED, "instanceType": "t3.large"}, previous_outputs=deployed(just_flipped))
    assert after.by_name("bluegreen-blue-lt").inputs["instanceType"] == "t3.micro"
    assert after.by_name("bluegreen-green-lt").inputs["instanceType"] == "t3.micro"  # green serves: it waits too
    assert any("blue gets it once a bake decides and it is restaged" in message for _, message in after.logs)


def test_a_recorded_bake_decision_releases_the_target_for_the_next_release(just_flipped: Recording) -> None:
    decided = {**FLIPPED, "bakeDecision": keep_decision(just_flipped)}
    restaged = run_program({**decided, "blueRelease": "v3.0.0"}, previous_outputs=deployed(just_flipped))
    assert restaged.outputs["blueRelease"] == "v3.0.0"
    assert restaged.outputs["rollbackTarget"]["kept"] is False


def test_rolling_back_to_the_kept_target_is_allowed_and_keeps_the_other_colour(just_flipped: Recording) -> None:
    rolled_back = run_program({**FLIPPED, "activeColor": "blue"}, previous_outputs=deployed(just_flipped))
    target = rolled_back.outputs["rollbackTarget"]
    assert (target["color"], target["liveColor"], target["kept"]) == ("green", "blue", True)


# -- I2: a keep decision needs a bake after the flip it names, of at least bakeMinutes ---------------------------
@pytest.fixture(scope="module")
def staged_v2(live_blue: Recording) -> Recording:
    return run_program({"greenRelease": "v2.0.0"}, previous_outputs=deployed(live_blue))


def test_a_bake_decision_in_the_flips_own_update_is_refused(staged_v2: Recording) -> None:
    """What a bake would write for flip 1, set before anything watched green: refused, nothing registered."""
    green = staged_v2.outputs["greenSpec"]["fingerprint"]
    early = BakeDecision(1, green, "2026-01-01T12:00:00Z", "2026-01-01T12:15:00Z", 15).to_config()

    error, registered = run_failing({**FLIPPED, "bakeDecision": early}, deployed(staged_v2))

    assert isinstance(error, ReleaseGuardError) and registered == []
    assert f"bakeDecision={early} is set in the update that makes flip 1 (blue -> green)" in str(error)
    assert "\n" not in str(error)


def test_a_bare_fingerprint_in_the_flips_own_update_no_longer_releases_the_target(staged_v2: Recording) -> None:
    """Before I2 the live release's fingerprint, set with the flip, released blue and disarmed the guardian."""
    green = staged_v2.outputs["greenSpec"]["fingerprint"]

    error, registered = run_failing({**FLIPPED, "bakeDecision": green}, deployed(staged_v2))

    assert isinstance(error, ReleaseGuardError) and registered == []
    assert f"bakeDecision={green} is a bare release spec fingerprint, which names no flip" in str(error)


@pytest.fixture(scope="module")
def flipped_back(just_flipped: Recording) -> Recording:
    """Flip 1 (blue -> green) kept after a full bake, then flip 2 back to blue: green is the target now."""
    decided = run_program({**FLIPPED, "bakeDecision": keep_decision(just_flipped)}, deployed(just_flipped))
    assert decided.outputs["rollbackTarget"]["kept"] is False
    back = run_program({**FLIPPED, "activeColor": "blue"}, previous_outputs=deployed(decided))
    assert back.outputs["rollbackTarget"]["flip"] == 2
    return back


def test_a_bake_decision_naming_an_older_flip_is_refused(just_flipped: Recording, flipped_back: Recording) -> None:
    older = keep_decision(just_flipped)  # a full bake, but of flip 1

    error, registered = run_failing({**FLIPPED, "activeColor": "blue", "bakeDecision": older}, deployed(flipped_back))

    assert isinstance(error, ReleaseGuardError) and registered == []
    assert f"bakeDecision={older} names flip 1 (release spec " in str(error)
    assert "but the current flip is 2 (green -> blue, " in str(error)


def test_a_bare_fingerprint_of_an_older_flip_is_refused(just_flipped: Recording, flipped_back: Recording) -> None:
    blue = flipped_back.outputs["blueSpec"]["fingerprint"]  # what flip 2 made live; a bare one names no flip

    error, _ = run_failing({**FLIPPED, "activeColor": "blue", "bakeDecision": blue}, deployed(flipped_back))

    assert isinstance(error, ReleaseGuardError)
    assert "is a bare release spec fingerprint, which names no flip and records no watch" in str(error)


def test_a_keep_decision_left_from_the_last_flip_is_refused_in_the_next_flip(just_flipped: Recording) -> None:
    """A hand flip with the last decision still set: the tool clears it when it flips; by hand, clear it."""
    kept = keep_decision(just_flipped)
    decided = run_program({**FLIPPED, "bakeDecision": kept}, deployed(just_flipped))

    error, _ = run_failing({**FLIPPED, "activeColor": "blue", "bakeDecision": kept}, deployed(decided))

    assert isinstance(error, ReleaseGuardError)
    assert f"bakeDecision={kept} names flip 1, but this update makes flip 2: " in str(error)
    assert 'clear it (`pulumi config set bluegreen:bakeDecision ""`) for the flip' in str(error)


def test_a_keep_decision_after_a_watch_shorter_than_bake_minutes_is_refused(just_flipped: Recording) -> None:
    short = keep_decision(just_flipped, minutes=5)

    error, registered = run_failing({**FLIPPED, "bakeDecision": short}, deployed(just_flipped))

    assert isinstance(error, ReleaseGuardError) and registered == []
    assert f"bakeDecision={short} records a watch of 5 min (5 asked), shorter than bakeMinutes=15" in str(error)


def test_a_keep_decision_whose_interval_is_shorter_than_its_minutes_is_refused(just_flipped: Recording) -> None:
    target = just_flipped.outputs["rollbackTarget"]
    claimed = BakeDecision(
        target["flip"], target["liveFingerprint"], "2026-01-01T12:00:00Z", "2026-01-01T12:01:00Z", 15
    ).to_config()

    error, _ = run_failing({**FLIPPED, "bakeDecision": claimed}, deployed(just_flipped))

    assert "records a watch of 1 min (15 asked), shorter than bakeMinutes=15" in str(error)


def test_a_keep_after_a_full_bake_releases_the_target_and_stays_spent(just_flipped: Recording) -> None:
    """The happy path: the target is released and the guardian disarmed; raising bakeMinutes later does not
    refuse a decision that was applied already."""
    decided = {**FLIPPED, "bakeDecision": keep_decision(just_flipped)}
    released = run_program(decided, previous_outputs=deployed(just_flipped))
    assert released.outputs["rollbackTarget"] == {**just_flipped.outputs["rollbackTarget"], "kept": False}

    later = run_program({**decided, "bakeMinutes": 60, "blueRelease": "v3.0.0"}, deployed(released))

    assert later.outputs["blueRelease"] == "v3.0.0"


def test_a_bare_fingerprint_that_released_the_target_before_upgrading_still_stands(just_flipped: Recording) -> None:
    """Stacks decided before decisions named their flip: the target is released, flip unnumbered (0)."""
    green = just_flipped.outputs["greenSpec"]["fingerprint"]
    outputs = deployed(just_flipped)
    outputs["rollbackTarget"] = {k: v for k, v in outputs["rollbackTarget"].items() if k != "flip"} | {"kept": False}

    after = run_program({**FLIPPED, "bakeDecision": green, "blueRelease": "v3.0.0"}, previous_outputs=outputs)

    assert after.outputs["rollbackTarget"]["flip"] == 0 and after.outputs["rollbackTarget"]["kept"] is False
    assert after.outputs["blueRelease"] == "v3.0.0"


def test_a_bake_decision_with_no_flip_recorded_is_refused(live_blue: Recording) -> None:
    decision = BakeDecision(1, "0" * 64, "2026-01-01T12:00:00Z", "2026-01-01T12:15:00Z", 15).to_config()

    error, _ = run_failing({"bakeDecision": decision}, deployed(live_blue))

    assert "names flip 1, but no flip is recorded (rollbackTarget is empty)" in str(error)


# -- I2: while the target is kept, nothing restages, respecs or scales it down -------------------------------
def test_a_new_image_for_the_kept_target_is_refused(just_flipped: Recording) -> None:
    error, registered = run_failing({**FLIPPED, "blueImageId": "ami-0fedcba9876543210"}, deployed(just_flipped))
    assert isinstance(error, ReleaseGuardError) and registered == []
    assert "blueRelease/blueImageId change" in str(error) and "blue is the rollback target" in str(error)


def test_a_new_boot_script_for_the_kept_target_is_refused(just_flipped: Recording) -> None:
    error, _ = run_failing({**FLIPPED, "blueBootScript": "#!/bin/bash\necho changed\n"}, deployed(just_flipped))
    assert isinstance(error, ReleaseGuardError)
    assert "blueBootScript changes but blue is the rollback target" in str(error)


@pytest.mark.parametrize("key", sorted(SPEC_CHANGES))
def test_no_release_setting_reaches_the_kept_target(just_flipped: Recording, key: str) -> None:
    after = run_program({**FLIPPED, key: SPEC_CHANGES[key]}, previous_outputs=deployed(just_flipped))
    assert after.outputs["blueSpec"] == just_flipped.outputs["blueSpec"], f"{key} respecced the rollback target"
    assert after.outputs["rollbackTarget"]["kept"] is True


def test_a_short_keep_decision_does_not_let_the_target_be_scaled_down(just_flipped: Recording) -> None:
    short = keep_decision(just_flipped, minutes=1)
    error, registered = run_failing({**FLIPPED, "bakeDecision": short, "idleScaledDown": True}, deployed(just_flipped))
    assert isinstance(error, ReleaseGuardError) and registered == []
    assert "shorter than bakeMinutes=15" in str(error)


def test_a_bake_decision_that_is_not_a_fingerprint_is_refused() -> None:
    error, _ = run_failing({"bakeDecision": "keep"})
    assert "bakeDecision must be empty or a keep decision written by `bluegreen bake`: flip=<n> fingerprint=" in str(
        error
    )
