"""What every command gets: the engine, AWS, the clock, the reporter and the timing knobs."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bluegreen import stack_files
from bluegreen.aws import Aws
from bluegreen.clock import Clock
from bluegreen.contract import Keys
from bluegreen.engine import Engine, OperationResult
from bluegreen.errors import PreviewFailedError, StackLockedError
from bluegreen.outputs import StackOutputs
from bluegreen.report import Reporter
from bluegreen.safety import USED_AT, previous_overrides
from bluegreen.smoke import Fetch, urllib_fetch
from bluegreen.stackconfig import ReleaseConfig, parse_config


@dataclass(frozen=True)
class Timing:
    """Poll intervals and timeouts, in seconds; all overridable so tests run in seconds."""

    poll_interval: float = 10.0  # health waits
    health_timeout: float = 900.0  # stage: until the idle target group is healthy
    confirm_interval: float = 2.0  # weights check after an update
    confirm_timeout: float = 120.0
    bake_interval: float = 30.0  # bake: alarm poll interval


def default_aws(outputs: StackOutputs) -> Aws:
    return Aws(region=outputs.region())


@dataclass
class Context:
    engine: Engine
    reporter: Reporter
    clock: Clock
    timing: Timing = field(default_factory=Timing)
    aws_factory: Callable[[StackOutputs], Aws] = default_aws
    fetch: Fetch = urllib_fetch
    project_dir: Path = stack_files.PROJECT_DIR  # --project-dir: whose Pulumi.yaml declares the defaults
    _aws: Aws | None = None
    _emergency_used_at: str | None = None  # an override this command's last update used (confirm_emergency_overrides)

    def load(self) -> tuple[ReleaseConfig, StackOutputs]:
        return self.parse(self.engine.config()), StackOutputs(self.engine.outputs())

    def parse(self, raw: Mapping[str, str]) -> ReleaseConfig:
        return parse_config(raw, project_dir=self.project_dir)

    def outputs(self) -> StackOutputs:
        return StackOutputs(self.engine.outputs())

    def aws(self, outputs: StackOutputs) -> Aws:
        if self._aws is None:
            self._aws = self.aws_factory(outputs)
        return self._aws

    def set_config(self, changes: Mapping[str, str]) -> None:
        if not changes:
            return
        shown = ", ".join(f"bluegreen:{k}={v!r}" for k, v in changes.items())
        with self.reporter.step("config set") as rec:
            self.engine.set_config(changes)
            rec.detail = shown

    def apply(self, changes: Mapping[str, str], message: str, revert_if_refused: bool = True) -> OperationResult:
        """Set config, then `pulumi up` (previewed first) with the policy pack.

        When the update never started (the stack is locked, or its preview failed: a mandatory
        policy violation or the program refusing), with `revert_if_refused` the keys just set go
        back to their previous values, so a refused step leaves config as it found it.
        """
        before = self.engine.config() if changes and revert_if_refused else {}
        self.set_config(changes)
        try:
            result = self.up(message)
        except (StackLockedError, PreviewFailedError) as exc:
            if changes and revert_if_refused:
                self.engine.set_config({key: before.get(key, "") for key in changes})
                exc.message += "\nconfig left as it was: " + ", ".join(sorted(changes))
                exc.args = (exc.message,)
            raise
        return result

    def up(self, message: str) -> OperationResult:
        """`pulumi up` (previewed first, with the policy pack) as a reported step."""
        self.confirm_emergency_overrides()
        with self.reporter.step("pulumi up") as rec, self.reporter.keepalive("pulumi up is still running"):
            result = self.engine.up(message, self.reporter.engine_line)
            rec.detail = result.describe()
        self.record_emergency_overrides(result)
        return result

    def confirm_emergency_overrides(self) -> None:
        """`gateBypass=true` and `guardianArmed=off` apply to one update (`bluegreen.safety`); one command of the
        tool (a ramp's steps, the restore after a failed switch) counts as one: an override this command's own
        last update used is confirmed for its next one with `emergencyAck`. The update after the command is
        refused unless someone confirms it again."""
        if self._emergency_used_at is None:
            return
        self.reporter.warn(
            f"{Keys.EMERGENCY_ACK.key}={self._emergency_used_at}: this command's last update used an emergency "
            "override (gateBypass=true or guardianArmed=off), confirmed for its next update"
        )
        self.engine.set_config({Keys.EMERGENCY_ACK.key: self._emergency_used_at})

    def record_emergency_overrides(self, result: OperationResult) -> None:
        used = previous_overrides(result.outputs) or {}
        used_at = used.get(USED_AT)
        self._emergency_used_at = used_at if isinstance(used_at, str) else None

    def config_set_command(self, changes: Mapping[str, str]) -> str:
        """The Pulumi CLI command that writes `changes`, for messages that ask a person to run it."""
        pairs = " ".join(f"--plaintext {shlex.quote(f'bluegreen:{k}={v}')}" for k, v in changes.items())
        here = self.project_dir.resolve() == Path.cwd().resolve()
        cwd = "" if here else f" --cwd {shlex.quote(str(self.project_dir))}"
        return f"pulumi config set-all{cwd} --stack {shlex.quote(self.engine.stack_name)} {pairs}"
