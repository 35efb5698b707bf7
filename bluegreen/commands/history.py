"""history: the stack's decision records, from the account, whoever made them and wherever."""

from __future__ import annotations

import argparse

from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.context import Context
from bluegreen.decisions import read_history
from bluegreen.errors import UsageError

DEFAULT_LIMIT = 20


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"print the newest N records, oldest of them first (default {DEFAULT_LIMIT}; 0 prints all)",
    )


def check(args: argparse.Namespace) -> None:
    if args.limit < 0:
        raise UsageError(f"--limit={args.limit} is not allowed: a whole number >= 0 (0 prints every record)")


def run(ctx: Context, args: argparse.Namespace) -> None:
    with command_step(ctx, args):
        outputs = ctx.outputs()
        if not outputs.decision_log_parameter and not outputs.guardian_record_parameter:
            raise UsageError(
                "this stack's outputs name no decision log (decisionLogParameter) and no guardian record: "
                "run `pulumi up` with the current program first"
            )
        decisions = read_history(ctx.aws(outputs), outputs)
        shown = decisions[-args.limit :] if args.limit else decisions
        ctx.reporter.result["history"] = [d.as_json() for d in shown]
        if not decisions:
            ctx.reporter.info("no decisions recorded yet")
        elif len(shown) < len(decisions):
            ctx.reporter.info(f"the newest {len(shown)} of {len(decisions)} records (--limit 0 prints all):")
        for decision in shown:
            ctx.reporter.info(decision.line())


COMMAND = CommandSpec(
    name="history",
    help="print the decision records: switches, bake decisions, rollbacks and the guardian's actions",
    description=(
        "Reads the stack's decision log (the SSM parameter named by the decisionLogParameter output, one "
        "version per record) and the guardian's record parameter, and prints every record oldest first: when, "
        "what (switch, bake decision, rollback, guardian action), who (the AWS principal, and the CI run or "
        "user@host it ran from), why, and both colours' release spec fingerprints. Works from any machine with "
        "read access to the stack's outputs and ssm:GetParameterHistory. Parameter Store keeps the newest 100 "
        "versions of each parameter."
    ),
    configure=configure,
    check=check,
    run=run,
)
