"""The dispatcher actor: pushes decided sends through the transport.

Capacity is the transport's rate; the conductor only asks automations for as
many sends as that capacity allows, so nothing queues here. Outcomes and the
behaviour model's reactions go back to the conductor as future events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pykka

from core import SendBatch, SubscriberStore
from sim.behaviour import Behaviour
from sim.messages import Crash, Dispatch, Sent
from sim.transport import OK, Outcomes, SimulatedTransport, Transport, render


class DispatcherActor(pykka.ThreadingActor):
    def __init__(self, transport: Transport | SimulatedTransport, behaviour: Behaviour, store: SubscriberStore,
                 render_messages: bool, keyed_by: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        super().__init__()
        self.transport = transport
        # A partitioned run keys each send's draws by the subscriber's place in the whole list, not in
        # the partition: the same subscriber draws the same whatever K is (`sim.partitions`).
        self.keyed_by = keyed_by or (lambda sids: sids)
        self.behaviour = behaviour
        self.store = store  # read-only: recipients and merge fields
        self.render_messages = render_messages

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Dispatch):
            if message.crash:
                self.stop()
                raise Crash("injected crash in the dispatcher")
            if isinstance(self.transport, SimulatedTransport):
                return self._joined(self.transport, message.batches)
            return tuple(self._send(self.transport, b) for b in message.batches)
        raise TypeError(f"unexpected message {type(message).__name__}")

    def on_stop(self) -> None:
        self.transport.close()

    def _send(self, transport: Transport, batch: SendBatch) -> Sent:
        """One batch through a transport that sends message by message (SMTP)."""
        sender, template = batch.sender, batch.subject  # as set when decided: edits apply to later sends
        recipients: list[str] = []
        subjects: list[str] = []
        if self.render_messages:
            for entry, sid in zip(batch.entries.tolist(), batch.subscribers.tolist(), strict=True):
                recipients.append(self.store.emails[sid])
                fields = self.store.profile(sid) | batch.overrides.get(entry, {})  # api: this email only
                subjects.append(render(template, fields))
        out = transport.send(batch.decided_at, batch.automation, batch.entries, batch.occurrence,
                                  recipients, subjects, sender)
        keys = self.behaviour.draws.sends(batch.automation, self.keyed_by(batch.subscribers), batch.due,
                                          batch.occurrence)
        return self._sent(batch.automation, batch.entries, batch.subscribers, batch.due, batch.occurrence, out, keys)

    def _joined(self, transport: SimulatedTransport, batches: tuple[SendBatch, ...]) -> tuple[Sent, ...]:
        """Simulated sends, one `Sent` per automation however many batches (ticks) it had here.

        Each batch leaves in hand-over order at its own instant (the transport's
        pacing); outcomes and reactions are drawn per send, so joining the
        batches changes nothing but the cost.
        """
        mine: dict[str, list[tuple[SendBatch, np.ndarray]]] = {}
        for b, sent_at in zip(batches, transport.pace_many([(b.decided_at, len(b)) for b in batches]), strict=True):
            mine.setdefault(b.automation, []).append((b, sent_at))
        out = []
        for name, parts in mine.items():
            if len(parts) == 1:
                b, sent_at = parts[0]
                cols = (b.entries, b.subscribers, b.due, b.occurrence)
            else:
                sent_at = np.concatenate([p[1] for p in parts])
                cols = tuple(np.concatenate([getattr(p[0], c) for p in parts])  # type: ignore[assignment]
                             for c in ("entries", "subscribers", "due", "occurrence"))
            keys = self.behaviour.draws.sends(name, self.keyed_by(cols[1]), cols[2], cols[3])
            out.append(self._sent(name, *cols, transport.outcomes(keys, sent_at), keys))
        return tuple(out)

    def _sent(self, automation: str, entries: np.ndarray, subscribers: np.ndarray, due: np.ndarray,
              occurrence: np.ndarray, out: Outcomes, keys: np.ndarray) -> Sent:
        delivered = np.flatnonzero(out.code == OK)
        r = self.behaviour.react(keys[delivered], out.done_at[delivered])
        in_batch = replace(r, open_index=delivered[r.open_index], click_index=delivered[r.click_index],
                           unsubscribe_index=delivered[r.unsubscribe_index])
        return Sent(automation, entries, subscribers, due, occurrence, out.sent_at, out.done_at, out.code, in_batch)
