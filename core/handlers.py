"""One handler per command type: the only path from a command to the domain.

Theory of operation (cosmicpython's message bus, without the bus): `HANDLERS`
maps each command type of `core.commands` to a plain function that applies
it to one `Automation`. `handle` looks the handler up, and turns a refusal
(`NotAllowed`, `ConfigError`) into a "refused" event row and a line in
`Effects.refused`, with nothing changed. The `Workspace` (tests, the
single-threaded path) and the automation actor (the simulator) both call
`handle`, so a rule lives in exactly one place.

Commands given at an instant first catch the automation up to that instant
(`advance`): time-driven rules fire, and for operator commands what is due
is sent first, within the step's quota, exactly as if a phase had run then.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.automation import Automation, SendBatch
from core.commands import (
    AutomationCommand,
    CancelSchedule,
    Delete,
    DeletePending,
    Edit,
    End,
    Observe,
    ObserveMany,
    Pause,
    QueryPending,
    RecordEngagements,
    RecordOutcomes,
    Resume,
    Schedule,
    SendNow,
    Start,
    TrackMany,
)
from core.config import AutomationConfig
from core.errors import DripError
from core.instants import Instant
from core.pending import PendingPage, Selection
from core.routing import check_sources
from core.subscribers import SubscriberStore
from core.triggers import Signals


@dataclass(frozen=True, slots=True)
class SavedPage:
    """A pending-list page an operator looked at (P3), kept for the report."""

    label: str
    at: Instant
    page: PendingPage


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may read besides its own automation."""

    store: SubscriberStore
    ended: Collection[str] = frozenset()  # automations that have ended (L4)


@dataclass(slots=True)
class Effects:
    """What handling commands produced, for the driver to carry out."""

    quota: int | None = None  # sends still allowed in this step; None = no limit
    batches: list[SendBatch] = field(default_factory=list)
    refused: list[tuple[Instant, str]] = field(default_factory=list)
    pages: list[SavedPage] = field(default_factory=list)
    edited: AutomationConfig | None = None  # new settings: the driver re-routes (Routes.of)
    verdict: str = ""  # what became of the last observed signal (Automation.observe)

    @property
    def limit(self) -> int | None:
        return None if self.quota is None else max(self.quota, 0)

    def send(self, batch: SendBatch) -> None:
        if len(batch):
            self.batches.append(batch)
            if self.quota is not None:
                self.quota -= len(batch)


def advance(a: Automation, t: Instant, ctx: Context, fx: Effects) -> None:
    """Every time-driven rule up to `t`, then what is due at `t` (within the quota)."""
    a.tick(t, ctx.store)
    _hand_over(a, fx)
    fx.send(a.due(t, ctx.store, limit=fx.limit))


@dataclass(frozen=True, slots=True)
class OneBatch:
    """A window's inputs of one automation when they are one batch of signals: its rows (in the order
    the phases would handle them within a tick) and each row's tick."""

    signals: Signals
    ticks: np.ndarray[Any, Any]

    def per_tick(self, ticks: tuple[Instant, ...]) -> tuple[tuple[Any, ...], ...]:
        """The inputs of each of `ticks`: the batch's rows of that tick, in their order."""
        at = np.searchsorted(np.asarray(ticks, np.float64), self.ticks)
        order = np.argsort(at, kind="stable")
        bounds = np.searchsorted(at[order], np.arange(len(ticks) + 1))
        return tuple((ObserveMany(self.signals.take(order[lo:hi])),) if hi > lo else ()
                     for lo, hi in itertools.pairwise(bounds.tolist()))


def advance_window(a: Automation, ticks: tuple[Instant, ...], inputs: tuple[tuple[Any, ...], ...] | OneBatch,
                   ctx: Context, fx: Effects) -> None:
    """The phases at `ticks` (sorted), each its inputs then what is due at it, capacity for all.

    As columns when the order of work between the ticks cannot show (`Automation.window_in_columns`):
    the transport records first (they change nothing a decision reads), every tick's signals in time
    order (one `observe_many` when they join into one batch, or come as one: `OneBatch`), then every
    tick's sends at once (`advance_many`; tick by tick when the send window closes at one of them). A
    subscriber may be named at several ticks: an automation's own rules read only its history of
    accepted triggers (T5), which both orders build alike, and what a later tick's signal queues is
    never due at an earlier tick (tested against the phases one at a time, subscribers named again
    included)."""
    if isinstance(inputs, OneBatch):
        if a.window_in_columns(ticks[-1]):
            _in_columns(a, ticks, [ObserveMany(inputs.signals)], [], ctx, fx)
            return
        inputs = inputs.per_tick(ticks)
    flat = [c for cs in inputs for c in cs]
    signals = [c for c in flat if isinstance(c, ObserveMany)]
    records = [c for c in flat if isinstance(c, RecordOutcomes | RecordEngagements)]
    if len(signals) + len(records) != len(flat) or not a.window_in_columns(ticks[-1]):
        for t, cs in zip(ticks, inputs, strict=True):
            for command in cs:
                handle(a, command, ctx, fx)
            advance(a, t, ctx, fx)
        return
    _in_columns(a, ticks, signals, records, ctx, fx)


def _in_columns(a: Automation, ticks: tuple[Instant, ...], signals: list[ObserveMany], records: list[Any],
                ctx: Context, fx: Effects) -> None:
    for command in records:
        handle(a, command, ctx, fx)
    joined = Signals.join([c.signals for c in signals]) if signals else None
    for command in [ObserveMany(joined)] if joined is not None else signals:
        handle(a, command, ctx, fx)
    decided = a.advance_many(np.asarray(ticks, np.float64), (), ctx.store)
    if decided is None:  # the send window closes at one of the ticks: its entries wait for it to open
        for t in ticks:
            advance(a, t, ctx, fx)
        return
    for sends in decided:
        fx.send(sends)


