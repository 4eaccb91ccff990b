"""Hostile send logs given to `dripsim calibrate`: types, links and devices, sizes, logs with nothing
to match, and names that would be code in the table the user pastes."""

from __future__ import annotations

import gzip
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.reliability.hostile import payloads as p

T = "2026-11-23T09:00:{:02d}+09:00"


def log(folder: Path, rows: list[tuple[int, str, str, str]], name: str = "log.csv") -> Path:
    path = folder / name
    path.write_text("time,email,automation,event\n" + "".join(
        f"{T.format(s)},{email},{automation},{event}\n" for s, email, automation, event in rows), encoding="utf-8")
    return path


def calibrate(accepted: Callable[..., str], path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    from cli import main

    code = main(["calibrate", str(path), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_names_a_name_holding_a_line_break_stays_data_in_the_pasted_table(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str],
                                                                           accepted: Callable[..., str]) -> None:
    evil = "w\nsoft_bounce = 0.9\nhard_bounce = 0.9\n[behaviour.links]\nx = 1\n#"
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"time": pa.array([0, 60_000, 1000, 61_000], pa.timestamp("ms", tz="UTC")),
                             "email": ["a@x.com", "a@x.com", "b@x.com", "b@x.com"],
                             "automation": [evil, evil, "plain", "plain"],
                             "event": ["sent", "opened", "sent", "opened"]}), path)
    table = calibrate(accepted, path, tmp_path / "out", capsys)
    parsed = tomllib.loads(table)
    assert set(parsed) == {"behaviour"}
    assert set(parsed["behaviour"]) <= {"open", "click", "open_after", "click_after"}
    assert "soft_bounce" not in parsed["behaviour"]


@pytest.mark.parametrize("rows", [
    [(5, "a@x.com", "w", "opened"), (9, "a@x.com", "w", "sent")],  # the open before its send
    [(1, "a@x.com", "w", "sent"), (9, "a@x.com", "w", "clicked")],  # a click without an open
    [(1, "a@x.com", "w", "sent")],  # one row
])
def test_nothing_to_match_a_log_where_no_open_matches_a_send_still_fits(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str],
                                                                       accepted: Callable[..., str],
                                                                       rows: list[tuple[int, str, str, str]]) -> None:
    table = calibrate(accepted, log(tmp_path, rows), tmp_path / "out", capsys)
    assert tomllib.loads(table)["behaviour"]["open"] == 0
    assert (tmp_path / "out" / "calibration-open-delay.png").stat().st_size > 1000


@pytest.mark.parametrize("unit", ["us", "ns"])
def test_types_pandas_timestamps_with_sub_millisecond_digits_are_read(tmp_path: Path, unit: str,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     accepted: Callable[..., str]) -> None:
    per = {"us": 10**6, "ns": 10**9}[unit]
    stamps = pa.array([1_795_392_000 * per + 123, 1_795_392_090 * per + 987], pa.timestamp(unit, tz="Asia/Seoul"))
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"time": stamps, "email": pa.array(["a@x.com"] * 2).dictionary_encode(),
                             "automation": ["w", "w"], "event": ["sent", "opened"]}), path)
    assert tomllib.loads(calibrate(accepted, path, tmp_path / "out", capsys))["behaviour"]["open"] == 1


@pytest.mark.parametrize(("column", "names"), [
    (pa.array([1, 2]), "column 'email': holds int64, expected text"),
    (pa.array([[1], [2]]), "column 'email': holds list<"),
    (pa.array([b"a", b"b"]), "column 'email': holds binary"),
])
def test_types_a_column_of_another_type_is_one_line(tmp_path: Path, refused: Callable[..., str],
                                                    column: pa.Array, names: str) -> None:
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"time": pa.array([0, 1], pa.timestamp("ms", tz="UTC")), "email": column,
                             "automation": ["w", "w"], "event": ["sent", "opened"]}), path)
    assert names in refused("calibrate", str(path), "--out", str(tmp_path / "out"))


def test_types_naive_times_are_refused_with_the_rule(tmp_path: Path, refused: Callable[..., str]) -> None:
    path = tmp_path / "log.csv"
    path.write_text("time,email,automation,event\n2026-11-23T09:00:00,a@x.com,w,sent\n")
    assert "column 'time'" in refused("calibrate", str(path))


@pytest.mark.parametrize("make", ["fifo", "urandom", "folder"])
def test_bounds_only_a_regular_file_is_read(tmp_path: Path, refused: Callable[..., str], make: str) -> None:
    if make == "fifo":
        path = p.fifo(tmp_path, "log.csv")
    elif make == "folder":
        path = tmp_path / "log.csv"
        path.mkdir()
    else:
        path = Path("/dev/urandom")
    began = time.monotonic()
    assert "not a regular file" in refused("calibrate", str(path), "--out", str(tmp_path / "out"))
    assert time.monotonic() - began < 20  # it blocked (a FIFO) or never ended (a device)


def test_bounds_a_log_of_100k_automations_is_fitted_in_linear_time(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  accepted: Callable[..., str]) -> None:
    rows = [(i % 60, f"u{i}@x.com", f"a{i}", "sent") for i in range(100_000)]
    began = time.monotonic()
    table = calibrate(accepted, log(tmp_path, rows), tmp_path / "out", capsys)
    assert time.monotonic() - began < 60  # a scan of every row per automation took hours
    assert "and 99,980 more" in table


def test_bounds_a_log_inflating_past_the_limit_is_refused(tmp_path: Path, refused: Callable[..., str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from sim import budget

    monkeypatch.setattr(budget, "default_limit", lambda: 8 * (16 << 20))  # a 16 MB limit for the log
    path = tmp_path / "log.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("time,email,automation,event\n")
        f.write(f"{T.format(1)},a@x.com,w,sent\n" * 600_000)
    assert "more than 16 MB read" in refused("calibrate", str(path), "--out", str(tmp_path / "out"))
