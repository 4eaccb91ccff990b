"""One policy for SIGINT and SIGTERM, wherever they land in a command.

The first signal asks for a clean stop: before a run, the command stops
with one line and writes nothing; during a run, the phase under way
finishes and the outputs so far are written (see `sim.runner`). Any later
signal stops the process at once, with one line: no teardown that could
hang (pykka's threads, an SMTP connection), and no traceback. The output
folder is then left as its hidden `.partial` staging folder, never as a
folder that looks complete.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

_received: list[int] = []  # process-wide: the signals seen so far, first first


def received() -> list[int]:
    return list(_received)


def exit_code(signum: int) -> int:
    return 128 + int(signum)


SAME_REQUEST = 0.5  # s: the same signal again this soon is one request sent twice, not a second one
_first_at: list[float] = []


def note(signum: int) -> None:
    """Record a signal; a second one ends the process at once. The same signal again within
    `SAME_REQUEST` of the first is the same request: GNU `timeout` sends SIGTERM to the command and
    then to its whole process group, so the command gets it twice, microseconds apart."""
    now = time.monotonic()
    if _received and signum == _received[0] and now - _first_at[0] < SAME_REQUEST:
        return
    _received.append(signum)
    _first_at.append(now)
    if len(_received) > 1:
        os.write(2, b"dripsim: second signal: stopped at once; outputs not completed\n")
        os._exit(exit_code(_received[0]))


def raising(signum: int, frame: Any) -> None:
    """The default: note the signal and unwind (KeyboardInterrupt), which the command reports in a line."""
    note(signum)
    raise KeyboardInterrupt


def install(handler: Callable[[int, Any], None] = raising) -> dict[int, Any]:
    """Handle SIGINT and SIGTERM with `handler` (main thread only); returns what to restore. A signal
    the process was started with ignored (a job in the background of a script) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, Any] = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s, old in previous.items():
        if old is not signal.SIG_IGN:
            signal.signal(s, handler)
    return previous


def restore(previous: dict[int, Any]) -> None:
    for s, handler in previous.items():
        signal.signal(s, handler)


def reset() -> None:
    """Forget the signals seen (tests run many commands in one process)."""
    _received.clear()
    _first_at.clear()
