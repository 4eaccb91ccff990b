"""Trigger decisions (T1-T6): a signal or a batch of them is matched, screened (filters, status,
state), checked for duplicates, cooldowns and the API rate limit, and accepted into the pending list at
its due instant (delay, send window).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from core.automation.base import _SMALL_BATCH, AutomationBase
from core.events import KIND, REASON, REASONS
from core.instants import Instant
from core.lifecycle import State
from core.pending import (
    Why,
)
from core.subscribers import SubscriberStore
from core.triggers import EMAIL_KINDS, FOREIGN, NO_DUPLICATES, WATCH_KINDS, Kind, Signal, Signals


class TriggerRules(AutomationBase):
    # -- triggers (T1-T6) --------------------------------------------------
    def observe(self, signal: Signal, store: SubscriberStore) -> str:
        """Offer one signal to this automation; returns what became of it.

        'unmatched' (not for this automation), 'partial' (T4 all, not complete
        yet), 'accepted', or 'ignored:<reason>'.
        """
        source_ok = self._track_watches(signal)
        matched = [i for i, t in enumerate(self.config.triggers) if t.matches(signal)]
        if not matched or self.deleted:
            return "unmatched"
        now, sid = signal.at, signal.subscriber
        if self.state is not State.RUNNING:
            return self._ignore(signal, "not_running")
        if signal.kind in EMAIL_KINDS and signal.kind not in WATCH_KINDS and not source_ok:
            return self._ignore(signal, "not_running")  # T3: sent before this automation ran
        if signal.kind is Kind.API and not self._api.allow(now):
            return self._ignore(signal, "rate_limited")
        if sid == FOREIGN:
            return "foreign"
        if sid < 0 or sid >= len(store):
            return self._ignore(signal, "unknown_subscriber")
        if not store.was_subscribed(sid, now):
            return self._ignore(signal, "not_subscribed")
        if not self._combined_complete(sid, matched, now):
            return "partial"
        once_key = (sid, signal.send_id) if signal.kind in NO_DUPLICATES else None
        if self._is_duplicate(sid, once_key, now):
            return self._ignore(signal, "duplicate")
        if self.config.filter is not None and not self.config.filter.passes(store, sid):
            return self._ignore(signal, "filtered")
        self._accept(signal, once_key)
        return "accepted"

    # -- triggers in batches: the same rules, a column at a time ----------
    def observe_many(self, signals: Signals, store: SubscriberStore) -> None:
        """`observe` every row in time order, as if one at a time with `tick` before each.

        Rows between two time-driven instants (a scheduled start, end_at, a
        watch deadline, an anniversary) are decided together with numpy; a
        batch whose rows depend on each other in ways that need the
        one-at-a-time order (T4 all, duplicates allowed with repeats in the
        batch, a repeat series retriggered) takes the one-at-a-time path.
        """
        if len(signals) < _SMALL_BATCH:  # numpy's fixed costs exceed the per-row Python below this
            times = signals.at.tolist()
            for k in sorted(range(len(times)), key=times.__getitem__) if len(times) > 1 else range(len(times)):
                self.tick(times[k], store)
                self.observe(signals.row(k), store)
            return
        order = np.argsort(signals.at, kind="stable")
        if (np.diff(order) != 1).any():
            signals = signals.take(order)
        n = len(signals)
        arms = [t.within for t in self.config.triggers if t.kind in WATCH_KINDS and t.email == signals.email]
        for i, j in self._cuts(signals.at, arms if signals.kind is Kind.EMAIL_SENT else [], store):
            self._observe_segment(signals.take(slice(i, j)) if (i, j) != (0, n) else signals, store)

    def _needs_one_at_a_time(self, s: Signals, matched: np.ndarray[Any, Any]) -> bool:
        if self.config.combine == "all" and len(self.config.triggers) > 1:
            return True
        sids = s.subscriber[matched & (s.subscriber != FOREIGN)].tolist()
        repeats = len(set(sids)) != len(sids)
        if repeats and (self.config.duplicates.allow or s.kind in NO_DUPLICATES):
            return True
        if self.config.repeat is not None:
            return any((x := self._series.of(sid)) is not None and x.entry >= 0 for sid in sids)
        return False

    def _observe_segment(self, s: Signals, store: SubscriberStore) -> None:
        n = len(s)
        matched = np.zeros(n, bool)
        for t in self.config.triggers:
            matched |= t.matches_many(s)
        if self._needs_one_at_a_time(s, matched):
            for k in range(n):
                self.observe(s.row(k), store)
            return
        source_ok = self._track_watches_many(s)
        if self.deleted or not matched.any():
            return
        reason = np.where(matched, 0, -1).astype(np.int16)  # -1 unmatched, 0 still in, else REASON code
        self._screen(s, reason, source_ok, store)
        if s.kind is Kind.API:
            reason[s.subscriber == FOREIGN] = -1  # counted by the rate limit, decided by its own partition
        later, first = self._duplicates_many(s, reason)
        live = np.flatnonzero(reason == 0)
        if self.config.filter is not None and len(live):
            ok = self.config.filter.passes_many(store, s.subscriber[live])
            reason[live[~ok]] = REASON["filtered"]
        if len(later):
            # A repeat of a subscriber decided earlier in the batch is a duplicate of it when that one was
            # accepted (or a duplicate); else the filter decided it, the same way for both.
            was = reason[first]
            reason[later] = np.where((was == 0) | (was == REASON["duplicate"]), REASON["duplicate"], was)
        self._accept_many(s, reason)

    def _screen(self, s: Signals, reason: np.ndarray[Any, Any], source_ok: np.ndarray[Any, Any] | None,
                store: SubscriberStore) -> None:
        """The checks before duplicates, in `observe`'s order: running, T3, T6, known, subscribed."""
        if self.state is not State.RUNNING:
            reason[reason == 0] = REASON["not_running"]
            return
        if source_ok is not None and s.kind not in WATCH_KINDS:
            reason[(reason == 0) & ~source_ok] = REASON["not_running"]
        if s.kind is Kind.API:
            for k in np.flatnonzero(reason == 0).tolist():
                if not self._api.allow(float(s.at[k])):
                    reason[k] = REASON["rate_limited"]
        sids = s.subscriber
        unknown = (reason == 0) & ((sids < 0) | (sids >= len(store)))
        reason[unknown] = REASON["unknown_subscriber"]
        live = np.flatnonzero(reason == 0)
        reason[live[~store.subscribed_at(sids[live], s.at[live])]] = REASON["not_subscribed"]

    def _duplicates_many(self, s: Signals, reason: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], ...]:
        """T5 for every row still in; returns (later rows, the earlier row of the same subscriber).

        Repeats in the batch only reach here with duplicates not allowed; they are
        decided after the filter, from their first occurrence (marked -2 until then).
        """
        live = np.flatnonzero(reason == 0)
        none = np.zeros(0, np.int64)
        if not len(live):
            return none, none
        sids = s.subscriber[live]
        if s.kind in NO_DUPLICATES:
            ids = s.take(live).send_ids() if s.entry is not None else [""] * len(live)
            seen = np.fromiter(((sid, x) in self._fired for sid, x in zip(sids.tolist(), ids, strict=True)),
                               bool, count=len(live))
            reason[live[seen]] = REASON["duplicate"]
            return none, none
        last = np.full(len(live), np.nan)
        known = sids < len(self._last_accepted)
        last[known] = self._last_accepted.view[sids[known]]
        dup = self.config.duplicates
        seen = ~np.isnan(last)
        if dup.allow:
            seen &= (s.at[live] - last < dup.cooldown) if dup.cooldown else False
        reason[live[seen]] = REASON["duplicate"]
        if len(set(sids.tolist())) == len(sids):
            return none, none
        _, first, inverse = np.unique(sids, return_index=True, return_inverse=True)
        later = np.ones(len(live), bool)
        later[first] = False
        reason[live[later]] = -2
        return live[later], live[first[inverse[later]]]

    def _accept_many(self, s: Signals, reason: np.ndarray[Any, Any]) -> None:
        rows = np.flatnonzero(reason == 0)
        sids, times = s.subscriber[rows].astype(np.int64), s.at[rows]
        entries = np.zeros(0, np.int64)
        due = why = np.zeros(0)
        if len(rows):
            if s.kind in NO_DUPLICATES:
                self._fired.update(zip(sids.tolist(), s.take(rows).send_ids() or [""] * len(rows), strict=True))
            top = int(sids.max()) + 1
            if len(self._last_accepted) < top:
                self._last_accepted.extend(np.full(max(top - len(self._last_accepted), 1024), np.nan))
            self._last_accepted[sids] = times
            nominal = self.config.delay.after_many(times, self.tz)
            window = self.config.window
            due = nominal if window is None else window.next_open_many(nominal)
            why = np.where(due == times, Why.IMMEDIATE, np.where(due != nominal, Why.WINDOW, Why.DELAY))
            entries = self.pending.add_many(sids, due, why.astype(np.int8))
            self.stats.accepted += len(rows)
            self.stats.queued += len(rows)
        for code, count in Counter(reason[reason > 0].tolist()).items():
            self.stats.ignored[REASONS[code]] += count
        self._log_decisions(s, reason, rows, entries, due, why)

    def _log_decisions(self, s: Signals, reason: np.ndarray[Any, Any], rows: np.ndarray[Any, Any],
                       entries: np.ndarray[Any, Any], due: np.ndarray[Any, Any], why: np.ndarray[Any, Any]) -> None:
        """One 'ignored' row per ignored signal, 'triggered' and 'queued' per accepted one, in signal order."""
        width = np.where(reason == 0, 2, np.where(reason > 0, 1, 0))
        end = np.cumsum(width)
        total = int(end[-1]) if len(end) else 0
        if not total:
            return
        start = end - width
        kind = np.full(total, KIND["ignored"], np.int8)
        sub = np.repeat(s.subscriber, width)
        at = np.repeat(s.at, width)
        entry = np.full(total, -1, np.int64)
        code = np.zeros(total, np.int16)
        duecol = np.full(total, np.nan)
        ign = np.flatnonzero(reason > 0)
        code[start[ign]] = reason[ign]
        first, second = start[rows], start[rows] + 1
        kind[first] = KIND["triggered"]
        kind[second] = KIND["queued"]
        entry[second] = entries
        code[second] = np.asarray([REASON[Why(int(w)).label] for w in range(4)], np.int16)[why.astype(np.int64)] \
            if len(rows) else 0
        duecol[second] = due
        self.events.add_rows(at, kind, sub, entry, code, duecol)

    def _combined_complete(self, sid: int, matched: list[int], now: Instant) -> bool:
        """T4 all: has this subscriber now satisfied every trigger? Records a partial if not."""
        if self.config.combine != "all" or len(self.config.triggers) < 2:
            return True
        full = (1 << len(self.config.triggers)) - 1
        mask = self._combined.get(sid, 0)
        for i in matched:
            mask |= 1 << i
        if mask == full:
            self._combined.pop(sid, None)
            return True
        self._combined[sid] = mask
        self.stats.partial += 1
        self.events.add(now, "partial", sid)
        return False

    def _is_duplicate(self, sid: int, once_key: tuple[int, str] | None, now: Instant) -> bool:
        """T5: once per source occurrence for single-occurrence kinds, else the duplicates setting."""
        if once_key is not None:
            return once_key in self._fired
        last = self._last_accepted[sid] if sid < len(self._last_accepted) else math.nan
        if math.isnan(last):
            return False
        dup = self.config.duplicates
        return not dup.allow or bool(dup.cooldown and now - last < dup.cooldown)

    def _ignore(self, signal: Signal, reason: str) -> str:
        if signal.subscriber == FOREIGN:  # another partition's request: that partition counts and logs it
            return "ignored:" + reason
        self.stats.ignored[reason] += 1
        self.events.add(signal.at, "ignored", signal.subscriber, reason=reason)
        return "ignored:" + reason

    def _accept(self, signal: Signal, once_key: tuple[int, str] | None) -> None:
        now, sid = signal.at, signal.subscriber
        if once_key is not None:
            self._fired.add(once_key)
        while len(self._last_accepted) <= sid:
            self._last_accepted.extend(np.full(max(sid + 1 - len(self._last_accepted), 1024), np.nan))
        self._last_accepted[sid] = now
        self.stats.accepted += 1
        self.events.add(now, "triggered", sid)
        series = self._series.of(sid)
        if series is not None and series.entry >= 0 and self.config.repeat is not None:
            series.anchor = now  # R2: the next repeat counts from the latest trigger
            self.pending.reschedule(series.entry, self._when(self.config.repeat.occurrence(now, 1, self.tz)))
            self.pending.occurrence[series.entry] = 1
            self.events.add(now, "requeued", sid, series.entry, "retrigger",
                            float(self.pending.due[series.entry]))
        nominal = self.config.delay.after(now, self.tz)
        due = self._when(nominal)
        why = Why.IMMEDIATE if due == now else (Why.WINDOW if due != nominal else Why.DELAY)
        entry = self._queue(sid, due, why, 0, now)
        if signal.overrides:
            self.overrides[entry] = dict(signal.overrides)

    def _when(self, nominal: Instant) -> Instant:
        window = self.config.window
        return nominal if window is None else window.next_open(nominal)

    def _queue(self, sid: int, due: Instant, why: Why, occurrence: int, now: Instant) -> int:
        entry = self.pending.add(sid, due, why, occurrence)
        self.stats.queued += 1
        if why is Why.REPEAT:
            self.stats.queued_repeat += 1
        self.events.add(now, "queued", sid, entry, why.label, due)
        return entry

    def _ran_at(self, times: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """`was_running` for every instant."""
        ok = np.zeros(len(times), bool)
        for start, end in self.running_spans:
            ok |= (times >= start) & (times < end)
        return ok
