"""What starts a send (T2) and the settings around it (T4, T5, T6).

A `Trigger` is configuration; a `Signal` is something that happened to one
subscriber (added, opened an email, an API request...). The automation asks
each trigger whether a signal satisfies it. Kinds whose source is a single
occurrence (a send, a yearly date) cannot allow duplicates (T5); they fire at
most once per source occurrence instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.instants import Instant


class Kind(StrEnum):
    SUBSCRIBER_ADDED = "subscriber_added"
    ANNIVERSARY = "anniversary"
    FIELD_UPDATED = "field_updated"
    GROUP_ADDED = "group_added"
    EMAIL_SENT = "email_sent"
    EMAIL_FAILED = "email_failed"
    OPENED = "opened"
    NOT_OPENED = "not_opened"
    CLICKED = "clicked"
    NOT_CLICKED = "not_clicked"
    API = "api"


# T5: one occurrence of the source per subscriber, so "allow duplicates" is meaningless.
# An API request for a subscriber another partition holds (a partitioned run, `sim.partitions`): it counts
# against the automation's rate limit (T6 is global) and is otherwise not this engine's to decide or log.
FOREIGN = -2
NO_DUPLICATES = frozenset({Kind.EMAIL_SENT, Kind.EMAIL_FAILED, Kind.NOT_OPENED,
                           Kind.NOT_CLICKED, Kind.ANNIVERSARY})
EMAIL_KINDS = frozenset({Kind.EMAIL_SENT, Kind.EMAIL_FAILED, Kind.OPENED, Kind.NOT_OPENED,
                         Kind.CLICKED, Kind.NOT_CLICKED})
WATCH_KINDS = {Kind.NOT_OPENED: Kind.OPENED, Kind.NOT_CLICKED: Kind.CLICKED}

_OPTIONS: dict[Kind, tuple[set[str], set[str]]] = {  # kind -> (required, optional)
    Kind.SUBSCRIBER_ADDED: (set(), {"include_admin"}),
    Kind.ANNIVERSARY: ({"field"}, {"offset_days", "at"}),
    Kind.FIELD_UPDATED: ({"field", "value"}, set()),
    Kind.GROUP_ADDED: ({"group"}, set()),
    Kind.EMAIL_SENT: ({"email"}, set()),
    Kind.EMAIL_FAILED: ({"email"}, set()),
    Kind.OPENED: ({"email"}, set()),
    Kind.NOT_OPENED: ({"email", "within"}, set()),
    Kind.CLICKED: ({"email"}, {"link"}),
    Kind.NOT_CLICKED: ({"email", "within"}, {"link"}),
    Kind.API: (set(), set()),
}


@dataclass(frozen=True, slots=True)
class Trigger:
    """One trigger of T2 with its options (validated)."""

    kind: Kind
    email: str = ""
    link: str = ""
    within: float = 0.0  # seconds, for not_opened / not_clicked
    field: str = ""
    value: Any = None
    group: str = ""
    include_admin: bool = False
    offset_days: int = 0
    at: str = "09:00"  # local time of day anniversaries fire

    @classmethod
    def of(cls, spec: Mapping[str, Any], where: str = "trigger") -> Trigger:
        raw = spec.get("kind")
        try:
            kind = Kind(str(raw))
        except ValueError:
            raise ConfigError(f"{where}.kind", f"unknown trigger kind {raw!r} "
                              f"(use one of {', '.join(k.value for k in Kind)})") from None
        required, optional = _OPTIONS[kind]
        given = set(spec) - {"kind"}
        for name in sorted(required - given):
            raise ConfigError(f"{where}.{name}", f"a {kind.value} trigger needs '{name}'")
        for name in sorted(given - required - optional):
            raise ConfigError(f"{where}.{name}", f"not an option of a {kind.value} trigger")
        options = {k: spec[k] for k in given}
        if "within" in options:
            within = options["within"]
            if not isinstance(within, (int, float)) or isinstance(within, bool) or within <= 0:
                raise ConfigError(f"{where}.within", f"must be a positive duration, got {within!r}")
            options["within"] = float(within)
        if "offset_days" in options and not isinstance(options["offset_days"], int):
            raise ConfigError(f"{where}.offset_days", "must be a whole number of days")
        return cls(kind=kind, **options)

    def matches(self, signal: Signal) -> bool:
        """Does `signal` satisfy this trigger (ignoring lifecycle and duplicates)?"""
        if self.kind in WATCH_KINDS or self.kind is Kind.ANNIVERSARY:
            return signal.kind is self.kind  # produced by the automation's own watches
        if signal.kind is not self.kind:
            return False
        k = self.kind
        if k is Kind.SUBSCRIBER_ADDED:
            return self.include_admin or signal.source != "admin"
        if k is Kind.FIELD_UPDATED:
            return signal.field == self.field and str(signal.value) == str(self.value)
        if k is Kind.GROUP_ADDED:
            return signal.group == self.group
        if k in EMAIL_KINDS:
            return signal.email == self.email and (not self.link or signal.link == self.link)
        return True  # api

    def matches_many(self, signals: Signals) -> np.ndarray[Any, Any]:
        """`matches` for every row of a batch (one kind, so mostly all or nothing)."""
        n = len(signals)
        if self.kind in WATCH_KINDS or self.kind is Kind.ANNIVERSARY or signals.kind is not self.kind:
            return np.full(n, signals.kind is self.kind)
        if self.kind in EMAIL_KINDS and self.link:
            same = signals.email == self.email
            return np.full(n, False) if not same or signals.link is None else signals.link == self.link
        return np.full(n, self.matches(signals.row(0)) if n else False)


@dataclass(frozen=True, slots=True)
class Signal:
    """Something that happened to one subscriber at `at`.

    Email kinds carry the source send: `email` (its name), `send_id` (unique
    per send) and `sent_at` (when it was sent, for T3).
    """

    kind: Kind
    subscriber: int
    at: Instant
    source: str = "form"
    field: str = ""
    value: Any = None
    group: str = ""
    email: str = ""
    link: str = ""
    send_id: str = ""
    sent_at: Instant | None = None
    overrides: Mapping[str, Any] | None = None
    subscriber_email: str = ""  # api requests name a subscriber by email


@dataclass(frozen=True, slots=True)
class Signals:
    """Signals of one kind as columns: row i happened to `subscriber[i]` at `at[i]`.

    The batch form of `Signal`, for sign-ups, API loads, and sends, opens and
    clicks of one automation's emails (`email`). Email rows name their source
    send by `entry` (send id ``f"{email}:{entry}"``) and when it was sent.
    """

    kind: Kind
    at: np.ndarray[Any, Any]
    subscriber: np.ndarray[Any, Any]
    source: str = "form"
    email: str = ""
    entry: np.ndarray[Any, Any] | None = None
    sent_at: np.ndarray[Any, Any] | None = None
    link: np.ndarray[Any, Any] | None = None  # clicked: each row's link
    field: str = ""
    value: Any = None
    group: str = ""

    def __len__(self) -> int:
        return len(self.at)

    def take(self, rows: np.ndarray[Any, Any] | slice) -> Signals:
        def cut(column: np.ndarray[Any, Any] | None) -> np.ndarray[Any, Any] | None:
            return None if column is None else column[rows]

        return Signals(self.kind, self.at[rows], self.subscriber[rows], self.source, self.email,
                       cut(self.entry), cut(self.sent_at), cut(self.link), self.field, self.value, self.group)

    @staticmethod
    def join(batches: list[Signals]) -> Signals | None:
        """The batches as one, in their order; None when they differ in kind or in what a row does not
        carry (email, source, field, value, group) or in the columns they have."""
        first = batches[0]
        same = (first.kind, first.email, first.source, first.field, first.value, first.group)
        shape = (first.entry is None, first.sent_at is None, first.link is None)
        if any((b.kind, b.email, b.source, b.field, b.value, b.group) != same
               or (b.entry is None, b.sent_at is None, b.link is None) != shape for b in batches[1:]):
            return None
        if len(batches) == 1:
            return first

        def joined(column: str) -> np.ndarray[Any, Any] | None:
            parts = [getattr(b, column) for b in batches]
            return None if parts[0] is None else np.concatenate(parts)

        return Signals(first.kind, np.concatenate([b.at for b in batches]),
                       np.concatenate([b.subscriber for b in batches]), first.source, first.email,
                       joined("entry"), joined("sent_at"), joined("link"), first.field, first.value, first.group)

    def send_ids(self) -> list[str]:
        return [] if self.entry is None else [f"{self.email}:{e}" for e in self.entry.tolist()]

    def row(self, i: int) -> Signal:
        """Row i as a single `Signal` (the one-at-a-time path)."""
        return Signal(self.kind, int(self.subscriber[i]), float(self.at[i]), source=self.source, field=self.field,
                      value=self.value, group=self.group, email=self.email,
                      link="" if self.link is None else str(self.link[i]),
                      send_id="" if self.entry is None else f"{self.email}:{int(self.entry[i])}",
                      sent_at=None if self.sent_at is None else float(self.sent_at[i]))


@dataclass(frozen=True, slots=True)
class KeyedSignals:
    """The `field_updated` and `group_added` signals of replayed rows (`ListRows`) as columns: row i
    happened to `subscriber[i]` at `at[i]`, with the key `keys[key[i]]` (("field", name, value) or
    ("group", name, None)). Routed as `batches`: one `Signals` per stretch of one key."""

    at: np.ndarray[Any, Any]
    subscriber: np.ndarray[Any, Any]
    key: np.ndarray[Any, Any]
    keys: tuple[tuple[str, str, Any], ...]

    def template(self, k: int) -> Signals:
        """Key `k` as a batch of no rows: what a trigger matches it against."""
        return self._batch(k, np.zeros(0, np.int64))

    def batches(self, keep: list[int] | None = None) -> list[Signals]:
        """The rows whose key is in `keep` (every row: None), one batch per stretch of consecutive kept
        rows with one key, in row order."""
        rows = np.arange(len(self.key)) if keep is None else np.flatnonzero(np.isin(self.key, keep))
        if not len(rows):
            return []
        key = self.key[rows]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]).tolist()
        return [self._batch(int(key[lo]), rows[lo:hi]) for lo, hi in zip(starts, [*starts[1:], len(rows)], strict=True)]

    def _batch(self, k: int, rows: np.ndarray[Any, Any]) -> Signals:
        kind, name, value = self.keys[k]
        if kind == "group":
            return Signals(Kind.GROUP_ADDED, self.at[rows], self.subscriber[rows], group=name)
        return Signals(Kind.FIELD_UPDATED, self.at[rows], self.subscriber[rows], field=name, value=value)


KEYED_KINDS = {"field": Kind.FIELD_UPDATED, "group": Kind.GROUP_ADDED}  # a `KeyedSignals` key's kind


@dataclass(frozen=True, slots=True)
class Duplicates:
    """T5: by default once per subscriber; optionally again after a cooldown."""

    allow: bool = False
    cooldown: float = 0.0  # seconds; 0 = none

    def __post_init__(self) -> None:
        if not isinstance(self.cooldown, (int, float)) or self.cooldown < 0:
            raise ConfigError("duplicates.cooldown", f"must be zero or positive, got {self.cooldown!r}")


@dataclass(slots=True)
class RateLimit:
    """T6: at most `limit` accepted requests in any `per`-second window."""

    limit: int = 3
    per: float = 1.0
    _recent: deque[Instant] = field(default_factory=deque)

    def allow(self, now: Instant) -> bool:
        while self._recent and self._recent[0] <= now - self.per:
            self._recent.popleft()
        if len(self._recent) >= self.limit:
            return False
        self._recent.append(now)
        return True
