"""Smoke checks: a YAML/JSON file the user writes, run against a colour's preview route.

File format (YAML or JSON):

    attempts: 5            # per check, bounded (default 3)
    intervalSeconds: 2     # pause between attempts (default 2)
    timeoutSeconds: 5      # per request (default 5)
    checks:
      - name: health
        path: /health
        status: 200
      - name: version
        path: /version
        status: 200
        bodyContains: "{release}"            # or bodyRegex
        headers: {X-App-Version: "{release}"}  # response headers that must match exactly

`{release}`, `{color}` and `{imageId}` in expected values are replaced with the colour's values.
"""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bluegreen.errors import UsageError
from bluegreen.stack_files import yaml_problem


@dataclass(frozen=True)
class Check:
    name: str
    path: str
    status: int = 200
    body_contains: str | None = None
    body_regex: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckSuite:
    checks: tuple[Check, ...]
    attempts: int = 3
    interval_seconds: float = 2.0
    timeout_seconds: float = 5.0
    digest: str = ""


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: str


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    attempts: int
    detail: str


Fetch = Callable[[str, Mapping[str, str], float], Response]


def _bad(path: Path, where: str, value: object, allowed: str) -> UsageError:
    return UsageError(f"checks file {path}: {where}={value!r} is not allowed: {allowed}")


