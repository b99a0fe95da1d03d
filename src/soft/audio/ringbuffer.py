"""A RAM-only ring buffer addressed by absolute index.

The detector looks back a few seconds (onset refinement on raw samples, classification windows
of log-mel frames) without keeping any more audio than that: privacy by construction, the raw
signal never exists anywhere but in this fixed-size array.
"""
from __future__ import annotations

import numpy as np


class RingBuffer:
    """Fixed-capacity buffer of rows (scalars for samples, vectors for feature frames).

    Rows are addressed by an absolute, ever-increasing index; only the last ``capacity`` rows
    can be read back.
    """

    def __init__(self, capacity: int, width: int | None = None, dtype: type = np.float32):
        if capacity <= 0:
            raise ValueError(f'RingBuffer capacity must be positive, got {capacity}')
        self.capacity = int(capacity)
        shape = (self.capacity,) if width is None else (self.capacity, int(width))
        self._data = np.zeros(shape, dtype=dtype)
        self._end = 0
        self._start = 0

    @property
    def start_index(self) -> int:
        """Absolute index of the oldest row still readable."""
        return max(self._start, self._end - self.capacity)

    @property
    def end_index(self) -> int:
        """Absolute index one past the newest row."""
        return self._end

    def reset(self, start_index: int) -> None:
        """Drop everything; the next appended row gets ``start_index``."""
        if start_index < self._end:
            raise ValueError(f'RingBuffer.reset: index {start_index} goes back before '
                             f'{self._end}')
        self._start = self._end = int(start_index)

    def append(self, rows: np.ndarray) -> None:
        """Append rows (at most the last ``capacity`` are kept)."""
        rows = np.asarray(rows, dtype=self._data.dtype)
        if rows.shape[1:] != self._data.shape[1:]:
            raise ValueError(f'RingBuffer.append: rows of shape {rows.shape[1:]}, '
                             f'expected {self._data.shape[1:]}')
        n = len(rows)
        if n == 0:
            return
        if n > self.capacity:
            rows = rows[-self.capacity:]
        end = self._end + n
        first = end - len(rows)
        pos = first % self.capacity
        k = min(len(rows), self.capacity - pos)
        self._data[pos:pos + k] = rows[:k]
        if k < len(rows):
            self._data[:len(rows) - k] = rows[k:]
        self._end = end

    def read(self, start: int, stop: int) -> np.ndarray:
        """Copy of rows ``[start, stop)``; an IndexError says what is still available."""
        if not self.start_index <= start <= stop <= self._end:
            raise IndexError(f'RingBuffer.read [{start}, {stop}) outside the available '
                             f'[{self.start_index}, {self._end})')
        n = stop - start
        pos = start % self.capacity
        k = min(n, self.capacity - pos)
        if k == n:
            return self._data[pos:pos + n].copy()
        return np.concatenate((self._data[pos:], self._data[:n - k]))

    def __contains__(self, span: tuple[int, int]) -> bool:
        start, stop = span
        return self.start_index <= start <= stop <= self._end
