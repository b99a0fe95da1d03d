"""Angle grinders and power saws: high whine with harmonics, spin-up/down, cutting noise."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, band_noise, harmonic, pre_roll, ramp_env, smooth_random


def _speed(rng: np.random.Generator, n: int, fs: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised speed (spin-up, loaded dips, spin-down) and a 0..1 cutting indicator."""
    t = np.arange(n) / fs
    up = rng.uniform(0.3, 0.9)
    down = rng.uniform(0.8, 2.0)
    end = n / fs
    spd = np.clip(t / up, 0, 1) * np.clip((end - t) / down, 0, 1) ** 0.5
    cut = np.zeros(n)
    pos = up + rng.uniform(0.1, 0.8)
    while pos < end - down:
        ln = rng.uniform(0.8, 4.0)
        m = (t >= pos) & (t < min(pos + ln, end - down))
        cut[m] = 1.0
        pos += ln + rng.uniform(0.3, 1.5)
    k = int(0.05 * fs)
    cut = np.convolve(cut, np.ones(k) / k, 'same')
    spd = spd * (1 - cut * rng.uniform(0.05, 0.2))
    return np.maximum(spd, 1e-3), cut


def _tool(rng: np.random.Generator, fs: int, f_run: tuple[float, float], tilt: tuple[float, float],
          cut_band: tuple[float, float], engine: bool,
          cut_gain: tuple[float, float] = (0.8, 2.5)) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    n = int(rng.uniform(3.0, 10.0) * fs)
    spd, cut = _speed(rng, n, fs)
    f = rng.uniform(*f_run) * spd * (1 + 0.003 * smooth_random(rng, n, fs, 8.0))
    whine = harmonic(np.maximum(f, 5.0), fs, tilt_db=rng.uniform(*tilt), max_harm=40, rng=rng)
    whine /= np.std(whine) + 1e-12
    if engine:  # two-stroke firing pulses
        whine *= 1 + 0.7 * np.sign(np.sin(2 * np.pi * np.cumsum(f / 2) / fs))
    cutting = band_noise(rng, n, fs, *cut_band, order=2)
    cutting *= (1 + 0.6 * smooth_random(rng, n, fs, 30.0)) / (np.std(cutting) + 1e-12)
    x = whine * spd + rng.uniform(*cut_gain) * cut * cutting
    x *= ramp_env(n, fs, 0.02, 0.05)
    out = np.zeros(pre + n)
    add_at(out, x, pre)
    return out, pre


FAMILY = Family('angle_grinder', 7, {
    'angle_grinder': Variant(lambda rng, fs: _tool(rng, fs, (150.0, 200.0), (1.0, 4.0),
                                                   (2000.0, 7800.0), False),
                             (98.0, 110.0), 'leq', sustained=True),
    'circular_saw': Variant(lambda rng, fs: _tool(rng, fs, (70.0, 100.0), (2.0, 5.0),
                                                  (1000.0, 6000.0), False),
                            (96.0, 108.0), 'leq', sustained=True),
    'cut_off_saw': Variant(lambda rng, fs: _tool(rng, fs, (80.0, 110.0), (1.5, 4.0),
                                                 (1500.0, 7800.0), True),
                           (100.0, 112.0), 'leq', sustained=True),
    # real chainsaws (ESC-10) are darker and less noisy than the grinders: the engine
    # dominates the chain's cutting noise (centroid ~1 kHz)
    'chainsaw': Variant(lambda rng, fs: _tool(rng, fs, (90.0, 160.0), (3.0, 6.0),
                                              (300.0, 3500.0), True, (0.2, 1.2)),
                        (98.0, 110.0), 'leq', sustained=True),
})
