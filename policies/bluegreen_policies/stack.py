"""A read-only view of the stack that the stack policies share.

It knows the naming contract of docs/design.md: per-colour resources carry the colour as a
dash-separated word of their logical name (`bluegreen-blue-lt`, `bluegreen-router-preview-green`;
the project name `bluegreen` is not a colour word) and a `bluegreen:color` tag; twins differ only
by that word. It resolves references (ARNs, ids, ARN suffixes, names) to the resources in the
stack, and finds the production listener: the listener whose default action is a weighted
`forward`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pulumi_policy import StackValidationArgs

# The names the pack shares with the program (colours, tag keys, headers) come from the contract;
# the rules over them are the pack's own, so a bug in the program cannot silence a policy.
from bluegreen.contract import (
    COLOR_TAG,
    COLORS,
    DATABASE_SCHEMA_VERSION_TAG,
    FORWARD_STATE,
    IDLE_SCALED_DOWN_TAG,
    Color,
    other,
)
from bluegreen.contract import PREVIEW_COLOR_HEADER as _COLOR_HEADER
from bluegreen.contract import PREVIEW_TOKEN_HEADER as _TOKEN_HEADER

from .values import UNKNOWN, is_unknown, number, plain, tag_map

LAUNCH_TEMPLATE: Final = "aws:ec2/launchTemplate:LaunchTemplate"
AUTOSCALING_GROUP: Final = "aws:autoscaling/group:Group"
TARGET_GROUP: Final = "aws:lb/targetGroup:TargetGroup"
LISTENER: Final = "aws:lb/listener:Listener"
LISTENER_RULE: Final = "aws:lb/listenerRule:ListenerRule"
LOAD_BALANCER: Final = "aws:lb/loadBalancer:LoadBalancer"
SECURITY_GROUP: Final = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE: Final = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE: Final = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
METRIC_ALARM: Final = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM: Final = "aws:cloudwatch/compositeAlarm:CompositeAlarm"

SCHEMA_VERSION_TAG: Final = DATABASE_SCHEMA_VERSION_TAG
# ALB header names match case-insensitively; the pack compares them lower-cased.
PREVIEW_COLOR_HEADER: Final = _COLOR_HEADER.lower()
PREVIEW_TOKEN_HEADER: Final = _TOKEN_HEADER.lower()

# Resources that the engine adds next to the program's own registrations: the root stack, stack
# references (the release guard reads the stack's last outputs through one) and providers
# (`pulumi:providers:<package>`). They carry no cloud properties of the colours.
ENGINE_TYPES: Final = frozenset({"pulumi:pulumi:Stack", "pulumi:pulumi:StackReference"})
PROVIDER_TYPE_PREFIX: Final = "pulumi:providers:"
# Identifier properties through which one resource refers to another.
_IDENTIFIER_KEYS: Final = ("id", "arn", "arnSuffix", "name")

HUMAN_TYPES: Final[Mapping[str, str]] = {
    LAUNCH_TEMPLATE: "launch template",
    AUTOSCALING_GROUP: "Auto Scaling group",
    TARGET_GROUP: "target group",
    LISTENER_RULE: "listener rule",
    METRIC_ALARM: "alarm",
    COMPOSITE_ALARM: "composite alarm",
    LISTENER: "listener",
    LOAD_BALANCER: "load balancer",
    SECURITY_GROUP: "security group",
}


def color_in_name(name: str) -> Color | None:
    """The colour word of a logical name, or None when it has none (or both)."""
    words = name.split("-")
    found = [c for c in COLORS if c in words]
    return found[0] if len(found) == 1 else None


def role_of(name: str, color: Color) -> str:
    """The name with its colour word replaced by `<colour>`: the same for both twins."""
    return "-".join("<colour>" if word == color else word for word in name.split("-"))


def is_engine_resource(type_: str) -> bool:
    """The root stack, a stack reference or a provider: not one of the program's cloud resources."""
    return type_ in ENGINE_TYPES or type_.startswith(PROVIDER_TYPE_PREFIX)


def is_component(type_: str) -> bool:
    """The program's own component resources (`bluegreen:aws:*`) have no cloud properties."""
    return type_.split(":", 1)[0] == "bluegreen"


def human_type(type_: str) -> str:
    if type_ in HUMAN_TYPES:
        return HUMAN_TYPES[type_]
    if is_component(type_):
        return f"{type_.rsplit(':', 1)[-1]} component"
    return type_


