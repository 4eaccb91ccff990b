"""`not_opened` / `not_clicked` deadlines (T2): one per (subscriber, send, trigger).

A watch is armed when a watched automation's email is sent, and cancelled when
the subscriber opens (or clicks) that send in time. A deadline that passes
uncancelled becomes a signal for the automation that armed it. Deadlines are
a heap ordered by (deadline, arming order), so equal deadlines fire in a
deterministic order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.instants import Instant


@dataclass(frozen=True, slots=True)
class Expired:
    """A deadline that passed with no open (or click): what the signal needs."""

    deadline: Instant
    subscriber: int
    send_id: str
    trigger: int  # index of the trigger that armed it


class Watches:
    def __init__(self) -> None:
        self._heap: list[tuple[Instant, int, int, str, int]] = []  # (deadline, seq, subscriber, send, trigger)
        self._live: set[tuple[int, str, int]] = set()
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def arm(self, deadline: Instant, subscriber: int, send_id: str, trigger: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, subscriber, send_id, trigger))
        self._live.add((subscriber, send_id, trigger))

    def arm_many(self, deadlines: np.ndarray[Any, Any], subscribers: np.ndarray[Any, Any], send_ids: list[str],
                 trigger: int) -> None:
        """`arm` for every row, in row order."""
        seq = self._seq
        rows = [(d, seq + i + 1, s, x, trigger) for i, (d, s, x) in
                enumerate(zip(deadlines.tolist(), subscribers.tolist(), send_ids, strict=True))]
        self._seq += len(rows)
        self._live.update((s, x, trigger) for _, _, s, x, _ in rows)
        if len(rows) > len(self._heap):
            self._heap += rows
            heapq.heapify(self._heap)
        else:
            for row in rows:
                heapq.heappush(self._heap, row)

    def cancel(self, subscriber: int, send_id: str, trigger: int) -> None:
        self._live.discard((subscriber, send_id, trigger))

    def next_deadline(self) -> Instant | None:
        return self._heap[0][0] if self._heap else None

    def expire(self, now: Instant, before: Instant | None = None) -> list[Expired]:
        """Live deadlines up to `now` (and strictly before `before`, if given), in order."""
        out = []
        while self._heap and self._heap[0][0] <= now and (before is None or self._heap[0][0] < before):
            deadline, _, sid, send_id, trigger = heapq.heappop(self._heap)
            key = (sid, send_id, trigger)
            if key in self._live:
                self._live.discard(key)
                out.append(Expired(deadline, sid, send_id, trigger))
        return out

    def expire_through(self, instants: np.ndarray[Any, Any], cancelled: dict[tuple[int, str, int], Instant],
                       before: Instant | None = None) -> list[Expired]:
        """`expire(t)` at each of `instants` (sorted), with cancels applied between, in one pass.

        A deadline passes at the first instant at or after it; `cancelled` maps a
        watch (subscriber, send, trigger) to when its cancel is released, which
        beats the deadline when it comes no later than the instant the deadline
        passes at. Every cancel is applied, as the phases would by the last instant.
        """
        out: list[Expired] = []
        last = float(instants[-1])
        while self._heap and self._heap[0][0] <= last and (before is None or self._heap[0][0] < before):
            deadline, _, sid, send_id, trigger = heapq.heappop(self._heap)
            key = (sid, send_id, trigger)
            if key not in self._live:
                continue
            self._live.discard(key)
            cancel = cancelled.get(key)
            if cancel is None or cancel > instants[int(np.searchsorted(instants, deadline, side="left"))]:
                out.append(Expired(deadline, sid, send_id, trigger))
        self._live.difference_update(cancelled)
        return out

    def live_before(self, before: Instant) -> list[Expired]:
        """The live deadlines earlier than `before`, in order; nothing changes.

        Walks only the part of the heap below `before` (a node at or past it
        hides its whole subtree), so the cost follows what is found.
        """
        out, stack, heap = [], [0] if self._heap else [], self._heap
        while stack:
            i = stack.pop()
            deadline, seq, sid, send_id, trigger = heap[i]
            if deadline >= before:
                continue
            if (sid, send_id, trigger) in self._live:
                out.append((deadline, seq, Expired(deadline, sid, send_id, trigger)))
            stack += [c for c in (2 * i + 1, 2 * i + 2) if c < len(heap)]
        return [e for _, _, e in sorted(out, key=lambda x: (x[0], x[1]))]

    def clear(self) -> None:
        self._heap.clear()
        self._live.clear()
