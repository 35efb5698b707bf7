"""Prints how long one full analysis of the dev stack takes through the served policy pack.

    python benchmarks/policy_analysis.py [--runs N]

The pack is started the way the engine starts it (`python -m pulumi.policy <engine> .` in
policies/), and each analysis makes the calls `pulumi up --policy-pack policies` makes: Configure,
`Analyze` with each resource's inputs, then one `AnalyzeStack` with every resource's outputs.

- Pack start: from spawning the process until GetAnalyzerInfo answers.
- Analysis: one full analysis of the dev stack as deployed (median of runs, after a warm-up), with
  outputs as the SDK's mocks answer and as pulumi-aws records them (every computed attribute).
- First preview: the same stack with every provider-computed value unknown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import run_program
from tests.policy_server import (
    ServedPack,
    StackResource,
    as_provider_reports,
    fresh_preview,
    from_recording,
    serve_pack,
)


def median_seconds(pack: ServedPack, resources: list[StackResource], runs: int) -> float:
    pack.run(resources)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        pack.run(resources)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs

    deployed = from_recording(run_program())
    preview = fresh_preview(deployed)
    start = time.perf_counter()
    with serve_pack() as pack:
        pack.info()
        started = time.perf_counter() - start
        analysis = median_seconds(pack, deployed, runs)
        provider = median_seconds(pack, as_provider_reports(deployed), runs)
        first_preview = median_seconds(pack, preview, runs)
        policies = len(pack.info().policies)

    print(f"resources analysed:               {len(deployed)} ({policies} policies)")
    print(f"pack start:                       {started * 1000:7.1f} ms")
    print(f"one full analysis, deployed:      {analysis * 1000:7.1f} ms  (median of {runs})")
    print(f"one full analysis, provider-like: {provider * 1000:7.1f} ms  (median of {runs})")
    print(f"one full analysis, first preview: {first_preview * 1000:7.1f} ms  (median of {runs})")


if __name__ == "__main__":
    main()
