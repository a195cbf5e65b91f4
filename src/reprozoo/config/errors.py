"""One error type for everything a user can fix, and the stop a signal makes (ledger/stage.py reports both)."""

from __future__ import annotations

import signal


class ReprozooError(Exception):
    """A problem the user can fix: the message names the key, file or value and what is allowed."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; `message` says what was saved and how to go on."""

    def __init__(self, signum: int, message: str = ""):
        super().__init__(message or signal.Signals(signum).name)
        self.signum = signum
