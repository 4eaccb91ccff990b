"""What sends set off, and its return: each dispatched send's outcome, open, click and unsubscribe
go to the future queue (`sim.future`) at their own instants, with the slack they may wait for a phase.
A trigger decides by the subscriber's status at the signal's own instant (`SubscriberStore.subscribed_at`),
so a list change released in the same phase (an unsubscribe a moment after the open) is not seen early.
A phase releases what is due as one input per automation and kind: outcome records, engagement
records, the email signals that chains and watches observe, the hard bounces and unsubscribes as list
changes.
"""

from __future__ import annotations

import numpy as np

from core import (
    AutomationConfig,
    Kind,
    ObserveMany,
    Outcome,
    RecordEngagements,
    RecordOutcomes,
    Signals,
    Unsubscribe,
    hard_bounces,
)
from sim.messages import (
    Sent,
)
from sim.phase_state import Change, ConductorState, Put


class Happenings(ConductorState):
    def _release(self, kind: str, times: np.ndarray, cols: dict[str, np.ndarray], put: Put,
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
                       hit: np.ndarray, watchers: tuple[str, ...], put: Put) -> None:
        link_col = cols.get("link")
        links = None if link_col is None else np.asarray(self.spec.behaviour.links, dtype=object)[link_col[hit]]
        signals = Signals(kind, times, cols["subscriber"][hit].astype(np.int64), email=email,
                          entry=cols["entry"][hit], sent_at=cols["sent_at"][hit], link=links)
        for name in watchers:
            put(name, float(times.min()), ObserveMany(signals))

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


def grouped(pieces: list[tuple[str, np.ndarray, dict[str, np.ndarray]]]) -> list[tuple[str, np.ndarray,
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


def slack_of(configs: dict[str, AutomationConfig], cap: float) -> dict[str, dict[str, float]]:
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


def listened(configs: dict[str, AutomationConfig]) -> dict[str, set[str]]:
    """Per automation, which of its sends' rows (outcome, opened, clicked) some trigger observes."""
    by_kind = {Kind.EMAIL_SENT: "outcome", Kind.EMAIL_FAILED: "outcome", Kind.OPENED: "opened",
               Kind.CLICKED: "clicked", Kind.NOT_OPENED: "outcome", Kind.NOT_CLICKED: "outcome"}
    out: dict[str, set[str]] = {name: set() for name in configs}
    for config in configs.values():
        for trigger in config.triggers:
            if trigger.email in out and trigger.kind in by_kind:
                out[trigger.email].add(by_kind[trigger.kind])
    return out
