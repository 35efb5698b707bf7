"""Fast-rollback latency against a local moto server, and how many AWS calls it makes.

    python benchmarks/rollback_latency.py [--runs 60]

Each run puts traffic on green (config and listener), then runs the release tool's `rollback`
to blue with a Pulumi engine double, timing the fast path (traffic restored) and counting the
tool's AWS calls before `pulumi up` starts (the engine double, like the real adapter, previews
before every update, so "until `pulumi up` begins" includes its preview). Runs with and without the
health guard (`--force`).
Prints figures; asserts nothing. moto runs in-process on 127.0.0.1, so latencies are the
tool's own overhead plus one local HTTP round trip, not AWS's.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bluegreen.aws import Aws
from bluegreen.clock import SystemClock
from bluegreen.context import Context, Timing
from bluegreen.release import rollback
from bluegreen.report import Reporter
from tests.moto_server import REGION, CallLog, FakeEngine, MotoServer, build_world, patched_env


@dataclass
class Sample:
    fast_path_ms: list[float] = field(default_factory=list)
    until_up_ms: list[float] = field(default_factory=list)
    calls_before_up: list[list[str]] = field(default_factory=list)
    modify_listener_calls: list[int] = field(default_factory=list)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(runs: int, force: bool, engine: FakeEngine, aws: Aws, log: CallLog) -> Sample:
    sample = Sample()
    clock = SystemClock()
    ctx = Context(
        engine=engine,
        reporter=Reporter(clock=clock, out=io.StringIO(), err=io.StringIO()),
        clock=clock,
        timing=Timing(confirm_timeout=5, confirm_interval=0.05),
        aws_factory=lambda _outputs: aws,
    )
    marks: dict[str, float | list[str]] = {}

    def before_up(_engine: FakeEngine, _count: int) -> None:
        marks["up"] = time.perf_counter()
        marks["calls"] = list(log.calls)

    for _ in range(runs):
        engine.before_up = None
        engine.set_config({"activeColor": "green", "idleTrafficPercent": "0", "rollbackColor": "blue"})
        engine.up("setup: green live", lambda _line: None)
        engine.before_up = before_up
        log.calls.clear()
        start = time.perf_counter()
        result = rollback(ctx, to=None, fast=True, force=force)
        sample.fast_path_ms.append(float(result["fastPathSeconds"]) * 1000)
        sample.until_up_ms.append((float(marks["up"]) - start) * 1000)  # type: ignore[arg-type]
        sample.calls_before_up.append(list(marks["calls"]))  # type: ignore[arg-type]
        sample.modify_listener_calls.append(log.count("ModifyListener"))
        assert engine.world.live_weights() == {"blue": 100, "green": 0}
    return sample


def report(title: str, sample: Sample) -> None:
    calls = sample.calls_before_up[0]
    same = all(c == calls for c in sample.calls_before_up)
    print(f"\n{title} ({len(sample.fast_path_ms)} runs)")
    print(
        f"  traffic restored (fast path, one ModifyListener): median {statistics.median(sample.fast_path_ms):6.2f} ms"
        f"   p95 {p95(sample.fast_path_ms):6.2f} ms   max {max(sample.fast_path_ms):6.2f} ms"
    )
    print(
        f"  rollback start until `pulumi up` begins:          median {statistics.median(sample.until_up_ms):6.2f} ms"
        f"   p95 {p95(sample.until_up_ms):6.2f} ms"
    )
    print(f"  AWS calls before `pulumi up`: {len(calls)} {calls}{'' if same else ' (varied between runs)'}")
    print(f"  ModifyListener calls per rollback (whole command): {sorted(set(sample.modify_listener_calls))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60, help="runs per mode (at least 50)")
    args = parser.parse_args()
    runs = max(args.runs, 50)
    server = MotoServer().start()
    try:
        with patched_env(server.env()):
            world = build_world(server.endpoint)
            engine = FakeEngine(world)
            log = CallLog()
            aws = Aws(REGION)  # clients are created once, before any rollback, as the CLI does
            aws.add_call_hook(log)
            print(f"moto {server.endpoint}; listener {world.listener_arn.split('/')[-1]}")
            report("rollback --force (no health guard)", measure(runs, True, engine, aws, log))
            report("rollback (guard: one DescribeTargetHealth first)", measure(runs, False, engine, aws, log))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
