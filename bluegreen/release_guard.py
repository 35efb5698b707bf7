"""Release safety: users never reach a build that was not staged and tested first.

The last deployed state comes from this stack's own outputs. A colour that serves traffic before
or after this update (weight > 0) must keep its release: staging happens on an idle colour with
no traffic, and the flip is a separate update. `allowLiveRelease` overrides this for emergencies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from bluegreen.contract import COLORS, DECOMMISSION_TAG, Color, Keys, traffic_weights
from bluegreen.outputs import DeployedState, IncompleteDeployedStateError
from bluegreen.release_spec import SpecPlan, deployed_settings, plan_specs, spec_changes
from bluegreen.rollback_target import RollbackTarget, bake_decision_problem, next_rollback_target
from bluegreen.settings import Settings, configured_instance_subnets
from bluegreen.user_data import boot_script_fingerprint


class ReleaseGuardError(pulumi.RunError):
    """The update would put an untested build in front of users.

    A `pulumi.RunError`: the language host prints the message alone, without a traceback.
    """


@dataclass(frozen=True)
class GuardResult:
    image_ids: Mapping[Color, str]  # the AMI each colour gets in this update
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    # What each colour runs with in this update, and the settings config changes that wait.
    specs: SpecPlan | None = None
    # The colour traffic left at the last flip (recorded in this update's outputs), and whether it is kept.
    rollback_target: RollbackTarget | None = None


def check_release(
    settings: Settings,
    previous: DeployedState | None,
    lookup_image: Callable[[], str],
) -> GuardResult:
    """Decide each colour's image and refuse unsafe updates.

    `lookup_image` returns the latest AMI; it is called once, and only when some colour's image
    id is empty in config. A colour whose release does not change keeps its deployed image
    instead of a newer lookup, so a new AMI never reaches users without being staged.
    """
    new_weights = traffic_weights(settings.traffic.active_color, settings.traffic.idle_traffic_percent)
    if settings.idle_scaled_down:
        new_weights[settings.traffic.idle_color] = 0
    notes: list[str] = []
    warnings: list[str] = []
    if previous is None:
        decommission_warnings(settings, previous, new_weights)  # refuses decommission on a first deploy
    looked_up = lookup_image() if any(not settings.releases[c].image_id for c in COLORS) else ""
    images: dict[Color, str] = {c: settings.releases[c].image_id or looked_up for c in COLORS}
    if previous is None:
        check_bake_decision(settings, None, None)
        plan = plan_specs(settings, None, None, new_weights)
        return GuardResult(images, (), ("first deploy: no previous state, release guard has nothing to compare",), plan)

    fingerprints = {c: spec.fingerprint for c, spec in previous.specs.items()} if previous.specs else None
    target = next_rollback_target(
        previous.rollback_target,
        previous.active_color,
        settings.traffic.active_color,
        fingerprints,
        settings.alarms.bake_decision,
    )
    check_bake_decision(settings, previous, target)
    kept = target.color if target is not None and target.holds() else None
    serving = [c for c in COLORS if previous.weights[c] > 0 or new_weights[c] > 0 or c == kept]
    for color in COLORS:
        # The lookup is re-evaluated only when a colour's release changes (staging); otherwise
        # every colour, the rollback target included, keeps the image it was deployed and tested with.
        release_unchanged = settings.releases[color].label == previous.releases[color]
        if not settings.releases[color].image_id and release_unchanged and images[color] != previous.image_ids[color]:
            notes.append(
                f"{color} stays on its deployed image {previous.image_ids[color]} instead of the newer lookup "
                f"{images[color]}; change {color}Release while {color} is idle to stage the new image"
            )
            images[color] = previous.image_ids[color]

    problems: list[str] = []
    flipping = settings.traffic.active_color != previous.active_color
    if flipping and (settings.idle_scaled_down or previous.idle_scaled_down):
        problems.append(
            f"activeColor changes from {previous.active_color} to {settings.traffic.active_color} while the idle "
            "colour is (or was until this update) scaled down; set idleScaledDown=false and run pulumi up "
            "so it is healthy first, then flip in a separate update"
        )
    for color in serving:
        before = (previous.releases[color], previous.image_ids[color])
        after = (settings.releases[color].label, images[color])
        boot_changed = boot_script_fingerprint(settings.releases[color].boot_script) != previous.boot_scripts[color]
        versions = settings.releases[color].schema_versions
        # Turning the checks on declares what the deployed releases already read: allowed on a live colour.
        first_declaration = previous.database_schema_version == 0 and not any((previous.schema_versions or {}).values())
        schema_changed = (
            previous.schema_versions is not None
            and versions != previous.schema_versions[color]
            and not first_declaration
        )
        if before == after and not boot_changed and not schema_changed:
            continue
        if flipping and color == settings.traffic.active_color:
            why = f"{color} becomes live in this update"
        elif previous.weights[color] > 0 or new_weights[color] > 0:
            why = f"{color} serves traffic (weight {previous.weights[color]}% now, {new_weights[color]}% after)"
        else:
            assert target is not None
            why = target.hold_reason()
        if before != after:
            problems.append(
                f"{color}Release/{color}ImageId change from {before[0]} ({before[1]}) to {after[0]} ({after[1]}) "
                f"but {why}; stage the release on the idle colour with 0% traffic, smoke-test it, then flip "
                "in a separate update (or set allowLiveRelease=true in an emergency)"
            )
        if boot_changed:
            problems.append(
                f"{color}BootScript changes but {why}; a boot script is part of the release: stage it on the idle "
                "colour with 0% traffic, smoke-test it, then flip in a separate update (or set "
                "allowLiveRelease=true in an emergency)"
            )
        if schema_changed and previous.schema_versions is not None:
            problems.append(
                f"{color}SchemaVersions change from {list(previous.schema_versions[color])} to {list(versions)} but "
                f"{why}; schema support is part of the release: declare it with the release that brings it, on the "
                "idle colour with 0% traffic, then flip in a separate update"
            )
    tier_problem = _subnet_tier_change(settings, previous, serving)
    if tier_problem is not None:
        problems.append(tier_problem)
    elif (subnet_problem := _instance_subnets_change(settings, previous, serving)) is not None:
        problems.append(subnet_problem)
    if kept is not None and settings.idle_scaled_down and not previous.idle_scaled_down and target is not None:
        problems.append(f"idleScaledDown=true would scale down {kept}, but {target.hold_reason()}")
    wanted = settings.color_spec()
    deployed_specs = (
        {c: deployed_settings(spec, wanted) for c, spec in previous.specs.items()} if previous.specs else None
    )
    unrecorded = sorted({key for spec in (previous.specs or {}).values() for key in spec.settings.unrecorded})
    if unrecorded:
        notes.append(
            f"the last update's release specs do not record {', '.join(unrecorded)} (they joined the spec later): "
            "each colour is taken to run config's values for them, and records them when it is restaged"
        )
    plan = plan_specs(
        settings, deployed_specs, previous.weights, new_weights, frozenset({kept}) if kept else frozenset()
    )
    for color, changes in plan.refused.items():
        problems.append(
            f"{', '.join(change.describe() for change in changes)} on {color} in the update that moves traffic to "
            f"{color} ({previous.weights[color]}% now, {new_weights[color]}% after); these settings are part of the "
            f"release: run pulumi up with {color} idle first (it gets them there), smoke-test it, then flip in a "
            "separate update"
        )
    roles = {c: "live" if c == settings.traffic.active_color else "idle" for c in COLORS}
    notes.extend(plan.pending_lines(roles))
    notes.extend(plan.notes)
    if settings.allow_live_release and (plan.pending or plan.refused):
        changed = sorted(
            {change.key for changes in [*plan.pending.values(), *plan.refused.values()] for change in changes}
        )
        warnings.append(
            f"allowLiveRelease=true: {', '.join(changed)} reach every colour in this update, the ones serving traffic "
            "included"
        )
        plan = SpecPlan(dict.fromkeys(COLORS, settings.color_spec()))
    warnings.extend(decommission_warnings(settings, previous, new_weights, _staged(settings, previous, plan)))
    if problems and settings.allow_live_release:
        warnings.extend(f"allowLiveRelease=true overrides the release guard: {p}" for p in problems)
        problems = []
    if problems:
        raise ReleaseGuardError("release guard refused this update:\n  - " + "\n  - ".join(problems))
    return GuardResult(images, tuple(warnings), tuple(notes), plan, target)


def _staged(settings: Settings, previous: DeployedState, plan: SpecPlan) -> list[str]:
    """What this update stages besides a release or an image: a boot script, schema support, or settings a
    colour takes now (`plan`; a change that waits for a live colour is not made by this update)."""
    staged = []
    wanted = settings.color_spec()
    for color in COLORS:
        if boot_script_fingerprint(settings.releases[color].boot_script) != previous.boot_scripts[color]:
            staged.append(f"{color}BootScript")
        if previous.schema_versions is not None and settings.releases[color].schema_versions != tuple(
            previous.schema_versions[color]
        ):
            staged.append(
                f"{color}SchemaVersions {list(previous.schema_versions[color])} -> "
                f"{list(settings.releases[color].schema_versions)}"
            )
        if previous.specs is not None:
            changes = spec_changes(deployed_settings(previous.specs[color], wanted), plan.specs[color])
            staged += [f"{change.describe()} on {color}" for change in changes]
    return staged


def check_bake_decision(settings: Settings, previous: DeployedState | None, target: RollbackTarget | None) -> None:
    """I2: a keep decision counts only after the flip it names, for that flip, after a full bake.

    A refusal of its own, which `allowLiveRelease` does not override: a decision that would release the
    rollback target before anything watched the new colour is never an emergency measure.
    """
    problem = bake_decision_problem(
        settings.alarms.bake_decision,
        previous.rollback_target if previous is not None else None,
        target,
        flipping=previous is not None and settings.traffic.active_color != previous.active_color,
        bake_minutes=settings.alarms.bake_minutes,
    )
    if problem is not None:
        raise ReleaseGuardError(f"release guard refused this update: {problem}")


def decommission_warnings(
    settings: Settings,
    previous: DeployedState | None,
    new_weights: Mapping[Color, int],
    staged: Sequence[str] = (),
) -> tuple[str, ...]:
    """`decommission` turns the load balancer's deletion protection off so `pulumi destroy` can delete the stack.
    It takes an update of its own on a deployed stack: the update that unlocks the front door changes nothing
    else, so nobody flips, stages or first-deploys a stack without deletion protection under its cover."""
    if not settings.edge.decommission:
        return ()
    key = Keys.DECOMMISSION.key
    if previous is None:
        raise ReleaseGuardError(
            f"release guard refused this update:\n  - {key}=true on a stack that has never been deployed: it turns "
            "deletion protection off only to destroy a deployed stack. Deploy with it false (a throwaway stack "
            f"sets {Keys.ALB_DELETION_PROTECTION.key} false and lowers alb-deletion-protection to advisory)"
        )
    changes = [
        f"{color}Release {previous.releases[color]} -> {settings.releases[color].label}"
        for color in COLORS
        if settings.releases[color].label != previous.releases[color]
    ]
    changes += [
        f"{color}ImageId {previous.image_ids[color]} -> {settings.releases[color].image_id}"
        for color in COLORS
        if settings.releases[color].image_id and settings.releases[color].image_id != previous.image_ids[color]
    ]
    changes += staged
    if settings.traffic.active_color != previous.active_color or dict(new_weights) != dict(previous.weights):
        changes.append(
            f"traffic {_weights(previous.weights)} -> {_weights(new_weights)}"
            + (f" (activeColor {previous.active_color} -> {settings.traffic.active_color})"
               if settings.traffic.active_color != previous.active_color else "")
        )  # fmt: skip
    if changes:
        raise ReleaseGuardError(
            f"release guard refused this update:\n  - {key}=true turns deletion protection off to destroy the "
            f"stack, so it takes an update of its own, but this one also changes {'; '.join(changes)}. Set {key} "
            "false, deploy the change (or put the config back), then decommission"
        )
    return (
        f"{key}=true: the load balancer has no deletion protection now (tag {DECOMMISSION_TAG}=true); run "
        f"`pulumi destroy` next, or set {key} false and run `pulumi up` to keep the stack",
    )


def _weights(weights: Mapping[Color, int]) -> str:
    return " ".join(f"{color} {weights[color]}%" for color in COLORS)


def instance_subnet_tier(settings: Settings) -> str:
    """Where this update puts the instances: an existing VPC's subnets count as private."""
    return "private" if settings.network.vpc_id or settings.network.private_instances else "public"


