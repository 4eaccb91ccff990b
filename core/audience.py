"""List changes applied to the subscriber store (U1, U2), and the signals they raise (T2).

One function per change type, in one table: the workspace and the audience
actor both call `apply_changes`, so what an unsubscribe, a bounce or a field
change means is written once. Changes naming a subscriber outside the list are
skipped (an operator's stale selection cannot corrupt the store).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.commands import (
    AddToGroup,
    DeleteSubscriber,
    HardBounce,
    ListChange,
    ListRows,
    SetField,
    SubscribersAdded,
    Unsubscribe,
)
from core.instants import Instant
from core.subscribers import Status, SubscriberStore
from core.triggers import KeyedSignals, Kind, Signal, Signals


@dataclass(slots=True)
class Applied:
    """What a batch of list changes meant: trigger signals and the status history."""

    signals: list[Signal | Signals | KeyedSignals] = field(default_factory=list)  # in the order they happened
    status_log: list[tuple[Instant, int, int]] = field(default_factory=list)  # (at, subscriber, new status)


def _known(store: SubscriberStore, subscribers: Iterable[int]) -> list[int]:
    n = len(store)
    return [sid for sid in (int(s) for s in subscribers) if 0 <= sid < n]


def _logged(store: SubscriberStore, out: Applied, at: Instant, sid: int, before: Status) -> None:
    after = store.status_of(sid)
    if after is not before:
        out.status_log.append((at, sid, int(after)))


def _unsubscribe(store: SubscriberStore, c: Unsubscribe, out: Applied) -> None:
    for sid in _known(store, c.subscribers):
        before = store.status_of(sid)
        if before is Status.SUBSCRIBED:  # U1: an unsubscribe never revives a deleted subscriber
            store.set_status(sid, Status.UNSUBSCRIBED, c.at)
        _logged(store, out, c.at, sid, before)


def _hard_bounce(store: SubscriberStore, c: HardBounce, out: Applied) -> None:
    for sid in _known(store, c.subscribers):
        before = store.status_of(sid)
        store.bounce(sid, hard=True, at=c.at)  # U2: auto-deletes when the list says so
        _logged(store, out, c.at, sid, before)


def _delete(store: SubscriberStore, c: DeleteSubscriber, out: Applied) -> None:
    for sid in _known(store, c.subscribers):
        before = store.status_of(sid)
        store.set_status(sid, Status.DELETED, c.at)
        _logged(store, out, c.at, sid, before)


def _targets(store: SubscriberStore, c: SetField | AddToGroup) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The subscribers a field or group change names that are in the list, and each one's instant."""
    sids = np.asarray(c.subscribers, np.int64)
    times = np.full(len(sids), c.at) if c.times is None else np.asarray(c.times, np.float64)
    n = len(store)
    if len(sids) < 8 and all(0 <= sid < n for sid in c.subscribers):  # a replay's stretch: numpy costs more
        return sids, times
    known = (sids >= 0) & (sids < n)
    return (sids, times) if known.all() else (sids[known], times[known])


def _set_field(store: SubscriberStore, c: SetField, out: Applied) -> None:
    sids, times = _targets(store, c)
    if len(sids):
        store.set_field_many(sids, c.field, c.value)
        out.signals.append(Signals(Kind.FIELD_UPDATED, times, sids, field=c.field, value=c.value))


def _add_to_group(store: SubscriberStore, c: AddToGroup, out: Applied) -> None:
    sids, times = _targets(store, c)
    new = np.fromiter((store.add_to_group(sid, c.group) for sid in sids.tolist()), bool, count=len(sids))
    if new.any():
        out.signals.append(Signals(Kind.GROUP_ADDED, times[new], sids[new], group=c.group))


def _list_rows(store: SubscriberStore, c: ListRows, out: Applied) -> None:
    """Replayed field and group rows, in row order (a later row wins a field); their signals in columns:
    every field row, and each row that put someone in a group they were not in."""
    sids = np.asarray(c.subscribers, np.int64)
    n = len(store)
    known = (sids >= 0) & (sids < n)
    who, key, times = (sids, c.key, c.times) if known.all() else (sids[known], c.key[known], c.times[known])
    raised = np.ones(len(who), bool)
    grouped = np.asarray([kind == "group" for kind, _, _ in c.keys], bool)[key] if len(key) else raised
    rows = np.flatnonzero(~grouped)
    store.set_field_rows(who[rows].tolist(), [c.keys[k][1:] for k in key[rows].tolist()])
    for i, sid, k in zip(np.flatnonzero(grouped).tolist(), who[grouped].tolist(), key[grouped].tolist(), strict=True):
        raised[i] = store.add_to_group(sid, c.keys[k][1])
    if raised.any():
        out.signals.append(KeyedSignals(times[raised], who[raised], key[raised], c.keys))


def _added(store: SubscriberStore, c: SubscribersAdded, out: Applied) -> None:
    n = len(c.subscribers)
    if n:
        ids = np.arange(c.subscribers.start, c.subscribers.stop, dtype=np.int64)
        times = np.full(n, c.at) if c.times is None else c.times
        out.signals.append(Signals(Kind.SUBSCRIBER_ADDED, times, ids, source=c.source))


CHANGE_HANDLERS: dict[type, Callable[[SubscriberStore, Any, Applied], None]] = {
    Unsubscribe: _unsubscribe,
    HardBounce: _hard_bounce,
    DeleteSubscriber: _delete,
    SetField: _set_field,
    AddToGroup: _add_to_group,
    ListRows: _list_rows,
    SubscribersAdded: _added,
}


def apply_changes(store: SubscriberStore, changes: Iterable[ListChange]) -> Applied:
    """Apply `changes` in the order given (the caller orders them by time)."""
    out = Applied()
    for change in changes:
        CHANGE_HANDLERS[type(change)](store, change, out)
    return out
