"""Gunshots: muzzle blast (Friedlander N-wave) with an optional supersonic bullet crack.

The ground reflection is not baked in: propagation adds it from the real source and
microphone heights, so the delay between direct and reflected waves is geometric.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from .base import Family, Variant
from .dsp import (OVERSAMPLE, band_noise, decimate, exp_env, friedlander, n_wave, pre_roll,
                  street_reverb)


def _shot(rng: np.random.Generator, fs: int, t_pos: tuple[float, float],
          crack: bool, noise_db: tuple[float, float] = (-30, -12),
          crack_delay: tuple[float, float] = (0.8e-3, 6e-3),
          crack_gain: tuple[float, float] = (0.3, 0.9),
          downrange: bool = False) -> tuple[np.ndarray, int]:
    fsh = fs * OVERSAMPLE
    pre = pre_roll(fs)
    delay = rng.uniform(*crack_delay) if crack else 0.0
    n = int((0.3 + delay) * fsh)
    t = (np.arange(n) - pre * OVERSAMPLE) / fsh
    T = rng.uniform(*t_pos)
    x = np.zeros(n)
    if crack:
        # the bullet's shock reaches a listener ahead of the muzzle blast
        dur = rng.uniform(1.5e-4, 3.5e-4)
        x += rng.uniform(*crack_gain) * n_wave(t, dur, rise=rng.uniform(5e-6, 3e-5))
    blast = friedlander(t - delay, T, b=rng.uniform(0.6, 1.6))
    if downrange:
        # far downrange the blast has travelled further than the bullet's shock and lost
        # its top to air and ground: the crack, then a dull boom tenths of a second later
        a = np.exp(-2 * np.pi * rng.uniform(400.0, 1500.0) / fsh)
        blast = rng.uniform(0.3, 1.0) * signal.lfilter([1 - a], [1, -a], blast)
    # burning propellant: a short turbulent noise tail after the blast front
    tail = band_noise(rng, n, fsh, 200.0, rng.uniform(3000, 7000), order=2)
    tail *= exp_env(n, fsh, float(np.exp(rng.uniform(np.log(0.003), np.log(0.05))))) \
        * (t >= delay)
    tail /= np.max(np.abs(tail)) + 1e-12
    x += blast + 10 ** (rng.uniform(*noise_db) / 20) * tail
    # echoes and reverberation: real shots ring on for 50-500 ms (spectralcompare showed
    # dry shots decaying to -20 dB in 5 ms against a real median of ~50 ms)
    y = street_reverb(decimate(x), pre, rng, fs, rt60=(0.3, 1.5), tail_db=(-10.0, 6.0),
                      max_s=0.6)
    return y, pre


def _variant(t_pos: tuple[float, float], crack: bool, lo: float, hi: float) -> Variant:
    return Variant(lambda rng, fs: _shot(rng, fs, t_pos, crack), (lo, hi), 'peak')


def _downrange(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    """A rifle heard 50-500 m downrange: the crack leads the blast by 0.03-0.45 s.

    Crack-to-blast delay grows with the listener's distance along the line of fire (about
    0.6 x distance / c for a Mach 2.5 bullet); the muzzle blast arrives as a dull boom.
    """
    return _shot(rng, fs, (8e-4, 2.5e-3), True, crack_delay=(0.03, 0.45),
                 crack_gain=(0.5, 1.5), downrange=True)


FAMILY = Family('gunshot', 1, {
    'pistol_small': _variant((3e-4, 6e-4), False, 138.0, 150.0),
    'pistol_9mm': _variant((5e-4, 1.0e-3), False, 150.0, 160.0),
    'revolver_magnum': _variant((7e-4, 1.3e-3), False, 155.0, 165.0),
    'rifle_556': _variant((6e-4, 1.2e-3), True, 155.0, 165.0),
    'rifle_762': _variant((9e-4, 1.6e-3), True, 158.0, 165.0),
    'shotgun_12ga': _variant((1.5e-3, 3.0e-3), False, 150.0, 162.0),
    'rifle_downrange': Variant(_downrange, (150.0, 165.0), 'peak'),
})
