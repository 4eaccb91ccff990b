"""The promises every run must keep, checked on the finished run (not only in tests).

- nothing sent unless the automation was running when it decided the send;
- nothing sent to an unsubscribed, auto-deleted or deleted subscriber;
- no pending entry sent twice (its Message-ID is unique): checked on the
  outcomes logged, on what the dispatcher actually handed to the transport,
  and, in SMTP mode, on what the sink received;
- no subscriber sent the same occurrence twice by an automation that never
  allowed duplicates (T5);
- ST2 conservation for every automation, from its counters and again from
  the event log alone (each row counted; the log and the counters agree);
- an ended automation has an empty pending list.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core import KINDS, REASONS, Automation, State, Status
from core.columns import repeats
from sim.transport import message_id

_IN_FLIGHT = KINDS.index("in_flight")
_STATE = KINDS.index("state")
_RUNNING = REASONS.index("running")
_DONE = (KINDS.index("sent"), KINDS.index("failed"))


def check(automations: list[Automation], cols: dict[str, np.ndarray], initial_status: np.ndarray,
          status_log: list[tuple[float, int, int]], t0: float) -> list[str]:
    problems: list[str] = []
    size = max(len(initial_status), max((sid + 1 for _, sid, _ in status_log), default=0), 1)
    first_bad = np.full(size, np.inf)  # the first change away from subscribed, by anything but a bounce
    first_bad[: len(initial_status)][initial_status != 0] = t0 - 1
    first_bounce = np.full(size, np.inf)  # the first auto-delete by a hard bounce (U2)
    for at, sid, status in status_log:
        if status == Status.AUTO_DELETED:
            first_bounce[sid] = min(first_bounce[sid], at)
        elif status != Status.SUBSCRIBED:
            first_bad[sid] = min(first_bad[sid], at)
    for i, a in enumerate(automations):
        mine = cols["automation"] == i
        decided = mine & (cols["kind"] == _IN_FLIGHT)
        times, subs = cols["at"][decided], cols["subscriber"][decided].astype(np.int64)
        # The log itself is the witness: the latest state row before each decision must say
        # running (rows of one automation keep their order within an instant).
        rows = np.flatnonzero(mine)
        kinds, reasons = cols["kind"][rows], cols["reason"][rows]
        is_state = kinds == _STATE
        last_state = np.maximum.accumulate(np.where(is_state, np.arange(len(rows)), -1)) if len(rows) else rows
        at_decision = last_state[kinds == _IN_FLIGHT]
        running = (at_decision >= 0) & (reasons[np.clip(at_decision, 0, None)] == _RUNNING)
        if not running.all():
            problems.append(f"{a.id}: {int((~running).sum())} sends decided while not running")
        known = subs < size  # subscribers added after the last status change cannot be affected
        # A bounce at the instant of a decision is that send's own outcome (zero latency): it comes after.
        bad = known & ((times >= first_bad[np.minimum(subs, size - 1)])
                       | (times > first_bounce[np.minimum(subs, size - 1)]))
        if bad.any():
            problems.append(f"{a.id}: {int(bad.sum())} sends to subscribers no longer subscribed")
        done = mine & np.isin(cols["kind"], _DONE)
        entries = cols["entry"][done]
        if twice := repeats(entries):
            problems.append(f"{a.id}: {twice} entries sent twice")
        problems += [f"{a.id}: {p}" for p in a.violations(finished=True)]
        problems += [f"{a.id}: {p}" for p in _log_agrees(a, cols["kind"][mine])]
        if a.state is State.ENDED and len(a.pending):
            problems.append(f"{a.id}: ended with {len(a.pending)} pending entries")
    return problems


_COUNTED = {k: KINDS.index(k) for k in ("triggered", "queued", "sent", "failed", "dropped", "cancelled")}


def _log_agrees(a: Automation, kinds: np.ndarray) -> list[str]:
    """ST2 from the event log alone: every queued row ends as one outcome row, or is still pending or
    in flight; and each count of rows is the automation's own counter."""
    rows = {k: int(n) for k, n in zip(_COUNTED, np.bincount(kinds.astype(np.int64), minlength=len(KINDS))
                                        [list(_COUNTED.values())].tolist(), strict=True)}
    st = a.stats
    problems = []
    outcomes = rows["sent"] + rows["failed"] + rows["dropped"] + rows["cancelled"] + len(a.pending) + st.in_flight
    if rows["queued"] != outcomes:
        problems.append(f"event log: {rows['queued']} queued rows != {outcomes} outcome rows + pending + in flight")
    counters = {"triggered": st.accepted, "queued": st.queued, "sent": st.sent, "failed": sum(st.failed.values()),
                "dropped": sum(st.dropped.values()), "cancelled": st.cancelled}
    problems += [f"event log: {rows[k]} {k} rows != counter {counters[k]}" for k in _COUNTED if rows[k] != counters[k]]
    return problems


def handed_over(sent: dict[str, Any], once_per_subscriber: set[str],
                received: list[str] | None = None) -> list[str]:
    """Duplicates in what the dispatcher handed to the transport (`Metrics.sent`), per automation:
    an (entry, occurrence) twice, or, where duplicates were never allowed, a (subscriber, occurrence)
    twice. With an SMTP sink, its Message-IDs (`received`) must be unique and each one handed over."""
    problems = []
    ids: set[str] = set()
    for name, chunks in sent.items():
        rows = chunks.all() if chunks else {}
        if not rows or not len(rows["entry"]):
            continue
        entry, occurrence = rows["entry"].astype(np.int64), rows["occurrence"].astype(np.int64)
        twice = repeats((entry << 24) | occurrence)  # one int key per pair
        if twice:
            problems.append(f"{name}: {twice} sends handed to the transport twice (same entry and occurrence)")
        if name in once_per_subscriber:
            subs = rows["subscriber"].astype(np.int64)
            again = repeats((subs << 24) | occurrence)
            if again:
                problems.append(f"{name}: {again} subscribers sent the same occurrence twice (T5)")
        if received is not None:  # SMTP runs are small: one Message-ID string per send is fine there
            ids.update(message_id(name, int(e), int(o))
                       for e, o in zip(entry.tolist(), occurrence.tolist(), strict=True))
    if received is not None:
        if len(received) != len(set(received)):
            problems.append(f"smtp: {len(received) - len(set(received))} messages received twice (same Message-ID)")
        strangers = set(received) - ids
        if strangers:
            problems.append(f"smtp: {len(strangers)} messages received that no send handed over")
    return problems
