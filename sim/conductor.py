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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import simpy

from core import (
    AddToGroup,
    AutomationCommand,
    AutomationConfig,
    Kind,
    Observe,
    ObserveMany,
    Outcome,
    RecordEngagements,
    RecordOutcomes,
    Routes,
    SavedPage,
    SetField,
    Signal,
    Signals,
    State,
    TrackMany,
    Unsubscribe,
    hard_bounces,
)
from core.columns import distinct
from core.commands import TargetedChange
from core.handlers import HANDLERS
from core.triggers import FOREIGN
from sim.actors.supervision import Supervisor
from sim.chunks import Chunks
from sim.clock import Clock
from sim.future import FutureQueue
from sim.loads import LoadStream
from sim.messages import (
    AddSubscribers,
    Ahead,
    Changed,
    Dispatch,
    DueBefore,
    ListChanges,
    Peek,
    Sent,
    Step,
    StepResult,
    Summarise,
    WatchesBefore,
)
from sim.partitions import Directory
from sim.release import ReleaseGuard
from sim.replay import ReplayRows, ReplayStream
from sim.replay_window import PEEK, reached, window_end
from sim.runlog import RunLog
from sim.spec import ActionSpec, ApiCall, RunSpec, Snapshot, bucket_width

Change = TargetedChange | AddSubscribers
# How far ahead a phase may work (sign-ups, sends, happenings waiting for a phase): 5 minutes, or
# 12 ticks when the tick is longer. It is also the resolution of the pending-count samples.
LOOKAHEAD = 300.0
LOOKAHEAD_TICKS = 12
# Beyond it, up to an hour, but never past the report's next bucket edge: what the reach adds never carries
# a pending-count sample across an edge (sign-ups taken ahead, sends decided ahead; the 5 minutes could).
REACH = 3600.0


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


