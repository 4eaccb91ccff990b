"""The `dripsim` command line: the outermost shell, over reports, sim and core."""

from cli.main import main

__all__ = ["main"]
