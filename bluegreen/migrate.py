"""migrate expand|contract <version>: change the shared database's schema, then record it.

Both colours share one database, so its schema changes by expand-and-contract (see
`bluegreen/schema_rule.py`, which the program enforces on every `pulumi up`). This module

1. refuses up front, before anything runs, when the version is not a positive integer, is not
   above the recorded `databaseSchemaVersion`, no `migrationCommand` is configured, or a colour
   that can serve traffic (the live colour, and the idle colour unless `idleScaledDown=true`) runs
   a release whose `<colour>SchemaVersions` does not list the target. The rule is checked on the
   stack config (so the recording `pulumi up` will pass) *and* on the last deployment's outputs
   (what actually runs while the migration does);
2. runs `<migrationCommand> <expand|contract> <version>` (split with shlex, run from the project
   directory, environment BLUEGREEN_STACK, BLUEGREEN_MIGRATION, BLUEGREEN_FROM_VERSION,
   BLUEGREEN_TO_VERSION and BLUEGREEN_ACTIVE_COLOR added), streaming its output through the
   reporter and killing its whole process group after `timeout` seconds;
3. only when it exits 0, sets `databaseSchemaVersion` and runs `pulumi up`, so the tags the policy
   pack checks say the same as the database. A failed, hung or interrupted command leaves the
   recorded version unchanged.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bluegreen import stack_files
from bluegreen.context import Context
from bluegreen.contract import COLORS, Color, Keys, Outputs, other
from bluegreen.errors import (
    CheckFailedError,
    ConfigValueError,
    EngineError,
    OutputError,
    ReleaseInterruptedError,
    UsageError,
)
from bluegreen.outputs import StackOutputs
from bluegreen.report import HEARTBEAT_SECONDS
from bluegreen.schema_rule import EXPLAIN, schema_conflicts, serving_colors
from bluegreen.settings import MAX_SCHEMA_VERSION
from bluegreen.stackconfig import ACTIVE_COLOR, IDLE_SCALED_DOWN, parse_config
from bluegreen.traffic import check_live_matches_outputs

Action = Literal["expand", "contract"]
ACTIONS: tuple[Action, Action] = ("expand", "contract")

DATABASE_SCHEMA_VERSION = Keys.DATABASE_SCHEMA_VERSION.key
MIGRATION_COMMAND = Keys.MIGRATION_COMMAND.key
KILL_GRACE_SECONDS = 5.0  # SIGTERM first; SIGKILL the process group if it is still there after this
TAIL_LINES = 20


def schema_versions_key(color: str) -> str:
    return Keys.SCHEMA_VERSIONS.name(color)


# ---------------------------------------------------------------- state


@dataclass(frozen=True)
class SchemaState:
    """Which colours can serve traffic and which schema versions each colour's release supports."""

    source: Literal["config", "deployed"]
    database_version: int
    active: Color
    idle_scaled_down: bool
    versions: Mapping[Color, tuple[int, ...]]

    def role(self, color: Color) -> str:
        return "the live colour" if color == self.active else "the idle colour and rollback target"

    def blocking(self, target: int) -> list[Color]:
        """Serving colours whose release does not support `target`, in the rule's order.

        `schema_conflicts` decides whether the target is refused; this only names the colours.
        """
        if not schema_conflicts(target, self.versions, self.active, self.idle_scaled_down):
            return []
        named = [c for c in serving_colors(self.active, self.idle_scaled_down) if target not in self.versions[c]]
        return named or list(serving_colors(self.active, self.idle_scaled_down))


def config_state(raw: Mapping[str, str], project_dir: Path = stack_files.PROJECT_DIR) -> SchemaState:
    """The state the next `pulumi up` deploys, from the stack config (wire form) over the defaults
    declared in `project_dir`'s Pulumi.yaml."""
    settings = parse_config(raw, project_dir=project_dir).settings
    return SchemaState(
        source="config",
        database_version=settings.database_schema_version,
        active=settings.traffic.active_color,
        idle_scaled_down=settings.idle_scaled_down,
        versions={c: settings.releases[c].schema_versions for c in COLORS},
    )


