"""plan: human traffic/release summary, then `pulumi preview --diff` with the policy pack.

Without the `pulumi` CLI the summary still prints, from the stack file (`Pulumi.<stack>.yaml` over
the defaults in `Pulumi.yaml`, as `pulumi` itself applies them), and plan then says that the preview
needs the CLI and exits 2.
"""

from __future__ import annotations

import argparse
import shutil

from bluegreen import stack_files
from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.context import Context
from bluegreen.engine import AutomationEngine
from bluegreen.errors import UsageError
from bluegreen.views import plan

INSTALL_PULUMI = "https://www.pulumi.com/docs/install/"


def configure(parser: argparse.ArgumentParser) -> None:
    del parser  # reads only; no options of its own


def pulumi_cli_missing(ctx: Context) -> bool:
    """True when the engine is the Automation API one and the `pulumi` CLI it drives is not on PATH."""
    return isinstance(ctx.engine, AutomationEngine) and shutil.which("pulumi") is None


def summary_from_stack_file(ctx: Context) -> None:
    """The traffic summary from the stack file alone; then a UsageError saying the preview needs the CLI."""
    stack = ctx.engine.stack_name
    short = stack.rsplit("/", 1)[-1]  # `org/project/dev` keeps its config in Pulumi.dev.yaml
    stack_file = ctx.project_dir / f"Pulumi.{short}.yaml"
    with ctx.reporter.step(f"traffic summary from {stack_file.name} (no `pulumi` CLI)") as rec:
        if not stack_file.is_file():
            raise UsageError(
                f"--stack {stack}: there is no stack file {stack_file}, and without the `pulumi` CLI plan reads "
                "the config from it; pass the stack whose Pulumi.<stack>.yaml is in --project-dir",
                details={"argument": "--stack", "value": stack},
            )
        from bluegreen.ci.summary import traffic_summary  # owned by CI; imported lazily, as views.plan does

        config = stack_files.effective_config(short, project_dir=ctx.project_dir)
        try:
            # The deployed outputs come from the backend, through the CLI: compare with none.
            summary = traffic_summary(config, {})
        except ValueError as exc:  # the summary's own error type says which key is wrong
            raise UsageError(f"cannot summarise {stack_file.name}: {exc}") from None
        ctx.reporter.info(
            f"reading the deployed outputs needs the `pulumi` CLI, so this compares {stack_file.name} with no "
            "deployment (it reads as a first deploy):"
        )
        ctx.reporter.info(summary)
        rec.detail = "against no deployed outputs"
    ctx.reporter.result["plan"] = {"summary": summary, "changes": None, "preview": "not run: no `pulumi` CLI"}
    raise UsageError(
        "the preview (`pulumi preview --diff` with the policy pack) needs the `pulumi` CLI, which is not on "
        f"PATH; the summary above is {stack_file.name} against no deployed outputs. Install the CLI "
        f"({INSTALL_PULUMI}), log in to the stack's backend (`pulumi login`), then run plan again",
        details={"preview": "needs the pulumi CLI"},
    )


def run(ctx: Context, args: argparse.Namespace) -> None:
    with command_step(ctx, args):
        if pulumi_cli_missing(ctx):
            summary_from_stack_file(ctx)
        else:
            plan(ctx)


COMMAND = CommandSpec(
    name="plan",
    help="print the traffic/release summary and run `pulumi preview --diff` with the policy pack",
    description=(
        "Prints bluegreen.ci.summary.traffic_summary(config, outputs), then runs `pulumi preview --diff` "
        "with the policy pack in policies/. Exits 1 when the preview fails (including policy violations).\n\n"
        "Without the `pulumi` CLI on PATH it still prints the summary, from the stack file "
        "(Pulumi.<stack>.yaml over the defaults in Pulumi.yaml) against no deployed outputs, then says the "
        "preview needs the CLI and exits 2."
    ),
    configure=configure,
    run=run,
)
