"""SIGINT and SIGTERM for a foreground service that must stop what it started, whatever arrives when.

A terminal's Ctrl-C, or `make` forwarding a signal to its child besides the one sent to the whole process
group, delivers the same stop twice or more. Only the first interrupts (KeyboardInterrupt in the main
thread); later ones are noted and ignored, so the clean-up runs to its end. Inside `deferred()` (starting
a child whose handle must be kept, a `pg_ctl start` that must finish before it can be stopped) even the
first waits for the block to end. No signal is blocked: a child inherits the signal mask, and PostgreSQL
started with SIGINT blocked would never stop.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator


class Stopping:
    """Install with `install()`; `received` names the first signal (SIGINT, SIGTERM), or None."""

    def __init__(self) -> None:
        self.received: str | None = None
        self.raised = False  # the one KeyboardInterrupt has been raised
        self.depth = 0  # inside deferred()
        self.cleaning = False  # the clean-up has begun: nothing may interrupt it

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self.on_signal)

    def on_signal(self, signum: int, frame) -> None:
        self.received = self.received or signal.Signals(signum).name
        self.interrupt()

    def interrupt(self) -> None:
        if self.received and not (self.raised or self.depth or self.cleaning):
            self.raised = True
            raise KeyboardInterrupt

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """A block that a stop waits for; the stop lands as it ends."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        self.interrupt()
