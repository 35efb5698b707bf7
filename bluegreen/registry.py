"""The command table: every command the tool has, in the order `bluegreen --help` lists them.

A command is one module under bluegreen/commands/ that builds a `CommandSpec` (see
bluegreen/commands/base.py) plus one line below. The imports are explicit, so the list is in one
place and the type checker sees each spec.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bluegreen.commands import (
    bake,
    deploy,
    history,
    migrate,
    plan,
    rollback,
    rotate_token,
    stage,
    status,
    switch,
    verify,
)
from bluegreen.commands.base import CommandSpec

__all__ = ["COMMANDS", "COMMAND_MODULES", "CommandSpec", "check_unique", "load_commands"]

COMMANDS: tuple[CommandSpec, ...] = (
    status.COMMAND,
    plan.COMMAND,
    stage.COMMAND,
    verify.COMMAND,
    switch.COMMAND,
    bake.COMMAND,
    rollback.COMMAND,
    history.COMMAND,
    deploy.COMMAND,
    migrate.COMMAND,
    rotate_token.COMMAND,
)

# The module of each command, in table order; names a subset for `load_commands` and `cli.main(modules=...)`.
COMMAND_MODULES: tuple[str, ...] = tuple(spec.module for spec in COMMANDS)


def check_unique(specs: Iterable[CommandSpec]) -> None:
    """Two commands with one name would make one of them unreachable."""
    names = [spec.name for spec in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TypeError(f"two command specs define the command {dupes[0]!r}")


def load_commands(modules: Sequence[str] = COMMAND_MODULES) -> list[CommandSpec]:
    """The commands of the table that `modules` name, in that order. Nothing is imported here."""
    by_module = {spec.module: spec for spec in COMMANDS}
    unknown = [name for name in modules if name not in by_module]
    if unknown:
        raise ValueError(f"{unknown[0]} is not a command module in bluegreen.registry.COMMANDS")
    return [by_module[name] for name in modules]


check_unique(COMMANDS)
