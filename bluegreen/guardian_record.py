"""Infrastructure as code stays the source of truth after the guardian rolled back.

The guardian's record names the deployment it acted on (the `stateId` this stack's last update
wrote) and, from a guardian that writes it, that deployment's `generation`. A rollback whose generation is
at least the last outputs' `guardianGeneration` was made for the deployed state or for one an update wrote
and never finished (a failed update exports no outputs): the update is refused either way (`acted_on`).

When the record says traffic left colour X after the last update, and config still sends traffic to
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


def acted_on(
    record: Mapping[str, Any] | None,
    state_id: str | None,
    generation: int | None = None,
    *,
    same_generation: bool = False,
) -> bool:
    """Whether `record` is a rollback the guardian made after the update that wrote `state_id` (the last
    outputs' `guardianStateId`, with `generation` their `guardianGeneration`).

    A record naming `state_id` is; so is one whose `generation` is above `generation`: an update wrote that
    state and failed before exporting its outputs (its retry still reads the old `stateId`). With
    `same_generation`, one at `generation` is too: a failed update that moved no traffic wrote it, or a
    finished one that acknowledged it (`guardianAck`, which changes the `stateId` but not the generation). Only
    the refusal asks for that (the acknowledgement lets it through); what the tool shows and watches does not,
    so an acknowledged rollback is not taken for a new one. A record without a generation (an older guardian),
    or outputs without one, keep the `stateId` rule alone."""
    if record is None or record.get("action") != "rollback":
        return False
    if record.get("stateId") == state_id:
        return True
    recorded = record.get("generation")
    if not isinstance(recorded, int) or isinstance(recorded, bool) or generation is None:
        return False
    return recorded > generation or (same_generation and recorded == generation)


def check_guardian_record(
    settings: Settings,
    last_state_id: str | None,
    record: Mapping[str, Any] | None,
    last_generation: int | None = None,
) -> None:
    """Refuse an update that sends traffic back to the colour the guardian left, until config accepts
    the rollback or acknowledges the record (`guardianAck` = the record's `at`). `last_state_id` and
    `last_generation` are the last outputs' `guardianStateId` and `guardianGeneration` (`acted_on`)."""
    if (
        last_state_id is None
        or record is None
        or not acted_on(record, last_state_id, last_generation, same_generation=True)
    ):
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
