"""Signals as columns: `observe_many` decides exactly what `observe`, one at a time, decides."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core import (
    Automation,
    Delay,
    Duplicates,
    Filter,
    Kind,
    Repeat,
    SendWindow,
    Status,
    SubscriberStore,
    Trigger,
)
from core.triggers import Signals
from tests.core.builders import at, config

T0 = at("2026-03-02 08:58")  # a Monday, two minutes before a 09:00 window opens
N = 8

TRIGGERS = {
    "added": (Trigger(Kind.SUBSCRIBER_ADDED),),
    "api": (Trigger(Kind.API),),
    "sent": (Trigger(Kind.EMAIL_SENT, email="src"),),
    "opened": (Trigger(Kind.OPENED, email="src"),),
    "clicked": (Trigger(Kind.CLICKED, email="src", link="https://x/a"),),
    "watch": (Trigger(Kind.NOT_OPENED, email="src", within=120.0),),
    "api+added": (Trigger(Kind.API), Trigger(Kind.SUBSCRIBER_ADDED)),
}
KIND_OF = {"added": Kind.SUBSCRIBER_ADDED, "api": Kind.API, "sent": Kind.EMAIL_SENT, "opened": Kind.OPENED,
           "clicked": Kind.CLICKED}


def _store(statuses: list[int]) -> SubscriberStore:
    store = SubscriberStore()
    for i, status in enumerate(statuses):
        store.add(f"u{i}@x.kr", 0.0, fields={"plan": "pro" if i % 3 else "free"}, status=Status(status))
    return store


def _automation(spec: dict[str, Any]) -> Automation:
    a = Automation(config(
        triggers=TRIGGERS[spec["triggers"]],
        duplicates=Duplicates(allow=spec["allow"], cooldown=spec["cooldown"]) if spec["triggers"] in (
            "added", "api", "opened", "clicked", "api+added") else Duplicates(),
        filter=Filter.of({"field": "plan", "op": "equals", "value": "pro"}) if spec["filter"] else None,
        delay=Delay(*spec["delay"]),
        window=SendWindow.daily(["mon"], "09:00", "18:00") if spec["window"] else None,
        repeat=Repeat("daily") if spec["repeat"] else None,
        combine=spec["combine"],
        api_limit=spec["api_limit"]))
    a.start(T0 - 600, end_at=T0 + spec["end_after"] if spec["end_after"] else None)
    if spec["paused"]:
        a.pause(T0 - 300)
    return a


def _signals(kind_name: str, rows: list[tuple[float, int, int, int]]) -> Signals:
    kind = KIND_OF.get(kind_name, Kind.SUBSCRIBER_ADDED)
    times = np.array(sorted(t for t, _, _, _ in rows))
    subs = np.array([s for _, s, _, _ in rows], np.int64)
    email_kind = kind in (Kind.EMAIL_SENT, Kind.OPENED, Kind.CLICKED)
    return Signals(kind, times, subs, source="form", email="src" if email_kind else "",
                   entry=np.array([e for _, _, e, _ in rows], np.int64) if email_kind else None,
                   sent_at=np.full(len(rows), T0 - 60.0) if email_kind else None,
                   link=np.array([["https://x/a", "https://x/b"][k % 2] for _, _, _, k in rows], dtype=object)
                   if kind is Kind.CLICKED else None)


def _state(a: Automation) -> tuple[Any, ...]:
    ev = a.events.drain()
    ids = a.pending.pending_ids()
    rows = [tuple(None if isinstance(x, float) and x != x else x for x in r) for r in ev.rows()]  # NaN != NaN
    return (rows, a.stats.as_dict(len(a.pending)), a.pending.subscriber[ids].tolist(),
            a.pending.due[ids].tolist(), len(a._watches), a.state)


spec_strategy = st.fixed_dictionaries({
    "triggers": st.sampled_from(sorted(TRIGGERS)), "allow": st.booleans(), "cooldown": st.sampled_from([0, 30]),
    "filter": st.booleans(), "delay": st.sampled_from([(0, "minutes"), (5, "minutes"), (1, "days")]),
    "window": st.booleans(), "repeat": st.booleans(), "combine": st.sampled_from(["any", "any", "all"]),
    "api_limit": st.sampled_from([1, 3, 100]), "end_after": st.sampled_from([0, 0, 90]),
    "paused": st.booleans(), "kind": st.sampled_from(["added", "api", "sent", "opened", "clicked"]),
    "statuses": st.lists(st.sampled_from([0, 0, 0, 1, 2]), min_size=N, max_size=N),
})
rows_strategy = st.lists(st.tuples(st.floats(0, 240).map(lambda x: T0 + round(x, 1)), st.integers(-1, N + 1),
                                   st.integers(0, 5), st.integers(0, 1)), min_size=1, max_size=25)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=spec_strategy, rows=rows_strategy)
def test_t2_signals_as_columns_decide_as_one_at_a_time(spec: dict[str, Any], rows: list[Any]) -> None:
    if spec["repeat"] and spec["triggers"] in ("sent",):
        spec = {**spec, "repeat": False}
    signals = _signals(spec["kind"], rows)
    one, many = _automation(spec), _automation(spec)
    store_one, store_many = _store(spec["statuses"]), _store(spec["statuses"])
    for k in range(len(signals)):
        one.tick(float(signals.at[k]), store_one)
        one.observe(signals.row(k), store_one)
    many.observe_many(signals, store_many)
    end = T0 + 400
    one.tick(end, store_one)
    many.tick(end, store_many)
    assert _state(many) == _state(one)


REPEATING = {"triggers": "added", "allow": False, "cooldown": 0, "filter": False, "delay": (0, "minutes"),
             "window": False, "repeat": True, "combine": "any", "api_limit": 100, "end_after": 0, "paused": False,
             "kind": "added", "statuses": [0] * N}


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=spec_strategy, rows=rows_strategy, early=st.sampled_from([0.0, 30.0, 400.0]))
@example(spec=REPEATING, rows=[(T0 + 1.0, 0, 0, 0), (T0 + 2.0, 1, 0, 0)], early=0.0)  # each send numbers its next
def test_t2_a_window_in_columns_decides_as_tick_by_tick(spec: dict[str, Any], rows: list[Any], early: float) -> None:
    """`advance_window` (inputs of every tick, then every tick's sends, as columns when it can) decides
    what the phases at its ticks, one at a time, decide: subscribers named at one tick or at several
    (a send, then a trigger again), some with entries queued before the window (due in it or not)."""
    from core import Context, Effects, ObserveMany, OneBatch, advance, advance_window, handle

    if spec["repeat"] and spec["triggers"] in ("sent",):
        spec = {**spec, "repeat": False}
    signals = _signals(spec["kind"], rows)
    before = _signals(spec["kind"], [(T0 - early, N + k, k, 0) for k in range(3)])
    ticks = np.ceil(signals.at)
    instants = tuple(float(q) for q in np.unique(np.r_[ticks, np.ceil(T0 + 120.5)]))
    inputs = tuple(tuple(ObserveMany(signals.take(np.flatnonzero(ticks == q))) for _ in range(int((ticks == q).any())))
                   for q in instants)
    one, many, batch = _automation(spec), _automation(spec), _automation(spec)
    stores = [_store(spec["statuses"] + [0, 0, 0]) for _ in range(3)]
    for a, store in zip((one, many, batch), stores, strict=True):
        a.observe_many(before, store)
    fx_one, fx_many, fx_batch = Effects(), Effects(), Effects()
    for q, cs in zip(instants, inputs, strict=True):
        for c in cs:
            handle(one, c, Context(stores[0]), fx_one)
        advance(one, q, Context(stores[0]), fx_one)
    advance_window(many, instants, inputs, Context(stores[1]), fx_many)
    advance_window(batch, instants, OneBatch(signals, ticks), Context(stores[2]), fx_batch)  # one batch, cut if need be
    expected = [(b.decided_at, b.subscribers.tolist(), b.entries.tolist()) for b in fx_one.batches if len(b)]
    (rows_one, *rest_one) = _state(one)
    for a, fx in ((many, fx_many), (batch, fx_batch)):
        assert [(b.decided_at, b.subscribers.tolist(), b.entries.tolist()) for b in fx.batches] == expected
        (rows, *rest) = _state(a)
        assert _log_order(rows) == _log_order(rows_one)
        assert rest == rest_one


def _log_order(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Event rows in the log's order (`sim.runlog`): by instant, then subscriber, arrival order kept."""
    return sorted(rows, key=lambda r: (r[0], r[2]))
