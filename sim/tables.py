"""Reading a user's table (CSV, gzipped or not, or Parquet) a batch at a time, with bounds.

What replays and `calibrate` share: at most `MAX_COLUMNS` columns, lines of at most
`MAX_LINE_BYTES` (pyarrow's block; a longer line used to be read quadratically), only regular
files, every column's Arrow type checked (dictionary columns decoded: pandas' `category`), and
errors that name the file, the row and the column without quoting the file's content.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sim.files import FileRefused, regular

MAX_COLUMNS = 256
MAX_LINE_BYTES = 1 << 20
UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
TEXT, TIME, TIME_OR_NUMBER, PLAIN = "text", "time", "time or number", "plain"


class TableError(ValueError):
    """A table that cannot be used: one line naming the file (and the row and column when known)."""


def header(path: Path) -> list[str]:
    """The CSV's column names (its first line), gzipped or not."""
    import pyarrow as pa

    with pa.input_stream(str(path), compression="detect") as raw:
        first = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="").readline(MAX_LINE_BYTES + 1)
    if len(first) > MAX_LINE_BYTES:
        raise TableError(f"{path}: row 1: the header is longer than {MAX_LINE_BYTES // 2**20} MB")
    return next(csv.reader([first]), [])


def columns(path: Path, what: str) -> list[str]:
    """The file's column names, refused past `MAX_COLUMNS` before any row is read; only a regular file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        regular(path)
    except FileRefused as err:
        raise TableError(str(err)) from None
    try:
        names = pq.ParquetFile(path).schema_arrow.names if path.suffix == ".parquet" else header(path)
    except (OSError, pa.ArrowInvalid, UnicodeDecodeError, EOFError) as err:
        raise TableError(f"{path}: cannot read: {reason(err)}") from None
    if len(names) > MAX_COLUMNS:
        raise TableError(f"{path}: {len(names):,} columns; a {what} has at most {MAX_COLUMNS}")
    return names


def reason(err: BaseException) -> str:
    """Arrow's message without the file's content (a CSV parse error quotes the row it could not parse)."""
    text = " ".join(str(err).split())
    if "straddl" in text:
        return f"a line is longer than {MAX_LINE_BYTES // 2**20} MB"
    if text.startswith("CSV parse error:"):
        return text.split(": ")[1][:120]  # "Expected 3 columns, got 2", not the row
    return text[:160]


def _bad_width(path: Path, width: int) -> str:
    """Where the first row of another width than the header is (read again, only to say where)."""
    import pyarrow as pa

    with pa.input_stream(str(path), compression="detect") as raw:
        rows = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline=""))
        for number, row in enumerate(rows, 1):
            if len(row) != width:
                return f"row {number}: {len(row)} columns where the header has {width}"
    return "a row's columns do not match the header"


def batches(path: Path, text: Callable[[str], bool], what: str, rows: int = 65_536,
            types: dict[str, Any] | None = None) -> Iterator[Any]:
    """The file's record batches; CSV columns for which `text(name)` holds are read as text (a column
    empty in the first block would be typed null and refuse its first value), `types` forces others."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    names = columns(path, what)
    try:
        if path.suffix == ".parquet":
            yield from pq.ParquetFile(path).iter_batches(batch_size=rows)
            return
        forced = {name: pa.string() for name in names if text(name)} | (types or {})
        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=MAX_LINE_BYTES),  # ~30 blocks ahead
                               convert_options=pcsv.ConvertOptions(strings_can_be_null=True, column_types=forced,
                                                                   null_values=[""]))
        yield from reader
    except (OSError, pa.ArrowInvalid, EOFError) as err:
        where = _bad_width(path, len(names)) if "Expected" in str(err) and "columns" in str(err) else reason(err)
        raise TableError(f"{path}: cannot read: {where}") from None


def _fits(kind: Any, want: str) -> bool:
    import pyarrow as pa

    t = pa.types
    if want == TEXT:
        return bool(t.is_string(kind))
    if want == TIME:
        return bool(t.is_timestamp(kind))
    if want == TIME_OR_NUMBER:
        return bool(t.is_timestamp(kind) or t.is_integer(kind) or t.is_floating(kind) or t.is_string(kind))
    return any(check(kind) for check in (t.is_string, t.is_integer, t.is_floating, t.is_boolean, t.is_null))


_WORDS = {TEXT: "text", TIME: "ISO times with an offset", TIME_OR_NUMBER: "times or seconds",
          PLAIN: "text, numbers or booleans"}


def typed(batch: Any, path: Path, want: dict[str, str], other: str = PLAIN) -> Any:
    """The batch with dictionary columns decoded (and large text as text), every column of the Arrow
    type `want` names for it (`other` for the rest); one line naming the column and its type otherwise."""
    import pyarrow as pa

    out, changed = [], False
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            column, changed = column.dictionary_decode(), True
        expected = want.get(name, other)
        if pa.types.is_large_string(column.type) or (pa.types.is_null(column.type) and expected == TEXT):
            column, changed = column.cast(pa.string()), True
        if not _fits(column.type, expected):
            raise TableError(f"{path}: column {name!r}: holds {column.type}, expected {_WORDS[expected]}")
        out.append(column)
    return pa.RecordBatch.from_arrays(out, names=batch.schema.names) if changed else batch
