"""Wordless voice synthesis: a glottal source, vibrato and jitter, formants, breath.

Used for screams and for voice-like hard negatives (babble, children, laughter, barking).
There is no phonetic model at all: formants wander between random vowel-like targets, so
nothing intelligible can come out.
"""
from __future__ import annotations

import numpy as np

from .dsp import band_noise, formant_filter, harmonic, smooth_random

# (F1, F2, F3) of open vowel-like shapes for an adult male; scaled for women and children
VOWELS = np.array([[730, 1090, 2440], [660, 1720, 2410], [530, 1840, 2480], [570, 840, 2410],
                   [300, 870, 2240], [270, 2290, 3010], [640, 1190, 2390], [490, 1350, 1690]],
                  dtype=float)


def glottal(f0: np.ndarray, fs: int) -> np.ndarray:
    """A cheap glottal-like pulse train (sawtooth, spectral tilt -6 dB/octave)."""
    phase = np.cumsum(f0) / fs
    return 2.0 * (phase - np.floor(phase)) - 1.0


def f0_track(rng: np.random.Generator, n: int, fs: int, base: float, vibrato_hz: float,
             vibrato_depth: float, jitter: float, contour: np.ndarray | None = None
             ) -> np.ndarray:
    t = np.arange(n) / fs
    f = base * (1 + vibrato_depth * np.sin(2 * np.pi * vibrato_hz * t + rng.uniform(0, 6.3)))
    f *= 1 + jitter * smooth_random(rng, n, fs, 25.0)
    if contour is not None:
        f *= contour
    return np.maximum(f, 40.0)


def voiced(rng: np.random.Generator, fs: int, f0: np.ndarray, formants: np.ndarray,
           breath_db: float = -20.0, rough: float = 0.0, additive: bool = True,
           tilt_db: float = 9.0) -> np.ndarray:
    """Voice a f0 track through time-varying formants (``formants``: (k_frames, 3) in Hz)."""
    n = len(f0)
    src = harmonic(f0, fs, tilt_db=tilt_db, max_harm=40, rng=rng) if additive \
        else glottal(f0, fs)
    src /= np.std(src) + 1e-12
    if rough > 0:  # harsh voice: period-doubling and fast amplitude fluctuation
        src *= 1 + rough * np.sin(np.pi * np.cumsum(f0) / fs) \
            * (1 + 0.5 * smooth_random(rng, n, fs, 60.0))
    noise = band_noise(rng, n, fs, 500.0, 7000.0, order=2)
    src += 10 ** (breath_db / 20) * noise / (np.std(noise) + 1e-12)
    bw = np.clip(formants * 0.12 + 60.0, 60.0, 400.0)
    return formant_filter(src, fs, formants, bw, gains=np.array([1.0, 0.6, 0.35]))


def vowel_path(rng: np.random.Generator, count: int, scale: float) -> np.ndarray:
    """A random path through vowel targets, with a per-voice scale (tract length)."""
    idx = rng.integers(0, len(VOWELS), count)
    return VOWELS[idx] * scale * rng.uniform(0.93, 1.07, (count, 3))