class Conductor:
    def __init__(self, spec: RunSpec, clock: Clock, supervisor: Supervisor, store: Any,
                 loads: list[LoadStream | ReplayStream], api_rng: np.random.Generator,
                 directory: Directory | None = None) -> None:
        self.spec = spec
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
        self.guard = ReleaseGuard(self._quantize, spec.tick)  # signals in their slack before list changes
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
        self.routes = Routes.of(spec.automations)  # rebuilt after every edit
        self._reached = reached(self.configs)  # likewise: per replay row kind, the delays and windows it meets
        self.lookahead = max(LOOKAHEAD, LOOKAHEAD_TICKS * spec.tick) if spec.look_ahead else 0.0
        self.most = max(REACH, self.lookahead) if spec.look_ahead else 0.0  # the farthest `_reach` goes
        self._bucket = bucket_width(spec.duration, spec.tick)
        self.watchers = _watchers(self.configs)  # automations with not_opened / not_clicked deadlines
        self._tracking = {n: _tracking(c) for n, c in self.configs.items()}  # signals that only touch watches
        self.slack = _slack(self.configs, self.most)  # likewise
        self.listened = _listened(self.configs)  # per automation: its rows some trigger observes
        self.ended: frozenset[str] = frozenset()  # L4: known at the start of each phase
        # API calls decided ahead (`_api_horizon`): the same conditions, but repeats are bounded by wakeups;
        # off (no horizon to work out each phase) when no load makes API calls.
        self._api_targets = sorted({load.automation for load in spec.loads if load.kind == "api" and load.automation})
        self.api_ahead = (clock.kind == "virtual" and spec.look_ahead and not spec.smtp and not spec.crashes
                          and bool(self._api_targets) and not any(load.kind == "replay" for load in loads))
        # Replayed rows taken ahead of their ticks (`_replay_horizon`, `sim.replay_window`): one replay load.
        self._replays = [load for load in loads if isinstance(load, ReplayStream)]
        # Off where a row's automation sends at once (no delay, no window): every such row ends a window, so
        # working one out would cost each phase and save none (the shop day's API order confirmations).
        self.replay_ahead = (clock.kind == "virtual" and spec.look_ahead and not spec.smtp and not spec.crashes
                             and len(self._replays) == 1
                             and all(delay > 0 or window is not None
                                     for met in self._reached.values() for delay, window in met))
        self.can_look_ahead = (clock.kind == "virtual" and spec.look_ahead and not spec.smtp and not spec.crashes
                               and not any(load.kind in ("api", "replay") for load in loads)
                               and all(c.repeat is None or c.repeat.at_least() >= self.most
                                       for c in spec.automations))

    # -- the process -------------------------------------------------------
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
        if (g := self.guard.next_phase(self.last_t if self.metrics.phases else -math.inf)) is not None:
            times.append(g)
        if not times:
            return None
        return max(self._quantize(min(times)), self.last_t if self.metrics.phases else self.t0)

    # -- one phase ---------------------------------------------------------
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

        for kind, times, cols in _grouped(self.future.pop_until(t)):
            self._release(kind, times, cols, put, mutations)
        while self._cursor < len(self.actions) and self.actions[self._cursor].at <= t:
            action = self.actions[self._cursor]
            self._cursor += 1
            self._arrivals(action.at, False, put, mutations)  # loads first, up to the action's instant
            self._action(action.at, action, put, mutations)
        limit = self._signup_horizon(t)
        self._arrivals(limit, limit == t, put, mutations, api_until=self._api_horizon(t),
                       replay_until=self._replay_horizon(t))
        self._flush(mutations, put)
        self._steps(t, inputs)
        if self.can_look_ahead and not self._snapshots:
            self._ahead(t)
        for label in self._snapshots:
            replies = self.sup.ask_all([(name, Summarise()) for name in self.ids])
            self.metrics.snapshots[label] = dict(zip(self.ids, replies, strict=True))

    def _flush(self, mutations: list[Change], put: Any) -> None:
        """Apply the list changes gathered so far (audience actor) and route their signals."""
        if not mutations:
            return
        ordered = sorted(mutations, key=lambda m: m.at)  # stable: ties keep the order they were made in
        changed: Changed = self.sup.ask("audience", ListChanges(_coalesced(ordered)))
        mutations.clear()
        self.metrics.status_log.extend(changed.status_log)
        for origin, reason, n in changed.skipped:
            load = self.loads[origin]
            assert isinstance(load, ReplayStream)
            load.refused[reason] = load.refused.get(reason, 0) + n
        for signal in changed.signals:
            for name in self.routes.watchers(signal.kind, signal.email):
                if isinstance(signal, Signals):
                    put(name, float(signal.at.min()), ObserveMany(signal))
                else:
                    put(name, signal.at, Observe(signal))

    def _release(self, kind: str, times: np.ndarray, cols: dict[str, np.ndarray], put: Any,
                 mutations: list[Change]) -> None:
        name = self.ids[int(cols["automation"][0])] if len(times) else ""
        first = float(times.min()) if len(times) else 0.0
        if kind == "outcome":
            code = cols["code"]
            put(name, first, RecordOutcomes(first, cols["entry"], times, code))
            mutations.extend(hard_bounces(cols["subscriber"], times, code))  # U2, each at its own time
            delivered = code == Outcome.DELIVERED
            for k, hit in ((Kind.EMAIL_SENT, delivered), (Kind.EMAIL_FAILED, ~delivered)):
                watchers = self.routes.watchers(k, name)
                if watchers and hit.any():
                    self._email_signals(k, name, times[hit], cols, hit, watchers, put)
        elif kind in ("opened", "clicked"):
            put(name, first, RecordEngagements(first, cols["entry"], times, kind))  # type: ignore[arg-type]
            k = Kind.OPENED if kind == "opened" else Kind.CLICKED
            watchers = self.routes.watchers(k, name)
            if watchers:
                self._email_signals(k, name, times, cols, np.ones(len(times), bool), watchers, put)
        elif kind == "unsubscribe":
            order = np.argsort(times, kind="stable")
            for at, sid in zip(times[order].tolist(), cols["subscriber"][order].tolist(), strict=True):
                mutations.append(Unsubscribe(at, (sid,)))

    def _email_signals(self, kind: Kind, email: str, times: np.ndarray, cols: dict[str, np.ndarray],
                       hit: np.ndarray, watchers: tuple[str, ...], put: Any) -> None:
        link_col = cols.get("link")
        links = None if link_col is None else np.asarray(self.spec.behaviour.links, dtype=object)[link_col[hit]]
        signals = Signals(kind, times, cols["subscriber"][hit].astype(np.int64), email=email,
                          entry=cols["entry"][hit], sent_at=cols["sent_at"][hit], link=links)
        for name in watchers:
            put(name, float(times.min()), ObserveMany(signals))

    # -- sends decided ahead -------------------------------------------------
    def _ahead_limit(self, t: float) -> float:
        """Until when the phases ahead can only decide due sends, changed by nothing else.

        Before the next action, load arrival, time-driven rule of any automation
        (start, end_at, watch, anniversary), or happening that may set off
        something due (its slack), and within the slack of what the sends
        decided now will set off.
        """
        slack = min((v for kinds in self.slack.values() for v in kinds.values()), default=self.most)
        times = [min(self._reach(t), t + slack), math.nextafter(self.end, math.inf)]  # no phase after the end
        if self._cursor < len(self.actions):
            times.append(self.actions[self._cursor].at)
        times += [a for load in self.loads if (a := load.next_time()) is not None]
        if (f := self.future.next_time()) is not None:
            times.append(f)
        if (g := self.guard.next_phase(t)) is not None:
            times.append(g)
        times += [x for x in self.scheduled.values() if x is not None]
        limit = min(times + [x for n, x in self.timed.items() if x is not None and n not in self.watchers])
        for name in sorted(self.watchers, key=self.index.__getitem__):  # their deadlines can be decided ahead
            if not self._deadlines_ahead_ok(name, t, limit) and (x := self.timed[name]) is not None:
                limit = min(limit, x)
        return limit

    def _deadlines_ahead_ok(self, name: str, t: float, limit: float) -> bool:
        """Can this automation's not-opened deadlines up to `limit` be decided ahead? Only when what
        they queue is due at the deadline itself: no delay, and the window open all along."""
        config = self.configs[name]
        window = config.window
        return config.delay.amount == 0 and (window is None or window.open_throughout(t, limit))

    def _cancels(self, name: str, limit: float) -> tuple[Signals, ...]:
        """The opens and clicks waiting for release before `limit` that beat this automation's deadlines,
        as columns per watched email and kind."""
        out: list[Signals] = []
        for trigger in self.configs[name].triggers:
            if trigger.kind not in (Kind.NOT_OPENED, Kind.NOT_CLICKED) or trigger.email not in self.index:
                continue
            kind = Kind.OPENED if trigger.kind is Kind.NOT_OPENED else Kind.CLICKED
            source = self.index[trigger.email]
            for cols in self.future.rows_before(kind.value, limit):
                mine = cols["automation"] == source
                if not mine.any():
                    continue
                links = cols.get("link")
                out.append(Signals(kind, cols["time"][mine], cols["subscriber"][mine].astype(np.int64),
                                   email=trigger.email, entry=cols["entry"][mine], sent_at=cols["sent_at"][mine],
                                   link=None if links is None else
                                   np.asarray(self.spec.behaviour.links, dtype=object)[links[mine]]))
        return tuple(out)

    def _ahead(self, t: float) -> None:
        """Decide now the sends of the phases that would follow, up to the limit, when nothing between
        them could change a decision: each subscriber decided once, none with a waiting unsubscribe or
        hard bounce, and capacity for every send at its own tick. The sends keep their own instants;
        what they set off is released by the next phase, which its slack allows."""
        if self.backlog:
            return
        limit = self._ahead_limit(t)
        wakeups = {n: w for n in self.ids if (w := self.wakeups[n]) is not None and w < limit}
        names = list(wakeups)
        if limit <= t + self.spec.tick or not names or self._quantize(min(wakeups.values())) >= limit:
            return  # nothing would be sent before the limit: no need to look
        peeks = self.sup.ask_all([(n, DueBefore(limit)) for n in names])
        watching = [n for n in names if n in self.watchers]
        for name, deadlines in zip(watching, self.sup.ask_all([(n, WatchesBefore(limit)) for n in watching]),
                                   strict=True):  # each deadline may queue a send due at once: count it
            k = names.index(name)
            when, who = deadlines
            peeks[k] = (np.concatenate([peeks[k][0], who]), np.concatenate([peeks[k][1], when]))
        subs = np.concatenate([p[0] for p in peeks]).astype(np.int64)
        due = np.concatenate([p[1] for p in peeks])
        owner = np.concatenate([np.full(len(p[0]), k) for k, p in enumerate(peeks)])
        tick = self.spec.tick
        ticks = self.t0 + np.ceil(np.round((due - self.t0) / tick, 9)) * tick
        order = np.lexsort((owner, ticks))
        subs, ticks, owner = subs[order], ticks[order], owner[order]
        if not len(ticks) or (ticks <= t).any():  # nothing, or due yet waiting: let the phases decide
            return
        limit = min(limit, self._first_clash(subs, ticks))
        limit = min(limit, self._first_short(ticks))
        limit = min(limit, self._first_give_up(ticks))  # inclusive of the instant itself: ticks < limit
        limit = min(limit, self._first_watched(names, owner, ticks))
        chosen = ticks < limit
        if not chosen.any():
            return
        messages = []
        for k, name in enumerate(names):
            mine = distinct(ticks[chosen & (owner == k)])
            if len(mine):
                cancels = self._cancels(name, limit) if name in self.watchers else ()
                messages.append((name, Ahead(tuple(mine.tolist()), self.ended, cancels)))
        results: list[StepResult] = self.sup.ask_all(messages)
        last = float(ticks[chosen].max())
        batches = self._take(last, results)
        batches.sort(key=lambda b: (b.decided_at, self.index[b.automation]))
        self._spend(batches)
        self.metrics.ahead += len(distinct(ticks[chosen]))
        self._dispatch(last, batches)

    def _first_clash(self, subs: np.ndarray, ticks: np.ndarray) -> float:
        """The first tick whose decision could depend on one before it in the window."""
        first_tick: dict[int, float] = {}
        clash = math.inf
        for sid, q in zip(subs.tolist(), ticks.tolist(), strict=True):
            seen = first_tick.setdefault(sid, q)
            if seen != q:  # decided at two instants: the first send's bounce could drop the second
                clash = min(clash, q)
        limit = float(ticks.max()) + self.spec.tick
        unsubscribes = self.future.rows_before("unsubscribe", limit)
        outcomes = self.future.rows_before("outcome", limit)
        waiting = [c["subscriber"] for c in unsubscribes]
        waiting += [c["subscriber"][c["code"] == Outcome.HARD_BOUNCE] for c in outcomes]
        if waiting:
            changing = np.isin(subs, np.concatenate(waiting))
            if changing.any():
                clash = min(clash, float(ticks[changing].min()))
        # A row happening on a tick is logged, in the per-instant engine, before that tick's sends (its
        # phase releases it first); decided ahead it would be logged after them: stop at that tick.
        on_ticks = [c["time"] for c in unsubscribes + outcomes]
        on_ticks += [c["time"] for kind in ("opened", "clicked") for c in self.future.rows_before(kind, limit)]
        if on_ticks:
            landing = np.isin(np.round(ticks, 6), np.round(np.concatenate(on_ticks), 6))
            if landing.any():
                clash = min(clash, float(ticks[landing].min()))
        return clash

    def _first_watched(self, names: list[str], owner: np.ndarray, ticks: np.ndarray) -> float:
        """Past the first tick with a send whose outcome, open or click sets off a chain (it waits in its
        slack): that send's subscriber may unsubscribe or bounce hard before the chain's signal is released,
        and the release guard (`sim/release.py`) can only ask for a phase later than the window's last."""
        watched = [k for k, n in enumerate(names) if min(self.slack.get(n, {}).values(), default=self.most) < self.most]
        if not watched:
            return math.inf
        mine = np.isin(owner, watched)
        return float(ticks[mine].min()) + self.spec.tick / 2 if mine.any() else math.inf

    def _first_give_up(self, ticks: np.ndarray) -> float:
        """The first instant a send decided in the window could give up at.

        A send that keeps failing soft gives up exactly its retries' backoffs after it left, with no
        latency: on the tick grid whenever it left on it (the first of an idle transport, or the k-th at
        k / rate). The per-instant engine logs that failure before the sends of its tick (its phase
        releases it first), so the window stops short of the earliest such instant. Other outcomes
        carry the transport's latency and land between ticks."""
        tr = self.spec.transport
        if not (tr.transient or tr.failure_windows):
            return math.inf
        return float(ticks.min() + tr.backoff * (2 ** tr.retries - 1))

    def _first_short(self, ticks: np.ndarray) -> float:
        """The first tick the token bucket could not send everything due at."""
        instants, counts = np.unique(ticks, return_counts=True)
        tokens, last = self.tokens, self.last_t
        for q, n in zip(instants.tolist(), counts.tolist(), strict=True):
            tokens = min(self.burst, tokens + self.spec.transport.rate * (q - last))
            if n > int(tokens):
                return float(q)
            tokens, last = tokens - n, q
        return math.inf

    def _spend(self, batches: list[Any]) -> None:
        """The token bucket after the sends decided ahead, each at its own tick."""
        for batch in batches:
            q = batch.decided_at
            self.tokens = min(self.burst, self.tokens + self.spec.transport.rate * (q - self.last_t)) - len(batch)
            self.last_t = q

    def _signup_horizon(self, t: float) -> float:
        """How far past `t` sign-ups may be handled now, without changing any decision (exclusive).

        A sign-up adds a subscriber and offers `subscriber_added`, decided at
        its own instant; what it queues waits in the pending list for the
        phase at its due time, like any entry. Nothing else can see the new
        subscriber or change how the sign-up is decided before the first of:
        the next action, a time-driven rule of an automation that listens to
        sign-ups (start, end_at, a watch, an anniversary), or any automation's
        start, end or anniversary check (which reads the whole list). Outcomes,
        opens and unsubscribes concern subscribers who already had mail. So
        later sign-ups can be taken in this phase. API loads pick from the
        whole list: no lookahead then.
        """
        if any(load.kind in ("api", "replay") for load in self.loads):  # they name subscribers of the list
            return t
        listening = {n for n, c in self.configs.items() if any(tr.kind is Kind.SUBSCRIBER_ADDED for tr in c.triggers)}
        times = [self._reach(t)]
        times += [s for n, s in self.scheduled.items() if s is not None and n not in listening]
        times += [s for n, s in self.timed.items() if s is not None and n in listening]
        if self._cursor < len(self.actions):
            times.append(self.actions[self._cursor].at)
        tr = self.spec.transport
        if tr.transient or tr.failure_windows:  # a send decided from now on gives up no sooner (`_first_give_up`)
            times.append(t + tr.backoff * (2 ** tr.retries - 1))
        return self._before_coinciding(t, max(t, min(times)))

    def _before_coinciding(self, t: float, horizon: float) -> float:
        """`horizon`, or earlier: the first sign-up instant a waiting row happens at too. The per-instant
        engine releases that row before the sign-up (its phase releases first, then arrivals), so the
        sign-up must wait for that phase to keep the log's order at the instant."""
        if horizon <= t:
            return horizon
        signups = [load.times[load.cursor:int(np.searchsorted(load.times, horizon, side="left"))]
                   for load in self.loads if isinstance(load, LoadStream) and load.kind == "subscriber_added"]
        signups = [x for x in signups if len(x)]
        if not signups:
            return horizon
        rows = [c["time"] for kind in ("outcome", "opened", "clicked", "unsubscribe")
                for c in self.future.rows_before(kind, horizon)]
        if not rows:
            return horizon
        at = np.concatenate(signups)
        same = np.isin(np.round(at, 6), np.round(np.concatenate(rows), 6))
        return min(horizon, float(at[same].min())) if same.any() else horizon

    def _reach(self, t: float) -> float:
        """How far past `t` a phase may work ahead, other limits aside: the look-ahead, and beyond it up
        to `REACH` when that stays within the report's bucket (see `REACH`)."""
        edge = self.t0 + math.ceil(round((t - self.t0) / self._bucket, 9) + 1e-9) * self._bucket
        return min(t + self.most, max(t + self.lookahead, edge))

    def _api_horizon(self, t: float) -> float:
        """The last instant (inclusive) whose API arrivals may be decided now, each at its own instant.

        An API call picks a subscriber of the whole list and is decided by the
        list (T6), the automation's state and its own history (duplicates, rate
        limit, repeats): all of which only an action, a load, a release from
        the future queue, a send (its outcome may bounce), or a time-driven
        rule can change. So the calls whose phase would come before the phase
        of the first of those can be taken now, the tick's quantisation kept:
        a call belongs to the phase at its tick, and that phase would first
        apply whatever else falls in the same tick. What the calls queue is due
        a delay later, so the horizon is also within the shortest delay.
        """
        if not self.api_ahead or self.backlog:
            return t
        times = [self._reach(t), self.end]
        times += [t + self.configs[n].delay.at_least() for n in self._api_targets]
        times += [w for w in self.wakeups.values() if w is not None]
        times += [x for x in self.scheduled.values() if x is not None]
        times += [x for x in self.timed.values() if x is not None]
        if (f := self.future.next_row()) is not None:  # the row itself, not the slack it may wait for
            times.append(f)
        if self._cursor < len(self.actions):
            times.append(self.actions[self._cursor].at)
        times += [a for load in self.loads if load.kind != "api" and (a := load.next_time()) is not None]
        first = min(times)
        return t if first <= t else max(t, self._quantize(first) - self.spec.tick)

    def _replay_horizon(self, t: float) -> float:
        """The last instant (inclusive) whose replayed rows may be taken now, each at its own instant.

        As `_api_horizon` for API calls: before the phase of the first thing that could change how a row
        is decided or see it applied early (a wakeup, a due send, a release from the transport, an
        action, a time-driven rule, another load's arrival, the reach), the tick's quantisation kept;
        then `sim.replay_window` cuts it by what the rows themselves could queue and whom they name.
        """
        if not self.replay_ahead or self.backlog:
            return t
        times = [self._reach(t), self.end]
        times += [w for w in self.wakeups.values() if w is not None]
        times += [x for x in self.scheduled.values() if x is not None]
        times += [x for x in self.timed.values() if x is not None]
        if (f := self.future.next_row()) is not None:
            times.append(f)
        if self._cursor < len(self.actions):
            times.append(self.actions[self._cursor].at)
        times += [a for load in self.loads if load.kind != "replay" and (a := load.next_time()) is not None]
        first = min(times)
        if first <= t:
            return t
        limit = self._quantize(first) - self.spec.tick
        if limit <= t:
            return t
        at, kinds, emails, seen_all = self._replays[0].peek(limit, PEEK)
        end = window_end(at, kinds, emails, limit, seen_all, self._reached, self._quantize, self.spec.tick)
        return max(t, end)

    def _arrivals(self, limit: float, inclusive: bool, put: Any, mutations: list[Change],
                  api_until: float | None = None, replay_until: float | None = None) -> None:
        """Load arrivals up to `limit`: sign-ups as one list change per source run, API calls as a batch
        (up to `api_until` inclusive when that is later: see `_api_horizon`), replayed rows in time order
        (up to `replay_until` inclusive when that is later: see `_replay_horizon`)."""
        for load in self.loads:
            if isinstance(load, ReplayStream):
                rows = (load.take_until(replay_until, inclusive=True) if replay_until is not None
                        and replay_until > limit else load.take_until(limit, inclusive=inclusive))
                self._replay(load, rows, put, mutations)
        ahead = api_until is not None and api_until > limit
        taken = [(k, *(load.take_until(api_until, inclusive=True) if ahead and load.kind == "api"  # type: ignore[arg-type]
                       else load.take_until(limit, inclusive=inclusive)))
                 for k, load in enumerate(self.loads) if isinstance(load, LoadStream)]
        signups = [(k, times, counts) for k, times, counts in taken if len(times) and self.loads[k].kind ==
                   "subscriber_added"]
        if signups:
            times = np.concatenate([np.repeat(t, c) for _, t, c in signups])
            which = np.concatenate([np.full(int(c.sum()), k) for k, _, c in signups])
            order = np.lexsort((which, times))  # time order; loads in file order at the same instant
            times, which = times[order], which[order]
            cuts = np.flatnonzero(np.diff(which)) + 1
            for lo, hi in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(times)].tolist(), strict=True):
                mutations.append(AddSubscribers(float(times[lo]), hi - lo, self.loads[int(which[lo])].source,
                                                times[lo:hi]))
        for k, times, counts in taken:
            load = self.loads[k]
            if load.kind == "api" and len(times):
                at = np.repeat(times, counts) if len(times) > 1 or counts[0] > 1 else times
                put(load.automation, float(at[0]), ObserveMany(Signals(Kind.API, at, self._api_picks(at))))

    def _replay(self, load: ReplayStream, rows: ReplayRows, put: Any, mutations: list[Change]) -> None:
        """A replay's rows in time order: runs of sign-ups as one named `AddSubscribers`, the other rows
        after the list changes before them (an API call may name someone who signed up a moment ago)."""
        i, n = 0, len(rows.at)
        while i < n:
            j = i
            while j < n and rows.kind[j] == rows.kind[i]:
                j += 1
            kind = rows.kind[i]
            if kind == "subscriber_added":
                fields = {k: v[i:j] for k, v in rows.fields.items()}
                mutations.append(AddSubscribers(float(rows.at[i]), j - i, load.source, rows.at[i:j],
                                                tuple(rows.email[i:j]), fields, self.loads.index(load),
                                                tuple(rows.copy[i:j].tolist())))
            else:
                self._flush(mutations, put)
                mine = self.directory.mine(rows.email[i:j]).tolist() if self.directory is not None else None
                sids = [self.store.find(e) if mine is None or mine[k] else FOREIGN
                        for k, e in enumerate(rows.email[i:j])]
                load.unknown += sum(s is None for s in sids)
                for k in range(i, j):
                    sid = sids[k - i]
                    if sid == FOREIGN and kind != "api":
                        continue  # another partition's row (an API call still counts against T6 here)
                    if sid is not None:
                        self._replay_row(load, rows, k, sid, put, mutations)
            i = j

    def _replay_row(self, load: ReplayStream, rows: ReplayRows, k: int, sid: int, put: Any,
                    mutations: list[Change]) -> None:
        at, kind = float(rows.at[k]), rows.kind[k]
        if kind == "api":
            name = rows.automation[k] or load.automation
            if name in self.index:
                put(name, at, Observe(Signal(Kind.API, sid, at)))
            elif sid != FOREIGN:
                load.unknown += 1
        elif kind == "unsubscribe":
            mutations.append(Unsubscribe(at, (sid,)))
        elif kind == "add_to_group" and rows.group[k]:
            mutations.append(AddToGroup(at, str(rows.group[k]), (sid,)))
        elif kind == "set_field":
            mutations.extend(SetField(at, name, column[k], (sid,))
                             for name, column in rows.fields.items() if column[k] is not None)

    def _api_picks(self, at: np.ndarray) -> np.ndarray:
        """A random subscriber per API call, drawn once per phase the calls would have had (their tick),
        so taking calls ahead keeps the random stream."""
        if float(at[-1]) <= self._quantize(float(at[0])):  # one tick (calls are in time order)
            return self._random_subscribers(len(at))
        ticks = self._ticks(at)
        cuts = np.flatnonzero(np.diff(ticks)) + 1
        return np.concatenate([self._random_subscribers(hi - lo) for lo, hi in
                               zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(at)].tolist(), strict=True)])

    def _random_subscribers(self, count: int) -> np.ndarray:
        n = len(self.store) if self.directory is None else self.directory.total  # the whole list
        if not n:
            return np.full(count, -1, np.int64)
        if count == 1:  # the same draw as integers(0, n, 1) (tested), without numpy's size handling: 3 us less
            picked = np.array([self._api_rng.integers(0, n)], np.int64)
        else:
            picked = self._api_rng.integers(0, n, count)
        return picked if self.directory is None else self.directory.local(picked)

    def _action(self, at: float, action: ActionSpec, put: Any, mutations: list[Change]) -> None:
        command = action.command
        if isinstance(command, Snapshot):
            self._snapshots.append(command.label)
        elif isinstance(command, ApiCall):
            for sid in self._who(action, mutations, put):
                put(action.automation, at, Observe(Signal(Kind.API, sid, at, overrides=command.fields)))
        elif isinstance(command, TargetedChange):
            mutations.append(replace(command, subscribers=tuple(s for s in self._who(action, mutations, put)
                                                                if s != FOREIGN)))
        else:
            put(action.automation, at, command)

    def _who(self, action: ActionSpec, mutations: list[Change], put: Any) -> list[int]:
        who = action.who
        if who is None:
            return []
        self._flush(mutations, put)  # earlier changes first: the operator sees the list as it is now
        if who.pending_of:
            return list(self.sup.ask(who.pending_of, Peek(who.count, who.search)))
        if who.emails:
            mine = self.directory.mine(list(who.emails)).tolist() if self.directory is not None else None
            found = [self.store.find(e) if mine is None or mine[k] else FOREIGN for k, e in enumerate(who.emails)]
            return [-1 if s is None else s for s in found]
        if who.field:
            column = self.store.fields.get(who.field, [])
            hits = [i for i, v in enumerate(column) if v is not None and str(v) == str(who.value)]
            return hits[: who.count] if who.count else hits
        return []

    # -- steps and dispatch ------------------------------------------------
    def _steps(self, t: float, inputs: dict[str, list[tuple[float, int, AutomationCommand]]]) -> None:
        active = [n for n in self.ids if inputs.get(n) or n in self.backlog
                  or ((w := self.wakeups[n]) is not None and w <= t)]
        crash = self._crashes(t, active)
        capacity = int(self.tokens)
        # Capacity goes to the automations that can have a send due now, max-min fair by what each has
        # due once its inputs are in. One stepped only for what cannot queue anything due now (transport
        # records; signals with a delay to wait) takes none: when such inputs are released (in this phase,
        # or a later one within their slack) must not change how a tick's sends are shared, or deciding
        # ahead would not be exact. With several such automations, their inputs go first with nothing
        # decided (`Step` with no capacity), so each decides its sends once, with its whole grant.
        candidates = [n for n in active if n in self.backlog or ((w := self.wakeups[n]) is not None and w <= t)
                      or self._may_queue_now(n, t, inputs.get(n, []))]
        # An operator command catches up with sending before it applies (`HANDLERS`): then the inputs must
        # come with capacity, shared evenly as the grants cannot wait for what each has due.
        first_due = len(candidates) > 1 and not any(_catches_up(x) for n in candidates for _, _, x in inputs.get(n, []))
        grants = dict(zip(candidates, _split(capacity, len(candidates)), strict=True)) if not first_due else {}
        messages = [(n, Step(t, grants.get(n, 0), _ordered(inputs.get(n, []), self._tracking[n]), self.ended,
                             crash=n in crash)) for n in active]
        results: list[StepResult] = self.sup.ask_all(messages) if messages else []
        if first_due:
            due = {r.automation: r.backlog for r in results}
            grants = dict(zip(candidates, _fair(capacity, [due.get(n, 0) for n in candidates]), strict=True))
            results += self.sup.ask_all([(n, Step(t, g, ended=self.ended)) for n, g in grants.items() if g > 0])
        used = sum(sum(len(b) for b in r.batches) for r in results)
        leftover = capacity - used
        waiting = {r.automation: r.backlog for r in results}  # the latest step of each says what still waits
        hungry = [n for n in self.ids if waiting.get(n, 0) > 0]
        if leftover > 0 and hungry:  # drops took no capacity: what is left goes to those still waiting
            again = [(n, Step(t, g, ended=self.ended))
                     for n, g in zip(hungry, _fair(leftover, [waiting[n] for n in hungry]), strict=True) if g > 0]
            results += self.sup.ask_all(again)
        self._record_restarts(t)
        self._absorb(t, results)

    def _may_queue_now(self, name: str, t: float, items: list[tuple[float, int, AutomationCommand]]) -> bool:
        """Could these inputs queue a send due at once? Not transport records, nor watch tracking, nor
        signals whose least delay ends after `t` (a signal released late, within its slack but past its
        tick, may queue a send due now: it shares the tick's capacity as it would have)."""
        for at, _, item in items:
            if isinstance(item, RecordOutcomes | RecordEngagements | TrackMany):
                continue
            if isinstance(item, Observe | ObserveMany) and at + self.configs[name].delay.at_least() > t:
                continue  # a delay still to wait, or signals taken ahead of their instants: nothing due now
            return True
        return False

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

    def _absorb(self, t: float, results: list[StepResult]) -> None:
        batches = self._take(t, results)
        # The transport takes a phase's sends automation by automation (as the look-ahead hands a tick's
        # over): an automation's later round joins its first, so the order never depends on the rounds.
        batches.sort(key=lambda b: self.index[b.automation])
        if batches:
            self.tokens -= sum(len(b) for b in batches)
            self._dispatch(t, batches)

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
            self.routes = Routes.of(self.configs[n] for n in self.ids)
            self.slack = _slack(self.configs, self.most)
            self.listened = _listened(self.configs)
            self._reached = reached(self.configs)
            self.watchers = _watchers(self.configs)
            self._tracking = {n: _tracking(c) for n, c in self.configs.items()}
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

    def _schedule(self, s: Sent) -> None:
        a = self.index[s.automation]
        self.metrics.sent[s.automation].add(sent_at=s.sent_at, due=s.due, done_at=s.done_at,
                                            delivered=s.code == Outcome.DELIVERED, entry=s.entries,
                                            subscriber=s.subscribers, occurrence=s.occurrence)
        n = len(s.entries)
        slack = self.slack.get(s.automation, {})
        self.future.push("outcome", s.done_at, slack.get("outcome", 0.0), automation=np.full(n, a, np.int16),
                         entry=s.entries,
                         subscriber=s.subscribers, code=s.code, sent_at=s.sent_at)
        r = s.reactions
        for kind, idx, at in (("opened", r.open_index, r.open_at), ("clicked", r.click_index, r.click_at)):
            cols = {"automation": np.full(len(idx), a, np.int16), "entry": s.entries[idx],
                    "subscriber": s.subscribers[idx], "sent_at": s.sent_at[idx]}
            if kind == "clicked":
                cols["link"] = r.click_link
            self.future.push(kind, at, slack.get(kind, 0.0), **cols)
        self.future.push("unsubscribe", r.unsubscribe_at, self.most,
                         automation=np.full(len(r.unsubscribe_index), a, np.int16),
                         subscriber=s.subscribers[r.unsubscribe_index])
        self._guard(s, slack)

    def _guard(self, s: Sent, slack: dict[str, float]) -> None:
        """Tell the release guard of this dispatch's signals that wait in a slack, and its list changes."""
        r, subs = s.reactions, s.subscribers.astype(np.int64)
        for kind, idx, at in (("outcome", None, s.done_at), ("opened", r.open_index, r.open_at),
                              ("clicked", r.click_index, r.click_at)):
            # Any row a trigger observes, also one whose slack is the whole reach (a delay of REACH or
            # more): an unsubscribe released with it would be applied first (found by the oracle).
            if kind in self.listened.get(s.automation, ()):
                self.guard.signals(subs if idx is None else subs[idx], at, slack.get(kind, self.most))
        hard = s.code == Outcome.HARD_BOUNCE
        self.guard.changes(np.concatenate([subs[r.unsubscribe_index], subs[hard]]),
                           np.concatenate([r.unsubscribe_at, s.done_at[hard]]))

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
        messages = [(n, Step(self.end, 0, _ordered(v))) for n, v in inputs.items()]
        for r in self.sup.ask_all(sorted(messages, key=lambda m: self.index[m[0]])):
            self.log.add(self.index[r.automation], r.events)


