"""Every subscriber's address, by id, stored compactly.

A generated address is a user name from a small pool, a number and a domain
from a short list (`Pooled`): three small integers, not a Python string of
70 bytes, and no per-subscriber formatting until an address is read. Named
addresses (a scenario's own subscribers, sign-ups from a replayed log) are
kept as text. Reading one address, iterating, or comparing with a list of
strings works as on a `list[str]`; the event log's writer reads the parts
(`pieces`) and builds the column of addresses without one string per row.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np


@dataclass(frozen=True, eq=False)
class Pooled:
    """Addresses `users[user[k]] + str(number[k]) + "@" + domains[domain[k]]`."""

    users: tuple[str, ...]
    user: np.ndarray[Any, Any]  # index into `users`
    number: np.ndarray[Any, Any]  # unique per address: the addresses are distinct by construction
    domains: tuple[str, ...]
    domain: np.ndarray[Any, Any]  # index into `domains`

    def __len__(self) -> int:
        return len(self.number)

    def text(self, k: int) -> str:
        return f"{self.users[self.user[k]]}{self.number[k]}@{self.domains[self.domain[k]]}"

    def texts(self) -> list[str]:
        users, domains = self.users, self.domains
        return [f"{users[u]}{n}@{domains[d]}"
                for u, n, d in zip(self.user.tolist(), self.number.tolist(), self.domain.tolist(), strict=True)]

    def part(self, lo: int, hi: int) -> Pooled:
        return Pooled(self.users, self.user[lo:hi], self.number[lo:hi], self.domains, self.domain[lo:hi])

    def take(self, index: np.ndarray[Any, Any]) -> Pooled:
        """The addresses at `index` (positions or a mask), in that order."""
        return Pooled(self.users, self.user[index], self.number[index], self.domains, self.domain[index])

    @staticmethod
    def joined(parts: Sequence[Pooled]) -> Pooled:
        """One `Pooled` of several made from the same pools."""
        first = parts[0]
        assert all(p.users is first.users and p.domains is first.domains for p in parts)
        return Pooled(first.users, np.concatenate([p.user for p in parts]), np.concatenate([p.number for p in parts]),
                      first.domains, np.concatenate([p.domain for p in parts]))


Piece = list[str] | Pooled
MERGE_BELOW = 1 << 16  # a pooled piece shorter than this takes the next one in (bounded copying)


class Emails(Sequence[str]):
    """The list's addresses by subscriber id: pieces of text and of pooled parts, appended in order."""

    def __init__(self) -> None:
        self._pieces: list[Piece] = []
        self._starts: list[int] = []  # id of each piece's first address
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, email: str) -> None:
        if not self._pieces or not isinstance(self._pieces[-1], list):
            self._pieces.append([])
            self._starts.append(self._size)
        self._pieces[-1].append(email)  # type: ignore[union-attr]
        self._size += 1

    def extend(self, emails: Sequence[str] | Pooled) -> None:
        if not len(emails):
            return
        if isinstance(emails, Pooled):
            last = self._pieces[-1] if self._pieces else None
            if isinstance(last, Pooled) and last.users is emails.users and last.domains is emails.domains \
                    and len(last) < MERGE_BELOW:  # many small sign-up batches: a few pieces, not thousands
                self._pieces[-1] = Pooled.joined([last, emails])
            else:
                self._pieces.append(emails)
                self._starts.append(self._size)
            self._size += len(emails)
            return
        for email in emails:
            self.append(email)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError("subscriber id out of range")
        k = bisect.bisect_right(self._starts, index) - 1
        piece, at = self._pieces[k], index - self._starts[k]
        return piece[at] if isinstance(piece, list) else piece.text(at)

    def __iter__(self) -> Iterator[str]:
        for piece in self._pieces:
            yield from (piece if isinstance(piece, list) else piece.texts())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Emails | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def pieces(self) -> list[Piece]:
        """The stored pieces in id order (text, or pooled parts), for writers that build columns."""
        return list(self._pieces)
