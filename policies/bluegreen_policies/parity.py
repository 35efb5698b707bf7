"""blue-green-parity: the two colours are twins that differ only in their release.

Every per-colour resource (launch template, Auto Scaling group, target group, preview rule,
alarms, and anything else whose logical name carries the colour word) is paired with its twin,
the resource of the same type whose name has the other colour word. A resource without a twin
is a violation. Twins are compared property by property, recursing into nested structures
(health checks, block devices, metadata options, tag lists) so that each difference names its
path, e.g. `metadataOptions.httpTokens` or `tags[team].value`.

## The allowlist: what may differ between twins

Everything else is compared. Each entry of `ALLOWED` below says why it may differ; in short:

- All resources: `id`, `arn`, `arnSuffix`, `name`, `namePrefix`, `urn` (each resource's own
  identity).
- All resources: the tags `Name`, `bluegreen:color`, `bluegreen:release`, `bluegreen:imageId`,
  `bluegreen:schemaVersions` and `bluegreen:spec`, in `tags`, `tagSpecifications[*].tags` and an Auto Scaling
  group's `tags[<key>].value` (names, the colour tag and the release tags).
- Output-only attributes that the provider computes and that are captured when each resource was
  last read or written, so twins written at different times differ (`AnalyzeStack` sees
  outputs): `tagsAll` (`tags` plus the provider's `defaultTags`; `tags` is compared), target
  group `loadBalancerArns`, launch template `latestVersion`, Auto Scaling group
  `predictedCapacity` and `warmPoolSize`. These, `arn` and `arnSuffix` are every output-only
  attribute of the paired types in pulumi-aws 7.51.1 (`tests/test_policy_parity.py` checks the
  SDK's classes for new ones).
- Derived attributes: an Auto Scaling group's `availabilityZones` while both twins set
  `vpcZoneIdentifiers` (the provider fills it in from the subnets, which are compared).
- Launch template: `imageId` and `userData` (the release); `defaultVersion` (a version counter,
  one per template).
- Launch template `instanceType`, root `volumeSize` and the network interface's `securityGroups`,
  target group `port`, `healthCheck.*` and `deregistrationDelay`, Auto Scaling group
  `healthCheckGracePeriod` and `waitForCapacityTimeout` (the release spec's settings), only where the
  colours' `bluegreen:spec` tags differ and each is the fingerprint of what that colour's resources
  run (`SPEC_PATHS`, and the settings a spec has only away from their defaults).
- Auto Scaling group: `launchTemplate.version` when it is a version number or not known yet
  (the counter of the colour's own template; `$Latest` and `$Default` are compared).
- Auto Scaling group: `desiredCapacity`, `minSize`, `waitForElbCapacity` and `minElbCapacity`,
  only while the production listener is tagged `bluegreen:idleScaledDown=true` (the idle colour
  is scaled down on purpose; `rollback-readiness` checks capacity instead).
- Listener rule: `priority` (ALB requires a unique priority per rule), and the values of the
  `X-Bluegreen-Color` header condition when they are the rule's own colour.
- Listener rule: the values of the `X-Bluegreen-Token` header condition are compared but printed
  as `<preview token>`, never in clear.
- Alarm: `alarmDescription`, read with the resource's own colour word as `<colour>`.
- All resources: any string that refers to a per-colour resource of the resource's own colour
  by ARN, id, ARN suffix or name (`targetGroupArns`, `launchTemplate.id`/`name`, the
  `TargetGroup` alarm dimension, a rule's `targetGroupArn`). Each colour points at its own twin;
  pointing at the other colour's resource is reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from bluegreen.contract import (
    COLOR_TAG,
    COLORS,
    DEFAULT_CAPACITY_TIMEOUT,
    DEFAULT_HEALTH_CHECK_GRACE_PERIOD_SECONDS,
    IMAGE_ID_TAG,
    RELEASE_TAG,
    SCHEMA_VERSIONS_TAG,
    SPEC_TAG,
    Color,
    Keys,
    other,
    settings_fingerprint,
)

from .provider_sets import is_set_field
from .stack import (
    AUTOSCALING_GROUP,
    COMPOSITE_ALARM,
    LAUNCH_TEMPLATE,
    LISTENER_RULE,
    METRIC_ALARM,
    PREVIEW_COLOR_HEADER,
    PREVIEW_TOKEN_HEADER,
    SECURITY_GROUP,
    TARGET_GROUP,
    Resource,
    StackView,
    is_component,
    role_of,
)
from .values import UNKNOWN, Findings, is_unknown, number, show, tag_map

ALARM_TYPES: Final = frozenset({METRIC_ALARM, COMPOSITE_ALARM})
# Alarm strings that carry the colour word: the description, and a composite alarm's name and rule.
COLOUR_WORDED: Final = frozenset({("alarmDescription",), ("alarmName",), ("alarmRule",)})
RELEASE_TAGS: Final = ("Name", COLOR_TAG, RELEASE_TAG, IMAGE_ID_TAG, SCHEMA_VERSIONS_TAG, SPEC_TAG)
# The settings a colour's release spec declares (`bluegreen.release_spec`), by config key, and where its
# resources hold them. They may differ between the colours only where the colours' `bluegreen:spec` tags
# differ, and each colour's tag must then be the fingerprint of what its resources run.
SPEC_PATHS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    LAUNCH_TEMPLATE: {
        Keys.INSTANCE_TYPE.key: ("instanceType",),
        Keys.ROOT_VOLUME_SIZE_GB.key: ("blockDeviceMappings", "*", "ebs", "volumeSize"),
    },
    TARGET_GROUP: {
        Keys.APP_PORT.key: ("port",),
        Keys.HEALTH_CHECK_PATH.key: ("healthCheck", "path"),
        Keys.HEALTH_CHECK_MATCHER.key: ("healthCheck", "matcher"),
        Keys.HEALTH_CHECK_INTERVAL_SECONDS.key: ("healthCheck", "interval"),
        Keys.HEALTH_CHECK_TIMEOUT_SECONDS.key: ("healthCheck", "timeout"),
        Keys.HEALTHY_THRESHOLD.key: ("healthCheck", "healthyThreshold"),
        Keys.UNHEALTHY_THRESHOLD.key: ("healthCheck", "unhealthyThreshold"),
        Keys.DEREGISTRATION_DELAY_SECONDS.key: ("deregistrationDelay",),
    },
}
SPEC_TEXT_KEYS: Final = frozenset({Keys.INSTANCE_TYPE.key, Keys.HEALTH_CHECK_PATH.key, Keys.HEALTH_CHECK_MATCHER.key})
# Release-spec settings a spec declares only away from their defaults (`bluegreen.release_spec`), and where the
# colour's resources hold them: the Auto Scaling group's grace period, and the security groups the launch
# template adds to the stack's own. (`instanceEgress` is on the shared instance security group: no colour's
# resources carry it, and the `bluegreen:spec` tag leaves it out.)
GRACE_PERIOD_PATH: Final = ("healthCheckGracePeriod",)
CAPACITY_TIMEOUT_PATH: Final = ("waitForCapacityTimeout",)
SECURITY_GROUPS_PATH: Final = ("networkInterfaces", "*", "securityGroups")
# The colour's own instance role: its policies (`instancePolicyArns`) are part of the release spec. A colour
# without policies has no role, no profile and no `iamInstanceProfile`, so where the specs differ these may
# exist for one colour only.
ROLE_POLICY_ATTACHMENT: Final = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
INSTANCE_ROLE_TYPES: Final = frozenset(
    {"aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile", ROLE_POLICY_ATTACHMENT}
)
IDENTITY_KEYS: Final = ("id", "arn", "arnSuffix", "name", "namePrefix", "urn")
CAPACITY_KEYS: Final = ("desiredCapacity", "minSize", "waitForElbCapacity", "minElbCapacity")


def _condition_key(item: Mapping[str, Any]) -> Any:
    """A listener rule condition's natural key: the header it matches, else the kind of condition."""
    header = item.get("httpHeader")
    if isinstance(header, Mapping):
        return header.get("httpHeaderName")
    return next((kind for kind, value in item.items() if value not in (None, [], {})), None)


