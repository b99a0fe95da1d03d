"""Whistles: referee pea whistles (warbling from the spinning pea) and finger whistles."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, band_noise, harmonic, pre_roll, ramp_env, smooth_random


def _blast(rng: np.random.Generator, fs: int, dur: float, f: float, warble: bool,
           glide: np.ndarray | None = None) -> np.ndarray:
    n = int(dur * fs)
    t = np.arange(n) / fs
    f0 = np.full(n, f) * (1 + 0.01 * smooth_random(rng, n, fs, 6.0))
    am = np.ones(n)
    if warble:  # the pea interrupts the air jet 20-50 times a second
        wr = rng.uniform(20, 50)
        ph = np.sin(2 * np.pi * wr * t)
        f0 *= 1 + rng.uniform(0.01, 0.04) * ph
        am *= 1 + rng.uniform(0.4, 0.9) * ph
    if glide is not None:
        f0 *= np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(glide)), glide)
    tone = harmonic(f0, fs, tilt_db=rng.uniform(15, 25), max_harm=3, rng=rng)
    air = band_noise(rng, n, fs, f * 0.7, min(f * 2.0, 0.45 * fs), order=2)
    x = am * (tone / (np.std(tone) + 1e-12)
              + 10 ** (rng.uniform(-24, -12) / 20) * air / (np.std(air) + 1e-12))
    return x * ramp_env(n, fs, rng.uniform(0.01, 0.04), rng.uniform(0.02, 0.08))


def _sequence(rng: np.random.Generator, fs: int, blasts: list[np.ndarray]
              ) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    gaps = rng.uniform(0.08, 0.4, len(blasts))
    x = np.zeros(pre + sum(len(b) for b in blasts) + int(gaps.sum() * fs) + 1)
    pos = pre
    for b, g in zip(blasts, gaps):
        add_at(x, b, pos)
        pos += len(b) + int(g * fs)
    return x, pre


def _pea(rng: np.random.Generator, fs: int, long: bool) -> tuple[np.ndarray, int]:
    f = rng.uniform(2400, 4200)
    count = 1 if long else int(rng.integers(1, 4))
    durs = rng.uniform(0.8, 2.5, count) if long else rng.uniform(0.1, 0.5, count)
    return _sequence(rng, fs, [_blast(rng, fs, d, f, True) for d in durs])


def _finger(rng: np.random.Generator, fs: int, wolf: bool) -> tuple[np.ndarray, int]:
    f = rng.uniform(1500, 3500)
    if wolf:  # the "wolf whistle": rising glide, then a rise-and-fall
        return _sequence(rng, fs, [
            _blast(rng, fs, rng.uniform(0.25, 0.5), f * 0.8, False, np.array([0.7, 1.3])),
            _blast(rng, fs, rng.uniform(0.5, 0.9), f * 0.8, False,
                   np.array([0.8, 1.35, 1.1, 0.6]))])
    count = int(rng.integers(1, 3))
    return _sequence(rng, fs, [_blast(rng, fs, rng.uniform(0.3, 1.5), f, False,
                                      np.array([0.95, 1.0, 1.02, rng.uniform(0.85, 1.0)]))
                               for _ in range(count)])


FAMILY = Family('whistle', 9, {
    'pea_short_blasts': Variant(lambda rng, fs: _pea(rng, fs, False), (105.0, 118.0), 'leq',
                                sustained=True),
    'pea_long': Variant(lambda rng, fs: _pea(rng, fs, True), (105.0, 118.0), 'leq',
                        sustained=True),
    'finger_shrill': Variant(lambda rng, fs: _finger(rng, fs, False), (100.0, 115.0), 'leq',
                             sustained=True),
    'wolf_whistle': Variant(lambda rng, fs: _finger(rng, fs, True), (95.0, 110.0), 'leq',
                            sustained=True),
})
