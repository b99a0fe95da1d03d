"""Glass breaking: an impact, then many resonant shards and fragments bouncing on the ground."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, band_noise, click, exp_env, modes, pre_roll


def _shard(rng: np.random.Generator, fs: int, f_lo: float, f_hi: float) -> np.ndarray:
    n = int(rng.uniform(0.01, 0.09) * fs)
    k = int(rng.integers(1, 4))
    f = rng.uniform(f_lo, f_hi, k)
    d = rng.uniform(0.004, 0.03, k)
    g = modes(n, fs, f, d, rng.uniform(0.3, 1.0, k), rng)
    g[:min(len(g), 24)] += rng.standard_normal(min(len(g), 24)) * 0.5  # contact tick
    return g


def _shatter(rng: np.random.Generator, fs: int, n_shards: tuple[int, int],
             f_band: tuple[float, float], spread_s: tuple[float, float],
             body: tuple[float, float] | None = None, crumble: bool = False
             ) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    spread = rng.uniform(*spread_s)
    n = pre + int((spread + 0.2) * fs)
    x = np.zeros(n)
    # the breaking impact: a sharp broadband crack
    imp = click(rng, fs, rng.uniform(0.003, 0.012), 300.0, 7500.0)
    add_at(x, imp / (np.max(np.abs(imp)) + 1e-12), pre)
    # the blow itself (a stone, a fist, the frame): a low knock that real recordings keep
    # (spectralcompare: generated breaks had ~14 dB too little energy below 500 Hz)
    m = int(0.15 * fs)
    knock = band_noise(rng, m, fs, None, rng.uniform(150.0, 600.0), order=2)
    knock *= exp_env(m, fs, rng.uniform(0.01, 0.05))
    add_at(x, knock / (np.max(np.abs(knock)) + 1e-12) * 10 ** (rng.uniform(-24, 0) / 20), pre)
    if body is not None:  # a bottle's own ring before it flies apart
        m = int(0.25 * fs)
        ring = modes(m, fs, rng.uniform(*body, 3), rng.uniform(0.02, 0.08, 3),
                     rng.uniform(0.2, 0.6, 3), rng)
        add_at(x, ring, pre)
    count = int(rng.integers(*n_shards))
    # fragments: dense at the break, then bouncing pieces thinning out over ``spread``
    times = np.concatenate([rng.exponential(0.03, count // 2),
                            rng.uniform(0.02, spread, count - count // 2)])
    for tt in times:
        g = _shard(rng, fs, *f_band) if not crumble else \
            click(rng, fs, rng.uniform(0.002, 0.01), 2500.0, 7800.0)
        amp = 10 ** (rng.uniform(-28, -6) / 20) * np.exp(-tt / (spread + 1e-3))
        add_at(x, g * amp, pre + int(tt * fs))
    # a short decaying hiss of small particles
    hiss = click(rng, fs, spread * 0.6, 3000.0, 7800.0)
    add_at(x, hiss * 10 ** (rng.uniform(-30, -18) / 20), pre + int(0.005 * fs))
    x[:pre] = 0.0
    fade = int(0.05 * fs)
    x[n - fade:] *= exp_env(fade, fs, 0.01)
    return x, pre


FAMILY = Family('glass_break', 3, {
    'window_pane': Variant(lambda rng, fs: _shatter(rng, fs, (80, 220), (1500, 7000),
                                                    (0.4, 1.2)), (105.0, 120.0), 'peak'),
    'shop_window': Variant(lambda rng, fs: _shatter(rng, fs, (200, 400), (900, 6000),
                                                    (0.8, 2.0)), (110.0, 122.0), 'peak'),
    'bottle': Variant(lambda rng, fs: _shatter(rng, fs, (20, 70), (2000, 7500), (0.15, 0.5),
                                               body=(700, 2500)), (100.0, 115.0), 'peak'),
    'car_window': Variant(lambda rng, fs: _shatter(rng, fs, (150, 400), (3000, 7800),
                                                   (0.3, 0.8), crumble=True),
                          (102.0, 118.0), 'peak'),
})
