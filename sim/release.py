"""Phases that must run so a signal waiting in its slack is not released with a later list change.

A row with slack (an outcome, open or click that sets off a chain a delay
later) may wait for a phase run for another reason (`FutureQueue.push`). A
phase applies every list change it releases (an unsubscribe, a hard bounce)
before the automations observe the signals it releases. The per-instant
engine releases each row at its own tick: a signal of a subscriber observed
at its tick sees them still subscribed when they unsubscribe at a later
tick. So when a subscriber has a signal waiting in its slack and a list
change at a later tick, a phase must run at the tick before the change's:
it releases the signal alone, as the per-instant engine would.

Kept per subscriber in two columns (the latest instant a waiting signal of
theirs may be released by, and their latest list change still to come),
updated a dispatch at a time with numpy. A stale value only asks for a phase
that was not needed, never skips one.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np


class ReleaseGuard:
    def __init__(self, quantize: Callable[[float], float], tick: float) -> None:
        self._quantize, self._tick = quantize, tick
        self._signal_by = np.full(0, -np.inf)  # per subscriber: a waiting signal may wait until then
        self._change_at = np.full(0, -np.inf)  # per subscriber: their latest list change still to come
        self._phases: list[float] = []  # the phases asked for (a heap)

    def _grow(self, n: int) -> None:
        if n > len(self._signal_by):
            size = max(n, 2 * len(self._signal_by), 1024)
            self._signal_by = np.concatenate([self._signal_by, np.full(size - len(self._signal_by), -np.inf)])
            self._change_at = np.concatenate([self._change_at, np.full(size - len(self._change_at), -np.inf)])

    def signals(self, subscribers: np.ndarray, at: np.ndarray, slack: float) -> None:
        """Rows that set off something `slack` after `at`, waiting for release."""
        if not len(subscribers):
            return
        self._grow(int(subscribers.max()) + 1)
        np.maximum.at(self._signal_by, subscribers, at + slack)
        change = self._change_at[subscribers]
        self._ask(change, (change > at) & (change <= at + slack + self._tick))

    def changes(self, subscribers: np.ndarray, at: np.ndarray) -> None:
        """List changes (unsubscribes, hard bounces) happening at `at`, waiting for release."""
        if not len(subscribers):
            return
        self._grow(int(subscribers.max()) + 1)
        np.maximum.at(self._change_at, subscribers, at)
        self._ask(at, self._signal_by[subscribers] >= at - self._tick)

    def _ask(self, change: np.ndarray, hit: np.ndarray) -> None:
        for u in np.unique(change[hit]).tolist():
            heapq.heappush(self._phases, self._quantize(u) - self._tick)

    def next_phase(self, after: float) -> float | None:
        """The earliest phase asked for later than `after` (the last phase run)."""
        while self._phases and self._phases[0] <= after:
            heapq.heappop(self._phases)
        return self._phases[0] if self._phases else None
