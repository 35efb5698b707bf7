"""`python -m bluegreen migrate expand|contract <version>`.

Two parts: a table of states (database schema version x each colour's supported versions x live
colour x idle scaled down / canary) that the guard allows or refuses, with the message checked;
and the migration command itself (a small sh script in tmp_path) succeeding, failing, hanging and
being interrupted, checking what was recorded and whether `pulumi up` ran.

The Engine double below keeps config and outputs in memory; its `up` validates the config with the
program's own `bluegreen.settings.read_settings` (which applies `bluegreen.schema_rule`), so an
update the program would refuse fails here as well.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import bluegreen.migrate as migrate_module
from bluegreen.cli import main
from bluegreen.context import default_aws
from bluegreen.contract import traffic_weights
from bluegreen.engine import OperationResult, OutputSink
from bluegreen.errors import EngineError, StackLockedError, ToolError
from bluegreen.registry import COMMAND_MODULES, load_commands
from bluegreen.schema_rule import EXPLAIN
from bluegreen.settings import ConfigError, Settings, read_settings
from bluegreen.stack_files import PROJECT_DIR, effective_config

MODULES = ("bluegreen.commands.migrate",)


def deployed_outputs(settings: Settings) -> dict[str, Any]:
    """The outputs the program exports that the deployed-state reader (`bluegreen.outputs`) reads."""
    traffic = settings.traffic
    weights = traffic_weights(traffic.active_color, traffic.idle_traffic_percent)
    outputs: dict[str, Any] = {
        "activeColor": traffic.active_color,
        "idleScaledDown": settings.idle_scaled_down,
        "databaseSchemaVersion": settings.database_schema_version,
    }
    for color, release in settings.releases.items():
        outputs[f"{color}Weight"] = weights[color]
        outputs[f"{color}Release"] = release.label
        outputs[f"{color}ImageId"] = release.image_id or "ami-0123456789abcdef0"
        outputs[f"{color}SchemaVersions"] = list(release.schema_versions)
    return outputs


@dataclass
class SchemaEngine:
    """The `Engine` Protocol in memory; `up` deploys what the program would, or refuses like it."""

    config_values: dict[str, str]
    outputs_values: dict[str, Any] = field(default_factory=dict)
    stack_name: str = "test"
    messages: list[str] = field(default_factory=list)
    config_writes: list[dict[str, str]] = field(default_factory=list)
    fail_up: ToolError | None = None

    @classmethod
    def deployed(cls, **config: Any) -> SchemaEngine:
        """A stack whose last update deployed exactly `config` (on top of Pulumi.yaml/Pulumi.dev.yaml)."""
        engine = cls(effective_config("dev", config))
        engine.outputs_values = deployed_outputs(read_settings(engine.config_values))
        return engine

    def outputs(self) -> dict[str, Any]:
        return dict(self.outputs_values)

    def config(self) -> dict[str, str]:
        return dict(self.config_values)

    def set_config(self, values: Mapping[str, str]) -> None:
        self.config_writes.append(dict(values))
        self.config_values.update(values)

    def up(self, message: str, on_output: OutputSink) -> OperationResult:
        self.messages.append(message)
        on_output(f"Updating ({self.stack_name}): {message}")
        if self.fail_up is not None:
            raise self.fail_up
        try:
            settings = read_settings(self.config_values)
        except ConfigError as exc:
            raise EngineError(f"pulumi up failed:\n{exc}") from exc
        self.outputs_values = deployed_outputs(settings)
        on_output("  ~ bluegreen-router-http update [diff: ~tags]")
        return OperationResult(changes={"update": 1, "same": 38})

    def preview(self, on_output: OutputSink) -> OperationResult:
        on_output("Previewing update")
        return OperationResult(changes={"same": 39})


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def doc(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.out)
        return parsed

    @property
    def error(self) -> str:
        prefix = "error: "
        assert self.err.startswith(prefix), self.err
        return self.err[len(prefix) :].rstrip("\n")


def tool(engine: SchemaEngine, *argv: str, project_dir: Path | None = None, aws: Any = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    if project_dir is not None and not (project_dir / "Pulumi.yaml").exists():
        # A project directory has a Pulumi.yaml: the tool reads the config defaults declared there.
        shutil.copy(PROJECT_DIR / "Pulumi.yaml", project_dir / "Pulumi.yaml")
    extra = ["--project-dir", str(project_dir)] if project_dir else []
    code = main(
        ["migrate", *argv, *extra],
        engine_factory=lambda _args: engine,
        aws_factory=(lambda _outputs: aws) if aws is not None else default_aws,
        modules=MODULES,
        out=out,
        err=err,
    )
    return Run(code, out.getvalue(), err.getvalue())


def write_stub(tmp_path: Path, body: str, name: str = "migrate.sh") -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "ran.log"


@pytest.fixture
def ok_stub(tmp_path: Path, log: Path) -> Path:
    """Prints two lines, records its arguments, cwd and BLUEGREEN_* environment, exits 0."""
    return write_stub(
        tmp_path,
        f'echo "migrating: $1 to $2"\n'
        f'echo "args=$*" > "{log}"\n'
        f'echo "cwd=$(pwd)" >> "{log}"\n'
        f'env | grep "^BLUEGREEN_" | sort >> "{log}"\n'
        'echo "done"\n',
    )


def schema_config(
    db: int,
    blue: list[int],
    green: list[int],
    active: str = "blue",
    scaled: bool = False,
    canary: int = 0,
    command: str = "",
) -> dict[str, Any]:
    return {
        "databaseSchemaVersion": db,
        "blueSchemaVersions": blue,
        "greenSchemaVersions": green,
        "activeColor": active,
        "idleScaledDown": scaled,
        "idleTrafficPercent": canary,
        "migrationCommand": command,
    }


# ---------------------------------------------------------------- the table of states

IDLE = "the idle colour and rollback target"
LIVE = "the live colour"
EXPAND_TAIL = "\n" + EXPLAIN


def live_remedy(wanted: str, idle: str) -> str:
    return (
        f"stage a release that supports {wanted} on {idle}, verify it and switch to it first "
        "(the live colour cannot be changed in place)"
    )


# (db, blue, green, active, idle scaled down, canary %, action, target) -> None (allowed) or the exact error
STATES: list[tuple[int, list[int], list[int], str, bool, int, str, int, str | None]] = [
    # expand
    (1, [1, 2], [1, 2], "blue", False, 0, "expand", 2, None),
    (
        1, [1, 2], [1], "blue", False, 0, "expand", 2,
        f"expand to 2 refused: green ({IDLE}) does not support schema 2 — its release supports [1]; "
        f"stage a release on green that supports both 1 and 2 or set idleScaledDown=true first{EXPAND_TAIL}",
    ),
    (1, [1, 2], [1], "blue", True, 0, "expand", 2, None),  # idle scaled down: no rollback target
    (
        1, [1], [1, 2], "green", False, 0, "expand", 2,  # just switched to green: blue is the rollback target
        f"expand to 2 refused: blue ({IDLE}) does not support schema 2 — its release supports [1]; "
        f"stage a release on blue that supports both 1 and 2 or set idleScaledDown=true first{EXPAND_TAIL}",
    ),
    (1, [1], [1, 2], "green", True, 0, "expand", 2, None),
    (
        1, [1], [1, 2], "blue", True, 0, "expand", 2,  # scaling down the idle colour never excuses the live one
        f"expand to 2 refused: blue ({LIVE}) does not support schema 2 — its release supports [1]; "
        f"{live_remedy('both 1 and 2', 'green')}{EXPAND_TAIL}",
    ),
    (
        1, [1, 2], [1], "blue", False, 10, "expand", 2,  # the idle colour takes a 10% canary
        f"expand to 2 refused: green ({IDLE}) does not support schema 2 — its release supports [1]; "
        f"stage a release on green that supports both 1 and 2 or set idleScaledDown=true first{EXPAND_TAIL}",
    ),
    (
        1, [1], [1], "blue", False, 0, "expand", 2,
        "expand to 2 refused: \n"
        f"  - blue ({LIVE}) does not support schema 2 — its release supports [1]; {live_remedy('both 1 and 2', 'green')}\n"
        f"  - green ({IDLE}) does not support schema 2 — its release supports [1]; "
        f"stage a release on green that supports both 1 and 2 or set idleScaledDown=true first{EXPAND_TAIL}",
    ),
    (1, [1, 2, 3], [1, 2, 3], "green", False, 0, "expand", 3, None),  # skipping a version is the user's call
    # turning the feature on (0 = off)
    (
        0, [], [], "blue", False, 0, "expand", 1,
        "expand to 1 refused: \n"
        f"  - blue ({LIVE}) does not support schema 1 — its release declares no schema versions; "
        f"{live_remedy('1', 'green')}\n"
        f"  - green ({IDLE}) does not support schema 1 — its release declares no schema versions; "
        f"stage a release on green that supports 1 or set idleScaledDown=true first{EXPAND_TAIL}",
    ),
    # contract
    (2, [2, 3], [2, 3], "blue", False, 0, "contract", 3, None),
    (
        2, [2, 3], [1, 2], "blue", False, 0, "contract", 3,
        f"contract to 3 refused: green ({IDLE}) still needs schema 2 — its release supports [1, 2]; "
        "stage a release on green that supports 3 or set idleScaledDown=true first",
    ),
    (2, [2, 3], [1, 2], "blue", True, 0, "contract", 3, None),
    (
        2, [1, 2], [2, 3], "blue", False, 0, "contract", 3,  # the live colour still needs the old schema
        f"contract to 3 refused: blue ({LIVE}) still needs schema 2 — its release supports [1, 2]; "
        f"{live_remedy('3', 'green')}",
    ),
    (
        2, [1, 2], [2, 3], "blue", True, 0, "contract", 3,
        f"contract to 3 refused: blue ({LIVE}) still needs schema 2 — its release supports [1, 2]; "
        f"{live_remedy('3', 'green')}",
    ),
    (2, [1, 2], [2, 3], "green", True, 0, "contract", 3, None),
    # only forward
    (
        2, [2, 3], [2, 3], "blue", False, 0, "expand", 2,
        "expand to 2 refused: the database is already at schema 2 (config bluegreen:databaseSchemaVersion=2). "
        "Migrations only move forward: give a version above 2.",
    ),
    (
        3, [3], [3], "blue", False, 0, "contract", 2,
        "contract to 2 refused: the database is at schema 3 (config bluegreen:databaseSchemaVersion=3). "
        "Migrations only move forward: give a version above 3.",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("db", "blue", "green", "active", "scaled", "canary", "action", "target", "refusal"), STATES)
def test_guard_table(tmp_path, log, ok_stub, db, blue, green, active, scaled, canary, action, target, refusal):
    engine = SchemaEngine.deployed(**schema_config(db, blue, green, active, scaled, canary, str(ok_stub)))
    before = dict(engine.config_values)

    run = tool(engine, action, str(target))

    if refusal is None:
        assert run.code == 0, run.err
        assert log.exists()
        assert engine.config_values["databaseSchemaVersion"] == str(target)
        assert engine.outputs_values["databaseSchemaVersion"] == target
        assert engine.messages == [f"bluegreen migrate {action} {target}"]
    else:
        assert run.error == refusal
        assert run.code == (2 if "Migrations only move forward" in refusal else 1)
        assert not log.exists(), "the migration command must not run when refused"
        assert engine.config_values == before
        assert engine.messages == []


def test_refuses_when_the_fix_is_only_in_config_and_not_deployed_yet(log, ok_stub):
    # Worked example: blue v2 [1, 2] is set for blue but the stage's `pulumi up` never ran, so blue still runs [1].
    engine = SchemaEngine.deployed(**schema_config(1, [1], [1, 2], "green", command=str(ok_stub)))
    engine.set_config({"blueSchemaVersions": "[1, 2]"})

    run = tool(engine, "expand", "2")

    assert run.code == 1
    assert run.error == (
        f"expand to 2 refused: blue ({IDLE}) does not support schema 2 — its deployed release supports [1] "
        "(stack outputs blueSchemaVersions=[1], idleScaledDown=false, activeColor=green); the config that changes "
        "this is not deployed yet: finish staging it (`python -m bluegreen stage <release>` or `pulumi up`) "
        f"first{EXPAND_TAIL}"
    )
    assert not log.exists() and engine.messages == []


def test_refuses_when_idle_scaled_down_is_set_but_not_deployed(log, ok_stub):
    engine = SchemaEngine.deployed(**schema_config(2, [2, 3], [1, 2], "blue", command=str(ok_stub)))
    engine.set_config({"idleScaledDown": "true"})

    run = tool(engine, "contract", "3")

    assert run.code == 1
    assert run.error.startswith(
        f"contract to 3 refused: green ({IDLE}) still needs schema 2 — its deployed release supports [1, 2] "
        "(stack outputs greenSchemaVersions=[1, 2], idleScaledDown=false, activeColor=blue); the config that "
        "changes this is not deployed yet"
    )
    assert not log.exists()


def test_refuses_when_pending_config_would_make_the_recording_update_fail(log, ok_stub):
    # Deployed: both colours support 2. Pending in config: green back on a release that only knows 1.
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], "blue", command=str(ok_stub)))
    engine.set_config({"greenSchemaVersions": "[1]"})

    run = tool(engine, "expand", "2")

    assert run.code == 1
    assert run.error.startswith(
        f"expand to 2 refused: green ({IDLE}) does not support schema 2 — its release supports [1]; "
        "stage a release on green that supports both 1 and 2"
    )
    assert not log.exists() and engine.messages == []


def test_after_the_scale_down_is_deployed_contract_runs(log, ok_stub):
    engine = SchemaEngine.deployed(**schema_config(2, [2, 3], [1, 2], "blue", command=str(ok_stub)))
    engine.set_config({"idleScaledDown": "true"})
    engine.up("scale down", lambda _line: None)

    run = tool(engine, "contract", "3")

    assert run.code == 0, run.err
    assert engine.outputs_values["databaseSchemaVersion"] == 3


def test_only_forward_mentions_a_recorded_version_not_yet_on_the_tags(ok_stub):
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command=str(ok_stub)))
    engine.set_config({"databaseSchemaVersion": "2"})  # a previous migrate whose `pulumi up` failed

    run = tool(engine, "expand", "2")

    assert run.code == 2
    assert run.error.endswith(
        "The last update recorded 1 on the resources' tags: if the migration to 2 ran, run `pulumi up` to record "
        "it there too; if the config was set by hand, set it back with `pulumi config set bluegreen:databaseSchemaVersion 1`."
    )


# ---------------------------------------------------------------- arguments and config


@pytest.mark.parametrize("version", ["two", "0", "-1", "1.5", "", "02", "1000001"])
def test_version_must_be_a_positive_integer(ok_stub, log, version):
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command=str(ok_stub)))

    run = tool(engine, "expand", version)

    assert run.code == 2
    assert run.error == (
        "migrate expand: version must be a positive integer up to 1000000: the schema version to expand to, "
        f"e.g. 2; got {version!r}"
    )
    assert not log.exists()


def test_no_migration_command_names_the_key_and_how_to_set_it():
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2]))

    run = tool(engine, "expand", "2")

    assert run.code == 2
    assert run.error == (
        "expand to 2 refused: no migration command is configured (config bluegreen:migrationCommand is empty). "
        "Set it to the executable that migrates the database, e.g. `pulumi config set bluegreen:migrationCommand "
        "'./db/migrate'`; it is called as `<command> <expand|contract> <version>`."
    )
    assert engine.messages == []


def test_a_command_line_shlex_cannot_split_is_a_config_error():
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command="./migrate 'unclosed"))

    run = tool(engine, "expand", "2")

    assert run.code == 2
    assert run.error.startswith(
        'config bluegreen:migrationCommand="./migrate \'unclosed" is not allowed: a command line shlex can split'
    )


def test_a_missing_executable_names_it_and_leaves_the_version(tmp_path):
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command="./no-such-migrate --all"))

    run = tool(engine, "expand", "2", project_dir=tmp_path)

    assert run.code == 2
    assert run.error == (
        "migration command './no-such-migrate' (config bluegreen:migrationCommand='./no-such-migrate --all') "
        "cannot be run: No such file or directory; it must be an executable file or on PATH (relative paths are "
        f"taken from {tmp_path}); databaseSchemaVersion stays 1 and nothing was deployed"
    )
    assert engine.config_values["databaseSchemaVersion"] == "1" and engine.messages == []


def test_timeout_must_be_positive(ok_stub, log):
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command=str(ok_stub)))

    run = tool(engine, "expand", "2", "--timeout", "0")

    assert run.code == 2
    assert run.error == "--timeout=0 is not allowed: a number of seconds above 0"
    assert not log.exists()


def test_migrate_is_registered():
    assert "bluegreen.commands.migrate" in COMMAND_MODULES
    assert "migrate" in [spec.name for spec in load_commands()]


# ---------------------------------------------------------------- running the migration


def test_success_runs_the_command_then_records_the_version_with_pulumi_up(tmp_path, log, ok_stub):
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], "green", command=str(ok_stub)))

    run = tool(engine, "expand", "2", project_dir=tmp_path)

    assert run.code == 0, run.err
    ran = log.read_text().splitlines()
    assert ran[0] == "args=expand 2"
    assert ran[1] == f"cwd={tmp_path}"
    assert set(ran[2:]) >= {
        "BLUEGREEN_STACK=test",
        "BLUEGREEN_MIGRATION=expand",
        "BLUEGREEN_FROM_VERSION=1",
        "BLUEGREEN_TO_VERSION=2",
        "BLUEGREEN_ACTIVE_COLOR=green",
    }
    assert engine.config_writes == [{"databaseSchemaVersion": "2"}]
    assert engine.messages == ["bluegreen migrate expand 2"]
    assert engine.outputs_values["databaseSchemaVersion"] == 2
    # the command's output is streamed through the reporter, before the update
    out = run.out
    assert "│ migrating: expand to 2" in out and "│ done" in out
    assert out.index("│ done") < out.index("▶ record databaseSchemaVersion=2") < out.index("│ Updating (test)")
    assert "database schema is now 2 (expand)" in out


def test_a_stage_that_lands_while_the_command_runs_stops_the_record(tmp_path, log, ok_stub, monkeypatch):
    # Green (live) and blue support 2; while the command runs, someone stages blue with a release that does not.
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], "green", command=str(ok_stub)))
    real_run = migrate_module.run_migration

    def run_with_a_concurrent_stage(*args: Any, **kwargs: Any) -> Any:
        result = real_run(*args, **kwargs)
        engine.outputs_values["blueSchemaVersions"] = [1]
        return result

    monkeypatch.setattr(migrate_module, "run_migration", run_with_a_concurrent_stage)

    run = tool(engine, "expand", "2", project_dir=tmp_path)

    assert run.code == 1
    assert run.error.startswith(
        "the expand migration to 2 succeeded, but the stack changed while it ran (deployed blueSchemaVersions "
        "[1, 2] → [1]), so it is NOT recorded: databaseSchemaVersion still says 1."
    )
    assert engine.config_writes == [] and engine.messages == []


@dataclass
class ListenerOnly:
    """The one AWS read migrate makes: the production listener's weights."""

    weights: dict[str, int]

    def listener_weights(self, _listener_arn: str) -> dict[str, int]:
        return {f"tg-{color}": weight for color, weight in self.weights.items()}


