"""Aerosol spray cans: hiss bursts and the rattle of the mixing ball when the can is shaken."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, band_noise, click, pre_roll, ramp_env, smooth_random


def _hiss(rng: np.random.Generator, fs: int, dur: float) -> np.ndarray:
    n = int(dur * fs)
    lo = rng.uniform(1500, 3500)
    x = band_noise(rng, n, fs, lo, min(lo * rng.uniform(2.0, 4.0), 0.47 * fs), order=2)
    x /= np.std(x) + 1e-12
    # pressure sag and nozzle sputter
    x *= (1 + 0.15 * smooth_random(rng, n, fs, 10.0)) * np.linspace(1, rng.uniform(0.7, 1), n)
    return x * ramp_env(n, fs, rng.uniform(0.005, 0.03), rng.uniform(0.01, 0.06))


def _rattle(rng: np.random.Generator, fs: int, dur: float) -> np.ndarray:
    """The ball hits both ends of the can at each shake stroke (~3-6 strokes/s)."""
    n = int(dur * fs)
    x = np.zeros(n)
    rate = rng.uniform(3, 6)
    f_can = rng.uniform(2500, 5500)
    for k, tt in enumerate(np.arange(0, dur - 0.05, 1 / (2 * rate))):
        jit = rng.normal(0, 0.01)
        g = click(rng, fs, rng.uniform(0.008, 0.02), f_can * 0.7, min(f_can * 1.4, 7800))
        add_at(x, g * rng.uniform(0.5, 1.0), int((tt + jit) * fs))
    return x / (np.max(np.abs(x)) + 1e-12)


def _can(rng: np.random.Generator, fs: int, shake: bool, bursts: tuple[int, int],
         burst_s: tuple[float, float]) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    parts: list[tuple[np.ndarray, float]] = []
    if shake:
        parts.append((_rattle(rng, fs, rng.uniform(1.0, 3.0)) * rng.uniform(1.5, 3.0),
                      rng.uniform(0.2, 0.8)))
    for _ in range(int(rng.integers(*bursts))):
        parts.append((_hiss(rng, fs, rng.uniform(*burst_s)), rng.uniform(0.15, 0.8)))
    n = pre + sum(len(p) for p, _ in parts) + int(sum(g for _, g in parts) * fs) + 1
    x = np.zeros(n)
    pos = pre
    for p, g in parts:
        add_at(x, p, pos)
        pos += len(p) + int(g * fs)
    return x, pre


FAMILY = Family('aerosol_spray', 10, {
    'spray_bursts': Variant(lambda rng, fs: _can(rng, fs, False, (2, 6), (0.2, 1.0)),
                            (75.0, 88.0), 'leq', sustained=True),
    'shake_then_spray': Variant(lambda rng, fs: _can(rng, fs, True, (1, 4), (0.5, 2.0)),
                                (75.0, 88.0), 'leq', sustained=True),
    'long_spray': Variant(lambda rng, fs: _can(rng, fs, False, (1, 2), (2.0, 5.0)),
                          (75.0, 88.0), 'leq', sustained=True),
    'graffiti_tag': Variant(lambda rng, fs: _can(rng, fs, True, (4, 10), (0.1, 0.6)),
                            (75.0, 88.0), 'leq', sustained=True),
})