# Lists whose items have a natural key: paired by it rather than by position.
LIST_KEYS: Final[Mapping[str, str | Callable[[Mapping[str, Any]], Any]]] = {
    "tags": "key",
    "blockDeviceMappings": "deviceName",
    "tagSpecifications": "resourceType",
    "metricQueries": "id",
    "conditions": _condition_key,
}
ANY: Final = "*"
# How secret values print: compared, never shown.
PREVIEW_TOKEN_SHOWN: Final = "<preview token>"
HEADER_VALUE_SHOWN: Final = "<header value>"
SECRET_SHOWN: Final = (PREVIEW_TOKEN_SHOWN, HEADER_VALUE_SHOWN)
ALL_TYPES: Final = "*"


@dataclass(frozen=True)
class Key:
    """A path segment that selects a list item by its natural key, e.g. `tags[team]`."""

    value: str


Segment = str | int | Key
Path = tuple[Segment, ...]


@dataclass(frozen=True)
class Allowed:
    """One allowlist entry: a path pattern (`*` matches one segment) that may differ, and why."""

    type: str  # a resource type, or ALL_TYPES
    pattern: tuple[str, ...]
    reason: str


def _allowed(specs_differ: bool = False) -> list[Allowed]:
    entries = [Allowed(ALL_TYPES, (key,), "the resource's own identity") for key in IDENTITY_KEYS]
    if specs_differ:
        entries += [
            Allowed(type_, path, f"{key} is part of the release: the colours' release specs declare different values")
            for type_, paths in SPEC_PATHS.items()
            for key, path in paths.items()
        ]
        entries.append(
            Allowed(
                LAUNCH_TEMPLATE,
                ("iamInstanceProfile",),
                "instancePolicyArns is part of the release: a colour without policies has no instance profile",
            )
        )
        entries += [
            Allowed(
                LAUNCH_TEMPLATE,
                path,
                "detailedMonitoring is part of the release: a colour without it has no monitoring block",
            )
            for path in (("monitoring",), ("monitoring", "enabled"))
        ]
        entries += [
            Allowed(
                AUTOSCALING_GROUP,
                GRACE_PERIOD_PATH,
                "healthCheckGracePeriodSeconds is part of the release: the colours' release specs declare different "
                "values",
            ),
            Allowed(
                AUTOSCALING_GROUP,
                CAPACITY_TIMEOUT_PATH,
                "capacityTimeout is part of the release: the colours' release specs declare different values",
            ),
            *(
                Allowed(
                    LAUNCH_TEMPLATE,
                    path,
                    "extraSecurityGroupIds is part of the release: the colours' release specs declare different groups",
                )
                for path in (SECURITY_GROUPS_PATH, (*SECURITY_GROUPS_PATH, ANY))
            ),
        ]
    for tag in RELEASE_TAGS:
        why = "names, the colour tag and the release tags are per colour"
        entries += [
            Allowed(ALL_TYPES, ("tags", tag), why),
            Allowed(ALL_TYPES, ("tagSpecifications", ANY, "tags", tag), why),
            Allowed(ALL_TYPES, ("tags", f"[{tag}]", "value"), why),  # a `[{key, value}]` tag list
        ]
    entries += [
        # Output-only attributes (in the resource's state but not in its args), computed by the
        # provider and captured when the resource was last read or written.
        Allowed(
            ALL_TYPES,
            ("tagsAll",),
            "output only: `tags` merged with the provider's defaultTags as they were when the resource was last "
            "written; `tags` is compared, and the default tags belong to the provider, not to a colour",
        ),
        Allowed(
            TARGET_GROUP,
            ("loadBalancerArns",),
            "output only: the load balancers routing to the group, refreshed only when that group is created or "
            "updated (after a stage updates one colour's group, only its list names the ALB)",
        ),
        Allowed(
            LAUNCH_TEMPLATE,
            ("latestVersion",),
            "output only: the template's version counter, which grows with each release of that colour",
        ),
        Allowed(
            AUTOSCALING_GROUP,
            ("predictedCapacity",),
            "output only: AWS's predictive-scaling forecast, as read when the group was last read",
        ),
        Allowed(
            AUTOSCALING_GROUP,
            ("warmPoolSize",),
            "output only: the warm pool's current size, as read when the group was last read (the `warmPool` "
            "input is compared)",
        ),
        Allowed(LAUNCH_TEMPLATE, ("imageId",), "the release: each colour runs its own image"),
        Allowed(LAUNCH_TEMPLATE, ("userData",), "the release: each colour runs its own build"),
        Allowed(
            LAUNCH_TEMPLATE,
            ("defaultVersion",),
            "a version counter of the colour's own template (updateDefaultVersion makes it follow latestVersion)",
        ),
        Allowed(LISTENER_RULE, ("priority",), "ALB requires a unique priority for every rule of a listener"),
    ]
    return entries


