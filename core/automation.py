"""One automation: lifecycle, trigger handling, pending list, send decisions.

Theory of operation. Every method takes the current instant `now` and the
subscriber store it should read; nothing reads a clock. Methods change this
object's state, append rows to `events` and return what the caller must do
(a `SendBatch` to hand to a transport). A refused command raises
`NotAllowed`/`ConfigError` before anything changes.

Time-driven rules (scheduled start, `end_at`, `not_opened` deadlines,
anniversaries) happen in `tick(now)`; `next_wakeup()` says when that is next
needed, so a virtual clock can jump straight there.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.anniversaries import Anniversaries
from core.columns import Column
from core.commands import Outcome
from core.config import AutomationConfig
from core.errors import ConfigError, NotAllowed
from core.events import KIND, REASON, REASONS, EventLog
from core.instants import Instant, zone
from core.lifecycle import Command, State, has_statistics, transition
from core.pending import (
    CANCELLED,
    DROPPED,
    FAILED,
    IN_FLIGHT,
    SENT,
    PendingList,
    PendingPage,
    Selection,
    Why,
)
from core.series import Series
from core.stats import Stats, conservation_violations
from core.subscribers import SUBSCRIBED, Status, SubscriberStore
from core.triggers import EMAIL_KINDS, FOREIGN, NO_DUPLICATES, WATCH_KINDS, Kind, RateLimit, Signal, Signals, Trigger
from core.watches import Passed, Watches

_SMALL_BATCH = 8
_NONE = np.zeros(0, np.int64)
_NONE.flags.writeable = False
_NO_TIMES = np.zeros(0)
_NO_TIMES.flags.writeable = False
_DROP_BY_STATUS = {int(Status.UNSUBSCRIBED): "unsubscribed", int(Status.AUTO_DELETED): "auto_deleted",
                   int(Status.DELETED): "deleted"}


@dataclass(frozen=True, slots=True)
class SendBatch:
    """Sends the automation decided to make now (S1 passed): hand to a transport."""

    automation: str
    decided_at: Instant
    entries: np.ndarray[Any, Any]
    subscribers: np.ndarray[Any, Any]
    due: np.ndarray[Any, Any]
    occurrence: np.ndarray[Any, Any]
    overrides: dict[int, dict[str, Any]] = field(default_factory=dict)  # entry -> api fields (T2)
    sender: str = ""  # the content as set when decided (an edit while paused applies to later sends)
    subject: str = ""

    def __len__(self) -> int:
        return len(self.entries)


class Automation:
    def __init__(self, config: AutomationConfig) -> None:
        self.config = config
        self.state = State.DRAFT
        self.deleted = False
        self.start_at: Instant | None = None
        self.end_at: Instant | None = None
        self.pending = PendingList()
        self.stats = Stats()
        self.events = EventLog()
        self.running_spans: list[list[float]] = []  # [start, end]; end inf while running
        self.overrides: dict[int, dict[str, Any]] = {}  # entry -> api field overrides (T2 api)
        self._last_accepted = Column(np.float64, fill=np.nan)
        self._fired: set[tuple[int, str]] = set()  # (subscriber, source occurrence) for NO_DUPLICATES
        self._combined: dict[int, int] = {}  # T4 all: subscriber -> bitmask of satisfied triggers
        self._series = Series()
        self._watches = Watches()
        self._api = RateLimit(config.api_limit)
        self._anniversaries = Anniversaries()
        self._decided: list[SendBatch] = []  # decided by `tick`, not yet handed over
        self._anniversary_of: AutomationConfig | None = None
        self._anniversary: Trigger | None = None

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def tz(self) -> Any:
        return zone(self.config.timezone)

    # -- lifecycle (L1-L10) ------------------------------------------------
    def _move(self, command: Command, now: Instant) -> None:
        if self.deleted:
            raise NotAllowed(f"cannot {command.value}: the automation was deleted",
                             state="deleted", command=command.value)
        new = transition(self.state, command)
        old, self.state = self.state, new
        if new is not old:
            self.events.add(now, "state", reason=new.value)
        if new is State.RUNNING and old is not State.RUNNING:
            self.running_spans.append([now, math.inf])
            self._anniversaries.arm(self._anniversary_trigger(), now, self.tz)
        elif old is State.RUNNING and new is not State.RUNNING:
            self.running_spans[-1][1] = now

    def _check_ready(self, command: Command) -> None:
        transition(self.state, command)  # refuse illegal moves before anything else (L9)
        missing = self.config.missing_steps()
        if missing:
            raise NotAllowed(f"cannot {command.value}: complete these steps first: "
                             f"{', '.join(missing)}", state=self.state.value, command=command.value)

    def _check_end_at(self, begins: Instant, end_at: Instant | None) -> None:
        if end_at is not None and not end_at > begins:
            raise ConfigError("end_at", "must lie after the start time")

    def start(self, now: Instant, end_at: Instant | None = None) -> None:
        self._check_ready(Command.START)
        self._check_end_at(now, end_at)
        self.end_at = end_at
        self._move(Command.START, now)

    def schedule(self, now: Instant, at: Instant, end_at: Instant | None = None) -> None:
        self._check_ready(Command.SCHEDULE)
        if not at > now:
            raise ConfigError("schedule.at", "must lie in the future")
        self._check_end_at(at, end_at)
        self.start_at, self.end_at = at, end_at
        self._move(Command.SCHEDULE, now)

    def cancel_schedule(self, now: Instant) -> None:
        self._move(Command.CANCEL_SCHEDULE, now)
        self.start_at = self.end_at = None

    def pause(self, now: Instant) -> None:
        self._move(Command.PAUSE, now)

    def resume(self, now: Instant) -> None:
        self._move(Command.RESUME, now)
        # S2: whatever came due while paused is dropped, even if nobody polled.
        self._drop(self.pending.take_due(now, inclusive=False), now, "paused", continue_series=True)

    def end(self, now: Instant, *, reason: str = "ended") -> None:
        self._move(Command.END if reason == "ended" else Command.REACH_END, now)
        self._purge(now)

    def check_editable(self) -> None:
        """L6: settings change only while draft or paused; refuses with what to do instead."""
        if self.deleted:
            raise NotAllowed("cannot edit: the automation was deleted", state="deleted", command="edit")
        transition(self.state, Command.EDIT)

    def edit(self, now: Instant, **changes: Any) -> None:
        """L6: settings change only while draft or paused."""
        self.check_editable()
        config = self.config.edited(changes)
        self.config = config
        self._api = RateLimit(config.api_limit)

    def delete(self, now: Instant) -> None:
        """L7: refused while running; anything still pending is cancelled."""
        self._move(Command.DELETE, now)
        self.deleted = True
        self.start_at = self.end_at = None  # a deleted schedule never starts, a deleted end_at never ends it
        ids = self.pending.remove(self.pending.pending_ids(), CANCELLED)
        self.stats.cancelled += len(ids)
        self.events.add_batch(now, "cancelled", self.pending.subscriber[ids], ids, "deleted")

    def _purge(self, now: Instant) -> None:
        """S3: ending removes every pending entry at once (reason `ended`)."""
        ids = self.pending.pending_ids()
        self.pending.remove(ids, DROPPED)
        self.stats.dropped["ended"] += len(ids)
        self.events.add_batch(now, "dropped", self.pending.subscriber[ids], ids, "ended",
                              self.pending.due[ids])
        self._series.clear()
        self._watches.clear()

    @property
    def has_statistics(self) -> bool:
        return has_statistics(self.state)  # L10

    def was_running(self, t: Instant) -> bool:
        return any(s <= t < e for s, e in reversed(self.running_spans))

    # -- time-driven rules -------------------------------------------------
    def next_wakeup(self) -> Instant | None:
        """The earliest instant `tick` or `due` has work to do."""
        return self.next_instants()[0]

    def next_instants(self) -> tuple[Instant | None, Instant | None, Instant | None]:
        """(`next_wakeup`, `next_scheduled`, `next_timed`) in one pass."""
        due = self.pending.next_due()
        if self.state is State.SCHEDULED:
            start = self.start_at
            return _earliest(due, start), start, start
        if self.state not in (State.RUNNING, State.PAUSED):
            return due, None, None
        scheduled = _earliest(self.end_at, self._anniversaries.next)
        timed = _earliest(scheduled, self._watches.next_deadline() if len(self._watches) else None)
        return _earliest(due, timed), scheduled, timed

    def tick(self, now: Instant, store: SubscriberStore) -> None:
        """Apply every time-driven rule up to `now`, in time order."""
        if self.state is State.SCHEDULED and self.start_at is not None and now >= self.start_at:
            self._move(Command.REACH_START, self.start_at)
        trigger = self._anniversary_trigger()
        if len(self._watches):
            passed = self._watches.expire(now, before=self.end_at)
            quiet = trigger is None or self._anniversaries.next is None or self._anniversaries.next > now
            self._observe_passed(passed, store, batches=quiet)  # as batches when nothing else fires up to `now`
        while trigger is not None and (at := self._anniversaries.next) is not None and at <= now and (
                self.end_at is None or at < self.end_at):
            for signal in self._anniversaries.fire(trigger, store, self.tz):
                self.observe(signal, store)
        if self.end_at is not None and now >= self.end_at and self.state in (State.RUNNING, State.PAUSED):
            batch = self.due(self.end_at, store)  # what came due before end_at still goes out (ST2)
            if len(batch):
                self._decided.append(batch)
            self.end(self.end_at, reason="end_at")

    def take_decided(self) -> list[SendBatch]:
        """Sends that time-driven rules decided (the last ones before end_at), for the caller to send."""
        decided, self._decided = self._decided, []
        return decided

    def _anniversary_trigger(self) -> Trigger | None:
        if self._anniversary_of is not self.config:  # read at every tick: worked out once per config
            self._anniversary_of = self.config
            self._anniversary = next((t for t in self.config.triggers if t.kind is Kind.ANNIVERSARY), None)
        return self._anniversary

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
        if store.status[sid] != SUBSCRIBED:
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

    def next_scheduled(self) -> Instant | None:
        """The next instant this automation changes state or scans the whole list by itself.

        A scheduled start, `end_at`, an anniversary check: until then, a new
        subscriber's sign-up is decided the same whenever it is handled.
        """
        times = [self.start_at if self.state is State.SCHEDULED else None]
        if self.state in (State.RUNNING, State.PAUSED):
            times += [self.end_at, self._anniversaries.next]
        return min((t for t in times if t is not None), default=None)

    def next_timed(self) -> Instant | None:
        """The next instant a time-driven rule fires (scheduled start, end_at, a watch, an anniversary)."""
        times = [self.start_at if self.state is State.SCHEDULED else None]
        if self.state in (State.RUNNING, State.PAUSED):
            times += [self.end_at, self._watches.next_deadline(), self._anniversaries.next]
        return min((t for t in times if t is not None), default=None)

    def _ran_at(self, times: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """`was_running` for every instant."""
        ok = np.zeros(len(times), bool)
        for start, end in self.running_spans:
            ok |= (times >= start) & (times < end)
        return ok

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
        reason[live[store.status.view[sids[live]] != SUBSCRIBED]] = REASON["not_subscribed"]

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

    def _track_watches(self, signal: Signal) -> bool:
        """Arm or cancel not_opened/not_clicked deadlines; True when the source send counts (T3)."""
        self._unwatch(signal)
        source_ok = signal.sent_at is not None and self.was_running(signal.sent_at)
        if signal.kind is Kind.EMAIL_SENT and source_ok and self.state is State.RUNNING and not self.deleted:
            self._watch(signal)
        return source_ok

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
        if self.config.repeat is not None and not self._all_go(ids, store):
            # a drop continues its series before the sends of its instant: numbered per instant, in order
            return [self._decide(ids[lo:hi], float(instants[at[lo]]), store) for lo, hi in spans]
        return self._decide_spans(ids, instants[at], spans, store)

    def _all_go(self, ids: np.ndarray[Any, Any], store: SubscriberStore) -> bool:
        """Will every one of these entries be sent (subscribed, and passing the filter)?"""
        subs = self.pending.subscriber[ids]
        if not (store.status.view[subs] == SUBSCRIBED).all():
            return False
        return self.config.filter is None or bool(self.config.filter.passes_many(store, subs).all())

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

    def _decide_spans(self, ids: np.ndarray[Any, Any], nows: np.ndarray[Any, Any], spans: list[tuple[int, int]],
                      store: SubscriberStore) -> list[SendBatch]:
        """`_decide` of each span of `ids` (one instant each, `nows` per row), as columns: the same rows,
        in the same order within an instant."""
        subs = self.pending.subscriber[ids]
        status = store.status.view[subs]
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
        status = store.status.view[subs]
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

    def record_engagement(self, entry: int, kind: str, now: Instant) -> None:
        """One open or click of one of this automation's sends."""
        self.record_engagements(np.array([entry]), kind, np.array([now]))

    # -- the operator's pending list (P3-P6) ------------------------------
    def query(self, store: SubscriberStore, **kwargs: Any) -> PendingPage:
        return self.pending.query(store, **kwargs)

    def send_now(self, selection: Selection, store: SubscriberStore, now: Instant) -> SendBatch:
        """P5: send the selection at once; S1 status and filter checks still apply."""
        if self.state is not State.RUNNING:
            raise NotAllowed(f"cannot send now while {self.state.value}: "
                             + ("resume it first" if self.state is State.PAUSED else "start it first"),
                             state=self.state.value, command="send_now")
        ids = self.pending.in_list_order(self.pending.remove(self.pending.resolve(selection, store), IN_FLIGHT))
        self.events.add_batch(now, "requeued", self.pending.subscriber[ids], ids, "send_now", now)
        return self._decide(ids, now, store)

    def delete_pending(self, selection: Selection, store: SubscriberStore, now: Instant) -> int:
        """P6: the selection leaves the list; its sends (and repeats) are cancelled."""
        ids = self.pending.in_list_order(self.pending.remove(self.pending.resolve(selection, store), CANCELLED))
        self.stats.cancelled += len(ids)
        subs = self.pending.subscriber[ids]
        self.events.add_batch(now, "cancelled", subs, ids, "operator", self.pending.due[ids])
        self._series.end(subs)
        return len(ids)

    # -- statistics (ST1, ST2) ---------------------------------------------
    def summary(self) -> dict[str, Any]:
        data = {"state": self.state.value, **self.stats.as_dict(len(self.pending))}
        data["has_statistics"] = self.has_statistics
        return data

    def violations(self, *, finished: bool = True) -> list[str]:
        return conservation_violations(self.stats, len(self.pending), finished=finished)


def _earliest(a: Instant | None, b: Instant | None) -> Instant | None:
    return b if a is None else a if b is None else min(a, b)
