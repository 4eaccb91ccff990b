"""The event record the core keeps instead of doing I/O.

Every decision the core makes (a trigger accepted or ignored, an entry queued,
sent, dropped...) is appended to an `EventLog` as a row of columns. Single
rows go to Python lists; batches go straight in as numpy arrays, so a batch of
a million sends is a few array copies, not a million objects. The shells drain
the log and write it out; the core never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

KINDS = ("triggered", "ignored", "partial", "queued", "sent", "failed", "dropped", "cancelled",
         "opened", "clicked", "state", "requeued", "refused", "in_flight")
REASONS = ("", "not_running", "duplicate", "filtered", "not_subscribed", "rate_limited",
           "unknown_subscriber", "paused", "ended", "unsubscribed", "auto_deleted", "deleted",
           "soft", "hard", "operator", "delay", "window", "repeat", "immediate", "retrigger",
           "send_now", "draft", "scheduled", "running", "end_at", "restart", "crash",
           "start", "schedule", "cancel_schedule", "pause", "resume", "end", "edit", "delete", "query")
KIND = {name: i for i, name in enumerate(KINDS)}
REASON = {name: i for i, name in enumerate(REASONS)}
_NO = -1


@dataclass(frozen=True, slots=True)
class EventRows:
    """A drained slice of an event log, as columns of equal length."""

    at: np.ndarray[Any, Any]
    kind: np.ndarray[Any, Any]
    subscriber: np.ndarray[Any, Any]
    entry: np.ndarray[Any, Any]
    reason: np.ndarray[Any, Any]
    due: np.ndarray[Any, Any]

    def __len__(self) -> int:
        return len(self.at)

    def rows(self) -> list[tuple[float, str, int, int, str, float]]:
        """Readable rows (for tests and small logs)."""
        return [(float(a), KINDS[k], int(s), int(e), REASONS[r], float(d))
                for a, k, s, e, r, d in zip(self.at, self.kind, self.subscriber,
                                            self.entry, self.reason, self.due, strict=True)]


_DTYPES = (np.float64, np.int8, np.int32, np.int64, np.int16, np.float64)
_RECORD = np.dtype(list(zip(("at", "kind", "subscriber", "entry", "reason", "due"), _DTYPES, strict=True)))


_NO_ROWS = EventRows(*(np.zeros(0, dt) for dt in _DTYPES))  # read-only: shared by every empty drain
for _column in (_NO_ROWS.at, _NO_ROWS.kind, _NO_ROWS.subscriber, _NO_ROWS.entry, _NO_ROWS.reason, _NO_ROWS.due):
    _column.flags.writeable = False


class EventLog:
    def __init__(self) -> None:
        self._single: list[tuple[float, int, int, int, int, float]] = []
        self._chunks: list[tuple[np.ndarray[Any, Any], ...]] = []

    def add(self, at: float, kind: str, subscriber: int = _NO, entry: int = _NO,
            reason: str = "", due: float = float("nan")) -> None:
        self._single.append((at, KIND[kind], subscriber, entry, REASON[reason], due))

    def add_batch(self, at: float | np.ndarray[Any, Any], kind: str, subscribers: np.ndarray[Any, Any],
                  entries: np.ndarray[Any, Any], reason: str = "",
                  due: float | np.ndarray[Any, Any] = float("nan")) -> None:
        n = len(entries)
        if n == 0:
            return
        self._flush_single()
        self._chunks.append((
            np.broadcast_to(np.asarray(at, np.float64), (n,)).copy(),
            np.full(n, KIND[kind], np.int8),
            np.asarray(subscribers, np.int32),
            np.asarray(entries, np.int64),
            np.full(n, REASON[reason], np.int16),
            np.broadcast_to(np.asarray(due, np.float64), (n,)).copy(),
        ))

    def add_rows(self, at: np.ndarray[Any, Any], kind: np.ndarray[Any, Any], subscriber: np.ndarray[Any, Any],
                 entry: np.ndarray[Any, Any], reason: np.ndarray[Any, Any], due: np.ndarray[Any, Any]) -> None:
        """Rows of mixed kinds at once (codes of KINDS and REASONS), in the order given."""
        if len(at) == 0:
            return
        self._flush_single()
        self._chunks.append(tuple(np.asarray(c, dt) for c, dt in
                                  zip((at, kind, subscriber, entry, reason, due), _DTYPES, strict=True)))

    def _flush_single(self) -> None:
        if self._single:  # one numpy call for all the rows: the columns are fields of one record array
            rows = np.array(self._single, _RECORD)
            self._chunks.append(tuple(rows[name] for name in _RECORD.names))  # type: ignore[union-attr]
            self._single = []

    def __len__(self) -> int:
        return len(self._single) + sum(len(c[0]) for c in self._chunks)

    def drain(self) -> EventRows:
        """Everything recorded since the last drain, oldest first."""
        self._flush_single()
        chunks, self._chunks = self._chunks, []
        if not chunks:
            return _NO_ROWS
        if len(chunks) == 1:
            return EventRows(*chunks[0])
        return EventRows(*(np.concatenate([c[i] for c in chunks]) for i in range(6)))
