"""One error type for everything a user can fix, and the one-line reporting of it."""

from __future__ import annotations

import sys
from typing import Callable


class ReprozooError(Exception):
    """A problem the user can fix: the message names the key, file or value and what is allowed."""


def run_main(main: Callable[[], None]) -> None:
    """Run a stage's main(); a ReprozooError becomes one line on stderr and exit code 2."""
    try:
        main()
    except ReprozooError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
