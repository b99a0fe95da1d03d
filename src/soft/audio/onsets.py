"""Sound onsets: coarse candidates from the feature stream, refined on the raw samples.

Two stages, because they answer different questions:

1. *Is something starting?* On coarse bands of the log-mel stream (10 ms hop), a frame is a
   candidate when, in at least one band, the level is both ``threshold_db`` above that band's
   noise floor and ``rise_db`` above its level ``lag_frames`` earlier. Per-band tests catch
   band-limited sounds (whistles, horns) that a broadband energy test would miss.
2. *When exactly?* The time-difference-of-arrival localisation needs far better than 10 ms, so
   each candidate is refined on ~70 ms of raw samples with an AIC picker (the split point that
   best explains the window as quiet-then-loud), after a light pre-emphasis that favours the
   broadband attack over low-frequency traffic rumble. The Akaike weights of the split points
   give the onset's one-sigma uncertainty.

Between the two sits a budget, a constant-false-alarm-rate gate as radar uses against clutter.
Rain, surf, a rotor or a crowd give four to six candidates a second, each a window for the
classifier: that is more compute than an edge sensor is allowed (0.6 GMAC per 10 s) and a
chance for a false alarm every time. Up to ``budget_per_s`` candidates a second (counted over
``budget_window_s``) pass freely; beyond that a candidate passes only if its score beats all
but that many of the candidates of the window, so in clutter only what stands out of it is
classified, while a quiet street, where candidates are rare, loses nothing.
"""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

import numpy as np

_DB = 10.0 / np.log(10.0)


@dataclass(frozen=True)
class OnsetConfig:
    """Onset detection and refinement parameters (dB, seconds)."""

    threshold_db: float = 8.0       # band level above its noise floor
    rise_db: float = 6.0            # band level above its level lag_frames earlier
    lag_frames: int = 3             # 30 ms: longer than a frame, so the reference is clean
    budget_per_s: float = 0.0       # candidates per second passed freely (0: all pass)
    budget_window_s: float = 10.0   # ... counted over this much recent time
    n_bands: int = 8                # coarse bands (groups of mel bands) tested separately
    refractory_s: float = 0.05      # no second candidate closer than this
    refine_before_s: float = 0.03   # raw window before the candidate frame's start
    refine_after_s: float = 0.02    # raw window after the candidate frame's end
    preemphasis: float = 0.9        # y[n] = x[n] - a x[n-1] before picking (0 disables)


def coarse_band_db(logmel: np.ndarray, n_bands: int) -> np.ndarray:
    """Sum mel power over ``n_bands`` contiguous groups of mel bands; dB [n_bands, T]."""
    n_mels = logmel.shape[0]
    edges = np.linspace(0, n_mels, n_bands + 1).round().astype(int)
    power = np.exp(logmel.astype(np.float64))
    sums = np.add.reduceat(power, edges[:-1], axis=0)
    return (np.log(np.maximum(sums, 1e-30)) * _DB).astype(np.float32)


class OnsetCandidates:
    """Streaming candidate picker over coarse band levels (see the module docstring)."""

    def __init__(self, cfg: OnsetConfig, frame_rate: float):
        self.cfg = cfg
        self.refractory = max(1, int(round(cfg.refractory_s * frame_rate)))
        self.budget = int(round(cfg.budget_per_s * cfg.budget_window_s))
        self.budget_frames = max(1, int(round(cfg.budget_window_s * frame_rate)))
        self.dropped = 0        # candidates refused by the budget, over the picker's life
        self.reset()

    def reset(self) -> None:
        """Forget the recent frames (after a gap); frame numbering restarts at 0."""
        self._history: np.ndarray | None = None
        self._frame = 0
        self._last_trigger = -10 ** 9
        self._above = False
        self._recent: deque[tuple[int, float]] = deque()    # (frame, score) of candidates

    def push(self, band_db: np.ndarray, floor_db: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Add frames [n_bands, k]; return (candidate frame numbers, per-frame excess in dB).

        The excess is each frame's largest band level above its floor (for duration and
        sustained-sound decisions); frame numbers count from the last reset.
        """
        cfg = self.cfg
        k = band_db.shape[1]
        lag = cfg.lag_frames
        if self._history is None:
            self._history = np.full((band_db.shape[0], lag), np.inf, dtype=np.float32)
        ext = np.concatenate((self._history, band_db), axis=1)
        rise = band_db - ext[:, :k]
        excess = band_db - np.asarray(floor_db, dtype=np.float32)[:, None]
        score = np.minimum(excess, rise - (cfg.rise_db - cfg.threshold_db)).max(axis=0)
        with np.errstate(invalid='ignore'):
            above = score >= cfg.threshold_db
        self._history = ext[:, -lag:]
        out: list[int] = []
        for i in np.flatnonzero(above):
            frame = self._frame + int(i)
            prev_above = above[i - 1] if i > 0 else self._above
            if not prev_above and frame - self._last_trigger >= self.refractory:
                self._last_trigger = frame
                if self._within_budget(frame, float(score[i])):
                    out.append(frame)
                else:
                    self.dropped += 1
        if k:
            self._above = bool(above[-1])
        self._frame += k
        with np.errstate(invalid='ignore'):
            return out, np.nan_to_num(excess.max(axis=0), nan=0.0)

    def _within_budget(self, frame: int, score: float) -> bool:
        """Constant-false-alarm-rate gate on the candidates (see the module docstring)."""
        if self.budget <= 0:
            return True
        recent = self._recent
        while recent and recent[0][0] <= frame - self.budget_frames:
            recent.popleft()
        passes = len(recent) < self.budget or \
            score >= heapq.nlargest(self.budget, (s for _, s in recent))[-1]
        recent.append((frame, score))
        return passes


@dataclass(frozen=True)
class Refinement:
    """A refined onset inside the analysed window."""

    index: float            # sub-sample position from the window's first sample
    sigma_samples: float    # one-sigma uncertainty, samples
    ok: bool                # False: no clear quiet-then-loud split, keep the coarse estimate


def aic_curve(x: np.ndarray) -> np.ndarray:
    """AIC(k) = k log var(x[:k]) + (N - k - 1) log var(x[k:]) for k = 1..N-1 (index k-1)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    c1 = np.cumsum(x)
    c2 = np.cumsum(x * x)
    k = np.arange(1, n, dtype=np.float64)
    s1, s2 = c1[:-1], c2[:-1]
    var_a = s2 / k - (s1 / k) ** 2
    r1, r2 = c1[-1] - s1, c2[-1] - s2
    m = n - k
    var_b = r2 / m - (r1 / m) ** 2
    tiny = 1e-30
    return k * np.log(np.maximum(var_a, tiny)) + (m - 1) * np.log(np.maximum(var_b, tiny))


