"""Pending list rules P1-P7."""

from __future__ import annotations

import numpy as np
import pytest

from core import (
    PAGE_SIZE,
    ConfigError,
    Delay,
    NotAllowed,
    PendingList,
    Selection,
    Status,
    SubscriberStore,
    Why,
)
from tests.core.builders import added, at, deliver, queued, run_until, running, store_with

T0 = at("2026-03-02 08:00")


def filled(n: int, dues: list[float] | None = None) -> tuple[PendingList, SubscriberStore]:
    store = SubscriberStore()
    store.add_many([f"User{i}@Example.com" for i in range(n)], 0.0,
                   fields={"plan": ["pro" if i % 3 == 0 else "free" for i in range(n)]})
    pending = PendingList()
    for i in range(n):
        pending.add(i, dues[i] if dues else T0 + (n - i) * 60, Why.DELAY)
    return pending, store


def test_p1_every_scheduled_send_is_an_entry_with_subscriber_due_and_why() -> None:
    store = store_with(1)
    a = running(T0, delay=Delay(1, "hours"))
    a.observe(added(0, T0), store)
    page = a.query(store)
    assert [(r.subscriber, r.email, r.due, r.why) for r in page.rows] == [
        (0, "user0@example.com", T0 + 3600, "delay")]


def test_p2_hides_unsubscribed_and_auto_deleted_but_keeps_them_unsent() -> None:
    pending, store = filled(5)
    store.set_status(1, Status.UNSUBSCRIBED)
    store.set_status(2, Status.AUTO_DELETED)
    page = pending.query(store)
    assert sorted(r.subscriber for r in page.rows) == [0, 3, 4]
    assert page.total == 3
    assert len(pending) == 5  # still there; S1 drops them at their due time


def test_p3_twenty_per_page_sorted_both_ways() -> None:
    pending, store = filled(45)
    first = pending.query(store)
    assert len(first.rows) == PAGE_SIZE
    assert first.pages == 3
    assert first.total == 45
    dues = [r.due for p in (1, 2, 3) for r in pending.query(store, page=p).rows]
    assert dues == sorted(dues)
    assert len(dues) == 45
    desc = [r.due for p in (1, 2, 3) for r in pending.query(store, sort="desc", page=p).rows]
    assert desc == sorted(dues, reverse=True)


def test_p3_ties_in_a_stable_order_both_ways() -> None:
    dues = [T0 + 60 * (i // 5) for i in range(30)]  # groups of five equal due times
    pending, store = filled(30, dues)
    asc = [r.entry for p in (1, 2) for r in pending.query(store, page=p).rows]
    desc = [r.entry for p in (1, 2) for r in pending.query(store, sort="desc", page=p).rows]
    assert asc == list(range(30))
    assert desc == [g * 5 + k for g in reversed(range(6)) for k in range(5)]
    deep = pending.matching(store, sort="desc").tolist()  # the column path agrees
    assert deep == desc


def test_p3_search_by_email_case_insensitive_substring_and_by_field() -> None:
    pending, store = filled(30)
    found = pending.query(store, search="USER1")
    assert sorted(r.subscriber for r in found.rows) == [1, *list(range(10, 20))]
    assert found.total == 11
    pro = pending.query(store, search="pro", field="plan")
    assert pro.total == 10
    assert all(r.subscriber % 3 == 0 for r in pro.rows)
    assert pending.query(store, search="nobody").total == 0


def test_p3_bad_sort_or_page_is_a_clear_error() -> None:
    pending, store = filled(3)
    with pytest.raises(ConfigError, match="sort"):
        pending.query(store, sort="sideways")
    with pytest.raises(ConfigError, match="page"):
        pending.query(store, page=0)


def test_p4_selection_one_page_all_pages_and_clear() -> None:
    pending, store = filled(45)
    page1 = pending.query(store)
    one = Selection().with_entry(page1.rows[0].entry)
    assert pending.resolve(one, store).tolist() == [page1.rows[0].entry]
    this_page = Selection().with_page(page1)
    assert sorted(pending.resolve(this_page, store).tolist()) == sorted(r.entry for r in page1.rows)
    everything = Selection.every_page(search="user1")
    assert len(pending.resolve(everything, store)) == 11  # all matches, not only those shown
    assert len(pending.resolve(everything.cleared(), store)) == 0


def test_p5_send_now_goes_out_at_once_with_status_checks() -> None:
    store, a = queued(3, T0, delay=Delay(1, "days"))
    store.set_status(2, Status.UNSUBSCRIBED)
    everything = Selection.every_page()
    batch = a.send_now(Selection().with_page(a.query(store)).with_entry(2), store, T0 + 60)
    assert sorted(batch.subscribers.tolist()) == [0, 1]
    deliver(a, batch, failure=[0, 1])
    assert a.stats.sent == 1
    assert a.stats.failed["soft"] == 1
    assert len(a.pending) == 1  # subscriber 2 is hidden, so not selectable
    assert len(a.pending.resolve(everything, store)) == 0


def test_p5_send_now_needs_a_running_automation() -> None:
    store = store_with(1)
    a = running(T0, delay=Delay(1, "days"))
    a.observe(added(0, T0), store)
    a.pause(T0 + 1)
    with pytest.raises(NotAllowed, match="resume it first"):
        a.send_now(Selection.every_page(), store, T0 + 2)
    assert len(a.pending) == 1


def test_p6_delete_cancels_the_selected_sends() -> None:
    store, a = queued(3, T0, delay=Delay(1, "hours"))
    assert a.delete_pending(Selection.every_page(search="user1"), store, T0 + 5) == 1
    assert a.stats.cancelled == 1
    sent = run_until(a, store, T0 + 7200)
    assert sorted(s for _, s in sent) == [0, 2]
    assert a.violations() == []


def test_p7_outcome_depends_on_state_and_status_at_due_time() -> None:
    store = store_with(2)
    a = running(T0, delay=Delay(1, "hours"))
    a.observe(added(0, T0), store)
    a.observe(added(1, T0), store)
    store.set_status(0, Status.UNSUBSCRIBED)  # after queueing, before due
    sent = run_until(a, store, T0 + 7200)
    assert sent == [(T0 + 3600, 1)]
    assert a.stats.dropped["unsubscribed"] == 1


def test_p_take_due_returns_only_due_entries_in_order() -> None:
    pending, _ = filled(10)
    taken = pending.take_due(T0 + 3 * 60)
    assert pending.due[taken].tolist() == [T0 + 60, T0 + 120, T0 + 180]
    assert len(pending) == 7
    assert pending.take_due(T0 + 3 * 60).size == 0


def test_p_bulk_remove_of_most_entries_rebuilds_consistently() -> None:
    pending, store = filled(100)
    removed = pending.remove(np.arange(0, 90), state=__import__("core").EntryState.CANCELLED)
    assert len(removed) == 90
    assert len(pending) == 10
    assert [r.entry for r in pending.query(store).rows] == list(range(99, 89, -1))


def test_p_take_due_prefix_cut_keeps_the_index_consistent() -> None:
    rng = np.random.default_rng(3)
    pending = PendingList()
    dues = T0 + rng.integers(0, 5000, 20_000).astype(float)
    pending.add_many(np.arange(20_000, dtype=np.int32), dues, Why.DELAY)
    got: list[float] = []
    for cut in range(0, 5200, 250):
        taken = pending.take_due(T0 + cut)
        got += pending.due[taken].tolist()
        pending.add(0, T0 + cut + 100.5, Why.DELAY)  # interleave inserts with cuts
        assert len(pending) == len(list(pending._index))
    assert got == sorted(got)
    assert pending._index == sorted(pending._index)
