"""The release guard, run through the program with the stack's previous outputs mocked."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from bluegreen.outputs import GUARD_KEYS, RECOVERY, DeployedState, IncompleteDeployedStateError
from bluegreen.release_guard import ReleaseGuardError, check_release, deployed_state
from bluegreen.release_spec import ReleaseSpec
from bluegreen.rollback_target import BakeDecision, RollbackTarget, bake_decision_problem
from bluegreen.settings import ColorSpec, Settings, read_settings
from tests.harness import LOOKED_UP_AMI, deployed, diff, program_config, run_failing, run_program

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


# -- the guard as a function, as any program can call it -------------------------------------------
def settings_for(overrides: dict[str, Any]) -> Settings:
    config = program_config(overrides)
    return read_settings({k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("bluegreen:")})


def state(**changes: Any) -> DeployedState:
    base: dict[str, Any] = {
        "active_color": "blue",
        "weights": {"blue": 100, "green": 0},
        "releases": {"blue": "v1.0.0", "green": "v1.0.0"},
        "image_ids": {"blue": LOOKED_UP_AMI, "green": LOOKED_UP_AMI},
        "idle_scaled_down": False,
        "database_schema_version": 0,
        "schema_versions": {"blue": (), "green": ()},
        "specs": {c: ReleaseSpec("v1.0.0", LOOKED_UP_AMI, "", (), ColorSpec()) for c in ("blue", "green")},
    }
    return DeployedState(**{**base, **changes})


def guardian_of(outputs: dict[str, Any]) -> dict[str, Any]:
    """What DeployedState reads besides the guard's keys: the guardian's state and record, where the
    instances run (their tier, and a created VPC's pinned zones), the preview token (the rules accept it
    while a new one replaces it), and the one-update overrides the last update used (none: `{}`)."""
    return {
        "guardian_state_id": outputs["guardianStateId"],
        "guardian_record_parameter": outputs["guardianRecordParameter"],
        "guardian_generation": outputs["guardianGeneration"],
        "instance_subnet_tier": outputs["instanceSubnetTier"],
        "instance_subnet_ids": tuple(outputs["instanceSubnetIds"]),
        "availability_zones": tuple(outputs["availabilityZones"]),
        "preview_token": outputs["previewToken"],
        "emergency_overrides": outputs["emergencyOverrides"],
    }


def no_lookup() -> str:
    raise AssertionError("the AMI lookup ran although both colours pin an image")


def test_the_lookup_runs_only_when_a_colour_has_no_image_id():
    pinned = settings_for({"blueImageId": "ami-0aaaaaaaaaaaaaaaa", "greenImageId": "ami-0bbbbbbbbbbbbbbbb"})
    result = check_release(pinned, None, no_lookup)
    assert dict(result.image_ids) == {"blue": "ami-0aaaaaaaaaaaaaaaa", "green": "ami-0bbbbbbbbbbbbbbbb"}


def test_a_first_deploy_says_there_is_nothing_to_compare():
    result = check_release(settings_for({}), None, lambda: LOOKED_UP_AMI)
    assert result.notes == ("first deploy: no previous state, release guard has nothing to compare",)
    assert result.warnings == ()


@pytest.mark.parametrize(("previous", "after"), [(1, 0), (0, 1)], ids=["was-1%", "gets-1%"])
def test_a_colour_with_even_a_1_percent_canary_keeps_its_release(previous: int, after: int):
    settings = settings_for({"greenRelease": "v2.0.0", "idleTrafficPercent": after})
    deployed_state = state(weights={"blue": 100 - previous, "green": previous})
    with pytest.raises(ReleaseGuardError) as refused:
        check_release(settings, deployed_state, lambda: LOOKED_UP_AMI)
    assert f"green serves traffic (weight {previous}% now, {after}% after)" in str(refused.value)


def test_the_live_release_refusal_reads_in_full():
    with pytest.raises(ReleaseGuardError) as refused:
        check_release(settings_for({"blueRelease": "v2.0.0"}), state(), lambda: LOOKED_UP_AMI)
    assert str(refused.value) == (
        "release guard refused this update:\n"
        f"  - blueRelease/blueImageId change from v1.0.0 ({LOOKED_UP_AMI}) to v2.0.0 ({LOOKED_UP_AMI}) but blue "
        "serves traffic (weight 100% now, 100% after); stage the release on the idle colour with 0% traffic, "
        "smoke-test it, then flip in a separate update (or set allowLiveRelease=true in an emergency)"
    )


def test_the_scaled_down_flip_refusal_reads_in_full():
    with pytest.raises(ReleaseGuardError) as refused:
        check_release(settings_for({"activeColor": "green"}), state(idle_scaled_down=True), lambda: LOOKED_UP_AMI)
    assert str(refused.value) == (
        "release guard refused this update:\n"
        "  - activeColor changes from blue to green while the idle colour is (or was until this update) scaled "
        "down; set idleScaledDown=false and run pulumi up so it is healthy first, then flip in a separate update"
    )


def test_two_refusals_are_listed_one_a_line():
    settings = settings_for({"activeColor": "green", "greenRelease": "v2.0.0"})
    with pytest.raises(ReleaseGuardError) as refused:
        check_release(settings, state(idle_scaled_down=True), lambda: LOOKED_UP_AMI)
    lines = str(refused.value).splitlines()
    assert lines[0] == "release guard refused this update:"
    assert [line[:4] for line in lines[1:]] == ["  - ", "  - "]
    assert lines[1].startswith("  - activeColor changes") and lines[2].startswith("  - greenRelease/greenImageId")


def test_an_override_turns_every_refusal_into_a_warning_and_keeps_the_images():
    settings = settings_for({"blueRelease": "v2.0.0", "allowLiveRelease": True})
    result = check_release(settings, state(), lambda: NEWER_AMI)
    assert result.warnings == (
        "allowLiveRelease=true overrides the release guard: blueRelease/blueImageId change from v1.0.0 "
        f"({LOOKED_UP_AMI}) to v2.0.0 ({NEWER_AMI}) but blue serves traffic (weight 100% now, 100% after); stage "
        "the release on the idle colour with 0% traffic, smoke-test it, then flip in a separate update (or set "
        "allowLiveRelease=true in an emergency)",
    )
    assert result.image_ids["blue"] == NEWER_AMI  # the release changes, so it gets the new lookup
    assert result.image_ids["green"] == LOOKED_UP_AMI  # green's does not: it keeps its deployed image
    assert result.notes == (
        f"green stays on its deployed image {LOOKED_UP_AMI} instead of the newer lookup {NEWER_AMI}; change "
        "greenRelease while green is idle to stage the new image",
    )


def test_deployed_state_reads_the_guards_outputs(live_blue):
    read = DeployedState.from_outputs({**live_blue, "blueWeight": "100", "greenWeight": "0"})
    assert read == state(**guardian_of(live_blue)), "weights are read as numbers, idleScaledDown defaults to false"
    assert DeployedState.from_outputs({**live_blue, "idleScaledDown": True}) == state(
        idle_scaled_down=True, **guardian_of(live_blue)
    )
    assert DeployedState.from_outputs({}) is None


def test_an_invalid_active_colour_in_the_outputs_fails_closed(live_blue):
    with pytest.raises(IncompleteDeployedStateError) as refused:
        DeployedState.from_outputs({**live_blue, "activeColor": "purple"})
    assert str(refused.value) == (
        "release guard cannot read the last deployment: stack outputs activeColor are missing or invalid "
        f"(activeColor='purple'), so it cannot tell which colour serves traffic. {RECOVERY}"
    )


def test_missing_outputs_are_all_named_in_order(live_blue):
    partial = {k: v for k, v in live_blue.items() if k not in ("blueImageId", "greenWeight")}
    with pytest.raises(IncompleteDeployedStateError, match=r"stack outputs blueImageId, greenWeight are missing"):
        DeployedState.from_outputs(partial)


def test_allow_incomplete_turns_the_refusal_into_a_warning(live_blue):
    partial = {k: v for k, v in live_blue.items() if k != "greenWeight"}
    previous, warnings = deployed_state(partial, allow_incomplete=True)
    assert previous is None
    assert warnings == [
        "allowLiveRelease=true overrides the release guard: release guard cannot read the last deployment: stack "
        "outputs greenWeight are missing or invalid (activeColor='blue'), so it cannot tell which colour serves "
        f"traffic. {RECOVERY}"
    ]
    assert deployed_state(live_blue) == (state(**guardian_of(live_blue)), [])


def test_the_guard_reads_this_stacks_own_outputs():
    rec = run_program()
    assert rec.stack_references == [("bluegreen-deployed-state", "organization/bluegreen/dev")]


def test_outputs_from_before_idle_scaled_down_existed_mean_not_scaled_down(live_blue):
    older = {k: v for k, v in live_blue.items() if k != "idleScaledDown"}
    previous = DeployedState.from_outputs(older)
    assert previous is not None and previous.idle_scaled_down is False


def test_incomplete_outputs_fail_closed_unless_asked_otherwise(live_blue):
    partial = {k: v for k, v in live_blue.items() if k != "greenWeight"}
    with pytest.raises(ReleaseGuardError, match="greenWeight are missing"):
        deployed_state(partial)


# -- a boot script is part of the release ------------------------------------------------------------
BOOT = "#!/bin/bash\necho {{release}}\n"


def test_changing_the_live_colours_boot_script_is_refused(live_blue):
    message = refused({"blueBootScript": BOOT}, live_blue)
    assert (
        "blueBootScript changes but blue serves traffic (weight 100% now, 100% after); a boot script is part of "
        "the release: stage it on the idle colour with 0% traffic"
    ) in message
    assert "blueRelease/blueImageId" not in message  # only what changed is named


def test_a_boot_script_reaches_the_idle_colour_and_is_kept_through_the_flip(live_blue):
    staged = run_program({"greenBootScript": BOOT}, live_blue)
    assert staged.outputs["greenBootScriptHash"] != ""

    flipped = run_program({"greenBootScript": BOOT, "activeColor": "green"}, deployed(staged))
    assert flipped.outputs["greenWeight"] == 100


def test_a_stack_deployed_before_boot_scripts_counts_as_running_the_demo_app(live_blue):
    older = {k: v for k, v in live_blue.items() if not k.endswith("BootScriptHash")}

    assert run_program({}, older).outputs["blueWeight"] == 100  # nothing changed, nothing refused
    assert "blueBootScript changes" in refused({"blueBootScript": BOOT}, older)


# -- the keep decision rule (I2), pure: the release guard and `bluegreen bake` both call it ---------------------
FLIP_3 = RollbackTarget("blue", "b" * 64, "green", "a" * 64, kept=True, flip=3)


def a_decision(flip: int = 3, minutes: float = 15, end: str = "2026-01-01T12:15:00Z") -> str:
    return BakeDecision(flip, "a" * 64, "2026-01-01T12:00:00Z", end, minutes).to_config()


@pytest.mark.parametrize("minutes", [15, 2.5, 0.00001, 0])
def test_a_keep_decision_reads_back_as_written(minutes: float) -> None:
    decision = BakeDecision(3, "a" * 64, "2026-01-01T12:00:00Z", "2026-01-01T12:15:00Z", minutes)
    assert BakeDecision.parse(decision.to_config()) == decision


@pytest.mark.parametrize(
    "text",
    [
        "keep",
        "flip=3",
        a_decision().replace("flip=3", "flip=three"),
        a_decision().replace("12:00:00Z", "12:00:00"),
        a_decision().replace("2026-01-01T12:15", "2026-02-30T12:15"),
        a_decision(end="2026-01-01T11:59:59Z"),
        a_decision() + " extra=1",
    ],
)
def test_a_malformed_keep_decision_is_refused_naming_what_is_allowed(text: str) -> None:
    problem = bake_decision_problem(text, FLIP_3, FLIP_3, flipping=False, bake_minutes=15)
    assert problem is not None and problem.startswith(f"bakeDecision={text} is not allowed: it must be empty or")


def test_only_a_full_bake_of_the_current_flip_after_it_stands() -> None:
    def problem(text: str, *, flipping: bool = False, deployed: RollbackTarget | None = FLIP_3) -> str | None:
        return bake_decision_problem(text, deployed, FLIP_3, flipping=flipping, bake_minutes=15)

    assert problem("") is None
    assert problem(a_decision()) is None
    assert "is set in the update that makes flip 3" in str(problem(a_decision(), flipping=True))
    assert "names flip 2, but this update makes flip 3" in str(problem(a_decision(2), flipping=True))
    assert "names flip 2 (release spec aaaaaaaaaaaa…), but the current flip is 3" in str(problem(a_decision(2)))
    assert "shorter than bakeMinutes=15" in str(problem(a_decision(minutes=14)))
    assert "records a watch of 14 min (15 asked)" in str(problem(a_decision(end="2026-01-01T12:14:00Z")))
    spent = RollbackTarget("blue", "b" * 64, "green", "a" * 64, kept=False, flip=3)
    assert problem(a_decision(minutes=1), deployed=spent) is None  # applied already: it stands until the next flip


@pytest.mark.xfail(
    strict=True,
    reason=(
        "review22: a keep decision is safety by self-assertion. Its flip and fingerprint are in the outputs "
        "(rollbackTarget), and nothing ties start/end to a clock or to the flip: a hand-written decision with any "
        "interval of bakeMinutes, even one that ends in the future or began before the flip, releases the target "
        "in the update right after the flip. Fix (not small): record the flip's time in rollbackTarget and refuse "
        "a decision whose start is before it or whose end is after now (minus a skew allowance)"
    ),
)
def test_a_keep_decision_whose_watch_ends_in_the_future_is_refused() -> None:
    forged = BakeDecision(3, "a" * 64, "2099-01-01T00:00:00Z", "2099-12-31T00:00:00Z", 15).to_config()
    assert bake_decision_problem(forged, FLIP_3, FLIP_3, flipping=False, bake_minutes=15) is not None
