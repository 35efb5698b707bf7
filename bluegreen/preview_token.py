"""The preview token: what makes a new one, and which values the preview rules accept.

Pure functions with no Pulumi or boto3 import, shared by the program (`components/service.py`,
`components/router.py`), the release tool's rotation (`bluegreen.token_rotation`) and the test
world (`tests/moto_server.py`), so all three agree.

Rotation without downtime takes two updates:

1. config `previewTokenGeneration` goes from N to N+1 and `pulumi up` makes a new token. The
   preview rules' token condition takes the new token *and* the one the last update exported
   (stack output `previewToken`), so the new token works at once and the old one keeps working
   until everyone has the new one. The outputs now name the new token, so `verify`, `bake` and
   the traffic gate use it from here on.
2. The next `pulumi up` finds the deployed token equal to the new one, and the rules take only it.

An ALB http-header condition is met when the header matches any one of its values; a condition
takes at most three values and a rule at most five in all (ELB User Guide, "Condition types for
listener rules", and the API reference's HttpHeaderConditionConfig:
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html,
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_HttpHeaderConditionConfig.html).
A preview rule has the colour (one value) and at most two tokens: three.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# `random.RandomPassword` keepers: "Arbitrary map of values that, when changed, will trigger
# recreation of resource." pulumi-random wraps terraform-provider-random (plugin framework), whose
# keepers plan modifier (`RequiresReplaceIfValuesNotNull`, internal/planmodifiers/map) also replaces
# the resource when keepers go from absent to any non-null value. So generation 1 sets no keepers at
# all: a stack deployed before this key existed keeps its token, and generation 2 is the first
# rotation.
GENERATION_KEEPER = "generation"
# ELB quotas (see above): match values per condition, and per rule.
MAX_VALUES_PER_CONDITION = 3
MAX_VALUES_PER_RULE = 5


def token_keepers(generation: int) -> dict[str, str] | None:
    """The RandomPassword `keepers` for this generation; None for generation 1 (the token every stack
    was created with)."""
    if generation < 1:
        raise ValueError(f"previewTokenGeneration must be at least 1, got {generation}")
    return None if generation == 1 else {GENERATION_KEEPER: str(generation)}


def accepted_tokens(new: str, deployed: str | None) -> list[str]:
    """The values of the preview rules' token condition: the new token first, and while a rotation
    is deployed, the token the last update exported (`deployed`). Once the deployed token is the new
    one (the update after a rotation), only it."""
    if deployed and deployed != new:
        return [new, deployed]
    return [new]


# ---------------------------------------------------------------- reading the rules back (DescribeRules)


def _header_values(condition: Mapping[str, Any], header: str) -> list[str] | None:
    if condition.get("Field") != "http-header":
        return None
    config = condition.get("HttpHeaderConfig") or {}
    name = config.get("HttpHeaderName")
    if not isinstance(name, str) or name.lower() != header.lower():  # header names match case-insensitively
        return None
    return [str(v) for v in config.get("Values") or []]


def preview_rule_tokens(
    rules: Iterable[Mapping[str, Any]], color_header: str, token_header: str, colors: Sequence[str]
) -> dict[str, list[str]]:
    """For each colour, the token values its preview rule accepts, from DescribeRules' `Rules`.

    A preview rule is one with an http-header condition on `color_header` whose only value is the
    colour; a colour without one is absent from the result, and one whose rule has no token condition
    maps to []."""
    found: dict[str, list[str]] = {}
    for rule in rules:
        conditions = rule.get("Conditions") or []
        colour_values = next((v for c in conditions if (v := _header_values(c, color_header)) is not None), None)
        if colour_values is None or len(colour_values) != 1 or colour_values[0].lower() not in colors:
            continue
        tokens = next((v for c in conditions if (v := _header_values(c, token_header)) is not None), [])
        found[colour_values[0].lower()] = tokens
    return found
