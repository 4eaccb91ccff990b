"""The domain's vocabulary: typed, frozen commands, list changes and outcomes.

Whatever drives the domain (a test's `Workspace`, the automation actors, the
scenario loader) speaks in these types and nothing else: adding a command
means adding a class here and a handler in `core.handlers`, and mypy catches
every place that forgot it. Times are absolute instants (POSIX seconds).

Frozen and slotted: commands cross threads between the conductor and actors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

import numpy as np

from core.instants import Instant
from core.triggers import Signal, Signals


class Outcome(IntEnum):
    """What the transport said about one send (ST1, U2)."""

    DELIVERED = 0
    SOFT_BOUNCE = 1
    HARD_BOUNCE = 2


# -- lifecycle (L1-L10) ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Start:
    at: Instant
    end_at: Instant | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    at: Instant
    start_at: Instant
    end_at: Instant | None = None


@dataclass(frozen=True, slots=True)
class CancelSchedule:
    at: Instant


@dataclass(frozen=True, slots=True)
class Pause:
    at: Instant


@dataclass(frozen=True, slots=True)
class Resume:
    at: Instant


@dataclass(frozen=True, slots=True)
class End:
    at: Instant


@dataclass(frozen=True, slots=True)
class Edit:
    """L6: new settings (names of `AutomationConfig` fields, already built)."""

    at: Instant
    changes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delete:
    at: Instant


# -- the operator's pending list (P3-P6) ----------------------------------------
@dataclass(frozen=True, slots=True)
class PendingQuery:
    """One page of the pending list as an operator would ask for it (P3, P4)."""

    search: str | None = None
    field: str | None = None
    sort: Literal["asc", "desc"] = "asc"
    page: int = 1


# the shown page, every page, a count from the top, or the entries an operator ticked (by entry number)
Select = Literal["page", "all"] | int | tuple[int, ...]


@dataclass(frozen=True, slots=True)
class QueryPending:
    at: Instant
    query: PendingQuery = PendingQuery()
    label: str = ""


@dataclass(frozen=True, slots=True)
class SendNow:
    at: Instant
    query: PendingQuery = PendingQuery()
    select: Select = "page"


@dataclass(frozen=True, slots=True)
class DeletePending:
    at: Instant
    query: PendingQuery = PendingQuery()
    select: Select = "page"


# -- what happened: signals, transport outcomes, engagement ---------------------
@dataclass(frozen=True, slots=True)
class Observe:
    """A trigger signal offered to an automation (T1-T6)."""

    signal: Signal

    @property
    def at(self) -> Instant:
        return self.signal.at


@dataclass(frozen=True, slots=True)
class ObserveMany:
    """Trigger signals of one kind as columns, offered together (the batch form of `Observe`)."""

    signals: Signals

    @property
    def at(self) -> Instant:
        return float(self.signals.at.min())


@dataclass(frozen=True, slots=True)
class TrackMany:
    """Email signals (sent, opened, clicked) that only arm and cancel this automation's watches (no
    trigger of it matches them), several batches offered together in time order: the input
    order breaks ties. The batch form of their `ObserveMany`s, without cutting them into pieces
    wherever their rows interleave."""

    batches: tuple[Signals, ...]

    @property
    def at(self) -> Instant:
        return min(float(b.at.min()) for b in self.batches)


@dataclass(frozen=True, slots=True)
class RecordOutcomes:
    """Transport outcomes of one automation's sends; row i finished at done_at[i]."""

    at: Instant  # the earliest done_at: when the automation must have seen them
    entries: np.ndarray[Any, Any]
    done_at: np.ndarray[Any, Any]
    outcomes: np.ndarray[Any, Any]  # Outcome values


@dataclass(frozen=True, slots=True)
class RecordEngagements:
    """Opens or clicks of one automation's sends; row i happened at times[i]."""

    at: Instant
    entries: np.ndarray[Any, Any]
    times: np.ndarray[Any, Any]
    kind: Literal["opened", "clicked"]


LifecycleCommand = Start | Schedule | CancelSchedule | Pause | Resume | End | Edit | Delete
PendingCommand = QueryPending | SendNow | DeletePending
AutomationCommand = (LifecycleCommand | PendingCommand | Observe | ObserveMany | TrackMany | RecordOutcomes
                     | RecordEngagements)


# -- changes to the subscriber list (U1, U2, T2) ---------------------------------
@dataclass(frozen=True, slots=True)
class Unsubscribe:
    at: Instant
    subscribers: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class HardBounce:
    at: Instant
    subscribers: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DeleteSubscriber:
    at: Instant
    subscribers: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SetField:
    at: Instant
    field: str
    value: Any
    subscribers: tuple[int, ...] = ()
    times: np.ndarray[Any, Any] | None = None  # each subscriber's instant, when they differ (replayed rows)


@dataclass(frozen=True, slots=True)
class AddToGroup:
    at: Instant
    group: str
    subscribers: tuple[int, ...] = ()
    times: np.ndarray[Any, Any] | None = None  # each subscriber's instant, when they differ (replayed rows)


@dataclass(frozen=True, slots=True)
class ListRows:
    """Replayed `set_field` and `add_to_group` rows as columns, applied in row order: row i gives
    `subscribers[i]`, at `times[i]`, the key `keys[key[i]]`: ("field", name, value) sets a field,
    ("group", name, None) adds to a group. One change for a run of rows, where one per stretch of a key
    (`stretches`) would cost a change, a batch of signals and a message each."""

    at: Instant
    times: np.ndarray[Any, Any]
    subscribers: np.ndarray[Any, Any]
    key: np.ndarray[Any, Any]
    keys: tuple[tuple[str, str, Any], ...]

    def stretches(self) -> list[SetField | AddToGroup]:
        """The same rows as one change per stretch of consecutive rows with one key, in order."""
        if not len(self.key):
            return []
        starts = np.flatnonzero(np.r_[True, self.key[1:] != self.key[:-1]]).tolist()
        out: list[SetField | AddToGroup] = []
        for lo, hi in zip(starts, [*starts[1:], len(self.key)], strict=True):
            kind, name, value = self.keys[int(self.key[lo])]
            subs, times = tuple(self.subscribers[lo:hi].tolist()), self.times[lo:hi] if hi - lo > 1 else None
            at = float(self.times[lo])
            out.append(AddToGroup(at, name, subs, times) if kind == "group" else SetField(at, name, value, subs, times))
        return out


@dataclass(frozen=True, slots=True)
class SubscribersAdded:
    """New subscribers (already in the store) whose sign-up may trigger automations."""

    at: Instant
    subscribers: range
    source: str = "form"
    times: np.ndarray[Any, Any] | None = None  # each one's sign-up instant, when they differ


ListChange = Unsubscribe | HardBounce | DeleteSubscriber | SetField | AddToGroup | ListRows | SubscribersAdded
TargetedChange = Unsubscribe | HardBounce | DeleteSubscriber | SetField | AddToGroup


def hard_bounces(subscribers: np.ndarray[Any, Any], done_at: np.ndarray[Any, Any],
                 outcomes: np.ndarray[Any, Any]) -> list[HardBounce]:
    """U2: the list changes a batch of outcomes causes, one per hard bounce at its own time, in time order."""
    hard = np.flatnonzero(np.asarray(outcomes) == Outcome.HARD_BOUNCE)
    hard = hard[np.argsort(np.asarray(done_at)[hard], kind="stable")]
    return [HardBounce(float(done_at[i]), (int(subscribers[i]),)) for i in hard.tolist()]
