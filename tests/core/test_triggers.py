"""Trigger rules T1-T6."""

from __future__ import annotations

import pytest

from core import ConfigError, Delay, Duplicates, Kind, Signal, Trigger, Workspace
from tests.core.builders import added, at, config, deliver, local, run_until, running, store_with

T0 = at("2026-03-02 08:00")


@pytest.mark.parametrize("when", ["draft", "scheduled", "paused", "ended"])
def test_t1_triggers_outside_running_are_ignored_for_good(when: str) -> None:
    from core import Automation

    store = store_with(2)
    a = Automation(config())
    if when == "scheduled":
        a.schedule(T0, T0 + 3600)
    elif when in ("paused", "ended"):
        a.start(T0)
        a.pause(T0 + 1) if when == "paused" else a.end(T0 + 1)
    assert a.observe(added(0, T0 + 10), store) == "ignored:not_running"
    assert a.stats.ignored["not_running"] == 1
    if when == "paused":
        a.resume(T0 + 20)
        assert run_until(a, store, T0 + 86400) == []  # nothing sent for what happened while paused
    assert len(a.pending) == 0


def test_t2_subscriber_added_admin_option() -> None:
    store = store_with(2)
    form_only = running(T0)
    assert form_only.observe(added(0, T0, source="admin"), store) == "unmatched"
    assert form_only.observe(added(1, T0, source="form"), store) == "accepted"
    with_admin = running(T0, triggers=(Trigger(Kind.SUBSCRIBER_ADDED, include_admin=True),))
    assert with_admin.observe(added(0, T0, source="admin"), store) == "accepted"


def test_t2_anniversary_one_day_before_birthday_yearly() -> None:
    store = store_with(3, birthday=["1990-03-05", "1985-07-01", None])
    a = running(T0, triggers=(Trigger(Kind.ANNIVERSARY, field="birthday", offset_days=-1, at="09:00"),))
    sent = run_until(a, store, at("2027-03-05 00:00"))
    assert [(local(t), s) for t, s in sent] == [("2026-03-04 09:00", 0), ("2026-06-30 09:00", 1),
                                               ("2027-03-04 09:00", 0)]


def test_t2_anniversary_feb_29_falls_on_feb_28_in_common_years() -> None:
    store = store_with(1, birthday=["2000-02-29"])
    a = running(T0, triggers=(Trigger(Kind.ANNIVERSARY, field="birthday"),))
    sent = run_until(a, store, at("2027-03-01 00:00"))
    assert [local(t) for t, _ in sent] == ["2027-02-28 09:00"]


def test_t2_field_updated_and_group_added() -> None:
    store = store_with(2)
    a = running(T0, triggers=(Trigger(Kind.FIELD_UPDATED, field="plan", value="pro"),))
    assert a.observe(Signal(Kind.FIELD_UPDATED, 0, T0, field="plan", value="free"), store) == "unmatched"
    assert a.observe(Signal(Kind.FIELD_UPDATED, 0, T0, field="plan", value="pro"), store) == "accepted"
    g = running(T0, triggers=(Trigger(Kind.GROUP_ADDED, group="vip"),))
    assert g.observe(Signal(Kind.GROUP_ADDED, 1, T0, group="other"), store) == "unmatched"
    assert g.observe(Signal(Kind.GROUP_ADDED, 1, T0, group="vip"), store) == "accepted"


@pytest.mark.parametrize("kind", [Kind.EMAIL_SENT, Kind.EMAIL_FAILED, Kind.OPENED])
def test_t2_email_event_triggers(kind: Kind) -> None:
    store = store_with(1)
    a = running(T0, triggers=(Trigger(kind, email="news"),))
    other = Signal(kind, 0, T0 + 10, email="other", send_id="x", sent_at=T0 + 5)
    assert a.observe(other, store) == "unmatched"
    good = Signal(kind, 0, T0 + 10, email="news", send_id="n1", sent_at=T0 + 5)
    assert a.observe(good, store) == "accepted"


