"""Hostile payloads made at test time (none is stored in the repository): each small on disk and
costly for a reader that trusts it."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

START = "2026-11-23T09:00:00+09:00"


def scenario(folder: Path, file: str, *, extra: str = "", scale: str = "") -> Path:
    """A scenario replaying `file` (a path as the scenario writes it) into a welcome automation."""
    path = folder / "s.toml"
    path.write_text(f"""
name = "hostile"
start = "2026-11-23T00:00:00+09:00"
duration = "1d"
[population]
size = 0
[behaviour]
open = 0
click = 0
unsubscribe = 0
[[automation]]
id = "welcome"
trigger = {{ kind = "subscriber_added" }}
start = "+0s"
[[automation]]
id = "order"
trigger = {{ kind = "api" }}
start = "+0s"
[[load]]
kind = "replay"
file = "{file}"
automation = "order"
{scale}
{extra}
""", encoding="utf-8")
    return path


def csv(folder: Path, rows: list[str], name: str = "traffic.csv", header: str = "time,kind,email") -> Path:
    path = folder / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def parquet(folder: Path, columns: dict[str, pa.Array], name: str = "traffic.parquet") -> Path:
    path = folder / name
    pq.write_table(pa.table(columns), path)
    return path


def wide_csv(folder: Path, columns: int) -> Path:
    """One header with `columns` names and one row: about 7 bytes a column."""
    path = folder / "wide.csv"
    names = ["time", "kind", "email", *(f"f{i}" for i in range(columns - 3))]
    path.write_text(",".join(names) + "\n" + f"{START},subscriber_added,a@x.com" + "," * (columns - 3) + "\n")
    return path


def long_line_gzip(folder: Path, inflated: int) -> Path:
    """A gzip of a valid header and then one line of `inflated` bytes without a line end."""
    path = folder / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(b"time,kind,email\n")
        chunk = b"a" * (1 << 20)
        for _ in range(inflated // len(chunk)):
            f.write(chunk)
    return path


def row_bomb_gzip(folder: Path, rows: int) -> Path:
    """A gzip of `rows` identical valid rows (a few KB on disk for millions of rows)."""
    path = folder / "rows.csv.gz"
    line = f"{START},api,a@x.com\n".encode()
    block = line * 65_536
    with open(path, "wb") as raw:
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        raw.write(z.compress(b"time,kind,email\n"))
        for _ in range(rows // 65_536):
            raw.write(z.compress(block))
        raw.write(z.flush())
    return path


def fifo(folder: Path, name: str = "pipe.csv") -> Path:
    path = folder / name
    os.mkfifo(path)
    return path
