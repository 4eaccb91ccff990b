"""A phase's list changes, made ready for the audience actor: in time order, a run of replayed field
and group rows kept as one change unless another change falls inside it (`apart`), consecutive
sign-ups of one source joined (`coalesced`)."""

from __future__ import annotations

import numpy as np

from core import ListRows
from sim.messages import AddSubscribers
from sim.phase_state import Change


def in_order(changes: list[Change]) -> tuple[Change, ...]:
    """`changes` as the audience applies them: sorted by time (stable: ties keep the order they were
    made in), split and joined as `apart` and `coalesced` say."""
    return coalesced(sorted(apart(changes), key=lambda m: m.at))


def apart(changes: list[Change]) -> list[Change]:
    """`changes`, each run of replayed field and group rows (`ListRows`) as one change per stretch of a
    key when another change falls within its time span: sorted by time, they would interleave."""
    if len(changes) < 2 or not any(isinstance(c, ListRows) for c in changes):
        return changes
    starts = [c.at for c in changes]
    out: list[Change] = []
    for k, change in enumerate(changes):
        if isinstance(change, ListRows):
            last = float(change.times[-1])
            if any(change.at <= at <= last for j, at in enumerate(starts) if j != k):
                out += change.stretches()
                continue
        out.append(change)
    return out


def coalesced(changes: list[Change]) -> tuple[Change, ...]:
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