@dataclass(frozen=True)
class Resource:
    """One resource of the stack with plain properties (see values.plain)."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    color: Color | None = None
    # True when the colour comes from the logical name, False when only from the colour tag.
    named: bool = True

    @property
    def human(self) -> str:
        return human_type(self.type)


@dataclass(frozen=True)
class ForwardTarget:
    """One target group of a forward action: what it refers to, and its weight."""

    raw: Any  # the ARN as written, or UNKNOWN
    resource: Resource | None
    weight: Any  # number, None when unset, or UNKNOWN


@dataclass
class Traffic:
    """The production listener's split, as far as it is known."""

    listener: Resource
    targets: list[ForwardTarget]
    # colour -> weight, filled only when every target maps to a colour and has a known weight
    weights: dict[Color, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return len(self.weights) == len(COLORS)

    @property
    def live(self) -> set[Color]:
        """The colour(s) with the largest weight: both at 50/50."""
        if not self.complete:
            return set()
        top = max(self.weights.values())
        return {c for c in COLORS if self.weights[c] == top}

    @property
    def idle(self) -> Color | None:
        live = self.live
        return other(next(iter(live))) if len(live) == 1 else None


class StackView:
    def __init__(self, resources: Sequence[Resource]) -> None:
        self.resources = list(resources)
        ids: dict[str, list[Resource]] = {}
        for res in self.resources:
            for ident in _identifiers(res):
                ids.setdefault(ident, []).append(res)
        # A string that names more than one resource does not identify either.
        self._by_identifier = {k: v[0] for k, v in ids.items() if len({r.urn for r in v}) == 1}

    @classmethod
    def from_args(cls, args: StackValidationArgs) -> StackView:
        resources = []
        for res in args.resources:
            if is_engine_resource(res.resource_type):
                continue
            props = plain(res.props)
            color = color_in_name(res.name)
            tagged = tag_map(props).get(COLOR_TAG)
            if color is None and tagged in COLORS:
                resources.append(Resource(res.resource_type, res.name, res.urn, props, tagged, named=False))
            else:
                resources.append(Resource(res.resource_type, res.name, res.urn, props, color))
        return cls(resources)

    # -- lookups ---------------------------------------------------------------------------
    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def colored(self) -> list[Resource]:
        return [r for r in self.resources if r.color is not None]

    def resolve(self, value: Any) -> Resource | None:
        """The stack resource that a string refers to by id, ARN, ARN suffix or name."""
        if isinstance(value, str):
            return self._by_identifier.get(value)
        return None

    def color_resource(self, type_: str, color: Color) -> Resource | None:
        """The one resource of a type for a colour (e.g. its target group), if exactly one."""
        found = [r for r in self.of_type(type_) if r.color == color]
        return found[0] if len(found) == 1 else None

    def canonical(self, value: Any) -> Any:
        """What a reference points at: the resource's URN when it is in the stack, else the value."""
        res = self.resolve(value)
        return res.urn if res is not None else value

    # -- the production listener -------------------------------------------------------------
    def production_listeners(self) -> list[Resource]:
        return [r for r in self.of_type(LISTENER) if weighted_forward(r.props) is not None]

    def traffic(self) -> Traffic | None:
        """The split of the one production listener; None if there is not exactly one."""
        listeners = self.production_listeners()
        if len(listeners) != 1:
            return None
        listener = listeners[0]
        forward = weighted_forward(listener.props)
        targets: list[ForwardTarget] = []
        raw_groups = forward.get(FORWARD_STATE.target_groups) if isinstance(forward, Mapping) else UNKNOWN
        if isinstance(raw_groups, list):
            for group in raw_groups:
                if not isinstance(group, Mapping):
                    targets.append(ForwardTarget(UNKNOWN, None, UNKNOWN))
                    continue
                arn = group.get(FORWARD_STATE.arn)
                weight = group.get(FORWARD_STATE.weight)
                targets.append(ForwardTarget(arn, self.resolve(arn), weight))
        traffic = Traffic(listener, targets)
        if isinstance(raw_groups, list):
            weights: dict[Color, float] = {}
            for target in targets:
                res = target.resource
                weight = number(target.weight)
                if res is None or res.type != TARGET_GROUP or res.color is None or weight is None:
                    return traffic
                if res.color in weights:
                    return traffic
                weights[res.color] = weight
            if len(weights) == len(COLORS):
                traffic.weights = weights
        return traffic

    def listener_tag(self, key: str) -> Any:
        """A tag of the production listener: None when missing, UNKNOWN when not known yet."""
        listeners = self.production_listeners()
        if len(listeners) != 1:
            return None
        props = listeners[0].props
        if is_unknown(props.get("tags")):
            return UNKNOWN
        return tag_map(props).get(key)

    def idle_scaled_down(self) -> bool | None:
        """The production listener's `bluegreen:idleScaledDown` tag; None when unknown."""
        value = self.listener_tag(IDLE_SCALED_DOWN_TAG)
        if is_unknown(value):
            return None
        return isinstance(value, str) and value.strip().lower() == "true"


def production_forward(props: Mapping[str, Any]) -> Any:
    """The weighted `forward` block of a listener's default actions (plain props).

    None when the listener has none (it is not the production listener), UNKNOWN when a preview
    does not know yet whether it has one. Field names: `bluegreen.contract.FORWARD_STATE`.
    """
    actions = props.get("defaultActions")
    if is_unknown(actions):
        return UNKNOWN
    undecided = False
    for action in actions if isinstance(actions, list) else []:
        if not isinstance(action, Mapping):
            undecided = undecided or is_unknown(action)
            continue
        kind = action.get(FORWARD_STATE.type)
        if is_unknown(kind):
            undecided = True
        elif kind == "forward":
            forward = action.get(FORWARD_STATE.forward)
            if is_unknown(forward):
                undecided = True
            elif isinstance(forward, Mapping) and FORWARD_STATE.target_groups in forward:
                return forward
    return UNKNOWN if undecided else None


def weighted_forward(props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The `forward` block of a listener's weighted default action, when it is known to have one."""
    forward = production_forward(props)
    return forward if isinstance(forward, Mapping) else None


def _identifiers(res: Resource) -> Iterable[str]:
    """What other resources may use to refer to this one. Outputs always carry the resource's `id`
    (a security group's `sg-…`, a launch template's `lt-…`, a target group's ARN)."""
    for key in _IDENTIFIER_KEYS:
        value = res.props.get(key)
        if isinstance(value, str) and value:
            yield value


def capacity(asg: Resource, field_name: str) -> Any:
    """An Auto Scaling group's capacity field; `desiredCapacity` falls back to `minSize`."""
    value = asg.props.get(field_name)
    if field_name == "desiredCapacity" and value is None:
        value = asg.props.get("minSize")
    if is_unknown(value):
        return UNKNOWN
    return number(value)