def test_t2_clicked_optionally_on_one_link() -> None:
    store = store_with(1)
    a = running(T0, triggers=(Trigger(Kind.CLICKED, email="news", link="https://x/sale"),))
    base = {"email": "news", "send_id": "n1", "sent_at": T0 + 1}
    assert a.observe(Signal(Kind.CLICKED, 0, T0 + 2, link="https://x/other", **base), store) == "unmatched"
    assert a.observe(Signal(Kind.CLICKED, 0, T0 + 3, link="https://x/sale", **base), store) == "accepted"


@pytest.mark.parametrize(("kind", "engage"), [(Kind.NOT_OPENED, Kind.OPENED),
                                               (Kind.NOT_CLICKED, Kind.CLICKED)])
def test_t2_not_opened_or_clicked_within_n(kind: Kind, engage: Kind) -> None:
    store = store_with(2)
    a = running(T0, triggers=(Trigger(kind, email="welcome", within=2 * 86400),))
    for sid in (0, 1):
        a.observe(Signal(Kind.EMAIL_SENT, sid, T0 + 60, email="welcome", send_id=f"w{sid}",
                         sent_at=T0 + 60), store)
    a.observe(Signal(engage, 0, T0 + 3600, email="welcome", send_id="w0", sent_at=T0 + 60), store)
    sent = run_until(a, store, T0 + 3 * 86400)
    assert sent == [(T0 + 60 + 2 * 86400, 1)]


def test_t2_api_overrides_fields_for_that_email_only() -> None:
    store = store_with(1, name=["Kim"])
    a = running(T0, triggers=(Trigger(Kind.API),), delay=Delay(1, "hours"))
    assert a.observe(Signal(Kind.API, 0, T0, overrides={"name": "VIP Kim"}), store) == "accepted"
    entry = int(a.pending.pending_ids()[0])
    assert a.overrides[entry] == {"name": "VIP Kim"}
    assert store.field(0, "name") == "Kim"
    sent = run_until(a, store, T0 + 7200)
    assert sent == [(T0 + 3600, 0)]
    assert entry not in a.overrides  # used by that one email, then gone


def test_t3_email_sent_before_start_never_fires() -> None:
    store = store_with(1)
    a = running(T0, triggers=(Trigger(Kind.OPENED, email="news"),))
    old = Signal(Kind.OPENED, 0, T0 + 100, email="news", send_id="n0", sent_at=T0 - 60)
    assert a.observe(old, store) == "ignored:not_running"
    new = Signal(Kind.OPENED, 0, T0 + 100, email="news", send_id="n1", sent_at=T0 + 60)
    assert a.observe(new, store) == "accepted"


def test_t3_send_during_pause_does_not_count_later() -> None:
    store = store_with(1)
    a = running(T0, triggers=(Trigger(Kind.OPENED, email="news"),))
    a.pause(T0 + 10)
    a.resume(T0 + 20)
    sig = Signal(Kind.OPENED, 0, T0 + 30, email="news", send_id="n1", sent_at=T0 + 15)
    assert a.observe(sig, store) == "ignored:not_running"


def test_t4_any_and_all() -> None:
    store = store_with(2)
    both = (Trigger(Kind.GROUP_ADDED, group="vip"), Trigger(Kind.FIELD_UPDATED, field="plan", value="pro"))
    any_ = running(T0, triggers=both, combine="any")
    assert any_.observe(Signal(Kind.GROUP_ADDED, 0, T0, group="vip"), store) == "accepted"
    all_ = running(T0, triggers=both, combine="all")
    assert all_.observe(Signal(Kind.GROUP_ADDED, 0, T0, group="vip"), store) == "partial"
    assert all_.observe(Signal(Kind.GROUP_ADDED, 1, T0, group="vip"), store) == "partial"
    assert all_.observe(Signal(Kind.FIELD_UPDATED, 0, T0 + 5, field="plan", value="pro"), store) == "accepted"
    assert all_.stats.accepted == 1


def test_t5_default_once_per_subscriber() -> None:
    store = store_with(1)
    a = running(T0, triggers=(Trigger(Kind.API),))
    assert a.observe(Signal(Kind.API, 0, T0), store) == "accepted"
    assert a.observe(Signal(Kind.API, 0, T0 + 86400), store) == "ignored:duplicate"


