"""What a flip, a canary and staging change: the registered inputs of two runs, diffed."""

from __future__ import annotations

from tests.harness import deployed, diff, run_program

# The state the guardian reads (listener, fingerprints, rollback target): every update that moves
# traffic or restages a colour rewrites this one SSM parameter's value, in place.
GUARDIAN_STATE = {"bluegreen-guardian-state": ["value"]}


def test_flip_changes_only_the_production_listener_in_place():
    blue = run_program({"activeColor": "blue"})
    green = run_program({"activeColor": "green"}, previous_outputs=deployed(blue))
    change = diff(blue, green)
    assert change.added == [] and change.removed == []
    # The listener, the traffic gate that checks green before the listener moves, and the guardian's state
    # (blue, which traffic left, is armed now).
    assert change.changed == {
        "bluegreen-router-http": ["defaultActions"],
        "bluegreen-gate": ["colors"],
        **GUARDIAN_STATE,
    }


def test_rollback_is_the_same_one_resource_change_back():
    blue = run_program({"activeColor": "blue"})
    green = run_program({"activeColor": "green"}, previous_outputs=deployed(blue))
    back = run_program({"activeColor": "blue"}, previous_outputs=deployed(green))
    assert diff(green, back).changed == {
        "bluegreen-router-http": ["defaultActions"],
        "bluegreen-gate": ["colors"],
        **GUARDIAN_STATE,
    }
    # Back where it started but for the guardian's state, which now records green as the rollback target, armed.
    assert diff(blue, back).touched == {*GUARDIAN_STATE}


def test_flip_with_https_changes_only_the_https_listener():
    cert = {
        "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123",
        "publicHostname": "app.example.com",
    }
    blue = run_program({**cert, "activeColor": "blue"})
    green = run_program({**cert, "activeColor": "green"}, previous_outputs=deployed(blue))
    assert diff(blue, green).changed == {
        "bluegreen-router-https": ["defaultActions"],
        "bluegreen-gate": ["colors"],
        **GUARDIAN_STATE,
    }


def test_starting_a_canary_changes_only_the_listener_and_what_the_guardian_reads():
    base = run_program()
    canary = run_program({"idleTrafficPercent": 10}, previous_outputs=deployed(base))
    # The guardian's state now arms blue, the colour serving the rest of the traffic, for the canary.
    assert diff(base, canary).touched == {"bluegreen-router-http", "bluegreen-gate", *GUARDIAN_STATE}


def test_staging_the_idle_colour_touches_only_that_colour():
    base = run_program()
    staged = run_program({"greenRelease": "v2.0.0"}, previous_outputs=deployed(base))
    change = diff(base, staged)
    assert change.added == [] and change.removed == []
    assert set(change.changed) == {"bluegreen-green-tg", "bluegreen-green-lt", "bluegreen-green-asg", *GUARDIAN_STATE}
    assert change.changed["bluegreen-green-lt"] == ["tagSpecifications", "tags", "userData"]


def test_staging_a_new_image_on_the_idle_colour_touches_only_that_colour():
    base = run_program()
    staged = run_program({"greenImageId": "ami-0aaaaaaaaaaaaaaaa"}, previous_outputs=deployed(base))
    assert {name for name in diff(base, staged).touched} == {
        "bluegreen-green-tg",
        "bluegreen-green-lt",
        "bluegreen-green-asg",
        *GUARDIAN_STATE,
    }
    assert "imageId" in diff(base, staged).changed["bluegreen-green-lt"]


def test_a_new_launch_template_version_replaces_the_asg_so_it_must_turn_healthy_first():
    rec = run_program()
    for color in ("blue", "green"):
        asg = rec.by_name(f"bluegreen-{color}-asg")
        assert asg.replace_on_changes == ["launchTemplate", "targetGroupArns"]
        assert asg.inputs["launchTemplate"]["version"] == str(
            rec.by_name(f"bluegreen-{color}-lt").outputs["latestVersion"]
        )


def test_declaring_schema_support_updates_tags_in_place_without_a_new_launch_template():
    on = {"databaseSchemaVersion": 1, "blueSchemaVersions": [1], "greenSchemaVersions": [1]}
    base = run_program(on)
    # On idle green: schema support is part of the release, so the guard refuses it on live blue.
    declared = run_program({**on, "greenSchemaVersions": [1, 2]}, previous_outputs=deployed(base))
    assert diff(base, declared).changed == {
        "bluegreen-green-tg": ["tags"],
        "bluegreen-green-asg": ["tags"],
        **GUARDIAN_STATE,  # green's fingerprint covers its schema support
    }


def test_changing_user_tags_updates_tags_in_place_and_never_touches_a_launch_template():
    # Terraform makes `latest_version` unknown on any launch template change but name, description and
    # default version; with user tags on the template, this PR's preview would show both ASGs replaced.
    base = run_program()
    retagged = run_program({"tags": ["team=payments"]}, previous_outputs=deployed(base))
    change = diff(base, retagged)
    for color in ("blue", "green"):
        assert f"bluegreen-{color}-lt" not in change.changed
        assert change.changed[f"bluegreen-{color}-asg"] == ["tags"]
    asg_tags = {t["key"]: t for t in retagged.by_name("bluegreen-blue-asg").inputs["tags"]}
    assert asg_tags["team"]["propagateAtLaunch"] is True  # instances still get user tags
    assert asg_tags["bluegreen:color"]["propagateAtLaunch"] is False
