"""rollback: traffic back to the previous colour now, then make state match."""

from __future__ import annotations

import argparse

from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.commands.options import add_confirm_timeout_argument
from bluegreen.context import Context
from bluegreen.contract import COLORS
from bluegreen.release import rollback


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to",
        choices=COLORS,
        default=None,
        help="colour to return to (default: config rollbackColor, else the colour opposite the deployed one)",
    )
    parser.add_argument("--no-fast", dest="fast", action="store_false", help="skip the ModifyListener fast path")
    parser.add_argument("--force", action="store_true", help="roll back even if the target has no healthy target")
    add_confirm_timeout_argument(parser)


def run(ctx: Context, args: argparse.Namespace) -> None:
    with command_step(ctx, args):
        rollback(ctx, to=args.to, fast=args.fast, force=args.force)


COMMAND = CommandSpec(
    name="rollback",
    help="put traffic back on the previous colour with one ModifyListener call, then `pulumi up`",
    description=(
        "Fast path: one ModifyListener call sends 100% to the previous colour (config rollbackColor, "
        "recorded by switch; when it is empty, the colour opposite the deployed activeColor output; --to "
        "overrides), then config is set (activeColor, idleTrafficPercent=0; Ctrl-C is held off until both "
        "are done) and `pulumi up` makes state match, and the weights are confirmed in AWS. --no-fast uses "
        "only `pulumi up`. Refuses when the target has no healthy target unless --force. Safe to re-run."
    ),
    configure=configure,
    run=run,
)
