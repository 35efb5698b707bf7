"""The traffic gate: every move of production weight toward a colour is checked inside `pulumi up`.

A `TrafficGate` resource sits between the colours and the production listener (the listener
depends on it). Its inputs name each colour that will carry weight, with its weight and its release
spec fingerprint. When an update moves weight toward a colour, or changes the build of a colour
that carries weight, the gate re-runs before the listener changes, and checks that colour:

1. its target group has the desired number of healthy targets (DescribeTargetHealth);
2. its preview route answers: `<health path>` with 200, and `/version` naming that colour's release,
   which proves the colour asked for answered (a server that ignores the preview headers answers
   with the live colour's release).

A failure fails the update with the listener untouched, and says what failed. It is a Python dynamic
provider (pulumi.com/docs/iac/concepts/providers/dynamic-providers): it runs where `pulumi up`
runs, in the program's virtualenv, and takes the same network path as `bluegreen verify`, so that
machine needs AWS credentials for `elasticloadbalancing:DescribeTargetHealth` and HTTPS (or, with
`allowInsecurePreview`, HTTP) to the load balancer. Over HTTPS the URL is `https://<publicHostname>`,
which must resolve to the load balancer: urllib verifies the certificate against that name, and no
certificate covers the ALB's own `*.elb.amazonaws.com` (settings refuse HTTPS without publicHostname).
`gateBypass=true` skips the checks, for
emergencies such as rolling back while the preview route is down. The loud warning comes from the
program (`GATE_BYPASS_WARNING`, on every preview and update while it is on), and `status`, the CI
summary and the PR comment say it too: this provider runs in a process of its own, and what it logs
reaches the user as stray stderr at best.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic

from bluegreen.contract import COLORS, PREVIEW_COLOR_HEADER, PREVIEW_TOKEN_HEADER
from bluegreen.smoke import Fetch, Response, urllib_fetch

GATE_BYPASS_WARNING = (
    "GATE BYPASS: gateBypass is true, so this update moves traffic without the traffic gate's checks (desired "
    "healthy targets, and the preview route answering with the colour's release): a broken colour can get "
    "production traffic. Set gateBypass to false as soon as the emergency is over."
)
# Checked again after this many seconds between attempts, this many times, per check.
ATTEMPTS = 3
INTERVAL_SECONDS = 5.0
TIMEOUT_SECONDS = 5.0


def moves_toward(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The colours the update must check: those that gain weight, or carry weight with a new build."""
    before, after = olds.get("colors") or {}, news.get("colors") or {}
    moved: list[str] = []
    for color in COLORS:
        new = after.get(color) or {}
        if int(new.get("weight", 0)) <= 0:
            continue
        old = before.get(color) or {}
        if int(new["weight"]) > int(old.get("weight", 0)) or new.get("fingerprint") != old.get("fingerprint"):
            moved.append(color)
    return moved


@dataclass(frozen=True)
class ColorCheck:
    color: str
    release: str
    target_group_arn: str
    desired: int
    health_path: str


def check_color(
    check: ColorCheck,
    *,
    url: str,
    token: str,
    healthy_count: Callable[[str], int],
    fetch: Fetch = urllib_fetch,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = ATTEMPTS,
    preview_route: bool = True,
) -> list[str]:
    """What is wrong with sending traffic to `check.color`; [] when it may have it."""
    problems: list[str] = []
    healthy = 0
    for attempt in range(1, attempts + 1):
        healthy = healthy_count(check.target_group_arn)
        if healthy >= check.desired:
            break
        if attempt < attempts:
            sleep(INTERVAL_SECONDS)
    if healthy < check.desired:
        return [f"{check.color} has {healthy} healthy targets, fewer than its desired {check.desired}"]
    if not preview_route:
        return []
    headers = {PREVIEW_COLOR_HEADER: check.color, PREVIEW_TOKEN_HEADER: token}
    base = url.rstrip("/")
    for path, wanted in ((check.health_path, None), ("/version", check.release)):
        problem: str | None = "not run"
        for attempt in range(1, attempts + 1):
            problem = _probe(fetch, f"{base}{path}", headers, wanted)
            if problem is None:
                break
            if attempt < attempts:
                sleep(INTERVAL_SECONDS)
        if problem is not None:
            problems.append(f"{check.color} {path} through the preview route: {problem}")
    return problems


