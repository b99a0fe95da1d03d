"""The Source record and the per-family variant registry shared by every generator.

A generator returns a dry waveform with its onset index; the registry scales it to a level
drawn from the variant's realistic range, so every family states its physics once and its
calibration once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

P_REF = 20e-6  # Pa, reference sound pressure

LEVEL_TYPES = ('peak', 'leq')


@dataclass
class Source:
    """A dry sound as heard 1 m from the source, in pascal.

    ``level_db`` is dB SPL at 1 m: the instantaneous peak (``level_type == 'peak'``, impulsive
    sounds) or the Leq from the onset to the end of ``samples`` (``'leq'``, sustained sounds).
    """

    kind: str
    class_id: int
    variant: str
    samples: np.ndarray
    sample_rate: int
    onset_index: int
    level_db: float
    level_type: str = 'peak'

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate

    def scaled(self, level_db: float) -> Source:
        """The same sound at another level (same level type), e.g. a scenario override."""
        gain = 10.0 ** ((level_db - self.level_db) / 20.0)
        return replace(self, samples=(self.samples * gain).astype(np.float32),
                       level_db=float(level_db))


def measure_level(x: np.ndarray, onset: int, level_type: str) -> float:
    """dB SPL of a pressure signal by the stated convention (peak or Leq after the onset)."""
    if level_type == 'peak':
        p = float(np.max(np.abs(x)))
    elif level_type == 'leq':
        seg = np.asarray(x[onset:], dtype=np.float64)
        p = float(np.sqrt(np.mean(seg * seg))) if seg.size else 0.0
    else:
        raise ValueError(f'level_type {level_type!r}: expected one of {LEVEL_TYPES}')
    if not p > 0:
        raise ValueError('cannot measure the level of a silent signal')
    return 20.0 * np.log10(p / P_REF)


Render = Callable[[np.random.Generator, int], tuple[np.ndarray, int]]


@dataclass(frozen=True)
class Variant:
    """One way a family sounds: a generator plus its realistic level range at 1 m."""

    render: Render
    level_range: tuple[float, float]
    level_type: str = 'peak'
    sustained: bool = False


@dataclass(frozen=True)
class Family:
    """All variants of one kind (a taxonomy class, or a hard negative with class_id 0)."""

    kind: str
    class_id: int
    variants: dict[str, Variant]


def finish(kind: str, class_id: int, variant: str, spec: Variant, x: np.ndarray, onset: int,
           fs: int, rng: np.random.Generator, level_db: float | None) -> Source:
    """Trim, check and calibrate a raw waveform into a Source."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise RuntimeError(f'{kind}/{variant}: generator produced an invalid waveform')
    x = trim_tail(x, onset)
    if level_db is None:
        lo, hi = spec.level_range
        level_db = float(rng.uniform(lo, hi))
    now = measure_level(x, onset, spec.level_type)
    x = x * 10.0 ** ((level_db - now) / 20.0)
    return Source(kind, class_id, variant, x.astype(np.float32), fs, int(onset),
                  float(level_db), spec.level_type)


def trim_tail(x: np.ndarray, onset: int, floor_db: float = -70.0) -> np.ndarray:
    """Cut the silent tail so that Leq and render costs cover the sound, not padding."""
    peak = np.max(np.abs(x))
    if peak <= 0:
        return x
    above = np.nonzero(np.abs(x) > peak * 10 ** (floor_db / 20))[0]
    end = max(int(above[-1]) + 1, onset + 1) if above.size else onset + 1
    return x[:end]
