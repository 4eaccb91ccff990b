"""Messages between the conductor and the actors: frozen, slotted, batch-sized.

They cross threads, so they are immutable; numpy arrays inside are never
written after the message is built. One message carries a whole phase's work
for one actor: never one message per send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core import (
    AutomationCommand,
    AutomationConfig,
    EventRows,
    KeyedSignals,
    ListChange,
    OneBatch,
    SavedPage,
    SendBatch,
    Signal,
    Signals,
)
from sim.behaviour import Reactions


@dataclass(frozen=True, slots=True)
class Step:
    """Advance one automation to `t`: handle `inputs` in order, then send up to `quota`."""

    t: float
    quota: int
    inputs: tuple[AutomationCommand, ...] = ()
    ended: frozenset[str] = frozenset()  # automations ended before this phase (L4)
    crash: bool = False  # fault injection: die on receipt, before touching state


@dataclass(frozen=True, slots=True)
class StepResult:
    automation: str
    batches: tuple[SendBatch, ...]
    backlog: int  # entries due at t left for lack of quota
    next_wakeup: float | None
    events: EventRows
    refused: tuple[tuple[float, str], ...] = ()
    pages: tuple[SavedPage, ...] = ()
    state: str = ""
    pending: int = 0
    config: AutomationConfig | None = None  # new settings, when this step edited them
    scheduled: float | None = None  # Automation.next_scheduled()
    timed: float | None = None  # Automation.next_timed()


@dataclass(frozen=True, slots=True)
class DueBefore:
    """Which subscribers have entries due before `before`, when, and which occurrence of their send
    (a read: nothing changes)."""

    before: float


@dataclass(frozen=True, slots=True)
class Ahead:
    """Decide the sends due at each of `ticks` now, as the phases at those instants would."""

    ticks: tuple[float, ...]
    ended: frozenset[str] = frozenset()
    cancels: tuple[Signals, ...] = ()  # opens/clicks waiting for release (columns): they beat deadlines


@dataclass(frozen=True, slots=True)
class Window:
    """The phases at `ticks`, each with its inputs (`inputs[k]`, in order) and then what is due at that
    tick, with capacity for all of it (`sim.windows`)."""

    ticks: tuple[float, ...]
    inputs: tuple[tuple[AutomationCommand, ...], ...] | OneBatch
    ended: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class WatchesBefore:
    """(deadline, subscriber) of the not-opened deadlines before `before` (a read)."""

    before: float


@dataclass(frozen=True, slots=True)
class Page:
    """A page of a pending list as the product shows it (the console): P1-P3, read only."""

    search: str | None = None
    field: str | None = None
    sort: str = "asc"
    page: int = 1


@dataclass(frozen=True, slots=True)
class Peek:
    """Which subscribers the operator sees first in a pending list (for `who`)."""

    count: int
    search: str | None = None
    field: str | None = None


class Crash(Exception):
    """An injected actor crash (fault injection)."""


@dataclass(frozen=True, slots=True)
class AddSubscribers:
    """`count` sign-ups at `at` (or at `times`, one each): the audience actor draws them from the population."""

    at: float
    count: int
    source: str = "form"
    times: np.ndarray | None = None
    emails: tuple[str, ...] | None = None  # named sign-ups (a replay): these addresses, not drawn ones
    fields: dict[str, list[Any]] | None = None  # their field values, a list per field
    origin: int = -1  # the load they come from (a replay's index among the loads), for its counts
    copies: tuple[bool, ...] | None = None  # which are a `scale` copy's derived address


@dataclass(frozen=True, slots=True)
class ListChanges:
    """List changes in time order (only the audience actor applies them)."""

    items: tuple[ListChange | AddSubscribers, ...]


@dataclass(frozen=True, slots=True)
class Changed:
    """What the list changes mean for triggers, and the status history (for invariants)."""

    signals: tuple[Signal | Signals | KeyedSignals, ...]
    status_log: tuple[tuple[float, int, int], ...]  # (at, subscriber, new status)
    skipped: tuple[tuple[int, str, int], ...] = ()  # (origin, reason, count): named sign-ups not added


@dataclass(frozen=True, slots=True)
class Dispatch:
    batches: tuple[SendBatch, ...]
    crash: bool = False  # fault injection: die on receipt, before sending anything


@dataclass(frozen=True, slots=True)
class Sent:
    """One batch after the transport: per send when it left, finished, and how."""

    automation: str
    entries: np.ndarray
    subscribers: np.ndarray
    due: np.ndarray
    occurrence: np.ndarray
    sent_at: np.ndarray
    done_at: np.ndarray
    code: np.ndarray
    reactions: Reactions  # indices are rows of this batch


@dataclass(frozen=True, slots=True)
class Summarise:
    """Ask an automation actor for its statistics now (expectations with `at`)."""
