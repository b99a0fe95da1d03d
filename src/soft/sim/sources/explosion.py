"""Explosions: a long, low-frequency blast wave followed by a rumble and falling debris."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import (OVERSAMPLE, add_at, brown_noise, click, decimate, exp_env, friedlander,
                  lowpass, pre_roll, ramp_env)


def _blast(rng: np.random.Generator, fs: int, t_pos: tuple[float, float],
           rise: tuple[float, float], rumble_db: tuple[float, float],
           secondary: int = 0) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(2.5, 6.0)
    n = int(dur * fs)
    fsh = fs * OVERSAMPLE
    nh = int(0.4 * fsh)
    t = (np.arange(nh) - pre * OVERSAMPLE) / fsh
    T = rng.uniform(*t_pos)
    front = friedlander(t, T, b=rng.uniform(0.4, 1.2))
    r = rng.uniform(*rise)
    if r > 2.0 / fsh:  # deflagrations build up instead of jumping
        k = int(r * fsh)
        front = np.convolve(front, np.hanning(2 * k)[:k] / np.sum(np.hanning(2 * k)[:k]),
                            'full')[:nh]
    x = np.zeros(n)
    add_at(x, decimate(front), 0)
    # rumble: heavy low-passed noise, fast build-up, slow decay (reverberant city canyon)
    rum = lowpass(brown_noise(rng, n, fs, corner=15.0), fs, rng.uniform(80, 250), order=2)
    rum *= exp_env(n, fs, rng.uniform(0.4, 1.6)) * ramp_env(n, fs, 0.03, 0.2)
    rum[:pre] = 0.0
    rum /= np.max(np.abs(rum)) + 1e-12
    x += 10 ** (rng.uniform(*rumble_db) / 20) * rum
    # debris and glass falling after the blast
    for _ in range(int(rng.integers(5, 40))):
        start = pre + int(rng.uniform(0.05, min(2.0, dur - 0.2)) * fs)
        g = click(rng, fs, rng.uniform(0.005, 0.04), 500.0, 6000.0)
        add_at(x, g * 10 ** (rng.uniform(-50, -32) / 20), start)
    for _ in range(secondary):
        start = pre + int(rng.uniform(0.2, 1.5) * fs)
        sec = friedlander((np.arange(nh) / fsh), T * rng.uniform(0.5, 1.5), 1.0)
        add_at(x, decimate(sec) * 10 ** (rng.uniform(-18, -6) / 20), start)
    return x, pre


FAMILY = Family('explosion', 5, {
    'high_explosive': Variant(lambda rng, fs: _blast(rng, fs, (4e-3, 1.2e-2), (0, 0),
                                                     (-26, -16)), (168.0, 185.0), 'peak'),
    'gas_explosion': Variant(lambda rng, fs: _blast(rng, fs, (1.5e-2, 5e-2), (3e-3, 1.5e-2),
                                                    (-20, -10)), (160.0, 178.0), 'peak'),
    'vehicle_fuel': Variant(lambda rng, fs: _blast(rng, fs, (8e-3, 3e-2), (1e-3, 6e-3),
                                                   (-18, -8), secondary=int(rng.integers(1, 3))),
                            (160.0, 175.0), 'peak'),
})
