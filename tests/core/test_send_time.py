"""Send-time rules S1-S3, filter F1-F2, subscribers U1-U2, statistics ST1-ST2."""

from __future__ import annotations

import numpy as np
import pytest

from core import (
    ConfigError,
    Delay,
    Filter,
    Kind,
    Outcome,
    Signal,
    Start,
    Stats,
    Status,
    SubscriberStore,
    Trigger,
    Workspace,
    conservation_violations,
)
from tests.core.builders import added, at, config, deliver, local, queued, run_until, running, store_with

T0 = at("2026-03-02 08:00")


@pytest.mark.parametrize(("status", "reason"), [(Status.UNSUBSCRIBED, "unsubscribed"),
                                                (Status.AUTO_DELETED, "auto_deleted"),
                                                (Status.DELETED, "deleted")])
def test_s1_due_entry_dropped_by_subscriber_status(status: Status, reason: str) -> None:
    store = store_with(1)
    a = running(T0, delay=Delay(1, "hours"))
    a.observe(added(0, T0), store)
    store.set_status(0, status)
    assert run_until(a, store, T0 + 7200) == []
    assert dict(a.stats.dropped) == {reason: 1}


def test_s1_window_closed_at_due_time_waits() -> None:
    from core import SendWindow

    store = store_with(1)
    a = running(at("2026-03-02 09:00"), delay=Delay(1, "hours"))
    a.observe(added(0, at("2026-03-02 20:00")), store)  # due 21:00 with no window
    a.pause(at("2026-03-02 20:10"))
    a.edit(at("2026-03-02 20:11"), window=SendWindow.daily(["mon", "tue"], "09:00", "10:00"))
    a.resume(at("2026-03-02 20:12"))
    sent = run_until(a, store, at("2026-03-04 00:00"))
    assert [local(t) for t, _ in sent] == ["2026-03-03 09:00"]


def test_s2_pause_boundary_product_example() -> None:
    store = store_with(2)
    for resume, expect_sent in (("09:59", True), ("11:00", False)):
        a = running(at("2026-03-02 08:00"), delay=Delay(2, "hours"))
        a.observe(added(0, at("2026-03-02 08:00")), store)  # due 10:00
        a.pause(at("2026-03-02 09:00"))
        a.resume(at(f"2026-03-02 {resume}"))
        sent = run_until(a, store, at("2026-03-02 12:00"))
        assert (sent == [(at("2026-03-02 10:00"), 0)]) is expect_sent
        assert a.stats.dropped["paused"] == (0 if expect_sent else 1)


def test_s2_due_while_paused_dropped_even_when_polled_during_pause() -> None:
    store = store_with(1)
    a = running(T0, delay=Delay(1, "hours"))
    a.observe(added(0, T0), store)
    a.pause(T0 + 60)
    assert run_until(a, store, T0 + 7200) == []
    a.resume(T0 + 7300)
    assert a.stats.dropped["paused"] == 1
    assert len(a.pending) == 0


def test_s3_end_removes_every_pending_entry_at_once() -> None:
    _, a = queued(3, T0, delay=Delay(1, "days"))
    a.end(T0 + 60)
    assert len(a.pending) == 0
    assert a.stats.dropped["ended"] == 3
    assert a.violations() == []


def test_f1_filter_conditions() -> None:
    store = store_with(3, plan=["pro", "free", None])
    store.add_to_group(1, "vip")
    assert Filter.of({"field": "plan", "op": "equals", "value": "pro"}).passes(store, 0)
    assert not Filter.of({"field": "plan", "op": "equals", "value": "pro"}).passes(store, 2)
    assert Filter.of({"field": "plan", "op": "contains", "value": "RE"}).passes(store, 1)
    assert Filter.of({"op": "email_domain", "value": "example.com"}).passes(store, 2)
    assert Filter.of({"op": "in_group", "value": "vip"}).passes(store, 1)
    anyf = Filter.of([{"op": "in_group", "value": "vip"}, {"field": "plan", "op": "equals",
                                                          "value": "pro"}], combine="any")
    assert [anyf.passes(store, s) for s in range(3)] == [True, True, False]


def test_f1_filter_at_trigger_time() -> None:
    store = store_with(2, plan=["pro", "free"])
    a = running(T0, filter=Filter.of({"field": "plan", "op": "equals", "value": "pro"}))
    assert a.observe(added(0, T0), store) == "accepted"
    assert a.observe(added(1, T0), store) == "ignored:filtered"


def test_f2_name_filter_changed_before_due_time_drops_but_stays_listed() -> None:
    store = store_with(1, name=["Kim"])
    a = running(T0, delay=Delay(1, "hours"),
                filter=Filter.of({"field": "name", "op": "equals", "value": "Kim"}))
    a.observe(added(0, T0), store)
    store.set_field(0, "name", "Lee")
    assert a.query(store).total == 1  # the list still shows it
    assert run_until(a, store, T0 + 7200) == []
    assert dict(a.stats.dropped) == {"filtered": 1}


