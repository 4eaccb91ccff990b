"""One actor per automation: owns its core `Automation` and nothing else.

`on_receive` translates a `Step` into core calls, in input order, and the
core's answers into a `StepResult`. No rule lives here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pykka

from core import Automation, DripError, Selection, SendBatch, SubscriberStore
from sim.messages import (
    Crash,
    Engagement,
    Lifecycle,
    Observe,
    Outcome,
    Peek,
    PendingOp,
    SavedPage,
    Step,
    StepResult,
    Summarise,
)


class AutomationActor(pykka.ThreadingActor):
    def __init__(self, automation: Automation, store: SubscriberStore) -> None:
        super().__init__()
        self.automation = automation
        self.store = store  # read-only here: the audience actor writes it, never during a step

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Step):
            if message.crash:
                self.stop()  # let it crash: the supervisor restarts us
                raise Crash(f"injected crash in automation {self.automation.id}")
            return self._step(message)
        if isinstance(message, Summarise):
            return self.automation.summary()
        if isinstance(message, Peek):
            ids = self.automation.pending.matching(self.store, message.search, message.field)
            return self.automation.pending.subscriber[ids[: message.count]].tolist()
        raise TypeError(f"unexpected message {type(message).__name__}")

    def _step(self, step: Step) -> StepResult:
        a, store = self.automation, self.store
        batches: list[SendBatch] = []
        quota = step.quota
        refused: list[tuple[float, str]] = []
        pages: list[SavedPage] = []
        for item in step.inputs:
            if isinstance(item, Outcome):
                a.record_outcomes(item.entries, item.done_at, item.code)
            elif isinstance(item, Engagement):
                a.record_engagements(item.entries, item.kind, item.times)
            elif isinstance(item, Observe):
                a.tick(item.at, store)
                a.observe(item.signal, store)
            elif isinstance(item, Lifecycle):
                a.tick(item.at, store)
                quota -= self._send(a.due(item.at, store, limit=max(quota, 0)), batches)
                try:
                    self._lifecycle(item)
                except DripError as err:
                    refused.append((item.at, f"{a.id}: {item.command}: {err}"))
                    a.events.add(item.at, "refused", reason=item.command)
            elif isinstance(item, PendingOp):
                try:
                    page = self._pending(item, batches)
                except DripError as err:
                    refused.append((item.at, f"{a.id}: pending.{item.op}: {err}"))
                    a.events.add(item.at, "refused", reason="send_now" if item.op == "send_now" else "delete")
                    continue
                if page is not None:
                    pages.append(page)
        a.tick(step.t, store)
        quota -= self._send(a.due(step.t, store, limit=max(quota, 0)), batches)
        backlog = a.pending.due_count(step.t)
        return StepResult(a.id, tuple(batches), backlog, a.next_wakeup(), a.events.drain(),
                          tuple(refused), tuple(pages), a.state.value, len(a.pending))

    @staticmethod
    def _send(batch: SendBatch, batches: list[SendBatch]) -> int:
        if len(batch):
            batches.append(batch)
        return len(batch)

    def _lifecycle(self, item: Lifecycle) -> None:
        a, at, args = self.automation, item.at, item.args
        if item.command == "start":
            a.start(at, end_at=args.get("end_at"))
        elif item.command == "schedule":
            a.schedule(at, args["at"], end_at=args.get("end_at"))
        elif item.command == "edit":
            a.edit(at, **args)
        elif item.command in ("cancel_schedule", "pause", "resume", "end", "delete"):
            getattr(a, item.command)(at)
        else:
            raise ValueError(f"unknown lifecycle command {item.command!r}")

    def _pending(self, op: PendingOp, batches: list[SendBatch]) -> SavedPage | None:
        a, store = self.automation, self.store
        page = a.query(store, search=op.search, field=op.field, sort=op.sort, page=op.page)
        if op.op == "query":
            return SavedPage(op.label or f"{a.id}@{op.at:.0f}", op.at, page)
        if op.select == "all":
            selection = Selection.every_page(op.search, op.field)
        elif op.select == "page":
            selection = Selection().with_page(page)
        else:
            ids = a.pending.matching(store, op.search, op.field, op.sort)[: int(op.select)]
            selection = Selection(frozenset(np.asarray(ids).tolist()))
        if op.op == "send_now":
            self._send(a.send_now(selection, store, op.at), batches)
        else:
            a.delete_pending(selection, store, op.at)
        return None