def test_migrate_refuses_when_the_listener_contradicts_the_outputs(tmp_path, log, ok_stub):
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], "green", command=str(ok_stub)))
    engine.outputs_values.update(
        listenerArn="arn:listener", blueTargetGroupArn="tg-blue", greenTargetGroupArn="tg-green"
    )

    run = tool(engine, "expand", "2", project_dir=tmp_path, aws=ListenerOnly({"blue": 100, "green": 0}))

    assert run.code == 1
    assert run.error.startswith(
        "migrate expand refused: the production listener sends blue=100 green=0, but the last update's outputs say "
        "blue=0 green=100"
    )
    assert not log.exists()  # the migration command never ran


def test_command_words_are_split_like_a_shell_and_the_action_is_appended(tmp_path, log):
    script = write_stub(tmp_path, f'printf "%s\\n" "$@" > "{log}"\n', name="db migrate.sh")
    command = f"{shlex.quote(str(script))} --dsn 'postgres://db/app name'"
    engine = SchemaEngine.deployed(**schema_config(2, [2, 3], [2, 3], command=command))

    run = tool(engine, "contract", "3")

    assert run.code == 0, run.err
    assert log.read_text().splitlines() == ["--dsn", "postgres://db/app name", "contract", "3"]


def test_json_mode_prints_one_document_and_keeps_the_command_output_off_stdout(ok_stub):
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command=str(ok_stub)))

    run = tool(engine, "expand", "2", "--json")

    assert run.code == 0
    doc = run.doc
    assert doc["command"] == "migrate" and doc["ok"] is True and doc["error"] is None
    result = doc["result"]["migrate"]
    assert result["fromVersion"] == 1 and result["toVersion"] == 2
    assert result["command"] == [str(ok_stub), "expand", "2"]
    assert result["exitCode"] == 0 and result["recorded"] is True and result["timedOut"] is False
    assert [s["status"] for s in doc["steps"]] == ["ok"] * len(doc["steps"])
    assert "│ migrating: expand to 2" in run.err and "migrating" not in run.out


