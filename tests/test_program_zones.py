"""A created VPC's zones are pinned once deployed: a subnet's zone forces its replacement.

Zones are picked from the instance types' offerings on a first deploy (the harness's MISSING_OFFERINGS:
c7gn.large is not offered in eu-west-1a). From then on the stack exports them (availabilityZones) and
every update keeps them; an instance type a pinned zone does not offer is refused before any resource
is registered. Otherwise staging such a type on the idle colour would move both subnets, which the
provider replaces with the same CIDRs (InvalidSubnet.Conflict, pulumi/pulumi-awsx#520 and #910), and
touch the ALB and the live colour in an update that should reach the idle colour only.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.components.network import ZoneError
from bluegreen.outputs import DeployedState, IncompleteDeployedStateError
from bluegreen.program import NetworkMoveError
from tests.engine_order import SUBNET, simulate
from tests.harness import REGION, Recording, deployed, keep_decision, run_failing, run_program

EXISTING_VPC = {"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]}
ARM_IMAGE = "ami-0a4400000000000a1"  # arm64 in the harness's IMAGES


def zones(rec: Recording) -> list[str]:
    return [rec.by_name(f"bluegreen-network-subnet-{i}").inputs["availabilityZone"] for i in (0, 1)]


def test_a_created_vpcs_zones_are_exported() -> None:
    rec = run_program()
    assert rec.outputs["availabilityZones"] == zones(rec) == [f"{REGION}a", f"{REGION}b"]


def test_an_existing_vpc_has_no_zones_to_pin() -> None:
    assert run_program(EXISTING_VPC).outputs["availabilityZones"] == []


def test_the_deployed_state_reads_the_zones_back() -> None:
    outputs = deployed(run_program())
    state = DeployedState.from_outputs(outputs)
    assert state is not None and state.availability_zones == (f"{REGION}a", f"{REGION}b")
    older = {k: v for k, v in outputs.items() if k != "availabilityZones"}
    state = DeployedState.from_outputs(older)
    assert state is not None and state.availability_zones is None
    with pytest.raises(IncompleteDeployedStateError, match="availabilityZones"):
        DeployedState.from_outputs({**outputs, "availabilityZones": f"{REGION}a"})


@pytest.mark.parametrize(
    "malformed",
    [[f"{REGION}a"], [f"{REGION}a", f"{REGION}a"], [f"{REGION}a", f"{REGION}b", f"{REGION}c"]],
    ids=["one", "repeated", "three"],
)
def test_pinned_zones_that_are_not_two_distinct_ones_are_refused_not_built(malformed: list[str]) -> None:
    # The program exports two distinct zones (or none, with vpcId); pinning any other list would delete a subnet
    # the ALB and the live colour sit in, replace one with its own CIDR, or add a third.
    outputs = deployed(run_program())
    with pytest.raises(IncompleteDeployedStateError, match="availabilityZones"):
        DeployedState.from_outputs({**outputs, "availabilityZones": malformed})


def test_staging_an_instance_type_a_pinned_zone_does_not_offer_is_refused_naming_the_zone() -> None:
    base = run_program()  # t3.micro: eu-west-1a and eu-west-1b
    staged = {"instanceType": "c7gn.large", "greenRelease": "v2.0.0", "greenImageId": ARM_IMAGE}
    error, registered = run_failing(staged, previous_outputs=deployed(base))
    assert isinstance(error, ZoneError)
    assert registered == []
    assert str(error) == (
        "instanceType c7gn.large is not offered in eu-west-1a, and this stack's subnets are pinned to eu-west-1a "
        "and eu-west-1b (stack output availabilityZones): moving a subnet to another zone replaces it, and the ALB "
        "and the live colour with it. Choose an instance type offered in eu-west-1a and eu-west-1b"
    )


@pytest.fixture(scope="module")
def green_live_on_t3() -> tuple[Recording, dict[str, Any]]:
    """Deployed on c7gn.large (eu-west-1b, eu-west-1c), then t3.micro staged on green and flipped to it:
    blue, idle, still runs c7gn.large. Returns that deployment and the config it ran with."""
    first = run_program({"instanceType": "c7gn.large"})
    assert zones(first) == [f"{REGION}b", f"{REGION}c"]
    config: dict[str, Any] = {"instanceType": "t3.micro", "greenRelease": "v2.0.0"}
    staged = run_program(config, previous_outputs=deployed(first))
    config["activeColor"] = "green"
    flipped = run_program(config, previous_outputs=deployed(staged))
    config["bakeDecision"] = keep_decision(flipped)
    return flipped, config


def assert_only_blue_changes(update: Recording, before: Recording) -> None:
    outcome = simulate(update, before=before)
    assert outcome.failed == []
    steps = {s.name: s.op for s in outcome.finished if s.op != "same"}
    assert not [name for name in steps if update.by_name(name).type == SUBNET]
    assert not [name for name in steps if name.startswith(("bluegreen-green-", "bluegreen-lb-", "bluegreen-router-"))]
    assert steps["bluegreen-blue-asg"] == "replace"


def test_staging_the_idle_colour_keeps_the_zones_the_stack_was_deployed_with(green_live_on_t3) -> None:
    # Both colours on t3.micro would pick eu-west-1a and eu-west-1b; the pinned zones stay.
    flipped, config = green_live_on_t3
    restaged = run_program({**config, "blueRelease": "v2.0.0"}, previous_outputs=deployed(flipped))
    assert zones(restaged) == zones(flipped) == [f"{REGION}b", f"{REGION}c"]
    assert restaged.outputs["availabilityZones"] == [f"{REGION}b", f"{REGION}c"]
    assert_only_blue_changes(restaged, flipped)


def test_a_stack_deployed_before_the_zones_were_exported_keeps_the_zones_its_deployed_types_gave(
    green_live_on_t3,
) -> None:
    flipped, config = green_live_on_t3
    older = {k: v for k, v in deployed(flipped).items() if k != "availabilityZones"}
    restaged = run_program({**config, "blueRelease": "v2.0.0"}, previous_outputs=older)
    assert zones(restaged) == [f"{REGION}b", f"{REGION}c"]
    assert restaged.outputs["availabilityZones"] == [f"{REGION}b", f"{REGION}c"]
    assert any("availabilityZones: the stack exported none" in message for _, message in restaged.logs)
    assert_only_blue_changes(restaged, flipped)


@pytest.mark.parametrize("direction", ["created-to-existing", "existing-to-created"])
def test_moving_a_deployed_stack_between_a_created_and_an_existing_vpc_is_refused(direction: str) -> None:
    # The ALB cannot move to another VPC's subnets (ELB refuses them; the provider updates it in place,
    # pulumi/pulumi-aws#1382): the update would replace both target groups and then fail at the ALB.
    # The instances stay private (an existing VPC's are): no subnet tier change either.
    private: dict[str, Any] = {"privateInstances": True}
    if direction == "created-to-existing":
        before, after = run_program(private), {**private, **EXISTING_VPC}
    else:
        before, after = run_program({**private, **EXISTING_VPC}), private
    error, registered = run_failing(after, previous_outputs=deployed(before))
    assert isinstance(error, NetworkMoveError) and registered == []
    assert "the load balancer cannot move to another VPC" in str(error)


def test_a_stack_that_stays_in_its_vpc_is_not_refused() -> None:
    for config in ({}, EXISTING_VPC):
        first = run_program(config)
        assert run_program({**config, "greenRelease": "v2"}, previous_outputs=deployed(first)).outputs["greenRelease"]
