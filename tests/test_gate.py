"""The traffic gate's provider, as the engine runs it inside `pulumi up`, against moto and a local preview route.

The engine updates the gate before the production listener (the listener depends on it) and stops
the update when the gate's update fails, so a failure here leaves the listener untouched
(`tests/test_engine_order.py` holds the order).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import dill  # type: ignore[import-untyped]
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from bluegreen.gate import GateFailedError, TrafficGateProvider, _elbv2_healthy, moves_toward
from tests.moto_server import PREVIEW_TOKEN as TOKEN
from tests.moto_server import REGION, SmokeTarget, World

RELEASES = {"blue": "v1", "green": "v2"}


@pytest.fixture
def route() -> Iterator[SmokeTarget]:
    """The preview route, answering as the colour the headers name (`answers_as` to ignore them)."""
    target = SmokeTarget(releases=lambda color: RELEASES[color])
    with target.serving():
        yield target


def gate(world: World, route: SmokeTarget, weights: dict[str, int], **changes: Any) -> dict[str, Any]:
    """The gate's inputs as `BlueGreenService` registers them."""
    props: dict[str, Any] = {
        "region": REGION,
        "url": route.url,
        "token": TOKEN,
        "bypass": False,
        "colors": {
            color: {
                "weight": weight,
                "fingerprint": f"{color}-{RELEASES[color]}",
                "release": RELEASES[color],
                "targetGroupArn": world.target_groups[color],
                "desired": 2,
                "healthPath": "/health",
            }
            for color, weight in weights.items()
            if weight > 0
        },
    }
    props.update(changes)
    return props


def provider() -> TrafficGateProvider:
    return TrafficGateProvider(fetch=None, healthy_count=_elbv2_healthy(REGION))


def test_a_flip_to_a_healthy_colour_that_answers_as_itself_passes(world: World, route: SmokeTarget) -> None:
    olds, news = gate(world, route, {"blue": 100}), gate(world, route, {"green": 100})

    provider().update("traffic-gate", olds, news)

    assert ("/version", "green") in route.requests


def test_a_flip_to_a_colour_with_no_healthy_targets_fails_the_update(world: World, route: SmokeTarget) -> None:
    world.stop_instances("green")

    with pytest.raises(GateFailedError) as failed:
        provider().update("traffic-gate", gate(world, route, {"blue": 100}), gate(world, route, {"green": 100}))

    assert str(failed.value) == (
        "traffic gate: the production listener was not changed, because\n"
        "  - green has 0 healthy targets, fewer than its desired 2"
    )
    assert route.requests == []  # health first: no request reaches a colour without targets


def test_a_route_that_ignores_the_preview_headers_cannot_pass_for_green(world: World, route: SmokeTarget) -> None:
    route.answers_as = "blue"  # every request reaches live blue

    with pytest.raises(GateFailedError, match=r"green /version through the preview route: answered release 'v1', "):
        provider().update("traffic-gate", gate(world, route, {"blue": 100}), gate(world, route, {"green": 100}))


def test_a_canary_step_checks_the_colour_that_gains_weight(world: World, route: SmokeTarget) -> None:
    route.broken.add("green")

    with pytest.raises(GateFailedError, match=r"green /version through the preview route: status 500"):
        provider().update(
            "traffic-gate", gate(world, route, {"blue": 100}), gate(world, route, {"blue": 90, "green": 10})
        )


def test_the_gate_checks_each_colour_that_gains_weight_or_carries_weight_with_a_new_build() -> None:
    def colors(**entries: tuple[int, str]) -> dict[str, Any]:
        return {"colors": {c: {"weight": w, "fingerprint": f} for c, (w, f) in entries.items()}}

    canary = colors(blue=(90, "b1"), green=(10, "g1"))
    assert moves_toward(canary, colors(blue=(100, "b1"))) == ["blue"]  # the canary rolled back: blue takes it all
    assert moves_toward(colors(blue=(100, "b1")), colors(blue=(100, "b1"))) == []  # nothing moves
    assert moves_toward(colors(blue=(50, "b1"), green=(50, "g1")), canary) == ["blue"]
    assert moves_toward(colors(blue=(100, "b1")), canary) == ["green"]
    assert moves_toward(canary, colors(blue=(50, "b1"), green=(50, "g1"))) == ["green"]
    assert moves_toward(canary, colors(blue=(90, "b2"), green=(10, "g1"))) == ["blue"]  # an override rebuilt it
    assert moves_toward({}, colors(blue=(100, "b1"))) == ["blue"]  # the first deploy


def test_no_move_means_no_check_even_with_the_route_down(world: World, route: SmokeTarget) -> None:
    route.broken.update(("blue", "green"))
    same = gate(world, route, {"blue": 100})

    assert provider().diff("traffic-gate", same, same).changes is False
    provider().update("traffic-gate", same, gate(world, route, {"blue": 100}, url="http://127.0.0.1:9"))


def test_the_bypass_moves_traffic_without_the_checks(world: World, route: SmokeTarget) -> None:
    world.stop_instances("green")
    news = gate(world, route, {"green": 100}, bypass=True)

    provider().update("traffic-gate", gate(world, route, {"blue": 100}), news)

    assert route.requests == []


def test_the_first_deploy_checks_health_only_as_the_preview_route_comes_with_the_listener(
    world: World, route: SmokeTarget
) -> None:
    provider().create(gate(world, route, {"blue": 100}))
    assert route.requests == []
    world.stop_instances("blue")
    with pytest.raises(GateFailedError, match="blue has 0 healthy targets"):
        provider().create(gate(world, route, {"blue": 100}))


def test_the_token_is_never_an_output(world: World, route: SmokeTarget) -> None:
    outs = provider().create(gate(world, route, {"blue": 100})).outs or {}
    assert "token" not in outs and TOKEN not in repr(outs)


def test_the_provider_survives_the_trip_to_the_engines_provider_process() -> None:
    # The engine runs the serialized provider in its own process, which imports bluegreen by reference.
    restored = dill.loads(base64.b64decode(serialize_provider(TrafficGateProvider())))
    assert type(restored).__module__ == "bluegreen.gate"
    assert restored._fetch is None and restored._healthy_count is None
