"""The smaller frictions a planner met (issue 22, item 7): each said in one line, where it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli import main
from cli.planning import _Watch

ROOT = Path(__file__).resolve().parents[2]
GROUP_AS_FIELD = """
name = "g"
start = "2026-03-02T08:00:00+09:00"
duration = "1d"
[population]
size = 10
groups = ["vip"]
[[automation]]
id = "w"
trigger = { kind = "subscriber_added" }
filter = { field = "group", op = "equals", value = "vip" }
start = "+0s"
"""


def test_a_group_tested_as_a_field_is_pointed_to_in_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.toml"
    path.write_text(GROUP_AS_FIELD)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "automation[0].filter.field: no field called 'group'" in err
    assert 'group membership is { op = "in_group", value = "vip" }' in err


def test_a_bad_set_value_blames_the_flag_in_plain_words(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "monday-burst", "--set", "dispatcher.rate=fast"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("dripsim: ")
    assert line.endswith("(the flag: the file itself is valid)")
    assert "monday-burst.toml: --set dispatcher.rate=fast: dispatcher.rate: expected a number, got 'fast'" in line
    assert "Input should" not in line
    assert "itself is valid" in line
    assert main(["check", "monday-burst", "--set", "dispatcher.rate=2", "--set", "duration=0s"]) == 2
    assert "monday-burst.toml: --set duration=0s: duration" in capsys.readouterr().err  # the second flag, not the first


def test_a_missing_replay_file_shows_the_path_looked_at(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.toml").write_text(GROUP_AS_FIELD.replace('filter = { field = "group", op = "equals", '
                                                            'value = "vip" }\n', "")
                                     + '[[load]]\nkind = "replay"\nfile = "exports/monday.csv"\n')
    assert main(["check", str(tmp_path / "s.toml")]) == 2
    err = capsys.readouterr().err
    assert f"no such file: {tmp_path / 'exports' / 'monday.csv'}" in err
    assert "relative to the scenario's folder" in err


def test_run_shows_progress_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    code = ("import cli.app as app; app.PROGRESS_EVERY = 0.0; import sys; "
            f"sys.exit(app.main(['run', 'monday-burst', '--no-report', '--out', {str(tmp_path / 'o')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if "simulated +" in x]
    assert lines
    assert all(x.startswith("dripsim: monday burst: simulated +") for x in lines)
    assert "\x1b[" not in proc.stderr  # no bar's escape codes in a pipe


def test_margin_probes_are_counted_apart_from_the_search(capsys: pytest.CaptureFixture[str]) -> None:
    watch = _Watch(quiet=False, planned=2)
    for _ in range(2):
        watch.started(5.0, 2, 1.0)
    watch.started(6.0, 2, 1.2)
    err = capsys.readouterr().err
    assert "[probe 2/at most 2" in err
    assert "probe 3/" not in err
    assert "[margin probe 1] 6/s x 2 seeds at 1.2x the load: under way" in err
