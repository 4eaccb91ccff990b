"""The window planner: how far a phase at `t` may work ahead of its instant, and the sends it decides
ahead.

A phase at `t` applies what is due by `t`; it may also take what comes later when nothing the
per-instant engine (`--no-look-ahead`) would do in between could change a decision or the log's order:

- **sign-ups** (`_signup_horizon`): up to the next action or time-driven rule that could see them;
- **API calls** (`_api_horizon`) and **replayed rows** (`_replay_horizon`, with `sim.replay_window`):
  each still decided at its own instant, up to the tick before the first wakeup, release, action,
  time-driven rule or other arrival, and within what they could queue;
- **due sends** (`_ahead`): the sends of the ticks that follow, decided now, when each subscriber is
  decided once, none has an unsubscribe or a hard bounce waiting, the token bucket has a send for each
  at its own tick (`_first_short`), and nothing they set off could come back before the window ends.
  What they set off waits for the next phase: a trigger reads the status at its own instant
  (`SubscriberStore.subscribed_at`), so a bounce or an unsubscribe released with it is not seen early.

Every horizon is capped by the reach (`_reach`: `LOOKAHEAD`, then up to `REACH` within the report's
bucket). `docs/architecture.md` ("Why deciding ahead is exact") gives the argument; the oracle
(`benchmarks/oracle.py`) checks it byte for byte.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core import (
    AutomationConfig,
    Kind,
    Outcome,
    Signals,
)
from core.columns import distinct
from sim.loads import LoadStream
from sim.messages import (
    Ahead,
    DueBefore,
    StepResult,
    WatchesBefore,
)
from sim.phase_state import ConductorState
from sim.replay import ReplayStream
from sim.replay_window import PEEK, reached, window_end
from sim.spec import RunSpec

# How far ahead a phase may work (sign-ups, sends, happenings waiting for a phase): 5 minutes, or
# 12 ticks when the tick is longer. It is also the resolution of the pending-count samples.
LOOKAHEAD = 300.0
LOOKAHEAD_TICKS = 12
# Beyond it, up to an hour, but never past the report's next bucket edge: what the reach adds never carries
# a pending-count sample across an edge (sign-ups taken ahead, sends decided ahead; the 5 minutes could).
REACH = 3600.0


class WindowPlanner(ConductorState):
    """How far each phase may work ahead of its instant without changing a decision."""

    def _plan(self, spec: RunSpec, clock: str, loads: list[LoadStream | ReplayStream]) -> None:
        """How far a phase may reach (`lookahead`, `most`: none with `--no-look-ahead`), and which of the
        horizons can be worked out for this run: sends decided ahead (`can_look_ahead`), API calls
        decided ahead (`api_ahead`), replayed rows taken ahead (`replay_ahead`). Each is off where it
        could not be exact, or where working it out would cost every phase and save none."""
        self.lookahead = max(LOOKAHEAD, LOOKAHEAD_TICKS * spec.tick) if spec.look_ahead else 0.0
        self.most = max(REACH, self.lookahead) if spec.look_ahead else 0.0  # the farthest `_reach` goes
        self._reached = reached(self.configs)
        # API calls decided ahead (`_api_horizon`): the same conditions, but repeats are bounded by wakeups;
        # off (no horizon to work out each phase) when no load makes API calls.
        self._api_targets = sorted({load.automation for load in spec.loads if load.kind == "api" and load.automation})
        self.api_ahead = (clock == "virtual" and spec.look_ahead and not spec.smtp and not spec.crashes
                          and bool(self._api_targets) and not any(load.kind == "replay" for load in loads))
        # Replayed rows taken ahead of their ticks (`_replay_horizon`, `sim.replay_window`): one replay load.
        self._replays = [load for load in loads if isinstance(load, ReplayStream)]
        # Off where a row's automation sends at once (no delay, no window): every such row ends a window, so
        # working one out would cost each phase and save none (the shop day's API order confirmations).
        self.replay_ahead = (clock == "virtual" and spec.look_ahead and not spec.smtp and not spec.crashes
                             and len(self._replays) == 1
                             and all(delay > 0 or window is not None
                                     for met in self._reached.values() for delay, window in met))
        self.can_look_ahead = (clock == "virtual" and spec.look_ahead and not spec.smtp and not spec.crashes
                               and not any(load.kind in ("api", "replay") for load in loads)
                               and all(c.repeat is None or c.repeat.at_least() >= self.most
                                       for c in spec.automations))

    def _ahead_limit(self, t: float, skip: tuple[object, ...] = ()) -> float:
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
        times += [a for load in self.loads if all(load is not x for x in skip) and (a := load.next_time()) is not None]
        if (f := self.future.next_time()) is not None:
            times.append(f)
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

    def _first_clash(self, subs: np.ndarray, ticks: np.ndarray, *, renamed: bool = True) -> float:
        """The first tick whose decision could depend on one before it in the window (`renamed`: a
        subscriber decided at two ticks counts; a window cuts those by `sim.windows._first_conflict`)."""
        first_tick: dict[int, float] = {}
        clash = math.inf
        for sid, q in zip(subs.tolist(), ticks.tolist(), strict=True) if renamed else ():
            seen = first_tick.setdefault(sid, q)
            if seen != q:  # decided at two instants: the first send's bounce could drop the second
                clash = min(clash, q)
        limit = float(ticks.max()) + self.spec.tick
        unsubscribes = self.future.rows_before("unsubscribe", limit, ("subscriber",))
        outcomes = self.future.rows_before("outcome", limit, ("subscriber", "code"))
        waiting = [c["subscriber"] for c in unsubscribes]
        waiting += [c["subscriber"][c["code"] == Outcome.HARD_BOUNCE] for c in outcomes]
        if waiting:
            changing = np.isin(subs, np.concatenate(waiting))
            if changing.any():
                clash = min(clash, float(ticks[changing].min()))
        # A row happening on a tick is logged, in the per-instant engine, before that tick's sends (its
        # phase releases it first); decided ahead it would be logged after them: stop at that tick.
        on_ticks = [c["time"] for c in unsubscribes + outcomes]
        on_ticks += [c["time"] for kind in ("opened", "clicked") for c in self.future.rows_before(kind, limit, ())]
        if on_ticks:
            landing = np.isin(np.round(ticks, 6), np.round(np.concatenate(on_ticks), 6))
            if landing.any():
                clash = min(clash, float(ticks[landing].min()))
        return clash

    def _waiting_signals(self, limit: float) -> np.ndarray:
        """The subscribers with a row some trigger observes (an outcome, open or click) waiting in the
        future queue before `limit`: the per-instant engine observes it at its own tick, before any
        later row naming them is applied (a field the trigger's filter reads, a call of the same
        automation that T5 would then see first)."""
        out = []
        for kind in ("outcome", "opened", "clicked"):
            sources = [self.index[n] for n, kinds in self.listened.items() if kind in kinds and n in self.index]
            rows = self.future.rows_before(kind, limit, ("subscriber", "automation")) if sources else []
            if rows:
                subs = np.concatenate([c["subscriber"] for c in rows])
                out.append(subs[np.isin(np.concatenate([c["automation"] for c in rows]), sources)])
        return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)

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
                for c in self.future.rows_before(kind, horizon, ())]
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


def watchers_of(configs: dict[str, AutomationConfig]) -> set[str]:
    return {n for n, c in configs.items() if any(t.kind in (Kind.NOT_OPENED, Kind.NOT_CLICKED) for t in c.triggers)}
