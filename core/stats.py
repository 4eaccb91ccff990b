"""Per-automation statistics (ST1) and the conservation check (ST2)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Stats:
    """ST1 counters. Every queued entry ends in exactly one outcome (ST2)."""

    accepted: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    partial: int = 0  # an `all` combination advanced but not complete (T4)
    queued: int = 0  # entries ever queued: one per accepted trigger, plus repeats
    queued_repeat: int = 0
    in_flight: int = 0  # handed to the transport, outcome not known yet
    sent: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # soft / hard
    dropped: Counter[str] = field(default_factory=Counter)
    cancelled: int = 0
    opens_unique: int = 0
    opens_total: int = 0
    clicks_unique: int = 0
    clicks_total: int = 0

    @property
    def open_rate(self) -> float:
        return self.opens_unique / self.sent if self.sent else 0.0

    @property
    def click_rate(self) -> float:
        return self.clicks_unique / self.sent if self.sent else 0.0

    def as_dict(self, pending: int) -> dict[str, Any]:
        return {
            "triggered": self.accepted,
            "ignored": dict(sorted(self.ignored.items())),
            "partial": self.partial,
            "queued": self.queued,
            "sent": self.sent,
            "failed": {"soft": self.failed["soft"], "hard": self.failed["hard"]},
            "dropped": dict(sorted(self.dropped.items())),
            "cancelled": self.cancelled,
            "in_flight": self.in_flight,
            "handed_over": self.sent + sum(self.failed.values()) + self.in_flight,  # to the transport
            "pending": pending,
            "opens": {"unique": self.opens_unique, "total": self.opens_total},
            "clicks": {"unique": self.clicks_unique, "total": self.clicks_total},
            "open_rate": round(self.open_rate, 6),
            "click_rate": round(self.click_rate, 6),
        }


def conservation_violations(stats: Stats, pending: int, *, finished: bool = True) -> list[str]:
    """ST2 as a list of broken equations (empty when it holds).

    queued = sent + failed + dropped + cancelled + pending (+ in flight), and
    queued = accepted + repeats. On a finished run nothing may be in flight.
    """
    problems = []
    outcomes = (stats.sent + sum(stats.failed.values()) + sum(stats.dropped.values())
                + stats.cancelled + pending + stats.in_flight)
    if stats.queued != outcomes:
        problems.append(f"queued {stats.queued} != outcomes {outcomes} (sent {stats.sent}, "
                        f"failed {sum(stats.failed.values())}, dropped {sum(stats.dropped.values())}, "
                        f"cancelled {stats.cancelled}, pending {pending}, in flight {stats.in_flight})")
    if stats.queued != stats.accepted + stats.queued_repeat:
        problems.append(f"queued {stats.queued} != accepted {stats.accepted} "
                        f"+ repeats {stats.queued_repeat}")
    if finished and stats.in_flight:
        problems.append(f"{stats.in_flight} sends still in flight after the run")
    if min([stats.sent, stats.cancelled, pending, stats.in_flight,
            *stats.failed.values(), *stats.dropped.values()], default=0) < 0:
        problems.append("a counter went negative")
    return problems
