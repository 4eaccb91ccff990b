"""Send decisions (S1-S4): what is due goes out when the automation runs and capacity allows, or is
dropped with its reason (paused, ended, unsubscribed...); repeats continue their series; transport
outcomes and engagement are recorded against their entries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.automation.base import _DROP_BY_STATUS, _NO_TIMES, _NONE, AutomationBase, SendBatch
from core.commands import Outcome
from core.instants import Instant
from core.lifecycle import State
from core.pending import (
    DROPPED,
    FAILED,
    IN_FLIGHT,
    SENT,
    Why,
)
from core.subscribers import SUBSCRIBED, SubscriberStore
from core.triggers import WATCH_KINDS, Signals


class SendRules(AutomationBase):
    # -- send time (S1-S3, R1) ---------------------------------------------
    def due(self, now: Instant, store: SubscriberStore, limit: int | None = None) -> SendBatch:
        """Take the entries due at `now` (oldest first, at most `limit`) and decide them (S1).

        Returns what to send. A limit models dispatch capacity: what is left
        stays pending, overdue, in the operator's list.
        """
        nxt = self.pending.next_due()
        if nxt is None or nxt > now or limit == 0:
            return self._no_batch(now)
        ids = self.pending.take_due(now, limit=limit)
        if len(ids) == 0:
            return self._batch(now, ids)
        if self.state is not State.RUNNING:
            reason = "paused" if self.state is State.PAUSED else "ended"
            self._drop(ids, now, reason, continue_series=reason == "paused")
            return self._batch(now, ids[:0])
        window = self.config.window
        if window is not None and not window.is_open(now):  # edited while paused: wait (W1)
            later = window.next_open(now)
            self.pending.put_back(ids, later, Why.WINDOW)
            self.events.add_batch(now, "requeued", self.pending.subscriber[ids], ids, "window", later)
            return self._batch(now, ids[:0])
        return self._decide(ids, now, store)

    # -- several phases in one pass (the look-ahead) -------------------------
    def window_in_columns(self, last: Instant) -> bool:
        """Can the phases up to `last`, with their inputs, be decided inputs first
        (`core.handlers.advance_window`)? When the order of work between them cannot show: running, no
        repeat (a send's next occurrence is numbered at its instant, before what later instants queue),
        no watch, and no time-driven rule up to `last`."""
        if self.state is not State.RUNNING or self.deleted or self._decided or self.config.repeat is not None:
            return False
        if any(t.kind in WATCH_KINDS for t in self.config.triggers) or len(self._watches):
            return False
        return (nxt := self.next_scheduled()) is None or nxt > last

    def advance_many(self, instants: np.ndarray[Any, Any], cancels: tuple[Signals, ...],
                     store: SubscriberStore) -> list[SendBatch] | None:
        """`tick` then `due` at each of `instants` (sorted), with each cancel applied before the first
        instant at or after it: the same rows, entries and sends, decided as columns.

        For runs where only watch deadlines pass and entries come due: returns
        None (nothing done) when another time-driven rule falls within them, the
        window closes at one of them, or the order of work between instants
        could show (a repeat series with watches, more than one watch trigger).
        """
        last = float(instants[-1])
        if self.state is not State.RUNNING or self.deleted or self._decided:
            return None
        if (nxt := self.next_scheduled()) is not None and nxt <= last:
            return None
        watching = [i for i, t in enumerate(self.config.triggers) if t.kind in WATCH_KINDS]
        if len(watching) > 1 or (watching and self.config.repeat is not None):
            return None
        window = self.config.window
        if window is not None and not window.is_open_many(instants).all():
            return None
        created = len(self.pending)
        if watching and len(self._watches):
            self._expire_through(instants, cancels, store)
        ids = self.pending.take_due(last)
        if not len(ids):
            return []
        at = np.searchsorted(instants, self.pending.due[ids], side="left")  # taken at the first instant after
        new = ids >= created  # queued by a deadline at its instant: not before it
        at[new] = np.maximum(at[new], np.searchsorted(instants, self.pending.due[ids[new]], side="left"))
        order = np.argsort(at, kind="stable")  # due order within an instant, as `take_due` gives
        ids, at = ids[order], at[order]
        cuts = np.flatnonzero(np.diff(at)) + 1
        spans = list(zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(ids)].tolist(), strict=True))
        if self.config.repeat is not None and not self._all_go(ids, instants[at], store):
            # a drop continues its series before the sends of its instant: numbered per instant, in order
            return [self._decide(ids[lo:hi], float(instants[at[lo]]), store) for lo, hi in spans]
        return self._decide_spans(ids, instants[at], spans, store)

    def _all_go(self, ids: np.ndarray[Any, Any], nows: np.ndarray[Any, Any], store: SubscriberStore) -> bool:
        """Will every one of these entries be sent at its instant (subscribed, and passing the filter)?"""
        subs = self.pending.subscriber[ids]
        if not (store.status_at(subs, nows) == SUBSCRIBED).all():
            return False
        return self.config.filter is None or bool(self.config.filter.passes_many(store, subs).all())

    def _decide_spans(self, ids: np.ndarray[Any, Any], nows: np.ndarray[Any, Any], spans: list[tuple[int, int]],
                      store: SubscriberStore) -> list[SendBatch]:
        """`_decide` of each span of `ids` (one instant each, `nows` per row), as columns: the same rows,
        in the same order within an instant."""
        subs = self.pending.subscriber[ids]
        status = store.status_at(subs, nows)
        keep = status == SUBSCRIBED
        for st, reason in _DROP_BY_STATUS.items():
            hit = status == st
            if hit.any():
                self._drop(ids[hit], nows[hit], reason, continue_series=False)
        if self.config.filter is not None and keep.any():
            live = np.flatnonzero(keep)
            ok = self.config.filter.passes_many(store, subs[live])
            if not ok.all():
                self._drop(ids[live[~ok]], nows[live[~ok]], "filtered", continue_series=True)
                keep[live[~ok]] = False
        self.stats.in_flight += int(keep.sum())
        self.events.add_batch(nows[keep], "in_flight", subs[keep], ids[keep], due=self.pending.due[ids[keep]])
        if self.config.repeat is not None:  # only when all are sent (`_all_go`): each instant's next, in order
            for lo, hi in spans:
                self._continue_series(ids[lo:hi], float(nows[lo]))
        if self.overrides or not keep.all():
            return [self._batch(float(nows[lo]), ids[lo:hi][keep[lo:hi]]) for lo, hi in spans]
        due, occurrence = self.pending.due[ids], self.pending.occurrence[ids]  # once, then a slice per instant
        sender, subject = self.config.sender, self.config.subject
        return [SendBatch(self.id, float(nows[lo]), ids[lo:hi], subs[lo:hi], due[lo:hi], occurrence[lo:hi], {},
                          sender, subject) for lo, hi in spans]

    def _decide(self, ids: np.ndarray[Any, Any], now: Instant, store: SubscriberStore) -> SendBatch:
        subs = self.pending.subscriber[ids]
        status = store.status_at(subs, now)
        for st, reason in _DROP_BY_STATUS.items():
            hit = status == st
            if hit.any():
                self._drop(ids[hit], now, reason, continue_series=False)
        keep = status == SUBSCRIBED
        ids, subs = ids[keep], subs[keep]
        if self.config.filter is not None and len(ids):
            ok = self.config.filter.passes_many(store, subs)
            if not ok.all():
                self._drop(ids[~ok], now, "filtered", continue_series=True)
                ids, subs = ids[ok], subs[ok]
        self.stats.in_flight += len(ids)
        self.events.add_batch(now, "in_flight", subs, ids, due=self.pending.due[ids])
        if self.config.repeat is not None:
            self._continue_series(ids, now)
        return self._batch(now, ids)

    def _no_batch(self, now: Instant) -> SendBatch:
        return SendBatch(self.id, now, _NONE, _NONE, _NO_TIMES, _NONE, {}, self.config.sender, self.config.subject)

    def _batch(self, now: Instant, ids: np.ndarray[Any, Any]) -> SendBatch:
        overrides = {}
        if self.overrides and len(ids):
            overrides = {e: self.overrides[e] for e in ids.tolist() if e in self.overrides}
        return SendBatch(self.id, now, ids, self.pending.subscriber[ids], self.pending.due[ids],
                         self.pending.occurrence[ids], overrides, self.config.sender, self.config.subject)

    def _drop(self, ids: np.ndarray[Any, Any], now: Instant | np.ndarray[Any, Any], reason: str, *,
              continue_series: bool) -> None:
        """Drop taken entries (`now`: one instant, or one per entry without a repeat series)."""
        if len(ids) == 0:
            return
        self.pending.state[ids] = DROPPED
        self.stats.dropped[reason] += len(ids)
        self.events.add_batch(now, "dropped", self.pending.subscriber[ids], ids, reason,
                              self.pending.due[ids])
        if self.config.repeat is None:
            return
        if continue_series and self.state is not State.ENDED:
            assert isinstance(now, float | int), "a repeat series continues from one instant"
            self._continue_series(ids, now)
        else:
            self._series.end(self.pending.subscriber[ids])

    def _continue_series(self, ids: np.ndarray[Any, Any], now: Instant) -> None:
        """R1: after an occurrence, queue the next one of that subscriber's series."""
        repeat = self.config.repeat
        assert repeat is not None
        for e in ids.tolist():
            sid = int(self.pending.subscriber[e])
            series = self._series.of(sid)
            if series is None:
                series = self._series.begin(sid, float(self.pending.due[e]))
            elif series.entry not in (-1, e):
                continue  # a retrigger's own send; the series entry was already moved (R2)
            n = int(self.pending.occurrence[e]) + 1
            series.entry = self._queue(sid, self._when(repeat.occurrence(series.anchor, n, self.tz)),
                                       Why.REPEAT, n, now)

    # -- outcomes and engagement (ST1, U2) --------------------------------
    def record_outcomes(self, entries: np.ndarray[Any, Any], now: Instant | np.ndarray[Any, Any],
                        outcomes: np.ndarray[Any, Any] | None = None) -> int:
        """Record transport outcomes (`Outcome` values; all delivered when omitted).

        Only entries in flight count: a repeated outcome for the same entry is
        ignored (nothing counted twice, ST2). Returns how many were counted.
        What a hard bounce does to the list (U2) is a list change
        (`core.commands.hard_bounces`), applied by whoever owns the store.
        """
        entries = np.asarray(entries, np.int64)
        fresh = self.pending.state[entries] == IN_FLIGHT
        codes = np.zeros(len(entries), np.int8) if outcomes is None else np.asarray(outcomes, np.int8)
        at = np.broadcast_to(np.asarray(now, np.float64), (len(entries),))
        entries, codes, at = entries[fresh], codes[fresh], at[fresh]
        subs = self.pending.subscriber[entries]
        ok = codes == Outcome.DELIVERED
        self.pending.state[entries[ok]] = SENT
        self.pending.state[entries[~ok]] = FAILED
        self.stats.sent += int(ok.sum())
        self.stats.in_flight -= len(entries)
        self.events.add_batch(at[ok], "sent", subs[ok], entries[ok], due=self.pending.due[entries[ok]])
        for code, label in ((Outcome.SOFT_BOUNCE, "soft"), (Outcome.HARD_BOUNCE, "hard")):
            hit = codes == code
            n = int(hit.sum())
            if n:
                self.stats.failed[label] += n
                self.events.add_batch(at[hit], "failed", subs[hit], entries[hit], label)
        if self.overrides:
            for e in entries.tolist():
                self.overrides.pop(e, None)
        return len(entries)

    def record_engagements(self, entries: np.ndarray[Any, Any], kind: str, at: np.ndarray[Any, Any]) -> None:
        """A batch of opens or clicks (ST1): row i happened at at[i]. Uniques are per send."""
        entries = np.asarray(entries, np.int64)
        at = np.asarray(at, np.float64)
        keep = self.pending.state[entries] == SENT
        entries, at = entries[keep], at[keep]
        if not len(entries):
            return
        order = np.argsort(at, kind="stable")
        entries, at = entries[order], at[order]
        bit = 1 if kind == "opened" else 2
        _, first_index = np.unique(entries, return_index=True)
        fresh = np.zeros(len(entries), bool)
        fresh[first_index] = True
        fresh &= (self.pending.flags[entries] & bit) == 0
        self.pending.flags[entries] |= bit
        total, unique = len(entries), int(fresh.sum())
        if kind == "opened":
            self.stats.opens_total += total
            self.stats.opens_unique += unique
        else:
            self.stats.clicks_total += total
            self.stats.clicks_unique += unique
        self.events.add_batch(at, kind, self.pending.subscriber[entries], entries)
