"""Shared builders for the benchmark suites (kept out of the default test run)."""

from __future__ import annotations

import numpy as np
import pytest

from core import Automation, AutomationConfig, Delay, Kind, PendingList, SubscriberStore, Trigger, Why

T0 = 1_772_409_600.0  # 2026-03-02 09:00 Asia/Seoul


def big_store(n: int, seed: int = 7) -> SubscriberStore:
    rng = np.random.default_rng(seed)
    store = SubscriberStore()
    plans = np.array(["free", "pro", "team"])[rng.integers(0, 3, n)].tolist()
    store.add_many([f"user{i:07d}@mail{i % 97}.example.kr" for i in range(n)], 0.0,
                   fields={"plan": plans})
    hidden = rng.choice(n, n // 50, replace=False)  # 2% unsubscribed (P2 hides them)
    store.status[hidden] = 1
    store.version += 1
    return store


def big_pending(n: int, seed: int = 7) -> PendingList:
    rng = np.random.default_rng(seed)
    pending = PendingList()
    due = T0 + np.round(rng.uniform(0, 30 * 86400, n))  # second resolution: many ties
    pending.add_many(np.arange(n, dtype=np.int32), due, Why.DELAY)
    return pending


def big_automation(n: int, store: SubscriberStore) -> Automation:
    a = Automation(AutomationConfig(id="bulk", triggers=(Trigger(Kind.API),), subject="s",
                                    delay=Delay(1, "days")))
    a.start(T0 - 1)
    a.pending = big_pending(n)
    a.stats.accepted = a.stats.queued = n
    return a


@pytest.fixture(scope="session")
def million_store() -> SubscriberStore:
    return big_store(1_000_000)


@pytest.fixture(scope="session")
def million_pending() -> PendingList:
    return big_pending(1_000_000)
