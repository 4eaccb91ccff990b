"""The event log as CSV and as Parquet: the same rows, the same digest."""

from __future__ import annotations

import csv
import gzip
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq

from sim.runner import digest_of, run, write
from sim.scenarios.library import builtin_path
from sim.scenarios.loader import load


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return str(value)


def test_parquet_holds_the_csv_rows(tmp_path: Path) -> None:
    result = run(load(builtin_path("unsubscribe-bounce")))
    write(result, tmp_path, events="both")
    with gzip.open(tmp_path / "events.csv.gz", "rt", newline="") as f:
        header, *rows = list(csv.reader(f))
    table = pq.read_table(tmp_path / "events.parquet")
    assert header == table.column_names
    assert len(rows) == table.num_rows > 100
    parquet_rows = [[_text(v) for v in row.values()] for row in table.to_pylist()]
    assert parquet_rows == rows


def test_parquet_only_keeps_the_digest(tmp_path: Path) -> None:
    result = run(load(builtin_path("pause-boundary")))
    write(result, tmp_path, events="parquet")
    assert not (tmp_path / "events.csv.gz").exists()
    assert result.summary["event_digest"] == digest_of(result)