def load_checks(path: Path) -> CheckSuite:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read checks file {path}: {exc.strerror}") from None
    try:
        data: Any = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.MarkedYAMLError as exc:  # one line: the file, the line and column, the problem
        raise UsageError(f"checks file {yaml_problem(path, exc)}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"checks file {path} is not valid YAML/JSON: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise _bad(path, "top level", type(data).__name__, "a mapping with a `checks` list")
    known = {"checks", "attempts", "intervalSeconds", "timeoutSeconds"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise _bad(path, "key", unknown[0], f"one of {sorted(known)}")
    raw_checks = data.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise _bad(path, "checks", raw_checks, "a non-empty list of checks")
    attempts = data.get("attempts", 3)
    if not isinstance(attempts, int) or not 1 <= attempts <= 20:
        raise _bad(path, "attempts", attempts, "an integer from 1 to 20")
    interval = data.get("intervalSeconds", 2)
    if not isinstance(interval, (int, float)) or not 0 <= interval <= 300:
        raise _bad(path, "intervalSeconds", interval, "a number from 0 to 300")
    timeout = data.get("timeoutSeconds", 5)
    if not isinstance(timeout, (int, float)) or not 0 < timeout <= 120:
        raise _bad(path, "timeoutSeconds", timeout, "a number above 0 and at most 120")
    checks = tuple(_check(path, i, item) for i, item in enumerate(raw_checks))
    names = [c.name for c in checks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _bad(path, "checks[].name", dupes[0], "unique names")
    if not any(_tells_colours_apart(check) for check in checks):
        raise UsageError(
            f"checks file {path}: no check expects {{release}}, {{color}} or {{imageId}}, so the checks would pass "
            "whichever colour answered (a route that ignores the preview headers reaches the live colour). Add one, "
            'e.g. path /version with bodyContains \'"release": "{release}"\''
        )
    return CheckSuite(
        checks=checks,
        attempts=attempts,
        interval_seconds=float(interval),
        timeout_seconds=float(timeout),
        digest="sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16],
    )


COLOUR_VARIABLES = ("{release}", "{color}", "{imageId}")


def _tells_colours_apart(check: Check) -> bool:
    expected = [check.body_contains or "", check.body_regex or "", *check.headers.values()]
    return any(variable in text for text in expected for variable in COLOUR_VARIABLES)


def _check(path: Path, index: int, item: Any) -> Check:
    where = f"checks[{index}]"
    if not isinstance(item, dict):
        raise _bad(path, where, item, "a mapping with at least `path`")
    known = {"name", "path", "status", "bodyContains", "bodyRegex", "headers"}
    unknown = sorted(set(item) - known)
    if unknown:
        raise _bad(path, f"{where}.{unknown[0]}", item[unknown[0]], f"keys {sorted(known)}")
    route = item.get("path")
    if not isinstance(route, str) or not route.startswith("/"):
        raise _bad(path, f"{where}.path", route, "a path starting with /")
    status = item.get("status", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise _bad(path, f"{where}.status", status, "an HTTP status code from 100 to 599")
    headers = item.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, (str, int)) for v in headers.values()):
        raise _bad(path, f"{where}.headers", headers, "a mapping of header name to expected value")
    regex = item.get("bodyRegex")
    if regex is not None:
        try:
            re.compile(str(regex))
        except re.error as exc:
            raise _bad(path, f"{where}.bodyRegex", regex, f"a valid regular expression ({exc})") from None
    contains = item.get("bodyContains")
    return Check(
        name=str(item.get("name", route)),
        path=route,
        status=status,
        body_contains=None if contains is None else str(contains),
        body_regex=None if regex is None else str(regex),
        headers={str(k): str(v) for k, v in headers.items()},
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is the answer, not a hop: urllib would resend every header, the preview token included, to
    wherever the app points (often http:// behind a TLS-terminating ALB). A check that expects 200 then fails
    with the 3xx status and its Location header in the response."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def urllib_fetch(url: str, headers: Mapping[str, str], timeout: float) -> Response:
    request = urllib.request.Request(url, headers=dict(headers), method="GET")
    try:
        with _OPENER.open(request, timeout=timeout) as reply:
            body = reply.read(1_000_000).decode("utf-8", "replace")
            return Response(reply.status, {k.lower(): v for k, v in reply.headers.items()}, body)
    except urllib.error.HTTPError as exc:
        body = exc.read(1_000_000).decode("utf-8", "replace") if exc.fp else ""
        return Response(exc.code, {k.lower(): v for k, v in exc.headers.items()}, body)


def _expand(text: str, variables: Mapping[str, str]) -> str:
    for name, value in variables.items():
        text = text.replace("{" + name + "}", value)
    return text


def evaluate(check: Check, response: Response, variables: Mapping[str, str]) -> str | None:
    """None when the response passes, else what was wrong."""
    if response.status != check.status:
        return f"status {response.status}, expected {check.status}"
    if check.body_contains is not None:
        expected = _expand(check.body_contains, variables)
        if expected not in response.body:
            return f"body does not contain {expected!r} (body starts {response.body[:80]!r})"
    if check.body_regex is not None:
        pattern = _expand(check.body_regex, variables)
        if not re.search(pattern, response.body):
            return f"body does not match /{pattern}/ (body starts {response.body[:80]!r})"
    for name, raw in check.headers.items():
        expected = _expand(raw, variables)
        actual = response.headers.get(name.lower())
        if actual != expected:
            return f"header {name}: {actual!r}, expected {expected!r}"
    return None


def run_checks(
    suite: CheckSuite,
    base_url: str,
    request_headers: Mapping[str, str],
    variables: Mapping[str, str],
    *,
    sleep: Callable[[float], None],
    fetch: Fetch,
    on_attempt: Callable[[str, int, str | None], None] | None = None,
) -> list[CheckResult]:
    """Each check gets at most `suite.attempts` tries, `interval_seconds` apart."""
    results: list[CheckResult] = []
    for check in suite.checks:
        url = base_url.rstrip("/") + check.path
        problem: str | None = "not run"
        attempt = 0
        for attempt in range(1, suite.attempts + 1):
            try:
                problem = evaluate(check, fetch(url, request_headers, suite.timeout_seconds), variables)
            except (OSError, ValueError) as exc:  # connection refused, timeout, bad URL
                problem = f"request failed: {exc}"
            if on_attempt:
                on_attempt(check.name, attempt, problem)
            if problem is None:
                break
            if attempt < suite.attempts:
                sleep(suite.interval_seconds)
        results.append(CheckResult(check.name, problem is None, attempt, problem or "ok"))
    return results