def deployed_state(outputs: Mapping[str, Any]) -> SchemaState | None:
    """What runs now, from the last update's outputs (the one reader, `bluegreen.outputs`); None when the
    stack was never deployed."""
    deployed = StackOutputs(outputs).deployed()
    if deployed is None:
        return None
    if deployed.database_schema_version is None:
        raise OutputError(DATABASE_SCHEMA_VERSION, "is missing")
    if deployed.schema_versions is None:
        missing = [schema_versions_key(c) for c in COLORS if outputs.get(schema_versions_key(c)) is None]
        raise OutputError(", ".join(missing), "is missing")
    return SchemaState(
        source="deployed",
        database_version=deployed.database_schema_version,
        active=deployed.active_color,
        idle_scaled_down=deployed.idle_scaled_down,
        versions=deployed.schema_versions,
    )


# ---------------------------------------------------------------- the checks


def _moved(before: SchemaState | None, after: SchemaState | None) -> list[str]:
    """What changed between two reads of the same state: active colour, scale-down, schema support."""
    if before is None or after is None:
        return [] if before is after else [f"{'deployed' if before is None else before.source} state appeared or went"]
    changes = []
    if before.active != after.active:
        changes.append(f"{before.source} activeColor {before.active} → {after.active}")
    if before.idle_scaled_down != after.idle_scaled_down:
        changes.append(f"{before.source} idleScaledDown {before.idle_scaled_down} → {after.idle_scaled_down}")
    for color in COLORS:
        if before.versions[color] != after.versions[color]:
            changes.append(
                f"{before.source} {schema_versions_key(color)} {list(before.versions[color])} → "
                f"{list(after.versions[color])}"
            )
    return changes


def parse_version(action: str, text: str) -> int:
    allowed = f"a positive integer up to {MAX_SCHEMA_VERSION}: the schema version to {action} to, e.g. 2"
    try:
        version = int(text.strip())
    except ValueError:
        version = 0
    if str(version) != text.strip() or not 1 <= version <= MAX_SCHEMA_VERSION:
        raise UsageError(
            f"migrate {action}: version must be {allowed}; got {text!r}",
            details={"argument": "version", "value": text, "allowed": allowed},
        )
    return version


def check_forward(action: Action, target: int, config: SchemaState, deployed: SchemaState | None) -> None:
    current = config.database_version
    if target > current:
        return
    at = "already at" if target == current else "at"
    off = " (0: schema checks off)" if current == 0 else ""
    pending = ""
    if deployed is not None and deployed.database_version != current:
        pending = (
            f" The last update recorded {deployed.database_version} on the resources' tags: if the migration to "
            f"{current} ran, run `pulumi up` to record it there too; if the config was set by hand, set it back "
            f"with `pulumi config set bluegreen:{DATABASE_SCHEMA_VERSION} {deployed.database_version}`."
        )
    raise UsageError(
        f"{action} to {target} refused: the database is {at} schema {current} "
        f"(config bluegreen:{DATABASE_SCHEMA_VERSION}={current}){off}. Migrations only move forward: "
        f"give a version above {current}.{pending}",
        details={"key": DATABASE_SCHEMA_VERSION, "value": current, "allowed": f"a target above {current}"},
    )


