"""Exit codes and the errors the release tool raises; each error carries its exit code."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes of `python -m bluegreen` (documented in docs/release-tool.md, Output and exit codes)."""

    OK = 0
    CHECK_FAILED = 1  # a check or an operation failed; traffic is on a healthy colour
    USAGE = 2  # bad arguments, bad config, missing stack outputs
    ROLLED_BACK = 3  # an alarm fired and traffic was returned to the previous colour
    LOCKED = 4  # another update holds the stack lock
    INTERRUPTED = 130  # Ctrl-C; traffic was left on a healthy colour


class ToolError(Exception):
    """Base error: a message for people and the exit code the CLI returns."""

    exit_code: ExitCode = ExitCode.CHECK_FAILED

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class UsageError(ToolError):
    exit_code = ExitCode.USAGE


class ConfigValueError(UsageError):
    """A config value (or a value about to be written to config) is not allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        super().__init__(
            f"config bluegreen:{key}={value!r} is not allowed: {allowed}",
            details={"key": key, "value": value, "allowed": allowed},
        )
        self.key = key
        self.value = value
        self.allowed = allowed


class OutputError(UsageError):
    """A stack output the tool needs is missing or has the wrong shape."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(
            f"stack output {key!r} {problem}; run `pulumi up` with the current program first",
            details={"output": key},
        )


class CheckFailedError(ToolError):
    exit_code = ExitCode.CHECK_FAILED


class EngineError(ToolError):
    """`pulumi up` / `pulumi preview` failed."""

    exit_code = ExitCode.CHECK_FAILED


class PreviewFailedError(EngineError):
    """The preview that runs before every `pulumi up` failed, so the update never started."""


class StackLockedError(EngineError):
    """Another update holds the Pulumi stack lock (automation's ConcurrentUpdateError)."""

    exit_code = ExitCode.LOCKED


class RolledBackError(ToolError):
    exit_code = ExitCode.ROLLED_BACK


class ReleaseInterruptedError(ToolError):
    exit_code = ExitCode.INTERRUPTED
