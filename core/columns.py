"""Growable numpy columns: the storage under the pending list and the store.

One Python object per entry costs hundreds of bytes; a column costs the
item size. Appends are amortised O(1) by doubling capacity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class Column:
    """A 1-D numpy array that grows on append."""

    __slots__ = ("_data", "_size")

    def __init__(self, dtype: npt.DTypeLike, capacity: int = 64, fill: Any = 0) -> None:
        self._data: np.ndarray[Any, Any] = np.full(max(capacity, 1), fill, dtype=dtype)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def _reserve(self, size: int) -> None:
        if size > len(self._data):
            grown = np.empty(max(size, 2 * len(self._data)), dtype=self._data.dtype)
            grown[: self._size] = self._data[: self._size]
            self._data = grown

    def append(self, value: Any) -> int:
        self._reserve(self._size + 1)
        self._data[self._size] = value
        self._size += 1
        return self._size - 1

    def extend(self, values: npt.ArrayLike) -> tuple[int, int]:
        arr = np.asarray(values, dtype=self._data.dtype)
        start = self._size
        self._reserve(start + len(arr))
        self._data[start : start + len(arr)] = arr
        self._size += len(arr)
        return start, self._size

    @property
    def view(self) -> np.ndarray[Any, Any]:
        """The live items (a view: do not keep it across appends)."""
        return self._data[: self._size]

    def __getitem__(self, index: Any) -> Any:
        return self.view[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        self.view[index] = value

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)
