"""Training and validation windows as log-mel features, built once and cached on disk.

Features come from :func:`soft.audio.features.logmel` only, the same function the detector
runs, so training and inference cannot drift. The cache holds features (float16) and labels,
never audio, and its key covers the recipe, the feature configuration, the manifests and the
source code of the generators, so editing a generator rebuilds what depends on it.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, TypeVar

import numpy as np

from soft.audio.features import FeatureConfig, logmel
from soft.classify import augment, taxonomy
from soft.classify.dataset import ClipRecord, crop, onsets
from soft.classify.mixing import (MixConfig, background_crop, draw_pre, event_power,
                                  log_uniform, loud_power, mix_at_snr, place, to_full_scale)

FORMAT_VERSION = 4
P_REF = 20e-6


@dataclass(frozen=True)
class Recipe:
    """How many windows of each kind a feature set holds, and how they are drawn."""

    per_alert_class: int = 800         # rendered sources per alert class
    per_negative_kind: int = 220       # rendered sources per hard-negative kind
    background_windows: int = 5000
    real_crops_per_clip: int = 6
    real_min_windows_per_label: int = 100
    real_mixed_probability: float = 0.7
    real_snr_db: tuple[float, float] = (-6.0, 25.0)
    real_clean_level_db: tuple[float, float] = (60.0, 100.0)
    background_pool_s: float = 300.0
    sustained_mid_probability: float = 0.4
    mix: MixConfig = field(default_factory=MixConfig)
    # each rendered (synthesised + propagated) source is mixed this many times, each with its
    # own background, SNR, window position and microphone: rendering is the costly part
    mixtures_per_render: int = 3
    # seconds of background-only streams whose detector onsets become label-0 windows
    onset_background_s: float = 10800.0
    # street augmentation (soft.classify.augment): the real test set has facades, cheap
    # microphones and sources outside the generators' ranges; generated data had none of it
    reverb_probability: float = 0.5        # rendered events heard in a street canyon/square
    real_reverb_probability: float = 0.15  # real clips already carry a room: rarely more
    mic_probability: float = 0.7           # whole mixture through a random street mic
    # band limits: a real clip made at 8-11 kHz (or a far source) has nothing above 4-5.5 kHz,
    # and the shipped 1.4.1 lost most gunshots on held-out clips low-passed at 5.5 kHz. Off
    # by default: with_band_limits() (0.2 / 0.3, soft-cnn-1.7.0) raised band-limited recall
    # but cost full-band gunshot recall and made band-limited background fire
    bandlimit_probability: float = 0.0          # whole window (event and street), after the mic
    real_bandlimit_probability: float = 0.0     # a real clip alone, before it is mixed
    bandlimit_hz: tuple[float, float] = (3400.0, 7200.0)    # cutoff, log-uniform
    speed_probability: float = 0.4         # dry source (or real clip) played faster/slower
    speed_range: tuple[float, float] = (0.85, 1.18)
    pitch_probability: float = 0.3         # sustained sounds only, duration kept
    pitch_range: tuple[float, float] = (0.89, 1.12)
    # impulsive events repeated: most real gunshot clips hold a volley, not a single shot
    burst_probability: float = 0.35
    burst_shots: tuple[int, int] = (2, 6)          # total shots, inclusive
    burst_gap_s: tuple[float, float] = (0.06, 0.6)
    # blasts do not come in volleys a few tenths of a second apart; a string of low thuds
    # labelled explosion taught the model that pounding and subwoofers are explosions
    no_burst_kinds: tuple[str, ...] = ('explosion',)
    # real clips heard from further away (training only): a district's sensors hear a shot
    # 200-1200 m off, duller than any recording of one. Off by default (with_distance())
    real_far_probability: float = 0.0
    real_far_m: tuple[float, float] = (50.0, 1200.0)      # added path, log-uniform

    def scaled(self, factor: float) -> 'Recipe':
        """The same recipe with every count multiplied (for quick runs and tests)."""
        def s(n: int) -> int:
            return max(1, int(round(n * factor)))
        return replace(self, per_alert_class=s(self.per_alert_class),
                       per_negative_kind=s(self.per_negative_kind),
                       background_windows=s(self.background_windows),
                       real_crops_per_clip=max(1, self.real_crops_per_clip),
                       real_min_windows_per_label=s(self.real_min_windows_per_label),
                       background_pool_s=max(10.0,
                                             self.background_pool_s * min(1.0, factor * 4)),
                       onset_background_s=max(20.0, self.onset_background_s * factor))

    def with_snr(self, snr_db: tuple[float, float]) -> 'Recipe':
        """The same recipe with every event (generated or real) mixed at ``snr_db``."""
        lo, hi = (float(v) for v in snr_db)
        if not lo <= hi:
            raise ValueError(f'snr_db {snr_db!r}: expected low <= high')
        return replace(self, real_snr_db=(lo, hi), mix=replace(self.mix, snr_db=(lo, hi)))

    def with_distance(self, distance_m: tuple[float, float], real_far_probability: float
                      ) -> 'Recipe':
        """Generated sources drawn ``distance_m`` away (log-uniform) and a share of the real
        clips heard from up to its far end (``soft train --distance-m``, ``--far-real``).

        The default 5-200 m stopped short of the district: soft-cnn-1.8.1 found 18 of 21
        shots heard from 100-200 m with >= 6 dB SNR but 6 of 77 from 450-600 m.
        """
        lo, hi = (float(v) for v in distance_m)
        if not 0.0 < lo <= hi:
            raise ValueError(f'distance_m {distance_m!r}: expected 0 < low <= high')
        if not 0.0 <= real_far_probability <= 1.0:
            raise ValueError(f'real_far_probability {real_far_probability!r}: expected 0-1')
        return replace(self, mix=replace(self.mix, distance_m=(lo, hi)),
                       real_far_probability=float(real_far_probability),
                       real_far_m=(min(max(lo, 50.0), hi), hi))

    def with_band_limits(self, whole: float = 0.2, real: float = 0.3) -> 'Recipe':
        """The same recipe with band-limited windows and real clips (``soft train
        --band-limit``)."""
        return replace(self, bandlimit_probability=whole, real_bandlimit_probability=real)

    def without_augmentation(self) -> 'Recipe':
        """The same recipe with every street augmentation switched off (for baselines)."""
        return replace(self, reverb_probability=0.0, real_reverb_probability=0.0,
                       mic_probability=0.0, speed_probability=0.0, pitch_probability=0.0,
                       burst_probability=0.0, bandlimit_probability=0.0,
                       real_bandlimit_probability=0.0)


@dataclass
class FeatureSet:
    """Windows [N, n_mels, frames] (float16 in memory too), labels and where each came from."""

    x: np.ndarray
    y: np.ndarray
    origin: np.ndarray  # 'synthetic' | 'negative' | 'background' | 'real'
    name: np.ndarray    # generator kind or manifest path

    def __len__(self) -> int:
        return int(self.y.size)

    def subset(self, mask: np.ndarray) -> 'FeatureSet':
        return FeatureSet(self.x[mask], self.y[mask], self.origin[mask], self.name[mask])

    @staticmethod
    def concat(parts: Iterable['FeatureSet']) -> 'FeatureSet':
        parts = [p for p in parts if len(p)]
        return FeatureSet(np.concatenate([p.x for p in parts]),
                          np.concatenate([p.y for p in parts]),
                          np.concatenate([p.origin for p in parts]),
                          np.concatenate([p.name for p in parts]))


def _pack(windows: list[np.ndarray], labels: list[int], origin: list[str],
          names: list[str], fcfg: FeatureConfig) -> FeatureSet:
    if windows:
        x = np.stack([logmel(w, fcfg) for w in windows]).astype(np.float16)
    else:
        x = np.zeros((0, fcfg.n_mels, fcfg.window_frames), dtype=np.float16)
    if x.shape[1:] != (fcfg.n_mels, fcfg.window_frames):
        raise RuntimeError(f'feature windows have shape {x.shape[1:]}, expected '
                           f'{(fcfg.n_mels, fcfg.window_frames)}')
    return FeatureSet(x, np.asarray(labels, dtype=np.int64), np.asarray(origin, dtype='U10'),
                      np.asarray(names, dtype='U120'))


def background_pool(seconds: float, rng: np.random.Generator, sample_rate: int,
                    chunk_s: float = 30.0) -> list[np.ndarray]:
    """Streams of urban background (Pa) from the simulator's generator, in memory.

    Each stream draws its own setting (busy or quiet street, square, park) and weather
    (some wind, some rain), so the model meets the range of floors a district has.
    """
    from soft.sim.background import PROFILES, BackgroundGenerator, Weather

    pool, left = [], seconds
    names = sorted(PROFILES)
    while left > 0:
        dur = min(chunk_s, max(left, 2.0))
        weather = Weather(wind_m_s=float(rng.uniform(1.0, 12.0)) if rng.random() < 0.5
                          else 0.0,
                          rain_mm_h=float(rng.uniform(0.5, 20.0)) if rng.random() < 0.2
                          else 0.0)
        gen = BackgroundGenerator(names[int(rng.integers(len(names)))], sample_rate,
                                  seed=int(rng.integers(2 ** 31)), weather=weather)
        pool.append(np.asarray(gen.read(int(dur * sample_rate)), dtype=np.float32))
        left -= dur
    return pool


def vary_source(x: np.ndarray, onset: int, sustained: bool, rng: np.random.Generator,
                recipe: Recipe) -> tuple[np.ndarray, int]:
    """Speed or (sustained sounds only) pitch variation of a dry sound, onset kept exact.

    Generators and the real clips cover a narrow range of motor speeds, voices and sizes;
    the street has more. Pitch shifting smears attacks, so impulsive sounds only change speed.
    """
    if rng.random() < recipe.speed_probability:
        return augment.speed(x, onset, float(rng.uniform(*recipe.speed_range)))
    if sustained and rng.random() < recipe.pitch_probability:
        return augment.pitch(x, onset, float(rng.uniform(*recipe.pitch_range)))
    return x, onset


def through_mic(x: np.ndarray, rng: np.random.Generator, sample_rate: int,
                recipe: Recipe) -> np.ndarray:
    """The whole mixture (event and background) through a random street microphone, and
    sometimes through a band-limited channel (so band-limited streets are background too)."""
    if rng.random() < recipe.mic_probability:
        x = augment.apply_mic(x, augment.mic_response(rng, sample_rate))
    return bandlimited(x, rng, sample_rate, recipe.bandlimit_hz, recipe.bandlimit_probability)


def bandlimited(x: np.ndarray, rng: np.random.Generator, sample_rate: int,
                cutoff_hz: tuple[float, float], probability: float) -> np.ndarray:
    """``x`` low-passed at a random cutoff with the given probability, else ``x`` itself.

    At probability 0 nothing is drawn, so a recipe without band limits keeps the random
    stream (and the training data) it had before they existed.
    """
    if probability > 0.0 and rng.random() < probability:
        return augment.apply_mic(x, augment.draw_bandlimit(rng, sample_rate, cutoff_hz))
    return x


def real_background_pool(clips: Iterable[tuple[ClipRecord, np.ndarray]],
                         rng: np.random.Generator, sample_rate: int,
                         level_db: tuple[float, float] = (45.0, 72.0)) -> list[np.ndarray]:
    """Real background recordings as pressure (Pa) at a plausible street Leq (dB(A)).

    Generated streets alone teach the model a floor no real street has; these clips (rain,
    sea, wind, traffic, people) are of unknown scale, so each is set to its own A-weighted
    Leq drawn from ``level_db``. Only label-0 clips are accepted: an event clip in the
    background pool would teach the model to call that event background.
    """
    from soft.sim.levels import a_weighted_power

    lo, hi = level_db
    if not 0.0 <= lo <= hi <= 140.0:
        raise ValueError(f'level_db {level_db!r}: expected 0 <= low <= high <= 140 dB')
    pool = []
    for rec, x in clips:
        if rec.class_id != taxonomy.BACKGROUND:
            raise ValueError(f'{rec.path}: label {rec.label!r} is class {rec.class_id}, not '
                             'background; only background clips may join the pool')
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 1 or not x.size or not np.all(np.isfinite(x)):
            raise ValueError(f'{rec.path}: expected finite mono samples, got shape {x.shape}')
        x = x - x.mean()
        p = a_weighted_power(x, sample_rate)
        if p <= 0:
            raise ValueError(f'{rec.path}: silent clip cannot be scaled to a street level')
        level = float(rng.uniform(lo, hi))
        pool.append((x * (P_REF * 10 ** (level / 20) / np.sqrt(p))).astype(np.float32))
    return pool


def _synth_windows(kind: str, rng: np.random.Generator, pool: list[np.ndarray],
                   fcfg: FeatureConfig, recipe: Recipe) -> tuple[list[np.ndarray], int]:
    """One rendered source, mixed ``recipe.mixtures_per_render`` times into background."""
    from soft.sim.sources import synthesize

    src = synthesize(kind, rng, sample_rate=fcfg.sample_rate)
    n = fcfg.window_samples()
    sr = fcfg.sample_rate
    mix = recipe.mix
    dry = np.asarray(src.samples, dtype=np.float64)[:int(src.onset_index) + 5 * n]
    dry, dry_onset = vary_source(dry, int(src.onset_index), src.level_type == 'leq', rng,
                                 recipe)
    if src.level_type != 'leq' and kind not in recipe.no_burst_kinds \
            and rng.random() < recipe.burst_probability:
        dry = burst(dry, dry_onset, rng, sr, recipe)
    distance = log_uniform(rng, *mix.distance_m)
    event, onset = propagate(dry, dry_onset, sr, distance, rng)
    if rng.random() < recipe.reverb_probability:
        event, onset = augment.reverberate(event, onset,
                                           augment.street_ir(rng, sr, distance_m=distance))
    # the SNR refers to the whole received sound, as in the simulator's ground truth
    pe = event_power(event[max(0, onset - sr // 100):], sr)
    out = []
    for _ in range(max(1, recipe.mixtures_per_render)):
        pre = int(draw_pre(rng, mix) * sr)
        if src.level_type == 'leq' and rng.random() < recipe.sustained_mid_probability \
                and event.size - onset > 2 * n:
            # a sustained sound is re-classified while it lasts: windows from its middle too
            pre = -int(rng.integers(0, event.size - onset - n))
        win = place(event, onset, n, pre)
        bg = background_crop(pool, n, rng) * 10 ** (rng.uniform(*mix.background_gain_db) / 20)
        x = mix_at_snr(win, bg, float(rng.uniform(*mix.snr_db)), sr, event_p=pe)
        out.append(to_full_scale(through_mic(x, rng, sr, recipe), rng, mix)[0])
    return out, int(src.class_id)


def burst(x: np.ndarray, onset: int, rng: np.random.Generator, sample_rate: int,
          recipe: Recipe) -> np.ndarray:
    """The same impulsive source repeated at irregular gaps and levels, first shot kept.

    A volley of shots or a string of bangers is what a street microphone usually hears; a
    model that only saw single shots calls the second shot's window something else. Later
    shots vary by -6..+2 dB so the first stays the onset the detector finds.
    """
    shots = int(rng.integers(recipe.burst_shots[0], recipe.burst_shots[1] + 1))
    event = np.asarray(x[onset:], dtype=np.float64)
    starts = [0]
    for _ in range(shots - 1):
        starts.append(starts[-1] + int(rng.uniform(*recipe.burst_gap_s) * sample_rate))
    out = np.zeros(onset + starts[-1] + event.size)
    out[:x.size] = x
    for st in starts[1:]:
        out[onset + st:onset + st + event.size] += event * 10 ** (rng.uniform(-6.0, 2.0) / 20)
    return out


def propagate(x: np.ndarray, onset: int, sample_rate: int, distance_m: float,
              rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """What a street-corner microphone receives of a dry source ``distance_m`` away.

    Uses the simulator's propagation (spreading, ISO 9613-1 air absorption, ground
    reflection, sometimes diffraction round a building) so a far gunshot loses its crack in
    training as it does in the simulated district. Returns (samples Pa, onset index).
    """
    from soft.sim.propagation import Atmosphere, PathGeometry, propagate as sim_propagate

    src = np.array([0.0, 0.0, rng.uniform(0.3, 2.0)])
    mic = np.array([distance_m, 0.0, rng.uniform(2.5, 6.0)])
    direct = float(np.linalg.norm(mic - src))
    path = None
    if rng.random() < 0.2:  # heard round a corner
        path = PathGeometry(direct, direct + float(rng.uniform(0.5, 15.0)), True)
    atm = Atmosphere(float(rng.uniform(-5.0, 35.0)), float(rng.uniform(20.0, 95.0)))
    rec = sim_propagate(x, sample_rate, onset, 0.0, src, mic, atm, path=path)
    y_onset = int(round(rec.arrival_time_s * sample_rate)) - rec.start_sample
    return np.asarray(rec.samples, dtype=np.float64), y_onset


def heard_from(x: np.ndarray, rng: np.random.Generator, sample_rate: int, distance_m: float
               ) -> np.ndarray:
    """A real recording as a microphone ``distance_m`` further off would hear it (air
    absorption, ground reflection, sometimes a corner): same length, same start, same peak.

    The recording already carries its own distance; this adds the path on top. The peak is
    kept because the crop is scaled to an SNR or a street level afterwards, and a 1/r-quiet
    clip would sink under the onset finder's energy floor.
    """
    y, onset = propagate(np.asarray(x, dtype=np.float64), 0, sample_rate, distance_m, rng)
    y = y[max(onset, 0):][:x.size]
    y = np.pad(y, (0, x.size - y.size))
    peak, peak_y = float(np.max(np.abs(x))), float(np.max(np.abs(y)))
    return y * (peak / peak_y) if peak_y > 0 else y


GENERATOR_RETRIES = 3
T = TypeVar('T')


def _retried(draw: Callable[[], T], what: str, tag: str, failures: Counter | None) -> T:
    """``draw()``, retried with fresh random draws when it raises (counted per error)."""
    for attempt in range(GENERATOR_RETRIES + 1):
        try:
            return draw()
        except (IndexError, ValueError, FloatingPointError, RuntimeError) as exc:
            if failures is not None:
                failures[f'{tag}: {type(exc).__name__}: {exc}'] += 1
            if attempt == GENERATOR_RETRIES:
                raise RuntimeError(f'{what} failed {attempt + 1} times in a row: {exc}') \
                    from exc


def synthetic_set(kinds: dict[str, int], per_kind: dict[str, int], pool: list[np.ndarray],
                  rng: np.random.Generator, fcfg: FeatureConfig, recipe: Recipe,
                  origin: str, progress: Callable[[int], None] | None = None,
                  failures: Counter | None = None) -> FeatureSet:
    """Generated events of each kind in background; negatives get label 0.

    A generator that raises on one random draw is retried with a fresh draw (up to
    ``GENERATOR_RETRIES`` times) and counted in ``failures``, so one rare bug in one
    generator does not throw away an hour of data; a generator failing repeatedly stops the
    run with its error.
    """
    windows, labels, names = [], [], []
    for kind in sorted(per_kind):
        for _ in range(per_kind[kind]):
            ws, cid = _retried(lambda: _synth_windows(kind, rng, pool, fcfg, recipe),
                               f'generator {kind!r}', kind, failures)
            if cid != kinds[kind]:
                raise RuntimeError(f'generator {kind!r} returned class {cid}, '
                                   f'expected {kinds[kind]}')
            windows.extend(ws)
            labels.extend([cid] * len(ws))
            names.extend([kind] * len(ws))
            if progress:
                progress(1)
    return _pack(windows, labels, [origin] * len(labels), names, fcfg)


def background_set(count: int, pool: list[np.ndarray], rng: np.random.Generator,
                   fcfg: FeatureConfig, recipe: Recipe) -> FeatureSet:
    """Background-only windows (label 0) at random gains, sensitivities and microphones."""
    n = fcfg.window_samples()
    windows = []
    for _ in range(count):
        bg = background_crop(pool, n, rng) * 10 ** (rng.uniform(*recipe.mix.background_gain_db)
                                                    / 20)
        bg = through_mic(bg, rng, fcfg.sample_rate, recipe)
        windows.append(to_full_scale(bg, rng, recipe.mix)[0])
    return _pack(windows, [0] * count, ['background'] * count, ['background'] * count, fcfg)


def real_window(x: np.ndarray, rng: np.random.Generator, fcfg: FeatureConfig,
                recipe: Recipe, pool: list[np.ndarray] | None, impulsive: bool,
                mixed: bool, onset_rank: int | None = None, pre_s: float | None = None,
                augmented: bool = False) -> np.ndarray:
    """One crop of a real clip with an onset inside, optionally mixed into background.

    Real clips are treated as pressure of unknown scale: mixed ones are scaled to an SNR
    over the (calibrated) background, clean ones to a plausible street level. ``augmented``
    (training only) varies speed or pitch, sometimes adds a street's reverberation or takes
    the clip's top band away (a recording made at a lower rate, or a far source), and puts
    the result through a random microphone; validation crops stay as recorded.
    """
    n = fcfg.window_samples()
    sr = fcfg.sample_rate
    if augmented:
        x, _ = vary_source(np.asarray(x, dtype=np.float64), 0, not impulsive, rng, recipe)
        if recipe.real_far_probability and rng.random() < recipe.real_far_probability:
            x = heard_from(x, rng, sr, log_uniform(rng, *recipe.real_far_m))
        if rng.random() < recipe.real_reverb_probability:
            # keep the clip's length: the onset search and crops see the same span
            x = augment.reverberate(x, 0, augment.street_ir(rng, sr))[0][:x.size]
        x = bandlimited(x, rng, sr, recipe.bandlimit_hz, recipe.real_bandlimit_probability)
    cands = onsets(x, sr)
    rank = onset_rank if onset_rank is not None else int(rng.integers(len(cands)))
    onset = cands[min(rank, len(cands) - 1)]
    pre = int((pre_s if pre_s is not None else draw_pre(rng, recipe.mix)) * sr)
    if not impulsive and pre_s is None and x.size > 2 * n \
            and rng.random() < recipe.sustained_mid_probability:
        start = int(rng.integers(0, x.size - n))
    else:
        start = onset - pre
    win = crop(x, start, n).astype(np.float64)
    win -= win.mean()
    if mixed and pool:
        bg = background_crop(pool, n, rng) * 10 ** (rng.uniform(*recipe.mix.background_gain_db)
                                                    / 20)
        y = mix_at_snr(win, bg, float(rng.uniform(*recipe.real_snr_db)), sr)
    else:
        level = float(rng.uniform(*recipe.real_clean_level_db))
        p = loud_power(win, sr)
        y = win * (P_REF * 10 ** (level / 20) / np.sqrt(p)) if p > 0 else win
    if augmented:
        y = through_mic(y, rng, sr, recipe)
    return to_full_scale(y, rng, recipe.mix)[0]


def real_set(clips: list[tuple[ClipRecord, np.ndarray]], rng: np.random.Generator,
             fcfg: FeatureConfig, recipe: Recipe, pool: list[np.ndarray],
             train: bool, failures: Counter | None = None) -> FeatureSet:
    """Windows from real clips; training draws several augmented crops, rare labels more.

    An augmentation that raises on one random crop is retried with a fresh draw and counted
    in ``failures``, as generators are: a rare bug must not stop a training run midway.

    Validation takes one deterministic crop per clip (loudest onset, 0.105 s before it, where
    the detector starts its window) as
    recorded, plus one mixed into held-out background at a random SNR.
    """
    windows, labels, origin, names = [], [], [], []
    per_label: dict[str, int] = {}
    for rec, _ in clips:
        per_label[rec.label] = per_label.get(rec.label, 0) + 1
    for rec, x in clips:
        impulsive = taxonomy.by_id(rec.class_id).impulsive
        if train:
            k = max(recipe.real_crops_per_clip,
                    -(-recipe.real_min_windows_per_label // per_label[rec.label]))
            for _ in range(k):
                mixed = rng.random() < recipe.real_mixed_probability
                windows.append(_retried(
                    lambda: real_window(x, rng, fcfg, recipe, pool, impulsive, mixed,
                                        augmented=True),
                    f'augmenting real clip {rec.path}', f'real {rec.label}', failures))
                labels.append(rec.class_id)
                origin.append('real')
                names.append(str(rec.path))
        else:
            for mixed, tag in ((False, 'real'), (True, 'real_mixed')):
                windows.append(real_window(x, rng, fcfg, recipe, pool, impulsive, mixed,
                                           onset_rank=0, pre_s=0.105))
                labels.append(rec.class_id)
                origin.append(tag)
                names.append(str(rec.path))
    return _pack(windows, labels, origin, names, fcfg)


class WindowRecorder:
    """Stand-in classifier: keeps every window the detector submits and answers background.

    As the detector's observer it also keeps whether each window was a sustained
    re-classification (the observer sees the windows in the order they were submitted).
    """

    def __init__(self, fcfg: FeatureConfig):
        self.feature_config = fcfg
        self.thresholds = np.ones(taxonomy.NUM_CLASSES)
        self.windows: list[np.ndarray] = []
        self.sustained: list[bool] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.windows.extend(np.asarray(batch, dtype=np.float16))
        probs = np.zeros((len(batch), taxonomy.NUM_CLASSES), dtype=np.float32)
        probs[:, 0] = 1.0
        return probs

    def observe(self, verdict) -> None:
        self.sustained.append(bool(verdict.sustained))


def detector_windows(stream_fs: np.ndarray, fcfg: FeatureConfig, block_s: float = 0.25
                     ) -> np.ndarray:
    """Every window the real detector would classify in a full-scale stream.

    Background alone still triggers onsets (a gust, a passing lorry, a slammed boot): those
    windows, not random ones, are what the model must call background, so they are taught as
    hard negatives and the false-alarm budget is measured on them.
    """
    from soft.audio.detector import DetectorConfig, StreamingDetector
    from soft.audio.drivers import AudioBlock

    rec = WindowRecorder(fcfg)
    # every onset, whatever a sensor's onset budget: all are negatives worth learning
    det = StreamingDetector(DetectorConfig(onset_budget_per_s=0.0), fcfg, rec)
    n = int(block_s * fcfg.sample_rate)
    x = np.asarray(stream_fs, dtype=np.float32)
    for i in range(0, x.size - n + 1, n):
        det.process(AudioBlock(x[i:i + n], i * 1_000_000_000 // fcfg.sample_rate,
                               fcfg.sample_rate))
    if not rec.windows:
        return np.zeros((0, fcfg.n_mels, fcfg.window_frames), dtype=np.float16)
    return np.stack(rec.windows)


def onset_background_set(seconds: float, rng: np.random.Generator, fcfg: FeatureConfig,
                         recipe: Recipe, stream_s: float = 60.0) -> FeatureSet:
    """Label-0 windows where the detector fires on background-only streams."""
    xs = []
    left = seconds
    while left > 0:
        dur = max(10.0, min(stream_s, left))
        pa = background_pool(dur, rng, fcfg.sample_rate, chunk_s=dur)[0]
        pa = pa * 10 ** (rng.uniform(*recipe.mix.background_gain_db) / 20)
        y, _ = to_full_scale(pa.astype(np.float64), rng, MixConfig(clip_probability=0.0))
        xs.append(detector_windows(y, fcfg))
        left -= dur
    x = np.concatenate(xs) if xs else np.zeros((0, fcfg.n_mels, fcfg.window_frames),
                                               dtype=np.float16)
    n = len(x)
    return FeatureSet(x, np.zeros(n, dtype=np.int64), np.full(n, 'background', dtype='U10'),
                      np.full(n, 'onset_background', dtype='U120'))


def stream_windows(stream_fs: np.ndarray, fcfg: FeatureConfig, hop_s: float = 0.5
                   ) -> np.ndarray:
    """Every window of a long full-scale stream, ``hop_s`` apart (false-alarm estimate)."""
    feats = logmel(stream_fs, fcfg)
    step = max(1, int(round(hop_s * fcfg.frame_rate)))
    starts = range(0, feats.shape[1] - fcfg.window_frames + 1, step)
    return np.stack([feats[:, s:s + fcfg.window_frames] for s in starts]).astype(np.float16)


# --- cache -----------------------------------------------------------------------------------

def source_fingerprint(modules: Iterable[str]) -> str:
    """Hash of the source of ``modules`` (packages: every .py under them).

    An entry ``'module:f,g'`` hashes only those functions' source: a module whose other
    functions (manifest parsing, splits) do not shape a feature must not make every cached
    feature stale when they change.
    """
    import importlib
    import importlib.util
    import inspect

    h = hashlib.sha256()
    for entry in sorted(modules):
        mod, _, names = entry.partition(':')
        if names:
            m = importlib.import_module(mod)
            for name in names.split(','):
                fn = getattr(m, name, None)
                if fn is None:
                    raise ValueError(f'source_fingerprint: {mod} has no {name!r}')
                h.update(f'{mod}:{name}'.encode())
                h.update(inspect.getsource(fn).encode())
            continue
        spec = importlib.util.find_spec(mod)
        if spec is None or spec.origin is None:
            h.update(f'{mod}:absent'.encode())
            continue
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob('*.py')) if origin.name == '__init__.py' \
            else [origin]
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_key(**parts) -> str:
    def default(o):
        if hasattr(o, '__dataclass_fields__'):
            return asdict(o)
        return str(o)
    text = json.dumps({'format': FORMAT_VERSION, **parts}, sort_keys=True, default=default)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def is_cached(cache_dir: Path | None, name: str, key: str) -> bool:
    """Whether :func:`cached` would load ``name`` rather than build it."""
    return cache_dir is not None and (Path(cache_dir) / f'{name}-{key}.npz').is_file()


def cached(cache_dir: Path | None, name: str, key: str,
           build: Callable[[], FeatureSet]) -> FeatureSet:
    """Load ``name`` from the cache when its key matches, else build and store it."""
    if cache_dir is None:
        return build()
    path = Path(cache_dir) / f'{name}-{key}.npz'
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return FeatureSet(z['x'], z['y'], z['origin'], z['name'])
    fs = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    # a temporary name of this writer's own: two runs side by side build the same entry,
    # and a shared name let one move the other's file away mid-write (soft-cnn-1.8.1 died so)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.npz')
    try:
        with os.fdopen(fd, 'wb') as f:
            np.savez(f, x=fs.x, y=fs.y, origin=fs.origin, name=fs.name)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return fs
