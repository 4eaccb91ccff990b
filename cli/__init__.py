"""The `dripsim` command line: the outermost shell, over reports, sim and core."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """The entry point: signal handlers first, then the (slower) imports of everything else."""
    import sys

    from sim import interrupts

    previous = interrupts.install()
    try:
        from cli.app import main as command
    except KeyboardInterrupt:
        print("dripsim: interrupted; nothing written", file=sys.stderr)
        seen = interrupts.received()
        return interrupts.exit_code(seen[0]) if seen else 130
    finally:
        interrupts.restore(previous)
    return command(argv)


__all__ = ["main"]
