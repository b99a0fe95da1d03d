"""Tonal hard negatives: street music, church bells, car alarms and crossing signals."""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, band_noise, exp_env, harmonic, lowpass, modes, pre_roll, ramp_env

_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])


def _pluck(rng: np.random.Generator, fs: int, f: float, dur: float) -> np.ndarray:
    """Karplus-Strong string: a noise burst in a damped delay loop."""
    n = int(dur * fs)
    p = max(2, int(round(fs / f)))
    buf = rng.uniform(-1, 1, p)
    out = np.empty(n)
    for start in range(0, n, p):
        m = min(p, n - start)
        out[start:start + m] = buf[:m]
        buf = 0.996 * 0.5 * (buf + np.roll(buf, 1))
    return out


def _music(rng: np.random.Generator, fs: int, style: str) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(6.0, 12.0)
    n = pre + int(dur * fs)
    x = np.zeros(n)
    bpm = rng.uniform(80, 130)
    beat = 60.0 / bpm
    root = rng.uniform(110, 220)
    nbeats = int(dur / beat)
    for b in range(nbeats):
        pos = pre + int(b * beat * fs)
        deg = _SCALE[rng.integers(0, 7)] + 12 * int(rng.integers(0, 2))
        f = root * 2 ** (deg / 12)
        if style == 'busker_guitar':
            for k, iv in enumerate((0, 4, 7) if b % 4 == 0 else (0,)):
                add_at(x, _pluck(rng, fs, f * 2 ** (iv / 12), 1.5) * 0.5, pos + k * 200)
        elif style == 'accordion':
            m = int(beat * fs)
            f0 = np.full(m, f) * (1 + 0.003 * np.sin(2 * np.pi * 6 * np.arange(m) / fs))
            tone = harmonic(f0, fs, tilt_db=4, max_harm=20, rng=rng)
            tone += harmonic(f0 * 1.004, fs, tilt_db=4, max_harm=20, rng=rng)
            add_at(x, tone * ramp_env(m, fs, 0.02, 0.05) * 0.2, pos)
        else:  # car stereo: kick, snare, bass line, muffled by the car body
            m = int(0.3 * fs)
            t = np.arange(m) / fs
            kick = np.sin(2 * np.pi * (50 * t + 60 * 0.03 * (1 - np.exp(-t / 0.03))))
            add_at(x, kick * exp_env(m, fs, 0.08), pos)
            if b % 2 == 1:
                add_at(x, band_noise(rng, m, fs, 300, 5000, 2) * exp_env(m, fs, 0.05) * 0.4,
                       pos)
            bass = harmonic(np.full(int(beat * fs), f / 2), fs, tilt_db=6, max_harm=10)
            add_at(x, bass * ramp_env(len(bass), fs, 0.01, 0.05) * 0.3, pos)
    if style == 'car_stereo':
        x = lowpass(x, fs, rng.uniform(400, 1200))
    x[:pre] = 0
    return x, pre


def _bell(rng: np.random.Generator, fs: int, peal: bool) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    bells = [rng.uniform(300, 900)] if not peal else list(rng.uniform(300, 1000, 4))
    strikes = int(rng.integers(3, 10))
    period = rng.uniform(1.2, 2.5) if not peal else rng.uniform(0.3, 0.6)
    n = pre + int((strikes * period + 4.0) * fs)
    x = np.zeros(n)
    ratios = np.array([0.5, 1.0, 1.2, 1.5, 2.0, 2.5, 2.67, 3.0])  # hum, prime, tierce...
    decays = np.array([4.0, 2.5, 1.8, 1.2, 1.0, 0.6, 0.5, 0.4])
    for i in range(strikes):
        f = bells[i % len(bells)]
        m = int(4.0 * fs)
        s = modes(m, fs, f * ratios * rng.uniform(0.995, 1.005, 8), decays * rng.uniform(
            0.7, 1.3), rng.uniform(0.3, 1.0, 8), rng)
        add_at(x, s, pre + int(i * period * fs))
    return x, pre


