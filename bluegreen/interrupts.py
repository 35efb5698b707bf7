"""Hold Ctrl-C off while traffic is being put back on a healthy colour."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def deferred_interrupts(reraise: bool = True) -> Iterator[list[int]]:
    """SIGINT during the block is recorded, not raised; raised afterwards when `reraise`.

    Only the main thread can own signal handlers; elsewhere this is a no-op.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def _record(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGINT, _record)
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)
    if received and reraise:
        raise KeyboardInterrupt
