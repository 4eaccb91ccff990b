"""The run's event log: merged from every actor, canonical, digestible.

Rows arrive per actor and per step; `canonical()` orders them by (exact time,
automation, subscriber, arrival), rows about nobody (state changes) keeping
their place among the rows of their instant: an order that depends only on the
scenario and seed, never on thread scheduling or on how phases were grouped. The digest is the sha256 of
the canonical CSV text.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from isal import igzip

from core import KINDS, REASONS, EventRows
from core.emails import Emails, Pooled
from sim.chunks import Chunks
from sim.files import create

HEADER = "time,automation,subscriber,kind,reason,due\n"


class RunLog:
    def __init__(self, automations: list[str]) -> None:
        self.automations = automations
        self._rows = Chunks("at", "kind", "subscriber", "entry", "reason", "due", "automation")

    def add(self, automation: int, rows: EventRows) -> None:
        if len(rows):
            self._rows.add(at=rows.at, kind=rows.kind, subscriber=rows.subscriber, entry=rows.entry,
                           reason=rows.reason, due=rows.due, automation=np.full(len(rows), automation, np.int16))

    def so_far(self) -> dict[str, np.ndarray]:
        """Every row so far, in arrival order, without releasing anything (the console reads it live)."""
        return self._rows.all()

    def canonical(self) -> dict[str, np.ndarray]:
        """Every row in canonical order. Called once, after the run: the pieces are released as it goes."""
        cols = self._rows.all()
        self._rows = Chunks(*self._rows.columns)
        # By the exact instant, the automation, then the subscriber: two unrelated rows at one instant (a
        # sign-up and another send's outcome, both on the millisecond grid) are ordered by who they are
        # about, not by the order phases happened to produce them in, which deciding ahead changes. A row
        # about nobody (a state change, a refusal) is a barrier among the rows of its automation at its
        # instant: it keeps its place, and only the rows between two barriers are ordered by subscriber.
        # lexsort is stable: the rows of one subscriber at one instant keep their arrival order.
        order = np.lexsort((cols["subscriber"], _segments(cols), cols["automation"], cols["at"]))
        for k in list(cols):  # one column at a time: at most one extra column in memory
            cols[k] = cols[k][order]
        return cols

    def write(self, path: Path, cols: dict[str, np.ndarray], emails: Sequence[str], tz: str) -> str:
        """Write events.csv.gz; returns the sha256 digest of the canonical text.

        gzip by ISA-L (`isal`): the same format as zlib's at level 1-2, 3x as fast, and it releases
        the GIL, so it overlaps the formatting of the next pieces. The header's mtime is 0 and
        it names no file, so the same log gives the same bytes.
        """
        with create(path) as raw, \
                igzip.IGzipFile("", "wb", 2, raw, mtime=0) as out:  # type: ignore[no-untyped-call]
            return self.digest(cols, emails, tz, out.write)

    def write_parquet(self, path: Path, cols: dict[str, np.ndarray], emails: Sequence[str], tz: str) -> None:
        """events.parquet: the same rows and columns as the CSV, typed (times as timestamps in the
        scenario's zone; automation, subscriber, kind and reason dictionary-encoded), for pandas,
        polars or DuckDB."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        def stamps(t: np.ndarray) -> Any:
            missing = np.isnan(t)
            ms = np.round(np.where(missing, 0, t) * 1000).astype(np.int64)
            return pa.array(ms, pa.timestamp("ms", tz=tz), mask=missing)

        def coded(codes: np.ndarray, names: list[str] | Any, missing: np.ndarray | None = None) -> Any:
            indices = pa.array(codes.astype(np.int32), mask=missing)
            return pa.DictionaryArray.from_arrays(indices, names if isinstance(names, pa.Array)
                                                  else pa.array(names, pa.string()))

        subs = cols["subscriber"].astype(np.int64)
        no_subscriber = (subs < 0) | (subs >= len(emails))
        table = pa.table({
            "time": stamps(cols["at"]),
            "automation": coded(cols["automation"], self.automations),
            "subscriber": coded(np.where(no_subscriber, 0, subs), addresses(emails, csv=False, blank=not len(emails)),
                                no_subscriber),
            "kind": coded(cols["kind"], list(KINDS)),
            "reason": coded(cols["reason"], list(REASONS), cols["reason"] == 0),
            "due": stamps(cols["due"]),
        })
        with create(path) as raw:
            pq.write_table(table, raw, compression="zstd")

    def digest(self, cols: dict[str, np.ndarray], emails: Sequence[str], tz: str,
               sink: Callable[[bytes | memoryview], object] | None = None) -> str:
        """The sha256 of the canonical CSV text of `cols`, handing the text to `sink` as it goes.

        Pieces of `PIECE` rows are formatted on two threads (Arrow's kernels release the GIL),
        a few ahead of the one being hashed and handed on, always in order.
        """
        import pyarrow as pa

        zone = ZoneInfo(tz)
        digest = hashlib.sha256(HEADER.encode())
        if sink is not None:
            sink(HEADER.encode())
        n = len(cols["at"])
        who = addresses(emails, csv=True, blank=True)  # the last cell, empty: no subscriber
        names = pa.array(csv_cells(self.automations), pa.string())
        pieces = (slice(lo, min(n, lo + PIECE)) for lo in range(0, n, PIECE))
        with ThreadPoolExecutor(2) as pool:
            for text in _in_order(pool, lambda sl: _lines(cols, sl, who, names, zone), pieces, ahead=3):
                digest.update(text)
                if sink is not None:
                    sink(text)
        return digest.hexdigest()


PIECE = 100_000  # rows formatted at a time: about 10 MB of text


def _in_order(pool: ThreadPoolExecutor, fn: Callable[[Any], memoryview], items: Iterator[Any],
              ahead: int) -> Iterator[memoryview]:
    """`map(fn, items)` on `pool`, at most `ahead` results waiting (bounded memory), in order."""
    waiting: deque[Future[memoryview]] = deque(pool.submit(fn, item) for item in islice(items, ahead))
    while waiting:
        done = waiting.popleft().result()
        waiting.extend(pool.submit(fn, item) for item in islice(items, 1))
        yield done


def _lines(cols: dict[str, np.ndarray], sl: slice, who: Any, names: Any, zone: ZoneInfo) -> memoryview:
    """Rows `sl` as CSV text, made by Arrow's string kernels a column at a time (no Python per row):
    each cell a `take` from a small table of texts, the cells of a row joined in C."""
    import pyarrow as pa
    import pyarrow.compute as pc

    subs = cols["subscriber"][sl]
    subs = np.where((subs >= 0) & (subs < len(who) - 1), subs, len(who) - 1)
    due = pc.binary_join_element_wise(iso_times(cols["due"][sl], zone), "", "\n")  # the row's end
    line = pc.binary_join_element_wise(iso_times(cols["at"][sl], zone), names.take(cols["automation"][sl]),
                                       who.take(subs), _KIND_TEXT.take(cols["kind"][sl]),
                                       _REASON_TEXT.take(cols["reason"][sl]), due, ",")
    line = line.combine_chunks() if isinstance(line, pa.ChunkedArray) else line
    offsets = np.frombuffer(line.buffers()[1], np.int32)[line.offset:line.offset + len(line) + 1]
    # The rows, back to back: a view of Arrow's buffer, not a copy (a copy of 10 MB holds the GIL)
    return memoryview(line.buffers()[2][int(offsets[0]):int(offsets[-1])])


# A cell a spreadsheet would run as a formula starts with one of these (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SPLITTERS = (",", '"', "\r", "\n")


def csv_cells(values: list[str]) -> list[str]:
    """`values` as safe CSV cells: a value that could start a formula gets a leading `'`, and one with a
    comma, quote or line break is quoted (RFC 4180). Addresses are checked when loaded, so this is
    the second guard; one pass over the joined UTF-8 text decides whether any value needs care at all
    (the characters looked for are ASCII, which UTF-8 never uses inside another character)."""
    text = ("\x00" + "\x00".join(values) + "\x00").encode()  # a NUL inside a value only costs the slow path
    if not any(c in text for c in _SPLIT_BYTES):  # memchr: memory speed
        raw = np.frombuffer(text, np.uint8)
        firsts = raw[np.flatnonzero(raw[:-1] == 0) + 1]  # the first byte of every value (0 if it is empty)
        if not _FORMULA_BYTES[firsts].any():
            return values
    return [_cell(v) for v in values]


_SPLIT_BYTES = tuple(c.encode() for c in _SPLITTERS)
_FORMULA_BYTES = np.zeros(256, bool)
_FORMULA_BYTES[[ord(c) for c in _FORMULA_START]] = True


def addresses(emails: Sequence[str], *, csv: bool, blank: bool) -> Any:
    """Every address by subscriber id as one Arrow string array (safe CSV cells with `csv`), then an
    empty one with `blank`. Pooled addresses are joined from their parts by Arrow, not one Python
    string per subscriber, when no part needs care as a CSV cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = []
    for piece in emails.pieces() if isinstance(emails, Emails) else [list(emails)]:
        if isinstance(piece, Pooled):
            parts = [*piece.users, *piece.domains]
            if not csv or csv_cells(parts) is parts:  # no part can start a formula or split a row
                users = pa.array(piece.users, pa.string()).take(piece.user)
                domains = pa.array(["@" + d for d in piece.domains], pa.string()).take(piece.domain)
                chunks.append(pc.binary_join_element_wise(users, pc.cast(pa.array(piece.number), pa.string()),
                                                          domains, ""))
                continue
            piece = piece.texts()
        chunks.append(pa.array(csv_cells(piece) if csv else piece, pa.string()))
    if blank:
        chunks.append(pa.array([""], pa.string()))
    return pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())


def _cell(value: str) -> str:
    if value.startswith(_FORMULA_START):
        value = "'" + value
    if any(c in value for c in ',"\r\n'):
        value = '"' + value.replace('"', '""') + '"'
    return value


def _texts(values: tuple[str, ...] | list[str]) -> Any:
    import pyarrow as pa

    return pa.array(list(values), pa.string())


class _Lazy:
    """A table of texts made on first use (pyarrow loads only when a log is written)."""

    def __init__(self, values: tuple[str, ...] | list[str]) -> None:
        self.values = values
        self._array: Any = None

    def take(self, indices: np.ndarray) -> Any:
        if self._array is None:
            self._array = _texts(self.values)
        return self._array.take(indices)


_KIND_TEXT = _Lazy(KINDS)
_REASON_TEXT = _Lazy(REASONS)
_MILLIS = _Lazy([f".{m:03d}" for m in range(1000)])


def iso_times(t: np.ndarray, zone: ZoneInfo) -> Any:
    """ISO 8601 local times with milliseconds and offset, vectorised ('' for NaN), as an Arrow string array.

    Text is made once per distinct second (a run's rows share seconds) and
    joined with the milliseconds; the UTC offset is looked up once per
    distinct hour (zones change offset on the hour or half hour at most).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    ok = ~np.isnan(t)
    ms = np.round(np.where(ok, t, 0.0) * 1000).astype(np.int64)
    seconds, millis = np.divmod(ms, 1000)
    unique, inverse = _distinct(seconds)
    hours, hour_of = np.unique(unique // 3600, return_inverse=True)
    offsets = np.array([int(datetime.fromtimestamp(h * 3600, zone).utcoffset().total_seconds())  # type: ignore[union-attr]
                        for h in hours.tolist()], np.int64)
    local = np.datetime_as_string((unique + offsets[hour_of]).astype("datetime64[s]"), unit="s")
    suffix = [f"{'+' if o >= 0 else '-'}{abs(o) // 3600:02d}:{abs(o) % 3600 // 60:02d}" for o in offsets.tolist()]
    text = pc.binary_join_element_wise(pa.array(local, pa.string()).take(inverse), _MILLIS.take(millis),
                                       _texts(suffix).take(hour_of[inverse]), "")
    if ok.all():
        return text
    return pc.if_else(pa.array(ok), text, "")


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(values, return_inverse=True)`, in one pass when `values` are already in order
    (the log's times are: it is sorted by them)."""
    if len(values) < 2 or not (values[1:] >= values[:-1]).all():
        unique, inverse = np.unique(values, return_inverse=True)
        return unique, inverse
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    inverse = np.cumsum(np.r_[False, values[1:] != values[:-1]])
    return values[starts], inverse


def _segments(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Per row, how many barriers (rows about nobody) of its automation at its instant arrived up to it.

    Zero for every row at an instant without a barrier: only the few rows sharing an instant with one
    are looked at, so the canonical order costs one small column more than a sort by time."""
    segment = np.zeros(len(cols["at"]), np.int32)
    barriers = np.flatnonzero(cols["subscriber"] < 0)
    if not len(barriers):
        return segment
    near = np.flatnonzero(np.isin(cols["at"], cols["at"][barriers]))  # arrival order: ascending positions
    near = near[np.lexsort((cols["automation"][near], cols["at"][near]))]  # stable: arrival within a group
    at, automation, barrier = cols["at"][near], cols["automation"][near], cols["subscriber"][near] < 0
    first = np.flatnonzero(np.r_[True, (at[1:] != at[:-1]) | (automation[1:] != automation[:-1])])
    counted = np.cumsum(barrier)
    before: np.ndarray = np.repeat(counted[first] - barrier[first], np.diff(np.r_[first, len(near)]))
    segment[near] = counted - before
    return segment
