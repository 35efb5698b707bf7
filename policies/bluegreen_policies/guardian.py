"""guardian-armed: each colour's release-health alarm reaches the guardian, and the guardian can write
no listener but this stack's production listener.

- Each colour has a composite release-health alarm (a `CompositeAlarm` named with the colour word).
- An EventBridge rule's pattern names both of them with state ALARM, and one of its targets is a
  Lambda function (the guardian).
- No inline role policy allows `elasticloadbalancing:ModifyListener` (or `elasticloadbalancing:*`,
  or `*`) on `*`: the guardian may write its own listener only.

The pack checks the wiring on its own; a bug in the program cannot silence it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from bluegreen.contract import COLORS

from .stack import COMPOSITE_ALARM, StackView
from .values import Findings, is_unknown, show

EVENT_RULE: Final = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET: Final = "aws:cloudwatch/eventTarget:EventTarget"
FUNCTION: Final = "aws:lambda/function:Function"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
LISTENER_WRITES: Final = frozenset({"elasticloadbalancing:modifylistener", "elasticloadbalancing:*", "*"})


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _broad_listener_writes(document: Mapping[str, Any]) -> list[str]:
    """The actions of `document` that let a role write any listener (on `*`)."""
    found: list[str] = []
    for statement in _listed(document.get("Statement")):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _listed(statement.get("Action"))]
        if "*" in _listed(statement.get("Resource")):
            found += [a for a in actions if a.lower() in LISTENER_WRITES]
    return found


def _pattern_alarms(rule_props: Mapping[str, Any]) -> tuple[set[str], bool] | None:
    """The alarm names an event rule's pattern matches, and whether it matches ALARM state changes."""
    raw = rule_props.get("eventPattern")
    if raw is None:
        return set(), False  # a schedule rule (the guardian's look every minute) matches no events
    if is_unknown(raw) or not isinstance(raw, str):
        return None
    try:
        pattern = json.loads(raw)
    except ValueError:
        return set(), False
    detail = pattern.get("detail") if isinstance(pattern, Mapping) else None
    if not isinstance(detail, Mapping) or "CloudWatch Alarm State Change" not in _listed(pattern.get("detail-type")):
        return set(), False
    state = detail.get("state")
    alarm_state = isinstance(state, Mapping) and "ALARM" in _listed(state.get("value"))
    return {str(n) for n in _listed(detail.get("alarmName"))}, alarm_state


def check_guardian(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    findings = Findings(report_violation)
    view = StackView.from_args(args)
    health = {c: [r for r in view.of_type(COMPOSITE_ALARM) if r.color == c] for c in COLORS}
    names: dict[str, Any] = {}
    for color in COLORS:
        if len(health[color]) != 1:
            findings.violation(
                f"{color} has {len(health[color])} release-health alarms (composite alarms named with the colour); "
                "it needs exactly one, so the guardian can watch it."
            )
            continue
        names[color] = health[color][0].props.get("alarmName")
    _check_rule(view, names, findings)
    for policy in view.of_type(ROLE_POLICY):
        document = policy.props.get("policy")
        if is_unknown(document):
            findings.defer(f"the policy of {policy.name}")
            continue
        try:
            parsed = json.loads(document) if isinstance(document, str) else document
        except ValueError:
            continue
        broad = _broad_listener_writes(parsed) if isinstance(parsed, Mapping) else []
        if broad:
            findings.violation(
                f"Role policy {policy.name} allows {', '.join(broad)} on every resource: the guardian may write this "
                "stack's production listener only. Scope the statement to the listener's ARN.",
                policy.urn,
            )
    findings.finish()


def _check_rule(view: StackView, names: Mapping[str, Any], findings: Findings) -> None:
    if len(names) != len(COLORS):
        return
    if any(is_unknown(n) for n in names.values()):
        findings.defer("the names of the release-health alarms")
        return
    wanted = {str(n) for n in names.values()}
    functions = [r.props for r in view.of_type(FUNCTION)]
    for rule in view.of_type(EVENT_RULE):
        matched = _pattern_alarms(rule.props)
        if matched is None:
            findings.defer(f"the event pattern of {rule.name}")
            return
        alarms, on_alarm = matched
        if not (wanted <= alarms and on_alarm):
            continue
        targets = [t for t in view.of_type(EVENT_TARGET) if _refers(t.props.get("rule"), [rule.props])]
        if any(_refers(t.props.get("arn"), functions) for t in targets):
            return
    findings.violation(
        f"No EventBridge rule sends the ALARM state changes of {', '.join(sorted(show(n) for n in wanted))} to a "
        "Lambda function: nothing rolls back when the live colour's release health fails and no runner is there."
    )


def _refers(value: Any, candidates: list[Mapping[str, Any]]) -> bool:
    """Whether `value` names one of `candidates` by id, name or ARN. Compared directly, not through the
    stack's identifier map: an event target's own `arn` property is its function's ARN."""
    if is_unknown(value):
        return True  # a reference not known yet in a preview: the wiring is the program's, checked on update
    return any(value in (c.get("id"), c.get("name"), c.get("arn")) for c in candidates)


GUARDIAN_ARMED = StackValidationPolicy(
    name="guardian-armed",
    description=(
        "Checks whether each colour's release-health alarm reaches the guardian Lambda, and whether no role "
        "policy lets anything write every listener."
    ),
    validate=check_guardian,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Give each colour one composite release-health alarm, route their ALARM state changes to the guardian "
        "with an EventBridge rule and target, and scope elasticloadbalancing:ModifyListener to the listener's ARN."
    ),
)
