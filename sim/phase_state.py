"""What the conductor's parts share: the run's state between phases, declared once.

The conductor (`sim.conductor.Conductor`) is one object made of parts with one job each: the phase
loop (`sim.conductor`), the window planner (`sim.planner`: how far a phase may work ahead), the
sources (`sim.sources`: loads, replays, actions), the happenings (`sim.happenings`: what sends set
off, scheduled and released) and the steps (`sim.steps`: the automations' inputs in order, and the
dispatcher's capacity shared among them). Each part is a class over this one, so each reads the same
state and calls the others' methods through the names declared here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core import AutomationCommand, AutomationConfig, Routes, SavedPage, Signals
from core.commands import ListRows, TargetedChange
from core.timing import SendWindow
from sim.actors.supervision import Supervisor
from sim.chunks import Chunks
from sim.clock import Clock
from sim.draws import Keyed
from sim.future import FutureQueue
from sim.loads import LoadStream
from sim.messages import AddSubscribers, StepResult
from sim.partitions import Directory
from sim.replay import ReplayRows, ReplayStream
from sim.runlog import RunLog
from sim.spec import ActionSpec, RunSpec

Change = TargetedChange | ListRows | AddSubscribers
# An automation's inputs of a phase: (instant, sequence, command), put in (time, sequence) order to step.
Inputs = dict[str, list[tuple[float, int, AutomationCommand]]]
Put = Callable[[str, float, AutomationCommand], None]


@dataclass
class Metrics:
    """What the report needs, gathered as the run goes."""

    phases: int = 0
    ahead: int = 0  # instants whose sends were decided ahead, in an earlier phase
    pending: dict[str, list[tuple[float, int, int]]] = field(
        default_factory=lambda: defaultdict(list))  # (t, pending entries, overdue waiting for capacity)
    states: dict[str, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))
    sent: dict[str, Chunks] = field(  # per send: handed over, due, outcome known, delivered or not
        default_factory=lambda: defaultdict(lambda: Chunks("sent_at", "due", "done_at", "delivered", "entry",
                                                           "subscriber", "occurrence")))
    status_log: list[tuple[float, int, int]] = field(default_factory=list)
    refused: list[tuple[float, str]] = field(default_factory=list)
    pages: list[SavedPage] = field(default_factory=list)
    restarts: list[tuple[float, str, str]] = field(default_factory=list)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> automation -> summary


class ConductorState:
    """The state the conductor's parts read and change (set by `Conductor.__init__`)."""

    spec: RunSpec
    directory: Directory | None
    draws: Keyed | None
    clock: Clock
    sup: Supervisor
    store: Any
    ids: list[str]
    index: dict[str, int]
    t0: float
    end: float
    actions: list[ActionSpec]
    _cursor: int
    loads: list[LoadStream | ReplayStream]
    _replays: list[ReplayStream]
    _api_rng: np.random.Generator
    future: FutureQueue
    log: RunLog
    metrics: Metrics
    wakeups: dict[str, float | None]
    scheduled: dict[str, float | None]  # the next start or end of each automation (None: none)
    timed: dict[str, float | None]  # the next time-driven rule of each (end_at, a watch, an anniversary)
    backlog: set[str]
    burst: float
    tokens: float
    last_t: float
    configs: dict[str, AutomationConfig]
    routes: Routes
    slack: dict[str, dict[str, float]]
    listened: dict[str, set[str]]
    watchers: set[str]
    _tracking: dict[str, Callable[[Signals], bool]]
    _matches: dict[tuple[Any, ...], bool]
    _reached: dict[str, tuple[tuple[float, SendWindow | None], ...]]
    _snapshots: list[str]
    ended: frozenset[str]
    lookahead: float
    most: float
    _bucket: float
    _api_targets: list[str]

    # The phase loop's, used by every part.
    def _quantize(self, t: float) -> float:
        raise NotImplementedError

    def _ticks(self, at: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _flush(self, mutations: list[Change], put: Put, unmatched: bool = True) -> None:
        raise NotImplementedError

    def _crashes(self, t: float, active: list[str]) -> set[str]:
        raise NotImplementedError

    def _absorb(self, t: float, results: list[StepResult]) -> None:
        raise NotImplementedError

    def _take(self, t: float, results: list[StepResult]) -> list[Any]:
        raise NotImplementedError

    def _dispatch(self, t: float, batches: list[Any]) -> None:
        raise NotImplementedError

    def _record_restarts(self, t: float) -> None:
        raise NotImplementedError

    # The sources', used by the windows.
    def _replay(self, load: ReplayStream, rows: ReplayRows, put: Put, mutations: list[Change]) -> None:
        raise NotImplementedError

    def _arrivals(self, limit: float, inclusive: bool, put: Put, mutations: list[Change],
                  api_until: float | None = None, replay_until: float | None = None) -> None:
        raise NotImplementedError

    def _api_picks(self, calls: list[np.ndarray], signups: np.ndarray) -> list[np.ndarray]:
        raise NotImplementedError
