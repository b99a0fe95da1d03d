"""Put a sound where the sensor would hear it: in a street background, at an SNR and a gain.

Training windows must look like the windows the detector submits: about 0.15 s of background
before an onset (here drawn anywhere in the first 0.3 s), the event at a realistic SNR over
urban noise, a microphone of unknown sensitivity, and now and then a clipped converter.
Everything here works in memory on pressure (Pa) and full-scale arrays; nothing is written.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

REFERENCE_PA = 1.0  # 94 dB SPL, the microphone sensitivity reference


@dataclass(frozen=True)
class MixConfig:
    """Ranges the scene sampler draws from (all uniform unless noted)."""

    # as the simulator's ground truth defines it; from -6 dB, where DCASE-style tests start
    snr_db: tuple[float, float] = (-6.0, 24.0)
    distance_m: tuple[float, float] = (5.0, 200.0)  # log-uniform
    pre_onset_s: tuple[float, float] = (0.02, 0.30)
    # the detector starts its window 10 frames (0.100-0.110 s) before the onset it finds:
    # most windows sit exactly there, the rest anywhere in pre_onset_s (late or early onsets)
    detector_pre_s: tuple[float, float] = (0.095, 0.115)
    detector_pre_probability: float = 0.6
    sensitivity_dbfs: tuple[float, float] = (-46.0, -30.0)
    background_gain_db: tuple[float, float] = (-8.0, 8.0)
    clip_probability: float = 0.05
    clip_level: tuple[float, float] = (0.2, 0.7)  # of full scale, when clipping is forced


def pa_to_full_scale(sensitivity_dbfs: float) -> float:
    """Samples per pascal for a microphone reading ``sensitivity_dbfs`` for a 94 dB SPL tone.

    AES17: a tone of RMS 1 Pa reads ``sensitivity_dbfs`` = 10 log10(2 ms), so its full-scale
    RMS is 10^(s/20) / sqrt(2).
    """
    return 10.0 ** (sensitivity_dbfs / 20.0) / math.sqrt(2.0)


def loud_power(x: np.ndarray, sample_rate: int, span_s: float = 0.1) -> float:
    """Mean square over the loudest ``span_s`` of ``x``: the level an SNR refers to.

    A 1 s window holding a 5 ms gunshot has a tiny average power; the SNR a listener
    perceives is the event's loudest moment against the steady background.
    """
    n = max(1, int(span_s * sample_rate))
    x = np.asarray(x, dtype=np.float64)
    if x.size <= n:
        return float(np.mean(x * x)) if x.size else 0.0
    c = np.concatenate(([0.0], np.cumsum(x * x)))
    return float(np.max(c[n:] - c[:-n]) / n)


SNR_BAND_HZ = (150.0, 7000.0)  # soft.sim.levels.SNR_BAND_HZ: where detectors look
SNR_SPAN_S = 0.025             # soft.sim.district.SNR_WINDOW_S


@lru_cache(maxsize=4)
def _snr_band(sample_rate: int) -> np.ndarray:
    from scipy import signal

    return signal.butter(4, [SNR_BAND_HZ[0], min(SNR_BAND_HZ[1], 0.45 * sample_rate)],
                         'bandpass', fs=sample_rate, output='sos')


def band(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """``x`` band-passed to SNR_BAND_HZ, as the simulator does before measuring an SNR."""
    from scipy import signal

    return signal.sosfilt(_snr_band(sample_rate), np.asarray(x, dtype=np.float64))


def event_power(x: np.ndarray, sample_rate: int) -> float:
    """In-band mean square over the loudest 25 ms: the simulator's SNR numerator.

    Training and the demo's ground truth must mean the same thing by "SNR 6 dB"; a 5 ms shot
    measured over 100 ms broadband would be trained far louder than the demo renders it.
    """
    return loud_power(band(x, sample_rate), sample_rate, SNR_SPAN_S)


def draw_pre(rng: np.random.Generator, cfg: 'MixConfig') -> float:
    """Seconds of audio before the onset in a window (mostly where the detector puts it)."""
    if rng.random() < cfg.detector_pre_probability:
        return float(rng.uniform(*cfg.detector_pre_s))
    return float(rng.uniform(*cfg.pre_onset_s))


def place(event: np.ndarray, onset: int, n: int, pre: int) -> np.ndarray:
    """An ``n``-sample window with ``event[onset]`` at index ``pre`` (zero elsewhere)."""
    out = np.zeros(n, dtype=np.float64)
    start = onset - pre  # index in event of window sample 0
    a, b = max(0, start), min(event.size, start + n)
    if b > a:
        out[a - start:b - start] = event[a:b]
    return out


def background_crop(pool: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``n``-sample stretch of the background streams in ``pool`` (Pa).

    Every ``n``-sample stretch of every stream long enough is equally likely, so a pool
    mixing 30 s generated streets with 5 s real clips is drawn from in proportion to their
    durations; streams shorter than ``n`` (short real clips) are skipped, not tiled, since a
    tiled seam is an onset no street produces.
    """
    if not pool:
        raise ValueError('background pool is empty')
    sizes = np.fromiter((s.size for s in pool), dtype=np.int64, count=len(pool))
    spans = np.maximum(sizes - n + 1, 0)
    total = int(spans.sum())
    if total == 0:
        raise ValueError(f'background pool has no stream of at least {n} samples (one '
                         f'window); its {len(pool)} streams are at most {int(sizes.max())} '
                         'samples long')
    k = int(rng.integers(total))
    i = int(np.searchsorted(np.cumsum(spans), k, side='right'))
    s = k - int(spans[:i].sum())
    return np.asarray(pool[i][s:s + n], dtype=np.float64)


def mix_at_snr(event_win: np.ndarray, background: np.ndarray, snr_db: float,
               sample_rate: int, event_p: float | None = None) -> np.ndarray:
    """Scale the event so its loudest in-band 25 ms sits ``snr_db`` over the in-band background.

    ``event_p`` (the event's :func:`event_power`) may be passed when one rendered event is
    mixed several times.
    """
    pe = event_power(event_win, sample_rate) if event_p is None else event_p
    pb = float(np.mean(band(background, sample_rate) ** 2))
    if pe <= 0:
        return background.copy()
    if pb <= 0:
        return event_win.copy()
    gain = math.sqrt(pb / pe * 10.0 ** (snr_db / 10.0))
    return background + gain * event_win


def to_full_scale(x_pa: np.ndarray, rng: np.random.Generator, cfg: MixConfig
                  ) -> tuple[np.ndarray, bool]:
    """Through a microphone of random sensitivity into a converter that clips at +/-1.

    Returns the samples and whether they clipped. Loud close events clip on their own; a few
    windows are also driven into clipping on purpose so the model sees flat-topped waveforms.
    """
    y = x_pa * pa_to_full_scale(float(rng.uniform(*cfg.sensitivity_dbfs)))
    if rng.random() < cfg.clip_probability:
        peak = float(np.max(np.abs(y))) or 1.0
        y = y * (1.0 / float(rng.uniform(*cfg.clip_level))) / peak
    clipped = bool(np.max(np.abs(y)) > 1.0)
    return np.clip(y, -1.0, 1.0).astype(np.float32), clipped


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
