"""Repeat series (R1, R2): per subscriber, the anchor and the pending repeat entry.

Occurrence n of a series is anchor + n periods (`core.timing.Repeat`); a
retrigger moves the anchor (R2). The automation decides when a series goes
on; this only keeps the books.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.instants import Instant


@dataclass(slots=True)
class RepeatSeries:
    anchor: Instant
    entry: int = -1  # the pending repeat entry, or -1


class Series:
    def __init__(self) -> None:
        self._by_subscriber: dict[int, RepeatSeries] = {}

    def of(self, subscriber: int) -> RepeatSeries | None:
        return self._by_subscriber.get(subscriber)

    def begin(self, subscriber: int, anchor: Instant) -> RepeatSeries:
        series = self._by_subscriber[subscriber] = RepeatSeries(anchor)
        return series

    def end(self, subscribers: np.ndarray[Any, Any]) -> None:
        for sid in subscribers.tolist():
            self._by_subscriber.pop(sid, None)

    def clear(self) -> None:
        self._by_subscriber.clear()
