"""The state each `pulumi up` writes for the guardian, and the id its records name.

Pure (no Pulumi, no AWS), so the program, the guardian's handler tests and the release tool's
engine double all build the same document.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from bluegreen.contract import GUARDIAN_STATE_VERSION
from bluegreen.rollback_target import RollbackTarget
from bluegreen.settings import Settings


def armed(settings: Settings, target: RollbackTarget | None) -> bool:
    """Whether the guardian may flip to `target`: `guardianArmed=always`, or `bake` while it is kept."""
    mode = settings.guardian.armed
    return target is not None and (mode == "always" or (mode == "bake" and target.kept))


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


def guardian_state(
    settings: Settings,
    target: RollbackTarget | None,
    fingerprints: Mapping[str, str],
    *,
    listener_arn: str,
    target_groups: Mapping[str, str],
    release_health_alarms: Mapping[str, str],
) -> dict[str, Any]:
    """The state document, with `stateId`: a hash of everything else, so any change is a new deployment."""
    state: dict[str, Any] = {
        "version": GUARDIAN_STATE_VERSION,
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
