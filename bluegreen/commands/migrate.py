"""migrate expand|contract <version>: run the configured database migration, then record the version."""

from __future__ import annotations

import argparse

from bluegreen.commands.base import CommandSpec, command_step
from bluegreen.context import Context
from bluegreen.migrate import ACTIONS, Action, migrate

DEFAULT_TIMEOUT_SECONDS = 900.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=ACTIONS,
        help="expand: add what the new release needs; contract: drop what only the old release needed",
    )
    parser.add_argument("version", help="schema version to migrate to: a positive integer above the current one")
    parser.add_argument(
        "--timeout",
        dest="migration_timeout",
        type=float,
        metavar="SECONDS",
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds the migration command may run; then its whole process group is killed and "
        "databaseSchemaVersion stays as it was",
    )


def run(ctx: Context, args: argparse.Namespace) -> None:
    action: Action = args.action
    with command_step(ctx, args):
        migrate(ctx, action, args.version, timeout=args.migration_timeout, cwd=args.project_dir)


COMMAND = CommandSpec(
    name="migrate",
    help="run migrationCommand (expand|contract <version>) and record databaseSchemaVersion with `pulumi up`",
    description=(
        "Runs `<migrationCommand> <expand|contract> <version>` (config bluegreen:migrationCommand, split like a "
        "shell command line, run from the project directory with BLUEGREEN_STACK, BLUEGREEN_MIGRATION, "
        "BLUEGREEN_FROM_VERSION, BLUEGREEN_TO_VERSION and BLUEGREEN_ACTIVE_COLOR set), streaming its output. "
        "Only when it exits 0 does it set bluegreen:databaseSchemaVersion=<version> and run `pulumi up`, so the "
        "tags the policy pack checks match the database. Refuses before running anything when <version> is not "
        "above databaseSchemaVersion, no migrationCommand is set, or a colour that can serve traffic (the live "
        "colour, and the idle colour unless idleScaledDown=true) runs a release whose <colour>SchemaVersions "
        "does not list <version>, in config or as deployed (expand-and-contract, bluegreen/schema_rule.py). "
        "--timeout bounds the migration command's run time, in seconds: then its whole process group is "
        "killed; a failed, hung or interrupted command leaves databaseSchemaVersion unchanged. See "
        "docs/database.md (Shared database: expand-and-contract)."
    ),
    configure=configure,
    run=run,
)
