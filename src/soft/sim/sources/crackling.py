"""Firecrackers and crackling: bursts of many small bangs (strings, bangers, fountains, fire)."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import (OVERSAMPLE, add_at, band_noise, click, decimate, exp_env, friedlander,
                  pre_roll, street_reverb)


def _bang(rng: np.random.Generator, fs: int, t_pos: float) -> np.ndarray:
    fsh = fs * OVERSAMPLE
    n = int(0.03 * fsh)
    b = friedlander(np.arange(n) / fsh, t_pos, rng.uniform(0.6, 1.5))
    return decimate(b)


def _burst(rng: np.random.Generator, fs: int, count: tuple[int, int], rate: tuple[float, float],
           t_pos: tuple[float, float], amp_db: tuple[float, float], smoke: bool
           ) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    k = int(rng.integers(*count))
    gaps = rng.exponential(1.0 / rng.uniform(*rate), k)
    gaps[0] = 0.0
    times = np.cumsum(gaps)
    x = np.zeros(pre + int((times[-1] + 0.3) * fs))
    for i, tt in enumerate(times):
        g = _bang(rng, fs, rng.uniform(*t_pos))
        amp = 1.0 if i == 0 else 10 ** (rng.uniform(*amp_db) / 20)
        add_at(x, g * amp, pre + int(round(tt * fs)))
    if smoke:  # fizzing fuse / paper debris under the bangs
        hiss = band_noise(rng, len(x), fs, 2000.0, 7000.0, order=2) * 10 ** (-40 / 20)
        hiss[:pre] = 0
        x += hiss
    # outdoors each bang rings on in the street (real crackles decay to -20 dB in ~16 ms,
    # dry synthetic ones in 4 ms)
    x = street_reverb(x, pre, rng, fs, rt60=(0.3, 1.5), tail_db=(-20.0, -2.0), max_s=1.0)
    return x, pre


def _fire(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(2.0, 6.0)
    n = pre + int(dur * fs)
    x = band_noise(rng, n, fs, 100.0, 1500.0, order=2) * 0.02
    add_at(x, click(rng, fs, 0.004, 1000.0, 7000.0) * 1.0, pre)
    for tt in rng.uniform(0, dur, int(rng.uniform(8, 25) * dur)):
        g = click(rng, fs, float(np.exp(rng.uniform(np.log(0.001), np.log(0.02)))), 500.0,
                  7800.0)
        add_at(x, g * 10 ** (rng.uniform(-30, 0) / 20), pre + int(tt * fs))
    x[:pre] = 0
    return x, pre


def _fountain(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    x, pre = _burst(rng, fs, (60, 250), (40, 120), (5e-5, 2e-4), (-20, 0), True)
    return x * exp_env(len(x), fs, 3.0), pre


FAMILY = Family('crackling', 11, {
    'firecracker_string': Variant(lambda rng, fs: _burst(rng, fs, (20, 120), (8, 40),
                                                         (1e-4, 4e-4), (-10, 0), True),
                                  (125.0, 142.0), 'peak'),
    'bangers': Variant(lambda rng, fs: _burst(rng, fs, (2, 8), (1, 4), (3e-4, 8e-4), (-6, 0),
                                              False), (135.0, 150.0), 'peak'),
    'crackle_fountain': Variant(_fountain, (110.0, 128.0), 'peak'),
    'fire': Variant(_fire, (70.0, 85.0), 'peak'),
})
