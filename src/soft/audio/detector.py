"""The streaming detector: audio blocks in, acoustic detections out.

Per block: log-mel frames (:mod:`features`), per-band noise floors and onset candidates
(:mod:`onsets`), sub-millisecond refinement on the raw samples kept in a RAM ring buffer, then
classification of a window of ``window_frames`` frames starting ``pre_onset_frames`` before the
onset (so a detection comes out about one window after its onset). Sounds that stay loud are
also classified periodically (drills, sirens, horns). Pending windows are classified in one
batch per block.

Privacy: this module writes no file; raw audio exists only in the ring buffer. It reads no
clock: time comes from the blocks' capture stamps.
"""
from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from soft.audio import levels
from soft.audio.drivers import NS, AudioBlock
from soft.audio.features import FeatureConfig, LogMelStream
from soft.audio.onsets import OnsetCandidates, OnsetConfig, coarse_band_db, refine_onset
from soft.audio.ringbuffer import RingBuffer
from soft.classify import taxonomy


class WindowClassifier(Protocol):
    """What the detector needs from a classifier (see soft.classify.inference.Classifier)."""

    @property
    def thresholds(self) -> np.ndarray: ...

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


# the DetectorConfig fields a sensor takes from its parameters (soft.graph.sensor_node)
SENSOR_PARAMS = ('sensitivity_dbfs', 'min_snr_db', 'sustained_period_s', 'onset_budget_per_s')


def parse_class_thresholds(text: str) -> dict[int, float]:
    """'gunshot=0.95, explosion=0.98' -> {class id: threshold}; errors name the entry.

    A site sets its own thresholds when its soak shows a class over its false-alarm budget
    (``soft soak BAG --budget``): no retraining, no audio.
    """
    out: dict[int, float] = {}
    for item in filter(None, (part.strip() for part in (text or '').split(','))):
        name, sep, value = item.partition('=')
        where = f'class_thresholds entry {item!r}'
        if not sep:
            raise ValueError(f'{where}: expected class=threshold')
        try:
            cls = taxonomy.by_name(name.strip())
        except ValueError:
            raise ValueError(f'{where}: unknown class {name.strip()!r} (classes: '
                             f'{", ".join(c.name for c in taxonomy.CLASSES[1:])})') from None
        if cls.id == taxonomy.BACKGROUND:
            raise ValueError(f'{where}: background has no threshold')
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f'{where}: {value.strip()!r} is not a number') from None
        if not 0.0 < v <= 1.0:
            raise ValueError(f'{where}: a threshold must be in (0, 1], got {v}')
        out[cls.id] = v
    return out


@dataclass
class DetectorConfig:
    """Detector tuning; levels in dB, durations in seconds."""

    sensitivity_dbfs: float = -26.0     # dBFS reading of a 94 dB SPL tone
    min_snr_db: float = 8.0             # onset: band level above its noise floor
    onset_rise_db: float = 6.0          # onset: band rise over onset_lag_frames
    onset_lag_frames: int = 3
    onset_budget_per_s: float = 1.0     # onset: candidates a second passed freely (0: all)
    onset_budget_window_s: float = 10.0     # ... over this window; beyond, the salient ones
    onset_bands: int = 8
    refractory_s: float = 0.05
    refine_before_s: float = 0.03
    refine_after_s: float = 0.02
    preemphasis: float = 0.9
    pre_onset_frames: int = 10          # window starts this many frames before the onset
    sustained_period_s: float = 1.0     # periodic classification of loud sustained sounds
    sustained_margin_db: float = 6.0    # ... when a band stays this far above its floor
    sustained_fraction: float = 0.5     # ... for this share of the period
    duration_margin_db: float = 6.0     # a sound lasts while a band is this far above floor
    rate_limit_impulsive_s: float = 0.25    # min interval between events of one impulsive class
    rate_limit_sustained_s: float = 5.0     # same for the other classes
    # after an impulsive event, for follow_up_s, the same police class is reported from
    # follow_up_threshold, and a sound of its class rising less than follow_up_rise_db over
    # what rings before it is not reported (0 s: both off; see _follows_report)
    follow_up_s: float = 3.0
    follow_up_threshold: float = 0.5
    follow_up_rise_db: float = 6.0
    max_events_per_s: float = 10.0
    floor_window_s: float = 20.0
    floor_percentile: float = 10.0
    buffer_s: float = 4.0               # raw audio and frames kept in RAM
    gap_tolerance_s: float = 0.002      # t0 jitter tolerated before declaring a gap
    clip_level: float = 0.999
    max_batch: int = 32
    head_s: float = 0.2                 # an onset's own sound: this long after it ...
    dominance_db: float = 6.0           # ... must not be this much quieter than the rest
    # a site's own thresholds over the model's, 'gunshot=0.95,explosion=0.98' (soft soak)
    class_thresholds: str = ''

    def onset_config(self) -> OnsetConfig:
        """The onset-stage subset."""
        return OnsetConfig(threshold_db=self.min_snr_db, rise_db=self.onset_rise_db,
                           lag_frames=self.onset_lag_frames, n_bands=self.onset_bands,
                           budget_per_s=self.onset_budget_per_s,
                           budget_window_s=self.onset_budget_window_s,
                           refractory_s=self.refractory_s,
                           refine_before_s=self.refine_before_s,
                           refine_after_s=self.refine_after_s, preemphasis=self.preemphasis)


