"""The `dripsim` command line: the outermost shell, over reports, sim and core."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """The entry point: signal handlers first, then the (slower) imports of everything else.

    Everything after the handlers is inside one `try`, so a signal between two
    lines can never escape as an uncaught KeyboardInterrupt (which Python turns
    into death by SIGINT, exit -2).
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
        interrupts.restore(previous)


__all__ = ["main"]