def _ordered(items: list[tuple[float, int, AutomationCommand]],
             tracking: Callable[[Signals], bool] = lambda s: False) -> tuple[AutomationCommand, ...]:
    """An actor's inputs in (time, sequence) order: the order it must apply them in.

    Transport outcomes and engagement change nothing a trigger decision reads,
    so they go first (outcomes, then opens and clicks, which always follow
    their send's outcome; each in time order) and never cut a batch. A batch
    of signals (`ObserveMany`) stands for one input per row, each with the
    batch's sequence number: it is cut wherever another input falls between
    its rows, so every row is handled exactly where it would be alone. When
    every other input is a batch of signals that only arm and cancel the
    automation's watches (`tracking`), they go as one `TrackMany`, which cuts
    them only at the automation's own time-driven instants.
    """
    if len(items) == 1:  # nothing to order
        return (items[0][2],)
    records = sorted((x for x in items if isinstance(x[2], RecordOutcomes | RecordEngagements)),
                     key=lambda x: (isinstance(x[2], RecordEngagements), x[0], x[1]))  # an open follows its outcome
    rest = [x for x in items if not isinstance(x[2], RecordOutcomes | RecordEngagements)]
    head = tuple(item for _, _, item in records)
    if len(rest) > 1:
        batches = [x.signals for _, _, x in sorted(rest, key=lambda x: x[1]) if isinstance(x, ObserveMany)]
        if len(batches) == len(rest) and all(tracking(b) for b in batches):
            # sends, opens and clicks that only arm and cancel watches: one input, cut only where it must be
            return (*head, TrackMany(tuple(batches)))
    if sum(isinstance(item, ObserveMany) for _, _, item in rest) == 0 or len(rest) == 1:
        return head + tuple(item for _, _, item in sorted(rest, key=lambda x: (x[0], x[1])))
    times, seqs, owner, rows = [], [], [], []
    for k, (at, seq, item) in enumerate(rest):
        n = len(item.signals) if isinstance(item, ObserveMany) else 1
        times.append(item.signals.at if isinstance(item, ObserveMany) else np.array([at]))
        seqs.append(np.full(n, seq))
        owner.append(np.full(n, k))
        rows.append(np.arange(n))
    t, q, o, r = (np.concatenate(x) for x in (times, seqs, owner, rows))
    order = np.lexsort((r, q, t))
    o, r = o[order], r[order]
    cuts = np.flatnonzero(np.diff(o)) + 1
    out: list[AutomationCommand] = list(head)
    for lo, hi in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(o)].tolist(), strict=True):
        item = rest[int(o[lo])][2]
        out.append(ObserveMany(item.signals.take(r[lo:hi])) if isinstance(item, ObserveMany) else item)
    return tuple(out)


