"""Impulsive hard negatives: doors, pops, backfires, hammering, footsteps.

They share the sharp onsets of gunshots, glass and crashes so that the classifier learns
the differences (spectrum, decay, repetition) instead of "loud and sudden".
"""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import (OVERSAMPLE, add_at, band_noise, click, decimate, exp_env, friedlander,
                  harmonic, lowpass, modes, pre_roll, ramp_env)


def _door(rng: np.random.Generator, fs: int, kind: str) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    n = int(0.8 * fs)
    if kind == 'metal_gate':
        k = int(rng.integers(10, 25))
        body = modes(n, fs, rng.uniform(150, 3500, k), rng.uniform(0.08, 0.6, k),
                     rng.uniform(0.2, 1, k), rng)
    else:  # wood or car panel: low, heavily damped modes
        lo, hi = (60, 400) if kind == 'house_door' else (80, 600)
        k = int(rng.integers(5, 12))
        body = modes(n, fs, rng.uniform(lo, hi, k), rng.uniform(0.02, 0.12, k),
                     rng.uniform(0.3, 1, k), rng)
    thump = lowpass(rng.standard_normal(n), fs, rng.uniform(150, 400)) * exp_env(n, fs, 0.02)
    x = body / (np.max(np.abs(body)) + 1e-12) + thump / (np.max(np.abs(thump)) + 1e-12)
    latch = click(rng, fs, rng.uniform(0.004, 0.01), 1500.0, 6000.0)
    add_at(x, latch * rng.uniform(0.2, 0.6), int(rng.uniform(0.0, 0.03) * fs))
    out = np.zeros(pre + n)
    add_at(out, x, pre)
    return out, pre


def _pop(rng: np.random.Generator, fs: int, t_pos: tuple[float, float], crinkle: bool
         ) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    fsh = fs * OVERSAMPLE
    nh = int(0.1 * fsh)
    t = (np.arange(nh) - pre * OVERSAMPLE) / fsh
    x = decimate(friedlander(t, rng.uniform(*t_pos), rng.uniform(1.0, 3.0)))
    if crinkle:  # torn paper flapping after the pop
        n = len(x)
        cr = band_noise(rng, n, fs, 1000.0, 7000.0, 2) * exp_env(n, fs, 0.03)
        cr[:pre] = 0
        x += cr * rng.uniform(0.03, 0.1) / (np.max(np.abs(cr)) + 1e-12)
    return x, pre


def _backfire(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(1.5, 3.0)
    n = pre + int(dur * fs)
    t0 = rng.uniform(0.3, 1.0)
    rpm = np.interp(np.arange(n) / fs, [0, t0, dur], [rng.uniform(25, 40), rng.uniform(60, 100),
                                                      rng.uniform(20, 35)])
    eng = harmonic(rpm, fs, tilt_db=4, max_harm=30, rng=rng)
    eng = eng / (np.std(eng) + 1e-12) * 10 ** (rng.uniform(-30, -22) / 20)
    x = eng * ramp_env(n, fs, 0.05, 0.3)
    fsh = fs * OVERSAMPLE
    nh = int(0.15 * fsh)
    bangs = int(rng.integers(1, 4))
    for b in range(bangs):
        w = decimate(friedlander(np.arange(nh) / fsh, rng.uniform(1e-3, 4e-3), 0.7))
        w += lowpass(band_noise(rng, len(w), fs, 50, 2000, 2), fs, 1500) * exp_env(
            len(w), fs, 0.02) * 0.1
        add_at(x, w * (1.0 if b == 0 else rng.uniform(0.3, 0.8)),
               pre + int((t0 + b * rng.uniform(0.05, 0.3)) * fs))
    # the bang is the loud onset; the quiet engine before it only leads in
    onset = pre + int(t0 * fs)
    return x[pre:], onset - pre


def _hammer(rng: np.random.Generator, fs: int, metal: bool) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    count = int(rng.integers(3, 12))
    period = rng.uniform(0.35, 0.9)
    n = pre + int((count * period + 0.6) * fs)
    x = np.zeros(n)
    for i in range(count):
        m = int(0.5 * fs)
        k = int(rng.integers(4, 12))
        f = rng.uniform(800, 5000, k) if metal else rng.uniform(200, 2000, k)
        d = rng.uniform(0.05, 0.4, k) if metal else rng.uniform(0.005, 0.04, k)
        hit = modes(m, fs, f, d, rng.uniform(0.2, 1, k), rng)
        add_at(hit, click(rng, fs, 0.004, 300, 6000), 0)
        jitter = rng.normal(0, 0.03) if i else 0.0
        add_at(x, hit * rng.uniform(0.6, 1.0), pre + int((i * period + jitter) * fs))
    return x, pre


def _steps(rng: np.random.Generator, fs: int, hard: bool) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    count = int(rng.integers(4, 14))
    period = rng.uniform(0.45, 0.65)
    n = pre + int((count * period + 0.3) * fs)
    x = np.zeros(n)
    for i in range(count):
        heel = click(rng, fs, rng.uniform(0.01, 0.03), 80 if not hard else 150,
                     2000 if not hard else 5000)
        # real steps are dull (centroid ~600 Hz): even heels on stone lose their click
        heel = lowpass(heel, fs, rng.uniform(500, 1500) if not hard else rng.uniform(700, 2500),
                       order=1)
        add_at(x, heel * rng.uniform(0.5, 1.0), pre + int(
            (i * period + (rng.normal(0, 0.015) if i else 0)) * fs))
    return x, pre


FAMILY_DOOR = Family('door_slam', 0, {
    k: Variant(lambda rng, fs, kk=k: _door(rng, fs, kk), lv, 'peak')
    for k, lv in (('house_door', (95.0, 110.0)), ('car_door', (95.0, 110.0)),
                  ('metal_gate', (98.0, 115.0)))})
FAMILY_POP = Family('bag_pop', 0, {
    'balloon': Variant(lambda rng, fs: _pop(rng, fs, (1e-4, 4e-4), False), (120.0, 140.0)),
    'paper_bag': Variant(lambda rng, fs: _pop(rng, fs, (3e-4, 1e-3), True), (115.0, 132.0)),
})
FAMILY_BACKFIRE = Family('motorbike_backfire', 0, {
    'backfire': Variant(_backfire, (125.0, 145.0)),
})
FAMILY_HAMMER = Family('hammering', 0, {
    'nail_wood': Variant(lambda rng, fs: _hammer(rng, fs, False), (105.0, 118.0)),
    'metal': Variant(lambda rng, fs: _hammer(rng, fs, True), (108.0, 122.0)),
})
FAMILY_STEPS = Family('footsteps', 0, {
    'hard_shoes': Variant(lambda rng, fs: _steps(rng, fs, True), (72.0, 88.0)),
    'sneakers': Variant(lambda rng, fs: _steps(rng, fs, False), (65.0, 80.0)),
})
FAMILIES = (FAMILY_DOOR, FAMILY_POP, FAMILY_BACKFIRE, FAMILY_HAMMER, FAMILY_STEPS)