def _alarm(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(8.0, 20.0)
    n = int(dur * fs)
    t = np.arange(n) / fs
    # cycles through patterns of a few seconds each: chirps, warbles, beeps
    seg = rng.uniform(2.0, 4.0)
    pattern = ((t // seg) % 3).astype(int)
    f = np.empty(n)
    lo, hi = rng.uniform(600, 1200), rng.uniform(1800, 3200)
    f[pattern == 0] = lo + (hi - lo) * ((t[pattern == 0] * 6) % 1.0)
    f[pattern == 1] = np.where((t[pattern == 1] * 4) % 1.0 < 0.5, lo, hi)
    f[pattern == 2] = hi
    gate = np.where(pattern == 2, ((t * 3) % 1.0) < 0.5, True)
    tone = harmonic(f, fs, tilt_db=8, max_harm=8, rng=rng) * gate
    k = int(0.004 * fs)
    tone = np.convolve(tone, np.ones(k) / k, 'same')
    out = np.zeros(pre + n)
    add_at(out, tone * ramp_env(n, fs, 0.01, 0.05), pre)
    return out, pre


def _crossing(rng: np.random.Generator, fs: int, mode: str) -> tuple[np.ndarray, int]:
    """An accessible pedestrian signal: the same tick or pip, again and again, from a box.

    The locator tick (about one a second) and the walk phase's rapid ticks (8-12 a second)
    run at every signalled crossing, right beside a pole-mounted microphone; a tick is a
    sharp transient like a shot's onset, only small, identical and periodic.
    """
    pre = pre_roll(fs)
    dur = rng.uniform(4.0, 10.0)
    n = pre + int(dur * fs)
    period = {'locator_tick': rng.uniform(0.9, 1.2), 'rapid_tick': rng.uniform(0.08, 0.13),
              'pip': rng.uniform(0.5, 1.2)}[mode]
    if mode == 'pip':
        m = int(rng.uniform(0.03, 0.12) * fs)
        grain = harmonic(np.full(m, rng.uniform(1000, 4000)), fs, tilt_db=rng.uniform(6, 18),
                         max_harm=4, rng=rng) * ramp_env(m, fs, 0.003, 0.01)
    else:
        m = int(0.06 * fs)
        k = int(rng.integers(2, 5))
        grain = modes(m, fs, rng.uniform(600, 3500, k), rng.uniform(0.004, 0.03, k),
                      rng.uniform(0.3, 1.0, k), rng)
        grain /= np.max(np.abs(grain)) + 1e-12
        hit = band_noise(rng, int(0.004 * fs), fs, 300, 6000, order=2)
        grain[:hit.size] += hit / (np.max(np.abs(hit)) + 1e-12) * rng.uniform(0.2, 1.0)
    grain = grain / (np.max(np.abs(grain)) + 1e-12)
    x = np.zeros(n)
    t = 0.0
    while t < dur - 0.1:
        add_at(x, grain * rng.uniform(0.9, 1.0), pre + int(t * fs))
        t += period * rng.uniform(0.995, 1.005)
    return x, pre


FAMILY_MUSIC = Family('music', 0, {
    s: Variant(lambda rng, fs, ss=s: _music(rng, fs, ss), (80.0, 100.0), 'leq', sustained=True)
    for s in ('car_stereo', 'busker_guitar', 'accordion')})
FAMILY_BELL = Family('church_bell', 0, {
    'single_bell': Variant(lambda rng, fs: _bell(rng, fs, False), (110.0, 125.0)),
    'peal': Variant(lambda rng, fs: _bell(rng, fs, True), (110.0, 125.0)),
})
FAMILY_ALARM = Family('car_alarm', 0, {
    'cycling': Variant(_alarm, (100.0, 115.0), 'leq', sustained=True)})
FAMILY_CROSSING = Family('crossing_signal', 0, {
    m: Variant(lambda rng, fs, mm=m: _crossing(rng, fs, mm), (70.0, 90.0))
    for m in ('locator_tick', 'rapid_tick', 'pip')})
FAMILIES = (FAMILY_MUSIC, FAMILY_BELL, FAMILY_ALARM, FAMILY_CROSSING)
