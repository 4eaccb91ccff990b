"""Partitioned dispatch: which partition a subscriber belongs to, and what one partition holds.

`[dispatcher] partitions = K` models K independent senders, as real systems
run them: Kafka partitions keyed by the user, listmonk's `message_rate` per
worker, one SES account per region. A subscriber belongs to partition
`murmur2(lowercased address) & 0x7fffffff % K`, Kafka's default partitioner
with the address as key (never Python's salted `hash()`). Each partition has
its own pending lists and its own token bucket at `rate / K`.

A partition is run by a whole engine of its own (`RunSpec.partition = k`):
it draws the same whole-run streams as every other partition (the list's
profiles, load arrivals, API picks, replay rows) and keeps only its own
subscribers' rows, so what it decides depends on the scenario, the seed, k
and K, never on which process runs it or beside which other partitions.
What is global is the same in every partition: lifecycle actions at their
instants, and an automation's API rate limit (T6), which each partition
applies to the whole run's stream of API requests (a request for someone of
another partition counts against the limit and is not logged here:
`FOREIGN`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.columns import Column
from core.emails import Pooled
from core.triggers import FOREIGN

_SEED = np.uint32(0x9747B28C)
_M = np.uint32(0x5BD1E995)


def _bytes_of_texts(texts: Sequence[str]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """A zero-padded byte matrix of the lowercased UTF-8 addresses, and their lengths."""
    raw = [t.lower().encode() for t in texts]
    lengths = np.fromiter((len(b) for b in raw), np.int64, len(raw))
    width = int(lengths.max()) if len(raw) else 0
    out = np.zeros((len(raw), width + 4), np.uint8)
    if len(raw):
        flat = np.frombuffer(b"".join(raw), np.uint8)
        rows = np.repeat(np.arange(len(raw)), lengths)
        cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[rows, cols] = flat
    return out, lengths


def _bytes_of_pooled(p: Pooled) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The same matrix for generated addresses, built from their parts without one string per row."""
    users, ul = _bytes_of_texts(p.users)
    domains, dl = _bytes_of_texts(p.domains)
    number = p.number.astype(np.int64)
    digits = np.char.str_len(number.astype("U20")).astype(np.int64)
    u, d = p.user.astype(np.int64), p.domain.astype(np.int64)
    lengths = ul[u] + digits + 1 + dl[d]
    n = len(number)
    out = np.zeros((n, int(lengths.max()) + 4 if n else 4), np.uint8)
    rows = np.arange(n)
    out[:, :users.shape[1]] = users[u]
    at = ul[u]
    for j in range(int(digits.max()) if n else 0):
        live = digits > j
        place = 10 ** (digits[live] - 1 - j)
        out[rows[live], at[live] + j] = 48 + (number[live] // place) % 10
    at = at + digits
    out[rows, at] = ord("@")
    at = at + 1
    for j in range(domains.shape[1] - 4):
        live = dl[d] > j
        out[rows[live], at[live] + j] = domains[d[live], j]
    return out, lengths


def murmur2(data: np.ndarray[Any, Any], lengths: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Kafka's `Utils.murmur2` of each row's first `lengths[i]` bytes, as unsigned 32-bit integers."""
    h = _SEED ^ lengths.astype(np.uint32)
    quads = lengths // 4
    d = data.astype(np.uint32)
    for i in range(int(quads.max()) if len(lengths) else 0):
        live = quads > i
        k = d[:, 4 * i] | (d[:, 4 * i + 1] << 8) | (d[:, 4 * i + 2] << 16) | (d[:, 4 * i + 3] << 24)
        k = k * _M
        k ^= k >> np.uint32(24)
        k = k * _M
        h = np.where(live, (h * _M) ^ k, h)
    rest, base = lengths % 4, (lengths & ~3)
    rows = np.arange(len(lengths))
    tail = np.zeros(len(lengths), np.uint32)
    for r, shift in ((3, 16), (2, 8), (1, 0)):
        hit = rest >= r
        tail[hit] ^= d[rows[hit], base[hit] + r - 1] << np.uint32(shift)
    h = np.where(rest > 0, (h ^ tail) * _M, h)
    h ^= h >> np.uint32(13)
    h = h * _M
    h ^= h >> np.uint32(15)
    return h.astype(np.uint32)


def partition_of(emails: Sequence[str] | Pooled, partitions: int) -> np.ndarray[Any, Any]:
    """Each address's partition (Kafka's default partitioner: `toPositive(murmur2(key)) % partitions`)."""
    if partitions == 1 or not len(emails):
        return np.zeros(len(emails), np.int64)
    data, lengths = _bytes_of_pooled(emails) if isinstance(emails, Pooled) else _bytes_of_texts(emails)
    return (murmur2(data, lengths) & np.uint32(0x7FFFFFFF)).astype(np.int64) % partitions


class Directory:
    """One partition's part of the whole list: the global id of each subscriber it holds.

    Every sign-up of the whole run takes the next global id, in every partition alike; the partition
    keeps those whose address hashes to it. An API call picks a global id (the whole list's size is
    known everywhere) and `local` says which of this partition's subscribers it names, or `FOREIGN`.
    """

    def __init__(self, k: int, partitions: int) -> None:
        self.k, self.partitions = k, partitions
        self.total = 0  # subscribers in the whole list (every partition's)
        self._global = Column(np.int64)  # by local id, ascending

    def admit(self, emails: Sequence[str] | Pooled) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Number the next `len(emails)` subscribers of the whole list: (their global ids, the mask of
        this partition's). The caller `hold`s those it adds, in order."""
        ids = np.arange(self.total, self.total + len(emails), dtype=np.int64)
        self.total += len(emails)
        return ids, self.mine(emails)

    def hold(self, ids: np.ndarray[Any, Any]) -> None:
        """This partition added subscribers with these global ids (the next local ids, in order)."""
        self._global.extend(np.asarray(ids, np.int64))

    def mine(self, emails: Sequence[str] | Pooled) -> np.ndarray[Any, Any]:
        """Which of these addresses belong to this partition (numbering nothing)."""
        mine: np.ndarray[Any, Any] = partition_of(emails, self.partitions) == self.k
        return mine

    def global_of(self, local: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The whole list's id of each of this partition's subscribers."""
        held: np.ndarray[Any, Any] = self._global.view
        return held[np.asarray(local, np.int64)]

    def local(self, ids: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The local id of each global id, or `FOREIGN` where another partition holds it."""
        held = self._global.view
        at = np.searchsorted(held, ids)
        ok = at < len(held)
        ok[ok] = held[at[ok]] == ids[ok]
        return np.where(ok, at, FOREIGN).astype(np.int64)


__all__ = ["FOREIGN", "Directory", "murmur2", "partition_of"]