def test_a_refusal_in_json_mode_carries_the_message_and_the_problems(ok_stub):
    engine = SchemaEngine.deployed(**schema_config(2, [2, 3], [1, 2], command=str(ok_stub)))

    run = tool(engine, "contract", "3", "--json")

    assert run.code == 1
    assert run.doc["ok"] is False
    assert run.doc["error"].startswith("contract to 3 refused: green (the idle colour and rollback target)")
    assert len(run.doc["result"]["details"]["problems"]) == 1
    assert run.doc["result"]["migrate"]["recorded"] is False


def test_a_failed_command_leaves_the_version_and_shows_its_output_tail(tmp_path, log):
    stub = write_stub(
        tmp_path,
        f'touch "{log}"\n'
        'i=1; while [ $i -le 30 ]; do echo "step $i"; i=$((i+1)); done\n'
        'echo "ERROR: column full_name already exists" >&2\n'
        "exit 3\n",
    )
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command=str(stub)))

    run = tool(engine, "expand", "2", "--json")

    assert run.code == 1
    assert log.exists()
    error = run.doc["error"]
    assert error.startswith(f"expand to 2 failed: the migration command `{stub} expand 2` exited with 3 after ")
    assert "databaseSchemaVersion stays 1 and nothing was deployed" in error
    assert error.endswith("step 30\nERROR: column full_name already exists")  # stderr too, in order
    assert "Last 20 line(s) of its output:\nstep 12\n" in error  # the tail, not the head
    assert "step 11\n" not in error
    assert run.doc["result"]["details"]["exitCode"] == 3
    failed = [step["name"] for step in run.doc["steps"] if step["status"] == "failed"]
    assert failed == ["migrate (test)", f"expand migration 1 → 2: {stub} expand 2"]
    assert engine.config_values["databaseSchemaVersion"] == "1"
    assert engine.config_writes == [] and engine.messages == []
    assert engine.outputs_values["databaseSchemaVersion"] == 1


