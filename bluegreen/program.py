"""The stack's program, and the same steps for any Pulumi program that uses the package.

settings -> deployed state -> release guard -> images -> service -> stack outputs. The root
`__main__.py` calls `main()`; your own program calls `deploy()` with `Settings` built in Python
(see examples/).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pulumi

from bluegreen.components.network import network_zones
from bluegreen.components.service import BlueGreenService, BlueGreenServiceArgs
from bluegreen.contract import COLORS, Color, Keys
from bluegreen.guardian_record import check_guardian_record, parse_record
from bluegreen.guardian_state import deployment_generation
from bluegreen.images import (
    ImageError,
    architecture_problems,
    default_architecture,
    deprecation_warnings,
    describe_image,
    instance_architectures,
    latest_amazon_linux,
    root_volume_problems,
)
from bluegreen.outputs import DeployedState
from bluegreen.release_guard import check_release, read_deployed_state
from bluegreen.safety import check_emergency_overrides
from bluegreen.settings import ColorSpec, Settings, check_known_keys, load_settings, namespace_keys, validated


def deploy(
    settings: Settings, name: str = "bluegreen", opts: pulumi.ResourceOptions | None = None, *, export: bool = True
) -> BlueGreenService:
    """Check `settings`, guard the update against the stack's last outputs, resolve and check the
    images, build the service and (with `export`) export the outputs the release tool reads.

    Every refusal is a `pulumi.RunError` raised before any resource is registered. A key of the stack's
    `bluegreen:` config that nobody knows (a typo) is refused here too, for a program that builds
    `settings` in Python instead of with `load_settings`.
    """
    check_known_keys(namespace_keys())
    settings = validated(settings)
    deployed, state_warnings = read_deployed_state(allow_incomplete=settings.allow_live_release)
    # gateBypass=true and guardianArmed=off apply to one update: refused when the last one used them unacknowledged.
    check_emergency_overrides(settings, deployed.emergency_overrides if deployed is not None else None)
    if deployed is not None and deployed.guardian_record_parameter:
        check_guardian_record(
            settings,
            deployed.guardian_state_id,
            parse_record(read_parameter(deployed.guardian_record_parameter)),
            deployed.guardian_generation,
        )
    wanted_type = settings.fleet.instance_type
    architectures = {wanted_type: instance_architectures(wanted_type)}
    guard = check_release(
        settings, deployed, lambda: latest_amazon_linux(default_architecture(architectures[wanted_type]))
    )
    specs = guard.specs.specs if guard.specs is not None else dict.fromkeys(COLORS, settings.color_spec())
    for spec in specs.values():
        if spec.instance_type not in architectures:
            architectures[spec.instance_type] = instance_architectures(spec.instance_type)
    described = {image: describe_image(image) for image in sorted(set(guard.image_ids.values()))}
    images = {color: described[guard.image_ids[color]] for color in COLORS}
    problems: list[str] = []
    for color in COLORS:
        spec, mine = specs[color], {color: images[color]}
        problems += architecture_problems(spec.instance_type, architectures[spec.instance_type], mine)
        problems += root_volume_problems(spec.root_volume_size_gb, mine)
    if problems:
        raise ImageError("images refused:\n  - " + "\n  - ".join(problems))
    zones, zone_notes = _zones(settings, deployed, specs)
    for message in [*state_warnings, *guard.warnings, *deprecation_warnings(images, datetime.now(UTC))]:
        pulumi.log.warn(message)
    for message in [*guard.notes, *zone_notes]:
        pulumi.log.info(message)
    service = BlueGreenService(
        name,
        BlueGreenServiceArgs(
            settings=settings,
            image_ids=guard.image_ids,
            root_device_names={color: images[color].root_device_name for color in COLORS},
            specs=specs,
            rollback_target=guard.rollback_target,
            # While a new token is deployed, the preview rules accept the last one too (bluegreen.preview_token).
            deployed_preview_token=deployed.preview_token if deployed is not None else None,
            availability_zones=zones,
            guardian_generation=deployment_generation(deployed, settings, guard.rollback_target),
        ),
        opts,
    )
    if export:
        export_outputs(service)
    return service


def _zones(
    settings: Settings, deployed: DeployedState | None, specs: Mapping[Color, ColorSpec]
) -> tuple[list[str], list[str]]:
    """A created VPC's zones for this update, and a note on where they come from; ([], []) with vpcId.

    Once deployed, the zones are pinned: read back from the availabilityZones output and kept, and an
    instance type either of them does not offer is refused (`network_zones`). A stack deployed before that
    output existed gets the zones its last update picked: the first two that offered the instance types of
    its deployed specs, which the old program chose the same way (no new read permission, unlike looking up
    its subnets). Only a first deploy, or one with neither, chooses from this update's instance types.
    """
    if deployed is not None and deployed.availability_zones is not None:
        _check_same_network(settings, bool(deployed.availability_zones))
    if settings.network.vpc_id:
        return [], []
    types = sorted({specs[c].instance_type for c in COLORS})
    if deployed is None:
        return network_zones(types), []
    if deployed.availability_zones is not None:
        return network_zones(types, deployed.availability_zones), []
    if deployed.specs is None:
        return network_zones(types), []
    pinned = network_zones(sorted({deployed.specs[c].settings.instance_type for c in COLORS}))
    note = (
        f"availabilityZones: the stack exported none, so the subnets stay in {' and '.join(pinned)}, the zones its "
        "deployed instance types gave the last update; this update exports them"
    )
    return network_zones(types, pinned), [note]


class NetworkMoveError(pulumi.RunError):
    """vpcId switched between a VPC the stack created and an existing one on a deployed stack."""


def _check_same_network(settings: Settings, created_before: bool) -> None:
    """Refuse moving a deployed stack between the VPC it created and an existing one (either way).

    The load balancer cannot follow: ELB refuses subnets and security groups of another VPC
    (InvalidConfigurationRequest), and the provider updates the ALB's subnets in place rather than replacing it
    (pulumi/pulumi-aws#1382), deletion protection aside. The update would fail halfway, after it replaced both
    target groups and security groups, with the live colour's ASG being rebuilt. The deployed zones say which
    it was: a created VPC exports its two, an existing one none.
    """
    vpc_id = settings.network.vpc_id
    if created_before == (not vpc_id):
        return
    move = f"from the VPC it created to {vpc_id}" if created_before else "from its existing VPC to a VPC it creates"
    raise NetworkMoveError(
        f"{Keys.VPC_ID.key} moves this stack {move}, and the load balancer cannot move to another VPC (ELB refuses "
        "another VPC's subnets; the provider would update it in place, not replace it), so the update would fail "
        f"halfway, with both target groups replaced. Put {Keys.VPC_ID.key} back; to change VPC, deploy a new stack "
        "there, move users to it, then decommission this one"
    )


def read_parameter(name: str) -> str:
    """An SSM parameter's value through the provider (an invoke: the preview role needs ssm:GetParameter
    on it). The last update created it, so it exists; a failed invoke fails the update (the SDK records
    the failure of every invoke, caught or not), which is the safe side for a rollback record."""
    import pulumi_aws as aws

    return str(aws.ssm.get_parameter(name=name).value)


def export_outputs(service: BlueGreenService) -> None:
    """Export every stack output the release tool, the summary and the release guard read."""
    outputs: dict[str, Any] = service.stack_outputs()
    for output_name, value in outputs.items():
        pulumi.export(output_name, value)


def main() -> None:
    """This stack: `Settings` from its `bluegreen:` config."""
    deploy(load_settings())
