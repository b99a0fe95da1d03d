"""Emergency sirens: wail, yelp, hi-lo two-tone (European 'pin-pon'), electronic phaser and
the motor-driven mechanical siren that spins up from a growl."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, harmonic, pre_roll, ramp_env, smooth_random


def _sweep_range(rng: np.random.Generator) -> tuple[float, float]:
    """Low and high pitch of an electronic sweep.

    Published tone generators span about 400-800 Hz at the bottom and 1.0-1.9 kHz at the
    top; a sweep covers at least 1.4x.
    """
    lo = rng.uniform(400, 800)
    return lo, max(lo * 1.4, rng.uniform(1000, 1900))


def _mechanical(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """A rotor siren's pitch: it winds up from 100-300 Hz, holds, coasts down, winds again."""
    f_lo, f_hi = rng.uniform(100, 300), rng.uniform(700, 1400)
    up = rng.uniform(0.4, 1.5)
    wind_s, coast_s = 3.0 * up, rng.uniform(1.0, 4.0)
    cycle = wind_s + coast_s
    ph = (t + rng.uniform(0, cycle)) % cycle
    wind = ph < wind_s
    f = np.empty_like(t)
    f[wind] = f_hi - (f_hi - f_lo) * np.exp(-ph[wind] / up)
    top = f_hi - (f_hi - f_lo) * np.exp(-3.0)
    f[~wind] = f_lo + (top - f_lo) * np.exp(-(ph[~wind] - wind_s) / (coast_s / 2))
    return f


def _siren(rng: np.random.Generator, fs: int, mode: str) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(4.0, 12.0)
    n = int(dur * fs)
    t = np.arange(n) / fs
    if mode in ('wail', 'yelp', 'phaser'):
        lo, hi = _sweep_range(rng)
        period = {'wail': rng.uniform(1.5, 6.0), 'yelp': rng.uniform(0.15, 0.6),
                  'phaser': rng.uniform(0.06, 0.12)}[mode]
        ph = (t / period + rng.uniform(0, 1)) % 1.0
        shape = np.where(ph < 0.5, 2 * ph, 2 - 2 * ph) if mode != 'yelp' else ph
        f0 = lo + (hi - lo) * shape
    elif mode == 'mechanical':
        f0 = _mechanical(rng, t)
    else:  # two-tone: French ~435/488 Hz (1.12), German a fourth (1.33), others up to ~1.45
        f1 = rng.uniform(380, 750)
        f2 = f1 * rng.uniform(1.1, 1.45)
        period = rng.uniform(0.6, 2.4)
        step = ((t / period) % 1.0) < 0.5
        f0 = np.where(step, f1, f2).astype(float)
        k = max(1, int(0.01 * fs))  # a few ms of glide between tones
        f0 = np.convolve(f0, np.ones(k) / k, 'same')
    if rng.random() < 0.5:  # a passing vehicle: Doppler drift of up to +-3 %
        f0 = f0 * (1.0 + 0.03 * np.tanh(-(t - rng.uniform(0, dur)) / rng.uniform(0.5, 3.0))
                   * rng.uniform(0.2, 1.0))
    # from nearly pure (electronic horns heard down a street) to buzzy: real sirens are much
    # less bright than a 3-8 dB/octave tilt made them (spectralcompare: bandwidth 433 Hz
    # real vs 1314 Hz generated)
    x = harmonic(f0, fs, tilt_db=rng.uniform(6, 20), max_harm=20, rng=rng)
    if mode == 'mechanical':  # the rotor chops the air: a rough amplitude flutter
        x *= 1.0 + 0.3 * smooth_random(rng, n, fs, rng.uniform(20, 60))
    x *= ramp_env(n, fs, rng.uniform(0.05, 0.5), rng.uniform(0.1, 0.8))
    out = np.zeros(pre + n)
    add_at(out, x, pre)
    return out, pre


FAMILY = Family('siren', 12, {
    mode: Variant(lambda rng, fs, m=mode: _siren(rng, fs, m), (110.0, 120.0), 'leq',
                  sustained=True)
    for mode in ('wail', 'yelp', 'hi_lo', 'phaser', 'mechanical')
})
