from __future__ import annotations

from collections.abc import Callable

import pytest

from cli import main


@pytest.fixture
def refused(capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """Run the command line in process; assert exit 2 and exactly one line on stderr; return it."""

    def run(*argv: str) -> str:
        try:
            code = main(list(argv))
        except SystemExit as stop:
            code = stop.code  # type: ignore[assignment]
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert code == 2, (argv, captured.err)
        assert len(lines) == 1, (argv, captured.err)
        assert "Traceback" not in captured.err
        return lines[0]

    return run


@pytest.fixture
def accepted(capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """Run the command line in process; assert exit 0; return stderr."""

    def run(*argv: str) -> str:
        code = main(list(argv))
        captured = capsys.readouterr()
        assert code == 0, (argv, captured.err)
        return captured.err

    return run
