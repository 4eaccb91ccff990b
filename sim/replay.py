"""`[[load]] kind = "replay"`: real traffic from a file, streamed.

The file (CSV, optionally gzipped, or Parquet) has a row per happening:
`time`, `kind` (`subscriber_added`, `api`, `set_field`, `add_to_group`,
`unsubscribe`), `email`, and optional columns: `automation` (for `api`
rows, else the load's `automation`), `group` (for `add_to_group`), and any
other column is a subscriber field (set on a sign-up, or by `set_field`).

`time` is ISO 8601 with an offset (absolute) or a number of seconds
(relative). How rows land on the run (`align`, see `anchor`):
- `"day"`, the default for ISO times: the export is moved by whole days, so
  each row keeps its local time of day in the scenario's timezone; the first
  row lands on the first day where its time of day is at or after the
  load's `from`. An export that starts at 00:12 starts at 00:12.
- `"from"` (older name `"start"`), the default for relative times (they have
  no time of day): the first row at the load's `from`.
- `"absolute"`: ISO times keep their own instant.
Later rows keep their distance from the first divided by `speed`. `scale`
amplifies: each row becomes `floor(scale)` happenings, plus one more with
probability `scale - floor(scale)`; the copies of a sign-up get derived
addresses (`name+r2@domain`), and the copies of another row name those
copies. Rows outside the run are skipped and counted.

Rows are read in batches (pyarrow's streaming CSV reader, Parquet row
groups), so a 10M-row file never becomes 10M Python objects: a batch at a
time is held. `scan` reads the file once when the scenario is loaded and
refuses a bad row with one line naming the file, the row and the column.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim import tables
from sim.addresses import first_bad_address
from sim.files import FileRefused, regular, shown

KINDS = ("subscriber_added", "api", "set_field", "add_to_group", "unsubscribe")
REQUIRED = ("time", "kind", "email")
BATCH_ROWS = 65_536


class ReplayError(ValueError):
    """A replay file that cannot be used: one line naming the file, the row and the column."""


@dataclass(frozen=True)
class ReplayInfo:
    rows: int
    first: float  # the first row's time: POSIX seconds (absolute) or seconds (relative)
    last: float
    absolute: bool
    kinds: dict[str, int]
    columns: tuple[str, ...] = ()
    peak: int = 0  # the most rows in any one second of the file's own clock


TEXT = ("kind", "email", "automation", "group")


def _batches(path: Path) -> Iterator[Any]:
    try:
        yield from tables.batches(path, text=lambda name: name != "time", what="replay file", rows=BATCH_ROWS)
    except tables.TableError as err:
        raise ReplayError(str(err)) from None


def _typed(batch: Any, path: Path, row0: int) -> Any:
    """The batch with dictionary columns decoded and every column's Arrow type checked: text where text
    is meant, a plain value (text, number, boolean) for a field; one line naming the column otherwise."""
    try:
        return tables.typed(batch, path, {"time": tables.TIME_OR_NUMBER, **dict.fromkeys(TEXT, tables.TEXT)},
                            other=tables.PLAIN)
    except tables.TableError as err:
        raise ReplayError(str(err)) from None


def _times(batch: Any, path: Path, row0: int) -> tuple[np.ndarray, bool]:
    """The batch's times as float seconds, and whether they were absolute (ISO with an offset)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = batch.column(batch.schema.get_field_index("time"))
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            raise ReplayError(f"{path}: row {row0 + 2}, column 'time': an ISO time needs its UTC offset")
        values = column.cast(pa.int64())  # in the column's own unit (s, ms, us, ns): no rounding error
        absolute = True
        scale = tables.UNITS[column.type.unit]
    elif pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values, absolute, scale = column.cast(pa.float64()), False, 1.0
    else:
        bad = pc.index(pc.is_valid(column), True).as_py() if column.null_count < len(column) else 0
        raise ReplayError(f"{path}: row {row0 + max(bad, 0) + 2}, column 'time': expected an ISO 8601 time "
                          f"with an offset or seconds, got the value {shown(column[max(bad, 0)].as_py())}")
    if values.null_count:
        first = int(np.flatnonzero(np.asarray(values.is_null()))[0])
        raise ReplayError(f"{path}: row {row0 + first + 2}, column 'time': empty")
    seconds = values.to_numpy(zero_copy_only=False).astype(np.float64) / scale
    odd = np.flatnonzero(~np.isfinite(seconds))
    if len(odd):
        raise ReplayError(f"{path}: row {row0 + int(odd[0]) + 2}, column 'time': {seconds[odd[0]]} is not a time")
    return seconds, absolute


