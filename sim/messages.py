"""Messages between the conductor and the actors: frozen, slotted, batch-sized.

They cross threads, so they are immutable; numpy arrays inside are never
written after the message is built. One message carries a whole phase's work
for one actor: never one message per send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core import EventRows, PendingPage, SendBatch, Signal
from sim.behaviour import Reactions


@dataclass(frozen=True, slots=True)
class Outcome:
    """Transport outcomes of one automation's sends (codes: 0 ok, 1 soft, 2 hard)."""

    at: float
    entries: np.ndarray
    done_at: np.ndarray
    code: np.ndarray


@dataclass(frozen=True, slots=True)
class Engagement:
    """Opens or clicks of one automation's sends (one row per event)."""

    at: float
    entries: np.ndarray
    times: np.ndarray
    kind: str  # opened | clicked


@dataclass(frozen=True, slots=True)
class Lifecycle:
    at: float
    command: str  # start, schedule, cancel_schedule, pause, resume, end, edit, delete
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Observe:
    at: float
    signal: Signal


@dataclass(frozen=True, slots=True)
class PendingOp:
    at: float
    op: str  # query | send_now | delete
    label: str = ""
    search: str | None = None
    field: str | None = None
    sort: str = "asc"
    page: int = 1
    select: str | int = "page"  # page | all | a count from the top of the page order


Input = Outcome | Engagement | Lifecycle | Observe | PendingOp


@dataclass(frozen=True, slots=True)
class Step:
    """Advance one automation to `t`: apply `inputs` in order, then send up to `quota`."""

    t: float
    quota: int
    inputs: tuple[Input, ...] = ()
    crash: bool = False  # fault injection: die on receipt, before touching state


@dataclass(frozen=True, slots=True)
class SavedPage:
    label: str
    at: float
    page: PendingPage


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


@dataclass(frozen=True, slots=True)
class Peek:
    """Which subscribers the operator sees first in a pending list (for `who`)."""

    count: int
    search: str | None = None
    field: str | None = None


class Crash(Exception):
    """An injected actor crash (fault injection)."""


@dataclass(frozen=True, slots=True)
class Mutation:
    """A change to the subscriber list at `at` (only the audience actor applies it)."""

    at: float
    op: str  # add | unsubscribe | hard_bounce | delete | set_field | add_to_group
    subscribers: tuple[int, ...] | np.ndarray = ()
    count: int = 0
    source: str = "form"
    field: str = ""
    value: Any = None


@dataclass(frozen=True, slots=True)
class Mutations:
    items: tuple[Mutation, ...]


@dataclass(frozen=True, slots=True)
class Changed:
    """What the list changes mean for triggers, and the status history (for invariants)."""

    signals: tuple[Signal, ...]
    status_log: tuple[tuple[float, int, int], ...]  # (at, subscriber, new status)
    added: tuple[int, ...] = ()


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
