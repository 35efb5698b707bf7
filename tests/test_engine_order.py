"""Every `pulumi up` can finish, and production traffic reaches a colour only after its wait finished.

The model in `tests/engine_order.py` replays the program's recorded registrations in the engine's
order, with ELB's rule that only a target group something forwards to is health-checked.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.engine_order import ASG, simulate
from tests.harness import Recording, deployed, run_program


@pytest.fixture(scope="module")
def base() -> Recording:
    return run_program()


def positions(outcome, *names: str) -> list[int]:
    order = outcome.order()
    return [order.index(n) for n in names]


def assert_finishes_cleanly(outcome) -> None:
    assert outcome.hung == [], f"these Auto Scaling groups would wait until capacityTimeout: {outcome.hung}"
    assert outcome.blocked == []
    assert outcome.early_traffic == []


def test_first_deploy_finishes_and_opens_production_only_after_both_waits(base):
    outcome = simulate(base)
    assert_finishes_cleanly(outcome)
    blue_asg, green_asg, listener = positions(
        outcome, "bluegreen-blue-asg", "bluegreen-green-asg", "bluegreen-router-http"
    )
    assert listener > max(blue_asg, green_asg)
    # Each group was in use (its warm-up rule) before its ASG waited.
    assert positions(outcome, "bluegreen-blue-warmup")[0] < blue_asg
    assert positions(outcome, "bluegreen-green-warmup")[0] < green_asg


def test_first_deploy_with_https_finishes_too():
    cert = "arn:aws:acm:eu-west-1:123456789012:certificate/abcd-1234"
    outcome = simulate(run_program({"certificateArn": cert, "publicHostname": "app.example.com"}))
    assert_finishes_cleanly(outcome)
    assert outcome.order().index("bluegreen-router-https") > outcome.order().index("bluegreen-blue-asg")


def test_a_new_app_port_replaces_only_the_idle_colours_group_and_opens_the_port_before_it_waits(base):
    # appPort is a target group ForceNew field; it is part of the release, so only idle green gets it.
    moved = run_program({"appPort": 9090}, previous_outputs=deployed(base))
    outcome = simulate(moved, before=base)
    assert_finishes_cleanly(outcome)
    steps = {s.name: s.op for s in outcome.finished if s.op != "same"}
    assert steps["bluegreen-green-tg"] == steps["bluegreen-green-asg"] == "replace"
    assert not [name for name in steps if name.startswith("bluegreen-blue-")]
    assert steps["bluegreen-lb-instance-ingress-9090"] == steps["bluegreen-lb-alb-egress-9090"] == "create"
    assert "bluegreen-lb-instance-ingress-8080" not in steps  # blue still runs on 8080
    order = outcome.order()
    assert order.index("bluegreen-lb-instance-ingress-9090") < order.index("bluegreen-green-asg")
    # The listener names green's new group (at weight 0) only once green is healthy in it.
    assert order.index("bluegreen-router-http") > order.index("bluegreen-green-asg")


def test_replacing_both_target_groups_finishes_and_moves_production_after_the_new_groups_are_healthy(base):
    # The emergency override gives appPort to both colours: new groups next to the old ones, new ASGs in them.
    moved = run_program({"appPort": 9090, "allowLiveRelease": True}, previous_outputs=deployed(base))
    outcome = simulate(moved, before=base)
    assert_finishes_cleanly(outcome)
    steps = {s.name: s.op for s in outcome.finished}
    assert steps["bluegreen-blue-tg"] == steps["bluegreen-green-tg"] == "replace"
    assert steps["bluegreen-blue-asg"] == "replace"
    assert steps["bluegreen-router-http"] == "update"
    listener = outcome.order().index("bluegreen-router-http")
    assert listener > outcome.order().index("bluegreen-blue-asg")
    assert listener > outcome.order().index("bluegreen-green-asg")


def test_staging_the_idle_colour_waits_in_its_group_without_touching_production(base):
    staged = run_program({"greenRelease": "v2.0.0"}, previous_outputs=deployed(base))
    outcome = simulate(staged, before=base)
    assert_finishes_cleanly(outcome)
    steps = {s.name: s.op for s in outcome.finished}
    assert steps["bluegreen-green-asg"] == "replace"
    assert "bluegreen-router-http" not in steps
    assert "bluegreen-blue-asg" not in steps


def test_a_flip_changes_only_the_listener(base):
    flipped = run_program({"activeColor": "green"}, previous_outputs=deployed(base))
    outcome = simulate(flipped, before=base)
    assert_finishes_cleanly(outcome)
    # The gate checks green first; the listener moves after it; the guardian's state records the new target.
    changed = [(s.name, s.op) for s in outcome.finished if s.op != "same"]
    assert sorted(changed) == [
        ("bluegreen-gate", "update"),
        ("bluegreen-guardian-state", "update"),
        ("bluegreen-router-http", "update"),
    ]
    assert changed.index(("bluegreen-gate", "update")) < changed.index(("bluegreen-router-http", "update"))


# -- the model catches the orders that hang or leak traffic ----------------------------------------
def without_warmup_rules(rec: Recording) -> Recording:
    """The graph before the fix: only listeners that wait for the ASGs forward to the groups."""
    dropped = {r.urn for r in rec.resources if r.name.endswith("-warmup") and r.type.endswith("ListenerRule")}
    kept = [
        dataclasses.replace(r, dependencies=[d for d in r.dependencies if d not in dropped])
        for r in rec.resources
        if r.urn not in dropped
    ]
    return dataclasses.replace(rec, resources=kept)


def listener_before_asgs(rec: Recording) -> Recording:
    """A production listener that does not wait for the ASGs (nor for the traffic gate, which waits for them)."""
    asgs = {r.urn for r in rec.resources if r.type == ASG or r.name == "bluegreen-gate"}
    resources = [
        dataclasses.replace(r, dependencies=[d for d in r.dependencies if d not in asgs])
        if r.name == "bluegreen-router-http"
        else r
        for r in rec.resources
    ]
    return dataclasses.replace(rec, resources=resources)


def test_listener_after_asg_with_nothing_else_forwarding_hangs_the_first_deploy(base):
    outcome = simulate(without_warmup_rules(base))
    assert outcome.hung == ["bluegreen-blue-asg", "bluegreen-green-asg"]
    assert "bluegreen-router-http" in outcome.blocked


def test_a_listener_that_does_not_wait_sends_traffic_to_new_groups_before_they_are_healthy(base):
    moved = run_program({"appPort": 9090, "allowLiveRelease": True}, previous_outputs=deployed(base))
    outcome = simulate(listener_before_asgs(moved), before=listener_before_asgs(base))
    assert outcome.hung == []
    assert outcome.early_traffic == ["bluegreen-router-http sent 100% to the target group of bluegreen-blue-asg"]


def test_scaling_the_idle_colour_back_up_waits_in_its_group_and_can_finish(base):
    # Terraform waits for ELB capacity on an update that changes desiredCapacity or minSize.
    scaled = run_program({"idleScaledDown": True}, previous_outputs=deployed(base))
    back = run_program({}, previous_outputs=deployed(scaled))
    outcome = simulate(back, before=scaled)
    assert_finishes_cleanly(outcome)
    assert ("bluegreen-green-asg", "update") in [(s.name, s.op) for s in outcome.finished]
