"""The pending list (P1-P7): every queued send not yet sent, at scale.

Layout, chosen for a million entries of one automation:

- entries are rows of numpy columns indexed by a dense entry id (about 30
  bytes an entry), never Python objects;
- a `SortedList` of int keys ``due_ms << 32 | entry`` orders the pending ones
  by due time with ties in entry (= insertion) order. Taking what is due is a
  prefix slice (O(k log n)); page 1 is the first 20 keys;
- `per_subscriber` counts pending entries by subscriber, so the number of
  entries hidden by P2 costs O(hidden subscribers), not O(entries);
- searches, deep pages and bulk selections work on whole columns at once and
  are cached until the list or the store changes.

The list does not decide anything about sending; the automation does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
from sortedcontainers import SortedList

from core.columns import Column, distinct
from core.errors import ConfigError
from core.instants import Instant
from core.subscribers import SUBSCRIBED, SubscriberStore

PAGE_SIZE = 20
_LOW = (1 << 32) - 1
_FAST_PAGE_LIMIT = 50 * PAGE_SIZE  # pages deeper than this use the column path


class _DueIndex(SortedList):  # type: ignore[misc]
    """A SortedList that can drop its first k keys in O(k + sublists).

    SortedList deletes a short slice one key at a time (O(k log n)); taking
    what is due is always a prefix, so cut whole sublists instead. Relies on
    sortedcontainers 2.x internals (pinned <3), checked by the pending tests.
    """

    def pop_prefix(self, k: int) -> list[int]:
        lists, maxes = self._lists, self._maxes
        taken: list[int] = []
        while k > 0 and lists:
            first = lists[0]
            if len(first) <= k:
                taken += first
                k -= len(first)
                del lists[0]
                del maxes[0]
            else:
                taken += first[:k]
                del first[:k]
                k = 0
        self._len -= len(taken)
        del self._index[:]  # the positional tree is rebuilt on next use
        return taken


class EntryState(IntEnum):
    PENDING = 0
    IN_FLIGHT = 1
    SENT = 2
    FAILED = 3
    DROPPED = 4
    CANCELLED = 5


# Plain ints for numpy: comparing an array with an IntEnum member costs ~5x more.
PENDING, IN_FLIGHT, SENT, FAILED, DROPPED, CANCELLED = (int(x) for x in EntryState)


class Why(IntEnum):
    """P1: why an entry waits."""

    IMMEDIATE = 0
    DELAY = 1
    WINDOW = 2
    REPEAT = 3

    @property
    def label(self) -> str:
        return self.name.lower()


def _due_ms(due: float) -> int:
    return math.ceil(due * 1000)  # never taken before its due time


@dataclass(frozen=True, slots=True)
class PendingRow:
    entry: int
    subscriber: int
    email: str
    due: Instant
    why: str
    occurrence: int


@dataclass(frozen=True, slots=True)
class PendingPage:
    rows: tuple[PendingRow, ...]
    page: int
    pages: int
    total: int
    sort: str
    search: str | None
    field: str | None


@dataclass(frozen=True, slots=True)
class Selection:
    """P4: explicit entries, or every entry matching a search (all pages)."""

    entries: frozenset[int] = frozenset()
    all_pages: bool = False
    search: str | None = None
    field: str | None = None

    def with_entry(self, entry: int) -> Selection:
        return Selection(self.entries | {entry}, self.all_pages, self.search, self.field)

    def with_page(self, page: PendingPage) -> Selection:
        return Selection(self.entries | {r.entry for r in page.rows}, self.all_pages,
                         self.search, self.field)

    @classmethod
    def every_page(cls, search: str | None = None, field: str | None = None) -> Selection:
        return cls(frozenset(), True, search, field)

    def cleared(self) -> Selection:
        return Selection()


class PendingList:
    def __init__(self) -> None:
        self._index = _DueIndex()
        self.subscriber = Column(np.int32)
        self.due = Column(np.float64)
        self.why = Column(np.int8)
        self.occurrence = Column(np.int32)
        self.state = Column(np.int8)
        self.flags = Column(np.int8)  # bit 1 opened, bit 2 clicked (ST1 uniques)
        self.per_subscriber = Column(np.int32)
        self.version = 0
        self._cache: dict[tuple[Any, ...], Any] = {}

    def __len__(self) -> int:
        return len(self._index)

    @property
    def entries_ever(self) -> int:
        return len(self.state)

    # -- adding and taking -------------------------------------------------
    def _count(self, subscribers: np.ndarray[Any, Any], delta: int) -> None:
        if len(subscribers) == 0:
            return
        top = int(subscribers.max()) + 1
        if len(self.per_subscriber) < top:
            self.per_subscriber.extend(np.zeros(top - len(self.per_subscriber), np.int32))
        np.add.at(self.per_subscriber.view, subscribers, delta)  # O(k), repeats counted

    def add(self, subscriber: int, due: Instant, why: Why, occurrence: int = 0) -> int:
        entry = self.state.append(PENDING)
        self.subscriber.append(subscriber)
        self.due.append(due)
        self.why.append(int(why))
        self.occurrence.append(occurrence)
        self.flags.append(0)
        self._index.add((_due_ms(due) << 32) | entry)
        if subscriber >= len(self.per_subscriber):
            self.per_subscriber.extend(np.zeros(subscriber + 1 - len(self.per_subscriber), np.int32))
        self.per_subscriber[subscriber] += 1  # one scalar: cheaper than the batch path
        self.version += 1
        return entry

    def add_many(self, subscribers: np.ndarray[Any, Any], due: np.ndarray[Any, Any],
                 why: Why | np.ndarray[Any, Any], occurrence: np.ndarray[Any, Any] | int = 0) -> np.ndarray[Any, Any]:
        n = len(subscribers)
        start, end = self.state.extend(np.full(n, PENDING, np.int8))
        self.subscriber.extend(subscribers)
        self.due.extend(due)
        self.why.extend(np.broadcast_to(np.asarray(why, np.int8), (n,)))
        self.occurrence.extend(np.broadcast_to(np.asarray(occurrence, np.int32), (n,)))
        self.flags.extend(np.zeros(n, np.int8))
        ids = np.arange(start, end, dtype=np.int64)
        ms = np.ceil(np.asarray(due, np.float64) * 1000).astype(np.int64)
        self._index.update([(d << 32) | e for d, e in zip(ms.tolist(), ids.tolist(), strict=True)])
        self._count(np.asarray(subscribers, np.int64), +1)
        self.version += 1
        return ids

    def next_due(self) -> Instant | None:
        if not self._index:
            return None
        return float(self.due[self._index[0] & _LOW])

    def due_before(self, before: Instant) -> np.ndarray[Any, Any]:
        """Pending entries due before `before` (to the millisecond), in due order; nothing changes."""
        k = self._index.bisect_left(_due_ms(before) << 32)
        return np.fromiter((key & _LOW for key in self._index.islice(0, k)), np.int64, count=k)

    def due_count(self, now: Instant) -> int:
        """How many pending entries are due by `now`."""
        return int(self._index.bisect_left((math.floor(now * 1000) + 1) << 32))

    def take_due(self, now: Instant, *, inclusive: bool = True,
                 limit: int | None = None) -> np.ndarray[Any, Any]:
        """Remove and return the pending entries due by `now` (or before it), in due order.

        Taken entries become IN_FLIGHT: the caller decides each one.
        """
        cutoff = math.floor(now * 1000) + 1 if inclusive else math.ceil(now * 1000)
        k = self._index.bisect_left(cutoff << 32)
        if limit is not None:
            k = min(k, limit)
        if k <= 0:
            return np.zeros(0, np.int64)
        keys = self._index.pop_prefix(k)
        ids = np.fromiter((key & _LOW for key in keys), np.int64, count=k)
        self._left(ids, IN_FLIGHT)
        return ids

    def put_back(self, ids: np.ndarray[Any, Any], due: Instant, why: Why) -> None:
        """Return taken (in-flight) entries to the list, due at `due`."""
        self.state[ids] = PENDING
        self.due[ids] = due
        self.why[ids] = int(why)
        ms = _due_ms(due)
        self._index.update([(ms << 32) | e for e in ids.tolist()])
        self._count(self.subscriber[ids].astype(np.int64), +1)
        self.version += 1

    def _left(self, ids: np.ndarray[Any, Any], state: int) -> None:
        self.state[ids] = state
        self._count(self.subscriber[ids].astype(np.int64), -1)
        self.version += 1

    def reschedule(self, entry: int, due: Instant, why: Why | None = None) -> None:
        """Move a pending entry to a new due time (R2)."""
        if self.state[entry] != PENDING:
            raise ConfigError("entry", f"entry {entry} is not pending")
        self._index.remove((_due_ms(float(self.due[entry])) << 32) | entry)
        self.due[entry] = due
        if why is not None:
            self.why[entry] = int(why)
        self._index.add((_due_ms(due) << 32) | entry)
        self.version += 1

    def remove(self, ids: Iterable[int] | np.ndarray[Any, Any], state: int) -> np.ndarray[Any, Any]:
        """Take the still-pending entries among `ids` out of the list; returns them."""
        ids = distinct(np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, np.int64))
        ids = ids[self.state[ids] == PENDING] if len(ids) else ids
        if len(ids) == 0:
            return ids
        if len(ids) * 8 > len(self._index):  # many: rebuild the index from the columns
            self._left(ids, state)
            keep = np.flatnonzero(self.state.view == PENDING)
            ms = np.ceil(self.due[keep] * 1000).astype(np.int64)
            self._index = _DueIndex([(d << 32) | e for d, e in zip(ms.tolist(), keep.tolist(), strict=True)])
        else:
            for e in ids.tolist():
                self._index.remove((_due_ms(float(self.due[e])) << 32) | e)
            self._left(ids, state)
        return ids

    def pending_ids(self) -> np.ndarray[Any, Any]:
        """Every pending entry in due order (ties by entry)."""
        return np.fromiter((key & _LOW for key in self._index), np.int64, count=len(self._index))

    # -- the operator's view (P2-P4) ---------------------------------------
    def visible_count(self, store: SubscriberStore) -> int:
        hidden = store.hidden_ids()
        hidden = hidden[hidden < len(self.per_subscriber)]
        return len(self._index) - int(self.per_subscriber[hidden].sum())

    def matching(self, store: SubscriberStore, search: str | None = None, field: str | None = None,
                 sort: str = "asc") -> np.ndarray[Any, Any]:
        """Visible pending entries matching the search, sorted (cached)."""
        key = ("match", self.version, store.version, search, field, sort)
        cached = self._cache.get(key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        ids = np.flatnonzero(self.state.view == PENDING)
        ok = store.status.view == SUBSCRIBED
        if search:
            ok = ok & store.search(search, field)
        ids = ids[ok[self.subscriber[ids]]]
        due = self.due[ids]
        order = np.lexsort((ids, due if sort == "asc" else -due))
        result: np.ndarray[Any, Any] = ids[order]
        self._cache = {key: result}
        return result

    def query(self, store: SubscriberStore, *, search: str | None = None, field: str | None = None,
              sort: str = "asc", page: int = 1) -> PendingPage:
        """P3: one page of 20, sorted by due time, optionally searched."""
        if sort not in ("asc", "desc"):
            raise ConfigError("sort", f"must be 'asc' or 'desc', got {sort!r}")
        if page < 1:
            raise ConfigError("page", f"pages start at 1, got {page}")
        lo = (page - 1) * PAGE_SIZE
        if search or lo + PAGE_SIZE > _FAST_PAGE_LIMIT:
            ids = self.matching(store, search, field, sort)
            total, chosen = len(ids), ids[lo : lo + PAGE_SIZE].tolist()
        else:
            total, chosen = self.visible_count(store), self._walk(store, lo + PAGE_SIZE, sort)[lo:]
        rows = tuple(PendingRow(e, int(self.subscriber[e]), store.emails[int(self.subscriber[e])],
                                float(self.due[e]), Why(int(self.why[e])).label,
                                int(self.occurrence[e])) for e in chosen)
        return PendingPage(rows, page, max(1, -(-total // PAGE_SIZE)), total, sort, search, field)

    def _walk(self, store: SubscriberStore, count: int, sort: str) -> list[int]:
        """The first `count` visible entries, walking the index in chunks (shallow pages)."""
        status, sub = store.status.view, self.subscriber.view
        n = len(self._index)
        out_keys: list[int] = []
        pos, chunk = 0, count + 16
        while pos < n and len(out_keys) < count:
            if sort == "asc":
                keys = self._index[pos : pos + chunk]
            else:
                keys = self._index[max(0, n - pos - chunk) : n - pos][::-1]
            ids = np.fromiter((k & _LOW for k in keys), np.int64, count=len(keys))
            visible = status[sub[ids]] == 0
            out_keys += [k for k, v in zip(keys, visible.tolist(), strict=True) if v]
            pos += len(keys)
            chunk *= 2
        if sort == "desc" and out_keys:
            # Ties keep entry order, as in ascending order: complete the last tie group.
            last = out_keys[min(count, len(out_keys)) - 1] >> 32
            lo = self._index.bisect_left(last << 32)
            group = [k for k in self._index[lo : self._index.bisect_left((last + 1) << 32)]
                     if status[sub[k & _LOW]] == 0]
            out_keys = [k for k in out_keys if k >> 32 != last] + group
            out_keys.sort(key=lambda k: (-(k >> 32), k & _LOW))
        return [k & _LOW for k in out_keys[:count]]

    def in_list_order(self, ids: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """`ids` as the list shows them: by due time, then subscriber (never by entry number, which
        follows the order the engine happened to queue entries in, not anything the operator sees)."""
        return ids[np.lexsort((ids, self.subscriber[ids], self.due[ids]))] if len(ids) > 1 else ids

    def resolve(self, selection: Selection, store: SubscriberStore) -> np.ndarray[Any, Any]:
        """The pending, visible entries a selection stands for."""
        if selection.all_pages:
            return self.matching(store, selection.search, selection.field)
        ids = np.fromiter(sorted(selection.entries), np.int64, count=len(selection.entries))
        ids = ids[(ids >= 0) & (ids < self.entries_ever)]
        ids = ids[self.state[ids] == PENDING]
        visible: np.ndarray[Any, Any] = ids[store.status.view[self.subscriber[ids]] == SUBSCRIBED]
        return visible
