"""Output for people (step names, timers, progress) and for CI (`--json`).

Human mode prints to stdout. JSON mode prints progress to stderr and, at the end, exactly one
JSON document on stdout: {"command", "ok", "exitCode", "steps", "result", "warnings", "error"}.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from bluegreen.clock import Clock

# A wait says it is still waiting at least this often, so neither a person nor a CI log watcher
# mistakes a long wait for a hang.
HEARTBEAT_SECONDS = 30.0


@dataclass
class StepRecord:
    name: str
    status: str = "running"
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Reporter:
    clock: Clock
    json_mode: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    steps: list[StepRecord] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _depth: int = 0
    _last_line_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def _human(self) -> TextIO:
        return self.err if self.json_mode else self.out

    def _line(self, text: str) -> None:
        with self._lock:  # a keepalive thread may print beside the main one
            self._last_line_at = self.clock.monotonic()
            indent = "  " * self._depth
            for line in text.splitlines() or [""]:
                print(f"{indent}{line}", file=self._human, flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[StepRecord]:
        """A named, timed step; nested steps indent. Failures are marked and re-raised.

        A step that fails with an exception records the error's first line as its detail (the JSON
        report's `steps`), but its line does not print it: the error reaches `finish`, which prints it
        once as `error: ...` (every enclosing step would otherwise repeat it too).
        """
        record = StepRecord(name=name)
        self.steps.append(record)
        self._line(f"▶ {name}")
        start = self.clock.monotonic()
        self._depth += 1
        shown = ""
        try:
            yield record
        except BaseException as exc:
            record.status = "failed"
            shown = record.detail  # what the step said itself, before the error
            record.detail = record.detail or (str(exc).splitlines() or [type(exc).__name__])[0]
            raise
        else:
            record.status = "ok" if record.status == "running" else record.status
            shown = record.detail
        finally:
            self._depth -= 1
            record.seconds = round(self.clock.monotonic() - start, 3)
            mark = {"ok": "✔", "failed": "✘", "skipped": "–", "tripped": "!"}.get(record.status, "•")
            tail = f": {shown}" if shown else ""
            self._line(f"{mark} {name} ({record.seconds:.1f}s){tail}")

    def info(self, text: str) -> None:
        self._line(text)

    def progress(self, text: str, started: float) -> None:
        self._line(f"… {text} [{self.clock.monotonic() - started:.0f}s]")

    def heartbeat(self, text: str, started: float) -> None:
        """`progress`, but only when nothing was printed for HEARTBEAT_SECONDS."""
        if self._last_line_at is None or self.clock.monotonic() - self._last_line_at >= HEARTBEAT_SECONDS:
            self.progress(text, started)

    @contextmanager
    def keepalive(self, text: str, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
        """Heartbeats while a call that cannot poll runs (`pulumi up` may print nothing for minutes
        while an ASG waits for capacity): a thread prints `text` whenever nothing else was printed
        for `every` seconds, and stops when the block ends."""
        started = self.clock.monotonic()
        done = threading.Event()

        def beat() -> None:
            while not done.wait(min(every, 1.0)):
                last = self._last_line_at
                if last is None or self.clock.monotonic() - last >= every:
                    self.progress(text, started)

        thread = threading.Thread(target=beat, name="bluegreen-keepalive", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(timeout=2.0)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self._line(f"! {text}")

    def engine_line(self, text: str) -> None:
        """A line of `pulumi` output; kept off stdout in JSON mode."""
        self._line(f"│ {text.rstrip()}")

    def finish(self, command: str, exit_code: int, error: str | None) -> None:
        if self.json_mode:
            doc = {
                "command": command,
                "ok": exit_code == 0,
                "exitCode": exit_code,
                "steps": [vars(s) for s in self.steps],
                "result": self.result,
                "warnings": self.warnings,
                "error": error,
            }
            print(json.dumps(doc, indent=2, default=str), file=self.out, flush=True)
        elif error:
            print(f"error: {error}", file=self.err, flush=True)
