"""Screams and distress shouts: loud, high-pitched harmonic voice, no words.

Vibrato, jitter and optional roughness; formants of open vowels, slightly wandering.
"""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, pre_roll, ramp_env
from .voice import f0_track, voiced, vowel_path

# (f0 range Hz, formant scale)
_VOICES = {'male': ((280.0, 600.0), 1.0), 'female': ((450.0, 1100.0), 1.17),
           'child': ((600.0, 1400.0), 1.32)}


def _one(rng: np.random.Generator, fs: int, who: str) -> np.ndarray:
    (lo, hi), scale = _VOICES[who]
    # from short pain yelps to long screams (real clips: a median 0.34 s above -20 dB)
    dur = float(np.exp(rng.uniform(np.log(0.25), np.log(2.2))))
    n = int(dur * fs)
    t = np.linspace(0, 1, n)
    rise = rng.uniform(0.05, 0.3)
    # pitch rises fast, holds (maybe sagging), falls at the end
    knots = [rng.uniform(0.55, 0.9), 1.0, rng.uniform(0.75, 1.05), rng.uniform(0.45, 0.9)]
    contour = np.interp(t, [0, rise, 0.8, 1], knots)
    f0 = f0_track(rng, n, fs, rng.uniform(lo, hi), rng.uniform(4, 8), rng.uniform(0.005, 0.04),
                  rng.uniform(0.005, 0.02), contour)
    form = vowel_path(rng, int(rng.integers(1, 3)), scale)
    form[:, 0] = np.maximum(form[:, 0], 650 * scale)  # screams open the jaw: high F1
    x = voiced(rng, fs, f0, form, breath_db=rng.uniform(-24, -6),
               rough=rng.uniform(0.0, 0.6) if rng.random() < 0.5 else 0.0,
               tilt_db=rng.uniform(4, 9))
    return x * ramp_env(n, fs, rng.uniform(0.02, 0.12), rng.uniform(0.05, 0.3))


def _scream(rng: np.random.Generator, fs: int, who: str) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    parts = [_one(rng, fs, who) for _ in range(int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2])))]
    gaps = rng.uniform(0.15, 0.9, len(parts))
    n = pre + sum(len(p) for p in parts) + int(sum(gaps) * fs)
    x = np.zeros(n)
    pos = pre
    for i, (p, g) in enumerate(zip(parts, gaps)):
        add_at(x, p * (1.0 if i == 0 else rng.uniform(0.5, 1.0)), pos)
        pos += len(p) + int(g * fs)
    return x, pre


FAMILY = Family('scream', 2, {
    who: Variant(lambda rng, fs, w=who: _scream(rng, fs, w), rng_lv, 'leq', sustained=True)
    for who, rng_lv in (('male', (102.0, 115.0)), ('female', (100.0, 115.0)),
                        ('child', (98.0, 112.0)))
})