@dataclass
class Detection:
    """One recognised sound; becomes an AcousticEvent (onset on the capture clock)."""

    onset_ns: int
    class_id: int
    confidence: float
    level_db_spl: float
    noise_floor_db_spl: float
    onset_uncertainty_s: float
    duration_s: float
    sustained: bool


@dataclass(frozen=True)
class WindowVerdict:
    """One classified window, reported or not: what an evaluation needs to say where a
    missed sound was lost (no window at all, or a window the model judged otherwise)."""

    onset_ns: int          # the onset (sustained: the episode start) the window was cut for
    start_ns: int          # the window's span
    end_ns: int
    sustained: bool
    probs: np.ndarray


_RISE_FRAMES = 3    # frames after an onset that measure how loud it rises


@dataclass
class _Pending:
    onset_sample: float
    sigma_s: float
    onset_frame: int
    win_start: int
    sustained: bool
    period_start: int = 0
    episode_start: int = 0


class StreamingDetector:
    """Detector state for one microphone; feed it every block in capture order."""

    def __init__(self, cfg: DetectorConfig, feature_cfg: FeatureConfig,
                 classifier: WindowClassifier,
                 observer: Callable[[WindowVerdict], None] | None = None):
        self.cfg = cfg
        self.observer = observer
        self.fcfg = feature_cfg
        self.classifier = classifier
        model_cfg = getattr(classifier, 'feature_config', None)
        if model_cfg is not None and model_cfg != feature_cfg:
            diffs = '; '.join(f'{k}: model {a}, detector {b}'
                              for k, a, b in model_cfg.mismatches(feature_cfg))
            raise ValueError(f'classifier features do not match the detector: {diffs}')
        self.thresholds = np.asarray(classifier.thresholds, dtype=np.float64)
        if self.thresholds.shape != (taxonomy.NUM_CLASSES,):
            raise ValueError(f'classifier thresholds have shape {self.thresholds.shape}, '
                             f'expected ({taxonomy.NUM_CLASSES},)')
        for cls, value in parse_class_thresholds(cfg.class_thresholds).items():
            self.thresholds[cls] = value
        sr, hop = feature_cfg.sample_rate, feature_cfg.hop_length
        self.sr, self.hop = sr, hop
        frame_rate = feature_cfg.frame_rate
        self.window = feature_cfg.window_frames
        self.period = max(1, int(round(cfg.sustained_period_s * frame_rate)))
        self.head_frames = max(1, int(round(cfg.head_s * frame_rate)))
        cap_frames = int(cfg.buffer_s * frame_rate)
        if cap_frames < self.window + cfg.pre_onset_frames + self.period + 20:
            raise ValueError(f'DetectorConfig.buffer_s = {cfg.buffer_s} s is too short for a '
                             f'{self.window}-frame window plus {cfg.pre_onset_frames} frames')
        self.samples = RingBuffer(int(cfg.buffer_s * sr))
        self.frames = RingBuffer(cap_frames, width=feature_cfg.n_mels)
        self.aux = RingBuffer(cap_frames, width=2)      # level dB SPL, band excess dB
        self.stream = LogMelStream(feature_cfg)
        self.onset_cfg = cfg.onset_config()
        self.onsets = OnsetCandidates(self.onset_cfg, frame_rate)
        self.band_floor = levels.NoiseFloorTracker(frame_rate, cfg.floor_window_s,
                                                   cfg.floor_percentile, width=cfg.onset_bands)
        self.level_floor = levels.NoiseFloorTracker(frame_rate, cfg.floor_window_s,
                                                    cfg.floor_percentile)
        self.clipping = levels.ClippingMeter(int(10 * sr), cfg.clip_level)
        self.impulsive = np.array([c.impulsive for c in taxonomy.CLASSES])
        self.police = np.array([c.police for c in taxonomy.CLASSES])
        self._n = 0                  # absolute index of the next sample
        self._frames_total = 0       # absolute index of the next frame
        self._anchors: deque[tuple[int, int]] = deque()
        self._expected_t0: int | None = None
        self._need_reset = True
        self._last_emit: dict[int, int] = {}
        self._recent: deque[int] = deque()
        self.last_error = ''
        self.counters = {'blocks': 0, 'bad_blocks': 0, 'dropped_frames': 0, 'gaps': 0,
                         'onset_candidates': 0, 'refined_onsets': 0, 'classifier_calls': 0,
                         'classified_windows': 0, 'classifier_errors': 0, 'windows_lost': 0,
                         'rate_limited': 0, 'dominated_onsets': 0, 'onsets_over_budget': 0,
                         'events': 0, 'follow_up_events': 0, 'tails': 0, 'samples': 0}
        self.events_per_class = [0] * taxonomy.NUM_CLASSES
        self._new_segment()

    # ----------------------------------------------------------------------- state

    def _new_segment(self) -> None:
        """Start a clean stream at the current indices (first block, gap, dropped frames)."""
        self.stream.reset()
        self.onsets.reset()
        self._seg_start = self._n
        self._seg_frame0 = self._frames_total
        lost = len(getattr(self, '_pending', []))
        self.counters['windows_lost'] += lost
        self._pending: list[_Pending] = []
        self._to_refine: list[int] = []
        self._next_check = self._seg_frame0 + self.window
        self._episode: int | None = None

    def _frame_sample(self, frame: int) -> int:
        """Absolute sample index where a (global) frame starts."""
        return self._seg_start + (frame - self._seg_frame0) * self.hop

    def time_ns(self, sample: float) -> int:
        """Capture-clock time of an absolute (fractional) sample index."""
        starts = [a[0] for a in self._anchors]
        i = max(0, bisect.bisect_right(starts, sample) - 1)
        s0, t0 = self._anchors[i]
        return t0 + int(round((sample - s0) * NS / self.sr))

    def _reject(self, block: AudioBlock, text: str) -> list[Detection]:
        self.counters['bad_blocks'] += 1
        self.last_error = f'block at t0_ns={block.t0_ns}: {text}; block dropped'
        self._need_reset = True
        return []

    # ------------------------------------------------------------------- processing

    def process(self, block: AudioBlock) -> list[Detection]:
        """Consume one block; return the detections whose window completed."""
        x = np.asarray(block.samples)
        if x.ndim != 1:
            return self._reject(block, f'samples have shape {x.shape}, expected mono 1-D')
        if block.sample_rate != self.sr:
            return self._reject(block, f'sample_rate {block.sample_rate} Hz, the detector '
                                       f'runs at {self.sr} Hz')
        x = x.astype(np.float32, copy=False)
        bad = np.count_nonzero(~np.isfinite(x))
        if bad:
            return self._reject(block, f'{bad} non-finite samples (NaN/inf)')
        self.counters['blocks'] += 1
        self.counters['samples'] += len(x)      # audio heard: a soak's sensor-hours
        if len(x) == 0:
            return []
        cfg = self.cfg
        gap = False
        if block.dropped:
            self.counters['dropped_frames'] += int(block.dropped)
            gap = True
        if self._expected_t0 is not None and \
                abs(block.t0_ns - self._expected_t0) > cfg.gap_tolerance_s * NS:
            gap = True
        if gap or self._need_reset:
            if self._expected_t0 is not None:
                self.counters['gaps'] += 1
            self._new_segment()
            self._need_reset = False
        self._expected_t0 = block.t0_ns + len(x) * NS // self.sr
        self._anchors.append((self._n, block.t0_ns))
        while len(self._anchors) > 1 and self._anchors[1][0] <= self.samples.start_index:
            self._anchors.popleft()
        self.samples.append(x)
        self._n += len(x)
        self.clipping.update(x)

        mel, ms = self.stream.push_with_power(x)
        k = mel.shape[1]
        if k:
            self._add_frames(mel, ms)
        self._refine_ready()
        self._sustained_checks()
        return self._classify_ready()

    def _add_frames(self, mel: np.ndarray, ms: np.ndarray) -> None:
        cfg = self.cfg
        level = levels.spl_from_dbfs(levels.dbfs_from_mean_square(ms), cfg.sensitivity_dbfs)
        band = coarse_band_db(mel, cfg.onset_bands)
        floor = np.asarray(self.band_floor.floor, dtype=np.float32)
        triggers, excess = self.onsets.push(band, floor)
        self.band_floor.update(band.T)
        self.level_floor.update(level)
        self.frames.append(mel.T)
        self.aux.append(np.stack((level, excess), axis=1))
        self._frames_total += mel.shape[1]
        self.counters['onset_candidates'] += len(triggers)
        self.counters['onsets_over_budget'] = self.onsets.dropped
        self._to_refine.extend(self._seg_frame0 + t for t in triggers)

    def _refine_ready(self) -> None:
        cfg, fcfg = self.cfg, self.fcfg
        before = int(cfg.refine_before_s * self.sr)
        after = int(cfg.refine_after_s * self.sr)
        keep = []
        for frame in self._to_refine:
            f0 = self._frame_sample(frame)
            lo = max(self._seg_start, self.samples.start_index, f0 - before)
            hi = f0 + fcfg.win_length + after
            if hi > self._n:
                keep.append(frame)
                continue
            r = refine_onset(self.samples.read(lo, hi), self.sr, cfg.preemphasis)
            if r.ok:
                onset, sigma = lo + r.index, r.sigma_samples / self.sr
                self.counters['refined_onsets'] += 1
            else:
                onset, sigma = f0 + fcfg.win_length / 2, fcfg.win_length / 2 / self.sr
            of = self._seg_frame0 + int((onset - self._seg_start) // self.hop)
            ws = max(self._seg_frame0, of - cfg.pre_onset_frames)
            self._pending.append(_Pending(onset, sigma, of, ws, False))
        self._to_refine = keep

    def _sustained_checks(self) -> None:
        cfg = self.cfg
        while self._next_check <= self._frames_total:
            end = self._next_check
            self._next_check += self.period
            ex = self.aux.read(end - self.period, end)[:, 1]
            above = ex >= cfg.sustained_margin_db
            if np.mean(above) < cfg.sustained_fraction:
                self._episode = None
                continue
            if self._episode is None:
                self._episode = end - self.period + int(np.argmax(above))
            ep = self._episode
            self._pending.append(_Pending(float(self._frame_sample(ep)),
                                          cfg.sustained_period_s / 2, ep,
                                          end - self.window, True, end - self.period, ep))

    def _classify_ready(self) -> list[Detection]:
        ready = [p for p in self._pending if p.win_start + self.window <= self._frames_total]
        if not ready:
            return []
        self._pending = [p for p in self._pending
                         if p.win_start + self.window > self._frames_total]
        onsets = [q for q in ready + self._pending if not q.sustained]
        ready = [p for p in ready if p.sustained or not self._dominated(p, onsets)]
        out: list[Detection] = []
        for i in range(0, len(ready), self.cfg.max_batch):
            chunk = ready[i:i + self.cfg.max_batch]
            batch = np.stack([self.frames.read(p.win_start, p.win_start + self.window).T
                              for p in chunk])
            try:
                probs = self.classifier.predict(batch)
            except Exception as exc:  # noqa: BLE001 - a model failure must not stop sensing
                self.counters['classifier_errors'] += 1
                self.last_error = f'classifier failed on {len(chunk)} windows: {exc}'
                continue
            self.counters['classifier_calls'] += 1
            self.counters['classified_windows'] += len(chunk)
            for p, pr in zip(chunk, probs):
                if self.observer is not None:
                    self.observer(self._verdict(p, pr))
                det = self._decide(p, pr)
                if det is not None:
                    out.append(det)
        out.sort(key=lambda d: d.onset_ns)
        return out

    def _verdict(self, p: _Pending, probs: np.ndarray) -> WindowVerdict:
        start = self._frame_sample(p.win_start)
        end = self._frame_sample(p.win_start + self.window)
        return WindowVerdict(self.time_ns(p.onset_sample), self.time_ns(start),
                             self.time_ns(end), p.sustained, np.asarray(probs).copy())

    def _dominated(self, p: _Pending, onsets: list[_Pending]) -> bool:
        """True when a louder sound later in the window, not this onset, would be classified.

        The window runs a second past the onset, so a noise onset shortly before a gunshot
        would otherwise be labelled gunshot and stamped too early; the louder sound has its
        own onset and window. Within the onset's own head that holds too when this onset's
        sound fell back and another onset then rose far above it: a faint click 0.1 s before
        a shot would be stamped with the shot's label at its own time, and the shot's onset
        then lost to the rate limit.
        """
        rel = max(0, p.onset_frame - p.win_start)
        head = rel + self.head_frames
        if head >= self.window:
            return False
        level = self.aux.read(p.win_start, p.win_start + self.window)[:, 0]
        margin = self.cfg.dominance_db
        own = level[rel:rel + _RISE_FRAMES].max()

        def precursor_of(q: _Pending) -> bool:
            # This onset's sound fell back before q rose far above it; a blast's slow rise
            # makes onsets that each rise over the last, and its first is still its onset.
            k = q.onset_frame - p.win_start
            return (rel + _RISE_FRAMES < k < head
                    and level[k:k + _RISE_FRAMES].max() > own + margin
                    and level[rel + _RISE_FRAMES:k].min() < own - margin)

        dominated = level[head:].max() > level[rel:head].max() + margin \
            or any(precursor_of(q) for q in onsets)
        if dominated:
            self.counters['dominated_onsets'] += 1
        return dominated

    def _decide(self, p: _Pending, probs: np.ndarray) -> Detection | None:
        cfg = self.cfg
        cls = int(np.argmax(probs))
        conf = float(probs[cls])
        if cls == taxonomy.BACKGROUND:
            return None
        if p.sustained and self.impulsive[cls]:
            return None          # impulsive sounds are reported from their onsets
        win_end = p.win_start + self.window
        ref_ns = self.time_ns(self._frame_sample(win_end) if p.sustained else p.onset_sample)
        follow_up = not p.sustained and self._follows_report(cls, ref_ns)
        threshold = min(self.thresholds[cls], cfg.follow_up_threshold) \
            if follow_up and self.police[cls] else self.thresholds[cls]
        if not conf >= threshold:
            return None
        # levels only for a window that may be reported: most windows stop above
        aux = self.aux.read(p.win_start, win_end)
        if p.sustained:
            duration = (win_end - p.episode_start) * self.hop / self.sr
            level = float(aux[p.period_start - p.win_start:, 0].max())
        else:
            rel = max(0, p.onset_frame - p.win_start)
            n = self._run_length(aux[rel:, 1], cfg.duration_margin_db)
            duration = n * self.hop / self.sr
            level = float(aux[rel:rel + n + 3, 0].max())
        interval = cfg.rate_limit_impulsive_s if self.impulsive[cls] else \
            cfg.rate_limit_sustained_s
        last = self._last_emit.get(cls)
        if last is not None and ref_ns - last < interval * NS:
            self.counters['rate_limited'] += 1
            return None
        while self._recent and ref_ns - self._recent[0] >= NS:
            self._recent.popleft()
        if len(self._recent) >= cfg.max_events_per_s:
            self.counters['rate_limited'] += 1
            return None
        if follow_up and rel > 0 and \
                level < float(np.median(aux[:rel, 0])) + cfg.follow_up_rise_db:
            self.counters['tails'] += 1
            return None
        self._recent.append(ref_ns)
        self._last_emit[cls] = ref_ns
        self.counters['events'] += 1
        if conf < self.thresholds[cls]:
            self.counters['follow_up_events'] += 1
        self.events_per_class[cls] += 1
        return Detection(onset_ns=self.time_ns(p.onset_sample), class_id=cls, confidence=conf,
                         level_db_spl=level, noise_floor_db_spl=self.noise_floor_db_spl,
                         onset_uncertainty_s=float(p.sigma_s), duration_s=float(duration),
                         sustained=p.sustained)

    def _follows_report(self, cls: int, onset_ns: int) -> bool:
        """Whether this onset comes within ``follow_up_s`` of a report of its impulsive class.

        Shots come in volleys, firecrackers in strings: the sound just reported makes its
        class far likelier for the next seconds than the false-alarm budget assumes, and the
        later shots are the ones a model hears worst (their windows carry the earlier shot's
        reverberation). So in that span a window whose most likely class is the same police
        class (each shot is an incident to locate; a firecracker string's every bang is not)
        is reported from ``follow_up_threshold`` (0.5: likelier than all other classes
        together); an isolated window, the false-alarm budget's case, still needs the class
        threshold. A blast's rumble is the same class too, and swells in it make onsets:
        each one reported makes the centre locate the blast again elsewhere. A new shot rises
        far over what still rings before it, a swell hardly does, so in that span a sound
        less than ``follow_up_rise_db`` over its own pre-onset level is not reported. Levels
        are no guide beyond that: the shots of one volley reach a sensor up to 20-30 dB
        apart as the muzzle turns.
        """
        last = self._last_emit.get(cls)
        return bool(self.impulsive[cls] and self.cfg.follow_up_s > 0 and last is not None
                    and 0 <= onset_ns - last <= self.cfg.follow_up_s * NS)

    @staticmethod
    def _run_length(excess: np.ndarray, margin: float, hangover: int = 5) -> int:
        """Frames from the start until the excess stays below margin for ``hangover`` frames."""
        below = excess < margin
        if len(below) < hangover:
            return len(below)
        quiet = np.convolve(below.astype(np.int32), np.ones(hangover, np.int32), 'valid')
        idx = np.flatnonzero(quiet == hangover)
        return int(idx[0]) if len(idx) else len(below)

    # ------------------------------------------------------------------ diagnostics

    @property
    def noise_floor_db_spl(self) -> float:
        """Broadband noise floor, dB SPL (nan before the first 0.1 s)."""
        return float(self.level_floor.floor)

    @property
    def heard_s(self) -> float:
        """Audio this detector has accepted, s: a soak's sensor-hours."""
        return self.counters['samples'] / self.sr

    def diagnostics(self) -> dict[str, str]:
        """Health figures (strings, for diagnostic_msgs); no timing, the detector has no clock."""
        d = {'noise_floor_db_spl': f'{self.noise_floor_db_spl:.1f}',
             'clipping_ratio': f'{self.clipping.ratio:.6f}',
             'last_error': self.last_error}
        d.update({k: str(v) for k, v in self.counters.items()})
        d['heard_s'] = f'{self.heard_s:.3f}'
        for c in taxonomy.CLASSES[1:]:
            d[f'events.{c.name}'] = str(self.events_per_class[c.id])
        return d
