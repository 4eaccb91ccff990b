"""A run, fully described: what the scenario loader produces and the runner consumes.

Times here are offsets in seconds from the run's calendar start, except
`start` itself (an aware datetime) and the instants inside actions' commands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core import AutomationCommand, AutomationConfig
from core.commands import TargetedChange
from sim.behaviour import BehaviourSpec
from sim.population import PopulationSpec
from sim.replay import ReplayInfo
from sim.transport import TransportSpec


@dataclass(frozen=True)
class Who:
    """Whom a subscriber action targets."""

    pending_of: str | None = None
    count: int = 1
    emails: tuple[str, ...] = ()
    field: str | None = None
    value: Any = None
    search: str | None = None


@dataclass(frozen=True)
class LoadSpec:
    kind: str  # subscriber_added | api | replay
    start: float = 0.0
    until: float | None = None
    rate: float | None = None  # per second, Poisson
    count: int | None = None  # a burst at `start`
    automation: str | None = None  # api loads, and a replay's api rows without an automation column
    source: str = "form"
    replay: ReplaySpec | None = None


@dataclass(frozen=True)
class ReplaySpec:
    """A replay load's file (sim/replay.py), checked and summarised when the scenario was loaded."""

    file: Path
    speed: float = 1.0
    scale: float = 1.0
    align: str = "from"  # "day" | "from" | "absolute" (sim/replay.py)
    info: ReplayInfo | None = None
    landing: float | None = 0.0  # where the first row lands, seconds from the run's start (None: absolute)


@dataclass(frozen=True, slots=True)
class ApiCall:
    """An API request naming subscribers (`who`), with optional merge fields for this email only (T2)."""

    at: float
    fields: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Record every automation's statistics now (expectations checked mid-run)."""

    at: float
    label: str


# A scheduled action: a core command for one automation, a list change whose subscribers
# `who` picks when it happens, or one of the simulator's own.
Action = AutomationCommand | TargetedChange | ApiCall | Snapshot


@dataclass(frozen=True)
class ActionSpec:
    command: Action  # its instant is absolute (POSIX seconds)
    automation: str | None = None
    who: Who | None = None
    index: int = 0  # position in the file (ties keep file order)

    @property
    def at(self) -> float:
        return self.command.at


@dataclass(frozen=True)
class Expect:
    metric: str
    op: str
    value: float
    at: float | None = None  # offset: the metric as it was then (a snapshot), else at the end


@dataclass(frozen=True)
class CrashSpec:
    actor: str  # an automation id or "dispatcher"
    at: float | None = None
    every: int | None = None  # every N steps


@dataclass(frozen=True)
class RunSpec:
    name: str
    seed: int
    start: datetime
    duration: float
    timezone: str = "Asia/Seoul"
    clock: str = "virtual"
    time_scale: float = 0.001
    tick: float = 1.0
    population: PopulationSpec = field(default_factory=PopulationSpec)
    behaviour: BehaviourSpec = field(default_factory=BehaviourSpec)
    transport: TransportSpec = field(default_factory=TransportSpec)
    smtp: bool = False
    automations: tuple[AutomationConfig, ...] = ()
    loads: tuple[LoadSpec, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
    expects: tuple[Expect, ...] = ()
    crashes: tuple[CrashSpec, ...] = ()
    source: str = ""  # the file it came from
    # False: a phase at every instant anything happens, nothing decided ahead (slower; the same event
    # log byte for byte: a check of the look-ahead on a user's own scenario, `dripsim run --no-look-ahead`)
    look_ahead: bool = True
    partitions: int = 1  # [dispatcher] partitions: independent senders at rate / partitions each
    partition: int | None = None  # the one partition this engine runs (a partitioned run), or all of them


MAX_BUCKETS = 240  # the report's time series: at most this many buckets over a run


def bucket_width(duration: float, tick: float) -> float:
    """The report's bucket width for a run: even, at most `MAX_BUCKETS`, whole hours from 6 h up
    (whole hours read better against a working day's send windows)."""
    if duration >= 6 * 3600:
        return max(3600.0 * math.ceil(duration / 3600 / MAX_BUCKETS), tick)
    return max(duration / MAX_BUCKETS, tick)
