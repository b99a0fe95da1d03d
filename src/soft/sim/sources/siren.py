"""Emergency sirens: wail, yelp, hi-lo two-tone (European 'pin-pon') and electronic phaser."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, harmonic, pre_roll, ramp_env


def _siren(rng: np.random.Generator, fs: int, mode: str) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(4.0, 12.0)
    n = int(dur * fs)
    t = np.arange(n) / fs
    if mode in ('wail', 'yelp', 'phaser'):
        lo, hi = rng.uniform(500, 800), rng.uniform(1200, 1700)
        period = {'wail': rng.uniform(1.5, 6.0), 'yelp': rng.uniform(0.15, 0.6),
                  'phaser': rng.uniform(0.06, 0.12)}[mode]
        ph = (t / period + rng.uniform(0, 1)) % 1.0
        shape = np.where(ph < 0.5, 2 * ph, 2 - 2 * ph) if mode != 'yelp' else ph
        f0 = lo + (hi - lo) * shape
    else:  # two-tone: the French fire brigade uses ~435/488 Hz, others ~ a fourth or third
        f1 = rng.uniform(400, 700)
        f2 = f1 * rng.choice([1.12, 1.25, 1.33])
        period = rng.uniform(0.6, 2.4)
        step = ((t / period) % 1.0) < 0.5
        f0 = np.where(step, f1, f2).astype(float)
        k = max(1, int(0.01 * fs))  # a few ms of glide between tones
        f0 = np.convolve(f0, np.ones(k) / k, 'same')
    # from nearly pure (electronic horns heard down a street) to buzzy: real sirens are much
    # less bright than a 3-8 dB/octave tilt made them (spectralcompare: bandwidth 433 Hz
    # real vs 1314 Hz generated)
    x = harmonic(f0, fs, tilt_db=rng.uniform(6, 20), max_harm=20, rng=rng)
    x *= ramp_env(n, fs, rng.uniform(0.05, 0.5), rng.uniform(0.1, 0.8))
    out = np.zeros(pre + n)
    add_at(out, x, pre)
    return out, pre


FAMILY = Family('siren', 12, {
    mode: Variant(lambda rng, fs, m=mode: _siren(rng, fs, m), (110.0, 120.0), 'leq',
                  sustained=True)
    for mode in ('wail', 'yelp', 'hi_lo', 'phaser')
})
