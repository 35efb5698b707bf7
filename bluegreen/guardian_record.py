"""Infrastructure as code stays the source of truth after the guardian rolled back.

The guardian's record names the deployment it acted on (the `stateId` this stack's last update
wrote). When it says traffic left colour X after the last update, and config still sends traffic to
X, `pulumi up` would silently undo the rollback: it is refused, with the record and the two ways
forward (accept the rollback in config, or acknowledge the record after a fix).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bluegreen.contract import Color, Keys, traffic_weights
from bluegreen.release_guard import ReleaseGuardError
from bluegreen.settings import Settings


class GuardianRolledBackError(ReleaseGuardError):
    """The guardian moved traffic after the last update, and this update would move it back."""


def parse_record(text: str | None) -> dict[str, Any] | None:
    """The record parameter's value; None when there is none (the guardian never acted) or it is unreadable."""
    if not text:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) and record else None


def describe_record(record: Mapping[str, Any]) -> str:
    """One line for people: `the guardian rolled back from green to blue at T (alarm: why)`."""
    if record.get("action") == "rollback":
        head = f"the guardian rolled back from {record.get('from')} to {record.get('to')}"
    else:
        head = f"the guardian did not act on {record.get('color') or 'an alarm'}"
    return f"{head} at {record.get('at')} ({record.get('alarm')}: {record.get('why')})"


def acted_on(record: Mapping[str, Any] | None, state_id: str | None) -> bool:
    """Whether `record` is a rollback the guardian made after the update that wrote `state_id`."""
    return record is not None and record.get("action") == "rollback" and record.get("stateId") == state_id


def check_guardian_record(settings: Settings, last_state_id: str | None, record: Mapping[str, Any] | None) -> None:
    """Refuse an update that sends traffic back to the colour the guardian left, until config accepts
    the rollback or acknowledges the record (`guardianAck` = the record's `at`)."""
    if last_state_id is None or record is None or not acted_on(record, last_state_id):
        return  # no rollback, or one on an older deployment: an update since has recorded what it did
    left: Color = "green" if record.get("from") == "green" else "blue"
    weights = traffic_weights(settings.traffic.active_color, settings.traffic.idle_traffic_percent)
    if weights[left] == 0 or settings.guardian.ack == record.get("at"):
        return
    raise GuardianRolledBackError(
        f"{describe_record(record)}, and this update would send {weights[left]}% of traffic "
        f"back to {left}. Either accept the rollback: "
        f"`pulumi config set bluegreen:{Keys.ACTIVE_COLOR.key} {record.get('to')}` "
        f"(and {Keys.IDLE_TRAFFIC_PERCENT.key} 0); or, once {left} is fixed, re-arm with "
        f"`pulumi config set bluegreen:{Keys.GUARDIAN_ACK.key} {record.get('at')}`. "
        f"Record: {json.dumps(dict(record), sort_keys=True)}"
    )
