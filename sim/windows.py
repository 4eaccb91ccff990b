"""Windows: a phase decides the next ticks' rows and sends together, each at its own tick.

The rows are one replay's, or the rate loads' (sign-ups naming the ids they will get, API calls the
subscribers they will pick, drawn as their phases would draw them) when one of those makes API calls.
After a phase at `t`, the per-instant engine would run a phase at every later tick with a row or a
due send. A window runs those phases' work at once, as long as nothing inside it could tell:

- each automation gets one `Window`: for every tick of the window in order, the inputs of that tick
  (its rows' signals, each at its own instant), then what is due at that tick, as the phase at that
  tick would have handled them (`core.handlers.advance_window`, as columns when it can); the sends of
  every tick go to the dispatcher together, in (tick, automation) order, as the look-ahead hands
  decided ticks over;
- the rows' list changes are applied before any automation decides, and a decision reads the status
  at its own instant; so the window stops before the tick at which a subscriber is named again after a
  send of theirs that will make them leave (an unsubscribe, a hard bounce: drawn here as the dispatcher
  will draw them, `_leaves`), or named by a row changing what a filter reads after an earlier naming
  (`_first_conflict`);
- the token bucket has a send for everything that could be due at each tick (due entries, and every
  row's possible send at its exact due instant: its delay, moved to the send window's opening), so
  no tick's capacity is short and every automation gets all it has due, as its phase would have;
- it ends before the next action, time-driven rule, release, other load arrival, repeat period and
  the reach (`WindowPlanner._ahead_limit`), and where the look-ahead's own cuts would stop it (rows
  waiting in the future queue on a tick, a give-up);
- it stops before a row naming a subscriber with an outcome, open or click waiting in its slack that a
  trigger observes (`_waiting_signals`): the per-instant engine observes that signal first.

Off with watches (their deadlines are decided by `_ahead`), partitions, SMTP, crashes and the real clock.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core import AutomationCommand, Kind, Observe, ObserveMany, OneBatch, Signals
from core.columns import distinct
from core.instants import zone
from sim.draws import Purpose
from sim.loads import LoadStream
from sim.messages import DueBefore, StepResult, Window
from sim.phase_state import Inputs
from sim.planner import WindowPlanner
from sim.replay import ReplayStream
from sim.replay_window import RAISES
from sim.steps import ordered

FIELD_ROWS = ("set_field", "add_to_group")  # the rows that change a field or a group
READ_BY_FILTERS = (*FIELD_ROWS, "subscriber_added")  # the rows that set what a filter reads
LIST_KINDS = (Kind.FIELD_UPDATED, Kind.GROUP_ADDED, Kind.SUBSCRIBER_ADDED)  # signals of list changes
PEEKS = (32, 128, 512)  # rows looked at per window, more while the window reaches past those read
REPLAY_PEEKS = (*PEEKS, 2048)  # a replay's rows are read in columns: sparse ones are worth reading far


class Windows(WindowPlanner):
    """The window planner, extended over a replay's rows and the sends they queue."""

    def _windows_on(self, look_ahead: bool, clock: str, smtp: bool, crashes: bool) -> bool:
        """Can this run use windows? The virtual clock, one partition, and rows from one replay load, or
        from rate loads one of which makes API calls (sign-ups alone go through `_ahead`)."""
        if not (look_ahead and clock == "virtual" and not smtp and not crashes and self.directory is None):
            return False
        rates = [load for load in self.loads if isinstance(load, LoadStream)]
        self._window_loads: tuple[LoadStream | ReplayStream, ...] = tuple(self._replays) if not rates else tuple(rates)
        return (len(self._replays) == 1 and not rates) or (not self._replays and any(x.kind == "api" for x in rates))

    def _peek_rows(self, limit: float, most: int) -> tuple[np.ndarray, list[str], list[int | str], bool]:
        """The next rows at or before `limit` (at most about `most`), not taken: instants, kinds, whom each
        names (a subscriber id, or the address of one not in the list yet), and whether that is all."""
        if self._replays:
            at, kinds, emails, seen_all = self._replays[0].peek(limit, most)
            keys: list[int | str] = [e.lower() if sid is None else sid
                                     for sid, e in zip(self.store.find_many(emails), emails, strict=True)]
            return at, kinds, keys, seen_all
        return self._peek_rates(limit, most)

    def _peek_rates(self, limit: float, most: int) -> tuple[np.ndarray, list[str], list[int | str], bool]:
        """`_peek_rows` over rate loads: sign-ups name the ids they will get, API calls the subscribers
        they will pick (drawn from a copy of the random stream, as `_arrivals` will draw them)."""
        times, which, bound = [], [], math.inf
        for k, load in enumerate(self.loads):
            assert isinstance(load, LoadStream)
            end = int(np.searchsorted(load.times, limit, side="right"))
            hi = min(end, load.cursor + most)
            if hi < end:
                bound = min(bound, float(load.times[hi - 1]))
            times.append(np.repeat(load.times[load.cursor:hi], load.counts[load.cursor:hi]))
            which.append(np.full(len(times[-1]), k))
        at, k_of = np.concatenate(times), np.concatenate(which)
        order = np.lexsort((k_of, at))  # time order; loads in file order at the same instant (`_arrivals`)
        at, k_of = at[order], k_of[order]
        if bound < math.inf:
            keep = at <= bound
            at, k_of = at[keep], k_of[keep]
        kinds: list[str] = [self.loads[k].kind for k in k_of.tolist()]
        signup = np.array([kind == "subscriber_added" for kind in kinds], bool)
        keys = np.zeros(len(at), np.int64)
        keys[signup] = len(self.store) + np.arange(int(signup.sum()))
        api = ~signup
        if api.any():
            mine = [m for k in range(len(self.loads)) if (m := api & (k_of == k)).any()]  # per API load
            state = self._api_rng.bit_generator.state
            picks = self._api_picks([at[m] for m in mine], self._ticks(at[signup]))
            self._api_rng.bit_generator.state = state
            for m, got in zip(mine, picks, strict=True):
                keys[m] = got
        named: list[int | str] = list(keys.tolist())
        return at, kinds, named, bound == math.inf

    def _take_rows(self, last: float, put: Any, mutations: list[Any]) -> None:
        """The rows up to `last` (inclusive), as the phases at their ticks would take them."""
        if self._replays:
            load = self._replays[0]
            self._replay(load, load.take_until(last, inclusive=True), put, mutations)
        else:
            self._arrivals(last, True, put, mutations)

    def _window(self, t: float) -> bool:
        """Run the window after the phase at `t`, if one is worth it; True when it decided anything."""
        if self.backlog or self.watchers:  # watches: their deadlines go through `_ahead`'s rules
            return False
        limit = min(self._ahead_limit(t, skip=self._window_loads), t + self._shortest_repeat())
        if limit <= t + self.spec.tick:
            return False
        dues = self._dues(limit)
        peeks = REPLAY_PEEKS if self._replays else PEEKS  # rate loads redraw their API picks per peek
        for most in peeks:  # few rows first: most windows end within them
            at, kinds, row_keys, seen_all = self._peek_rows(limit, most)
            if not len(at) and not len(dues[1]):
                return False
            row_ticks = self._ticks(at) if len(at) else np.zeros(0)
            unseen = limit if seen_all or not len(at) else float(row_ticks[-1])  # rows past it not read yet
            keys, ticks, owner, sends, fields, leaves = self._named(*dues, at, row_ticks, kinds, row_keys)
            if (ticks <= t).any():
                return False  # something due yet waiting: the phases decide it
            end = min(limit, unseen, _first_conflict(keys, ticks, leaves, fields))
            if sends.any():
                end = min(end, self._first_short(ticks[sends]), self._first_give_up(ticks[sends]))
            if end < unseen or most == peeks[-1]:
                break
        chosen = ticks < end
        if len(distinct(ticks[chosen])) < 2:
            return False  # a tick at most: the next phase does as much, and the waiting rows need not be read
        known = np.array([k if isinstance(k, int) else -1 for k in keys], np.int64)
        mine = chosen & (known >= 0)
        if mine.any():  # read last: the rows waiting in the future queue are many, and the window is known short
            end = self._waiting_cuts(end, known, ticks, mine, sends)
            chosen = ticks < end
        if not chosen.any() or (not (chosen & sends).any() and not (row_ticks < end).any()):
            return False
        last = float(ticks[chosen].max())
        return self._run_window(last, ticks[chosen & sends], owner[chosen & sends])

    def _waiting_cuts(self, end: float, known: np.ndarray, ticks: np.ndarray, mine: np.ndarray,
                      sends: np.ndarray) -> float:
        """`end`, or the first tick naming someone with a change waiting (`_first_clash`), or a row naming
        someone with a signal waiting (`_waiting_signals`)."""
        end = min(end, self._first_clash(known[mine], ticks[mine], renamed=False))  # in tick order
        rows = mine & ~sends
        if rows.any() and len(waiting := self._waiting_signals(end)):
            hit = rows & np.isin(known, waiting)
            if hit.any():
                end = min(end, float(ticks[hit].min()))
        return end

    def _changes_coming(self, t: float) -> bool:
        """Could this phase change a field or a group, or run an action (which may), before it observes
        what it released? Rows taken ahead count (up to the reach)."""
        if self._cursor < len(self.actions) and self.actions[self._cursor].at <= t:
            return True
        return any(k in FIELD_ROWS for load in self._replays for k in load.peek(t + self.most, 64)[1])

    def _observe_waited(self, t: float, inputs: Inputs) -> None:
        """The released signals of ticks before `t` (they waited in their slack: no phase ran at their
        ticks), observed first, each at its tick, as the phases at those ticks would have: before this
        phase's rows and actions change a field a trigger's filter reads. (A status needs no care: a
        trigger reads it at its own instant.)"""
        messages = []
        for name in self.ids:
            signals = [x for x in inputs.get(name, []) if isinstance(x[2], Observe | ObserveMany)]
            per_tick = _by_tick(signals, self._ticks)
            early = sorted(q for q in per_tick if q < t)
            if not early:
                continue
            inputs[name] = [x for x in inputs[name] if not isinstance(x[2], Observe | ObserveMany)]
            inputs[name] += [x for q, items in per_tick.items() if q >= t for x in items]
            messages.append((name, Window(tuple(early), tuple(ordered(per_tick[q], self._tracking[name])
                                                              for q in early), self.ended)))
        if messages:
            self._absorb(t, self.sup.ask_all(messages))

    def _unmatched(self, name: str, item: AutomationCommand) -> bool:
        """Is this a batch of list signals none of the automation's triggers matches (a field set to
        another value, another group)? It changes nothing there (only email kinds arm or cancel a
        watch), so a window leaves it out."""
        if not isinstance(item, ObserveMany) or item.signals.kind not in LIST_KINDS or not len(item.signals):
            return False
        s = item.signals
        key = (name, s.kind, s.source, s.field, str(s.value), s.group)
        known = self._matches.get(key)
        if known is None:
            first = s.row(0)
            known = self._matches[key] = any(t.matches(first) for t in self.configs[name].triggers)
        return not known

    def _shortest_repeat(self) -> float:
        """A send's next occurrence is due a repeat period after it: a window stays shorter."""
        periods = [c.repeat.at_least() for c in self.configs.values() if c.repeat is not None]
        return min(periods, default=math.inf)

    def _dues(self, limit: float) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """The entries due before `limit`: subscriber, tick, automation index, and whether the send
        could make its subscriber leave (`_leaves`)."""
        names = [n for n in self.ids if (w := self.wakeups[n]) is not None and w < limit]
        peeks = self.sup.ask_all([(n, DueBefore(limit)) for n in names]) if names else []
        if not peeks:
            return [], np.zeros(0), np.zeros(0, np.int64), np.zeros(0, bool)
        subs = [int(s) for p in peeks for s in p[0].tolist()]
        due = np.concatenate([p[1] for p in peeks])
        owner = np.concatenate([np.full(len(p[0]), self.index[n]) for n, p in zip(names, peeks, strict=True)])
        leaves = np.concatenate([self._leaves(n, p[0], p[1], p[2]) for n, p in zip(names, peeks, strict=True)])
        return subs, self._ticks(due) if len(due) else due, owner, leaves

    def _named(self, due_keys: list[int], due_ticks: np.ndarray, due_owner: np.ndarray, due_leaves: np.ndarray,
               at: np.ndarray, row_ticks: np.ndarray, kinds: list[str], row_keys: list[int | str]) -> tuple[
                   list[int | str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Everything the window would name, in tick order: (subscriber key, tick, automation, is a send,
        is a row changing what a filter reads, is a send that could make its subscriber leave). A row
        names its subscriber at its tick (automation -1, the list change), for each automation listening
        to its kind at its tick (the trigger's decision) and at the exact due tick of the send it could
        queue (whether or not it fires)."""
        keys: list[int | str] = list(due_keys)
        ticks, owner, sends = [due_ticks], [due_owner], [np.ones(len(due_keys), bool)]
        keys += row_keys
        ticks.append(row_ticks)
        owner.append(np.full(len(at), -1))
        sends.append(np.zeros(len(at), bool))
        leaves = [due_leaves, np.zeros(len(at), bool)]
        filtered = any(c.filter is not None for c in self.configs.values())
        fields = [np.zeros(len(due_keys), bool),
                  np.array([filtered and k in READ_BY_FILTERS for k in kinds], bool)]
        for name, config in self.configs.items():
            listens = {row for row, raised in RAISES.items() if any(tr.kind is raised for tr in config.triggers)}
            mine = np.array([k in listens for k in kinds], bool)
            if not mine.any():
                continue
            due = config.delay.after_many(at[mine], zone(config.timezone))
            if config.window is not None:
                due = config.window.next_open_many(due)
            named = [row_keys[i] for i in np.flatnonzero(mine).tolist()]
            n = int(mine.sum())
            keys += named + named
            ticks += [row_ticks[mine], self._ticks(due)]
            owner.append(np.full(2 * n, self.index[name]))
            sends += [np.zeros(n, bool), np.ones(n, bool)]
            fields.append(np.zeros(2 * n, bool))
            known = np.array([k if isinstance(k, int) else -1 for k in named], np.int64)
            leave = np.ones(n, bool)  # one not in the list yet: its id is not known here
            if (known >= 0).any():  # a trigger's entry is its send's first occurrence
                leave[known >= 0] = self._leaves(name, known[known >= 0], due[known >= 0],
                                                 np.zeros(int((known >= 0).sum()), np.int64))
            leaves += [np.zeros(n, bool), leave]
        all_ticks, all_owner, all_sends = np.concatenate(ticks), np.concatenate(owner), np.concatenate(sends)
        order = np.argsort(all_ticks, kind="stable")
        return ([keys[i] for i in order.tolist()], all_ticks[order], all_owner[order], all_sends[order],
                np.concatenate(fields)[order], np.concatenate(leaves)[order])

    def _leaves(self, name: str, subs: np.ndarray, due: np.ndarray, occurrence: np.ndarray) -> np.ndarray:
        """Could each of these sends make its subscriber leave the list: an unsubscribe of its reader, a
        hard bounce (U2, with auto-delete)? Their draws are keyed by the send (`sim.draws.Keyed.sends`),
        as the dispatcher will draw them, so only the sends that would are counted (all of a repeating
        automation's: its occurrences are numbered as they go)."""
        tr, unsubscribe = self.spec.transport, self.spec.behaviour.unsubscribe
        hard = self.store.auto_delete and (tr.hard_bounce > 0 or tr.permanent > 0)
        if not (unsubscribe > 0 or hard):
            return np.zeros(len(subs), bool)
        if self.draws is None or self.configs[name].repeat is not None:
            return np.ones(len(subs), bool)
        keys = self.draws.sends(name, np.asarray(subs, np.int64), np.asarray(due, np.float64), occurrence)
        out: np.ndarray = self.draws.uniform(keys, Purpose.UNSUBSCRIBE) < unsubscribe
        if hard:
            out |= self.draws.uniform(keys, Purpose.BOUNCE) < tr.hard_bounce
            for attempt in range(tr.retries + 1) if tr.permanent > 0 else ():
                out |= self.draws.uniform(keys, Purpose.SMTP_ATTEMPT + attempt) < tr.permanent
        return out

    def _run_window(self, last: float, send_ticks: np.ndarray, send_owner: np.ndarray) -> bool:
        """Take the rows up to `last`, step every automation through its ticks, dispatch what they decided."""
        inputs: Inputs = {}
        mutations: list[Any] = []
        seq = 0

        def put(name: str, at: float, item: AutomationCommand) -> None:
            nonlocal seq
            seq += 1
            inputs.setdefault(name, []).append((at, seq, item))

        self._take_rows(last, put, mutations)
        self._flush(mutations, put, unmatched=False)  # `_unmatched` would leave them out below
        messages = []
        for name in self.ids:
            k = self.index[name]
            mine = {q for q in send_ticks[send_owner == k].tolist() if q <= last}
            items = [x for x in inputs.get(name, []) if not self._unmatched(name, x[2])]
            batch = _one_batch(items)
            if batch is not None:  # the common case: no need to cut it per tick unless the actor must
                ticks = self._ticks(batch.at)
                instants = sorted(set(distinct(ticks).tolist()) | mine)
                messages.append((name, Window(tuple(instants), OneBatch(batch, ticks), self.ended)))
                continue
            per_tick = _by_tick(items, self._ticks)
            instants = sorted(set(per_tick) | mine)
            if not instants:
                continue
            messages.append((name, Window(tuple(instants), tuple(ordered(per_tick.get(q, []), self._tracking[name])
                                                                 for q in instants), self.ended)))
        if not messages:
            return False
        results: list[StepResult] = self.sup.ask_all(messages)
        batches = self._take(last, results)
        batches.sort(key=lambda b: (b.decided_at, self.index[b.automation]))
        self._spend(batches)
        self.metrics.ahead += len(distinct(np.asarray([q for _, m in messages for q in m.ticks])))
        self._dispatch(last, batches)
        return True


def _first_conflict(keys: list[int | str], ticks: np.ndarray, leaves: np.ndarray, fields: np.ndarray) -> float:
    """The first tick whose decision could read what an earlier tick of the window changes (`keys` in
    tick order): a subscriber named again after a send that could make them leave (`leaves`: its
    outcome is known only after the window), or a row changing what a filter reads (`fields`) of a
    subscriber named at an earlier tick (every row's change is applied before the window decides).
    A status change by a row needs no cut: a decision reads the status at its own instant."""
    first: dict[int | str, float] = {}
    left: dict[int | str, float] = {}
    for key, q, leave, field in zip(keys, ticks.tolist(), leaves.tolist(), fields.tolist(), strict=True):
        seen = first.setdefault(key, q)
        if seen != q and (field or left.get(key, math.inf) < q):
            return float(q)
        if leave:
            left.setdefault(key, q)
    return math.inf


def _one_batch(items: list[tuple[float, int, AutomationCommand]]) -> Signals | None:
    """An automation's inputs of the window as one batch of signals, in the order they were made (a
    row's tick, then its time, decides where it is handled), or None when they are not all signals
    that join (`Signals.join`)."""
    if not items or not all(isinstance(x[2], ObserveMany) for x in items):
        return None
    return Signals.join([x[2].signals for x in sorted(items, key=lambda x: x[1])])  # type: ignore[union-attr]


def _by_tick(items: list[tuple[float, int, AutomationCommand]],
             ticks_of: Any) -> dict[float, list[tuple[float, int, AutomationCommand]]]:
    """An automation's inputs of the window, per tick of the phase that would have released them
    (`ticks_of`: the tick of each instant of an array): a batch of signals is cut at tick boundaries
    (each piece keeps its sequence number and its rows' order)."""
    out: dict[float, list[tuple[float, int, AutomationCommand]]] = {}
    for at, seq, item in items:
        if isinstance(item, ObserveMany):
            s: Signals = item.signals
            ticks = ticks_of(s.at)
            if len(ticks) == 1 or ticks.min() == ticks.max():
                out.setdefault(float(ticks[0]), []).append((float(s.at[0]), seq, item))
                continue
            order = np.argsort(ticks, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(ticks[order]) != 0])
            for lo, hi in zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True):
                rows = order[lo:hi]
                out.setdefault(float(ticks[rows[0]]), []).append((float(s.at[rows[0]]), seq,
                                                                  ObserveMany(s.take(rows))))
        else:
            when = item.signal.at if isinstance(item, Observe) else at
            out.setdefault(float(ticks_of(np.array([when]))[0]), []).append((at, seq, item))
    return out
