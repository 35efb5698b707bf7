"""The guardian's handler against a local moto server: its time and AWS calls, next to a bare ModifyListener.

    python benchmarks/guardian_latency.py [--runs 30]

Each run writes a fresh state (a new deployment: its own claim, record and handled mark), puts all
traffic on green, and invokes the handler for green's release-health alarm; it flips to blue. Then
the same number of bare ModifyListener calls. moto runs on 127.0.0.1, so the figures are the
handler's own overhead plus local round trips, not AWS latency. The detection floor on AWS comes
before this: alarmEvaluationMinutes one-minute periods, ~1-2 min of CloudWatch delay, and the
EventBridge delivery. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bluegreen.contract import FORWARD_API, forward_action
from bluegreen.guardian import handler as guardian
from tests.moto_server import MotoServer, World, build_world, client, patched_env

STATE, RECORD = "/bluegreen/bench/guardian-state", "/bluegreen/bench/guardian-record"
ALARMS = {"blue": "bench-blue-release-health", "green": "bench-green-release-health"}


class Counting(guardian.Clients):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        for service in (self.ssm, self.elbv2, self.sns):
            service.meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)


def write_state(world: World, run: int) -> None:
    world.set_weights({"green": 100, "blue": 0})
    state = {
        "version": 1,
        "stateId": f"bench-{run}",
        "listenerArn": world.listener_arn,
        "targetGroups": dict(world.target_groups),
        "desired": 2,
        "stickinessSeconds": 0,
        "fingerprints": {"blue": "b" * 64, "green": "g" * 64},
        "releaseHealthAlarms": ALARMS,
        "target": {"color": "blue", "fingerprint": "b" * 64, "armed": True},
    }
    client("ssm", world.endpoint).put_parameter(Name=STATE, Value=json.dumps(state), Type="String", Overwrite=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    server = MotoServer().start()
    try:
        with patched_env(server.env()):
            world = build_world(server.endpoint)
            event = {"detail": {"alarmName": ALARMS["green"], "state": {"value": "ALARM"}}}
            handler_ms: list[float] = []
            calls: list[list[str]] = []
            for run in range(runs):
                write_state(world, run)
                clients = Counting()
                start = time.perf_counter()
                decision = guardian.decide(
                    event, state_parameter=STATE, record_parameter=RECORD, topic_arn="", clients=clients
                )
                handler_ms.append((time.perf_counter() - start) * 1000)
                assert decision["action"] == "rollback", decision
                calls.append(clients.calls)
            elbv2 = client("elbv2", world.endpoint)
            action = forward_action(
                [(world.target_groups["blue"], 100), (world.target_groups["green"], 0)], 0, FORWARD_API
            )
            bare_ms: list[float] = []
            for _ in range(runs):
                start = time.perf_counter()
                elbv2.modify_listener(ListenerArn=world.listener_arn, DefaultActions=[action])
                bare_ms.append((time.perf_counter() - start) * 1000)
    finally:
        server.stop()
    print(f"guardian handler, {runs} runs: median {statistics.median(handler_ms):.1f} ms, max {max(handler_ms):.1f} ms")
    print(f"  AWS calls per rollback: {len(calls[0])} ({', '.join(calls[0])})")
    print(f"  of them ModifyListener: {calls[0].count('ModifyListener')}")
    print(f"bare ModifyListener, {runs} runs: median {statistics.median(bare_ms):.1f} ms")


if __name__ == "__main__":
    main()