def migration_argv(raw: Mapping[str, str], action: Action, target: int) -> list[str]:
    """`<migrationCommand> <expand|contract> <version>`, the command split like a POSIX shell would."""
    command = raw.get(MIGRATION_COMMAND, "") or ""
    example = f"`pulumi config set bluegreen:{MIGRATION_COMMAND} './db/migrate'`"
    if not command.strip():
        raise UsageError(
            f"{action} to {target} refused: no migration command is configured (config bluegreen:"
            f"{MIGRATION_COMMAND} is empty). Set it to the executable that migrates the database, e.g. "
            f"{example}; it is called as `<command> <expand|contract> <version>`.",
            details={"key": MIGRATION_COMMAND, "value": command, "allowed": "an executable, e.g. ./db/migrate"},
        )
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise ConfigValueError(
            MIGRATION_COMMAND, command, f"a command line shlex can split ({exc}), e.g. {example}"
        ) from None
    return [*words, action, str(target)]


def _reason(action: Action, color: Color, state: SchemaState, target: int, current: int) -> str:
    supported = list(state.versions[color])
    if action == "contract" and current in supported:
        need = f"still needs schema {current}"
    else:
        need = f"does not support schema {target}"
    release = "its deployed release" if state.source == "deployed" else "its release"
    listed = f"{release} supports {supported}" if supported else f"{release} declares no schema versions"
    return f"{color} ({state.role(color)}) {need} — {listed}"


def _remedy(action: Action, color: Color, state: SchemaState, target: int, current: int) -> str:
    wanted = f"both {current} and {target}" if action == "expand" and current else str(target)
    if color == state.active:
        return (
            f"stage a release that supports {wanted} on {other(color)}, verify it and switch to it first "
            "(the live colour cannot be changed in place)"
        )
    return f"stage a release on {color} that supports {wanted} or set idleScaledDown=true first"


def schema_problems(action: Action, target: int, config: SchemaState, deployed: SchemaState | None) -> list[str]:
    """Why `action` to `target` is refused by the expand-and-contract rule; [] when it is allowed."""
    current = config.database_version
    problems: list[str] = []
    config_blocking = config.blocking(target)
    for color in config_blocking:
        problems.append(
            f"{_reason(action, color, config, target, current)}; {_remedy(action, color, config, target, current)}"
        )
    if deployed is not None:
        for color in deployed.blocking(target):
            if color in config_blocking:
                continue
            problems.append(
                f"{_reason(action, color, deployed, target, current)} (stack outputs "
                f"{schema_versions_key(color)}={list(deployed.versions[color])}, {IDLE_SCALED_DOWN}="
                f"{str(deployed.idle_scaled_down).lower()}, {ACTIVE_COLOR}={deployed.active}); the config that "
                "changes this is not deployed yet: finish staging it (`python -m bluegreen stage <release>` or "
                "`pulumi up`) first"
            )
    return problems


def refusal(action: Action, target: int, problems: Sequence[str]) -> str:
    head = f"{action} to {target} refused: "
    body = problems[0] if len(problems) == 1 else "\n  - " + "\n  - ".join(problems)
    tail = f"\n{EXPLAIN}" if action == "expand" else ""
    return head + body + tail


# ---------------------------------------------------------------- running the command


@dataclass(frozen=True)
class MigrationRun:
    argv: tuple[str, ...]
    exit_code: int | None  # None: killed after the timeout
    seconds: float
    tail: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def describe(self) -> str:
        if self.exit_code is None:
            return f"killed after {self.seconds:.1f}s (timeout)"
        if self.exit_code < 0:
            return f"killed by signal {-self.exit_code} after {self.seconds:.1f}s"
        return f"exited with {self.exit_code} after {self.seconds:.1f}s"


