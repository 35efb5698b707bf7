"""The state each `pulumi up` writes for the guardian, and the id its records name.

Pure (no Pulumi, no AWS), so the program, the guardian's handler tests and the release tool's
engine double all build the same document.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from bluegreen.contract import GUARDIAN_STATE_VERSION, Color, traffic_weights
from bluegreen.outputs import DeployedState
from bluegreen.rollback_target import RollbackTarget
from bluegreen.settings import Settings


def armed(settings: Settings, target: RollbackTarget | None) -> bool:
    """Whether the guardian may flip to `target`: `guardianArmed=always`, or `bake` while it is kept. Never a
    target a rollback left (`disarmed`): it is the release that failed, whatever `guardianArmed` says."""
    mode = settings.guardian.armed
    if target is None or target.disarmed:
        return False
    return mode == "always" or (mode == "bake" and target.kept)


def rollback_choice(
    settings: Settings, target: RollbackTarget | None, fingerprints: Mapping[str, str]
) -> dict[str, Any] | None:
    """Where the guardian may send traffic back to.

    During a canary (`idleTrafficPercent` > 0) it is the active colour: it serves the rest of the traffic on
    the build users ran before, so a ramp whose runner died mid-hold is still watched. Armed unless
    `guardianArmed=off`: a ramp hold is a watch window like a bake. Otherwise it is the colour the last
    flip left, armed as `guardianArmed` says.
    """
    if settings.traffic.idle_traffic_percent > 0:
        active = settings.traffic.active_color
        return {
            "color": active,
            "fingerprint": fingerprints.get(active),
            "armed": settings.guardian.armed != "off",
            "canary": True,
        }
    if target is None:
        return None
    return {"color": target.color, "fingerprint": target.fingerprint, "armed": armed(settings, target)}


def deployment_generation(deployed: DeployedState | None, settings: Settings, target: RollbackTarget | None) -> int:
    """This update's generation: the last update's, plus one when this update moves traffic (its weights or
    its rollback target differ from the last update's outputs).

    `stateId` hashes the state document, which is the same for the same build, settings and target: without
    the generation a re-flip to a build the guardian rolled back would have the old deployment's id, and the
    old record would pass for a rollback of the new one. A stack deployed before the output existed starts
    counting now (its old ids hashed a document without the generation, so none of them recurs).
    """
    if deployed is None or deployed.guardian_generation is None:
        return 1
    weights: dict[Color, int] = traffic_weights(settings.traffic.active_color, settings.traffic.idle_traffic_percent)
    moved = dict(deployed.weights) != weights or deployed.rollback_target != target
    return deployed.guardian_generation + 1 if moved else deployed.guardian_generation


def guardian_state(
    settings: Settings,
    target: RollbackTarget | None,
    fingerprints: Mapping[str, str],
    *,
    listener_arn: str,
    target_groups: Mapping[str, str],
    release_health_alarms: Mapping[str, str],
    generation: int,
) -> dict[str, Any]:
    """The state document, with `stateId`: a hash of everything else, so any change is a new deployment, and
    with `generation` (`deployment_generation`), so is every update that moves traffic."""
    state: dict[str, Any] = {
        "version": GUARDIAN_STATE_VERSION,
        "generation": generation,
        "desired": settings.fleet.desired_capacity,
        "stickinessSeconds": settings.traffic.stickiness_seconds,
        "fingerprints": dict(fingerprints),
        "target": rollback_choice(settings, target, fingerprints),
        # A new acknowledgement is a new state: the guardian may act again on the same alarm.
        "ack": settings.guardian.ack,
        "listenerArn": listener_arn,
        "targetGroups": dict(target_groups),
        "releaseHealthAlarms": dict(release_health_alarms),
    }
    state_id = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    return {**state, "stateId": state_id}
