"""The `dripsim` command line: the outermost shell, over reports, sim and core."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn


def main(argv: list[str] | None = None) -> int:
    """The entry point: signal handlers first, then the (slower) imports of everything else.

    Everything after the handlers is inside one `try`, so a signal between two
    lines can never escape as an uncaught KeyboardInterrupt (which Python turns
    into death by SIGINT, exit -2).

    As the process's own command (`argv` None), it ends the process itself
    once the command is done and its output flushed: Python's own teardown
    puts the default signal handlers back before it finishes, so a signal in
    that last moment would kill the process by the signal (exit -15) after a
    complete run. Skipping the teardown also skips freeing every object one
    by one (0.05-0.1 s with numpy, pyarrow and pydantic loaded). Everything
    the command writes is closed before it returns.
    """
    from sim import interrupts

    previous: dict[int, object] = {}
    try:
        previous = interrupts.install()
        from cli.app import main as command

        code = command(argv)
    except KeyboardInterrupt:
        print("dripsim: interrupted; nothing written", file=sys.stderr)
        seen = interrupts.received()
        code = interrupts.exit_code(seen[0]) if seen else 130
    finally:
        if argv is None:  # from here a signal ends the process at once, with 128 + its number
            interrupts.install(_gone)
        else:
            interrupts.restore(previous)
    if argv is None:
        _exit(code)
    return code


def _gone(signum: int, frame: object) -> None:
    os._exit(128 + signum)  # nothing imported here: modules may be half torn down


def _exit(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`dripsim ... | head`): nothing to add
            stream.flush()
    os._exit(code)


__all__ = ["main"]
