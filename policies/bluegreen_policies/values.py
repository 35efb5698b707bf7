"""Plain property values out of policy arguments, with preview unknowns made explicit.

During a preview the engine sends values that are not known yet as sentinel strings
(`pulumi_policy.proxy.UNKNOWN_*_VALUE`), and `pulumi_policy` wraps the properties in proxies
that raise `UnknownValueError` when such a value is read. `plain()` turns both forms (proxied
properties from the engine, plain dicts built by hand in tests) into ordinary dicts and lists in
which every unknown value is the `UNKNOWN` marker, so a check can see which of its inputs are
unknown instead of failing as a whole.

A check whose inputs are unknown is *deferred*: `Findings.defer()` records it, and
`Findings.finish()` raises `ChecksDeferredError`, a subclass of `UnknownValueError`. The policy SDK
turns that into one advisory diagnostic ("can't run policy … during preview: …"), after the
violations that could be decided, so a preview never reports a violation it cannot prove.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pulumi_policy import ReportViolation
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

SENTINELS: Final = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)


class Unknown:
    """The one marker for a value that a preview does not know yet."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown until up>"


UNKNOWN: Final = Unknown()


def is_unknown(value: object) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """A deep copy of a property value as dicts, lists and scalars; unknowns become `UNKNOWN`."""
    if isinstance(value, str):
        return UNKNOWN if value in SENTINELS else value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key in value:
            try:
                item = value[key]
            except UnknownValueError:
                result[str(key)] = UNKNOWN
                continue
            result[str(key)] = plain(item)
        return result
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                item = value[index]
            except UnknownValueError:
                items.append(UNKNOWN)
                continue
            items.append(plain(item))
        return items
    return value


def number(value: Any) -> float | None:
    """A numeric property value (bools are not numbers); `None` when unset or not numeric."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def truthy(value: Any) -> bool:
    """AWS booleans arrive as bools or, in some launch template fields, as "true"/"false"."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def show(value: Any) -> str:
    """A value as messages print it: strings quoted, whole numbers without a fraction."""
    text: str
    if value is None or value is UNKNOWN:
        text = "not set" if value is None else "unknown until `pulumi up`"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, Mapping):
        text = "{" + ", ".join(f"{key}: {show(item)}" for key, item in value.items()) + "}"
    elif isinstance(value, Sequence):
        text = "[" + ", ".join(show(item) for item in value) + "]"
    else:
        text = str(value)
    return text


def tag_map(props: Mapping[str, Any], key: str = "tags") -> dict[str, Any]:
    """Tags as a dict, from a `tags` map or an Auto Scaling group's `[{key, value}]` list."""
    raw = props.get(key)
    if isinstance(raw, Mapping):
        return {str(k): v for k, v in raw.items()}
    if isinstance(raw, list):
        tags: dict[str, Any] = {}
        for item in raw:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str):
                tags[item["key"]] = item.get("value")
        return tags
    return {}


class ChecksDeferredError(UnknownValueError):
    """Raised after a validation whose listed checks need values that are unknown in a preview."""

    def __init__(self, checks: Sequence[str]) -> None:
        super().__init__(UNKNOWN_STRING_VALUE, [])
        self.checks = list(checks)
        count = len(self.checks)
        subject = "1 check is" if count == 1 else f"{count} checks are"
        self.message = (
            f"{subject} deferred to `pulumi up` because the values they need are not known yet: "
            + "; ".join(self.checks)
            + "."
        )

    def __str__(self) -> str:
        return self.message


class Findings:
    """Collects one validation's violations and deferred checks."""

    def __init__(self, report_violation: ReportViolation) -> None:
        self._report = report_violation
        self.deferred: list[str] = []

    def violation(self, message: str, urn: str | None = None) -> None:
        self._report(message, urn)

    def defer(self, check: str) -> None:
        if check not in self.deferred:
            self.deferred.append(check)

    def finish(self) -> None:
        """Reports the deferred checks advisorily (through the SDK); call last."""
        if self.deferred:
            raise ChecksDeferredError(self.deferred)