def child_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie is dead, just not reaped yet
    except FileNotFoundError:
        return True


def test_a_hanging_command_is_killed_after_the_timeout_with_what_it_started(tmp_path, monkeypatch):
    # SIGTERM, then up to KILL_GRACE_SECONDS for the group to go (here orphans are reaped slowly), then SIGKILL
    monkeypatch.setattr(migrate_module, "KILL_GRACE_SECONDS", 0.5)
    pid_file = tmp_path / "child.pid"
    stub = write_stub(tmp_path, f'echo "locking table"\nsleep 30 &\necho $! > "{pid_file}"\nwait\n')
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command=str(stub)))

    started = time.monotonic()
    run = tool(engine, "expand", "2", "--timeout", "0.5")
    elapsed = time.monotonic() - started

    assert run.code == 1
    assert 0.5 <= elapsed < 2.5
    assert run.error.startswith(f"expand to 2 failed: the migration command `{stub} expand 2` was killed after 0.5s")
    assert run.error.endswith("Last 1 line(s) of its output:\nlocking table")
    assert engine.config_values["databaseSchemaVersion"] == "1" and engine.messages == []
    deadline = time.monotonic() + 2
    while not child_gone(int(pid_file.read_text())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child_gone(int(pid_file.read_text())), "the command's children must be killed too"


def test_a_command_ignoring_sigterm_is_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(migrate_module, "KILL_GRACE_SECONDS", 0.3)
    stub = write_stub(tmp_path, "trap '' TERM\necho stubborn\nsleep 30\n")
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command=str(stub)))

    started = time.monotonic()
    run = tool(engine, "expand", "2", "--timeout", "0.3", "--json")

    assert run.code == 1 and time.monotonic() - started < 3
    assert run.doc["result"]["details"]["timedOut"] is True
    assert engine.messages == []