def test_t5_cooldown_one_hour_product_example() -> None:
    store = store_with(1)
    a = running(at("2026-03-02 09:00"), triggers=(Trigger(Kind.API),),
                duplicates=Duplicates(allow=True, cooldown=3600))
    assert a.observe(Signal(Kind.API, 0, at("2026-03-02 10:00")), store) == "accepted"
    assert a.observe(Signal(Kind.API, 0, at("2026-03-02 10:30")), store) == "ignored:duplicate"
    assert a.observe(Signal(Kind.API, 0, at("2026-03-02 11:10")), store) == "accepted"


@pytest.mark.parametrize("kind", [Kind.EMAIL_SENT, Kind.EMAIL_FAILED, Kind.NOT_OPENED,
                                  Kind.NOT_CLICKED, Kind.ANNIVERSARY])
def test_t5_duplicates_forbidden_for_single_occurrence_kinds(kind: Kind) -> None:
    spec = {"kind": kind.value, "email": "x", "within": 60.0, "field": "birthday"}
    from core.triggers import _OPTIONS

    required, optional = _OPTIONS[kind]
    trigger = Trigger.of({k: v for k, v in spec.items() if k == "kind" or k in required | optional})
    with pytest.raises(ConfigError, match=r"duplicates\.allow"):
        config(triggers=(trigger,), duplicates=Duplicates(allow=True))


def test_t5_single_occurrence_kinds_fire_once_per_source_send() -> None:
    store = store_with(1)
    a = running(T0, triggers=(Trigger(Kind.EMAIL_SENT, email="news"),))
    first = Signal(Kind.EMAIL_SENT, 0, T0 + 5, email="news", send_id="n1", sent_at=T0 + 5)
    assert a.observe(first, store) == "accepted"
    assert a.observe(first, store) == "ignored:duplicate"
    second = Signal(Kind.EMAIL_SENT, 0, T0 + 9, email="news", send_id="n2", sent_at=T0 + 9)
    assert a.observe(second, store) == "accepted"


def test_t6_api_for_unknown_or_unsubscribed_is_ignored_with_reason() -> None:
    from core import Status

    store = store_with(2)
    store.set_status(1, Status.UNSUBSCRIBED)
    a = running(T0, triggers=(Trigger(Kind.API),))
    assert a.observe(Signal(Kind.API, 99, T0), store) == "ignored:unknown_subscriber"
    assert a.observe(Signal(Kind.API, 1, T0 + 1), store) == "ignored:not_subscribed"
    assert dict(a.stats.ignored) == {"unknown_subscriber": 1, "not_subscribed": 1}
    assert len(a.pending) == 0


def test_t6_a_trigger_reads_the_status_at_its_own_instant() -> None:
    """An unsubscribe a moment after the trigger, already applied (the same phase released both), is not
    seen; one at or before it is. The answer does not depend on the order a phase applies them in."""
    import numpy as np

    from core import Signals, Status

    store = store_with(4)
    store.set_status(1, Status.UNSUBSCRIBED, T0 + 5)
    store.bounce(2, hard=True, at=T0 + 3)
    store.set_status(3, Status.UNSUBSCRIBED, T0 + 1)
    one = running(T0, triggers=(Trigger(Kind.API),))
    assert one.observe(Signal(Kind.API, 1, T0 + 4), store) == "accepted"  # before it left
    assert one.observe(Signal(Kind.API, 3, T0 + 1), store) == "ignored:not_subscribed"  # the same instant
    batch = running(T0, triggers=(Trigger(Kind.API),))
    at = np.array([T0 + 4, T0 + 3, T0 + 0.5])  # within the API limit of 3/s
    batch.observe_many(Signals(Kind.API, at, np.array([1, 2, 3])), store)
    assert dict(batch.stats.ignored) == {"not_subscribed": 1}  # 2 bounced at its instant; 1 and 3 were in
    assert batch.stats.accepted == 2


def test_t6_api_rate_limit_three_per_second() -> None:
    store = store_with(10)
    a = running(T0, triggers=(Trigger(Kind.API),))
    results = [a.observe(Signal(Kind.API, i, T0 + 0.1 * i), store) for i in range(5)]
    assert results == ["accepted"] * 3 + ["ignored:rate_limited"] * 2
    assert a.observe(Signal(Kind.API, 5, T0 + 1.05), store) == "accepted"
    assert a.stats.ignored["rate_limited"] == 2