def _tracking(config: AutomationConfig) -> Callable[[Signals], bool]:
    """Does a batch of email signals only arm or cancel this automation's watches (no trigger of it
    matches that kind of signal for that email)?"""
    matched = {(t.kind, t.email) for t in config.triggers}
    watched = {t.email for t in config.triggers if t.kind in (Kind.NOT_OPENED, Kind.NOT_CLICKED)}

    def only_watches(s: Signals) -> bool:
        return (s.kind in (Kind.EMAIL_SENT, Kind.OPENED, Kind.CLICKED) and s.email in watched
                and (s.kind, s.email) not in matched)

    return only_watches


def _watchers(configs: dict[str, AutomationConfig]) -> set[str]:
    return {n for n, c in configs.items() if any(t.kind in (Kind.NOT_OPENED, Kind.NOT_CLICKED) for t in c.triggers)}


def _slack(configs: dict[str, AutomationConfig], cap: float) -> dict[str, dict[str, float]]:
    """Per automation, how long its sends' outcomes, opens and clicks may wait for a phase.

    What they set off is due at the earliest a delay later (email_sent,
    email_failed, opened, clicked triggers on that email), or is a watch
    deadline `within` later (not_opened, not_clicked, armed by the outcome).
    A phase run for any other reason first releases everything due by then,
    so a watch never expires before the open that cancels it.
    """
    slack: dict[str, dict[str, float]] = {name: dict.fromkeys(("outcome", "opened", "clicked"), cap)
                                          for name in configs}
    by_kind = {Kind.EMAIL_SENT: "outcome", Kind.EMAIL_FAILED: "outcome", Kind.OPENED: "opened",
               Kind.CLICKED: "clicked"}
    for config in configs.values():
        for trigger in config.triggers:
            if trigger.email not in slack:
                continue
            mine = slack[trigger.email]
            if trigger.kind in by_kind:
                key = by_kind[trigger.kind]
                mine[key] = min(mine[key], config.delay.at_least())
            elif trigger.kind in (Kind.NOT_OPENED, Kind.NOT_CLICKED):
                mine["outcome"] = min(mine["outcome"], trigger.within)
    return slack


