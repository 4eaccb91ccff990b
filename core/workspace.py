"""Every automation of one account over one subscriber list, in one thread.

The workspace is the single-threaded driver of the domain: tests and the
reference path use it, the actor shell splits the same work across actors.
Both go through `core.handlers.handle` for every command and
`core.audience.apply_changes` for every list change, and both route signals
with `core.routing.Routes`, rebuilt after every edit. Nothing here decides a
rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from core.audience import Applied, apply_changes
from core.automation import Automation, SendBatch
from core.commands import AutomationCommand, Edit, ListChange, Observe, ObserveMany, RecordOutcomes, hard_bounces
from core.config import AutomationConfig
from core.errors import ConfigError
from core.handlers import Context, Effects, advance, handle
from core.instants import Instant
from core.lifecycle import State
from core.routing import Routes, check_sources
from core.subscribers import SubscriberStore
from core.triggers import KeyedSignals, Signal, Signals


class Workspace:
    def __init__(self, store: SubscriberStore | None = None) -> None:
        self.store = store if store is not None else SubscriberStore()
        self.automations: dict[str, Automation] = {}
        self.routes = Routes.of(())

    def __getitem__(self, automation_id: str) -> Automation:
        try:
            return self.automations[automation_id]
        except KeyError:
            raise ConfigError("automation", f"no automation called {automation_id!r}") from None

    def ended(self) -> frozenset[str]:
        return frozenset(a.id for a in self.automations.values() if a.state is State.ENDED)

    def context(self) -> Context:
        return Context(self.store, self.ended())

    def _reroute(self) -> None:
        self.routes = Routes.of(a.config for a in self.automations.values())

    def add(self, config: AutomationConfig) -> Automation:
        if config.id in self.automations:
            raise ConfigError("id", f"an automation called {config.id!r} already exists")
        check_sources(config, self.ended())
        automation = self.automations[config.id] = Automation(config)
        self._reroute()
        return automation

    def execute(self, automation_id: str, command: AutomationCommand, quota: int | None = None) -> Effects:
        """Handle one command for one automation; refusals are in `Effects.refused`."""
        fx = Effects(quota)
        if isinstance(command, RecordOutcomes):  # the list learns of bounces first (U2), as in the simulator
            a = self[automation_id]
            self.change(hard_bounces(a.pending.subscriber[np.asarray(command.entries, np.int64)],
                                     command.done_at, command.outcomes))
        handle(self[automation_id], command, self.context(), fx)
        if fx.edited is not None:
            self._reroute()
        return fx

    def edit(self, automation_id: str, now: Instant, **changes: Any) -> Effects:
        return self.execute(automation_id, Edit(now, changes))

    def change(self, changes: Iterable[ListChange]) -> Applied:
        """List changes; their signals reach the automations that listen for them."""
        applied = apply_changes(self.store, changes)
        for signal in applied.signals:
            for one in signal.batches() if isinstance(signal, KeyedSignals) else (signal,):
                self.signal(one)
        return applied

    def signal(self, signal: Signal | Signals) -> dict[str, str]:
        """Offer a signal (or a batch) to every automation routed to it; the others see nothing ('unmatched')."""
        verdicts = dict.fromkeys(self.automations, "unmatched")
        for name in self.routes.watchers(signal.kind, signal.email):
            command = Observe(signal) if isinstance(signal, Signal) else ObserveMany(signal)
            verdicts[name] = self.execute(name, command).verdict
        return verdicts

    def deliver(self, batch: SendBatch, outcomes: Iterable[int] | None = None, at: Instant | None = None) -> None:
        """The transport's answer for a batch (all delivered unless `outcomes` says otherwise)."""
        n = len(batch)
        codes = np.zeros(n, np.int8) if outcomes is None else np.asarray(list(outcomes), np.int8)
        done = np.full(n, batch.decided_at if at is None else at)
        self.execute(batch.automation, RecordOutcomes(float(done.min()) if n else 0.0, batch.entries, done, codes))

    def next_wakeup(self) -> Instant | None:
        times = [a.next_wakeup() for a in self.automations.values()]
        return min((t for t in times if t is not None), default=None)

    def advance(self, now: Instant) -> list[SendBatch]:
        """Every time-driven rule and every due entry up to `now`."""
        batches = []
        ctx = self.context()
        for automation in self.automations.values():
            fx = Effects()
            advance(automation, now, ctx, fx)
            batches += fx.batches
        return batches
