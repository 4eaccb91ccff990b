"""`not_opened` / `not_clicked` deadlines (T2): one per (send, trigger), as columns.

A watch is armed when a watched automation's email is sent, and cancelled when
the subscriber opens (or clicks) that send in time. A deadline that passes
uncancelled becomes a signal for the automation that armed it. Deadlines pass
in (deadline, arming order), so equal deadlines fire in a deterministic order.

Each arming adds a chunk of rows in deadline order; a heap orders the chunks
by their first row still waiting. A send is named by an integer key: the
entry of ``email:entry`` (how the dispatcher names sends), so opens and clicks
cancel their watches with one array lookup; any other send id is interned
(negative keys) and looked up by dictionary.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.columns import Column, distinct
from core.instants import Instant


@dataclass(frozen=True)
class Passed:
    """Deadlines that passed, as columns in the order they pass (`send`: keys, see `Watches.send_id`)."""

    deadline: np.ndarray[Any, Any]
    subscriber: np.ndarray[Any, Any]
    send: np.ndarray[Any, Any]
    trigger: np.ndarray[Any, Any]

    def __len__(self) -> int:
        return len(self.deadline)


class Watches:
    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._deadline = Column(np.float64)
        self._subscriber = Column(np.int64)
        self._send = Column(np.int64)
        self._trigger = Column(np.int16)
        self._live = Column(np.bool_)
        self._heap: list[tuple[float, int, int, int]] = []  # (first waiting deadline, lo, pos, hi) per chunk
        self._by_send: dict[int, np.ndarray[Any, Any]] = {}  # trigger -> row of each send key >= 0 (-1: none)
        self._by_name: dict[tuple[int, int], int] = {}  # (trigger, interned key < 0) -> row
        self._emails: dict[int, str] = {}  # trigger -> the email its send ids name
        self._names: list[str] = []  # interned send ids: key -(i + 1)
        self._interned: dict[str, int] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    # -- send ids <-> keys ---------------------------------------------------
    def key(self, send_id: str, trigger: int, email: str) -> int:
        """The integer key of a send id: its entry when it reads ``email:entry``, else an interned one."""
        head, sep, tail = send_id.rpartition(":")
        if sep and head == email and tail.isdigit() and str(int(tail)) == tail:
            self._emails.setdefault(trigger, email)
            if self._emails[trigger] == email:
                return int(tail)
        if send_id not in self._interned:
            self._names.append(send_id)
            self._interned[send_id] = -len(self._names)
        return self._interned[send_id]

    def send_id(self, key: int, trigger: int) -> str:
        return f"{self._emails[trigger]}:{key}" if key >= 0 else self._names[-key - 1]

    # -- arming and cancelling -------------------------------------------------
    def arm(self, deadline: Instant, subscriber: int, send_id: str, trigger: int, email: str = "") -> None:
        """One watch (scalar work: the one-at-a-time path arms one per send)."""
        key = self.key(send_id, trigger, email)
        row = self._deadline.append(deadline)
        self._subscriber.append(subscriber)
        self._send.append(key)
        self._trigger.append(trigger)
        self._live.append(True)
        self._count += 1
        if key >= 0:
            self._index(trigger, key + 1)[key] = row
        else:
            self._by_name[(trigger, key)] = row
        heapq.heappush(self._heap, (deadline, row, row, row + 1))

    def arm_many(self, deadlines: np.ndarray[Any, Any], subscribers: np.ndarray[Any, Any],
                 sends: np.ndarray[Any, Any], trigger: int, email: str) -> None:
        """`arm` for every row, in row order (`sends`: keys; entries for ``email:entry`` ids)."""
        if not len(deadlines):
            return
        if (sends >= 0).any():
            self._emails.setdefault(trigger, email)
        order = np.argsort(deadlines, kind="stable")  # a chunk in deadline order; ties keep arming order
        deadlines, subscribers, sends = deadlines[order], subscribers[order], sends[order]
        lo, hi = self._deadline.extend(deadlines)
        self._subscriber.extend(subscribers)
        self._send.extend(sends)
        self._trigger.extend(np.full(len(deadlines), trigger, np.int16))
        self._live.extend(np.ones(len(deadlines), bool))
        self._count += len(deadlines)
        rows = np.arange(lo, hi)
        known = sends >= 0
        if known.any():
            index = self._index(trigger, int(sends[known].max()) + 1)
            index[sends[known]] = rows[known]
        for key, row in zip(sends[~known].tolist(), rows[~known].tolist(), strict=True):
            self._by_name[(trigger, key)] = row
        heapq.heappush(self._heap, (float(deadlines[0]), lo, lo, hi))

    def _index(self, trigger: int, size: int) -> np.ndarray[Any, Any]:
        index = self._by_send.get(trigger)
        if index is None or len(index) < size:
            grown = np.full(max(size, 2 * (0 if index is None else len(index)), 1024), -1, np.int64)
            if index is not None:
                grown[: len(index)] = index
            self._by_send[trigger] = index = grown
        return index

    def _rows(self, subscribers: np.ndarray[Any, Any], sends: np.ndarray[Any, Any],
              trigger: int) -> np.ndarray[Any, Any]:
        """The live rows armed for these (subscriber, send) pairs of `trigger` (-1 where none)."""
        rows = np.full(len(sends), -1, np.int64)
        index = self._by_send.get(trigger)
        known = sends >= 0
        if index is not None and known.any():
            ok = known & (sends < len(index))
            rows[ok] = index[sends[ok]]
        for i in np.flatnonzero(~known).tolist():
            rows[i] = self._by_name.get((trigger, int(sends[i])), -1)
        found = rows >= 0
        live = self._live.view
        found[found] &= live[rows[found]] & (self._subscriber.view[rows[found]] == subscribers[found])
        return np.where(found, rows, -1)

    def cancel(self, subscriber: int, send_id: str, trigger: int) -> None:
        """One open or click's cancel (scalar work)."""
        if not self._count:
            return
        key = self.key(send_id, trigger, self._emails.get(trigger, ""))
        if key >= 0:
            index = self._by_send.get(trigger)
            row = int(index[key]) if index is not None and key < len(index) else -1
        else:
            row = self._by_name.get((trigger, key), -1)
        if row >= 0 and self._live[row] and self._subscriber[row] == subscriber:
            self._live[row] = False
            self._count -= 1

    def cancel_many(self, subscribers: np.ndarray[Any, Any], sends: np.ndarray[Any, Any], trigger: int) -> None:
        rows = self._rows(subscribers, sends, trigger)
        rows = distinct(rows[rows >= 0])
        self._live.view[rows] = False
        self._count -= len(rows)

    # -- deadlines passing -----------------------------------------------------
    def next_deadline(self) -> Instant | None:
        live = self._live.view
        deadline = self._deadline.view
        while self._heap:
            first, lo, pos, hi = self._heap[0]
            if live[pos]:
                return first
            waiting = np.flatnonzero(live[pos:hi])  # skip the cancelled rows at the front
            heapq.heappop(self._heap)
            if len(waiting):
                pos += int(waiting[0])
                heapq.heappush(self._heap, (float(deadline[pos]), lo, pos, hi))
        return None

    def _take(self, last: Instant, before: Instant | None) -> np.ndarray[Any, Any]:
        """Remove the live rows with deadline <= last (and < before), in (deadline, arming) order."""
        if not self._heap or self._heap[0][0] > last:
            return _NO_ROWS
        deadline = self._deadline.view
        taken = []
        while self._heap and self._heap[0][0] <= last and (before is None or self._heap[0][0] < before):
            _, lo, pos, hi = heapq.heappop(self._heap)
            chunk = deadline[pos:hi]
            end = pos + int(np.searchsorted(chunk, last, side="right"))
            if before is not None:
                end = min(end, pos + int(np.searchsorted(chunk, before, side="left")))
            taken.append(np.arange(pos, end))
            if end < hi:
                heapq.heappush(self._heap, (float(deadline[end]), lo, end, hi))
        if not taken:
            return np.zeros(0, np.int64)
        rows: np.ndarray[Any, Any] = np.concatenate(taken)
        rows = rows[self._live.view[rows]]
        rows = rows[np.lexsort((rows, deadline[rows]))]
        self._live.view[rows] = False
        self._count -= len(rows)
        return rows

    def _passed(self, rows: np.ndarray[Any, Any]) -> Passed:
        if not len(rows):
            return _NOTHING
        return Passed(self._deadline.view[rows], self._subscriber.view[rows], self._send.view[rows],
                      self._trigger.view[rows])

    def expire(self, now: Instant, before: Instant | None = None) -> Passed:
        """Live deadlines up to `now` (and strictly before `before`, if given), in order."""
        return self._passed(self._take(now, before))

    def expire_through(self, instants: np.ndarray[Any, Any], cancels: tuple[np.ndarray[Any, Any], ...],
                       trigger: int, before: Instant | None = None) -> Passed:
        """`expire(t)` at each of `instants` (sorted), with cancels applied between, in one pass.

        A deadline passes at the first instant at or after it. `cancels`
        (subscribers, send keys, times) of `trigger`'s watches: a cancel beats
        the deadline when it comes before the deadline itself (released in the
        phase the deadline passes in, it catches the automation up to its own
        instant first, and the deadline passes then). Every cancel is applied,
        as the phases would by the last instant.
        """
        subscribers, sends, times = cancels
        beaten = np.full(len(self._deadline), np.inf)
        rows = self._rows(subscribers, sends, trigger)
        hit = rows >= 0
        np.minimum.at(beaten, rows[hit], times[hit])
        taken = self._take(float(instants[-1]), before)
        passed = taken[beaten[taken] >= self._deadline.view[taken]]
        rest = distinct(rows[hit])
        rest = rest[self._live.view[rest]]  # the watches their cancels beat that pass later
        self._live.view[rest] = False
        self._count -= len(rest)
        return self._passed(passed)

    def live_before(self, before: Instant) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """(deadlines, subscribers) of the live watches earlier than `before`, in order; nothing changes.

        Walks only the part of the heap of chunks below `before` (a chunk
        starting at or past it hides its whole subtree), so the cost follows
        what is found.
        """
        deadline = self._deadline.view
        parts, stack, heap = [], [0] if self._heap else [], self._heap
        while stack:
            i = stack.pop()
            first, _, pos, hi = heap[i]
            if first >= before:
                continue
            parts.append(np.arange(pos, pos + int(np.searchsorted(deadline[pos:hi], before, side="left"))))
            stack += [c for c in (2 * i + 1, 2 * i + 2) if c < len(heap)]
        if not parts:
            return np.zeros(0), np.zeros(0, np.int64)
        rows = np.concatenate(parts)
        rows = rows[self._live.view[rows]]
        rows = rows[np.lexsort((rows, deadline[rows]))]
        return deadline[rows], self._subscriber.view[rows]

    def email_of(self, trigger: int) -> str:
        """The email whose sends `trigger`'s watches name by entry ('' if none armed yet)."""
        return self._emails.get(trigger, "")


_NO_ROWS = np.zeros(0, np.int64)
_NOTHING = Passed(np.zeros(0), _NO_ROWS, _NO_ROWS, np.zeros(0, np.int16))
