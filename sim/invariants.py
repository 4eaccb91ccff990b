"""The promises every run must keep, checked on the finished run (not only in tests).

- nothing sent unless the automation was running when it decided the send;
- nothing sent to an unsubscribed, auto-deleted or deleted subscriber;
- no pending entry sent twice (its Message-ID is unique);
- ST2 conservation for every automation;
- an ended automation has an empty pending list.
"""

from __future__ import annotations

import numpy as np

from core import KINDS, Automation, State

_IN_FLIGHT = KINDS.index("in_flight")
_DONE = (KINDS.index("sent"), KINDS.index("failed"))


def check(automations: list[Automation], cols: dict[str, np.ndarray], initial_status: np.ndarray,
          status_log: list[tuple[float, int, int]], t0: float) -> list[str]:
    problems: list[str] = []
    first_bad = np.full(max(len(initial_status), 1), np.inf)
    first_bad[: len(initial_status)][initial_status != 0] = t0 - 1
    for at, sid, status in status_log:
        if status != 0 and sid < len(first_bad):
            first_bad[sid] = min(first_bad[sid], at)
    for i, a in enumerate(automations):
        mine = cols["automation"] == i
        decided = mine & (cols["kind"] == _IN_FLIGHT)
        times, subs = cols["at"][decided], cols["subscriber"][decided]
        running = np.zeros(len(times), bool)
        for start, end in a.running_spans:
            running |= (times >= start) & (times < end)
        if not running.all():
            problems.append(f"{a.id}: {int((~running).sum())} sends decided while not running")
        grown = np.full(max(len(first_bad), int(subs.max()) + 1 if len(subs) else 0), np.inf)
        grown[: len(first_bad)] = first_bad
        bad = times >= grown[subs]
        if bad.any():
            problems.append(f"{a.id}: {int(bad.sum())} sends to subscribers no longer subscribed")
        done = mine & np.isin(cols["kind"], _DONE)
        entries = cols["entry"][done]
        if len(entries) != len(np.unique(entries)):
            problems.append(f"{a.id}: {len(entries) - len(np.unique(entries))} entries sent twice")
        problems += [f"{a.id}: {p}" for p in a.violations(finished=True)]
        if a.state is State.ENDED and len(a.pending):
            problems.append(f"{a.id}: ended with {len(a.pending)} pending entries")
    return problems
