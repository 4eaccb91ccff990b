"""Growable numpy columns: the storage under the pending list and the store.

One Python object per entry costs hundreds of bytes; a column costs the
item size. Single appends go to a short Python list (cheap) and are moved
into the array in one copy the next time the column is read as an array;
batch appends are amortised O(1) by doubling capacity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class Column:
    """A 1-D numpy array that grows on append."""

    __slots__ = ("_data", "_size", "_tail")

    def __init__(self, dtype: npt.DTypeLike, capacity: int = 64, fill: Any = 0) -> None:
        self._data: np.ndarray[Any, Any] = np.full(max(capacity, 1), fill, dtype=dtype)
        self._size = 0  # items in _data
        self._tail: list[Any] = []  # appended, not yet in _data

    def __len__(self) -> int:
        return self._size + len(self._tail)

    def _reserve(self, size: int) -> None:
        if size > len(self._data):
            grown = np.empty(max(size, 2 * len(self._data)), dtype=self._data.dtype)
            grown[: self._size] = self._data[: self._size]
            self._data = grown

    def _flush(self) -> None:
        tail, self._tail = self._tail, []
        self._reserve(self._size + len(tail))
        self._data[self._size : self._size + len(tail)] = tail
        self._size += len(tail)

    def append(self, value: Any) -> int:
        self._tail.append(value)
        return self._size + len(self._tail) - 1

    def extend(self, values: npt.ArrayLike) -> tuple[int, int]:
        if self._tail:
            self._flush()
        arr = np.asarray(values, dtype=self._data.dtype)
        start = self._size
        self._reserve(start + len(arr))
        self._data[start : start + len(arr)] = arr
        self._size += len(arr)
        return start, self._size

    @property
    def view(self) -> np.ndarray[Any, Any]:
        """The live items (a view: do not keep it across appends)."""
        if self._tail:
            self._flush()
        return self._data[: self._size]

    def __getitem__(self, index: Any) -> Any:
        return self.view[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        self.view[index] = value


def distinct(values: npt.ArrayLike) -> np.ndarray[Any, Any]:
    """The sorted distinct values of a 1-D array: `np.unique(values)` by sorting.

    numpy 2's `np.unique` hashes instead, which was 25x slower than a sort on 200k integers
    here, and imports `numpy.ma` on its first call (20 ms of a short run's start-up).
    """
    s = np.sort(np.asarray(values), kind="stable").ravel()
    if len(s) < 2:
        return s
    keep = np.empty(len(s), bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    if s.dtype.kind in "fc" and np.isnan(s[-1]):  # NaNs sort last; like np.unique, keep one
        keep[int(np.searchsorted(s, np.nan)) + 1:] = False
    return s[keep]


def repeats(values: npt.ArrayLike) -> int:
    """How many items of `values` equal an earlier one (`len(values) - len(distinct(values))`)."""
    s = np.sort(np.asarray(values)).ravel()
    return int(np.count_nonzero(s[1:] == s[:-1])) if len(s) > 1 else 0
