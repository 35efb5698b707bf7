"""Traffic policies: the production split between the colours, and the preview rules.

The production listener is the listener whose default action is a weighted `forward` (a
`forward` block with `targetGroups`). Its invariants are split by what they need to see:

`production-traffic-split` is a resource policy on `aws:lb/listener:Listener`: it reads the
production listener's own inputs, so the engine runs it before the listener is created or changed,
in a preview and in the update alike (also `pulumi up --skip-preview`), and a violation stops the
step. The listener must forward to exactly two target groups, none listed twice, each with an
explicit weight; the weights add up to 100, the active colour (the largest weight) gets at least
50, the idle colour at most `maxIdleTrafficPercent`; and the forward sets a stickiness duration.

`production-traffic-targets` is a stack policy: it needs the other resources, which only
`AnalyzeStack` sees (their outputs, at the end of a preview or an update). There must be exactly
one production listener, it must forward to the blue and the green target group (and to nothing
else), and a colour whose Auto Scaling group has a desired capacity of 0 must get no weight.

`preview-rules-isolated` checks the listener rules that reach one colour directly (every rule
that forwards to a colour's target group, and every rule with a colour in its name): each must
forward to exactly one colour, the colour its name and its `X-Bluegreen-Color` condition say,
and must require the `X-Bluegreen-Token` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from bluegreen.contract import COLORS, FORWARD_STATE, STICKINESS_SECONDS, Color

from .config import setting
from .stack import (
    AUTOSCALING_GROUP,
    LISTENER,
    LISTENER_RULE,
    PREVIEW_COLOR_HEADER,
    PREVIEW_TOKEN_HEADER,
    TARGET_GROUP,
    Resource,
    StackView,
    capacity,
    production_forward,
)
from .values import Findings, is_unknown, number, plain, show

TRAFFIC_CONFIG: Final = PolicyConfigSchema(
    properties={
        "maxIdleTrafficPercent": {
            "type": "integer",
            "minimum": 0,
            "maximum": 50,
            "default": 50,
            "description": "Largest share of production traffic (percent) the idle colour may receive.",
        }
    }
)
# AWS: a target group stickiness duration is 1 second to 7 days, and required even when disabled.


def _pct(value: float) -> str:
    return f"{show(value)}%"


# -- production-traffic-split (resource policy: the listener's own inputs) -------------------------
def check_split(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LISTENER:
        return
    findings = Findings(report_violation)
    forward = production_forward(plain(args.props))
    if forward is None:
        findings.finish()
        return
    if is_unknown(forward):
        findings.defer(f"whether listener {args.name} splits production traffic")
        findings.finish()
        return
    where = f"The production listener {args.name}"
    groups = forward.get(FORWARD_STATE.target_groups)
    if is_unknown(groups) or not isinstance(groups, list):
        findings.defer(f"target groups of {args.name}")
    else:
        _check_groups(args, where, groups, findings)
    _check_stickiness(args.name, where, forward.get("stickiness"), findings)
    findings.finish()


def _check_groups(args: ResourceValidationArgs, where: str, groups: list[Any], findings: Findings) -> None:
    count = len(groups)
    if count != len(COLORS):
        noun = "target group" if count == 1 else "target groups"
        findings.violation(
            f"{where} forwards to {count} {noun}. Forward to exactly two, one per colour, with weight 0 for the "
            "colour that gets no traffic.",
            None,
        )
    arns: list[Any] = []
    weights: list[float] = []
    undecided = False
    for group in groups:
        if not isinstance(group, Mapping):
            undecided = True
            continue
        arns.append(group.get("arn"))
        weight = group.get("weight")
        if is_unknown(weight):
            undecided = True
            continue
        value = number(weight)
        if value is None:
            findings.violation(
                f"{where} forwards to {show(group.get('arn'))} without a weight. Set every target group's weight "
                "explicitly.",
                None,
            )
            continue
        weights.append(value)
    known = [a for a in arns if isinstance(a, str)]
    if any(is_unknown(a) for a in arns):
        findings.defer(f"whether {args.name} lists a target group twice")
    for arn in sorted({a for a in known if known.count(a) > 1}):
        findings.violation(
            f"{where} lists target group {show(arn)} {known.count(arn)} times. List each colour's target group "
            "exactly once.",
            None,
        )
    if undecided:
        findings.defer(f"weights of {args.name}")
    elif weights and len(weights) == count:
        max_idle = float(setting(args, TRAFFIC_CONFIG, "maxIdleTrafficPercent"))
        _check_weights(weights, max_idle, where, findings)


def _check_weights(weights: list[float], max_idle: float, where: str, findings: Findings) -> None:
    total = sum(weights)
    if total != 100:
        findings.violation(
            f"{where} has weights that add up to {show(total)}, not 100. Give the active colour 100 minus "
            "the idle colour's share.",
            None,
        )
    top = max(weights)
    if top < 50:
        findings.violation(
            f"{where} gives no target group at least 50% of production traffic (largest weight {show(top)}). "
            "The active colour must receive at least half.",
            None,
        )
    if len(weights) != len(COLORS):
        return
    idle_share = min(weights)
    if idle_share > max_idle:
        findings.violation(
            f"{where} sends {_pct(idle_share)} of production traffic to the idle colour, more than the allowed "
            f"{_pct(max_idle)} (policy config maxIdleTrafficPercent). Lower idleTrafficPercent to at most "
            f"{show(max_idle)}.",
            None,
        )


def _check_stickiness(name: str, where: str, stickiness: Any, findings: Findings) -> None:
    duration = stickiness.get("duration") if isinstance(stickiness, Mapping) else stickiness
    low, high = STICKINESS_SECONDS
    if is_unknown(stickiness) or is_unknown(duration):
        findings.defer(f"stickiness of {name}")
    elif number(duration) is None:
        findings.violation(
            f"{where} sets no stickiness duration on its weighted forward. Set forward.stickiness.duration "
            f"({low} to {high} seconds) even when stickiness is disabled: the program uses stickinessSeconds, "
            "or 1 when it is 0.",
            None,
        )
    elif not low <= (number(duration) or 0) <= high:
        findings.violation(
            f"{where} sets a stickiness duration of {show(duration)} seconds; AWS accepts {low} to {high}. Set "
            "stickinessSeconds within that range (0 turns stickiness off).",
            None,
        )


PRODUCTION_TRAFFIC = ResourceValidationPolicy(
    name="production-traffic-split",
    description=(
        "Checks whether the production listener forwards to exactly two target groups with explicit weights that "
        "add up to 100, at least 50 for the active colour, at most the configured maximum for the idle colour, "
        "and a stickiness duration."
    ),
    validate=check_split,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=TRAFFIC_CONFIG,
    remediation_steps=(
        "Keep one weighted forward on the production listener that lists both colours' target groups once, with "
        "weights activeColor = 100 - idleTrafficPercent and idle = idleTrafficPercent (at most maxIdleTrafficPercent), "
        "and a stickiness duration (1 to 604800 seconds, also when stickiness is off)."
    ),
)


# -- production-traffic-targets (stack policy: which resources the split reaches) -------------------
def check_targets(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    findings = Findings(report_violation)
    view = StackView.from_args(args)
    groups = {c: view.color_resource(TARGET_GROUP, c) for c in COLORS}
    listeners = view.production_listeners()
    if not listeners:
        undecided = [r for r in view.of_type(LISTENER) if is_unknown(production_forward(r.props))]
        if undecided:
            findings.defer("which listener is the production listener")
        elif any(groups.values()):
            findings.violation(
                "No listener forwards production traffic with weights to the blue and green target groups. "
                "Give the production listener (HTTPS when a certificate is set, else HTTP) a default forward "
                "action with one weighted target group per colour."
            )
        findings.finish()
        return
    if len(listeners) > 1:
        names = ", ".join(r.name for r in listeners)
        findings.violation(
            f"Listeners {names} all split traffic with weighted forward actions, but only one production "
            "listener may. Make the other listeners redirect to the production listener's protocol.",
            listeners[1].urn,
        )
        findings.finish()
        return

    traffic = view.traffic()
    assert traffic is not None
    listener = traffic.listener
    where = f"The production listener {listener.name}"
    if not traffic.targets:
        findings.defer(f"target groups of {listener.name}")

    seen: set[Color] = set()
    unresolved = False
    for target in traffic.targets:
        if is_unknown(target.raw):
            unresolved = True
            findings.defer(f"which target groups {listener.name} forwards to")
            continue
        res = target.resource
        if res is None or res.type != TARGET_GROUP or res.color is None:
            findings.violation(
                f"{where} forwards to {show(target.raw)}, which is not the blue or green target group. "
                "Forward only to the two colours' target groups.",
                listener.urn,
            )
            continue
        seen.add(res.color)
    for color in COLORS:
        group = groups[color]
        if group is not None and not unresolved and color not in seen:
            findings.violation(
                f"{where} does not forward to the {color} target group {group.name}. List both colours' "
                "target groups in the forward action, with weight 0 for the colour that gets no traffic.",
                listener.urn,
            )

    if not traffic.complete:
        if not unresolved and any(is_unknown(t.weight) for t in traffic.targets):
            findings.defer(f"which colours {listener.name} sends traffic to")
        findings.finish()
        return
    for color in COLORS:
        weight = traffic.weights[color]
        asg = view.color_resource(AUTOSCALING_GROUP, color)
        if weight <= 0 or asg is None:
            continue
        desired = capacity(asg, "desiredCapacity")
        if is_unknown(desired):
            findings.defer(f"capacity of {asg.name}")
        elif desired == 0:
            findings.violation(
                f"The {color} colour receives {_pct(weight)} of production traffic, but its Auto Scaling group "
                f"{asg.name} has a desired capacity of 0. Give it instances before sending it traffic, or "
                f"set its weight to 0.",
                listener.urn,
            )
    findings.finish()


PRODUCTION_TARGETS = StackValidationPolicy(
    name="production-traffic-targets",
    description=(
        "Checks whether exactly one listener splits production traffic, whether it forwards to the blue and the "
        "green target group and nothing else, and whether every colour that receives traffic has instances."
    ),
    validate=check_targets,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Give one listener (the production listener) a weighted forward that lists the blue and the green target "
        "group, and scale a colour up before sending it traffic."
    ),
)


def _forward_targets(rule: Resource) -> list[Any]:
    """The target group references a rule's forward actions send traffic to (weight > 0 or unset)."""
    actions = rule.props.get("actions")
    if is_unknown(actions):
        return [actions]
    targets: list[Any] = []
    for action in actions if isinstance(actions, list) else []:
        if is_unknown(action):
            targets.append(action)
            continue
        if not isinstance(action, Mapping) or action.get(FORWARD_STATE.type) != "forward":
            continue
        if action.get(FORWARD_STATE.single_arn) is not None:
            targets.append(action[FORWARD_STATE.single_arn])
        forward = action.get(FORWARD_STATE.forward)
        if is_unknown(forward):
            targets.append(forward)
        elif isinstance(forward, Mapping):
            groups = forward.get(FORWARD_STATE.target_groups)
            if is_unknown(groups):
                targets.append(groups)
            for group in groups if isinstance(groups, list) else []:
                if not isinstance(group, Mapping):
                    targets.append(group)
                    continue
                weight = group.get(FORWARD_STATE.weight)
                if is_unknown(weight) or weight is None or (number(weight) or 0) > 0:
                    targets.append(group.get(FORWARD_STATE.arn))
    return targets