def row_limit() -> int:
    """Rows a replay may have: what the machine's memory could hold as happenings (~500 B each)."""
    from sim.budget import default_limit

    return max(1_000_000, default_limit() // 500)


def scan(path: Path) -> ReplayInfo:
    """Read the whole file once, a batch at a time; refuse the first bad row."""
    import pyarrow.compute as pc

    try:
        regular(path, "file")
    except FileRefused as err:
        hint = " (a replay's file is read relative to the scenario's folder)" if "no such" in str(err) else ""
        raise ReplayError(f"{err}{hint}") from None
    rows, first, last, absolute, kinds = 0, math.nan, -math.inf, None, dict.fromkeys(KINDS, 0)
    names: list[str] = []
    limit, inflated, peak, carry = row_limit(), 0, 0, (math.nan, 0)
    for raw in _batches(path):
        names = raw.schema.names
        for column in REQUIRED:
            if column not in names:
                raise ReplayError(f"{path}: missing column {column!r} (a replay file has time, kind, email)")
        batch = _typed(raw, path, rows)
        inflated += batch.nbytes
        if rows + len(batch) > limit or inflated > 50 * limit:
            raise ReplayError(f"{path}: more than {min(rows + len(batch), limit):,} rows ({inflated / 2**20:,.0f} MB "
                              "read); a run replaying them would not fit in this machine's memory")
        t, is_absolute = _times(batch, path, rows)
        if absolute is not None and is_absolute != absolute:
            raise ReplayError(f"{path}: row {rows + 2}, column 'time': mixes ISO times and seconds")
        absolute = is_absolute
        previous = np.concatenate([[last], t[:-1]])
        back = np.flatnonzero(t < previous)
        if len(back):
            raise ReplayError(f"{path}: row {rows + int(back[0]) + 2}, column 'time': earlier than the row before "
                              "(rows must be in time order)")
        kind = _check_values(batch, path, rows)
        for pair in pc.value_counts(kind).to_pylist():  # in C: a replay may hold millions of rows
            kinds[str(pair["values"])] += int(pair["counts"])
        if rows == 0 and len(t):
            first = float(t[0])
        if len(t):
            last = float(t[-1])
        rows += len(t)
        peak, carry = _peak(t, peak, carry)
    if not rows:
        raise ReplayError(f"{path}: no rows")
    return ReplayInfo(rows, first, last, bool(absolute), kinds, tuple(names), peak)


def _peak(t: np.ndarray, peak: int, carry: tuple[float, int]) -> tuple[int, tuple[float, int]]:
    """The most rows in one second of the file so far; the second that spans two batches counted whole."""
    if not len(t):
        return peak, carry
    second, counts = np.unique(np.floor(t), return_counts=True)
    if float(second[0]) == carry[0]:
        counts[0] += carry[1]
    return max(peak, int(counts.max())), (float(second[-1]), int(counts[-1]))


def _check_values(batch: Any, path: Path, row0: int) -> Any:
    """Refuse the batch's first unknown kind or bad address; returns the kind column."""
    import pyarrow.compute as pc

    names = batch.schema.names
    kind = batch.column(names.index("kind"))
    unknown = pc.invert(pc.fill_null(pc.is_in(kind, value_set=_array(KINDS)), False))
    if pc.any(unknown).as_py():
        at = int(np.flatnonzero(np.asarray(unknown))[0])
        value = kind[at].as_py()
        raise ReplayError(f"{path}: row {row0 + at + 2}, column 'kind': "
                          + ("empty" if value is None else f"the value {shown(value)}")
                          + f" is not one of {', '.join(KINDS)}")
    bad = first_bad_address(batch.column(names.index("email")))
    if bad is not None:
        at, reason = bad
        raise ReplayError(f"{path}: row {row0 + at + 2}, column 'email': {reason}")
    return kind


def _array(values: tuple[str, ...]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.string())


@dataclass
class ReplayRows:
    """Rows taken for one phase, as columns (emails and fields as lists: they become the store's)."""

    at: np.ndarray
    kind: list[str]
    email: list[str]
    automation: list[str | None]
    group: list[str | None]
    fields: dict[str, list[Any]]
    copy: np.ndarray  # True where the row is a `scale` copy (a derived address)


@dataclass
class ReplayStream:
    """One replay load, read lazily: `next_time` and `take_until` as a `LoadStream`."""

    kind = "replay"
    path: Path
    offset: float  # add to a row's (scaled) time to get its instant
    origin: float  # the first row's time
    speed: float
    scale: float
    window: tuple[float, float]  # instants the run replays; rows outside are skipped
    automation: str | None
    source: str
    rng: np.random.Generator
    skipped: int = 0  # rows outside the run
    replayed: int = 0  # happenings taken (after `scale`)
    unknown: int = 0  # rows naming an address not on the list (or an automation not in the scenario)
    refused: dict[str, int] = field(default_factory=dict)  # sign-ups not added: duplicate_signup, scale_clash
    _reader: Iterator[Any] | None = None
    _buffer: ReplayRows | None = None
    _pos: int = 0
    _done: bool = False
    _copies: dict[str, int] = field(default_factory=dict)  # email -> copies made of its sign-up (scale)

    def _refill(self) -> None:
        while not self._done and (self._buffer is None or self._pos >= len(self._buffer.at)):
            if self._reader is None:
                self._reader = _batches(self.path)
            batch = next(self._reader, None)
            if batch is None:
                self._done, self._buffer = True, None
                return
            self._buffer, self._pos = self._rows(batch), 0

    def _rows(self, batch: Any) -> ReplayRows:
        batch = _typed(batch, self.path, 0)
        names = batch.schema.names
        t, _ = _times(batch, self.path, 0)
        at = self.offset + (t - self.origin) / self.speed
        inside = (at >= self.window[0]) & (at <= self.window[1])
        self.skipped += int((~inside).sum())
        keep = np.flatnonzero(inside)
        n = len(at)
        copies = np.full(n, math.floor(self.scale), np.int64)
        copies += self.rng.random(n) < (self.scale - math.floor(self.scale))
        keep = keep[copies[keep] > 0]
        repeat = copies[keep]

        every = len(keep) == n

        def column(name: str) -> list[Any]:
            if name not in names:
                return [None] * len(keep)
            column = batch.column(names.index(name))
            values: list[Any] = (column if every else column.take(keep)).to_pylist()  # only the rows kept
            return values

        extra = [c for c in names if c not in ("time", "kind", "email", "automation", "group")]
        rows = ReplayRows(at[keep], column("kind"), column("email"), column("automation"), column("group"),
                          {c: column(c) for c in extra}, np.zeros(len(keep), bool))
        if (repeat == 1).all():
            return rows
        return _amplify(rows, repeat)

    def next_time(self) -> float | None:
        self._refill()
        return None if self._buffer is None else float(self._buffer.at[self._pos])

    def peek(self, limit: float, most: int) -> tuple[np.ndarray, list[str], list[str], bool]:
        """The next rows at or before `limit` (at most `most`, within the rows read so far), not taken: their
        instants, kinds and addresses; and whether they are all of them (False: rows after the last one may
        still be at or before `limit`)."""
        self._refill()
        if self._buffer is None:
            return np.zeros(0), [], [], True
        b, lo = self._buffer, self._pos
        end = int(np.searchsorted(b.at, limit, side="right"))
        cut = min(end, lo + most)
        return b.at[lo:cut], b.kind[lo:cut], b.email[lo:cut], cut == end < len(b.at)  # a row past `limit` in sight

    def take_until(self, limit: float, *, inclusive: bool) -> ReplayRows:
        """Rows before `limit` (or at it, if inclusive) not taken yet, across batches."""
        parts: list[ReplayRows] = []
        while True:
            self._refill()
            if self._buffer is None:
                break
            b = self._buffer
            end = int(np.searchsorted(b.at, limit, side="right" if inclusive else "left"))
            if end <= self._pos:
                break
            parts.append(_slice(b, self._pos, end))
            self._pos = end
            if end < len(b.at):
                break
        rows = _concat(parts)
        self.replayed += len(rows.at)
        return rows


def _slice(r: ReplayRows, lo: int, hi: int) -> ReplayRows:
    return ReplayRows(r.at[lo:hi], r.kind[lo:hi], r.email[lo:hi], r.automation[lo:hi], r.group[lo:hi],
                      {k: v[lo:hi] for k, v in r.fields.items()}, r.copy[lo:hi])


def _concat(parts: list[ReplayRows]) -> ReplayRows:
    if len(parts) == 1:
        return parts[0]
    keys = sorted({k for p in parts for k in p.fields})
    return ReplayRows(np.concatenate([p.at for p in parts]) if parts else np.zeros(0),
                      [x for p in parts for x in p.kind], [x for p in parts for x in p.email],
                      [x for p in parts for x in p.automation], [x for p in parts for x in p.group],
                      {k: [x for p in parts for x in p.fields.get(k, [None] * len(p.at))] for k in keys},
                      np.concatenate([p.copy for p in parts]) if parts else np.zeros(0, bool))


def derived(email: str, copy: int) -> str:
    """The address of the `copy`-th copy (1 is the row itself) of a sign-up: plus addressing."""
    if copy <= 1:
        return email
    local, _, domain = email.rpartition("@")
    return f"{local}+r{copy}@{domain}"


def _amplify(rows: ReplayRows, repeat: np.ndarray) -> ReplayRows:
    index = np.repeat(np.arange(len(rows.at)), repeat)
    copy = np.concatenate([np.arange(1, k + 1) for k in repeat.tolist()]) if len(repeat) else np.zeros(0, np.int64)
    pick = index.tolist()
    return ReplayRows(rows.at[index], [rows.kind[i] for i in pick],
                      [derived(rows.email[i], int(c)) for i, c in zip(pick, copy.tolist(), strict=True)],
                      [rows.automation[i] for i in pick], [rows.group[i] for i in pick],
                      {k: [v[i] for i in pick] for k, v in rows.fields.items()}, copy > 1)
