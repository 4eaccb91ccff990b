"""The sources of a phase's inputs: load arrivals (sign-ups as list changes, API calls as batches of
signals, each drawn as its own tick would draw it), replayed rows in time order, and the scenario's
actions (lifecycle commands, API calls and list changes to named or selected subscribers).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from core import (
    Kind,
    ListRows,
    Observe,
    ObserveMany,
    Signal,
    Signals,
    Unsubscribe,
)
from core.commands import TargetedChange
from core.triggers import FOREIGN
from sim.loads import LoadStream
from sim.messages import (
    AddSubscribers,
    Peek,
)
from sim.phase_state import Change, ConductorState, Put
from sim.replay import ReplayRows, ReplayStream
from sim.spec import ActionSpec, ApiCall, Snapshot


class Sources(ConductorState):
    def _arrivals(self, limit: float, inclusive: bool, put: Put, mutations: list[Change],
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
        calls = [(k, np.repeat(times, counts) if len(times) > 1 or counts[0] > 1 else times)
                 for k, times, counts in taken if self.loads[k].kind == "api" and len(times)]
        if calls:
            joined = [self._ticks(np.repeat(t, c)) for _, t, c in signups]
            signup_ticks = np.sort(np.concatenate(joined)) if joined else np.zeros(0)
            for (k, at), picks in zip(calls, self._api_picks([at for _, at in calls], signup_ticks), strict=True):
                name = self.loads[k].automation
                assert name is not None, "an API load names its automation (the loader requires it)"
                put(name, float(at[0]), ObserveMany(Signals(Kind.API, at, picks)))

    def _replay(self, load: ReplayStream, rows: ReplayRows, put: Put, mutations: list[Change]) -> None:
        """A replay's rows in time order: runs of sign-ups as one named `AddSubscribers`, the other rows
        after the sign-ups before them are applied (a row may name someone who signed up a moment ago);
        an API call, which goes to its automation at once, after every list change before it."""
        i, n = 0, len(rows.at)
        signups = any(isinstance(m, AddSubscribers) for m in mutations)  # waiting to be applied
        while i < n:
            j = i
            kind = rows.kind[i]
            same = LIST_ROWS if kind in LIST_ROWS else (kind,)  # field and group rows: one change together
            while j < n and rows.kind[j] in same:
                j += 1
            if kind == "subscriber_added":
                fields = {k: v[i:j] for k, v in rows.fields.items()}
                mutations.append(AddSubscribers(float(rows.at[i]), j - i, load.source, rows.at[i:j],
                                                tuple(rows.email[i:j]), fields, self.loads.index(load),
                                                tuple(rows.copy[i:j].tolist())))
                signups = True
            else:
                if kind == "api" or signups:
                    self._flush(mutations, put)  # the sign-ups first: a row may name someone who just signed up
                    signups = False
                sids = self._resolved(rows.email[i:j])
                load.unknown += sum(s is None for s in sids)
                if kind in LIST_ROWS:
                    change = _list_rows(rows, i, sids)
                    if change is not None:
                        mutations.append(change)
                    i = j
                    continue
                if kind == "api":
                    self._api_rows(load, rows, i, sids, put)
                    i = j
                    continue
                assert kind == "unsubscribe", kind  # the replay's row kinds (`sim.replay.KINDS`)
                mutations += [Unsubscribe(float(rows.at[k]), (sid,)) for k, sid in enumerate(sids, start=i)
                              if sid is not None and sid != FOREIGN]  # FOREIGN: another partition's row
            i = j

    def _resolved(self, emails: list[str]) -> list[int | None]:
        """Each address's subscriber id: None when not in the list, `FOREIGN` when another partition's."""
        found: list[int | None] = self.store.find_many(emails)
        if self.directory is None:
            return found
        mine = self.directory.mine(emails).tolist()
        return [s if m else FOREIGN for s, m in zip(found, mine, strict=True)]

    def _api_rows(self, load: ReplayStream, rows: ReplayRows, i: int, sids: list[int | None], put: Put) -> None:
        """A run of replayed API calls (from row `i`) as batches of signals: one per stretch of rows
        naming the same automation (a call of another partition's subscriber still counts against T6)."""
        calls: list[tuple[str, float, int]] = []
        for k, sid in enumerate(sids, start=i):
            if sid is None:
                continue
            name = rows.automation[k] or load.automation
            if name in self.index:
                calls.append((name, float(rows.at[k]), sid))
            elif sid != FOREIGN:
                load.unknown += 1
        for lo, hi in _stretches([c[0] for c in calls]):
            at = np.asarray([c[1] for c in calls[lo:hi]], np.float64)
            who = np.asarray([c[2] for c in calls[lo:hi]], np.int64)
            put(calls[lo][0], float(at[0]), ObserveMany(Signals(Kind.API, at, who)))

    def _api_picks(self, calls: list[np.ndarray], signups: np.ndarray) -> list[np.ndarray]:
        """A random subscriber per API call of each load (`calls`: their instants, in time order), drawn
        once per phase and load the calls would have had: tick by tick, the loads in file order within a
        tick, each from the list as that phase had it (`signups`: the ticks of the sign-ups taken with
        the calls, sorted; a phase draws before it adds its own). So taking calls ahead keeps the random
        stream, whatever the number of loads."""
        base = len(self.store)
        if len(calls) == 1 and float(calls[0][-1]) <= self._quantize(float(calls[0][0])):  # one tick, one load
            q = self._quantize(float(calls[0][0]))
            return [self._random_subscribers(len(calls[0]), base + int(np.searchsorted(signups, q)))]
        draws: list[tuple[float, int, int, int]] = []  # (tick, load, first call, past the last call)
        for k, at in enumerate(calls):
            ticks = self._ticks(at)
            cuts = np.flatnonzero(np.diff(ticks)) + 1
            draws += [(float(ticks[lo]), k, lo, hi)
                      for lo, hi in zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(at)].tolist(), strict=True)]
        picks = [np.empty(len(at), np.int64) for at in calls]
        for q, k, lo, hi in sorted(draws):
            picks[k][lo:hi] = self._random_subscribers(hi - lo, base + int(np.searchsorted(signups, q)))
        return picks

    def _random_subscribers(self, count: int, size: int) -> np.ndarray:
        n = size if self.directory is None else self.directory.total  # the whole list
        if not n:
            return np.full(count, -1, np.int64)
        if count == 1:  # the same draw as integers(0, n, 1) (tested), without numpy's size handling: 3 us less
            picked = np.array([self._api_rng.integers(0, n)], np.int64)
        else:
            picked = self._api_rng.integers(0, n, count)
        return picked if self.directory is None else self.directory.local(picked)

    def _action(self, at: float, action: ActionSpec, put: Put, mutations: list[Change]) -> None:
        command = action.command
        if isinstance(command, Snapshot):
            self._snapshots.append(command.label)
        elif isinstance(command, ApiCall):
            for sid in self._who(action, mutations, put):
                put(_target(action), at, Observe(Signal(Kind.API, sid, at, overrides=command.fields)))
        elif isinstance(command, TargetedChange):
            mutations.append(replace(command, subscribers=tuple(s for s in self._who(action, mutations, put)
                                                                if s != FOREIGN)))
        else:
            put(_target(action), at, command)

    def _who(self, action: ActionSpec, mutations: list[Change], put: Put) -> list[int]:
        who = action.who
        if who is None:
            return []
        self._flush(mutations, put)  # earlier changes first: the operator sees the list as it is now
        if who.pending_of:
            return list(self.sup.ask(who.pending_of, Peek(who.count, who.search)))
        if who.emails:
            return [-1 if s is None else s for s in self._resolved(list(who.emails))]
        if who.field:
            column = self.store.fields.get(who.field, [])
            hits = [i for i, v in enumerate(column) if v is not None and str(v) == str(who.value)]
            return hits[: who.count] if who.count else hits
        return []


