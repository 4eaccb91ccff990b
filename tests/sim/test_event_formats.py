"""The event log as CSV and as Parquet: the same rows, the same digest."""

from __future__ import annotations

import csv
import gzip
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from sim.runlog import csv_cells
from sim.runner import digest_of, run, write
from sim.scenarios.library import builtin_path
from sim.scenarios.loader import load, loads


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


FORMULAS = r"""
name = "formula addresses"
start = "2026-03-02T08:00:00+09:00"
duration = "1h"
[population]
size = 3
[[population.subscribers]]
email = "=1+2@example.kr"
[[population.subscribers]]
email = "-3+4@example.kr"
[[population.subscribers]]
email = "+cmd|x!A0@example.kr"
[[automation]]
id = "hello"
trigger = { kind = "api" }
start = "+0s"
[[action]]
at = "+1m"
do = "api"
automation = "hello"
who = { emails = ["=1+2@example.kr", "-3+4@example.kr", "+cmd|x!A0@example.kr"] }
"""


def test_csv_cells_never_start_a_formula_and_read_back_as_six_columns(tmp_path: Path) -> None:
    result = run(loads(FORMULAS, "formulas.toml"))
    write(result, tmp_path)
    with gzip.open(tmp_path / "events.csv.gz", "rt", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time", "automation", "subscriber", "kind", "reason", "due"]
    assert {len(r) for r in rows} == {6}
    sent = sorted(r[2] for r in rows if r[3] == "sent")
    assert sent == ["'+cmd|x!A0@example.kr", "'-3+4@example.kr", "'=1+2@example.kr"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows[1:] for cell in r)
    pq_emails = set(pq.read_table(tmp_path / "events.parquet").column("subscriber").to_pylist()) \
        if (tmp_path / "events.parquet").exists() else None
    assert pq_emails is None  # csv only by default


def test_csv_cells_quote_what_would_split_a_row() -> None:
    values = ["plain@example.kr", 'a,b@x.kr', 'say "hi"', "two\nlines", "=SUM(A1)"]
    cells = csv_cells(values)
    line = ",".join(cells) + "\n"
    assert next(csv.reader([line])) == ["plain@example.kr", "a,b@x.kr", 'say "hi"', "two\nlines", "'=SUM(A1)"]
    assert csv_cells(["a@x.kr", "b@y.kr"]) == ["a@x.kr", "b@y.kr"]  # the common case is left alone


@given(st.lists(st.text(alphabet=st.sampled_from('ab가@=+-\t\r\n,"\x00 '), max_size=6), max_size=8))
def test_csv_cells_one_pass_decides_as_each_value_would(values: list[str]) -> None:
    """The quick test over the joined text never lets a value through that needs care (UTF-8 safe)."""
    from sim.runlog import _cell

    assert csv_cells(values) == [_cell(v) for v in values]


def test_pooled_addresses_become_the_same_cells_as_their_text() -> None:
    """The log's address column, joined from pooled parts by Arrow, is what the per-address path gives;
    a part that could start a formula or split a row sends its piece through that path."""
    import numpy as np

    from core.emails import Emails, Pooled
    from sim.runlog import addresses

    for users in (("kim", "lee_"), ("=cmd", "lee_"), ("a,b", "kim")):
        emails = Emails()
        emails.append("named@example.kr")
        emails.extend(Pooled(users, np.array([0, 1, 1]), np.array([5, 6, 70]), ("naver.com",), np.zeros(3, int)))
        texts = list(emails)
        assert addresses(emails, csv=True, blank=True).to_pylist() == [*csv_cells(texts), ""]
        assert addresses(emails, csv=False, blank=False).to_pylist() == texts
