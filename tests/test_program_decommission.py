"""`decommission: true`, the one way to destroy a stack: the load balancer loses its deletion protection in an
update that changes nothing else, and says so with a tag the policy pack accepts (tests/test_policy_baseline.py
serves the pack with it; tests/test_readme_tour.py runs it as the README's last step)."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.contract import DECOMMISSION_TAG
from bluegreen.release_guard import ReleaseGuardError
from tests.engine_order import simulate
from tests.harness import PRODUCTION as BASELINE
from tests.harness import Recording, deployed, diff, run_failing, run_program

# A certificate needs a hostname it covers: the production config as a stack users reach sets both.
PRODUCTION = {**BASELINE, "publicHostname": "app.example.com"}


@pytest.fixture(scope="module")
def production() -> Recording:
    return run_program(PRODUCTION)


def test_decommission_turns_deletion_protection_off_and_changes_nothing_else(production: Recording) -> None:
    unlocked = run_program({**PRODUCTION, "decommission": True}, deployed(production))

    alb = unlocked.by_name("bluegreen-lb-alb").inputs
    assert alb["enableDeletionProtection"] is False
    assert alb["tags"][DECOMMISSION_TAG] == "true"
    assert diff(production, unlocked).changed == {"bluegreen-lb-alb": ["enableDeletionProtection", "tags"]}
    outcome = simulate(unlocked, before=production)
    assert [(s.name, s.op) for s in outcome.finished if s.op != "same"] == [("bluegreen-lb-alb", "update")]
    assert (outcome.hung, outcome.blocked, outcome.early_traffic) == ([], [], [])
    assert (unlocked.outputs["blueWeight"], unlocked.outputs["greenWeight"]) == (100, 0)
    assert any(level == "warning" and "run `pulumi destroy` next" in message for level, message in unlocked.logs)


def test_setting_decommission_back_protects_the_load_balancer_again(production: Recording) -> None:
    unlocked = run_program({**PRODUCTION, "decommission": True}, deployed(production))
    kept = run_program(PRODUCTION, deployed(unlocked))

    alb = kept.by_name("bluegreen-lb-alb").inputs
    assert alb["enableDeletionProtection"] is True and DECOMMISSION_TAG not in alb["tags"]


def test_decommission_is_refused_on_a_first_deploy() -> None:
    error, registered = run_failing({**PRODUCTION, "decommission": True})

    assert isinstance(error, ReleaseGuardError) and registered == []
    assert "decommission=true on a stack that has never been deployed" in str(error)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"activeColor": "green"}, "traffic blue 100% green 0% -> blue 0% green 100% (activeColor blue -> green)"),
        ({"idleTrafficPercent": 10}, "traffic blue 100% green 0% -> blue 90% green 10%"),
        ({"greenRelease": "v2"}, "greenRelease v1.0.0 -> v2"),
        ({"greenImageId": "ami-0aaaaaaaaaaaaaaaa"}, "greenImageId ami-0123456789abcdef0 -> ami-0aaaaaaaaaaaaaaaa"),
        # Staging without a new release label is staging too: each of these replaces the idle colour's fleet.
        ({"greenBootScript": "#!/bin/sh\necho hi\n"}, "greenBootScript"),
        ({"instanceType": "t3.small"}, "instanceType t3.micro → t3.small on green"),
        ({"healthCheckPath": "/ready"}, "healthCheckPath /health → /ready on green"),
    ],
    ids=["flip", "canary", "release", "image", "boot-script", "instance-type", "health-check"],
)
def test_decommission_takes_an_update_of_its_own(production: Recording, change: dict[str, Any], named: str) -> None:
    error, registered = run_failing({**PRODUCTION, **change, "decommission": True}, deployed(production))

    assert isinstance(error, ReleaseGuardError) and registered == []
    assert "decommission=true turns deletion protection off to destroy the stack, so it takes an update of its own" in (
        str(error)
    )
    assert f"also changes {named}." in str(error)


def test_the_override_for_emergencies_does_not_cover_decommission(production: Recording) -> None:
    error, _ = run_failing(
        {**PRODUCTION, "activeColor": "green", "allowLiveRelease": True, "decommission": True}, deployed(production)
    )

    assert isinstance(error, ReleaseGuardError)


def test_decommission_is_not_held_up_by_a_setting_that_waits_for_the_live_colour(production: Recording) -> None:
    # instanceType staged and flipped to green leaves blue (idle, the rollback target) on its deployed spec until
    # a bake decision: config differs from what blue runs, but this update changes nothing there.
    staged = run_program({**PRODUCTION, "instanceType": "t3.small"}, deployed(production))
    flipped = run_program({**PRODUCTION, "instanceType": "t3.small", "activeColor": "green"}, deployed(staged))
    unlocked = run_program(
        {**PRODUCTION, "instanceType": "t3.small", "activeColor": "green", "decommission": True}, deployed(flipped)
    )

    outcome = simulate(unlocked, before=flipped)
    assert [(s.name, s.op) for s in outcome.finished if s.op != "same"] == [("bluegreen-lb-alb", "update")]
