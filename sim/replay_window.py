"""How far a phase may take a replay's rows ahead of their ticks without changing a decision.

The per-instant engine gives every tick with a replayed row a phase of its own: the rows of the tick are
applied (list changes, then the signals they raise), the automations step, due sends go out. A phase at
`t` may instead take the rows of later ticks too, each still decided at its own instant (a signal keeps
its time; the automations decide by it), as long as nothing the per-instant engine would do between `t`
and those ticks could see the difference. `Conductor._replay_horizon` bounds the window by everything
else that happens (a wakeup, a due send, a release from the transport, an action, a time-driven rule,
another load's arrival, the reach); this module adds what the rows themselves imply:

- **what they queue**: a row may trigger an automation (by its kind: a sign-up, a field change, a group
  addition, an API request) and queue a send, due no sooner than the row's instant plus the
  automation's least delay, moved to its send window's next opening. The window stops before the tick
  of the first such due instant, so no send is decided while a later row is already applied;
- **who they touch**: a row about a subscriber already named by a row of an earlier tick in the window
  stops it before its own tick. What an automation reads when it decides (the filter's fields and
  groups, the subscriber's status) is the subscriber's own, so once every subscriber is named at one
  tick of the window only, each decision reads what it read at its own instant.

A row kind no trigger listens to (an unsubscribe) queues nothing, and its subscriber rule above keeps
the status every other row of the window reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from core.config import AutomationConfig
from core.triggers import Kind

# The row kinds of a replay, and the trigger kind each one raises (an unsubscribe raises none).
RAISES = {"subscriber_added": Kind.SUBSCRIBER_ADDED, "set_field": Kind.FIELD_UPDATED,
          "add_to_group": Kind.GROUP_ADDED, "api": Kind.API}
PEEK = 512  # rows looked at per phase: a window is seldom longer, and the scan is paid every phase


def earliest_dues(at: np.ndarray, kinds: list[str], configs: Mapping[str, AutomationConfig]) -> np.ndarray:
    """Per row, the least instant a send it may queue could be due (inf: it queues nothing)."""
    due = np.full(len(at), np.inf)
    kind = np.asarray(kinds, dtype=object)
    for config in configs.values():
        listened = {k for k, raised in RAISES.items() if any(tr.kind is raised for tr in config.triggers)}
        if not listened:
            continue
        hit = np.isin(kind, list(listened)) if len(listened) < len(RAISES) else np.ones(len(at), bool)
        if not hit.any():
            continue
        soonest = at[hit] + config.delay.at_least()
        if config.window is not None:
            soonest = config.window.next_open_many(soonest)
        due[hit] = np.minimum(due[hit], soonest)
    return due


def window_end(at: np.ndarray, kinds: list[str], emails: list[str], limit: float, seen_all: bool,
               configs: Mapping[str, AutomationConfig], quantize: Callable[[float], float], tick: float) -> float:
    """The last tick (inclusive) whose rows may be taken now, at most `limit`: the rows are the replay's
    next ones in time order (those of the current tick first), `seen_all` says whether they are every
    row up to `limit` (else the tick of the last one is not taken: rows after it are unseen)."""
    if not len(at):
        return limit
    ticks = np.array([quantize(x) for x in at.tolist()])
    if not seen_all:
        limit = min(limit, float(ticks[-1]) - tick)
    due = earliest_dues(at, kinds, configs)
    bound = np.minimum.accumulate(due)
    end = limit
    first_tick: dict[str, float] = {}
    for k in range(len(at)):
        if ticks[k] > end:
            break
        email = emails[k]
        if first_tick.setdefault(email, ticks[k]) < ticks[k]:
            end = min(end, float(ticks[k]) - tick)  # named again at a later tick: stop before it
            break
        if np.isfinite(bound[k]):
            end = min(end, quantize(float(bound[k])) - tick)
    return end
