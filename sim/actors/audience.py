"""The audience actor: the only writer of the subscriber store.

It draws sign-ups from the population and applies list changes through
`core.apply_changes` (the same path the workspace takes), and answers with
the signals they raise and the status history the invariants check.
"""

from __future__ import annotations

from typing import Any

import pykka

from core import ListChange, Source, SubscribersAdded, SubscriberStore, apply_changes
from sim.messages import AddSubscribers, Changed, ListChanges
from sim.population import Population


class AudienceActor(pykka.ThreadingActor):
    def __init__(self, store: SubscriberStore, population: Population) -> None:
        super().__init__()
        self.store = store
        self.population = population

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ListChanges):
            return self._apply(message)
        raise TypeError(f"unexpected message {type(message).__name__}")

    def _apply(self, message: ListChanges) -> Changed:
        changes: list[ListChange] = []
        for item in message.items:
            if isinstance(item, AddSubscribers):
                source = Source.ADMIN if item.source == "admin" else Source.FORM
                at = item.at if item.times is None else item.times
                ids = self.population.fill(self.store, item.count, at, source=source)
                changes.append(SubscribersAdded(item.at, ids, item.source, item.times))
            else:
                changes.append(item)
        applied = apply_changes(self.store, changes)
        return Changed(tuple(applied.signals), tuple(applied.status_log))
