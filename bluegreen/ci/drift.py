"""The deploy workflow's drift guard: never silently undo a traffic move made outside git.

`drift_guard(base_config, config, outputs)` refuses a deploy when the live traffic differs from the
config of the commit before the push (traffic was moved by the release tool or the switch and
rollback workflows) unless the push records exactly the live traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen.ci.summary import SummaryError, traffic_from_config, traffic_from_outputs
from bluegreen.contract import COLORS, FORWARD_API, Outputs, forward_weights


@dataclass(frozen=True)
class GuardDecision:
    """The drift guard's verdict: `refuse` stops the deploy; `message` says why (or what it noticed)."""

    refuse: bool
    message: str | None = None


FORCE_HINT = "run the deploy workflow by hand with force: true to apply the config as it is"


def drift_guard(base_config: Mapping[str, str], config: Mapping[str, str], outputs: Mapping[str, Any]) -> GuardDecision:
    """Whether deploying `config` would silently move traffic that was moved outside git.

    `base_config` is the stack's config before this change (the commit before the push). The
    stack's live outputs (`activeColor`, `blueWeight`, `greenWeight`) should match it: main is
    meant to record where traffic is. When they differ, someone switched or rolled back with the
    release tool or the switch/rollback workflows and main does not record it yet. Deploying then
    is refused, whether or not this change touches traffic, unless this change asks for exactly
    the live traffic (it is the change that records it). Nothing deployed yet: nothing to guard.
    """
    live = traffic_from_outputs(outputs)
    if live is None:
        return GuardDecision(False)
    base = traffic_from_config(base_config)
    wanted = traffic_from_config(config)
    if live.same_as(base):
        return GuardDecision(False)  # main recorded the live traffic; a traffic change here is deliberate
    if live.same_as(wanted):
        return GuardDecision(
            False,
            f"live traffic ({live.describe()}) was moved outside git away from {base.describe()}; "
            "this change records it, so deploying leaves traffic where it is.",
        )
    asks = "leaves traffic alone" if base.same_as(wanted) else f"asks for {wanted.describe()}"
    return GuardDecision(
        True,
        f"live traffic is {live.describe()} but the config before this change says {base.describe()} "
        f"and this change {asks}: the stack was switched or rolled back outside git and main does not "
        "record it. Record the live traffic (activeColor, idleTrafficPercent, rollbackColor) in the stack "
        f"file first (a change that asks for exactly {live.describe()} passes), or {FORCE_HINT}.",
    )


def unrecorded_traffic_change(
    base_config: Mapping[str, str], config: Mapping[str, str], outputs: Mapping[str, Any]
) -> str | None:
    """Why `drift_guard` refuses to deploy `config`, or None when it lets it through."""
    decision = drift_guard(base_config, config, outputs)
    return decision.message if decision.refuse else None


def listener_drift(outputs: Mapping[str, Any], described: Mapping[str, Any]) -> str | None:
    """Why the live production listener contradicts the last outputs, or None when it agrees.

    `described` is `aws elbv2 describe-listeners --listener-arns <listenerArn>` as JSON. After an
    interrupted flip the outputs can say green while the listener sends everything to blue; deploying
    then would act on the wrong colour, so the deploy is refused until the tool reconciles.
    """
    listeners = described.get("Listeners")
    if not isinstance(listeners, list) or len(listeners) != 1 or not isinstance(listeners[0], Mapping):
        raise SummaryError("--listener holds no single listener (expected `aws elbv2 describe-listeners` output)")
    found = forward_weights(listeners[0].get("DefaultActions"), FORWARD_API) or {}
    live = {c: int(found.get(outputs.get(Outputs.TARGET_GROUP_ARN.name(c)), 0)) for c in COLORS}
    recorded = {c: int(outputs.get(Outputs.WEIGHT.name(c)) or 0) for c in COLORS}
    if live == recorded:
        return None
    serving = max(COLORS, key=lambda c: live[c])
    shown = " ".join(f"{c}={live[c]}" for c in COLORS)
    said = " ".join(f"{c}={recorded[c]}" for c in COLORS)
    return (
        f"the production listener sends {shown}, but the last outputs say {said} (a flip or rollback was "
        f"interrupted, or the listener was changed by hand): reconcile first with `bluegreen rollback --to "
        f"{serving}`, which puts config and outputs on what the listener does, then deploy"
    )