def _probe(fetch: Fetch, url: str, headers: Mapping[str, str], release: str | None) -> str | None:
    try:
        response: Response = fetch(url, headers, TIMEOUT_SECONDS)
    except (OSError, ValueError) as exc:
        return f"request failed: {exc}"
    if response.status != 200:
        return f"status {response.status}, expected 200"
    if release is None:
        return None
    try:
        body = json.loads(response.body)
        answered = body.get("release", body.get("version"))  # the demo app's field, or a common alternative
    except (ValueError, AttributeError):
        return f"answered {response.body[:80]!r}, not a JSON object with the release"
    if answered != release:
        return (
            f"answered release {answered!r}, not {release!r}: another colour answered (does the app ignore the "
            "preview headers?), or the colour does not run the release it was deployed with"
        )
    return None


def _elbv2_healthy(region: str) -> Callable[[str], int]:
    def count(target_group_arn: str) -> int:
        import boto3  # in the provider process only

        client = boto3.client("elbv2", region_name=region)
        described = client.describe_target_health(TargetGroupArn=target_group_arn)["TargetHealthDescriptions"]
        return sum(1 for target in described if target["TargetHealth"]["State"] == "healthy")

    return count


class TrafficGateProvider(pulumi.dynamic.ResourceProvider):
    """Runs the checks on create, and on an update that moves weight toward a colour."""

    def __init__(self, fetch: Fetch | None = None, healthy_count: Callable[[str], int] | None = None) -> None:
        # Test doubles; the engine's copy of the provider uses urllib and boto3.
        self._fetch = fetch
        self._healthy_count = healthy_count

    def _run(self, props: Mapping[str, Any], colors: list[str], preview_route: bool = True) -> None:
        if props.get("bypass"):
            # The program warns where the user sees it (GATE_BYPASS_WARNING); this reaches the engine's log at best.
            pulumi.log.warn(
                "gateBypass=true: traffic moves to "
                + (", ".join(colors) or "no new colour")
                + " WITHOUT the health and preview checks; set gateBypass=false after the emergency"
            )
            return
        count = self._healthy_count or _elbv2_healthy(str(props["region"]))
        problems: list[str] = []
        for color in colors:
            entry = props["colors"][color]
            problems += check_color(
                ColorCheck(
                    color=color,
                    release=str(entry["release"]),
                    target_group_arn=str(entry["targetGroupArn"]),
                    desired=int(entry["desired"]),
                    health_path=str(entry["healthPath"]),
                ),
                url=str(props["url"]),
                token=str(props["token"]),
                healthy_count=count,
                fetch=self._fetch or urllib_fetch,
                preview_route=preview_route,
            )
        if problems:
            raise GateFailedError(
                "traffic gate: the production listener was not changed, because\n  - " + "\n  - ".join(problems)
            )

    def create(self, props: Any) -> pulumi.dynamic.CreateResult:
        # The first deploy: the preview route lives on the production listener, which waits for this gate,
        # so only target health can be checked (no user has been sent anywhere yet).
        self._run(props, moves_toward({}, props), preview_route=False)
        return pulumi.dynamic.CreateResult(id_="traffic-gate", outs=_public(props))

    def diff(self, _id: str, olds: Any, news: Any) -> pulumi.dynamic.DiffResult:
        return pulumi.dynamic.DiffResult(changes=bool(moves_toward(olds, news)) or _public(olds) != _public(news))

    def update(self, _id: str, olds: Any, news: Any) -> pulumi.dynamic.UpdateResult:
        self._run(news, moves_toward(olds, news))
        return pulumi.dynamic.UpdateResult(outs=_public(news))


class GateFailedError(Exception):
    """The checks failed: the update stops before the listener changes."""


def _public(props: Mapping[str, Any]) -> dict[str, Any]:
    """The gate's state without the token (which stays a secret input, never an output)."""
    return {key: value for key, value in props.items() if key not in ("token", "__provider")}


class TrafficGate(pulumi.dynamic.Resource, module="bluegreen", name="TrafficGate"):
    """`colors`: {colour: {weight, fingerprint, release, targetGroupArn, desired, healthPath}} for each colour
    with weight; also `region`, `url`, `token` (secret) and `bypass`."""

    def __init__(
        self,
        name: str,
        props: Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
        provider: TrafficGateProvider | None = None,
    ) -> None:
        super().__init__(provider or TrafficGateProvider(), name, dict(props), opts)