def _header(rule: Resource, header: str) -> Any:
    """The values of a rule's http-header condition on `header`: None when absent, UNKNOWN when unknown."""
    conditions = rule.props.get("conditions")
    if is_unknown(conditions):
        return conditions
    for condition in conditions if isinstance(conditions, list) else []:
        if is_unknown(condition):
            return condition
        http = condition.get("httpHeader") if isinstance(condition, Mapping) else None
        if is_unknown(http):
            return http
        if not isinstance(http, Mapping):
            continue
        name = http.get("httpHeaderName")
        if is_unknown(name):
            return name
        if isinstance(name, str) and name.lower() == header:
            values = http.get("values")
            return values if values is not None else []
    return None


def check_preview_rules(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    findings = Findings(report_violation)
    view = StackView.from_args(args)
    for rule in view.of_type(LISTENER_RULE):
        targets = _forward_targets(rule)
        colors: list[Color] = []
        others: list[str] = []
        unknown = False
        for target in targets:
            if is_unknown(target):
                unknown = True
                continue
            res = view.resolve(target)
            if res is not None and res.type == TARGET_GROUP and res.color is not None:
                colors.append(res.color)
            else:
                others.append(res.name if res is not None else show(target))
        if rule.color is None and not colors:
            if unknown:
                findings.defer(f"whether listener rule {rule.name} reaches a colour")
            continue
        subject = f"Preview rule {rule.name}"
        if unknown:
            findings.defer(f"target groups of preview rule {rule.name}")
        elif len(set(colors)) != 1 or others:
            reached = sorted(set(colors)) + others
            findings.violation(
                f"{subject} forwards to {', '.join(reached) or 'no target group'}; a preview rule must forward "
                "to exactly one colour's target group.",
                rule.urn,
            )
        elif rule.color is not None and colors[0] != rule.color:
            findings.violation(
                f"{subject} forwards to the {colors[0]} target group although its name says {rule.color}. "
                f"Forward it to the {rule.color} target group.",
                rule.urn,
            )
        forwarded = colors[0] if not unknown and len(set(colors)) == 1 and not others else None
        _check_color_header(rule, subject, forwarded, findings)
        _check_token(rule, subject, findings)
    findings.finish()


def _check_color_header(rule: Resource, subject: str, forwarded: Color | None, findings: Findings) -> None:
    values = _header(rule, PREVIEW_COLOR_HEADER)
    if values is None or forwarded is None:
        return
    if is_unknown(values) or not isinstance(values, list) or any(is_unknown(v) for v in values):
        findings.defer(f"colour header of preview rule {rule.name}")
        return
    if [str(v).lower() for v in values] != [forwarded]:
        findings.violation(
            f"{subject} matches X-Bluegreen-Color {show(values)} but forwards to {forwarded}. Match exactly "
            f"the colour it forwards to: {forwarded!r}.",
            rule.urn,
        )


def _check_token(rule: Resource, subject: str, findings: Findings) -> None:
    values = _header(rule, PREVIEW_TOKEN_HEADER)
    if is_unknown(values):
        findings.defer(f"conditions of preview rule {rule.name}")
        return
    if values is None:
        findings.violation(
            f"{subject} does not require the X-Bluegreen-Token header, so anyone who sets the colour header "
            "reaches that colour. Add an http-header condition on X-Bluegreen-Token with the preview token.",
            rule.urn,
        )
        return
    if not isinstance(values, list) or not values or any(v == "" for v in values):
        findings.violation(
            f"{subject} requires the X-Bluegreen-Token header with an empty value {show(values)}. Match the "
            "generated preview token.",
            rule.urn,
        )


PREVIEW_RULES = StackValidationPolicy(
    name="preview-rules-isolated",
    description=(
        "Checks whether every preview rule forwards to exactly one colour, the one it is named for, and "
        "requires the preview token header."
    ),
    validate=check_preview_rules,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Give each colour one preview rule that forwards only to that colour's target group and matches both "
        "X-Bluegreen-Color: <colour> and X-Bluegreen-Token: <preview token>."
    ),
)