def _target(action: ActionSpec) -> str:
    """The automation an action's command goes to (the loader requires one for these commands)."""
    assert action.automation is not None, f"action {action.index} names no automation"
    return action.automation


LIST_ROWS = ("set_field", "add_to_group")


def _list_rows(rows: ReplayRows, i: int, sids: list[int | None]) -> ListRows | None:
    """A run of `set_field` and `add_to_group` rows (from row `i`) as one change in columns, in row
    order (a row setting two fields is two rows, in the file's column order). Its keys are told apart
    by type and text as well (1 and True stay two values)."""
    times: list[float] = []
    who: list[int] = []
    key: list[int] = []
    keys: list[tuple[str, str, Any]] = []
    index: dict[tuple[str, str, str, str], int] = {}
    fields = list(rows.fields.items())
    for k, sid in enumerate(sids, start=i):
        if sid is None or sid == FOREIGN:
            continue  # not in the list (counted), or another partition's
        if rows.kind[k] == "add_to_group":
            named = [("group", str(rows.group[k]), None)] if rows.group[k] else []
        else:
            named = [("field", name, column[k]) for name, column in fields if column[k] is not None]
        for entry in named:
            ident = (entry[0], entry[1], type(entry[2]).__name__, repr(entry[2]))
            got = index.get(ident)
            if got is None:
                got = index[ident] = len(keys)
                keys.append(entry)
            times.append(float(rows.at[k]))
            who.append(sid)
            key.append(got)
    if not times:
        return None
    return ListRows(times[0], np.asarray(times, np.float64), np.asarray(who, np.int64), np.asarray(key, np.int64),
                    tuple(keys))


def _stretches(keys: list[Any]) -> list[tuple[int, int]]:
    """The (start, end) of each stretch of equal consecutive keys."""
    cuts = [k for k in range(1, len(keys)) if keys[k] != keys[k - 1]]
    return list(zip([0, *cuts], [*cuts, len(keys)], strict=True)) if keys else []
