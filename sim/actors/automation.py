"""One actor per automation: owns its core `Automation` and nothing else.

`on_receive` is a translation: a `Step` in, `core.handlers.handle` for each
input in order, the effects out as a `StepResult`. No rule lives here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pykka

from core import Automation, Context, Effects, SubscriberStore, advance, advance_window, handle
from sim.messages import Ahead, Crash, DueBefore, Page, Peek, Step, StepResult, Summarise, WatchesBefore, Window


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
            return step(self.automation, self.store, message)
        if isinstance(message, DueBefore):
            ids = self.automation.pending.due_before(message.before)
            pending = self.automation.pending
            return pending.subscriber[ids], pending.due[ids], pending.occurrence[ids]
        if isinstance(message, WatchesBefore):
            return self.automation.watches_before(message.before)
        if isinstance(message, Window):
            return window(self.automation, self.store, message)
        if isinstance(message, Ahead):
            return ahead(self.automation, self.store, message)
        if isinstance(message, Summarise):
            return self.automation.summary()
        if isinstance(message, Page):
            return self.automation.query(self.store, search=message.search, field=message.field,
                                         sort=message.sort, page=message.page)
        if isinstance(message, Peek):
            ids = self.automation.pending.matching(self.store, message.search, message.field)
            return self.automation.pending.subscriber[ids[: message.count]].tolist()
        raise TypeError(f"unexpected message {type(message).__name__}")


def step(a: Automation, store: SubscriberStore, message: Step) -> StepResult:
    """One phase of one automation: its inputs in order, then what is due at `t`."""
    ctx, fx = Context(store, message.ended), Effects(message.quota)
    for command in message.inputs:
        handle(a, command, ctx, fx)
    advance(a, message.t, ctx, fx)
    return _result(a, message.t, fx)


def window(a: Automation, store: SubscriberStore, message: Window) -> StepResult:
    """The phases at `ticks`, each as `step` with capacity for everything due: its inputs, then what is due
    (`core.handlers.advance_window`: as columns when the order of work between them cannot show)."""
    ctx, fx = Context(store, message.ended), Effects()
    advance_window(a, message.ticks, message.inputs, ctx, fx)
    return _result(a, message.ticks[-1], fx)


def ahead(a: Automation, store: SubscriberStore, message: Ahead) -> StepResult:
    """The phases at `ticks`, each reduced to what it would do here: decide what is due (no inputs).

    As columns in one pass when the automation allows it (`Automation.advance_many`), else a phase at a time.
    """
    ctx, fx = Context(store, message.ended), Effects()
    batches = a.advance_many(np.asarray(message.ticks, np.float64), message.cancels, store)
    if batches is not None:
        for batch in batches:
            fx.send(batch)
        return _result(a, message.ticks[-1], fx)
    rows = sorted((float(c.at[k]), n, k) for n, c in enumerate(message.cancels) for k in range(len(c)))
    cancels = iter(rows)
    pending = next(cancels, None)
    for t in message.ticks:
        while pending is not None and pending[0] <= t:  # a phase at t releases what happened by t first,
            a.tick(pending[0], store)  # each catching up to its own instant: earlier deadlines pass first
            a.unwatch(message.cancels[pending[1]].row(pending[2]))
            pending = next(cancels, None)
        advance(a, t, ctx, fx)
    return _result(a, message.ticks[-1], fx)


def _result(a: Automation, t: float, fx: Effects) -> StepResult:
    """What the conductor needs after an automation reached `t`: its sends, rows and next instants."""
    wakeup, scheduled, timed = a.next_instants()
    return StepResult(a.id, tuple(fx.batches), a.pending.due_count(t), wakeup, a.events.drain(),
                      tuple(fx.refused), tuple(fx.pages), a.state.value, len(a.pending), fx.edited,
                      scheduled, timed)
