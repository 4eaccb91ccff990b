"""Future happenings (outcomes, opens, clicks, unsubscribes) in time order.

Each dispatch adds one chunk of columns; a heap orders the chunks by their
earliest time. A chunk due entirely by `t` is released whole, without ever
being sorted (the common case for transport outcomes, due within a tick); a
chunk that straddles `t` is sorted once, then released by prefix. Rows of one
released piece are not in time order: consumers use each row's own time.
Ties break on (time, chunk sequence), so the order is deterministic.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class _Chunk:
    seq: int
    kind: str
    time: np.ndarray
    cols: dict[str, np.ndarray]
    latest: float
    first: float  # the earliest row not yet released
    slack: float = 0.0
    pos: int = 0
    ordered: bool = False


class FutureQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Chunk]] = []
        self._due: list[tuple[float, int, int, _Chunk]] = []  # (must release by, seq, pos then, chunk)
        self._seq = 0

    def push(self, kind: str, time: np.ndarray, slack: float = 0.0, **cols: Any) -> None:
        """Rows happening at `time`; `slack`: how long after its time a row may wait for a phase.

        A row with slack does not call for a phase of its own: it is released
        in the first phase at or after its time, provided that comes within
        the slack (nothing it sets off is due sooner).
        """
        if len(time) == 0:
            return
        self._seq += 1
        time = np.asarray(time)
        first = float(time.min())
        chunk = _Chunk(self._seq, kind, time, {k: np.asarray(v) for k, v in cols.items()}, float(time.max()), first,
                       slack)
        heapq.heappush(self._heap, (first, chunk.seq, chunk))
        heapq.heappush(self._due, (first + slack, chunk.seq, 0, chunk))

    def next_time(self) -> float | None:
        """The latest instant a phase must run to release what is waiting in time."""
        while self._due:
            _, _, pos, chunk = self._due[0]
            if pos == chunk.pos and chunk.pos < len(chunk.time):
                return self._due[0][0]
            heapq.heappop(self._due)  # released since (or partly: a newer entry stands for the rest)
        return None

    def next_row(self) -> float | None:
        """When the earliest waiting row happens."""
        return self._heap[0][0] if self._heap else None

    def rows_before(self, kind: str, before: float, columns: tuple[str, ...] | None = None) -> list[
            dict[str, np.ndarray]]:
        """The columns of the rows of `kind` waiting with time < `before` (a read: nothing is released),
        a piece per chunk in the order the chunks were pushed: "time" and `columns` (all by default).

        The heap holds every chunk not wholly released once, keyed by its earliest waiting row, and a
        node's children are never earlier: only the chunks with something before `before` are visited,
        however many wait behind them (opens and clicks wait for hours)."""
        found: list[_Chunk] = []
        heap, stack = self._heap, [0] if self._heap else []
        while stack:
            i = stack.pop()
            first, _, chunk = heap[i]
            if first >= before:
                continue
            if chunk.kind == kind:
                found.append(chunk)
            stack += [c for c in (2 * i + 1, 2 * i + 2) if c < len(heap)]
        out = []
        for chunk in sorted(found, key=lambda c: c.seq):
            rest = slice(chunk.pos, len(chunk.time))
            hit = chunk.time[rest] < before
            if hit.any():
                names = chunk.cols if columns is None else columns
                out.append({"time": chunk.time[rest][hit], **{k: chunk.cols[k][rest][hit] for k in names}})
        return out

    def __len__(self) -> int:
        return sum(len(c.time) - c.pos for _, _, c in self._heap)

    def pop_until(self, t: float) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
        """Every row with time <= t, as (kind, times, columns) pieces, earliest piece first."""
        out = []
        while self._heap and self._heap[0][0] <= t:
            _, _, chunk = heapq.heappop(self._heap)
            if chunk.latest <= t:  # all of it: no sort needed
                sl = slice(chunk.pos, len(chunk.time))
                out.append((chunk.kind, chunk.time[sl], {k: v[sl] for k, v in chunk.cols.items()}))
                chunk.pos = len(chunk.time)
                continue
            if not chunk.ordered:
                order = np.argsort(chunk.time, kind="stable")
                chunk.time = chunk.time[order]
                chunk.cols = {k: v[order] for k, v in chunk.cols.items()}
                chunk.ordered = True
            end = int(np.searchsorted(chunk.time, t, side="right"))
            sl = slice(chunk.pos, end)
            out.append((chunk.kind, chunk.time[sl], {k: v[sl] for k, v in chunk.cols.items()}))
            chunk.pos = end
            chunk.first = float(chunk.time[end])
            heapq.heappush(self._heap, (chunk.first, chunk.seq, chunk))
            heapq.heappush(self._due, (float(chunk.time[end]) + chunk.slack, chunk.seq, end, chunk))
        out.sort(key=lambda piece: float(piece[1].min()))  # stable: chunk order breaks ties
        return out