def refine_onset(x: np.ndarray, sample_rate: int, preemphasis: float = 0.9,
                 smooth_s: float = 0.001, min_segment_s: float = 0.002) -> Refinement:
    """Locate the onset in a raw window that starts before it (quiet) and reaches the sound.

    Picks on the raw and on the pre-emphasised window and keeps the one with the stronger
    quiet-to-loud contrast: pre-emphasis wins against traffic rumble, the raw signal wins for
    low-pitched sounds in broadband noise.
    """
    x = np.asarray(x, dtype=np.float64)
    best = _pick(x, sample_rate, smooth_s, min_segment_s)
    if preemphasis:
        y = np.empty_like(x)
        y[0] = 0.0
        y[1:] = x[1:] - preemphasis * x[:-1]
        other = _pick(y, sample_rate, smooth_s, min_segment_s)
        if other[1] > best[1]:
            best = other
    return best[0]


def _pick(y: np.ndarray, sample_rate: int, smooth_s: float,
          min_segment_s: float) -> tuple[Refinement, float]:
    """AIC pick from the window start to just past the envelope peak; (result, contrast).

    Stopping past the peak keeps the decay of an impulsive sound from passing for a second
    quiet-to-loud split.
    """
    n = len(y)
    m = max(4, int(min_segment_s * sample_rate))
    if n < 4 * m:
        return Refinement(n / 2.0, n / 4.0, False), 0.0
    w = max(1, int(smooth_s * sample_rate))
    c = np.concatenate(([0.0], np.cumsum(y * y)))
    env = (c[w:] - c[:-w]) / w
    peak = int(np.argmax(env[m:])) + m + w
    end = min(n, peak + 3 * w + m)
    seg = y[:end]
    if len(seg) < 3 * m:
        return Refinement(float(peak), n / 4.0, False), 0.0
    aic = aic_curve(seg)
    lo, hi = m - 1, len(aic) - m
    core = aic[lo:hi]
    j = int(np.argmin(core))
    kbest = lo + j
    frac = 0.0
    if 0 < kbest < len(aic) - 1:
        a, b, d = aic[kbest - 1], aic[kbest], aic[kbest + 1]
        den = a - 2 * b + d
        if den > 0:
            frac = float(np.clip(0.5 * (a - d) / den, -0.5, 0.5))
    # Akaike weights of the candidate splits: a likelihood-based spread of the onset.
    rel = np.exp(-0.5 * (core - core[j]))
    pos = np.arange(lo, hi, dtype=np.float64)
    sigma = float(np.sqrt(np.sum(rel * (pos - kbest) ** 2) / rel.sum()))
    sigma = max(sigma, 0.5)
    # Split k means samples [0, k) are quiet: the onset is sample k = index + 1.
    index = kbest + 1 + frac
    before = float(np.mean(seg[:kbest + 1] ** 2))
    after = float(np.mean(seg[kbest + 1:] ** 2))
    contrast = after / max(before, 1e-30)
    ok = 0 < j < len(core) - 1 and contrast > 2.0
    return Refinement(float(index), sigma, ok), contrast
