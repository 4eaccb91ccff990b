"""An automation's lifecycle (L1-L10: start, schedule, pause, resume, end, edit, delete) and its
time-driven rules (a scheduled start, `end_at`, not-opened deadlines, anniversaries) applied by `tick`.
"""

from __future__ import annotations

import math
from typing import Any

from core.automation.base import AutomationBase, SendBatch, _earliest
from core.errors import ConfigError, NotAllowed
from core.instants import Instant
from core.lifecycle import Command, State, has_statistics, transition
from core.pending import (
    CANCELLED,
    DROPPED,
)
from core.subscribers import SubscriberStore
from core.triggers import Kind, RateLimit, Trigger


class AutomationLifecycle(AutomationBase):
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
