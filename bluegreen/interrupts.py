"""Hold Ctrl-C off while traffic is being put back on a healthy colour, and treat SIGTERM and SIGHUP
like Ctrl-C: a CI runner that cancels the job (SIGTERM) or a closed terminal (SIGHUP) gets traffic put
back on a healthy colour and config restored, exactly as an interrupt does.

Only this process is protected: a `pulumi` CLI that the Automation API runs as a subprocess gets
the terminal's SIGINT itself and handles it its own way (docs/release-tool.md, Failure handling).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

# The signals that stop a release: each is raised in the main thread as KeyboardInterrupt.
STOPPING: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def stopping_signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt during the block (SIGINT already does)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _interrupt) for sig in STOPPING if sig != signal.SIGINT}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class InterruptHold:
    """SIGINT, SIGTERM and SIGHUP are recorded, not raised, from `start()` until `release()`.

    Unlike a `with` block, a hold can start in one function and end in another: `bake` starts one
    as soon as it decides to roll back, and `rollback` releases it once the fast path and the config
    write are both done. Only the main thread can own signal handlers; elsewhere this is a no-op.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self._previous: dict[signal.Signals, Any] = {}
        self._active = False

    @property
    def active(self) -> bool:
        return self._active

    def start(self) -> InterruptHold:
        if not self._active and threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._record) for sig in STOPPING}
            self._active = True
        return self

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)

    def _restore(self) -> None:
        if self._active:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)
            self._active = False

    def release(self) -> None:
        """Put the previous handler back; raise KeyboardInterrupt now if Ctrl-C came meanwhile.

        Idempotent, so a `finally` can call `discard` after a normal release.
        """
        self._restore()
        if self.received:
            self.received.clear()
            raise KeyboardInterrupt

    def discard(self) -> None:
        """Put the previous handler back and drop any Ctrl-C received: the caller is already
        reporting an outcome (an error, or traffic put back) that says more than the interrupt would."""
        self._restore()
        self.received.clear()


@contextmanager
def held_interrupts() -> Iterator[InterruptHold]:
    """SIGINT during the block is recorded and then dropped (see `InterruptHold.discard`)."""
    hold = InterruptHold().start()
    try:
        yield hold
    finally:
        hold.discard()
