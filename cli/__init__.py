"""The `dripsim` command line: the outermost shell, over reports, sim and core."""

from __future__ import annotations

import os


def main(argv: list[str] | None = None) -> int:
    """The entry point: signal handlers first, then the (slower) imports of everything else.

    Everything after the handlers is inside one `try`, so a signal between two
    lines can never escape as an uncaught KeyboardInterrupt (which Python turns
    into death by SIGINT, exit -2). After the command, a signal still exits with
    one code (128 + signal), not by the default action, while Python tears down.
    """
    import sys

    from sim import interrupts

    previous: dict[int, object] = {}
    try:
        previous = interrupts.install()
        from cli.app import main as command

        return command(argv)
    except KeyboardInterrupt:
        print("dripsim: interrupted; nothing written", file=sys.stderr)
        seen = interrupts.received()
        return interrupts.exit_code(seen[0]) if seen else 130
    finally:
        if argv is None:  # the process's own command, now done: a signal during interpreter teardown
            interrupts.install(_gone)  # ends it at once (the outputs are complete), never by the default action
        else:
            interrupts.restore(previous)


def _gone(signum: int, frame: object) -> None:
    os._exit(128 + signum)  # nothing imported here: modules may be half torn down


__all__ = ["main"]
