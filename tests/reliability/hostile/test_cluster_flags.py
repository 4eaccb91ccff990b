"""Cluster and search flags: an unreachable scheduler within its own timeout, only tcp:// and tls://,
and a --precision no finer than probes can tell apart."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.test_cli_input import TINY


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens there


def test_scheduler_an_unreachable_one_is_one_line_within_its_timeout(tiny: Path, tmp_path: Path,
                                                                      refused: Callable[..., str]) -> None:
    began = time.monotonic()
    line = refused("capacity", str(tiny), "--slo", "p95=15m", "--scheduler", f"tcp://127.0.0.1:{closed_port()}",
                   "--scheduler-timeout", "2", "--out", str(tmp_path / "out"))
    assert "--scheduler tcp://127.0.0.1:" in line
    assert "no Dask scheduler answered within 2 s" in line
    assert time.monotonic() - began < 20  # it waited 30 s, then printed a traceback
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("address", ["inproc://x", "ucx://127.0.0.1:8786", "127.0.0.1:8786", "tcp://", "tcp://h",
                                     "tcp://127.0.0.1:8786/x?y=1", "file:///etc/passwd"])
def test_scheduler_only_tcp_and_tls_addresses(tiny: Path, refused: Callable[..., str], address: str) -> None:
    line = refused("sweep", str(tiny), "--grid", "dispatcher.rate=5,6", "--scheduler", address)
    assert "--scheduler" in line
    assert "tcp://HOST:PORT" in line


@pytest.mark.parametrize("precision", ["1e-9", "0.00000001%", "1e-7"])
def test_precision_finer_than_probes_can_tell_apart_is_refused(tiny: Path, refused: Callable[..., str],
                                                               precision: str) -> None:
    line = refused("capacity", str(tiny), "--slo", "p95=15m", "--precision", precision)
    assert "--precision" in line
    assert "finer than a capacity search can tell apart" in line


def test_precision_at_the_finest_bound_still_ends_with_an_answer(tiny: Path, tmp_path: Path,
                                                                 accepted: Callable[..., str]) -> None:
    """Probes are named by their exact rate (`repr`), not by 6 significant digits (`:g`)."""
    import json

    out = tmp_path / "cap"
    accepted("capacity", str(tiny), "--slo", "p95=15m", "--precision", "0.0001%", "--min", "10.00001",
             "--max", "10.00009", "--seeds", "1", "--workers", "1", "--out", str(out), "--quiet")
    result = json.loads((out / "sweep.json").read_text())
    assert result["answer"]["rate"] is not None
