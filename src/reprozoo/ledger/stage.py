"""A stage's main() run as every command here runs: a ReprozooError is one line, a stop is one line, and a
stage that did work ends with its time line (ledger/timing.py)."""

from __future__ import annotations

import errno
import os
import signal
import sys
from typing import Callable

from reprozoo.config.errors import Interrupted, ReprozooError

# Faults of the disk, not of the code: what to do about each.
DISK_FAULTS = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space or raise the quota",
               errno.EFBIG: "raise the file size limit (ulimit -f)", errno.EROFS: "write to a writable disk",
               errno.EACCES: "make the folder writable", errno.EPERM: "make the folder writable"}



def run_main(main: Callable[[], None]) -> None:
    """Run a stage's main(); a ReprozooError becomes one line on stderr and exit code 2.

    An interruption is one line too, with the shell's code for the signal (130 for SIGINT, 143 for SIGTERM).
    """
    try:
        main()
        _say_time()
    except ReprozooError as err:
        for line in str(err).splitlines():  # several problems (e.g. bad keys): one `error:` line each
            print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as err:
        print(f"interrupted: {err}", file=sys.stderr)
        sys.exit(128 + err.signum)
    except OSError as err:
        if err.errno not in DISK_FAULTS:
            raise
        # Every output is written to a temp file, then renamed: the failed one is gone, the last good one stays.
        print(f"error: {err.filename or 'a file'}: {os.strerror(err.errno)}; {DISK_FAULTS[err.errno]}, then rerun "
              "(the outputs already there are untouched)", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # Ctrl-C before any work worth saving had started
        print("interrupted by SIGINT; outputs are written whole or not at all", file=sys.stderr)
        sys.exit(128 + signal.SIGINT)


def _say_time() -> None:
    """The stage's time line (reprozoo.ledger.timing), when it did any work."""
    from reprozoo.ledger.timing import summary

    line = summary(os.environ.get("DVC_STAGE") or " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]))
    if line:
        print(line, flush=True)
