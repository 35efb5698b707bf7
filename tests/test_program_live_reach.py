"""Issue 22: nothing reaches the live colour silently.

Settings outside the release spec once changed both fleets in one update: `extraSecurityGroupIds` made a
new launch template version for both colours (both Auto Scaling groups replaced), dropping an
`instanceEgress` entry cut both colours off at once, and `instanceSubnetIds` and
`healthCheckGracePeriodSeconds` changed both Auto Scaling groups. Each test deploys a stack (blue live),
changes that one key, and replays the update in the engine's order: only the idle colour's resources may
change (the update says what waits for the live one), or the update is refused, naming the key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from bluegreen.contract import SPEC_TAG, settings_fingerprint
from bluegreen.release_guard import ReleaseGuardError
from bluegreen.release_spec import SPEC_KEYS, ReleaseSpec
from tests.engine_order import simulate
from tests.harness import Recording, deployed, keep_decision, run_failing, run_program

VPC = {
    "vpcId": "vpc-0123456789abcdef0",
    "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    "instanceSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
}
DB = "tcp:5432:10.0.0.0/16"
BASE: dict[str, Any] = {**VPC, "instanceEgress": [DB]}
# One new value for each setting that once reached both colours.
CHANGES: dict[str, Any] = {
    "capacityTimeout": "20m",
    "extraSecurityGroupIds": ["sg-0123456789abcdef0"],
    "healthCheckGracePeriodSeconds": 300,
    "instanceEgress": [],
}


@pytest.fixture(scope="module")
def live_blue() -> Recording:
    """A deployed stack in an existing VPC with a database egress rule: blue live, green idle."""
    return run_program(BASE)


def touched(before: Recording, after: Recording, color: str) -> list[str]:
    """The resources of `color` (its launch template, Auto Scaling group, ...) that the update steps."""
    outcome = simulate(after, before)
    assert not outcome.failed and not outcome.hung, outcome
    return [f"{s.name} ({s.op})" for s in outcome.finished if s.name.startswith(f"bluegreen-{color}-")]


def egress_open(rec: Recording) -> set[str]:
    return {
        r.inputs["description"].removeprefix("instanceEgress ")
        for r in rec.resources
        if r.name.startswith("bluegreen-lb-instance-egress-") and r.inputs["description"].startswith("instanceEgress ")
    }


@pytest.mark.parametrize("key", sorted(CHANGES))
def test_a_change_reaches_the_idle_colour_and_waits_for_the_live_one(live_blue: Recording, key: str) -> None:
    after = run_program({**BASE, key: CHANGES[key]}, previous_outputs=deployed(live_blue))

    assert touched(live_blue, after, "blue") == []
    assert after.outputs["blueSpec"] == live_blue.outputs["blueSpec"]
    assert after.outputs["greenSpec"]["fingerprint"] != live_blue.outputs["greenSpec"]["fingerprint"]
    if key != "instanceEgress":  # the egress is on the shared group: green's own resources stay as they are
        assert touched(live_blue, after, "green"), f"{key} reaches idle green"
    assert any(
        level == "info" and message.startswith(f"{key} ") and "blue gets it when it is idle and restaged" in message
        for level, message in after.logs
    ), after.logs


def test_extra_security_groups_are_the_idle_colours_until_the_live_one_is_restaged(live_blue: Recording) -> None:
    group = "sg-0123456789abcdef0"
    after = run_program({**BASE, "extraSecurityGroupIds": [group]}, previous_outputs=deployed(live_blue))

    def groups(color: str) -> list[str]:
        return list(after.by_name(f"bluegreen-{color}-lt").inputs["networkInterfaces"][0]["securityGroups"])

    assert group in groups("green") and group not in groups("blue")
    green = ReleaseSpec.from_output(after.outputs["greenSpec"])
    assert green.settings.extra_security_group_ids == (group,)
    assert after.outputs["blueSpec"] == live_blue.outputs["blueSpec"]


def test_a_colour_rebuilt_from_its_deployed_spec_lists_its_groups_as_before() -> None:
    groups = ["sg-0bbbbbbbbbbbbbbbb", "sg-0aaaaaaaaaaaaaaaa"]
    live = run_program({**BASE, "extraSecurityGroupIds": groups})
    again = run_program({**BASE, "extraSecurityGroupIds": groups}, previous_outputs=deployed(live))
    assert touched(live, again, "blue") == [] and touched(live, again, "green") == []


def test_the_grace_period_is_the_idle_colours_until_the_live_one_is_restaged(live_blue: Recording) -> None:
    after = run_program({**BASE, "healthCheckGracePeriodSeconds": 300}, previous_outputs=deployed(live_blue))
    assert after.by_name("bluegreen-green-asg").inputs["healthCheckGracePeriod"] == 300
    assert after.by_name("bluegreen-blue-asg").inputs["healthCheckGracePeriod"] == 120


def test_an_egress_entry_stays_open_until_no_colour_uses_it(live_blue: Recording) -> None:
    cache = "tcp:6379:10.0.0.0/16"
    # Green drops the database and adds a cache: blue still reaches the database, green the cache too.
    staged = run_program({**BASE, "instanceEgress": [cache]}, previous_outputs=deployed(live_blue))
    assert egress_open(staged) == {DB, cache}
    assert [r.spec for r in ReleaseSpec.from_output(staged.outputs["blueSpec"]).settings.instance_egress] == [DB]
    flipped = run_program({**BASE, "instanceEgress": [cache], "activeColor": "green"}, deployed(staged))
    assert egress_open(flipped) == {DB, cache}, "blue serves in the flip, and is the rollback target after it"
    decided = {
        **BASE,
        "instanceEgress": [cache],
        "activeColor": "green",
        "bakeDecision": keep_decision(flipped),
    }
    restaged = run_program(decided, previous_outputs=deployed(flipped))
    assert egress_open(restaged) == {cache}, "closed once no colour's spec has it"


def test_egress_rules_keep_their_names(live_blue: Recording) -> None:
    """A deployed stack's rules are named by their content: the spec changes none of their URNs."""
    after = run_program(BASE, previous_outputs=deployed(live_blue))
    rules = sorted(r.urn for r in after.resources if r.name.startswith("bluegreen-lb-instance-egress"))
    assert rules == sorted(r.urn for r in live_blue.resources if r.name.startswith("bluegreen-lb-instance-egress"))
    assert [u.rsplit("::", 1)[1] for u in rules] == [
        "bluegreen-lb-instance-egress",
        "bluegreen-lb-instance-egress-tcp-5432-5432-10-0-0-0-16",
    ]


