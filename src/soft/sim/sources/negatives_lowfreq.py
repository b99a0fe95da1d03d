"""Low-frequency hard negatives: series of thuds, wind on the microphone, thunder.

Both put nearly all their energy below 250 Hz with sudden rises, which is also what an
explosion's front and rumble look like on a log-mel map. Real street recordings are full of
them (someone pounding a door or a shutter, a car's subwoofer, a ball against a wall, a pile
driver, gusts hitting the capsule) and a model that never heard them calls each rise an
explosion. What tells them apart is repetition without a long decaying rumble, the absence
of a shock front, for wind an irregular roar or a scatter of pops with little above 2 kHz,
and for thunder a rumble that rolls on for seconds with several swells.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .base import Family, Variant
from .dsp import (add_at, band_noise, brown_noise, click, exp_env, highpass, lowpass, modes,
                  pre_roll, smooth_random)


def _series(rng: np.random.Generator, fs: int, count: tuple[int, int],
            period: tuple[float, float], jitter: float,
            hit: Callable[[np.random.Generator, int], np.ndarray], tail_s: float = 0.8
            ) -> tuple[np.ndarray, int]:
    """``hit(rng, fs)`` repeated at a drawn period with relative timing ``jitter``."""
    pre = pre_roll(fs)
    k = int(rng.integers(count[0], count[1] + 1))
    p = rng.uniform(*period)
    starts = [0.0]
    for _ in range(k - 1):
        starts.append(starts[-1] + p * max(0.3, 1.0 + rng.normal(0.0, jitter)))
    x = np.zeros(pre + int((starts[-1] + tail_s) * fs))
    for i, t in enumerate(starts):
        add_at(x, hit(rng, fs) * (1.0 if i == 0 else rng.uniform(0.55, 1.1)), pre + int(t * fs))
    return x, pre


def _pound(rng: np.random.Generator, fs: int) -> np.ndarray:
    """A fist, a foot or a shoulder against a door, a wall or a rolling shutter."""
    n = int(0.6 * fs)
    k = int(rng.integers(3, 8))
    body = modes(n, fs, rng.uniform(40, 250, k), rng.uniform(0.03, 0.25, k),
                 rng.uniform(0.3, 1.0, k), rng)
    thump = lowpass(rng.standard_normal(n), fs, rng.uniform(80, 300)) \
        * exp_env(n, fs, rng.uniform(0.02, 0.08))
    x = body / (np.max(np.abs(body)) + 1e-12) + thump / (np.max(np.abs(thump)) + 1e-12)
    if rng.random() < 0.4:  # a metal shutter or gate rattles along
        r = int(rng.integers(6, 15))
        rattle = modes(n, fs, rng.uniform(300, 3000, r), rng.uniform(0.02, 0.15, r),
                       rng.uniform(0.2, 1.0, r), rng)
        x += rattle / (np.max(np.abs(rattle)) + 1e-12) * rng.uniform(0.05, 0.3)
    return x


def _kick(rng: np.random.Generator, fs: int) -> np.ndarray:
    """A bass drum through a car's subwoofer or a venue's wall: a falling low sine."""
    n = int(0.5 * fs)
    t = np.arange(n) / fs
    f1, f0 = rng.uniform(90, 180), rng.uniform(40, 70)
    f = f0 + (f1 - f0) * np.exp(-t / rng.uniform(0.015, 0.06))
    x = np.sin(2 * np.pi * np.cumsum(f) / fs) * exp_env(n, fs, rng.uniform(0.08, 0.3))
    x[:int(0.006 * fs)] += click(rng, fs, 0.006, 200, 3000)[:int(0.006 * fs)] \
        * rng.uniform(0.0, 0.3)
    return x


def _bounce(rng: np.random.Generator, fs: int) -> np.ndarray:
    """A ball bounced on pavement or kicked against a wall: a short hollow ring."""
    n = int(0.3 * fs)
    k = int(rng.integers(2, 5))
    ring = modes(n, fs, rng.uniform(100, 450, k), rng.uniform(0.015, 0.07, k),
                 rng.uniform(0.4, 1.0, k), rng)
    ping = modes(n, fs, rng.uniform(600, 1400, 2), rng.uniform(0.01, 0.04, 2),
                 rng.uniform(0.05, 0.3, 2), rng)
    slap = lowpass(rng.standard_normal(n), fs, rng.uniform(300, 900)) * exp_env(n, fs, 0.008)
    return ring / (np.max(np.abs(ring)) + 1e-12) + ping + 0.5 * slap / (
        np.max(np.abs(slap)) + 1e-12)


def _drive(rng: np.random.Generator, fs: int) -> np.ndarray:
    """A pile driver or a heavy rammer: a deep blow and the clang of the hammer."""
    n = int(1.2 * fs)
    thump = lowpass(brown_noise(rng, n, fs, rng.uniform(10, 40)), fs, rng.uniform(60, 200)) \
        * exp_env(n, fs, rng.uniform(0.05, 0.2))
    k = int(rng.integers(8, 20))
    clang = modes(n, fs, rng.uniform(200, 3000, k), rng.uniform(0.1, 0.6, k),
                  rng.uniform(0.1, 1.0, k), rng)
    return thump / (np.max(np.abs(thump)) + 1e-12) + clang / (
        np.max(np.abs(clang)) + 1e-12) * rng.uniform(0.1, 0.6)


def _buffeting(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    """Gusts hitting the capsule: a low roar swinging 10-30 dB several times a second.

    The background generator's wind is a steady roar behind a good wind screen; this is the
    worn-screen case, with turbulent puffs that rise within tens of milliseconds.
    """
    pre = pre_roll(fs)
    dur = rng.uniform(3.0, 9.0)
    n = pre + int(dur * fs)
    # the capsule's own high-pass (20-40 Hz) bounds the roar from below
    roar = highpass(lowpass(brown_noise(rng, n, fs, rng.uniform(20, 60)), fs,
                            rng.uniform(80, 400), order=2), fs, rng.uniform(20, 40))
    swing_db = rng.uniform(10, 30)
    wander = smooth_random(rng, n, fs, rng.uniform(1.5, 8.0))
    wander = (wander - wander.min()) / (np.ptp(wander) + 1e-12)
    env = 10 ** (swing_db * (wander - 1.0) / 20)
    for _ in range(int(rng.integers(0, 2 * int(dur) + 1))):  # puffs on top of the swing
        m = int(rng.uniform(0.1, 0.5) * fs)
        puff = np.hanning(2 * m)[:m] ** rng.uniform(1, 4)
        puff = np.concatenate([puff[int(m * rng.uniform(0.6, 0.95)):],
                               np.exp(-np.arange(m) / (rng.uniform(0.05, 0.3) * fs))])
        add_at(env, puff * rng.uniform(0.3, 1.0), pre + int(rng.uniform(0, dur - 0.3) * fs))
    x = roar / (np.std(roar) + 1e-12) * env
    x[:pre] = 0.0
    return x, pre


def _pops(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    """Wind pops or handling knocks: irregular thumps centred at 20-100 Hz, little above 2 kHz.

    Gusts and knocks on a street pole reach the capsule as separate pressure pops, not a
    roar: 2-15 a second at random, each rising within milliseconds and dying in tenths of a
    second, their sizes spread over 25 dB, with a faint rattle of the housing. On a log-mel
    map a string of them is a row of low-band rises, the same picture as an explosion's
    front and rumble.
    """
    pre = pre_roll(fs)
    dur = rng.uniform(2.0, 8.0)
    rate = rng.uniform(2.0, 15.0)
    n = pre + int((dur + 0.5) * fs)
    x = np.zeros(n)
    t = rng.uniform(0.0, 0.05)
    first = True
    while t < dur:
        m = int(rng.uniform(0.1, 0.5) * fs)
        grain = lowpass(brown_noise(rng, m, fs, rng.uniform(10, 30)), fs,
                        rng.uniform(40, 150), order=2)
        rise = max(1, int(rng.uniform(0.002, 0.03) * fs))
        env = exp_env(m, fs, rng.uniform(0.03, 0.25))
        env[:rise] *= np.linspace(0.0, 1.0, rise)
        grain = grain / (np.max(np.abs(grain)) + 1e-12)
        # the capsule's diaphragm and housing rattle: a faint band of mid noise
        rattle = band_noise(rng, m, fs, 200.0, rng.uniform(600, 2000))
        grain = (grain + rattle / (np.max(np.abs(rattle)) + 1e-12)
                 * 10 ** (-rng.uniform(8, 25) / 20)) * env
        size = 1.0 if first else 10 ** (-rng.uniform(0.0, 25.0) / 20)
        add_at(x, grain / (np.max(np.abs(grain)) + 1e-12) * size, pre + int(t * fs))
        first = False
        t += min(0.6, max(0.04, rng.exponential(1.0 / rate)))
    if rng.random() < 0.5:  # a steady roar from the same wind beneath the pops
        roar = lowpass(brown_noise(rng, n, fs, rng.uniform(20, 60)), fs, rng.uniform(80, 300))
        x += roar / (np.std(roar) + 1e-12) * np.std(x[pre:]) * 10 ** (-rng.uniform(6, 20) / 20)
    x = highpass(x, fs, rng.uniform(15, 30))  # the capsule's own high-pass
    x[:pre] = 0.0
    return x, pre


def _rolls(rng: np.random.Generator, n: int, fs: int, start: int, fc: float,
           rise_s: float) -> np.ndarray:
    """Thunder's rumble: low-passed noise under a train of swells that fade over seconds.

    Each stretch of the lightning channel is heard from its own distance, so the rumble
    swells again and again as sound from further along arrives.
    """
    rumble = lowpass(brown_noise(rng, n, fs, rng.uniform(15, 40)), fs, fc, order=4)
    rumble /= np.std(rumble) + 1e-12
    env = np.zeros(n)
    length = (n - start) / fs
    fade = rng.uniform(0.25, 0.6) * length
    t = rng.uniform(0.0, 0.3)
    while t < length - 0.3:
        m = int(rng.uniform(0.3, 2.0) * fs)
        bump = np.hanning(m) ** rng.uniform(0.5, 2.0)
        add_at(env, bump * np.exp(-t / fade) * rng.uniform(0.3, 1.0), start + int(t * fs))
        t += rng.uniform(0.2, 1.2)
    r = max(1, int(rise_s * fs))
    env[start:start + r] *= np.linspace(0.0, 1.0, min(r, n - start))
    return rumble * env


def _thunder(rng: np.random.Generator, fs: int, close: bool) -> tuple[np.ndarray, int]:
    """A strike within a kilometre (a tearing crack, then the roll) or a distant roll only.

    Air absorbs the crack's high frequencies over kilometres, so a distant strike starts as
    a slow swell below 200 Hz; a close one opens with a cluster of broadband cracks.
    """
    pre = pre_roll(fs)
    dur = rng.uniform(3.0, 12.0) if close else rng.uniform(4.0, 15.0)
    n = pre + int(dur * fs)
    x = _rolls(rng, n, fs, pre, rng.uniform(120, 400) if close else rng.uniform(60, 200),
               rng.uniform(0.02, 0.2) if close else rng.uniform(0.3, 1.5))
    if close:
        crack = np.zeros(int(0.4 * fs))
        for _ in range(int(rng.integers(3, 12))):
            add_at(crack, click(rng, fs, rng.uniform(0.002, 0.02), 150, 6000)
                   * rng.uniform(0.3, 1.0), int(rng.uniform(0.0, 0.15) * fs))
        tear = band_noise(rng, crack.size, fs, 200, rng.uniform(2000, 5000), order=2)
        crack += tear / (np.std(tear) + 1e-12) * exp_env(crack.size, fs,
                                                         rng.uniform(0.05, 0.2)) * 0.1
        x /= np.max(np.abs(x)) + 1e-12
        add_at(x, crack / (np.max(np.abs(crack)) + 1e-12) * 10 ** (rng.uniform(-6, 6) / 20),
               pre)
    x[:pre] = 0.0
    return x, pre


FAMILY_THUDS = Family('thud_series', 0, {
    'pounding': Variant(lambda rng, fs: _series(rng, fs, (3, 14), (0.18, 0.5), 0.18, _pound),
                        (100.0, 118.0)),
    'subwoofer_beat': Variant(lambda rng, fs: _series(rng, fs, (6, 20), (0.3, 0.67), 0.01,
                                                      _kick), (95.0, 112.0)),
    'ball_bounce': Variant(lambda rng, fs: _series(rng, fs, (3, 12), (0.3, 0.8), 0.12,
                                                   _bounce), (95.0, 110.0)),
    'pile_driver': Variant(lambda rng, fs: _series(rng, fs, (3, 8), (0.8, 2.0), 0.05, _drive,
                                                   1.2), (118.0, 132.0)),
})
FAMILY_WIND = Family('wind_buffeting', 0, {
    'gusty_capsule': Variant(_buffeting, (75.0, 100.0), 'leq', sustained=True),
    'wind_pops': Variant(_pops, (90.0, 115.0)),
})
FAMILY_THUNDER = Family('thunder', 0, {
    'close_strike': Variant(lambda rng, fs: _thunder(rng, fs, True), (110.0, 125.0)),
    'distant_roll': Variant(lambda rng, fs: _thunder(rng, fs, False), (75.0, 95.0), 'leq',
                            sustained=True),
})
FAMILIES = (FAMILY_THUDS, FAMILY_WIND, FAMILY_THUNDER)