def _subnet_tier_change(settings: Settings, previous: DeployedState, serving: list[Color]) -> str | None:
    """Moving the instances between public and private subnets rebuilds every colour's fleet, the ones
    serving traffic included (new subnets and a new launch template version), so it is refused like a
    live release change. A stack deployed before the tier was exported ran in public subnets when the
    program created its VPC (it had no private ones)."""
    before = previous.instance_subnet_tier or ("private" if settings.network.vpc_id else "public")
    after = instance_subnet_tier(settings)
    if before == after:
        return None
    keep = "false" if before == "public" else "true"
    return (
        f"privateInstances moves the instances from {before} to {after} subnets, which rebuilds the fleets of "
        f"{' and '.join(serving)} while they serve traffic; keep them where they are with "
        f"`pulumi config set bluegreen:privateInstances {keep}`, or move them with allowLiveRelease=true for this one "
        "update (each Auto Scaling group is replaced by a healthy one before the old one is deleted)"
    )


def _instance_subnets_change(settings: Settings, previous: DeployedState, serving: list[Color]) -> str | None:
    """Both colours' Auto Scaling groups run in the same subnets, so moving them moves the ones serving traffic
    too (Auto Scaling terminates the instances in subnets it leaves and launches others): refused like a live
    release change, with the same emergency override. Compared as sets: the order changes nothing. A stack
    deployed before the subnets were exported is not checked."""
    before, after = previous.instance_subnet_ids, configured_instance_subnets(settings)
    # `[]` on one side: a switch between a created VPC and an existing one, which is refused on its own.
    if not before or not after or set(before) == set(after):
        return None
    return (
        f"{Keys.INSTANCE_SUBNET_IDS.key} (or {Keys.SUBNET_IDS.key}, which the instances use when it is empty) moves "
        f"the instances from {sorted(before)} to {sorted(after)}; both colours' Auto Scaling groups share them, so "
        f"this moves {' and '.join(serving)} while they serve traffic. Keep them where they are (set "
        f"{Keys.INSTANCE_SUBNET_IDS.key} back to {sorted(before)}), or move them with allowLiveRelease=true for this "
        "one update (each colour's instances are replaced in the new subnets as Auto Scaling rebalances)"
    )


