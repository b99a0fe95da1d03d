"""Road accidents: metal impacts, tyre screech, multi-impact crunches with debris, and the
dull crumple of bodywork in a collision."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import (add_at, band_noise, click, exp_env, harmonic, modes, pre_roll, ramp_env,
                  smooth_random)
from .glass_break import _shatter


def _impact(rng: np.random.Generator, fs: int, heavy: float = 1.0) -> np.ndarray:
    n = int(rng.uniform(0.4, 1.0) * fs)
    k = int(rng.integers(15, 40))
    body = modes(n, fs, rng.uniform(80, 4000, k), rng.uniform(0.03, 0.35, k) * heavy,
                 rng.uniform(0.1, 1.0, k) / np.sqrt(k), rng)
    crunch = band_noise(rng, n, fs, rng.uniform(100, 300), rng.uniform(3000, 7000), order=2)
    crunch *= exp_env(n, fs, rng.uniform(0.04, 0.2))
    thump = band_noise(rng, n, fs, None, rng.uniform(80, 200), order=2)
    thump *= exp_env(n, fs, rng.uniform(0.02, 0.08))
    x = body / (np.max(np.abs(body)) + 1e-12) + crunch / (np.max(np.abs(crunch)) + 1e-12) \
        * rng.uniform(0.4, 1.0) + thump / (np.max(np.abs(thump)) + 1e-12) * rng.uniform(0.3, 1)
    x[:16] += click(rng, fs, 0.001, 500, 7000)[:16] * 2
    return x


def _screech(rng: np.random.Generator, fs: int, dur: float) -> np.ndarray:
    n = int(dur * fs)
    f0 = rng.uniform(700, 2200) * (1 + 0.08 * smooth_random(rng, n, fs, 3.0)) \
        * np.linspace(1.0, rng.uniform(0.8, 1.1), n)
    tone = harmonic(f0, fs, tilt_db=rng.uniform(6, 14), max_harm=5, rng=rng)
    noise = band_noise(rng, n, fs, 800.0, 6000.0, order=2)
    am = 1 + 0.4 * smooth_random(rng, n, fs, 15.0)
    x = (tone / (np.max(np.abs(tone)) + 1e-12) + rng.uniform(0.2, 0.6) * noise
         / (np.max(np.abs(noise)) + 1e-12)) * am
    return x * ramp_env(n, fs, rng.uniform(0.02, 0.1), rng.uniform(0.05, 0.3))


def _metal(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    imp = _impact(rng, fs)
    x = np.zeros(pre + len(imp))
    add_at(x, imp, pre)
    return x, pre


def _screech_impact(rng: np.random.Generator, fs: int, impact: bool) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(0.6, 2.5)
    scr = _screech(rng, fs, dur) * 10 ** (rng.uniform(-14, -4) / 20)
    x = np.zeros(pre + len(scr) + fs)
    add_at(x, scr, pre)
    if impact:
        add_at(x, _impact(rng, fs), pre + len(scr) - int(rng.uniform(0.0, 0.2) * fs))
    return x, pre


def _multi(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    x = np.zeros(pre + int(3.0 * fs))
    t = 0.0
    for i in range(int(rng.integers(2, 6))):
        add_at(x, _impact(rng, fs) * (1.0 if i == 0 else rng.uniform(0.3, 0.9)),
               pre + int(t * fs))
        t += rng.uniform(0.08, 0.5)
    if rng.random() < 0.6:
        gl, _ = _shatter(rng, fs, (30, 90), (2000, 7000), (0.2, 0.6))
        add_at(x, gl * rng.uniform(0.2, 0.5), pre + int(rng.uniform(0.0, 0.1) * fs))
    return x, pre


def _crumple(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    """Two vehicles meeting: panels fold for 30-150 ms, so the crunch swells instead of
    snapping, and the big sheet-metal modes put most of it at 100-1000 Hz, unlike a strike
    on metal. Creaks and rattles of trim and debris follow."""
    pre = pre_roll(fs)
    n = int(rng.uniform(0.6, 1.5) * fs)
    fold = rng.uniform(0.03, 0.15)
    env = ramp_env(n, fs, fold, 0.01) * exp_env(n, fs, rng.uniform(0.08, 0.3))
    crunch = band_noise(rng, n, fs, rng.uniform(60, 150), rng.uniform(800, 2000), order=2)
    grit = np.zeros(n)   # the crackle of folding metal and breaking plastic
    for _ in range(int(rng.integers(20, 80))):
        add_at(grit, click(rng, fs, rng.uniform(0.001, 0.006), 300, 4000)
               * rng.uniform(0.2, 1.0), int(rng.uniform(0.0, fold * 2.5) * fs))
    k = int(rng.integers(8, 20))
    panels = modes(n, fs, rng.uniform(90, 1000, k), rng.uniform(0.05, 0.3, k),
                   rng.uniform(0.2, 1.0, k) / np.sqrt(k), rng)
    x = (crunch / (np.max(np.abs(crunch)) + 1e-12)
         + panels / (np.max(np.abs(panels)) + 1e-12) * rng.uniform(0.3, 0.8)) * env \
        + grit / (np.max(np.abs(grit)) + 1e-12) * rng.uniform(0.1, 0.4)
    out = np.zeros(pre + n + int(0.8 * fs))
    add_at(out, x, pre)
    for _ in range(int(rng.integers(0, 6))):   # loose parts landing
        add_at(out, _impact(rng, fs, 0.3) * rng.uniform(0.03, 0.15),
               pre + int(rng.uniform(0.1, 1.0) * fs))
    return out, pre


FAMILY = Family('crash', 4, {
    'metal_impact': Variant(_metal, (115.0, 132.0), 'peak'),
    'screech_then_impact': Variant(lambda rng, fs: _screech_impact(rng, fs, True),
                                   (118.0, 134.0), 'peak'),
    'tyre_screech': Variant(lambda rng, fs: _screech_impact(rng, fs, False), (105.0, 118.0),
                            'peak'),
    'multi_impact_crunch': Variant(_multi, (118.0, 135.0), 'peak'),
    'collision_crumple': Variant(_crumple, (115.0, 132.0), 'peak'),
})