def test_moving_the_instances_to_other_subnets_is_refused_while_a_colour_serves(live_blue: Recording) -> None:
    moved = ["subnet-0ccccccccccccccc1", "subnet-0ccccccccccccccc2"]
    error, registered = run_failing({**BASE, "instanceSubnetIds": moved}, deployed(live_blue))
    assert isinstance(error, ReleaseGuardError) and registered == []
    assert "instanceSubnetIds" in str(error) and "blue" in str(error) and "allowLiveRelease=true" in str(error)


def test_the_emergency_override_moves_the_instances_and_says_so(live_blue: Recording) -> None:
    moved = ["subnet-0ccccccccccccccc1", "subnet-0ccccccccccccccc2"]
    after = run_program({**BASE, "instanceSubnetIds": moved, "allowLiveRelease": True}, deployed(live_blue))
    assert after.by_name("bluegreen-blue-asg").inputs["vpcZoneIdentifiers"] == moved
    assert any(level == "warning" and "instanceSubnetIds" in message for level, message in after.logs)


def test_unchanged_subnets_in_another_order_are_no_move(live_blue: Recording) -> None:
    again = {**BASE, "instanceSubnetIds": list(reversed(VPC["instanceSubnetIds"]))}
    run_program(again, previous_outputs=deployed(live_blue))


def test_older_specs_without_the_new_settings_take_configs_and_change_nothing() -> None:
    """A stack deployed before these settings joined the spec ran config's values on both colours: they stay,
    and so do the colours' specs and `bluegreen:spec` tags (on the instances' tags: a new one would make a new
    launch template version), until a colour is restaged."""
    config = {**BASE, "healthCheckGracePeriodSeconds": 300, "extraSecurityGroupIds": ["sg-0123456789abcdef0"]}
    older = without_late_settings(deployed(run_program(config)))
    after = run_program(config, previous_outputs=older)
    assert any("release specs do not record capacityTimeout, extraSecurityGroupIds" in m for _, m in after.logs)

    for color in ("blue", "green"):
        assert after.outputs[f"{color}Spec"]["fingerprint"] == older[f"{color}Spec"]["fingerprint"]
        spec = older[f"{color}Spec"]["spec"]
        legacy_tag = settings_fingerprint({k: v for k, v in spec.items() if k in SPEC_KEYS})
        assert after.by_name(f"bluegreen-{color}-lt").inputs["tags"][SPEC_TAG] == legacy_tag
        assert after.by_name(f"bluegreen-{color}-asg").inputs["healthCheckGracePeriod"] == 300
    # Restaging green with another setting records them on green.
    restaged = run_program({**config, "instanceType": "t3.large"}, previous_outputs=deployed(after))
    assert restaged.outputs["greenSpec"]["spec"]["healthCheckGracePeriodSeconds"] == 300
    assert "healthCheckGracePeriodSeconds" not in restaged.outputs["blueSpec"]["spec"]


def without_late_settings(outputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs as the program before issue 22 wrote them: specs without the new settings."""
    new = {"capacityTimeout", "extraSecurityGroupIds", "healthCheckGracePeriodSeconds", "instanceEgress"}
    result = dict(outputs)
    for color in ("blue", "green"):
        spec = {k: v for k, v in outputs[f"{color}Spec"]["spec"].items() if k not in new}
        canonical = json.dumps({"version": 1, **spec}, sort_keys=True, separators=(",", ":"))
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        result[f"{color}Spec"] = {"version": 1, "fingerprint": fingerprint, "spec": spec}  # and no `recorded`
    result.pop("instanceSubnetIds", None)
    return result
