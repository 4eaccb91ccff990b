"""Not-opened and not-clicked watches (T3): a send arms a deadline per subscriber, an open or a click
cancels it, and a deadline that passes is a signal like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from core.automation.base import _SMALL_BATCH, AutomationBase
from core.instants import Instant
from core.lifecycle import State
from core.subscribers import SubscriberStore
from core.triggers import EMAIL_KINDS, WATCH_KINDS, Kind, Signal, Signals
from core.watches import Passed


class WatchRules(AutomationBase):
    def track_many(self, batches: tuple[Signals, ...], store: SubscriberStore) -> None:
        """Email signals that only arm or cancel watches here, several batches in time order (batch order
        breaking ties), as `observe_many` of each interleaved piece would: the rows are cut only at
        time-driven instants, where `tick` runs; within a cut, sends arm before opens and clicks cancel
        (an open of a send comes after it, and nothing else reads the watches in between)."""
        at = np.concatenate([b.at for b in batches])
        owner = np.concatenate([np.full(len(b), k) for k, b in enumerate(batches)])
        row = np.concatenate([np.arange(len(b)) for b in batches])
        order = np.lexsort((row, owner, at))
        at, owner, row = at[order], owner[order], row[order]
        sends = [k for k, b in enumerate(batches) if b.kind is Kind.EMAIL_SENT]
        first = sends + [k for k in range(len(batches)) if k not in sends]
        arms = [t.within for t in self.config.triggers if t.kind in WATCH_KINDS
                and any(batches[k].email == t.email for k in sends)]
        for i, j in self._cuts(at, arms, store):
            for k in first:
                rows = row[i:j][owner[i:j] == k]
                if len(rows):
                    self._track_watches_many(batches[k].take(rows))

    def _cuts(self, at: np.ndarray[Any, Any], arms: list[float],
              store: SubscriberStore) -> Iterator[tuple[int, int]]:
        """Rows [i, j) of `at` (sorted) between two time-driven instants, `tick` run at each cut's first
        row; `arms`: the `within` of the watches these rows arm (a deadline armed in a cut ends it)."""
        i, n = 0, len(at)
        while i < n:
            self.tick(float(at[i]), store)
            timed = self.next_timed()
            if arms:
                timed = min(x for x in (timed, float(at[i]) + min(arms)) if x is not None)
            j = n if timed is None else max(i + 1, int(np.searchsorted(at, timed, side="left")))
            yield i, j
            i = j

    def _track_watches_many(self, s: Signals) -> np.ndarray[Any, Any] | None:
        """`_track_watches` for every row; the T3 mask for email kinds (a deadline's own signal has none)."""
        if s.kind not in EMAIL_KINDS or s.kind in WATCH_KINDS:
            return None
        assert s.sent_at is not None
        source_ok = self._ran_at(s.sent_at)
        if s.kind in (Kind.OPENED, Kind.CLICKED) and len(self._watches):
            self._unwatch_many(s)
        if s.kind is Kind.EMAIL_SENT and self.state is State.RUNNING and not self.deleted and source_ok.any():
            armed = s.take(source_ok)
            for i, t in enumerate(self.config.triggers):
                if t.kind in WATCH_KINDS and t.email == s.email:
                    keys = armed.entry if armed.entry is not None else np.array(
                        [self._watches.key(x, i, s.email) for x in armed.send_ids()], np.int64)
                    self._watches.arm_many(armed.at + t.within, armed.subscriber.astype(np.int64),
                                           np.asarray(keys, np.int64), i, s.email)
        return source_ok

    def _unwatch_many(self, s: Signals) -> None:
        """`_unwatch` for every row of a batch of opens or clicks."""
        if s.entry is None:
            for k in range(len(s)):
                self._unwatch(s.row(k))
            return
        for i, t in enumerate(self.config.triggers):
            if WATCH_KINDS.get(t.kind) is s.kind and t.email == s.email:
                hit = np.ones(len(s), bool) if not t.link or s.link is None else s.link == t.link
                self._watches.cancel_many(s.subscriber[hit].astype(np.int64), s.entry[hit].astype(np.int64), i)

    def _track_watches(self, signal: Signal) -> bool:
        """Arm or cancel not_opened/not_clicked deadlines; True when the source send counts (T3)."""
        self._unwatch(signal)
        source_ok = signal.sent_at is not None and self.was_running(signal.sent_at)
        if signal.kind is Kind.EMAIL_SENT and source_ok and self.state is State.RUNNING and not self.deleted:
            self._watch(signal)
        return source_ok

    def _watch(self, signal: Signal) -> None:
        for i, t in enumerate(self.config.triggers):
            if t.kind in WATCH_KINDS and t.email == signal.email:
                self._watches.arm(signal.at + t.within, signal.subscriber, signal.send_id, i, signal.email)

    def watches_before(self, before: Instant) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """(deadlines, subscribers) of the not_opened/not_clicked deadlines that could fire before `before`."""
        return self._watches.live_before(before)

    def unwatch(self, signal: Signal) -> None:
        """An open or click seen ahead of its release: cancel the deadline it beats (T2)."""
        self._unwatch(signal)

    def _unwatch(self, signal: Signal) -> None:
        """An open/click cancels the matching not_opened/not_clicked deadline."""
        if not len(self._watches) or signal.kind not in (Kind.OPENED, Kind.CLICKED):
            return
        for i, t in enumerate(self.config.triggers):
            if WATCH_KINDS.get(t.kind) is signal.kind and (not t.link or t.link == signal.link):
                self._watches.cancel(signal.subscriber, signal.send_id, i)

    def _expire_through(self, instants: np.ndarray[Any, Any], cancels: tuple[Signals, ...],
                        store: SubscriberStore) -> None:
        """The watch deadlines up to the last instant, as `tick` at each would expire them, as one batch.
        `cancels`: the opens or clicks each phase would release first (columns, any order)."""
        (trigger,) = [i for i, t in enumerate(self.config.triggers) if t.kind in WATCH_KINDS]
        t = self.config.triggers[trigger]
        parts = []
        for c in cancels:
            if WATCH_KINDS[t.kind] is not c.kind or c.email != t.email or c.entry is None:
                continue
            hit = c.at <= instants[-1]
            if t.link and c.link is not None:
                hit &= c.link == t.link
            parts.append((c.subscriber[hit].astype(np.int64), c.entry[hit].astype(np.int64), c.at[hit]))
        columns = tuple(np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, dt)
                        for k, dt in enumerate((np.int64, np.int64, np.float64)))
        passed = self._watches.expire_through(instants, columns, trigger, before=self.end_at)
        self._observe_passed(passed, store, batches=True)

    def _observe_passed(self, passed: Passed, store: SubscriberStore, *, batches: bool) -> None:
        """The signals of passed deadlines, in order: each run of one trigger as one batch (when
        `batches`, long enough, and its sends are named ``email:entry``), else one at a time."""
        if not len(passed):
            return
        cuts = np.flatnonzero(passed.trigger[1:] != passed.trigger[:-1]).tolist() if len(passed) > 1 else []
        for lo, hi in zip([0, *(c + 1 for c in cuts)], [*(c + 1 for c in cuts), len(passed)], strict=True):
            trigger = int(passed.trigger[lo])
            kind = self.config.triggers[trigger].kind
            sends = passed.send[lo:hi]
            if batches and hi - lo >= _SMALL_BATCH and (sends >= 0).all():
                self.observe_many(Signals(kind, passed.deadline[lo:hi], passed.subscriber[lo:hi],
                                          email=self._watches.email_of(trigger), entry=sends), store)
                continue
            for k in range(lo, hi):
                self.observe(Signal(kind, int(passed.subscriber[k]), float(passed.deadline[k]),
                                    send_id=self._watches.send_id(int(passed.send[k]), trigger)), store)
