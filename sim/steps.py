"""The steps: every automation with work gets one `Step` per phase, its inputs in (time, sequence)
order (`ordered`) and its share of the dispatcher's capacity (max-min fair by what each has due:
`_fair`, `_split`); what capacity is left after drops goes to those still waiting.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core import (
    AutomationCommand,
    AutomationConfig,
    Kind,
    Observe,
    ObserveMany,
    RecordEngagements,
    RecordOutcomes,
    Signals,
    TrackMany,
)
from core.handlers import HANDLERS
from sim.messages import (
    Step,
    StepResult,
)
from sim.phase_state import ConductorState


class Steps(ConductorState):
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
        messages = [(n, Step(t, grants.get(n, 0), ordered(inputs.get(n, []), self._tracking[n]), self.ended,
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

    def _absorb(self, t: float, results: list[StepResult]) -> None:
        batches = self._take(t, results)
        # The transport takes a phase's sends automation by automation (as the look-ahead hands a tick's
        # over): an automation's later round joins its first, so the order never depends on the rounds.
        batches.sort(key=lambda b: self.index[b.automation])
        if batches:
            self.tokens -= sum(len(b) for b in batches)
            self._dispatch(t, batches)


def ordered(items: list[tuple[float, int, AutomationCommand]],
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


def tracking(config: AutomationConfig) -> Callable[[Signals], bool]:
    """Does a batch of email signals only arm or cancel this automation's watches (no trigger of it
    matches that kind of signal for that email)?"""
    matched = {(t.kind, t.email) for t in config.triggers}
    watched = {t.email for t in config.triggers if t.kind in (Kind.NOT_OPENED, Kind.NOT_CLICKED)}

    def only_watches(s: Signals) -> bool:
        return (s.kind in (Kind.EMAIL_SENT, Kind.OPENED, Kind.CLICKED) and s.email in watched
                and (s.kind, s.email) not in matched)

    return only_watches


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
