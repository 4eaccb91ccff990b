"""Every automation of one account over one subscriber list.

The workspace routes each signal to every automation in a fixed order (the
order they were added) and enforces the rules that span automations: an
ended automation cannot be picked as the trigger source of another (L4).
The actor shell splits this same work across actors; tests and the
single-threaded reference path use it directly.
"""

from __future__ import annotations

from typing import Any

from core.automation import Automation, SendBatch
from core.config import AutomationConfig
from core.errors import ConfigError
from core.instants import Instant
from core.lifecycle import State
from core.subscribers import SubscriberStore
from core.triggers import EMAIL_KINDS, Signal


class Workspace:
    def __init__(self, store: SubscriberStore | None = None) -> None:
        self.store = store if store is not None else SubscriberStore()
        self.automations: dict[str, Automation] = {}

    def __getitem__(self, automation_id: str) -> Automation:
        try:
            return self.automations[automation_id]
        except KeyError:
            raise ConfigError("automation", f"no automation called {automation_id!r}") from None

    def _check_sources(self, config: AutomationConfig) -> None:
        for i, trigger in enumerate(config.triggers):
            source = self.automations.get(trigger.email) if trigger.kind in EMAIL_KINDS else None
            if source is not None and source.state is State.ENDED and source.id != config.id:
                raise ConfigError(f"triggers[{i}].email", f"automation {source.id!r} has ended and "
                                  "cannot be a trigger source (L4); pick an automation that is not ended")

    def add(self, config: AutomationConfig) -> Automation:
        if config.id in self.automations:
            raise ConfigError("id", f"an automation called {config.id!r} already exists")
        self._check_sources(config)
        automation = self.automations[config.id] = Automation(config)
        return automation

    def edit(self, automation_id: str, now: Instant, **changes: Any) -> None:
        automation = self[automation_id]
        self._check_sources(automation.config.edited(changes))
        automation.edit(now, **changes)

    def signal(self, signal: Signal) -> dict[str, str]:
        return {a.id: a.observe(signal, self.store) for a in self.automations.values()}

    def next_wakeup(self) -> Instant | None:
        times = [a.next_wakeup() for a in self.automations.values()]
        return min((t for t in times if t is not None), default=None)

    def advance(self, now: Instant) -> list[SendBatch]:
        """Every time-driven rule and every due entry up to `now`."""
        batches = []
        for automation in self.automations.values():
            automation.tick(now, self.store)
            batch = automation.due(now, self.store)
            if len(batch):
                batches.append(batch)
        return batches
