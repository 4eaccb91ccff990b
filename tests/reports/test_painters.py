"""The painter process: the same chart bytes as drawing here, whatever happens to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.app import main
from reports import charts, painters
from reports.painters import KEYS, Painter

SCENARIO = """
name = "painted"
seed = 4
start = "2026-03-02T08:00:00+09:00"
duration = "1d"
[population]
size = 200
[dispatcher]
rate = 3
[[automation]]
id = "welcome"
trigger = { kind = "subscriber_added" }
delay = "30m"
window = { from = "09:00", to = "21:00" }
start = "+0s"
[[automation]]
id = "nudge"
trigger = { kind = "not_opened", email = "welcome", within = "4h" }
start = "+0s"
[[load]]
kind = "subscriber_added"
rate = "40/h"
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("painted")
    (folder / "s.toml").write_text(SCENARIO)
    assert main(["run", str(folder / "s.toml"), "--quiet", "--out", str(folder / "out")]) == 0
    return folder / "out"


def _inputs(run_dir: Path) -> tuple[dict, dict]:  # type: ignore[type-arg]
    return (json.loads((run_dir / "summary.json").read_text()),
            json.loads((run_dir / "timeseries.json").read_text()))


def test_a_run_s_charts_are_the_bytes_drawn_from_its_files_in_one_process(run_dir: Path) -> None:
    """`dripsim run` starts the drawing before the event log is written, from the summary and time
    series as they read back from JSON: the charts are those of the files, drawn here."""
    summary, ts = _inputs(run_dir)
    alone = charts.draw(KEYS, summary, ts)
    assert all((run_dir / f"chart-{k}.png").read_bytes() == png for k, png in alone.items())


def test_the_painter_draws_the_bytes_of_one_process_and_again_for_other_inputs(run_dir: Path) -> None:
    summary, ts = _inputs(run_dir)
    other = json.loads(json.dumps(ts))
    other["rate"] = ts["rate"] * 3  # another capacity line and y-range
    with Painter() as p:
        assert p._painter is not None
        p.start(summary, other)  # begun for other inputs: not collected as these charts
        first = p.draw(summary, ts)
        second = p.draw(summary, other)
    assert list(first) == KEYS
    assert first == charts.draw(KEYS, summary, ts)
    assert second == charts.draw(KEYS, summary, other)
    assert first["throughput"] != second["throughput"]


def test_charts_are_drawn_here_when_the_painter_is_gone(run_dir: Path) -> None:
    summary, ts = _inputs(run_dir)
    with Painter() as p:
        assert p._painter is not None
        os.kill(p._painter[0].pid, signal.SIGKILL)
        p._painter[0].join()
        assert p.draw(summary, ts) == charts.draw(KEYS, summary, ts)
        assert p._painter is None  # not asked again


def test_charts_are_drawn_here_without_fork(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork(method: str) -> None:
        raise ValueError(f"cannot find context for {method!r}")

    monkeypatch.setattr(painters.multiprocessing, "get_context", no_fork)
    summary, ts = _inputs(run_dir)
    with Painter() as p:
        assert p._painter is None
        assert p.draw(summary, ts) == charts.draw(KEYS, summary, ts)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_the_painter_ends_with_a_parent_that_ends_without_closing_it(tmp_path: Path) -> None:
    """A second signal ends `dripsim run` by os._exit: its painter must not stay behind."""
    code = ("import os; from reports.painters import Painter; p = Painter(); "
            "print(p._painter[0].pid, flush=True); os._exit(0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    pid = int(out.stdout)
    deadline = time.monotonic() + 20
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the painter outlived its parent"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its reaper is left to notice
