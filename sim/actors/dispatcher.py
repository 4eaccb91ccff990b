"""The dispatcher actor: pushes decided sends through the transport.

Capacity is the transport's rate; the conductor only asks automations for as
many sends as that capacity allows, so nothing queues here. Outcomes and the
behaviour model's reactions go back to the conductor as future events.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pykka

from core import SendBatch, SubscriberStore
from sim.behaviour import Behaviour
from sim.messages import Crash, Dispatch, Sent
from sim.transport import OK, Transport, render


class DispatcherActor(pykka.ThreadingActor):
    def __init__(self, transport: Transport, behaviour: Behaviour, store: SubscriberStore,
                 render_messages: bool) -> None:
        super().__init__()
        self.transport = transport
        self.behaviour = behaviour
        self.store = store  # read-only: recipients and merge fields
        self.render_messages = render_messages

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Dispatch):
            if message.crash:
                self.stop()
                raise Crash("injected crash in the dispatcher")
            return tuple(self._send(b) for b in message.batches)
        raise TypeError(f"unexpected message {type(message).__name__}")

    def on_stop(self) -> None:
        self.transport.close()

    def _send(self, batch: SendBatch) -> Sent:
        sender, template = batch.sender, batch.subject  # as set when decided: edits apply to later sends
        recipients: list[str] = []
        subjects: list[str] = []
        if self.render_messages:
            for entry, sid in zip(batch.entries.tolist(), batch.subscribers.tolist(), strict=True):
                recipients.append(self.store.emails[sid])
                fields = self.store.profile(sid) | batch.overrides.get(entry, {})  # api: this email only
                subjects.append(render(template, fields))
        out = self.transport.send(batch.decided_at, batch.automation, batch.entries, batch.occurrence,
                                  recipients, subjects, sender)
        delivered = np.flatnonzero(out.code == OK)
        r = self.behaviour.react(out.done_at[delivered])
        in_batch = replace(r, open_index=delivered[r.open_index], click_index=delivered[r.click_index],
                           unsubscribe_index=delivered[r.unsubscribe_index])
        return Sent(batch.automation, batch.entries, batch.subscribers, batch.due, batch.occurrence,
                    out.sent_at, out.done_at, out.code, in_batch)