def _listened(configs: dict[str, AutomationConfig]) -> dict[str, set[str]]:
    """Per automation, which of its sends' rows (outcome, opened, clicked) some trigger observes."""
    by_kind = {Kind.EMAIL_SENT: "outcome", Kind.EMAIL_FAILED: "outcome", Kind.OPENED: "opened",
               Kind.CLICKED: "clicked", Kind.NOT_OPENED: "outcome", Kind.NOT_CLICKED: "outcome"}
    out: dict[str, set[str]] = {name: set() for name in configs}
    for config in configs.values():
        for trigger in config.triggers:
            if trigger.email in out and trigger.kind in by_kind:
                out[trigger.email].add(by_kind[trigger.kind])
    return out


def _grouped(pieces: list[tuple[str, np.ndarray, dict[str, np.ndarray]]]) -> list[tuple[str, np.ndarray,
                                                                                      dict[str, np.ndarray]]]:
    """Released pieces joined per (kind, automation): one input per automation and kind in a phase."""
    groups: dict[tuple[str, int], list[tuple[np.ndarray, dict[str, np.ndarray]]]] = {}
    for kind, times, cols in pieces:
        groups.setdefault((kind, int(cols["automation"][0])), []).append((times, cols))
    out = []
    for (kind, _), parts in groups.items():
        if len(parts) == 1:
            out.append((kind, *parts[0]))
        else:
            out.append((kind, np.concatenate([p[0] for p in parts]),
                        {c: np.concatenate([p[1][c] for p in parts]) for c in parts[0][1]}))
    return out


