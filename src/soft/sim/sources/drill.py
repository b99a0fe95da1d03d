"""Drills: rotary motor whine with load changes; hammer drills add a fast impact train."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, band_noise, harmonic, lowpass, pre_roll, ramp_env, smooth_random


def _load_profile(rng: np.random.Generator, n: int, fs: int) -> np.ndarray:
    """1 = free running; pressing into the material drops the speed by 10-35 %."""
    prof = np.ones(n)
    pos = int(rng.uniform(0.1, 0.6) * fs)
    while pos < n:
        seg = int(rng.uniform(0.4, 2.5) * fs)
        drop = rng.uniform(0.1, 0.35)
        ramp = np.minimum(1, np.arange(seg) / (0.08 * fs)) * np.minimum(
            1, (seg - np.arange(seg)) / (0.08 * fs))
        m = min(seg, n - pos)
        prof[pos:pos + m] -= drop * ramp[:m]
        pos += seg + int(rng.uniform(0.2, 1.2) * fs)
    return prof


def _drill(rng: np.random.Generator, fs: int, hammer: bool, impact_driver: bool
           ) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(2.0, 8.0)
    n = int(dur * fs)
    load = _load_profile(rng, n, fs)
    whine_f = rng.uniform(180, 450) * load * (1 + 0.004 * smooth_random(rng, n, fs, 10))
    whine = harmonic(whine_f, fs, tilt_db=rng.uniform(3, 8), max_harm=25, rng=rng)
    gear = harmonic(whine_f * rng.uniform(2.5, 5.0), fs, tilt_db=10, max_harm=6, rng=rng)
    bite = band_noise(rng, n, fs, 800.0, 7000.0, order=2) * (1.0 - load) * 3.0
    x = whine / (np.std(whine) + 1e-12) + 0.5 * gear / (np.std(gear) + 1e-12) + bite
    if hammer or impact_driver:  # mechanical blows at up to ~50-80 per second
        rate = rng.uniform(35, 80) if hammer else rng.uniform(25, 50)
        hits = np.zeros(n)
        times = np.arange(0, dur, 1.0 / rate)
        for tt in times:
            i = int(tt * fs)
            if load[min(i, n - 1)] < 0.97 or impact_driver:
                hits[min(i, n - 1)] = rng.uniform(0.6, 1.0)
        ring = band_noise(rng, int(0.01 * fs), fs, 600.0, 5000.0, 2) * np.exp(
            -np.arange(int(0.01 * fs)) / (0.002 * fs))
        hm = np.convolve(hits, ring)[:n]
        x += rng.uniform(1.5, 4.0) * hm / (np.std(hm) + 1e-12) * (np.std(x))
        x += 2.0 * lowpass(hm, fs, 300.0)
    x *= ramp_env(n, fs, rng.uniform(0.05, 0.3), rng.uniform(0.1, 0.5))
    out = np.zeros(pre + n)
    add_at(out, x, pre)
    return out, pre


FAMILY = Family('drill', 6, {
    'rotary': Variant(lambda rng, fs: _drill(rng, fs, False, False), (95.0, 105.0), 'leq',
                      sustained=True),
    'hammer_drill': Variant(lambda rng, fs: _drill(rng, fs, True, False), (98.0, 110.0), 'leq',
                            sustained=True),
    'impact_driver': Variant(lambda rng, fs: _drill(rng, fs, False, True), (95.0, 108.0),
                             'leq', sustained=True),
})