def test_t6_workspace_routes_to_every_automation_in_order() -> None:
    ws = Workspace(store_with(1))
    ws.add(config(id="a"))
    ws.add(config(id="b", triggers=(Trigger(Kind.API),)))
    ws["a"].start(T0)
    ws["b"].start(T0)
    assert ws.signal(added(0, T0 + 1)) == {"a": "accepted", "b": "unmatched"}
    deliver(ws["a"], ws.advance(T0 + 1)[0])
    assert ws["a"].stats.sent == 1


def test_t2_anniversary_sees_a_birthday_changed_later() -> None:
    store = store_with(2, birthday=["1990-07-01", "1991-07-01"])
    a = running(T0, triggers=(Trigger(Kind.ANNIVERSARY, field="birthday"),))
    store.month_days("birthday")  # cache built before the change
    store.set_field(1, "birthday", "1991-03-03")
    sent = run_until(a, store, at("2026-03-04 00:00"))
    assert [(local(t), s) for t, s in sent] == [("2026-03-03 09:00", 1)]


def test_t2_replayed_field_and_group_rows_as_columns_raise_one_signal_each() -> None:
    """A stretch of rows setting one field to one value (or adding to one group) is one change in columns:
    every subscriber set, one signal per row at the row's own instant; a second add to a group is none."""
    import numpy as np

    from core import AddToGroup, SetField
    from core.audience import apply_changes

    store = store_with(4)
    times = np.array([T0 + 1, T0 + 2.5, T0 + 4])
    out = apply_changes(store, [SetField(T0 + 1, "plan", "pro", (2, 0, 9), times),
                                AddToGroup(T0 + 5, "vip", (1, 3, 1), times + 4)])
    assert [store.field(sid, "plan") for sid in range(4)] == ["pro", None, "pro", None]  # 9: not in the list
    fields, groups = out.signals
    assert (fields.kind, fields.value) == (Kind.FIELD_UPDATED, "pro")
    assert (fields.subscriber.tolist(), fields.at.tolist()) == ([2, 0], [T0 + 1, T0 + 2.5])
    assert (groups.subscriber.tolist(), groups.at.tolist()) == ([1, 3], [T0 + 5, T0 + 6.5])  # 1 again: nothing
    assert store.groups["vip"] == {1, 3}


def test_t2_a_run_of_replayed_field_and_group_rows_is_its_stretches_applied_one_by_one() -> None:
    """`ListRows` (a run of mixed field and group rows in one change) leaves the store as its stretches
    (one change per stretch of a key) do, and its signals, cut per stretch, are theirs row for row:
    a later row wins a field, a second add to a group raises nothing, a row outside the list is skipped."""
    import numpy as np

    from core import KeyedSignals, ListRows
    from core.audience import apply_changes

    keys = (("field", "plan", "pro"), ("group", "vip", None), ("field", "plan", "free"), ("field", "tier", 2))
    key = np.array([0, 0, 1, 2, 1, 0, 3, 1, 2])
    who = np.array([1, 2, 1, 1, 3, 9, 0, 1, 2])
    times = T0 + np.arange(len(key), dtype=np.float64)
    rows = ListRows(float(times[0]), times, who, key, keys)
    columns, one_by_one = store_with(4), store_with(4)
    keyed = apply_changes(columns, [rows]).signals
    apart = apply_changes(one_by_one, rows.stretches()).signals
    assert [columns.field(s, "plan") for s in range(4)] == [one_by_one.field(s, "plan") for s in range(4)]
    assert [columns.field(s, "plan") for s in range(4)] == [None, "free", "free", None]  # 1: pro, free; 2: pro, free
    assert columns.field(0, "tier") == 2
    assert columns.groups == one_by_one.groups == {"vip": {1, 3}}
    assert len(keyed) == 1
    assert isinstance(keyed[0], KeyedSignals)
    got = [(s.kind, s.field, s.value, s.group, s.subscriber.tolist(), s.at.tolist()) for s in keyed[0].batches()]
    want = [(s.kind, s.field, s.value, s.group, s.subscriber.tolist(), s.at.tolist()) for s in apart]
    assert got == want
    assert [b.subscriber.tolist() for b in keyed[0].batches([0])] == [[1, 2]]  # 9 is not in the list