def _coalesced(changes: list[Change]) -> tuple[Change, ...]:
    """Consecutive sign-ups of one source as one `AddSubscribers` (one draw, one batch of signals)."""
    out: list[Change] = []
    run: list[AddSubscribers] = []

    def close() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            times = np.concatenate([np.full(a.count, a.at) if a.times is None else a.times for a in run])
            out.append(AddSubscribers(run[0].at, len(times), run[0].source, times))
        run.clear()

    for change in changes:
        if not isinstance(change, AddSubscribers) or change.emails is not None:  # named sign-ups stay apart
            close()
            out.append(change)
            continue
        if run and change.source != run[0].source:
            close()
        run.append(change)
    close()
    return tuple(out)


def _catches_up(command: AutomationCommand) -> bool:
    """An operator command that first sends what is due (see `core.handlers.HANDLERS`)."""
    entry = HANDLERS.get(type(command))
    return entry is not None and entry[3]


def _fair(total: int, demands: list[int]) -> list[int]:
    """`total` shared max-min fairly: no one gets more than it asks, the rest goes evenly (`_split`)
    to those still asking, until nothing is left or every demand is met."""
    grants = [0] * len(demands)
    left, asking = max(total, 0), [i for i, d in enumerate(demands) if d > 0]
    while left > 0 and asking:
        still = []
        for i, share in zip(asking, _split(left, len(asking)), strict=True):
            give = min(share, demands[i] - grants[i])
            grants[i] += give
            left -= give
            if grants[i] < demands[i]:
                still.append(i)
        if len(still) == len(asking):  # everyone took its whole share: nothing is left
            break
        asking = still
    return grants


def _split(total: int, parts: int) -> list[int]:
    """`total` in `parts` near-equal whole shares, the larger ones first (deterministic)."""
    if parts == 0:
        return []
    base, extra = divmod(max(total, 0), parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]

