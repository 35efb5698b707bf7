"""The release guard, run through the program with the stack's previous outputs mocked."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.release_guard import GUARD_KEYS, ReleaseGuardError
from tests.harness import LOOKED_UP_AMI, deployed, diff, run_failing, run_program

NEWER_AMI = "ami-0fffffffffffffff0"


@pytest.fixture(scope="module")
def live_blue() -> dict[str, Any]:
    """Blue live on v1.0.0, green idle on v1.0.0, both on the looked-up AMI."""
    return deployed(run_program())


def refused(overrides: dict[str, Any], previous: dict[str, Any]) -> str:
    error, registered = run_failing(overrides, previous)
    assert isinstance(error, ReleaseGuardError), error
    assert registered == []
    return str(error)


def test_first_deploy_has_no_previous_state_and_is_allowed():
    rec = run_program({"blueRelease": "v5"}, previous_outputs={})
    assert rec.outputs["blueRelease"] == "v5"


def test_changing_the_live_colours_release_is_refused(live_blue):
    message = refused({"blueRelease": "v2.0.0"}, live_blue)
    assert "blueRelease/blueImageId change from v1.0.0" in message
    assert "blue serves traffic (weight 100% now, 100% after)" in message


def test_changing_the_live_colours_image_is_refused(live_blue):
    message = refused({"blueImageId": "ami-0aaaaaaaaaaaaaaaa"}, live_blue)
    assert "ami-0aaaaaaaaaaaaaaaa" in message


def test_flipping_to_a_colour_whose_release_changes_in_the_same_update_is_refused(live_blue):
    message = refused({"activeColor": "green", "greenRelease": "v2.0.0"}, live_blue)
    assert "green becomes live in this update" in message


def test_starting_a_canary_on_a_colour_whose_release_changes_is_refused(live_blue):
    message = refused({"idleTrafficPercent": 10, "greenRelease": "v2.0.0"}, live_blue)
    assert "green serves traffic (weight 0% now, 10% after)" in message


def test_staging_then_flipping_in_separate_updates_is_allowed(live_blue):
    staged = run_program({"greenRelease": "v2.0.0"}, live_blue)
    flipped = run_program({"greenRelease": "v2.0.0", "activeColor": "green"}, deployed(staged))
    assert flipped.outputs["greenWeight"] == 100 and flipped.outputs["greenRelease"] == "v2.0.0"


def test_allow_live_release_lets_an_emergency_through_with_a_loud_warning(live_blue):
    rec = run_program({"blueRelease": "v1.0.1-hotfix", "allowLiveRelease": True}, live_blue)
    assert rec.outputs["blueRelease"] == "v1.0.1-hotfix"
    warnings = [m for level, m in rec.logs if level == "warning"]
    assert any("allowLiveRelease=true overrides the release guard" in m for m in warnings)


def test_a_newer_ami_lookup_changes_no_colour_whose_release_stays_the_same(live_blue):
    rec = run_program({}, live_blue, looked_up_image=NEWER_AMI)
    # Not the live colour, and not the idle rollback target either: both stay as tested.
    assert rec.by_name("bluegreen-blue-lt").inputs["imageId"] == LOOKED_UP_AMI
    assert rec.by_name("bluegreen-green-lt").inputs["imageId"] == LOOKED_UP_AMI
    assert (rec.outputs["blueImageId"], rec.outputs["greenImageId"]) == (LOOKED_UP_AMI, LOOKED_UP_AMI)
    assert any("stays on its deployed image" in m for level, m in rec.logs if level == "info")


def test_staging_a_new_release_on_the_idle_colour_picks_up_the_newer_ami(live_blue):
    rec = run_program({"greenRelease": "v2.0.0"}, live_blue, looked_up_image=NEWER_AMI)
    assert rec.by_name("bluegreen-green-lt").inputs["imageId"] == NEWER_AMI
    assert rec.by_name("bluegreen-blue-lt").inputs["imageId"] == LOOKED_UP_AMI


def test_an_unrelated_update_after_a_newer_ami_does_not_rebuild_any_fleet(live_blue):
    base = run_program({}, live_blue)
    later = run_program({"bakeMinutes": 30}, deployed(base), looked_up_image=NEWER_AMI)
    assert diff(base, later).touched == set()


def test_incomplete_previous_outputs_fail_closed(live_blue):
    partial = {k: v for k, v in live_blue.items() if k != "greenWeight"}
    error, registered = run_failing({}, partial)
    assert isinstance(error, ReleaseGuardError) and registered == []
    assert "stack outputs greenWeight are missing" in str(error)


def test_outputs_that_carry_none_of_the_guards_keys_fail_closed_instead_of_counting_as_a_first_deploy():
    # A stack whose outputs come from another program or an older version is not a first deploy.
    error, registered = run_failing({"blueRelease": "v2.0.0"}, {"url": "http://old.example.com"})
    assert isinstance(error, ReleaseGuardError) and registered == []
    assert "stack outputs activeColor, blueRelease" in str(error)


def test_refusals_are_run_errors_so_the_language_host_prints_the_message_without_a_traceback(live_blue):
    error, _ = run_failing({"blueRelease": "v2.0.0"}, live_blue)
    assert isinstance(error, pulumi.RunError)


def test_the_recovery_the_refusal_advises_restores_the_outputs(live_blue):
    # The message says: set activeColor to the listener's colour and run one update with
    # allowLiveRelease=true, which exports the outputs again (refresh would not run the program).
    partial = {k: v for k, v in live_blue.items() if k not in ("greenWeight", "blueRelease")}
    message = str(run_failing({}, partial)[0])
    assert "`pulumi refresh` does not restore them" in message
    assert "run one `pulumi up` with allowLiveRelease=true" in message
    recovered = run_program({"allowLiveRelease": True}, partial)
    assert all(recovered.outputs.get(key) is not None for key in GUARD_KEYS)
    # ... after which the guard is back in force, with allowLiveRelease false again.
    assert isinstance(run_failing({"blueRelease": "v2.0.0"}, deployed(recovered))[0], ReleaseGuardError)


def test_incomplete_previous_outputs_pass_with_allow_live_release_and_a_warning(live_blue):
    partial = {k: v for k, v in live_blue.items() if k != "activeColor"}
    rec = run_program({"allowLiveRelease": True}, partial)
    assert any("cannot read the last deployment" in m for level, m in rec.logs if level == "warning")


def test_a_flip_keeps_the_newly_live_colour_on_its_deployed_image(live_blue):
    rec = run_program({"activeColor": "green"}, live_blue, looked_up_image=NEWER_AMI)
    assert rec.outputs["greenImageId"] == LOOKED_UP_AMI
    assert rec.outputs["blueImageId"] == LOOKED_UP_AMI


def test_flipping_while_the_idle_colour_is_scaled_down_is_refused(live_blue):
    scaled = deployed(run_program({"idleScaledDown": True}, live_blue))
    message = refused({"activeColor": "green", "idleScaledDown": False}, scaled)
    assert "set idleScaledDown=false and run pulumi up" in message


def test_the_idle_colour_may_change_release_while_scaled_down(live_blue):
    scaled = deployed(run_program({"idleScaledDown": True}, live_blue))
    rec = run_program({"idleScaledDown": True, "greenRelease": "v3"}, scaled)
    assert rec.outputs["greenRelease"] == "v3"
