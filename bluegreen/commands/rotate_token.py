"""rotate-token: a new preview token, with the old one accepted until the tool and the gate use the new one."""

from __future__ import annotations

import argparse

from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.commands.options import add_base_url_argument
from bluegreen.context import Context
from bluegreen.token_rotation import rotate_token


def configure(parser: argparse.ArgumentParser) -> None:
    add_base_url_argument(parser)
    parser.add_argument(
        "--finish",
        action="store_true",
        help="complete a rotation that stopped between its updates: `pulumi up` until the preview rules accept "
        "only the deployed token (previewTokenGeneration stays as it is)",
    )


def run(ctx: Context, args: argparse.Namespace) -> None:
    with command_step(ctx, args):
        rotate_token(ctx, base_url=args.base_url, finish=args.finish)


COMMAND = CommandSpec(
    name="rotate-token",
    help="replace the preview token without downtime (two `pulumi up`s); rotate when someone leaves",
    description=(
        "Sets bluegreen:previewTokenGeneration to one more and runs `pulumi up` with the policy pack: a new "
        "token, which the stack output previewToken (what verify, bake and the traffic gate use) names, while "
        "the preview rules accept the old and the new one. Then checks that the rules in AWS accept both and that "
        "the new token reaches the idle colour through its preview route (--base-url as for verify), runs "
        "`pulumi up` again so that only the new token is accepted, and checks the rules again. Never changes "
        "production traffic. If it stops between the two updates it says what state the stack is in; "
        "--finish completes the rotation.\n\n"
        "Rotate after anyone who could read the token (stack state, the previewToken output, the listener "
        "rules) leaves, when it may have leaked, and on a schedule, e.g. every 90 days."
    ),
    configure=configure,
    run=run,
)
