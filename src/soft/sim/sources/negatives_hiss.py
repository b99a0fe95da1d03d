"""Broadband hiss hard negatives: running water, fountains, air-brake and door releases.

A tap or a hose that starts again, a fountain's splash and a bus's air brake are the noisy
onsets of every street. Without them the classifier hears a burst of broadband noise after
a pause as breaking glass or an aerosol spray. They differ from both: no tonal shards and
no sharp transients (glass), and a broader band with gurgles or a decaying release instead
of a can's steady 1.5-8 kHz jet (spray).
"""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, band_noise, exp_env, lowpass, pre_roll, ramp_env, smooth_random


def _gurgle(rng: np.random.Generator, fs: int, n: int, rate: float) -> np.ndarray:
    """Bubbles: short rising chirps (Minnaert resonances of collapsing air pockets)."""
    x = np.zeros(n)
    for _ in range(int(rate * n / fs)):
        m = int(rng.uniform(0.005, 0.03) * fs)
        t = np.arange(m) / fs
        f0 = rng.uniform(300, 2500)
        f = f0 * (1 + rng.uniform(0.1, 0.6) * t / t[-1])
        b = np.sin(2 * np.pi * np.cumsum(f) / fs) * np.exp(-t / (m / fs / 3))
        add_at(x, b * rng.uniform(0.2, 1.0), int(rng.integers(0, max(1, n - m))))
    return x


def _water(rng: np.random.Generator, fs: int, splash: bool) -> tuple[np.ndarray, int]:
    """A tap, a hose or a gutter (``splash`` False) or a fountain (True), on and off."""
    pre = pre_roll(fs)
    parts = []
    for _ in range(int(rng.integers(1, 4))):
        n = int(rng.uniform(0.8, 5.0) * fs)
        lo, hi = rng.uniform(150, 800), rng.uniform(5000, 0.47 * fs)
        hiss = band_noise(rng, n, fs, lo, hi, order=2)
        hiss /= np.std(hiss) + 1e-12
        hiss *= 1 + rng.uniform(0.1, 0.4) * smooth_random(rng, n, fs, rng.uniform(3, 15))
        g = _gurgle(rng, fs, n, rng.uniform(20, 120) if splash else rng.uniform(5, 40))
        body = hiss + g / (np.std(g) + 1e-12) * rng.uniform(0.2, 0.8)
        if splash:
            body += lowpass(rng.standard_normal(n), fs, rng.uniform(200, 500)) \
                * rng.uniform(0.2, 0.6)
        parts.append(body * ramp_env(n, fs, rng.uniform(0.01, 0.15), rng.uniform(0.05, 0.4)))
    gaps = [rng.uniform(0.3, 2.0) for _ in parts]
    x = np.zeros(pre + sum(len(p) for p in parts) + int(sum(gaps) * fs))
    pos = pre
    for p, g in zip(parts, gaps):
        add_at(x, p * rng.uniform(0.6, 1.0), pos)
        pos += len(p) + int(g * fs)
    return x, pre


def _air_release(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    """A bus door or a lorry's air brake: a loud 'pssht' decaying over a second or so."""
    pre = pre_roll(fs)
    n = int(rng.uniform(0.6, 2.5) * fs)
    lo = rng.uniform(400, 1500)
    jet = band_noise(rng, n, fs, lo, min(lo * rng.uniform(4, 12), 0.47 * fs), order=2)
    jet /= np.std(jet) + 1e-12
    env = exp_env(n, fs, rng.uniform(0.15, 0.8)) * ramp_env(n, fs, rng.uniform(0.003, 0.02),
                                                            0.05)
    thunk = lowpass(rng.standard_normal(n), fs, rng.uniform(100, 300)) \
        * exp_env(n, fs, rng.uniform(0.01, 0.05))
    x = np.zeros(pre + n)
    add_at(x, jet * env + thunk / (np.max(np.abs(thunk)) + 1e-12) * rng.uniform(0.0, 1.5), pre)
    return x, pre


FAMILY = Family('water_and_air_hiss', 0, {
    'tap_or_hose': Variant(lambda rng, fs: _water(rng, fs, False), (60.0, 80.0), 'leq',
                           sustained=True),
    'fountain': Variant(lambda rng, fs: _water(rng, fs, True), (65.0, 85.0), 'leq',
                        sustained=True),
    'air_brake': Variant(_air_release, (100.0, 118.0)),
})
FAMILIES = (FAMILY,)
