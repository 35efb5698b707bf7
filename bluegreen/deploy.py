"""deploy: stage → verify → switch → bake, stopping at the first failure with traffic on a healthy colour."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bluegreen.bake import bake
from bluegreen.context import Context
from bluegreen.release import stage, switch, verify
from bluegreen.smoke import load_checks
from bluegreen.stackconfig import check_image_id, check_release, image_key, release_key
from bluegreen.watch import smoke_base_url


def deploy(
    ctx: Context,
    release: str,
    *,
    image_id: str | None,
    checks_path: Path,
    ramp: list[int],
    pause: float | None,
    minutes: float | None,
    bake_checks: bool,
    base_url: str | None = None,
) -> dict[str, Any]:
    cfg, outputs = ctx.load()
    live, idle = cfg.active, cfg.idle
    check_release(release_key(idle), release)
    if image_id is not None:
        check_image_id(image_key(idle), image_id)
    load_checks(checks_path)  # a bad checks file fails now, before anything changes
    smoke_base_url(outputs, base_url)  # and so does a URL the smoke checks cannot use
    already = (
        cfg.idle_percent == 0
        and cfg.releases[live] == release
        and outputs.release(live) == release
        and (image_id is None or cfg.image_ids[live] == image_id)
    )
    if already:
        ctx.reporter.info(f"release {release} is already live on {live}; nothing to deploy (`bake` watches it)")
        result = {"deployed": False, "active": live, "release": release}
        ctx.reporter.result["deploy"] = result
        return result
    with ctx.reporter.step("stage"):
        stage(ctx, release, image_id)
    with ctx.reporter.step("verify"):
        verify(ctx, checks_path, color=idle, base_url=base_url)
    with ctx.reporter.step("switch"):
        switch(ctx, to=idle, ramp=ramp, pause=pause)
    with ctx.reporter.step("bake"):
        bake(ctx, minutes, checks_path if bake_checks else None, auto_rollback=True, base_url=base_url)
    result = {"deployed": True, "active": idle, "release": release}
    ctx.reporter.result["deploy"] = result
    return result
