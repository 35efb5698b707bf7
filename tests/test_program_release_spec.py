"""A release is the whole colour: config's fleet settings reach the idle colour first.

Each test runs the program twice under mocks, the second time with the first run's outputs as the
stack's previous outputs, as `pulumi up` after a deploy does.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.release_guard import ReleaseGuardError
from bluegreen.release_spec import SPEC_VERSION, ReleaseSpec
from tests.harness import Recording, deployed, diff, run_failing, run_program

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
    decided = {"appPort": 9090, "activeColor": "green", "bakeDecision": flipped.outputs["greenSpec"]["fingerprint"]}
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
    }


def test_restaging_the_rollback_target_before_the_bake_is_decided_is_refused(just_flipped: Recording) -> None:
    error, registered = run_failing({**FLIPPED, "blueRelease": "v3.0.0"}, deployed(just_flipped))
    assert isinstance(error, ReleaseGuardError) and registered == []
    live = just_flipped.outputs["greenSpec"]["fingerprint"]
    assert (
        f"blue is the rollback target until a bake decision is recorded for green's release (fingerprint "
        f"{live[:12]}…): run `bluegreen bake`, or once you are sure, `pulumi config set bluegreen:bakeDecision {live}`"
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
    decided = {**FLIPPED, "bakeDecision": just_flipped.outputs["greenSpec"]["fingerprint"]}
    restaged = run_program({**decided, "blueRelease": "v3.0.0"}, previous_outputs=deployed(just_flipped))
    assert restaged.outputs["blueRelease"] == "v3.0.0"
    assert restaged.outputs["rollbackTarget"]["kept"] is False


def test_rolling_back_to_the_kept_target_is_allowed_and_keeps_the_other_colour(just_flipped: Recording) -> None:
    rolled_back = run_program({**FLIPPED, "activeColor": "blue"}, previous_outputs=deployed(just_flipped))
    target = rolled_back.outputs["rollbackTarget"]
    assert (target["color"], target["liveColor"], target["kept"]) == ("green", "blue", True)


def test_a_bake_decision_that_is_not_a_fingerprint_is_refused() -> None:
    error, _ = run_failing({"bakeDecision": "keep"})
    assert "bakeDecision must be empty or a release spec fingerprint (64 hex digits" in str(error)
