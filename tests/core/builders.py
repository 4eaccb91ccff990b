"""Builders for pure core tests: instants, stores, automations."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from core import (
    Automation,
    AutomationConfig,
    Kind,
    SendBatch,
    Signal,
    Source,
    SubscriberStore,
    Trigger,
)

SEOUL = ZoneInfo("Asia/Seoul")


def at(text: str, tz: str = "Asia/Seoul") -> float:
    """'2025-02-01 09:10' (or with seconds) in `tz` as POSIX seconds."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(text, fmt).replace(tzinfo=ZoneInfo(tz)).timestamp()


def local(t: float, tz: str = "Asia/Seoul") -> str:
    return datetime.fromtimestamp(t, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def store_with(n: int = 3, **fields: list[Any]) -> SubscriberStore:
    store = SubscriberStore()
    for i in range(n):
        store.add(f"user{i}@example.com", 0.0, fields={k: v[i] for k, v in fields.items()})
    return store


def config(**kwargs: Any) -> AutomationConfig:
    kwargs.setdefault("id", "welcome")
    kwargs.setdefault("triggers", (Trigger(Kind.SUBSCRIBER_ADDED),))
    kwargs.setdefault("subject", "Hello $%name%$")
    return AutomationConfig(**kwargs)


def running(now: float, **kwargs: Any) -> Automation:
    automation = Automation(config(**kwargs))
    automation.start(now)
    return automation


def queued(n: int, now: float, **kwargs: Any) -> tuple[SubscriberStore, Automation]:
    """A list of `n` and a running automation each of them has triggered at `now`."""
    store = store_with(n)
    automation = running(now, **kwargs)
    for sid in range(n):
        automation.observe(added(sid, now), store)
    return store, automation


def added(sid: int, now: float, source: str = "form") -> Signal:
    return Signal(Kind.SUBSCRIBER_ADDED, sid, now, source=source)


def deliver(automation: Automation, batch: SendBatch, now: float | None = None,
            failure: list[int] | None = None) -> None:
    """Report every send of `batch` as done (ok unless `failure` says 1 soft / 2 hard)."""
    codes = None if failure is None else np.asarray(failure, np.int8)
    automation.record_outcomes(batch.entries, batch.decided_at if now is None else now, codes)


def run_until(automation: Automation, store: SubscriberStore, end: float,
              start: float | None = None) -> list[tuple[float, int]]:
    """Drive tick/due from wakeup to wakeup until `end`; returns (time, subscriber) of every send."""
    sent: list[tuple[float, int]] = []
    while True:
        t = automation.next_wakeup()
        if t is None or t > end:
            break
        if start is not None:
            t = max(t, start)
        automation.tick(t, store)
        batch = automation.due(t, store)
        deliver(automation, batch)
        sent.extend((t, int(s)) for s in batch.subscribers)
    return sent


def statuses(store: SubscriberStore) -> list[int]:
    return store.status.view.tolist()


_ = Source
