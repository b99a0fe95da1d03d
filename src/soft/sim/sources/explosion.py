"""Explosions: a long, low-frequency blast wave followed by a rumble and falling debris."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import (OVERSAMPLE, add_at, brown_noise, click, decimate, exp_env, friedlander,
                  lowpass, pre_roll, ramp_env, street_reverb)


def _blast(rng: np.random.Generator, fs: int, t_pos: tuple[float, float],
           rise: tuple[float, float], rumble_db: tuple[float, float],
           secondary: int = 0) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(3.0, 8.0)
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
    # rumble: heavy low-passed noise, build-up, slow decay (reverberant city canyon). Real
    # recordings put it within a few dB of the front, brighter than a pure roar, and often
    # building over 0.1-0.3 s: a lone sharp front is a gunshot's signature, not a blast's.
    fc = float(np.exp(rng.uniform(np.log(150.0), np.log(3000.0))))
    corner = float(np.exp(rng.uniform(np.log(15.0), np.log(300.0))))
    rum = lowpass(brown_noise(rng, n, fs, corner=corner), fs, fc, order=1)
    rum *= exp_env(n, fs, rng.uniform(0.3, 2.0)) \
        * ramp_env(n, fs, float(np.exp(rng.uniform(np.log(0.01), np.log(0.2)))), 0.2)
    rum[:pre] = 0.0
    rum /= np.max(np.abs(rum)) + 1e-12
    x += 10 ** (rng.uniform(*rumble_db) / 20) * rum
    # debris and glass falling after the blast
    for _ in range(int(rng.integers(5, 40))):
        start = pre + int(rng.uniform(0.05, min(2.0, dur - 0.2)) * fs)
        g = click(rng, fs, rng.uniform(0.005, 0.04), 500.0, 6000.0)
        add_at(x, g * 10 ** (rng.uniform(-40, -14) / 20), start)
    for _ in range(secondary):
        start = pre + int(rng.uniform(0.2, 1.5) * fs)
        sec = friedlander((np.arange(nh) / fsh), T * rng.uniform(0.5, 1.5), 1.0)
        add_at(x, decimate(sec) * 10 ** (rng.uniform(-18, -6) / 20), start)
    x = street_reverb(x, pre, rng, fs, rt60=(0.6, 2.5), tail_db=(-10.0, 4.0), max_s=2.0)
    return x, pre


FAMILY = Family('explosion', 5, {
    'high_explosive': Variant(lambda rng, fs: _blast(rng, fs, (4e-3, 1.2e-2), (0, 0),
                                                     (-8, 6)), (168.0, 185.0), 'peak'),
    'gas_explosion': Variant(lambda rng, fs: _blast(rng, fs, (1.5e-2, 5e-2), (3e-3, 1.5e-2),
                                                    (-6, 8)), (160.0, 178.0), 'peak'),
    'vehicle_fuel': Variant(lambda rng, fs: _blast(rng, fs, (8e-3, 3e-2), (1e-3, 6e-3),
                                                   (-6, 8), secondary=int(rng.integers(1, 3))),
                            (160.0, 175.0), 'peak'),
})