def _hand_over(a: Automation, fx: Effects) -> None:
    for batch in a.take_decided():
        fx.send(batch)


# -- lifecycle -------------------------------------------------------------------
def _start(a: Automation, c: Start, ctx: Context, fx: Effects) -> None:
    a.start(c.at, end_at=c.end_at)


def _schedule(a: Automation, c: Schedule, ctx: Context, fx: Effects) -> None:
    a.schedule(c.at, c.start_at, end_at=c.end_at)


def _cancel_schedule(a: Automation, c: CancelSchedule, ctx: Context, fx: Effects) -> None:
    a.cancel_schedule(c.at)


def _pause(a: Automation, c: Pause, ctx: Context, fx: Effects) -> None:
    a.pause(c.at)


def _resume(a: Automation, c: Resume, ctx: Context, fx: Effects) -> None:
    a.resume(c.at)


def _end(a: Automation, c: End, ctx: Context, fx: Effects) -> None:
    a.end(c.at)


def _edit(a: Automation, c: Edit, ctx: Context, fx: Effects) -> None:
    a.check_editable()
    check_sources(a.config.edited(dict(c.changes)), ctx.ended)  # L4, on the edit's own path
    a.edit(c.at, **c.changes)
    fx.edited = a.config


def _delete(a: Automation, c: Delete, ctx: Context, fx: Effects) -> None:
    a.delete(c.at)


# -- the operator's pending list -----------------------------------------------------
def _selection(a: Automation, c: SendNow | DeletePending, store: SubscriberStore) -> Selection:
    q = c.query
    if isinstance(c.select, tuple):  # ticked rows: exactly those still pending and visible (P4)
        return Selection(frozenset(c.select))
    if c.select == "all":
        return Selection.every_page(q.search, q.field)
    if c.select == "page":
        return Selection().with_page(a.query(store, search=q.search, field=q.field, sort=q.sort, page=q.page))
    ids = a.pending.matching(store, q.search, q.field, q.sort)[: int(c.select)]
    return Selection(frozenset(ids.tolist()))


def _query(a: Automation, c: QueryPending, ctx: Context, fx: Effects) -> None:
    q = c.query
    page = a.query(ctx.store, search=q.search, field=q.field, sort=q.sort, page=q.page)
    fx.pages.append(SavedPage(c.label or f"{a.id}@{c.at:.0f}", c.at, page))


def _send_now(a: Automation, c: SendNow, ctx: Context, fx: Effects) -> None:
    fx.send(a.send_now(_selection(a, c, ctx.store), ctx.store, c.at))


def _delete_pending(a: Automation, c: DeletePending, ctx: Context, fx: Effects) -> None:
    a.delete_pending(_selection(a, c, ctx.store), ctx.store, c.at)


# -- what happened ---------------------------------------------------------------------
def _observe(a: Automation, c: Observe, ctx: Context, fx: Effects) -> None:
    a.tick(c.at, ctx.store)
    fx.verdict = a.observe(c.signal, ctx.store)


def _observe_many(a: Automation, c: ObserveMany, ctx: Context, fx: Effects) -> None:
    a.observe_many(c.signals, ctx.store)


def _track_many(a: Automation, c: TrackMany, ctx: Context, fx: Effects) -> None:
    a.track_many(c.batches, ctx.store)


def _outcomes(a: Automation, c: RecordOutcomes, ctx: Context, fx: Effects) -> None:
    a.record_outcomes(c.entries, c.done_at, c.outcomes)


def _engagements(a: Automation, c: RecordEngagements, ctx: Context, fx: Effects) -> None:
    a.record_engagements(c.entries, c.kind, c.times)


Handler = Callable[[Automation, Any, Context, Effects], None]

# command type -> (handler, name in refusals, reason of the "refused" event row,
#                  catch up with sending first: operator commands see the list as a phase left it)
HANDLERS: dict[type, tuple[Handler, str, str, bool]] = {
    Start: (_start, "start", "start", True),
    Schedule: (_schedule, "schedule", "schedule", True),
    CancelSchedule: (_cancel_schedule, "cancel_schedule", "cancel_schedule", True),
    Pause: (_pause, "pause", "pause", True),
    Resume: (_resume, "resume", "resume", True),
    End: (_end, "end", "end", True),
    Edit: (_edit, "edit", "edit", True),
    Delete: (_delete, "delete", "delete", True),
    QueryPending: (_query, "pending.query", "query", False),
    SendNow: (_send_now, "pending.send_now", "send_now", False),
    DeletePending: (_delete_pending, "pending.delete", "delete", False),
    Observe: (_observe, "observe", "", False),
    ObserveMany: (_observe_many, "observe", "", False),
    TrackMany: (_track_many, "observe", "", False),
    RecordOutcomes: (_outcomes, "outcomes", "", False),
    RecordEngagements: (_engagements, "engagements", "", False),
}


def handle(a: Automation, command: AutomationCommand, ctx: Context, fx: Effects) -> None:
    """Apply one command; a refusal is recorded (event row and `fx.refused`), never raised."""
    handler, name, reason, catch_up = HANDLERS[type(command)]
    if catch_up:
        advance(a, command.at, ctx, fx)
    try:
        handler(a, command, ctx, fx)
    except DripError as err:
        fx.refused.append((command.at, f"{a.id}: {name}: {err}"))
        a.events.add(command.at, "refused", reason=reason)
    _hand_over(a, fx)  # a signal's own tick may have reached end_at


__all__ = ["HANDLERS", "Context", "Effects", "OneBatch", "SavedPage", "advance", "handle"]