def test_ctrl_c_stops_the_command_and_leaves_the_version(tmp_path, monkeypatch):
    monkeypatch.setattr(migrate_module, "KILL_GRACE_SECONDS", 0.3)
    stub = write_stub(tmp_path, "echo working\nsleep 30\n")
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command=str(stub)))
    # Ctrl-C reaches Python as a KeyboardInterrupt in the main thread, here while it waits for the command.
    # Raised there directly: a real SIGINT from another thread can land while a weakref or gc callback runs,
    # where CPython reports it as unraisable and drops it (seen once in CI), and the test would then wait 30 s.
    real_wait = subprocess.Popen.wait
    pressed: list[int] = []

    def wait_then_ctrl_c(self: subprocess.Popen[Any], timeout: float | None = None) -> int:
        if not pressed:
            pressed.append(self.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                real_wait(self, timeout=0.4)  # the command is running ...
            raise KeyboardInterrupt  # ... when the operator presses Ctrl-C
        return real_wait(self, timeout)

    monkeypatch.setattr(subprocess.Popen, "wait", wait_then_ctrl_c)

    run = tool(engine, "expand", "2")

    assert run.code == 130
    assert run.error.startswith("interrupted: the migration command was stopped; databaseSchemaVersion stays 1")
    assert engine.messages == [] and engine.config_values["databaseSchemaVersion"] == "1"
    with pytest.raises(ProcessLookupError):  # the command was stopped, not left running
        os.kill(pressed[0], 0)


def test_when_recording_fails_the_config_keeps_the_new_version_and_says_what_to_run(ok_stub):
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command=str(ok_stub)))
    engine.fail_up = EngineError("pulumi up failed:\nerror: policy violations")

    run = tool(engine, "expand", "2")

    assert run.code == 1
    assert run.error.startswith(
        "the expand migration to 2 succeeded, but recording it failed: the resources' tags (and maybe the config) "
        "still say schema 1. Finish recording it with `pulumi config set bluegreen:databaseSchemaVersion 2 && pulumi up --policy-pack policies`; "
        "do not run the migration again.\npulumi up failed:"
    )
    assert engine.messages == ["bluegreen migrate expand 2"]
    assert engine.config_values["databaseSchemaVersion"] == "2"  # the database is at 2 now


def test_a_locked_stack_after_the_migration_keeps_the_config_and_exits_4(ok_stub):
    engine = SchemaEngine.deployed(**schema_config(1, [1, 2], [1, 2], command=str(ok_stub)))
    engine.fail_up = StackLockedError("stack 'test' is locked by another update")

    run = tool(engine, "expand", "2")

    assert run.code == 4
    assert "succeeded, but recording it failed" in run.error
    assert engine.config_values["databaseSchemaVersion"] == "2"  # not reverted: the database changed


def test_a_quiet_migration_says_it_is_still_running(tmp_path: Path) -> None:
    script = tmp_path / "quiet.sh"
    script.write_text("#!/bin/sh\necho starting\nsleep 1\necho done\n")
    script.chmod(0o755)
    lines: list[str] = []
    silences: list[float] = []

    run = migrate_module.run_migration(
        [str(script)],
        dict(os.environ),
        tmp_path,
        timeout=10,
        on_line=lines.append,
        on_silence=silences.append,
        heartbeat=0.3,
    )

    assert run.exit_code == 0
    assert lines == ["starting", "done"]
    assert len(silences) >= 2  # about every 0.3 s of the 1 s it said nothing
    assert silences == sorted(silences)
