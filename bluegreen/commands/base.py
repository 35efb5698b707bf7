"""What a command is: a CommandSpec, listed once in `bluegreen.registry.COMMANDS`.

A command module builds one spec from its own functions:

    COMMAND = CommandSpec(
        name="stage",                       # the sub-command
        help="...",                         # one line for `bluegreen --help`
        description="...",                  # the text of `bluegreen stage --help`
        configure=configure,                # adds only the options the command uses
        check=check,                        # (optional) refuses bad arguments before anything runs
        run=run,                            # does the work under its own step; raise ToolError to fail
        run_local=run_local,                # (optional) does the whole work from local files, see below
    )

Every command also gets --stack, --project-dir and --json from the CLI, because every command
works on one stack of one project and can report as JSON. An invocation that needs no stack (it
only reads a local file, e.g. `verify --validate-only`) is done by `run_local`, which returns True
when it did the work: then the stack is not resolved and neither the `pulumi` CLI nor AWS is touched.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bluegreen.context import Context
    from bluegreen.report import Reporter, StepRecord


def no_check(args: argparse.Namespace) -> None:
    """For commands whose arguments argparse checks fully."""
    del args


def no_local_run(reporter: Reporter, args: argparse.Namespace) -> bool:
    """For commands that always work on a stack."""
    del reporter, args
    return False


@dataclass(frozen=True)
class CommandSpec:
    name: str
    help: str
    description: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context, argparse.Namespace], None]
    # Runs after parsing and before the engine or AWS is touched; raises UsageError naming the flag.
    check: Callable[[argparse.Namespace], None] = field(default=no_check)
    # Runs after `check`, before any stack is chosen; True: it did the command's whole work from local files.
    run_local: Callable[[Reporter, argparse.Namespace], bool] = field(default=no_local_run)

    @property
    def module(self) -> str:
        """The module that defines the command (where its `run` lives)."""
        return self.run.__module__


def command_step(ctx: Context, args: argparse.Namespace) -> AbstractContextManager[StepRecord]:
    """The command's top-level step, `<command> (<stack>)`: every step it reports nests under it."""
    return ctx.reporter.step(f"{args.command} ({ctx.engine.stack_name})")