def deployed_state(
    outputs: Mapping[str, Any], allow_incomplete: bool = False
) -> tuple[DeployedState | None, list[str]]:
    """The deployed state from the last outputs; None on the first deploy.

    Outputs that are there but incomplete refuse the update (fail closed) unless
    `allow_incomplete` (allowLiveRelease) is set, which returns a warning instead.
    """
    try:
        return DeployedState.from_outputs(outputs), []
    except IncompleteDeployedStateError as error:
        if not allow_incomplete:
            raise ReleaseGuardError(str(error)) from None
        return None, [f"allowLiveRelease=true overrides the release guard: {error}"]


def read_deployed_state(allow_incomplete: bool = False) -> tuple[DeployedState | None, list[str]]:
    """`deployed_state` of this stack's last outputs, read through a StackReference to itself.

    Read synchronously (as the SDK does for invokes) so the guard decides before any resource
    is registered.
    """
    from pulumi.runtime.sync_await import _sync_await

    org = pulumi.get_organization() or "organization"
    ref = pulumi.StackReference(
        "bluegreen-deployed-state", stack_name=f"{org}/{pulumi.get_project()}/{pulumi.get_stack()}"
    )
    # All of them: "no outputs at all" (a first deploy) differs from "outputs without the guard's keys".
    future: Awaitable[dict[str, Any] | None] = ref.outputs.future()
    outputs: dict[str, Any] | None = _sync_await(future)
    return deployed_state(outputs or {}, allow_incomplete)
