"""Car horns: single and dual tone, short taps and long presses, plus truck air horns."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, harmonic, pre_roll, ramp_env, smooth_random


def _note(rng: np.random.Generator, fs: int, freqs: list[float], dur: float, tilt: float
          ) -> np.ndarray:
    n = int(dur * fs)
    x = np.zeros(n)
    for f in freqs:
        f0 = f * (1 + 0.002 * smooth_random(rng, n, fs, 20.0))
        x += harmonic(f0, fs, tilt_db=tilt, max_harm=30, rng=rng)
    return x * ramp_env(n, fs, rng.uniform(0.005, 0.03), rng.uniform(0.01, 0.05))


def _horn(rng: np.random.Generator, fs: int, dual: bool, taps: bool, truck: bool = False
          ) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    f1 = rng.uniform(180, 300) if truck else rng.uniform(340, 520)
    freqs = [f1, f1 * rng.choice([1.19, 1.25, 1.26, 1.33])] if dual else [f1]
    tilt = rng.uniform(2.0, 12.0)  # from nearly square tones to mellow ones
    if taps:
        durs = rng.uniform(0.08, 0.35, int(rng.integers(1, 5)))
    else:
        durs = rng.uniform(0.8, 4.0, 1)
    gaps = rng.uniform(0.08, 0.3, len(durs))
    x = np.zeros(pre + int((durs.sum() + gaps.sum()) * fs) + 1)
    pos = pre
    for d, g in zip(durs, gaps):
        add_at(x, _note(rng, fs, freqs, d, tilt), pos)
        pos += int((d + g) * fs)
    return x, pre


FAMILY = Family('car_horn', 8, {
    'single_tap': Variant(lambda rng, fs: _horn(rng, fs, False, True), (105.0, 115.0), 'leq',
                          sustained=True),
    'single_long': Variant(lambda rng, fs: _horn(rng, fs, False, False), (105.0, 115.0), 'leq',
                           sustained=True),
    'dual_tap': Variant(lambda rng, fs: _horn(rng, fs, True, True), (105.0, 115.0), 'leq',
                        sustained=True),
    'dual_long': Variant(lambda rng, fs: _horn(rng, fs, True, False), (105.0, 115.0), 'leq',
                         sustained=True),
    'truck_air_horn': Variant(lambda rng, fs: _horn(rng, fs, bool(rng.random() < 0.5),
                                                    bool(rng.random() < 0.5), truck=True),
                              (110.0, 120.0), 'leq', sustained=True),
})