def _kill_group(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _group_alive(proc: subprocess.Popen[str]) -> bool:
    try:
        os.killpg(proc.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _stop(proc: subprocess.Popen[str], grace: float) -> None:
    """SIGTERM the command's process group; SIGKILL whatever is left of it after `grace` seconds."""
    deadline = time.monotonic() + grace
    _kill_group(proc, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    while _group_alive(proc) and time.monotonic() < deadline:  # children it started may still clean up
        time.sleep(0.05)
    _kill_group(proc, signal.SIGKILL)
    proc.wait()


def run_migration(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    *,
    timeout: float,
    on_line: Callable[[str], None],
    grace: float = KILL_GRACE_SECONDS,
    on_silence: Callable[[float], None] | None = None,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> MigrationRun:
    """Run the command, streaming stdout+stderr lines to `on_line`; kill its process group at `timeout`.

    `on_silence(elapsed)` is called whenever the command has printed nothing for `heartbeat`
    seconds, so a long quiet migration does not look like a hang. Raises OSError when it cannot
    be started. On any exception (Ctrl-C included) the command is stopped before the exception
    propagates.
    """
    started = time.monotonic()
    last_output = [started]
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
        start_new_session=True,  # its own process group, so a timeout kills what it started too
    )
    tail: deque[str] = deque(maxlen=TAIL_LINES)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            text = line.rstrip("\r\n")
            last_output[0] = time.monotonic()
            tail.append(text)
            on_line(text)

    reader = threading.Thread(target=pump, name="migration-output", daemon=True)
    reader.start()
    code: int | None = None
    deadline = started + timeout
    try:
        while True:
            try:
                code = proc.wait(timeout=max(0.0, min(heartbeat, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                now = time.monotonic()
                if now >= deadline:
                    _stop(proc, grace)
                    break
                if on_silence is not None and now - last_output[0] >= heartbeat:
                    on_silence(now - started)
                    last_output[0] = now
    except BaseException:
        _stop(proc, grace)
        raise
    reader.join(timeout=grace)  # a background child that keeps the pipe open must not hang us
    return MigrationRun(tuple(argv), code, round(time.monotonic() - started, 3), tuple(tail))


# ---------------------------------------------------------------- the command


def migrate(ctx: Context, action: Action, version: str, timeout: float, cwd: Path) -> dict[str, Any]:
    if action not in ACTIONS:
        raise UsageError(f"migrate: the action must be expand or contract, got {action!r}")
    target = parse_version(action, version)
    if not timeout > 0:
        raise UsageError(
            f"migrate {action}: --timeout must be a positive number of seconds, got {timeout:g}",
            details={"argument": "--timeout", "value": timeout, "allowed": "> 0"},
        )
    raw = ctx.engine.config()
    config = config_state(raw, ctx.project_dir)
    outputs = ctx.engine.outputs()
    if outputs.get(Outputs.LISTENER_ARN.name()):
        # The serving colours come from the outputs: refuse when the listener says otherwise.
        check_live_matches_outputs(ctx, StackOutputs(outputs), f"migrate {action}")
    deployed = deployed_state(outputs)
    current = config.database_version
    check_forward(action, target, config, deployed)
    argv = migration_argv(raw, action, target)
    problems = schema_problems(action, target, config, deployed)
    result: dict[str, Any] = {
        "action": action,
        "fromVersion": current,
        "toVersion": target,
        "command": argv,
        "recorded": False,
    }
    ctx.reporter.result["migrate"] = result
    if problems:
        raise CheckFailedError(refusal(action, target, problems), details={"problems": problems})

    env = {
        **os.environ,
        "BLUEGREEN_STACK": ctx.engine.stack_name,
        "BLUEGREEN_MIGRATION": action,
        "BLUEGREEN_FROM_VERSION": str(current),
        "BLUEGREEN_TO_VERSION": str(target),
        "BLUEGREEN_ACTIVE_COLOR": config.active,
    }
    unchanged = f"databaseSchemaVersion stays {current} and nothing was deployed"
    with ctx.reporter.step(f"{action} migration {current} → {target}: {shlex.join(argv)}") as rec:
        try:
            run = run_migration(
                argv,
                env,
                cwd,
                timeout=timeout,
                on_line=ctx.reporter.engine_line,
                grace=KILL_GRACE_SECONDS,
                on_silence=lambda elapsed: ctx.reporter.info(
                    f"… {argv[0]} is still running, silent [{elapsed:.0f}s of at most {timeout:.0f}s]"
                ),
            )
        except KeyboardInterrupt:
            raise ReleaseInterruptedError(
                f"interrupted: the migration command was stopped; {unchanged}. The database may be partly "
                "migrated: check it before running the migration again"
            ) from None
        except OSError as exc:
            raise UsageError(
                f"migration command {argv[0]!r} (config bluegreen:{MIGRATION_COMMAND}="
                f"{raw.get(MIGRATION_COMMAND)!r}) cannot be run: {exc.strerror or exc}; it must be an executable "
                f"file or on PATH (relative paths are taken from {cwd}); {unchanged}",
                details={"key": MIGRATION_COMMAND, "value": raw.get(MIGRATION_COMMAND)},
            ) from None
        result.update(exitCode=run.exit_code, seconds=run.seconds, timedOut=run.exit_code is None)
        if not run.ok:
            shown = "\n".join(run.tail) if run.tail else "(no output)"
            why = f"was killed after {timeout:g}s (--timeout)" if run.exit_code is None else run.describe()
            raise CheckFailedError(
                f"{action} to {target} failed: the migration command `{shlex.join(argv)}` {why}; {unchanged}. "
                f"The database may be partly migrated: check it before running the migration again. "
                f"Last {len(run.tail)} line(s) of its output:\n{shown}",
                details={"exitCode": run.exit_code, "timedOut": run.exit_code is None, "tail": list(run.tail)},
            )
        rec.detail = "exit 0"

    # No lock spans an external command (the Automation API holds the stack lock only inside an update), so
    # check again that nothing moved while it ran: a stage or flip meanwhile may have put a colour that does
    # not support the new schema in line for traffic.
    config_now, deployed_now = config_state(ctx.engine.config(), ctx.project_dir), deployed_state(ctx.engine.outputs())
    moved = _moved(deployed, deployed_now) + _moved(config, config_now)
    if moved or schema_problems(action, target, config_now, deployed_now):
        raise CheckFailedError(
            f"the {action} migration to {target} succeeded, but the stack changed while it ran "
            f"({'; '.join(moved) or 'see the refusal below'}), so it is NOT recorded: databaseSchemaVersion still "
            f"says {current}. Check that every colour that can serve traffic supports {target}, then record it with "
            f"`pulumi config set bluegreen:{DATABASE_SCHEMA_VERSION} {target} && pulumi up --policy-pack policies`; "
            "do not run the migration again."
            + "".join(f"\n{p}" for p in schema_problems(action, target, config_now, deployed_now)),
            details={"migrated": True, "toVersion": target, "changed": moved},
        )

    with ctx.reporter.step(f"record {DATABASE_SCHEMA_VERSION}={target}"):
        try:
            # The database has changed: config must say so even when the update cannot start.
            ctx.apply(
                {DATABASE_SCHEMA_VERSION: str(target)},
                message=f"bluegreen migrate {action} {target}",
                revert_if_refused=False,
            )
        except EngineError as exc:
            raise type(exc)(
                f"the {action} migration to {target} succeeded, but recording it failed: the resources' tags "
                f"(and maybe the config) still say schema {current}. Finish recording it with `pulumi config set "
                f"bluegreen:{DATABASE_SCHEMA_VERSION} {target} && pulumi up --policy-pack policies`; do not run the "
                f"migration again.\n{exc.message}",
                details={**exc.details, "migrated": True, "toVersion": target},
            ) from exc
    after = deployed_state(ctx.engine.outputs())
    if after is None or after.database_version != target:
        got = None if after is None else after.database_version
        raise CheckFailedError(
            f"after `pulumi up` the stack output {DATABASE_SCHEMA_VERSION} is {got!r}, not {target}; "
            "run `pulumi up` and check the program exports it"
        )
    result["recorded"] = True
    ctx.reporter.info(f"database schema is now {target} ({action}); recorded in config and on the resources' tags")
    return result
