"""The audience actor: the only writer of the subscriber store.

It applies list changes (sign-ups, unsubscribes, bounces, field and group
changes) and answers with the signals they raise for triggers, and the status
history the run's invariants are checked against.
"""

from __future__ import annotations

from typing import Any

import pykka

from core import Kind, Signal, Source, Status, SubscriberStore
from sim.messages import Changed, Mutations
from sim.population import Population


class AudienceActor(pykka.ThreadingActor):
    def __init__(self, store: SubscriberStore, population: Population) -> None:
        super().__init__()
        self.store = store
        self.population = population

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Mutations):
            return self._apply(message)
        raise TypeError(f"unexpected message {type(message).__name__}")

    def _apply(self, message: Mutations) -> Changed:
        store = self.store
        signals: list[Signal] = []
        log: list[tuple[float, int, int]] = []
        added: list[int] = []
        for m in message.items:
            if m.op == "add":
                source = Source.ADMIN if m.source == "admin" else Source.FORM
                ids = self.population.fill(store, m.count, m.at, source=source)
                added += list(ids)
                signals += [Signal(Kind.SUBSCRIBER_ADDED, sid, m.at, source=m.source) for sid in ids]
                continue
            for sid in (int(s) for s in m.subscribers):
                if not 0 <= sid < len(store):
                    continue
                if m.op in ("unsubscribe", "delete", "hard_bounce"):
                    before = store.status_of(sid)
                    if m.op == "hard_bounce":
                        after = store.bounce(sid, hard=True)
                    else:
                        after = Status.UNSUBSCRIBED if m.op == "unsubscribe" else Status.DELETED
                        if before is Status.SUBSCRIBED or after is Status.DELETED:
                            store.set_status(sid, after)
                        after = store.status_of(sid)
                    if after is not before:
                        log.append((m.at, sid, int(after)))
                elif m.op == "set_field":
                    store.set_field(sid, m.field, m.value)
                    signals.append(Signal(Kind.FIELD_UPDATED, sid, m.at, field=m.field, value=m.value))
                elif m.op == "add_to_group":
                    if store.add_to_group(sid, str(m.value)):
                        signals.append(Signal(Kind.GROUP_ADDED, sid, m.at, group=str(m.value)))
                else:
                    raise ValueError(f"unknown list change {m.op!r}")
        return Changed(tuple(signals), tuple(log), tuple(added))
