"""The audience actor: the only writer of the subscriber store.

It draws sign-ups from the population and applies list changes through
`core.apply_changes` (the same path the workspace takes), and answers with
the signals they raise and the status history the invariants check.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pykka

from core import ListChange, Source, SubscribersAdded, SubscriberStore, apply_changes
from sim.messages import AddSubscribers, Changed, ListChanges
from sim.population import Population


class AudienceActor(pykka.ThreadingActor):
    def __init__(self, store: SubscriberStore, population: Population) -> None:
        super().__init__()
        self.store = store
        self.population = population
        self.copies: set[str] = set()  # addresses a replay's `scale` derived (their clashes are said apart)

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ListChanges):
            return self._apply(message)
        raise TypeError(f"unexpected message {type(message).__name__}")

    def _named(self, item: AddSubscribers, source: Source,
               skipped: list[tuple[int, str, int]]) -> SubscribersAdded | None:
        """Sign-ups with given addresses (a replay); an address already on the list (in any case) is not
        added again, and counted in `skipped`: as a clash when it or the one on the list is a `scale` copy."""
        assert item.emails is not None
        seen: set[str] = set()
        keep = []
        duplicate = clash = 0
        directory = self.population.directory
        held, mine = directory.admit(item.emails) if directory is not None else (None, None)
        for i, email in enumerate(item.emails):
            if mine is not None and not mine[i]:
                continue  # another partition's (it counts its own duplicates)
            key = email.lower()
            copy = item.copies is not None and item.copies[i]
            if key not in seen and self.store.find(email) is None:
                seen.add(key)
                keep.append(i)
                if copy:
                    self.copies.add(key)
            elif copy or key in self.copies:
                clash += 1
            else:
                duplicate += 1
        skipped.extend((item.origin, reason, n) for reason, n in (("duplicate_signup", duplicate),
                                                                  ("scale_clash", clash)) if n)
        if not keep:
            return None
        if held is not None and directory is not None:
            directory.hold(held[keep])
        times = np.full(len(item.emails), item.at) if item.times is None else item.times
        fields = {k: [v[i] for i in keep] for k, v in (item.fields or {}).items()}
        ids = self.store.add_many([item.emails[i] for i in keep], times[keep], source=source, fields=fields)
        return SubscribersAdded(float(times[keep[0]]), ids, item.source, times[keep])

    def _apply(self, message: ListChanges) -> Changed:
        changes: list[ListChange] = []
        skipped: list[tuple[int, str, int]] = []
        for item in message.items:
            if isinstance(item, AddSubscribers):
                source = Source.ADMIN if item.source == "admin" else Source.FORM
                at = item.at if item.times is None else item.times
                if item.emails is not None:
                    added = self._named(item, source, skipped)
                    if added is not None:
                        changes.append(added)
                    continue
                ids, kept = self.population.fill_kept(self.store, item.count, at, source=source)
                if kept is None:
                    changes.append(SubscribersAdded(item.at, ids, item.source, item.times))
                elif len(ids):  # a partitioned run: only this partition's sign-ups
                    times = np.full(item.count, item.at) if item.times is None else item.times
                    changes.append(SubscribersAdded(float(times[kept][0]), ids, item.source, times[kept]))
            else:
                changes.append(item)
        applied = apply_changes(self.store, changes)
        return Changed(tuple(applied.signals), tuple(applied.status_log), tuple(skipped))
