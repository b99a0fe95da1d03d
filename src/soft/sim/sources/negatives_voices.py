"""Voice-like hard negatives: wordless babble, children playing, laughter, dog barks.

Babble is many overlapping voices whose formants wander between random vowel targets at a
syllabic rate: it has the texture of a crowd and carries no words.
"""
from __future__ import annotations

import numpy as np

from .base import Family, Variant
from .dsp import add_at, click, exp_env, lowpass, pre_roll, ramp_env
from .voice import f0_track, voiced, vowel_path


def _talker(rng: np.random.Generator, fs: int, dur: float, female: bool) -> np.ndarray:
    n = int(dur * fs)
    base = rng.uniform(170, 250) if female else rng.uniform(90, 140)
    syl_rate = rng.uniform(3.0, 6.0)
    nsyl = max(2, int(dur * syl_rate))
    # intonation: slow declination with random phrase resets
    contour = 1 + 0.12 * np.interp(np.linspace(0, 1, n), np.linspace(0, 1, nsyl),
                                   rng.standard_normal(nsyl))
    f0 = f0_track(rng, n, fs, base, 5.0, 0.0, 0.01, contour)
    form = vowel_path(rng, nsyl, 1.15 if female else 1.0)
    x = voiced(rng, fs, f0, form, breath_db=-22, additive=False)
    # syllables and pauses: raised-cosine bumps, some skipped
    t = np.arange(n) / fs
    env = np.maximum(0, np.sin(np.pi * t * syl_rate + rng.uniform(0, np.pi))) ** 1.5
    on = np.repeat(rng.random(nsyl + 2) < 0.8, int(np.ceil(n / (nsyl + 2))) + 1)[:n]
    return x * env * on


def _babble(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(4.0, 10.0)
    n = pre + int(dur * fs)
    x = np.zeros(n)
    for _ in range(int(rng.integers(6, 16))):
        v = _talker(rng, fs, dur, bool(rng.random() < 0.5))
        add_at(x, v * 10 ** (rng.uniform(-12, 0) / 20) / (np.std(v) + 1e-12), pre)
    x[pre:] *= ramp_env(n - pre, fs, 0.3, 0.3)
    return x, pre


def _shout(rng: np.random.Generator, fs: int) -> np.ndarray:
    dur = rng.uniform(0.2, 0.8)
    n = int(dur * fs)
    contour = np.interp(np.linspace(0, 1, n), [0, 0.3, 1], [0.9, 1.15, rng.uniform(0.7, 1.0)])
    f0 = f0_track(rng, n, fs, rng.uniform(250, 450), 6.0, 0.01, 0.01, contour)
    x = voiced(rng, fs, f0, vowel_path(rng, 2, 1.3), breath_db=-18, additive=False)
    return x * ramp_env(n, fs, 0.03, 0.08)


def _laugh(rng: np.random.Generator, fs: int, base: float, scale: float) -> np.ndarray:
    count = int(rng.integers(4, 12))
    rate = rng.uniform(4.0, 6.0)
    n = int((count / rate + 0.3) * fs)
    t = np.arange(n) / fs
    decl = np.interp(t, [0, n / fs], [1.1, 0.85])
    f0 = f0_track(rng, n, fs, base, 5.0, 0.0, 0.03, decl)
    x = voiced(rng, fs, f0, vowel_path(rng, 2, scale), breath_db=-6, additive=False)
    ph = (t * rate) % 1.0
    env = np.where(ph < 0.6, np.sin(np.pi * ph / 0.6), 0.0) * (t < count / rate)
    return x * env * np.interp(t, [0, n / fs], [1.0, 0.5])


def _children(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    dur = rng.uniform(5.0, 10.0)
    n = pre + int(dur * fs)
    x = np.zeros(n)
    for _ in range(int(rng.integers(6, 20))):
        s = _shout(rng, fs) if rng.random() < 0.7 else _laugh(rng, fs, rng.uniform(280, 400),
                                                              1.3)
        add_at(x, s / (np.std(s) + 1e-12) * 10 ** (rng.uniform(-15, 0) / 20),
               pre + int(rng.uniform(0, dur - 0.5) * fs))
    for _ in range(int(rng.integers(0, 10))):  # a ball bouncing
        b = lowpass(click(rng, fs, 0.02, 80, 1500), fs, 800)
        add_at(x, b * 10 ** (rng.uniform(-10, 0) / 20) / (np.max(np.abs(b)) + 1e-12),
               pre + int(rng.uniform(0, dur - 0.1) * fs))
    x[:pre] = 0
    return x, pre


def _laughter(rng: np.random.Generator, fs: int) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    people = int(rng.integers(1, 4))
    parts = []
    for _ in range(people):
        female = rng.random() < 0.5
        parts.append(_laugh(rng, fs, rng.uniform(200, 350) if female else rng.uniform(110, 200),
                            1.17 if female else 1.0))
    n = pre + max(len(p) for p in parts) + fs
    x = np.zeros(n)
    for i, p in enumerate(parts):
        lag = 0 if i == 0 else int(rng.uniform(0, 0.8) * fs)
        add_at(x, p / (np.std(p) + 1e-12), pre + lag)
    return x, pre


def _bark(rng: np.random.Generator, fs: int, large: bool) -> tuple[np.ndarray, int]:
    pre = pre_roll(fs)
    count = int(rng.integers(1, 7))
    x = np.zeros(pre + int(count * 0.7 * fs) + fs)
    pos = pre
    for _ in range(count):
        dur = rng.uniform(0.08, 0.25)
        n = int(dur * fs)
        base = rng.uniform(150, 400) if large else rng.uniform(350, 900)
        contour = np.interp(np.linspace(0, 1, n), [0, 0.2, 1], [1.0, 1.2, 0.6])
        f0 = f0_track(rng, n, fs, base, 0.0, 0.0, 0.05, contour)
        form = np.array([[600, 1400, 2600]]) * (0.8 if large else 1.2) \
            * rng.uniform(0.85, 1.15, (1, 3))
        b = voiced(rng, fs, f0, form, breath_db=rng.uniform(-12, -4), rough=0.5,
                   additive=False)
        b *= ramp_env(n, fs, 0.005, 0.03) * exp_env(n, fs, dur)
        add_at(x, b / (np.max(np.abs(b)) + 1e-12), pos)
        pos += n + int(rng.uniform(0.15, 0.6) * fs)
    return x, pre


FAMILY_BABBLE = Family('babble', 0, {
    'crowd': Variant(_babble, (70.0, 85.0), 'leq', sustained=True)})
FAMILY_CHILDREN = Family('children_playing', 0, {
    'playground': Variant(_children, (72.0, 88.0), 'leq', sustained=True)})
FAMILY_LAUGHTER = Family('laughter', 0, {
    'group': Variant(_laughter, (75.0, 90.0), 'leq', sustained=True)})
FAMILY_DOG = Family('dog_bark', 0, {
    'small_dog': Variant(lambda rng, fs: _bark(rng, fs, False), (95.0, 108.0)),
    'large_dog': Variant(lambda rng, fs: _bark(rng, fs, True), (98.0, 112.0)),
})
FAMILIES = (FAMILY_BABBLE, FAMILY_CHILDREN, FAMILY_LAUGHTER, FAMILY_DOG)
