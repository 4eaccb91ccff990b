"""Future happenings (outcomes, opens, clicks, unsubscribes) in time order.

Each dispatch adds one chunk of columns sorted by time; a heap orders the
chunks by their next time. Releasing everything up to `t` costs
O(chunks touched x log + rows released), never a scan of all that is pending.
Ties break on (time, chunk sequence, row), so the order is deterministic.
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
    pos: int = 0


class FutureQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Chunk]] = []
        self._seq = 0

    def push(self, kind: str, time: np.ndarray, **cols: Any) -> None:
        if len(time) == 0:
            return
        order = np.argsort(time, kind="stable")
        self._seq += 1
        chunk = _Chunk(self._seq, kind, np.asarray(time)[order],
                       {k: np.asarray(v)[order] for k, v in cols.items()})
        heapq.heappush(self._heap, (float(chunk.time[0]), chunk.seq, chunk))

    def next_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return sum(len(c.time) - c.pos for _, _, c in self._heap)

    def pop_until(self, t: float) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
        """Every row with time <= t, as (kind, times, columns) pieces in chunk order."""
        out = []
        while self._heap and self._heap[0][0] <= t:
            _, _, chunk = heapq.heappop(self._heap)
            end = int(np.searchsorted(chunk.time, t, side="right"))
            sl = slice(chunk.pos, end)
            out.append((chunk.kind, chunk.time[sl], {k: v[sl] for k, v in chunk.cols.items()}))
            chunk.pos = end
            if end < len(chunk.time):
                heapq.heappush(self._heap, (float(chunk.time[end]), chunk.seq, chunk))
        out.sort(key=lambda piece: float(piece[1][0]))  # earliest piece first; stable on chunk order
        return out
