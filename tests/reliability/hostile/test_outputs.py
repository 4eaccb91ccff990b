"""Run folders and outputs: no write follows a link, hostile summaries are one line, staging folders of
killed runs are cleaned, and two runs into one folder are serialised."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cli import main
from tests.reliability.test_cli_input import TINY


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("made")
    (folder / "tiny.toml").write_text(TINY)
    assert main(["run", str(folder / "tiny.toml"), "--out", str(folder / "run"), "--quiet"]) == 0
    return folder / "run"


@pytest.fixture
def run_dir(made: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(made, copy)
    return copy


@pytest.mark.parametrize("planted", ["chart-backlog.png", ".report.html.partial", "report.html"])
def test_links_report_never_writes_through_a_planted_link(run_dir: Path, tmp_path: Path, planted: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (run_dir / planted).unlink(missing_ok=True)
    (run_dir / planted).symlink_to(victim)
    assert main(["report", str(run_dir)]) == 0
    assert victim.read_text() == "keep me"
    assert not (run_dir / "report.html").is_symlink()
    assert "<html" in (run_dir / "report.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "victim.txt"]  # no staging folder left


@pytest.mark.parametrize(("name", "content"), [
    ("summary.json", "zero"),
    ("summary.json", '{"scenario": "x", "duration_s": 1e999, "automations": {}}'),
    ("summary.json", "[" * 100_000 + "]" * 100_000),
    ("summary.json", '{"duration_s": ' + "9" * 5000 + "}"),
    ("summary.json", "folder"),
    ("timeseries.json", "zero"),
])
def test_links_a_hostile_run_folder_is_one_line(run_dir: Path, refused: Callable[..., str], name: str,
                                                content: str) -> None:
    target = run_dir / name
    target.unlink()
    if content == "zero":
        target.symlink_to("/dev/zero")
    elif content == "folder":
        target.mkdir()
    else:
        target.write_text(content)
    line = refused("report", str(run_dir))
    assert str(run_dir) in line
    assert "not a readable dripsim run folder" in line or "not a regular file" in line or "link" in line


def test_staging_a_killed_run_s_folder_is_removed_by_the_next_run(tmp_path: Path,
                                                                  accepted: Callable[..., str]) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    runs = tmp_path / "runs"
    runs.mkdir()
    stale = runs / ".old-run.k3j2.partial"
    stale.mkdir()
    (stale / ".dripsim-staging").write_text(dead + "\n")
    (stale / "events.csv.gz").write_bytes(b"half")
    alive = runs / ".other.a1b2.partial"  # a run still writing: its owner lives
    alive.mkdir()
    (alive / ".dripsim-staging").write_text(f"{os.getpid()}\n")
    foreign = runs / ".mine.x.partial"  # not dripsim's: no marker
    foreign.mkdir()
    (tmp_path / "tiny.toml").write_text(TINY)
    accepted("run", str(tmp_path / "tiny.toml"), "--out", str(runs / "new"), "--quiet", "--no-report")
    assert sorted(p.name for p in runs.iterdir()) == [".mine.x.partial", ".other.a1b2.partial", "new"]


def test_staging_a_second_run_into_a_folder_being_written_is_refused(tmp_path: Path,
                                                                     refused: Callable[..., str]) -> None:
    from cli import outdir

    (tmp_path / "tiny.toml").write_text(TINY)
    out = tmp_path / "out"
    first = outdir.staging(out)  # a run writing there now
    try:
        line = refused("run", str(tmp_path / "tiny.toml"), "--out", str(out), "--force", "--quiet")
    finally:
        outdir.discard(first, out)
    assert "another dripsim run is writing there" in line
