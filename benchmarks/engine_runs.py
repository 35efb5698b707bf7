"""How many Pulumi engine runs a release costs, next to the floor.

    python benchmarks/engine_runs.py

Each engine run costs a user tens of seconds on a real stack (the program, the plugins, the
policy pack, the refresh of what changes). The release tool runs against a local moto server and
the Pulumi engine double (`tests/moto_server.FakeEngine`, which previews before every update as
the Automation adapter does), and this script counts its `pulumi preview` and `pulumi up` runs
for `deploy` without and with a ramp, and for `rollback`. The floor is one previewed update per
traffic move plus one for staging. Prints figures; asserts nothing.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bluegreen.aws import Aws
from bluegreen.cli import main
from tests.moto_server import (
    REGION,
    SMOKE_CHECKS_YAML,
    FakeClock,
    FakeEngine,
    MotoServer,
    SmokeTarget,
    build_world,
    patched_env,
)

FAST = ["--poll", "1", "--timeout", "30", "--confirm-timeout", "5"]


def run(server: MotoServer, aws: Aws, checks: Path, argv: list[str], setup: list[list[str]]) -> tuple[int, int, int]:
    """(exit code, previews, updates) of `argv`, after running `setup` commands on a fresh stack."""
    server.reset()
    world = build_world(server.endpoint)
    engine = FakeEngine(world)
    target = SmokeTarget(releases=lambda color: str(engine.outputs_values[f"{color}Release"]))
    clock = FakeClock()
    with target.serving():
        engine.url = target.url
        engine.publish()

        def tool(args: list[str]) -> int:
            return main(
                args,
                engine_factory=lambda _args: engine,
                clock=clock,
                aws_factory=lambda _outputs: aws,
                out=io.StringIO(),
                err=io.StringIO(),
            )

        for command in setup:
            if tool(command) != 0:
                raise SystemExit(f"setup step {' '.join(command)} failed")
        previews, ups = engine.preview_count, engine.up_count
        code = tool(argv)
        return code, engine.preview_count - previews, engine.up_count - ups


def main_() -> None:
    server = MotoServer().start()
    try:
        with patched_env(server.env()), tempfile.TemporaryDirectory() as tmp:
            aws = Aws(REGION)
            checks = Path(tmp) / "smoke.yaml"
            checks.write_text(SMOKE_CHECKS_YAML)
            deploy = ["deploy", "v2", "--checks", str(checks), *FAST, "--minutes", "0"]
            cases = [
                ("deploy v2 (no ramp)", deploy, [], 2),
                ("deploy v2 --ramp 10,50", [*deploy, "--ramp", "10,50"], [], 4),
                ("rollback (after deploy)", ["rollback", "--confirm-timeout", "5"], [deploy], 1),
            ]
            print(f"{'scenario':28} {'exit':>4} {'previews':>8} {'ups':>4} {'floor':>5}  engine runs / floor")
            for name, argv, setup, floor in cases:
                code, previews, ups = run(server, aws, checks, argv, setup)
                total = f"{previews + ups} / {2 * floor} (each up previewed)"
                print(f"{name:28} {code:>4} {previews:>8} {ups:>4} {floor:>5}  {total}")
    finally:
        server.stop()


if __name__ == "__main__":
    main_()
