"""What an automation's parts share: its state, declared once, and the methods one part calls of
another. `core.automation.Automation` is made of the parts: `lifecycle`, `triggers`, `watching`, `sends`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.anniversaries import Anniversaries
from core.columns import Column
from core.config import AutomationConfig
from core.events import EventLog
from core.instants import Instant, zone
from core.lifecycle import State
from core.pending import (
    PendingList,
    Why,
)
from core.series import Series
from core.stats import Stats
from core.subscribers import Status, SubscriberStore
from core.triggers import RateLimit, Signal, Signals, Trigger
from core.watches import Passed, Watches

_SMALL_BATCH = 8
_NONE = np.zeros(0, np.int64)
_NONE.flags.writeable = False
_NO_TIMES = np.zeros(0)
_NO_TIMES.flags.writeable = False
_DROP_BY_STATUS = {int(Status.UNSUBSCRIBED): "unsubscribed", int(Status.AUTO_DELETED): "auto_deleted",
                   int(Status.DELETED): "deleted"}


@dataclass(frozen=True, slots=True)
class SendBatch:
    """Sends the automation decided to make now (S1 passed): hand to a transport."""

    automation: str
    decided_at: Instant
    entries: np.ndarray[Any, Any]
    subscribers: np.ndarray[Any, Any]
    due: np.ndarray[Any, Any]
    occurrence: np.ndarray[Any, Any]
    overrides: dict[int, dict[str, Any]] = field(default_factory=dict)  # entry -> api fields (T2)
    sender: str = ""  # the content as set when decided (an edit while paused applies to later sends)
    subject: str = ""

    def __len__(self) -> int:
        return len(self.entries)


class AutomationBase:
    """The state of one automation, shared by its parts, and what each part calls of another."""

    config: AutomationConfig
    state: State
    deleted: bool
    start_at: Instant | None
    end_at: Instant | None
    pending: PendingList
    stats: Stats
    events: EventLog
    running_spans: list[list[float]]  # [start, end]; end inf while running
    overrides: dict[int, dict[str, Any]]  # entry -> api field overrides (T2 api)
    _last_accepted: Column
    _fired: set[tuple[int, str]]  # (subscriber, source occurrence) for NO_DUPLICATES
    _combined: dict[int, int]  # T4 all: subscriber -> bitmask of satisfied triggers
    _series: Series
    _watches: Watches
    _api: RateLimit
    _anniversaries: Anniversaries
    _decided: list[SendBatch]  # decided by `tick`, not yet handed over
    _anniversary_of: AutomationConfig | None
    _anniversary: Trigger | None

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def tz(self) -> Any:
        return zone(self.config.timezone)

    def _cuts(self, at: np.ndarray[Any, Any], arms: list[float],
              store: SubscriberStore) -> Iterator[tuple[int, int]]:
        raise NotImplementedError

    def _decide(self, ids: np.ndarray[Any, Any], now: Instant, store: SubscriberStore) -> SendBatch:
        raise NotImplementedError

    def _drop(self, ids: np.ndarray[Any, Any], now: Instant | np.ndarray[Any, Any], reason: str, *,
              continue_series: bool) -> None:
        raise NotImplementedError

    def _expire_through(self, instants: np.ndarray[Any, Any], cancels: tuple[Signals, ...],
                        store: SubscriberStore) -> None:
        raise NotImplementedError

    def _observe_passed(self, passed: Passed, store: SubscriberStore, *, batches: bool) -> None:
        raise NotImplementedError

    def _queue(self, sid: int, due: Instant, why: Why, occurrence: int, now: Instant) -> int:
        raise NotImplementedError

    def _ran_at(self, times: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        raise NotImplementedError

    def _track_watches(self, signal: Signal) -> bool:
        raise NotImplementedError

    def _track_watches_many(self, s: Signals) -> np.ndarray[Any, Any] | None:
        raise NotImplementedError

    def _when(self, nominal: Instant) -> Instant:
        raise NotImplementedError

    def due(self, now: Instant, store: SubscriberStore, limit: int | None = None) -> SendBatch:
        raise NotImplementedError

    def next_scheduled(self) -> Instant | None:
        raise NotImplementedError

    def next_timed(self) -> Instant | None:
        raise NotImplementedError

    def observe(self, signal: Signal, store: SubscriberStore) -> str:
        raise NotImplementedError

    def observe_many(self, signals: Signals, store: SubscriberStore) -> None:
        raise NotImplementedError

    def tick(self, now: Instant, store: SubscriberStore) -> None:
        raise NotImplementedError

    def was_running(self, t: Instant) -> bool:
        raise NotImplementedError


def _earliest(a: Instant | None, b: Instant | None) -> Instant | None:
    return b if a is None else a if b is None else min(a, b)