Allowlist = Mapping[str, list[tuple[str, ...]]]


def allowlist(specs_differ: bool = False) -> Allowlist:
    """Type -> the paths that may differ; built once per check (`check_parity`), not at import.

    With `specs_differ` (the colours' `bluegreen:spec` tags differ), the release-spec settings may differ too.
    """
    entries = _allowed(specs_differ)
    return {type_: [entry.pattern for entry in entries if entry.type == type_] for type_ in {e.type for e in entries}}


# Attributes that the provider derives from another input when the program does not set them:
# (type, attribute) -> the input. Skipped while both twins set the input, which is compared.
DERIVED: Final[Mapping[tuple[str, str], str]] = {
    # pulumi-aws: availabilityZones "Conflicts with vpc_zone_identifier"; the subnets determine the zones.
    (AUTOSCALING_GROUP, "availabilityZones"): "vpcZoneIdentifiers",
}


def _matches(path: Path, pattern: tuple[str, ...]) -> bool:
    if len(path) != len(pattern):
        return False
    for segment, part in zip(path, pattern, strict=True):
        if part == ANY:
            continue
        if isinstance(segment, Key):
            if part != f"[{segment.value}]":
                return False
        elif segment != part:
            return False
    return True


def allowlisted(type_: str, path: Path, patterns: Allowlist | None = None) -> bool:
    patterns = allowlist() if patterns is None else patterns
    return any(_matches(path, p) for p in patterns[ALL_TYPES] + patterns.get(type_, []))


