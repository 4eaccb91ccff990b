"""Append-only columns gathered in pieces, merged as they come.

A long run appends many small arrays (one piece per phase); each numpy array
costs ~100 bytes of overhead whatever its length, so thousands of small
pieces would grow memory far beyond the data. Pieces are merged into one
every `merge_every` appends, which keeps memory proportional to the rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Chunks:
    def __init__(self, *columns: str, merge_every: int = 256) -> None:
        self.columns = columns
        self.merge_every = merge_every
        self._merged: list[dict[str, np.ndarray[Any, Any]]] = []
        self._recent: list[dict[str, np.ndarray[Any, Any]]] = []

    def add(self, **arrays: np.ndarray[Any, Any]) -> None:
        if len(next(iter(arrays.values()))) == 0:
            return
        self._recent.append(arrays)
        if len(self._recent) >= self.merge_every:
            self._merged.append(self._join(self._recent))
            self._recent = []

    def _join(self, pieces: list[dict[str, np.ndarray[Any, Any]]]) -> dict[str, np.ndarray[Any, Any]]:
        return {c: np.concatenate([p[c] for p in pieces]) for c in self.columns}

    def __bool__(self) -> bool:
        return bool(self._merged or self._recent)

    def all(self) -> dict[str, np.ndarray[Any, Any]]:
        """Every row so far, in arrival order."""
        pieces = self._merged + self._recent
        if not pieces:
            return {c: np.zeros(0) for c in self.columns}
        if len(pieces) > 1:  # keep the join as the only piece: the rows are never held twice
            self._merged, self._recent = [self._join(pieces)], []
        return dict(self._merged[0] if self._merged else self._recent[0])
