"""The subscriber list: status (U1), bounces (U2), fields, groups, search.

Stored as columns indexed by a dense subscriber id (0, 1, 2, ...), so a
million subscribers cost a few arrays, and a status check over a batch of
sends is one numpy fancy-index. Text search (P3) runs over one lower-cased
newline-joined blob per searched column, found with the `re` engine in C.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from enum import IntEnum
from typing import Any

import numpy as np

from core.columns import Column
from core.emails import Emails, Pooled
from core.errors import ConfigError
from core.instants import Instant


class Status(IntEnum):
    """U1. `DELETED` means removed from the list entirely."""

    SUBSCRIBED = 0
    UNSUBSCRIBED = 1
    AUTO_DELETED = 2
    DELETED = 3

    @property
    def label(self) -> str:
        return self.name.lower()


SUBSCRIBED = 0  # Status.SUBSCRIBED as a plain int, for numpy comparisons


class Source(IntEnum):
    FORM = 0
    ADMIN = 1
    API = 2


class SubscriberStore:
    """Every subscriber of one list, by dense id."""

    def __init__(self, *, auto_delete: bool = True) -> None:
        self.auto_delete = auto_delete  # U2: the list's auto-delete setting
        self.status = Column(np.int8)
        self.source = Column(np.int8)
        self.added_at = Column(np.float64)
        self.emails = Emails()  # compact: generated addresses are kept as parts
        self.fields: dict[str, list[Any]] = {}
        self.groups: dict[str, set[int]] = {}
        self._by_email: dict[str, int] | None = None  # email -> id, built on the first lookup
        self._blobs: dict[str, tuple[int, str, np.ndarray[Any, Any]]] = {}
        self.version = 0  # bumped on every change a cached view depends on
        self._hidden: tuple[int, np.ndarray[Any, Any]] | None = None
        self._month_days: dict[str, tuple[int, np.ndarray[Any, Any]]] = {}
        self._field_versions: dict[str, int] = {}  # bumped when a value is overwritten
        # a subscriber's status changes after it first left `subscribed`, during the run: (when, new status) (U1)
        self._left: dict[int, list[tuple[float, int]]] = {}

    def __len__(self) -> int:
        return len(self.emails)

    # -- writing -----------------------------------------------------------
    def add(self, email: str, at: Instant, *, source: Source = Source.FORM,
            fields: Mapping[str, Any] | None = None, status: Status = Status.SUBSCRIBED) -> int:
        key = email.lower()
        index = self._index()
        if key in index:
            raise ConfigError("subscriber.email", f"{email!r} is already in the list")
        sid = len(self.emails)
        self.emails.append(email)
        index[key] = sid
        self.status.append(int(status))
        self.source.append(int(source))
        self.added_at.append(at)
        for name, column in self.fields.items():
            column.append((fields or {}).get(name))
        for name in (fields or {}):
            if name not in self.fields:
                self.fields[name] = [None] * sid + [fields[name]]  # type: ignore[index]
        self.version += 1
        return sid

    def add_many(self, emails: list[str] | Pooled, at: Instant | np.ndarray[Any, Any], *,
                 source: Source = Source.FORM,
                 fields: Mapping[str, list[Any]] | None = None,
                 status: np.ndarray[Any, Any] | Iterable[int] | None = None, new: bool = False) -> range:
        """Bulk add (the population generator's path): columns, not objects.

        `new`: the caller guarantees the emails are distinct and not in the
        list (generated ones); then no email index is built until a lookup
        needs one, which saves a dictionary entry per subscriber.
        """
        start = len(self.emails)
        n = len(emails)
        if not new or self._by_email is not None:
            texts = emails.texts() if isinstance(emails, Pooled) else emails
            keys = [email.lower() for email in texts]
            index = self._index()
            clash = next((e for e, k in zip(texts, keys, strict=True) if k in index), None)
            if clash is not None or len(set(keys)) != len(keys):
                raise ConfigError("subscriber.email", f"{clash or 'an email'!r} is already in the list")
            index.update(zip(keys, range(start, start + n), strict=True))  # checked first: all or nothing
        self.emails.extend(emails)
        self.status.extend(np.zeros(n, np.int8) if status is None else np.asarray(list(status) if not isinstance(
            status, np.ndarray) else status, np.int8))
        self.source.extend(np.full(n, int(source), np.int8))
        self.added_at.extend(np.broadcast_to(np.asarray(at, np.float64), (n,)))
        given = dict(fields or {})
        for name in sorted(set(self.fields) | set(given)):
            if name not in self.fields:
                self.fields[name] = [None] * start
            self.fields[name].extend(given.get(name, [None] * n))
        self.version += 1
        return range(start, start + n)

    def set_status(self, sid: int, status: Status, at: Instant = -math.inf) -> None:
        """`at`: when it happened. No status leads back to `subscribed`, so the changes from the first
        departure on are kept, and a decision reads the status at its own instant (`status_at`)."""
        if self.status[sid] == SUBSCRIBED and status != Status.SUBSCRIBED:
            self._left[sid] = [(at, int(status))]
        elif sid in self._left:
            self._left[sid].append((at, int(status)))
        self.status[sid] = int(status)
        self.version += 1

    def set_field(self, sid: int, name: str, value: Any) -> None:
        self.set_field_many(np.array([sid], np.int64), name, value)

    def set_field_many(self, sids: np.ndarray[Any, Any], name: str, value: Any) -> None:
        """The field `name` of each of `sids` set to `value`."""
        column = self.fields.get(name)
        if column is None:  # not `setdefault`: its default would be built, a list as long as the store, every call
            column = self.fields[name] = [None] * len(self.emails)
        for sid in sids.tolist():
            column[sid] = value
        self._blobs.pop("field:" + name, None)
        self._field_versions[name] = self._field_versions.get(name, 0) + 1
        self.version += 1

    def set_field_rows(self, sids: list[int], values: list[tuple[str, Any]]) -> None:
        """Row by row, subscriber `sids[i]`'s field `values[i][0]` set to `values[i][1]` (a later row wins)."""
        names = {name for name, _ in values}
        columns = {name: self.fields.get(name) for name in names}
        for name, column in columns.items():
            if column is None:
                columns[name] = self.fields[name] = [None] * len(self.emails)
        for sid, (name, value) in zip(sids, values, strict=True):
            columns[name][sid] = value  # type: ignore[index]
        for name in names:
            self._blobs.pop("field:" + name, None)
            self._field_versions[name] = self._field_versions.get(name, 0) + 1
        self.version += len(names)

    def add_to_group(self, sid: int, group: str) -> bool:
        """True when the subscriber was not in the group before."""
        members = self.groups.setdefault(group, set())
        if sid in members:
            return False
        members.add(sid)
        self.version += 1
        return True

    def bounce(self, sid: int, *, hard: bool, at: Instant = -math.inf) -> Status:
        """U2: a hard bounce auto-deletes when the list says so; soft changes nothing."""
        if hard and self.auto_delete and self.status[sid] == Status.SUBSCRIBED:
            self.set_status(sid, Status.AUTO_DELETED, at)
        return Status(int(self.status[sid]))

    # -- reading -----------------------------------------------------------
    def _index(self) -> dict[str, int]:
        if self._by_email is None:
            self._by_email = {e.lower(): sid for sid, e in enumerate(self.emails)}
        return self._by_email

    def find(self, email: str) -> int | None:
        return self._index().get(email.lower())

    def find_many(self, emails: Iterable[str]) -> list[int | None]:
        """`find` of each address, in order (one pass in C: a replay's rows are many)."""
        return list(map(self._index().get, map(str.lower, emails)))

    def status_of(self, sid: int) -> Status:
        return Status(int(self.status[sid]))

    def status_at(self, sids: np.ndarray[Any, Any], at: Instant | np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Per row: the subscriber's status at that instant (`at`: one, or one per row). Every change up
        to it is applied; one after it (an unsubscribe or a bounce a moment later, applied in the same
        phase or window) is not seen, so the answer does not depend on which phase applied it (T6, S1)."""
        out: np.ndarray[Any, Any] = self.status.view[sids].copy()
        if self._left and not (out == SUBSCRIBED).all():
            when = np.broadcast_to(np.asarray(at, np.float64), out.shape)
            for k in np.flatnonzero(out != SUBSCRIBED).tolist():
                out[k] = self._status_then(int(sids[k]), float(when[k]))
        return out

    def subscribed_at(self, sids: np.ndarray[Any, Any], at: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Per row: was the subscriber subscribed at that instant (`status_at`)?"""
        ok: np.ndarray[Any, Any] = self.status_at(sids, at) == SUBSCRIBED
        return ok

    def was_subscribed(self, sid: int, at: Instant) -> bool:
        """`subscribed_at` of one subscriber (a trigger one at a time: an anniversary's, an action's)."""
        return bool(self.status[sid] == SUBSCRIBED) or self._status_then(sid, at) == SUBSCRIBED

    def _status_then(self, sid: int, at: Instant) -> int:
        """The status of a subscriber at `at` (its changes are applied in time order)."""
        changes = self._left.get(sid)
        if changes is None:
            return int(self.status[sid])
        status = int(SUBSCRIBED)
        for when, then in changes:
            if when > at:
                break
            status = then
        return status

    def field(self, sid: int, name: str) -> Any:
        column = self.fields.get(name)
        return None if column is None else column[sid]

    def profile(self, sid: int) -> dict[str, Any]:
        """Merge-field values of one subscriber: email plus every custom field."""
        data: dict[str, Any] = {"email": self.emails[sid]}
        data.update({name: column[sid] for name, column in self.fields.items()})
        return data

    def search(self, text: str, field: str | None = None) -> np.ndarray[Any, Any]:
        """Boolean mask of subscribers whose email (or `field`) contains `text`, any case."""
        key = "email" if field is None else "field:" + field
        size, blob, starts = self._blob(key, field)
        mask = np.zeros(len(self.emails), dtype=bool)
        needle = text.lower()
        if not needle or "\n" in needle:
            mask[:size] = not needle
            return mask
        hits = np.fromiter((m.start() for m in re.finditer(re.escape(needle), blob)), dtype=np.int64)
        if len(hits):
            mask[np.searchsorted(starts, hits, side="right") - 1] = True
        return mask

    def _blob(self, key: str, field: str | None) -> tuple[int, str, np.ndarray[Any, Any]]:
        cached = self._blobs.get(key)
        if cached is not None and cached[0] == len(self.emails):
            return cached
        values = self.emails if field is None else self.fields.get(field, [None] * len(self.emails))
        texts = ["" if v is None else str(v).lower().replace("\n", " ") for v in values]
        lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(texts) else np.zeros(0, np.int64)
        built = (len(texts), "\n".join(texts), starts)
        self._blobs[key] = built
        return built

    def month_days(self, name: str) -> np.ndarray[Any, Any]:
        """Month*100 + day of a date field ('YYYY-MM-DD...'), 0 when unset; cached per field."""
        column = self.fields.get(name, [])
        version = self._field_versions.get(name, 0)
        version_seen, known = self._month_days.get(name, (-1, np.zeros(0, np.int16)))
        start = len(known) if version_seen == version else 0  # new rows only, unless a value changed
        if start == len(column):
            return known
        fresh = np.fromiter((_month_day(v) for v in column[start:]), np.int16, count=len(column) - start)
        codes = np.concatenate([known[:start], fresh]) if start else fresh
        self._month_days[name] = (version, codes)
        return codes

    def hidden_ids(self) -> np.ndarray[Any, Any]:
        """Subscribers the pending list hides (P2): anyone not subscribed."""
        cached = self._hidden
        if cached is not None and cached[0] == self.version:
            return cached[1]
        ids = np.flatnonzero(self.status.view != Status.SUBSCRIBED)
        self._hidden = (self.version, ids)
        return ids


def _month_day(value: Any) -> int:
    text = str(value) if value is not None else ""
    if len(text) >= 10 and text[4] == "-" and text[7] == "-" and text[5:7].isdigit() and text[8:10].isdigit():
        return int(text[5:7]) * 100 + int(text[8:10])
    return 0
