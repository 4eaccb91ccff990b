"""The command line: every bad flag is one line and exit 2; outputs never mix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import main

TINY = """
name = "tiny"
start = "2026-03-02T08:00:00+09:00"
duration = "2h"
[population]
size = 5
[dispatcher]
tick = "1m"
[[automation]]
id = "welcome"
trigger = { kind = "subscriber_added" }
start = "+0s"
[[load]]
kind = "subscriber_added"
count = 3
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


def one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own refusals
        code = stop.code  # type: ignore[assignment]
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, (argv, err)
    assert len(err) == 1, (argv, err)
    return err[0]


@pytest.mark.parametrize(("argv", "names"), [
    (["--seed", "-1"], "--seed"),
    (["--seed", "2.5"], "--seed"),
    (["--seed", str(2**64)], "--seed"),
    (["--set", "automation[0].delay=2h", "--set", "automation[3].delay=2h"], "automation[3].delay: no entry [3]"),
    (["--set", "automation.welcom.delay='2h'"], "did you mean 'welcome'"),
    (["--set", "name.x=1"], "--set name.x"),
    (["--set", "a..b=1"], "'' is not a key"),
    (["--set", "nokey"], "expected key.path=value"),
    (["--clock", "real", "--time-scale", "0"], "--time-scale"),
    (["--time-scale", "-3"], "--time-scale"),
    (["--time-scale", "2"], "--time-scale: applies to the real clock only"),
    (["--clock", "sundial"], "--clock"),
    (["--events", "xml"], "--events"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_bad_flags_give_one_line_and_exit_2(tiny: Path, argv: list[str], names: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_exit_2(["run", str(tiny), "--quiet", *argv], capsys)
    assert names in line


def test_a_scenario_seed_out_of_range_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(TINY.replace('name = "tiny"', 'name = "tiny"\nseed = -1'), encoding="utf-8")
    assert "seed" in one_line_exit_2(["check", str(path)], capsys)


def test_set_by_index_changes_that_automation(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", str(tiny), "--quiet", "--no-report", "--out", str(out),
                 "--set", "automation[0].delay='30m'"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["automations"]["welcome"]["latency_s"]["p95"] is not None
    assert main(["check", str(tiny), "--set", "automation[0].delay='30m'"]) == 0


def test_no_look_ahead_runs_more_phases_and_logs_the_same_bytes(tmp_path: Path) -> None:
    runs = {}
    for flag in ([], ["--no-look-ahead"]):
        out = tmp_path / ("plain" if flag else "ahead")
        assert main(["run", "monday-burst", "--quiet", "--no-report", "--out", str(out), *flag]) == 0
        runs[bool(flag)] = json.loads((out / "summary.json").read_text())
    assert runs[True]["phases"] > 5 * runs[False]["phases"]
    assert runs[True]["event_digest"] == runs[False]["event_digest"]


def test_version_and_help_name_their_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith("dripsim ")
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in ("--events {csv,parquet,both} event log format", "(default: csv)",
                  "--seed N random seed", "(default: runs/NAME-TIMESTAMP)", "--strict"):
        assert words in text, words
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert "(default: 3)" in " ".join(capsys.readouterr().out.split())


# -- output folders -------------------------------------------------------------
def test_out_must_be_empty_or_absent_and_force_replaces_an_earlier_output(
        tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["run", str(tiny), "--quiet", "--out", str(out)]) == 0
    (out / "pending_pages.json").write_text("[] left over from another run")
    line = one_line_exit_2(["run", str(tiny), "--quiet", "--out", str(out)], capsys)
    assert "exists and is not empty" in line
    assert main(["run", str(tiny), "--quiet", "--out", str(out), "--force"]) == 0
    assert not (out / "pending_pages.json").exists()  # nothing of the old run is left to mix in
    assert (out / "report.html").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_force_never_deletes_a_folder_that_is_not_a_dripsim_output(
        tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    line = one_line_exit_2(["run", str(tiny), "--quiet", "--out", str(out), "--force"], capsys)
    assert "not a dripsim output" in line
    assert (out / "thesis.tex").read_text() == "precious"


def test_an_empty_out_folder_is_used(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    assert main(["run", str(tiny), "--quiet", "--no-report", "--out", str(out)]) == 0
    assert (out / "summary.json").exists()


def test_a_failing_run_leaves_no_folder_that_looks_complete(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import reports.html

    def broken(out: Path, painter: object = None) -> str:
        raise RuntimeError("the report failed half way")

    monkeypatch.setattr(reports.html, "build_report", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        main(["run", str(tiny), "--quiet", "--out", str(out)])
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tiny]


def test_default_output_folders_never_collide(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.modules["cli.app"], "stamp", lambda: "20260302-080000")
    assert main(["run", str(tiny), "--quiet", "--no-report"]) == 0
    assert main(["run", str(tiny), "--quiet", "--no-report"]) == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["tiny-20260302-080000",
                                                                     "tiny-20260302-080000-2"]


def test_sweep_refuses_a_used_out_folder_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sw"
    out.mkdir()
    (out / "x").write_text("x")
    line = one_line_exit_2(["sweep", "monday-burst", "--grid", "dispatcher.rate=5", "--out", str(out)], capsys)
    assert "--out" in line


# -- argv fuzz: exit 0/1, or one line and exit 2; never a traceback ------------------------------
TOKENS = ["run", "check", "explain", "list", "schema", "report", "sweep", "new", "TINY", "welcome-tour",
          "--seed", "--clock", "--time-scale", "--set", "--strict", "--events", "--grid", "--slo", "--seeds",
          "--workers", "--force", "--no-report", "--no-look-ahead", "-1", "0", "1", "2", "1e400", "nan",
          "virtual", "real", "csv", "dispatcher.rate=3", "automation[0].delay=2h", "automation[9].x=1", "x=", "=",
          "[", "]", "p95=15m", "p90=1m", "dispatcher.rate=", "seed.a.b=1", "--", "-", "", " ", "é", "\n", "a\tb"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=6))
def test_fuzzed_command_lines_never_give_a_traceback(argv: list[str], tiny: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)  # `new`, default run folders: inside the test's folder
    try:
        argv = [str(tiny) if a == "TINY" else a for a in argv]
        if argv[0] in ("run", "sweep"):  # keep it quick: no report, one seed, in-process
            argv = [*argv, "--quiet", "--no-report"] if argv[0] == "run" else [*argv, "--seeds", "1",
                                                                              "--workers", "1"]
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 2
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert code in (0, 1, 2), (argv, code, err)
    if code == 2:
        lines = [line for line in err.splitlines() if not line.startswith("dripsim: warning: ")]
        assert len(lines) == 1, (argv, err)


def test_a_real_process_with_a_bad_flag_prints_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "cli", "run", "welcome-tour", "--seed", "-1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_a_full_disk_gives_one_line_and_leaves_nothing(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    from sim.runlog import RunLog

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RunLog, "write", full)
    out = tmp_path / "out"
    line = one_line_exit_2(["run", str(tiny), "--quiet", "--out", str(out)], capsys)
    assert "could not write the outputs (No space left on device)" in line
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tiny]


def test_an_out_folder_that_cannot_be_written_is_refused_before_the_run(
        tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import tempfile

    def read_only(*args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)  # root ignores chmod, so the refusal is simulated
    line = one_line_exit_2(["run", str(tiny), "--quiet", "--out", str(tmp_path / "ro" / "out")], capsys)
    assert "cannot write there (Permission denied)" in line
    (tmp_path / "file").write_text("x")
    monkeypatch.undo()
    line = one_line_exit_2(["run", str(tiny), "--quiet", "--out", str(tmp_path / "file")], capsys)
    assert "exists and is a file" in line


def test_two_runs_finishing_into_one_out_folder_never_mix(tmp_path: Path) -> None:
    """A second run into a folder another run is writing is refused at its start (a lock); one that
    comes after finds the folder filled and is refused (no --force): the first stays whole."""
    from cli import outdir

    out = tmp_path / "out"
    outdir.check(out, force=False)
    first = outdir.staging(out)
    with pytest.raises(outdir.OutError, match="another dripsim run is writing there"):
        outdir.staging(out)
    (first / "summary.json").write_text('{"run": 1}')
    outdir.commit(first, out, force=False)
    second = outdir.staging(out)
    (second / "summary.json").write_text('{"run": 2}')
    with pytest.raises(outdir.OutError, match="exists and is not empty"):
        outdir.commit(second, out, force=False)
    assert (out / "summary.json").read_text() == '{"run": 1}'
    outdir.discard(second, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder, no lock file left


def test_a_path_with_a_line_break_is_named_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by the fuzz below: `dripsim report $'\\n'` printed the break itself, so two lines."""
    line = one_line_exit_2(["report", str(tmp_path / "a\nb")], capsys)
    assert "a\\nb: not a run folder" in line