def _derived_skips(type_: str, pair: list[Resource]) -> frozenset[Path]:
    """The derived attributes to skip for a pair of twins: those whose input both twins set."""
    skips = set()
    for (derived_type, attribute), source in DERIVED.items():
        if derived_type == type_ and all(_is_set(res.props.get(source)) for res in pair):
            skips.add((attribute,))
    return frozenset(skips)


def _is_set(value: Any) -> bool:
    return is_unknown(value) or value not in (None, [], "", {})


@dataclass(frozen=True)
class Leaf:
    """A normalised scalar: `key` is compared, `shown` is what a message prints."""

    key: Any
    shown: str


class _Normaliser:
    def __init__(
        self, view: StackView, res: Resource, capacity_mode: str, derived: frozenset[Path], allowed: Allowlist
    ) -> None:
        self.view = view
        self.allowed = allowed
        self.res = res
        self.color = res.color
        self.capacity_mode = capacity_mode
        self.derived = derived

    def run(self) -> Any:
        return self.value(dict(self.res.props), ())

    def value(self, value: Any, path: Path) -> Any:
        if isinstance(value, Mapping):
            out: dict[Segment, Any] = {}
            for key, item in value.items():
                sub = (*path, key)
                if not self.skipped(sub):
                    out[key] = self.value(item, sub)
            return out
        if isinstance(value, list):
            natural = LIST_KEYS.get(str(path[-1])) if path else None
            keys = (
                [
                    natural(item) if callable(natural) else item.get(natural)
                    for item in value
                    if isinstance(item, Mapping)
                ]
                if natural
                else []
            )
            if keys and len(keys) == len(value) == len(set(keys)) and all(isinstance(k, str) for k in keys):
                keyed: dict[Segment, Any] = {}
                for item, k in zip(value, keys, strict=True):
                    sub = (*path, Key(str(k)))
                    if not self.skipped(sub):
                        keyed[Key(str(k))] = self.value(item, sub)
                return keyed
            items = [self.value(item, (*path, i)) for i, item in enumerate(value)]
            # The provider stores sets in hash order, not program order: compare them as sets.
            return SetList(items) if is_set_field(self.res.type, _indexed(path)) else items
        return self.leaf(value, path)

    def skipped(self, path: Path) -> bool:
        if allowlisted(self.res.type, path, self.allowed) or path in self.derived:
            return True
        if self.res.type == AUTOSCALING_GROUP and path in {(k,) for k in CAPACITY_KEYS}:
            return self.capacity_mode == "skip"
        return False

    def leaf(self, value: Any, path: Path) -> Any:
        if self.res.type == AUTOSCALING_GROUP and path == ("launchTemplate", "version") and _version_number(value):
            return Leaf("<pinned version>", show(value))
        if is_unknown(value):
            return Leaf(UNKNOWN, show(UNKNOWN))
        if isinstance(value, str):
            return self.string(value, path)
        return value

    def string(self, value: str, path: Path) -> Any:
        target = self.view.resolve(value)
        if target is not None and target.color is not None:
            same = target.color == self.color
            return Leaf(("ref", target.type, role_of(target.name, target.color), same), f"<{target.name}>")
        if (
            self.res.type == LISTENER_RULE
            and self._header_of(path) == PREVIEW_COLOR_HEADER
            and value.lower() == self.color
        ):
            return Leaf(("own colour",), show(value))
        if self.res.type == LISTENER_RULE and self._header_of(path) == PREVIEW_TOKEN_HEADER:
            return Leaf(value, PREVIEW_TOKEN_SHOWN)  # compared, never printed
        if self.res.type == LISTENER_RULE and self._header_of(path) not in (None, PREVIEW_COLOR_HEADER):
            return Leaf(value, HEADER_VALUE_SHOWN)  # any header a rule requires may carry a secret
        if self.res.type in ALARM_TYPES and path in COLOUR_WORDED and self.color is not None:
            # Read with the resource's own colour word as `<colour>`: a rule that names the other colour's
            # alarms, or a description of the other colour, still differs.
            return Leaf(re.sub(rf"\b{self.color}\b", "<colour>", value, flags=re.IGNORECASE), show(value))
        return value

    def _header_of(self, path: Path) -> str | None:
        """For `conditions[i].httpHeader.values[j]`, the header's name in lower case."""
        if len(path) != 5 or path[0] != "conditions" or path[2:4] != ("httpHeader", "values"):
            return None
        if isinstance(path[1], Key):
            return path[1].value.lower()
        conditions = self.res.props.get("conditions")
        index = path[1]
        if not isinstance(conditions, list) or not isinstance(index, int) or index >= len(conditions):
            return None
        header = conditions[index].get("httpHeader") if isinstance(conditions[index], Mapping) else None
        name = header.get("httpHeaderName") if isinstance(header, Mapping) else None
        return name.lower() if isinstance(name, str) else None


