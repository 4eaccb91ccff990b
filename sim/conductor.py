"""The conductor: advances time in phases and moves work between actors.

Theory of operation (bulk-synchronous, so the virtual clock is
deterministic). The conductor is one simpy process. At each phase time t
(the next instant anything can happen, rounded up to the dispatcher's tick):

1. it releases everything due by t: scheduled actions and load arrivals, and
   future happenings (transport outcomes, opens, clicks, unsubscribes);
2. the audience actor applies list changes, in time order, and answers with
   the signals they raise;
3. every automation actor that has work gets one `Step` (its inputs in time
   order and its share of dispatch capacity); all steps run concurrently,
   and the conductor waits for every reply: time never advances while an
   actor is busy;
4. the dispatcher actor pushes the decided sends through the transport;
   outcomes and reactions become future happenings.

Each actor's inputs are sorted by (time, sequence) before they are sent, so
the same scenario and seed give the same event log whatever the threads do.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from typing import Any

import numpy as np
import simpy

from core import (
    AutomationCommand,
    KeyedSignals,
    Observe,
    ObserveMany,
    RecordOutcomes,
    Routes,
    Signals,
    State,
)
from core.triggers import KEYED_KINDS
from sim.actors.supervision import Supervisor
from sim.changes import in_order
from sim.clock import Clock
from sim.draws import Keyed
from sim.future import FutureQueue
from sim.happenings import Happenings, grouped, listened, slack_of
from sim.loads import LoadStream
from sim.messages import (
    Changed,
    Dispatch,
    ListChanges,
    Sent,
    Step,
    StepResult,
    Summarise,
)
from sim.partitions import Directory
from sim.phase_state import Change, Metrics, Put
from sim.planner import watchers_of
from sim.replay import ReplayStream
from sim.replay_window import reached
from sim.runlog import RunLog
from sim.sources import Sources
from sim.spec import ActionSpec, RunSpec, bucket_width
from sim.steps import Steps, ordered, tracking
from sim.windows import Windows

__all__ = ["Conductor", "Metrics"]


class Conductor(Windows, Sources, Happenings, Steps):
    def __init__(self, spec: RunSpec, clock: Clock, supervisor: Supervisor, store: Any,
                 loads: list[LoadStream | ReplayStream], api_rng: np.random.Generator,
                 directory: Directory | None = None, draws: Keyed | None = None) -> None:
        self.spec = spec
        self.draws = draws  # the sends' keyed draws: a window knows which of its sends will leave (`Windows._leaves`)
        self.directory = directory  # a partitioned run: this partition's part of the whole list
        self._api_rng = api_rng
        self.clock = clock
        self.sup = supervisor
        self.store = store  # read here only between steps (who = ... selections)
        self.ids = [a.id for a in spec.automations]
        self.index = {name: i for i, name in enumerate(self.ids)}
        self.t0 = spec.start.timestamp()
        self.end = self.t0 + spec.duration
        self.actions = sorted(spec.actions, key=lambda a: (a.at, a.index))
        self._cursor = 0
        self.loads = loads
        self.future = FutureQueue()
        self.log = RunLog(self.ids)
        self.metrics = Metrics()
        self.busy = False  # inside a phase (or the final drain)
        self.stop_requested = False  # an interrupt came during a phase: stop after it
        self.wakeups: dict[str, float | None] = dict.fromkeys(self.ids)
        # Unknown until each automation's first step: no lookahead before then.
        self.scheduled: dict[str, float | None] = {a.id: -math.inf for a in spec.automations}
        self.timed: dict[str, float | None] = {a.id: -math.inf for a in spec.automations}
        self.backlog: set[str] = set()
        # The bucket holds a tick's worth, and at least one send: below one send per tick (0.2/s at a
        # 1 s tick) it fills up to one every 1/rate seconds instead of never reaching a whole send.
        self.burst = max(spec.transport.rate * max(spec.tick, 1.0), 1.0)
        self.tokens = self.burst  # the bucket starts full
        self.last_t = self.t0
        self.crash_at = sorted((self.t0 + c.at, c.actor) for c in spec.crashes if c.at is not None)
        self.crash_every = {c.actor: c.every for c in spec.crashes if c.every}
        self.steps: dict[str, int] = defaultdict(int)
        self._dispatcher_crash = False
        self._crash_pending: set[str] = set()
        self._snapshots: list[str] = []
        self.configs = {c.id: c for c in spec.automations}
        self._plan(spec, clock.kind, loads)  # the window planner's reach and which horizons apply
        self._bucket = bucket_width(spec.duration, spec.tick)
        self._derive()
        self.windows_on = self._windows_on(spec.look_ahead, clock.kind, spec.smtp, bool(spec.crashes))
        self.ended: frozenset[str] = frozenset()  # L4: known at the start of each phase

    def _derive(self) -> None:
        """What the phases read off the automations' settings, worked out again after every edit: who
        listens to what (`routes`), how long what sends set off may wait for a phase (`slack`), which of its
        sends' rows a trigger observes (`listened`), the delays and windows each replay row kind meets
        (`_reached`), the automations with not-opened deadlines (`watchers`), the signals that only
        touch watches (`_tracking`), and which list signals each matches (`_matches`, filled as met)."""
        self.routes = Routes.of(self.configs[n] for n in self.ids)
        self.slack = slack_of(self.configs, self.most)
        self._reached = reached(self.configs)
        self.listened = listened(self.configs)
        self.watchers = watchers_of(self.configs)
        self._tracking = {n: tracking(c) for n, c in self.configs.items()}
        self._matches = {}

    def process(self) -> Any:
        """The phases, one at each instant `_next_phase` names. An operator's action (the console,
        `sim.session`) is inserted between phases and wakes the process (`simpy.Interrupt`): it plans
        again, as a run whose scenario held the action from the start would have planned."""
        while True:
            t = self._next_phase()
            last = t is None or t > self.end
            try:
                yield self.clock.sleep_until(self.end if last else t)  # type: ignore[arg-type]
            except simpy.Interrupt:
                continue
            if last:
                break
            self.busy = True  # a phase runs to its end: an interrupt waits for it (`stop_requested`)
            self._phase(t)  # type: ignore[arg-type]
            self.busy = False
            if self.stop_requested:
                return
        self.busy = True
        self._drain()
        self.busy = False

    def planned(self) -> float | None:
        """The instant of the next phase, as planned now (None: none before the end)."""
        t = self._next_phase()
        return None if t is None or t > self.end else t

    def insert(self, action: ActionSpec) -> None:
        """An action decided now (by an operator), among those still to come, in (instant, index) order."""
        keys = [(a.at, a.index) for a in self.actions[self._cursor:]]
        self.actions.insert(self._cursor + bisect.bisect(keys, (action.at, action.index)), action)

    def _ticks(self, at: np.ndarray) -> np.ndarray:
        """`_quantize` of every instant of `at`."""
        return self.t0 + np.ceil(np.round((at - self.t0) / self.spec.tick, 9)) * self.spec.tick

    def _quantize(self, t: float) -> float:
        tick = self.spec.tick
        return self.t0 + math.ceil(round((t - self.t0) / tick, 9)) * tick

    def _next_phase(self) -> float | None:
        # A backlogged automation's wakeup is already past: it waits for capacity (last_t + tick).
        times = [w for n, w in self.wakeups.items() if w is not None and n not in self.backlog]
        if self._cursor < len(self.actions):
            times.append(self.actions[self._cursor].at)
        times += [t for load in self.loads if (t := load.next_time()) is not None]
        if (f := self.future.next_time()) is not None:
            first = self.future.next_row()
            times.append(min(f, self.end) if first is not None and first <= self.end else f)  # none left behind
        if self.backlog:
            times.append(self.last_t + self.spec.tick)
        if self.crash_at:
            times.append(self.crash_at[0][0])
        if not times:
            return None
        return max(self._quantize(min(times)), self.last_t if self.metrics.phases else self.t0)

    def _phase(self, t: float) -> None:
        self.metrics.phases += 1
        rate = self.spec.transport.rate
        self.tokens = min(self.burst, self.tokens + rate * (t - self.last_t))
        self.last_t = t
        inputs: dict[str, list[tuple[float, int, AutomationCommand]]] = defaultdict(list)
        mutations: list[Change] = []
        self._snapshots = []
        seq = 0

        def put(name: str, at: float, item: AutomationCommand) -> None:
            nonlocal seq
            seq += 1
            inputs[name].append((at, seq, item))

        for kind, times, cols in grouped(self.future.pop_until(t)):
            self._release(kind, times, cols, put, mutations)
        if inputs and self._changes_coming(t):
            self._flush(mutations, put)
            self._observe_waited(t, inputs)
        acted = False
        while self._cursor < len(self.actions) and self.actions[self._cursor].at <= t:
            action = self.actions[self._cursor]
            self._cursor += 1
            self._arrivals(action.at, False, put, mutations)  # loads first, up to the action's instant
            self._action(action.at, action, put, mutations)
            acted = True
        limit = self._signup_horizon(t)
        # An action's command reads the list when its automation steps (a page of pending entries hides
        # the unsubscribed, P2): no replayed row taken ahead may change it before then.
        self._arrivals(limit, limit == t, put, mutations, api_until=self._api_horizon(t),
                       replay_until=None if acted else self._replay_horizon(t))
        self._flush(mutations, put)
        self._steps(t, inputs)
        if self.can_look_ahead and not self._snapshots:
            self._ahead(t)
        elif self.windows_on and not self._snapshots:
            self._window(t)
        for label in self._snapshots:
            replies = self.sup.ask_all([(name, Summarise()) for name in self.ids])
            self.metrics.snapshots[label] = dict(zip(self.ids, replies, strict=True))

    def _flush(self, mutations: list[Change], put: Put, unmatched: bool = True) -> None:
        """Apply the list changes gathered so far (audience actor) and route their signals (a window
        leaves out the field and group rows no trigger of an automation matches: `unmatched=False`)."""
        if not mutations:
            return
        changed: Changed = self.sup.ask("audience", ListChanges(in_order(mutations)))
        mutations.clear()
        self.metrics.status_log.extend(changed.status_log)
        for origin, reason, n in changed.skipped:
            load = self.loads[origin]
            assert isinstance(load, ReplayStream)
            load.refused[reason] = load.refused.get(reason, 0) + n
        for signal in changed.signals:
            if isinstance(signal, KeyedSignals):
                self._route_keyed(signal, put, unmatched)
                continue
            for name in self.routes.watchers(signal.kind, signal.email):
                if isinstance(signal, Signals):
                    put(name, float(signal.at.min()), ObserveMany(signal))
                else:
                    put(name, signal.at, Observe(signal))

    def _route_keyed(self, signal: KeyedSignals, put: Put, unmatched: bool) -> None:
        """Replayed field and group signals to each automation that listens for their kind: a batch per
        stretch of one key among the rows it hears (those of its triggers' kinds, and only the ones a
        trigger matches when `unmatched` is False)."""
        heard: dict[str, list[int]] = {}
        for k, (kind, _, _) in enumerate(signal.keys):
            for name in self.routes.watchers(KEYED_KINDS[kind]):
                if unmatched or not self._unmatched(name, ObserveMany(signal.template(k))):
                    heard.setdefault(name, []).append(k)
        for name in (n for n in self.ids if n in heard):
            for batch in signal.batches(heard[name]):
                put(name, float(batch.at.min()), ObserveMany(batch))

    def _crashes(self, t: float, active: list[str]) -> set[str]:
        """The actors that crash on this phase's message (fault injection); counts their steps."""
        for name in active:
            self.steps[name] += 1
        if not (self.crash_at or self._crash_pending or self.crash_every):
            return set()
        while self.crash_at and self.crash_at[0][0] <= t:
            self._crash_pending.add(self.crash_at.pop(0)[1])  # crashes on its next message
        if "dispatcher" in self._crash_pending:
            self._dispatcher_crash = True
            self._crash_pending.discard("dispatcher")
        crash = self._crash_pending & set(active)
        self._crash_pending -= crash
        for name in active:
            every = self.crash_every.get(name)
            if every and self.steps[name] % every == 0:
                crash.add(name)
        return crash

    def _take(self, t: float, results: list[StepResult]) -> list[Any]:
        """Record what the steps did (events, wakeups, samples); returns the decided sends."""
        batches: list[Any] = []
        latest: dict[str, StepResult] = {}
        for r in results:
            self.log.add(self.index[r.automation], r.events)
            self.metrics.refused.extend(r.refused)
            self.metrics.pages.extend(r.pages)
            batches.extend(r.batches)
            latest[r.automation] = r
        edited = [r.config for r in results if r.config is not None]
        if edited:
            self.configs.update((c.id, c) for c in edited)
            self._derive()
        changed = False
        for name, r in latest.items():
            self.wakeups[name] = r.next_wakeup
            self.scheduled[name] = r.scheduled
            self.timed[name] = r.timed
            (self.backlog.add if r.backlog > 0 else self.backlog.discard)(name)
            samples = self.metrics.pending[name]
            if not samples or samples[-1][1:] != (r.pending, r.backlog):  # a step function: keep changes only
                samples.append((t, r.pending, r.backlog))
            states = self.metrics.states[name]
            if not states or states[-1][1] != r.state:
                states.append((t, r.state))
                changed = True
        if changed:
            self.ended = frozenset(n for n, s in self.metrics.states.items() if s and s[-1][1] == State.ENDED)
        return batches

    def _dispatch(self, t: float, batches: list[Any]) -> None:
        if batches:
            self.steps["dispatcher"] += 1
            every = self.crash_every.get("dispatcher")
            crash = self._dispatcher_crash or (every is not None and self.steps["dispatcher"] % every == 0)
            self._dispatcher_crash = False
            sent: tuple[Sent, ...] = self.sup.ask("dispatcher", Dispatch(tuple(batches), crash))
            self._record_restarts(t)
            for s in sent:
                self._schedule(s)

    def _record_restarts(self, t: float) -> None:
        while self.sup.restarts:
            actor, reason = self.sup.restarts.pop(0)
            self.metrics.restarts.append((t, actor, reason))

    def _drain(self) -> None:
        """After the end: record the outcomes of sends still in flight; nothing new starts."""
        inputs: dict[str, list[tuple[float, int, AutomationCommand]]] = defaultdict(list)
        seq = 0
        for kind, times, cols in self.future.pop_until(math.inf):
            if kind != "outcome":
                continue
            seq += 1
            name = self.ids[int(cols["automation"][0])]
            first = float(times[0])
            inputs[name].append((first, seq, RecordOutcomes(first, cols["entry"], times, cols["code"])))
        messages = [(n, Step(self.end, 0, ordered(v))) for n, v in inputs.items()]
        for r in self.sup.ask_all(sorted(messages, key=lambda m: self.index[m[0]])):
            self.log.add(self.index[r.automation], r.events)
