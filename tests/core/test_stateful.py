"""A hypothesis state machine over the whole core (L, T, S, P, U, ST together).

Rules drive lifecycle commands, triggers, subscriber status changes,
pending-list operations and clock advances in any order; the invariants are
the promises every run must keep.
"""

from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from core import (
    Automation,
    Delay,
    Duplicates,
    Kind,
    NotAllowed,
    Repeat,
    SendWindow,
    Signal,
    State,
    Status,
    Trigger,
)
from core.pending import Selection
from tests.core.builders import at, config, store_with

T0 = at("2026-03-02 08:00")
N = 6


class CoreMachine(RuleBasedStateMachine):
    @initialize(delay_h=st.integers(0, 3), windowed=st.booleans(), repeat=st.booleans(),
                allow=st.booleans(), started=st.sampled_from([True, True, True, False]))
    def build(self, delay_h: int, windowed: bool, repeat: bool, allow: bool, started: bool) -> None:
        self.store = store_with(N, plan=["pro"] * N)
        window = SendWindow.daily(["mon", "tue", "wed", "thu", "fri"], "09:00", "18:00") if windowed else None
        self.a = Automation(config(triggers=(Trigger(Kind.API), Trigger(Kind.SUBSCRIBER_ADDED)),
                                   delay=Delay(delay_h, "hours"),
                                   window=window, repeat=Repeat("daily") if repeat else None,
                                   duplicates=Duplicates(allow=allow, cooldown=600)))
        self.now = T0
        self.last_due = -np.inf
        if started:
            self.a.start(self.now)

    def _deliver(self, batch: object) -> None:
        b = batch  # a SendBatch
        if len(b):  # type: ignore[arg-type]
            assert self.a.state is State.RUNNING, "sent while not running"
            status = self.store.status.view[b.subscribers]  # type: ignore[attr-defined]
            assert (status == Status.SUBSCRIBED).all(), "sent to a subscriber who is not subscribed"
            codes = np.asarray([int(s) % 3 == 2 for s in b.subscribers], np.int8)  # type: ignore[attr-defined]
            self.a.record_outcomes(b.entries, self.now, codes)  # type: ignore[attr-defined]

    @rule(command=st.sampled_from(["start", "pause", "resume", "resume", "end", "cancel_schedule",
                                   "schedule"]))
    def lifecycle(self, command: str) -> None:
        try:
            if command == "schedule":
                self.a.schedule(self.now, self.now + 1800)
            else:
                getattr(self.a, command)(self.now)
        except NotAllowed:
            pass

    @rule(sids=st.lists(st.integers(-1, N - 1), min_size=1, max_size=4), api=st.booleans())
    def trigger(self, sids: list[int], api: bool) -> None:
        for sid in sids:
            kind = Kind.API if api or sid < 0 else Kind.SUBSCRIBER_ADDED
            self.a.observe(Signal(kind, sid, self.now), self.store)

    @rule(sid=st.integers(0, N - 1), status=st.sampled_from(list(Status)))
    def set_status(self, sid: int, status: Status) -> None:
        self.store.set_status(sid, status)

    @rule(minutes=st.integers(1, 60 * 30))
    def advance(self, minutes: int) -> None:
        target = self.now + 60 * minutes
        while True:
            t = self.a.next_wakeup()
            if t is None or t > target:
                break
            self.now = max(self.now, t)
            self.a.tick(self.now, self.store)
            batch = self.a.due(self.now, self.store)
            if len(batch):
                assert batch.due.min() >= self.last_due - 1e-3, "due times went backwards"
                self.last_due = float(batch.due.max())
            self._deliver(batch)
        self.now = target
        self.a.tick(self.now, self.store)
        self._deliver(self.a.due(self.now, self.store))

    @rule(which=st.sampled_from(["page", "all", "search"]), send=st.booleans())
    def operate(self, which: str, send: bool) -> None:
        page = self.a.query(self.store)
        selection = {"page": Selection().with_page(page), "all": Selection.every_page(),
                     "search": Selection.every_page(search="user1")}[which]
        if send:
            try:
                self._deliver(self.a.send_now(selection, self.store, self.now))
            except NotAllowed:
                assert self.a.state is not State.RUNNING
        else:
            self.a.delete_pending(selection, self.store, self.now)

    @invariant()
    def conservation(self) -> None:
        if hasattr(self, "a"):
            assert self.a.violations() == []

    @invariant()
    def ended_has_no_pending(self) -> None:
        if hasattr(self, "a") and self.a.state is State.ENDED:
            assert len(self.a.pending) == 0

    @invariant()
    def only_running_has_new_entries(self) -> None:
        if hasattr(self, "a") and self.a.state in (State.DRAFT, State.SCHEDULED):
            assert self.a.stats.accepted == 0 or self.a.running_spans


CoreMachine.TestCase.settings = settings(max_examples=250, stateful_step_count=40, deadline=None)
test_core_state_machine = CoreMachine.TestCase