class SetList(list[Any]):
    """A normalised set-typed list: compared by membership, not position."""


def _indexed(path: Path) -> tuple[object, ...]:
    """A path with list positions as ints and keyed items as `*`, for matching schema patterns."""
    return tuple(0 if isinstance(segment, Key) else segment for segment in path)


def _canonical(value: Any) -> str:
    """A sort key for a normalised value that is the same for both twins when they are equal."""
    if isinstance(value, Leaf):
        return f"L{value.key!r}"
    if isinstance(value, Mapping):
        return (
            "{" + ",".join(f"{k!r}:{_canonical(v)}" for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))) + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return repr(value)


def _version_number(value: Any) -> bool:
    """A launch template version counter: a number, a digit string, or not known yet."""
    if is_unknown(value):
        return True
    if isinstance(value, bool):
        return False
    return isinstance(value, int | float) or (isinstance(value, str) and value.isdigit())


def render_path(path: Path) -> str:
    out = ""
    for segment in path:
        if isinstance(segment, Key):
            out += f"[{segment.value}]"
        elif isinstance(segment, int):
            out += f"[{segment}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", segment):
            out += f".{segment}" if out else segment
        else:
            out += f'["{segment}"]'
    return out


def _shown(value: Any) -> str:
    """A normalised value as a message prints it (Leafs print their `shown` form)."""
    if isinstance(value, Leaf):
        return value.shown
    if isinstance(value, Mapping):
        if value and all(isinstance(k, Key) for k in value):
            return "[" + ", ".join(_shown(v) for v in value.values()) + "]"
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return show(value)


def _same_scalar(a: Any, b: Any) -> bool:
    a_key = a.key if isinstance(a, Leaf) else a
    b_key = b.key if isinstance(b, Leaf) else b
    if isinstance(a_key, bool) or isinstance(b_key, bool):
        return type(a_key) is type(b_key) and a_key == b_key
    return bool(a_key == b_key)


def _unknown(value: Any) -> bool:
    return isinstance(value, Leaf) and value.key is UNKNOWN


@dataclass(frozen=True)
class Difference:
    path: Path
    mine: Any  # the compared colour's normalised value (None when unset)
    theirs: Any
    deferred: bool = False


