"""Sound levels in dB SPL from full-scale samples, a robust noise floor, clipping.

Calibration convention (AES17): a full-scale sine reads 0 dBFS, i.e. ``dBFS = 20 log10(peak)``
for a sine, and for any signal ``dBFS_rms = 10 log10(2 * mean_square)``. The microphone
sensitivity is the dBFS reading of a 94 dB SPL (1 Pa) tone, so
``SPL = dBFS - sensitivity_dbfs + 94``.
"""
from __future__ import annotations

from collections import deque

import numpy as np

REFERENCE_SPL_DB = 94.0
_TINY = 1e-20


def dbfs_from_mean_square(mean_square: np.ndarray | float) -> np.ndarray | float:
    """dBFS (AES17, full-scale sine = 0) of a mean square; vectorised."""
    return 10.0 * np.log10(np.maximum(2.0 * np.asarray(mean_square, dtype=np.float64), _TINY))


def dbfs_rms(samples: np.ndarray) -> float:
    """RMS level of full-scale samples in dBFS (AES17)."""
    x = np.asarray(samples, dtype=np.float64)
    return float(dbfs_from_mean_square(np.mean(x * x))) if x.size else float('-inf')


def dbfs_peak(samples: np.ndarray) -> float:
    """Peak level in dBFS (a sine's peak reads like its AES17 RMS level)."""
    x = np.asarray(samples)
    return float(20.0 * np.log10(max(float(np.max(np.abs(x))), 1e-10))) if x.size \
        else float('-inf')


def spl_from_dbfs(dbfs: np.ndarray | float, sensitivity_dbfs: float) -> np.ndarray | float:
    """dB SPL from dBFS given the microphone's dBFS reading of a 94 dB SPL tone."""
    return dbfs - sensitivity_dbfs + REFERENCE_SPL_DB


def spl_rms(samples: np.ndarray, sensitivity_dbfs: float) -> float:
    """RMS sound pressure level of a stretch of samples, dB SPL."""
    return float(spl_from_dbfs(dbfs_rms(samples), sensitivity_dbfs))


def spl_peak(samples: np.ndarray, sensitivity_dbfs: float) -> float:
    """Peak sound pressure level (sine-equivalent), dB SPL."""
    return float(spl_from_dbfs(dbfs_peak(samples), sensitivity_dbfs))


class NoiseFloorTracker:
    """Low percentile of recent frame levels: the background a sound has to rise above.

    Frame levels (dB, scalar or one per band) are averaged in groups of ``group_frames``
    frames, and the floor is the ``percentile`` of the last ``window_s`` seconds of group
    means. Group means tame the frame-to-frame scatter; the low percentile ignores sounds
    shorter than most of the window. Frames are grouped in fixed sets, so the result does not
    depend on how the stream was cut into blocks. Before the first group completes the floor
    is ``nan``.
    """

    def __init__(self, frame_rate: float, window_s: float = 10.0, percentile: float = 10.0,
                 group_frames: int = 10, width: int | None = None):
        if not 0.0 <= percentile <= 100.0:
            raise ValueError(f'NoiseFloorTracker: percentile {percentile} outside 0..100')
        self.group_frames = int(group_frames)
        n_groups = max(1, int(round(window_s * frame_rate / self.group_frames)))
        self.percentile = float(percentile)
        self.width = width
        shape = (n_groups,) if width is None else (n_groups, width)
        self._groups = np.zeros(shape, dtype=np.float64)
        self._count = 0
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self.floor: np.ndarray | float = (
            float('nan') if width is None else np.full(width, np.nan))

    def update(self, frame_db: np.ndarray) -> None:
        """Add frame levels ([k] scalar levels or [k, width] band levels)."""
        frame_db = np.asarray(frame_db, dtype=np.float64)
        if len(frame_db) == 0:
            return
        self._pending.append(frame_db)
        self._pending_n += len(frame_db)
        if self._pending_n < self.group_frames:
            return
        data = np.concatenate(self._pending) if len(self._pending) > 1 else frame_db
        n_full = len(data) // self.group_frames
        used = n_full * self.group_frames
        means = data[:used].reshape((n_full, self.group_frames) + data.shape[1:]).mean(axis=1)
        rest = data[used:]
        self._pending = [rest] if len(rest) else []
        self._pending_n = len(rest)
        cap = len(self._groups)
        for m in means[-cap:]:
            self._groups[self._count % cap] = m
            self._count += 1
        filled = self._groups[:min(self._count, cap)]
        # Nearest-rank percentile: np.partition is several times cheaper than np.percentile.
        rank = int(round(self.percentile / 100.0 * (len(filled) - 1)))
        floor = np.partition(filled, rank, axis=0)[rank]
        self.floor = float(floor) if self.width is None else floor.copy()

    @property
    def ready(self) -> bool:
        """True once at least one group of frames has been seen."""
        return self._count > 0


class ClippingMeter:
    """Share of samples at or beyond ``level`` (full scale) over the last ``window`` samples."""

    def __init__(self, window: int, level: float = 0.999):
        self.window = int(window)
        self.level = float(level)
        self._blocks: deque[tuple[int, int]] = deque()
        self._n = 0
        self._clipped = 0
        self.total_clipped = 0

    def update(self, samples: np.ndarray) -> float:
        """Count a block; return the current ratio."""
        n = len(samples)
        c = int(np.count_nonzero(np.abs(samples) >= self.level))
        self._blocks.append((n, c))
        self._n += n
        self._clipped += c
        self.total_clipped += c
        while len(self._blocks) > 1 and self._n - self._blocks[0][0] >= self.window:
            n0, c0 = self._blocks.popleft()
            self._n -= n0
            self._clipped -= c0
        return self.ratio

    @property
    def ratio(self) -> float:
        """Clipped share of recent samples (0 when nothing was seen)."""
        return self._clipped / self._n if self._n else 0.0
