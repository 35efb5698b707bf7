"""`gateBypass=true` and `guardianArmed=off` apply to one update (issue 22): the program exports that an update
used them (output emergencyOverrides), and refuses the next update that still sets one unless `emergencyAck`
confirms it for that update, before anything is registered."""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen.safety import EmergencyOverrideError
from tests.harness import Recording, deployed, run_failing, run_program

# The update that used the override, as its outputs say. A fixed time, so no two updates of a test share it.
USED_AT = "2026-12-01T08:00:00Z"


def used(rec: Recording) -> dict[str, Any]:
    """`rec`'s outputs with the override's time fixed at USED_AT."""
    outputs = deployed(rec)
    outputs["emergencyOverrides"] = {**outputs["emergencyOverrides"], "usedAt": USED_AT}
    return outputs


@pytest.fixture(scope="module")
def bypassed() -> Recording:
    return run_program({"gateBypass": True})


def test_an_update_exports_the_overrides_it_ran_with(bypassed: Recording) -> None:
    assert run_program().outputs["emergencyOverrides"] == {}
    overrides = bypassed.outputs["emergencyOverrides"]
    assert overrides == {"usedAt": overrides["usedAt"], "gateBypass": True}
    assert overrides["usedAt"].endswith("Z")


def test_the_next_update_that_still_bypasses_the_gate_is_refused_before_anything_is_registered(
    bypassed: Recording,
) -> None:
    error, registered = run_failing({"gateBypass": True, "activeColor": "green"}, used(bypassed))

    assert isinstance(error, EmergencyOverrideError) and registered == []
    assert str(error) == (
        f"gateBypass=true already applied to the last update (emergencyOverrides usedAt {USED_AT}), and it applies "
        "to one update only: set gateBypass=false for this update, or, if the emergency still needs it, confirm it "
        f"for this one more update with `pulumi config set bluegreen:emergencyAck {USED_AT}`"
    )


def test_a_preview_refuses_it_too(bypassed: Recording) -> None:
    with pytest.raises(EmergencyOverrideError):
        run_program({"gateBypass": True}, used(bypassed), preview=True)


def test_confirming_it_for_the_update_lets_one_more_update_through(bypassed: Recording) -> None:
    again = run_program({"gateBypass": True, "emergencyAck": USED_AT, "activeColor": "green"}, used(bypassed))

    assert again.outputs["activeColor"] == "green"
    assert again.outputs["emergencyOverrides"]["gateBypass"] is True
    assert again.outputs["emergencyOverrides"]["usedAt"] != USED_AT  # the acknowledgement is used up with it


def test_turning_it_off_needs_nothing_and_clears_the_output(bypassed: Recording) -> None:
    after = run_program({"activeColor": "green"}, used(bypassed))
    assert after.outputs["emergencyOverrides"] == {}
    assert run_program({"gateBypass": True}, deployed(after)).outputs["emergencyOverrides"]["gateBypass"] is True


def test_a_disarmed_guardian_applies_to_one_update_too() -> None:
    off = run_program({"guardianArmed": "off"})
    assert off.outputs["emergencyOverrides"]["guardianArmed"] == "off"

    error, registered = run_failing({"guardianArmed": "off"}, used(off))
    assert isinstance(error, EmergencyOverrideError) and registered == []
    assert "guardianArmed=off already applied to the last update" in str(error)
    assert "set guardianArmed=bake for this update" in str(error)
    # The other override is a first use: allowed, and both are recorded.
    both = run_program({"guardianArmed": "bake", "gateBypass": True}, used(off))
    assert set(both.outputs["emergencyOverrides"]) == {"usedAt", "gateBypass"}
