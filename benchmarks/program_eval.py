"""Prints how long the program takes to evaluate under the SDK mocks, next to the SDK import time.

    python benchmarks/program_eval.py [--runs N]

- SDK import: a fresh interpreter importing the Pulumi modules the program uses (median of runs).
- Evaluation: one `__main__.py` run under mocks with the modules already imported (median).
- Resource count and the size of the flip diff (blue -> green), from the same recordings.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import deployed, diff, run_program

SDK_MODULES = (
    "pulumi",
    "pulumi_random",
    "pulumi_aws.ec2",
    "pulumi_aws.lb",
    "pulumi_aws.autoscaling",
    "pulumi_aws.cloudwatch",
    "pulumi_aws.vpc",
    "pulumi_aws.ssm",
)


def sdk_import_seconds() -> float:
    code = f"import time; t = time.perf_counter(); import {', '.join(SDK_MODULES)}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return float(out.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs

    imports = statistics.median(sdk_import_seconds() for _ in range(runs))
    run_program()  # warm-up: lazy submodule imports happen here, as they would at import time
    evals = []
    for _ in range(runs):
        start = time.perf_counter()
        blue = run_program()
        evals.append(time.perf_counter() - start)
    evaluation = statistics.median(evals)
    green = run_program({"activeColor": "green"}, deployed(blue))
    flip = diff(blue, green)

    print(f"sdk import (fresh interpreter, median of {runs}):  {imports * 1000:8.1f} ms")
    print(f"program evaluation under mocks (median of {runs}): {evaluation * 1000:8.1f} ms")
    print(f"evaluation / import:                          {evaluation / imports:8.2f} x")
    print(f"resources registered:                         {len(blue.resources):8d}")
    print(f"flip diff: changed {len(flip.changed)}, added {len(flip.added)}, removed {len(flip.removed)}")
    for name, keys in flip.changed.items():
        print(f"  ~ {name}: {', '.join(keys)}")


if __name__ == "__main__":
    main()