def _has_unknown(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return _unknown(value)


def _set_differences(a: list[Any], b: list[Any], path: Path) -> Iterator[Difference]:
    """Members of one set that the other lacks; an unmatched pair is compared field by field.

    Positions are those of the compared colour's set, and `len(a) + k` for members only `b` has.
    A member not known yet (a preview) cannot be matched: the set's check is deferred.
    """
    if any(_has_unknown(item) for item in [*a, *b]):
        for index in range(max(len(a), len(b))):
            yield Difference((*path, index), None, None, deferred=True)
        return
    remaining: dict[str, list[int]] = {}
    for j, item in enumerate(b):
        remaining.setdefault(_canonical(item), []).append(j)
    mine_only = []
    for i, item in enumerate(a):
        matches = remaining.get(_canonical(item))
        if matches:
            matches.pop(0)
        else:
            mine_only.append(i)
    theirs_only = sorted(j for left in remaining.values() for j in left)
    for i, j in zip(mine_only, theirs_only, strict=False):
        yield from differences(a[i], b[j], (*path, i))
    for i in mine_only[len(theirs_only) :]:
        yield Difference((*path, i), a[i], None)
    for k, j in enumerate(theirs_only[len(mine_only) :]):
        yield Difference((*path, len(a) + k), None, b[j])


def differences(a: Any, b: Any, path: Path = ()) -> Iterator[Difference]:
    """Field-by-field differences of two normalised trees."""
    if _unknown(a) or _unknown(b):
        if not (a is None and b is None):
            yield Difference(path, a, b, deferred=True)
        return
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = list(a) + [k for k in b if k not in a]
        for key in keys:
            yield from differences(a.get(key), b.get(key), (*path, key))
        return
    if (
        isinstance(a, SetList | list)
        and isinstance(b, SetList | list)
        and (isinstance(a, SetList) or isinstance(b, SetList))
    ):
        yield from _set_differences(a, b, path)
        return
    if isinstance(a, list) and isinstance(b, list):
        for index in range(max(len(a), len(b))):
            mine = a[index] if index < len(a) else None
            theirs = b[index] if index < len(b) else None
            yield from differences(mine, theirs, (*path, index))
        return
    if isinstance(a, Mapping | list) or isinstance(b, Mapping | list):
        if a != b:
            yield Difference(path, a, b)
        return
    if not _same_scalar(a, b):
        yield Difference(path, a, b)


def describe(res: Resource, siblings: list[str]) -> str:
    """`green launch template`; `green alarm 5xx-rate` when the colour has several of the type."""
    label = f"{res.color} {res.human}"
    if len(siblings) > 1:
        split = [name.split("-") for name in siblings]
        common = 0
        while all(len(words) > common + 1 and words[common] == split[0][common] for words in split):
            common += 1
        label += " " + "-".join(res.name.split("-")[common:])
    return label


FIX: Final = (
    "Build both colours from the same shared settings: only names, ARNs, ids, the colour tag and "
    "header, and the release fields (image id, user data, release tags) may differ."
)


def check_parity(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    findings = Findings(report_violation)
    view = StackView.from_args(args)
    specs_differ = _check_declared_specs(view, findings)
    allowed = allowlist(specs_differ)
    traffic = view.traffic()
    idle = traffic.idle if traffic is not None else None
    # The colour about to change is compared with the one serving traffic.
    compared: Color = idle if idle is not None else "green"
    reference: Color = other(compared)
    scaled = view.idle_scaled_down()
    capacity_mode = "skip" if scaled else ("defer" if scaled is None else "compare")

    groups: dict[tuple[str, str], dict[Color, list[Resource]]] = {}
    for res in view.colored():
        assert res.color is not None
        # Twins differ only by the colour word of their names; resources that carry the colour in
        # their tag only are paired by type.
        role = role_of(res.name, res.color) if res.named else "<tagged>"
        groups.setdefault((res.type, role), {}).setdefault(res.color, []).append(res)
        _check_color_tag(res, findings)
    siblings: dict[tuple[str, Color | None], list[str]] = {}
    for res in view.colored():
        siblings.setdefault((res.type, res.color), []).append(res.name)

    for (type_, role), by_color in groups.items():
        if any(len(found) > 1 for found in by_color.values()):
            for res in (r for found in by_color.values() for r in found):
                findings.violation(
                    f"{res.human} {res.name} is tagged {COLOR_TAG}={res.color} but its name has no colour word, and "
                    f"it cannot be paired by type alone. Name per-colour resources <service>-<colour>-<role> so that "
                    f"blue and green twins differ only by the colour word.",
                    res.urn,
                )
            continue
        pair = {color: found[0] for color, found in by_color.items()}
        if len(pair) == 1 and specs_differ and type_ in INSTANCE_ROLE_TYPES:
            continue  # one colour's own instance role, declared by its release spec (checked above)
        if len(pair) == 1:
            (lonely,) = pair.values()
            assert lonely.color is not None
            missing = other(lonely.color)
            if lonely.named:
                expected = f"{role.replace('<colour>', missing)} of type {type_}"
            else:
                expected = f"one {type_} tagged {COLOR_TAG}={missing}"
            findings.violation(
                f"{lonely.color} {lonely.human} {lonely.name} has no {missing} twin: expected {expected}. Every "
                f"per-colour resource must exist for both colours; add the {missing} twin or remove this resource.",
                lonely.urn,
            )
            continue
        if is_component(type_):
            continue
        mine, theirs = pair[compared], pair[reference]
        derived = _derived_skips(type_, [mine, theirs])
        mine_norm = _Normaliser(view, mine, capacity_mode, derived, allowed).run()
        theirs_norm = _Normaliser(view, theirs, capacity_mode, derived, allowed).run()
        subject = describe(mine, siblings[(type_, compared)])
        deferred: list[str] = []
        for diff in differences(mine_norm, theirs_norm):
            where = render_path(diff.path)
            capacity_field = type_ == AUTOSCALING_GROUP and len(diff.path) == 1 and diff.path[0] in CAPACITY_KEYS
            if diff.deferred or (capacity_field and capacity_mode == "defer"):
                deferred.append(where)
                continue
            a, b = _shown(diff.mine), _shown(diff.theirs)
            if a == b and a in SECRET_SHOWN:
                detail = f"{where} differs between {compared} and {reference} (the values are secret)"
            elif a == b:
                detail = f"{where} is {a} on both colours, but each colour must name its own colour and resources"
            else:
                detail = f"{where} is {a} on {compared} and {b} on {reference}"
            findings.violation(f"{subject} differs from {reference}: {detail}. {FIX}", mine.urn)
        if deferred:
            findings.defer(f"parity of {subject} ({', '.join(deferred)})")
    findings.finish()


def _spec_value(props: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at `path` (`*` takes a list's only item); None when absent, UNKNOWN when not known yet."""
    value: Any = props
    for part in path:
        if is_unknown(value):
            return UNKNOWN
        if part == ANY:
            value = value[0] if isinstance(value, list) and len(value) == 1 else None
        else:
            value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _running_settings(
    resources: Mapping[str, Resource], attachments: list[Resource], asg: Resource | None, own_groups: set[str]
) -> dict[str, Any] | None:
    """What a colour's launch template, target group, Auto Scaling group and instance role run, keyed like its
    release spec; None when unknown. `own_groups` are the ids of the stack's own security groups."""
    arns = [res.props.get("policyArn") for res in attachments]
    if any(is_unknown(arn) for arn in arns):
        return None
    values: dict[str, Any] = {Keys.INSTANCE_POLICY_ARNS.key: sorted(str(arn) for arn in arns)}
    for type_, paths in SPEC_PATHS.items():
        for key, path in paths.items():
            value = _spec_value(resources[type_].props, path)
            if is_unknown(value):
                return None
            if key in SPEC_TEXT_KEYS:
                values[key] = value
            else:
                as_number = number(value)
                values[key] = int(as_number) if as_number is not None and as_number.is_integer() else value
    # detailedMonitoring is in a spec only when on (bluegreen.release_spec), so it is counted only when on.
    monitoring = _spec_value(resources[LAUNCH_TEMPLATE].props, ("monitoring", "enabled"))
    if is_unknown(monitoring):
        return None
    if monitoring is True or monitoring == "true":
        values[Keys.DETAILED_MONITORING.key] = True
    late = _running_late_settings(resources[LAUNCH_TEMPLATE], asg, own_groups)
    if late is None:
        return None
    return {**values, **late}


def _running_late_settings(template: Resource, asg: Resource | None, own_groups: set[str]) -> dict[str, Any] | None:
    """The grace period, the capacity timeout and the extra security groups a colour runs, each only away from
    its default, as a spec has them; None when unknown."""
    values: dict[str, Any] = {}
    grace = _spec_value(asg.props, GRACE_PERIOD_PATH) if asg is not None else None
    timeout = _spec_value(asg.props, CAPACITY_TIMEOUT_PATH) if asg is not None else None
    groups = _spec_value(template.props, SECURITY_GROUPS_PATH)
    if any(is_unknown(v) for v in (grace, timeout, groups, *(groups if isinstance(groups, list) else []))):
        return None
    as_number = number(grace)
    if as_number is not None and as_number != DEFAULT_HEALTH_CHECK_GRACE_PERIOD_SECONDS:
        values[Keys.HEALTH_CHECK_GRACE_PERIOD_SECONDS.key] = int(as_number) if as_number.is_integer() else grace
    if isinstance(timeout, str) and timeout != DEFAULT_CAPACITY_TIMEOUT:
        values[Keys.CAPACITY_TIMEOUT.key] = timeout
    extra = sorted(str(g) for g in groups or [] if str(g) not in own_groups)  # a set: in the provider's order
    if extra:
        values[Keys.EXTRA_SECURITY_GROUP_IDS.key] = extra
    return values


# The settings that joined the release spec after it was first exported: a colour deployed before then declares
# a spec without them until it is restaged (`bluegreen.release_spec.LATE_SPEC_KEYS`), whatever its resources run.
LATE_SPEC_KEYS: Final = frozenset(
    {Keys.HEALTH_CHECK_GRACE_PERIOD_SECONDS.key, Keys.CAPACITY_TIMEOUT.key, Keys.EXTRA_SECURITY_GROUP_IDS.key}
)


def _without_late(running: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in running.items() if key not in LATE_SPEC_KEYS}


def _check_declared_specs(view: StackView, findings: Findings) -> bool:
    """Whether the colours declare different release specs, each one what its resources run.

    A colour's declaration is the `bluegreen:spec` tag of its launch template and target group. The
    settings may differ only when both colours declare, the declarations differ, and each is the
    fingerprint of that colour's running settings; anything else compares them as shared settings.
    """
    declared: dict[Color, Any] = {}
    holders: dict[Color, dict[str, Resource]] = {}
    attachments: dict[Color, list[Resource]] = {c: [] for c in COLORS}
    asgs: dict[Color, Resource] = {}
    for res in view.colored():
        if res.type in SPEC_PATHS and res.color is not None and res.named:
            holders.setdefault(res.color, {})[res.type] = res
        elif res.type == AUTOSCALING_GROUP and res.color is not None and res.named:
            asgs[res.color] = res
        elif res.type == ROLE_POLICY_ATTACHMENT and res.color is not None and res.named:
            attachments[res.color].append(res)
    for color in COLORS:
        found = holders.get(color, {})
        if set(found) != set(SPEC_PATHS):
            return False
        tags = {tag_map(res.props).get(SPEC_TAG) for res in found.values()}
        if any(is_unknown(tag) for tag in tags):
            findings.defer(f"release spec of {color}")
            return False
        if len(tags) != 1 or None in tags:
            return False
        declared[color] = tags.pop()
    if declared["blue"] == declared["green"]:
        return False
    honest = True
    own_groups = {
        str(res.props[key]) for res in view.of_type(SECURITY_GROUP) for key in ("id", "arn") if res.props.get(key)
    }
    for color in COLORS:
        running = _running_settings(holders[color], attachments[color], asgs.get(color), own_groups)
        if running is None:
            findings.defer(f"release spec of {color}")
            honest = False
        elif declared[color] not in (settings_fingerprint(running), settings_fingerprint(_without_late(running))):
            names = " and ".join(res.name for res in holders[color].values())
            findings.violation(
                f"{color} declares release spec {show(declared[color])} ({SPEC_TAG}), but {names} run settings "
                f"whose fingerprint is {settings_fingerprint(running)}: "
                + ", ".join(f"{key}={show(value)}" for key, value in running.items())
                + ". The release spec must say what the colour runs.",
                holders[color][LAUNCH_TEMPLATE].urn,
            )
            honest = False
    return honest


def _check_color_tag(res: Resource, findings: Findings) -> None:
    tag = tag_map(res.props).get(COLOR_TAG)
    if tag is None or not res.named:
        return
    if is_unknown(tag):
        findings.defer(f"colour tag of {res.name}")
        return
    if tag != res.color:
        findings.violation(
            f"{res.human} {res.name} is tagged {COLOR_TAG}={show(tag)} but its name says {res.color}. "
            f"Tag every per-colour resource with the colour in its name.",
            res.urn,
        )


PARITY = StackValidationPolicy(
    name="blue-green-parity",
    description=(
        "Checks whether every blue resource has a green twin with the same properties, apart from "
        "names, ids, ARNs, the colour tag and header, and the release fields."
    ),
    validate=check_parity,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Build both colours from the same shared settings and give them the same value; only names, ids, ARNs, the "
        "colour tag and header, and the release fields (image id, user data, release tags) may differ. A resource "
        "that exists for one colour only needs its twin."
    ),
)