def test_u1_status_per_subscriber() -> None:
    store = SubscriberStore()
    sid = store.add("a@x.kr", 0.0)
    assert store.status_of(sid) is Status.SUBSCRIBED
    for status in (Status.UNSUBSCRIBED, Status.AUTO_DELETED, Status.DELETED):
        store.set_status(sid, status)
        assert store.status_of(sid) is status
    with pytest.raises(ConfigError, match="already"):
        store.add("A@x.kr", 0.0)


def test_u2_hard_bounce_auto_deletes_soft_changes_nothing() -> None:
    ws = Workspace(store_with(3))
    a = ws.add(config())
    ws.execute("welcome", Start(T0))
    for sid in range(3):
        ws.signal(added(sid, T0))
    (batch,) = ws.advance(T0)
    ws.deliver(batch, [Outcome.DELIVERED, Outcome.SOFT_BOUNCE, Outcome.HARD_BOUNCE], at=T0 + 1)
    assert [ws.store.status_of(s) for s in range(3)] == [Status.SUBSCRIBED, Status.SUBSCRIBED,
                                                         Status.AUTO_DELETED]
    assert a.stats.failed["soft"] == 1
    assert a.stats.failed["hard"] == 1
    off = SubscriberStore(auto_delete=False)
    off.add("b@x.kr", 0.0)
    assert off.bounce(0, hard=True) is Status.SUBSCRIBED


def test_st1_statistics_counts_and_rates() -> None:
    store = store_with(4)
    a = running(T0)
    for sid in range(4):
        a.observe(added(sid, T0), store)
    a.observe(added(0, T0 + 1), store)  # duplicate
    batch = a.due(T0, store)
    deliver(a, batch, failure=[0, 0, 0, 2])
    e0, e1 = batch.entries[:2].tolist()
    a.record_engagements(np.array([e0]), "opened", np.array([T0 + 5]))  # a batch of one is a batch
    a.record_engagements(np.array([e0]), "opened", np.array([T0 + 6]))  # a batch of one is a batch
    a.record_engagements(np.array([e1]), "opened", np.array([T0 + 7]))  # a batch of one is a batch
    a.record_engagements(np.array([e0]), "clicked", np.array([T0 + 8]))  # a batch of one is a batch
    s = a.summary()
    assert (s["triggered"], s["sent"], s["failed"], s["ignored"]) == (4, 3, {"soft": 0, "hard": 1},
                                                                     {"duplicate": 1})
    assert s["opens"] == {"unique": 2, "total": 3}
    assert s["clicks"] == {"unique": 1, "total": 1}
    assert s["open_rate"] == pytest.approx(2 / 3)
    assert s["click_rate"] == pytest.approx(1 / 3)


def test_st2_conservation_holds_and_detects_breaks() -> None:
    store, a = queued(5, T0, delay=Delay(1, "hours"))
    store.set_status(4, Status.UNSUBSCRIBED)
    run_until(a, store, T0 + 3600)
    assert a.violations() == []
    broken = Stats(accepted=2, queued=2, sent=3)
    assert conservation_violations(broken, pending=0)
    in_flight = Stats(accepted=1, queued=1, in_flight=1)
    assert conservation_violations(in_flight, 0, finished=True)
    assert conservation_violations(in_flight, 0, finished=False) == []


def test_st2_a_repeated_outcome_is_not_counted_twice() -> None:
    store = store_with(1)
    a = running(T0)
    a.observe(added(0, T0), store)
    batch = a.due(T0, store)
    assert a.record_outcomes(batch.entries, T0) == 1
    assert a.record_outcomes(batch.entries, T0) == 0
    assert a.stats.sent == 1
    assert a.violations() == []


@pytest.mark.parametrize(("build", "field"), [
    (lambda: Delay(-5, "minutes"), "delay.amount"),
    (lambda: Delay(5, "fortnights"), "delay.unit"),
    (lambda: config(timezone="Mars/Olympus"), "timezone"),
    (lambda: __import__("core").SendWindow.daily([], "09:00", "10:00"), "window.days"),
    (lambda: __import__("core").SendWindow.daily(["mon"], "9am", "10:00"), "window.from"),
    (lambda: __import__("core").SendWindow.daily(["xyz"], "09:00", "10:00"), "window.days"),
    (lambda: Trigger.of({"kind": "tweeted"}), "trigger.kind"),
    (lambda: Trigger.of({"kind": "opened"}), "trigger.email"),
    (lambda: Trigger.of({"kind": "not_opened", "email": "a", "within": -1}), "trigger.within"),
    (lambda: Filter.of({"field": "plan", "op": "like", "value": "x"}), "filter.op"),
    (lambda: __import__("core").Repeat("fortnightly"), "repeat"),
])
def test_config_errors_name_the_field(build: object, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        build()  # type: ignore[operator]
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


def test_signal_for_other_automation_email_is_unmatched() -> None:
    store = store_with(1)
    a = running(T0, triggers=(Trigger(Kind.OPENED, email="a"),))
    assert a.observe(Signal(Kind.OPENED, 0, T0, email="b", send_id="1", sent_at=T0), store) == "unmatched"
