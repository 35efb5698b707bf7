"""The command registry: a command is one module plus one line in COMMAND_MODULES.

A command module defines:

    NAME: str                      # the sub-command, e.g. "migrate"
    HELP: str                      # one line for `--help`
    DESCRIPTION: str               # (optional) the longer text for `<command> --help`
    def configure(parser: argparse.ArgumentParser) -> None: ...   # its own arguments
    def run(ctx: Context, args: argparse.Namespace) -> None: ...  # raise ToolError to fail

Common options (--stack, --json, timing) are added by the CLI to every command.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bluegreen.context import Context

COMMAND_MODULES: tuple[str, ...] = (
    "bluegreen.commands.status",
    "bluegreen.commands.plan",
    "bluegreen.commands.stage",
    "bluegreen.commands.verify",
    "bluegreen.commands.switch",
    "bluegreen.commands.bake",
    "bluegreen.commands.rollback",
    "bluegreen.commands.deploy",
    "bluegreen.commands.migrate",
)


@dataclass(frozen=True)
class CommandSpec:
    name: str
    help: str
    description: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context, argparse.Namespace], None]


def load_command(module_name: str) -> CommandSpec:
    module = importlib.import_module(module_name)
    missing = [attr for attr in ("NAME", "HELP", "configure", "run") if not hasattr(module, attr)]
    if missing:
        raise TypeError(f"command module {module_name} lacks {', '.join(missing)}")
    return CommandSpec(
        name=module.NAME,
        help=module.HELP,
        description=getattr(module, "DESCRIPTION", module.HELP),
        configure=module.configure,
        run=module.run,
    )


def load_commands(modules: Sequence[str] = COMMAND_MODULES) -> list[CommandSpec]:
    specs = [load_command(name) for name in modules]
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TypeError(f"two command modules define the command {dupes[0]!r}")
    return specs
