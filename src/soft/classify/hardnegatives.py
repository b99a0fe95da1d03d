"""Hard negatives: the windows the deployed detector opens on REAL background recordings.

Generated street background teaches the model little about rain on a roof, a helicopter or
a crowd: through the real detector those raise onsets (and sustained re-classifications)
whose windows the model had never been told are background. So the training-split real
background clips are played through a :class:`~soft.audio.detector.StreamingDetector`
configured as the sensors are, positioned exactly as a sensor positions windows, in three
ways: each clip alone over a bed of its own floor (as the clip-level evaluation plays it),
all clips joined into long streams (as the false-alarm estimate does), and those streams
mixed with generated street background at several gains. Every window the detector submits
becomes a label-0 training window. Validation-split clips must never be passed in.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from soft.audio.features import FeatureConfig
from soft.classify import taxonomy
from soft.classify.dataset import ClipRecord
from soft.classify.featureset import FeatureSet, WindowRecorder, bandlimited
from soft.classify.mixing import MixConfig

# level of the generated street relative to the real stream (dB); None: the real stream alone
STREET_GAINS_DB: tuple[float | None, ...] = (None, -10.0, 0.0, 6.0)
# digital gains applied to the real audio, so quieter and louder sensors are covered
CLIP_GAINS_DB: tuple[float, ...] = (0.0, -12.0, 8.0)
# with street levels (soft train --street-negatives): each play of a clip or stream at a
# level drawn from this range (dB SPL) through a microphone of a drawn sensitivity (dBFS)
STREET_SPL_DB = (45.0, 80.0)
MIC_SENSITIVITY_DBFS = MixConfig().sensitivity_dbfs      # the training mixtures' microphones
BLOCK_S = 0.1
# a dog or a crowd opens a window every few tenths of a second: at most this many windows of
# one clip per gain, so a few busy clips do not crowd out the rest
MAX_PER_CLIP = 8


@dataclasses.dataclass(frozen=True)
class CheckSet:
    """Detector windows on held-out real background, for the thresholds' false alarms.

    ``sustained`` marks the windows the detector cut to re-classify a sound that goes on: it
    reports no impulsive class from those (:func:`soft.classify.calibrate.reportable`), so a
    threshold check that counted them would charge a class false alarms no sensor raises.
    """

    windows: FeatureSet
    hours: float
    sustained: np.ndarray

    @staticmethod
    def concat(parts: Sequence['CheckSet']) -> 'CheckSet':
        """One check over several plays of the background (e.g. at two levels): the
        thresholds must keep the false-alarm budget over all of them together."""
        if len(parts) == 1:
            return parts[0]
        return CheckSet(FeatureSet.concat([p.windows for p in parts]),
                        sum(p.hours for p in parts),
                        np.concatenate([p.sustained for p in parts]))


def recordings_check_set(paths: Sequence, fcfg: FeatureConfig,
                         log=lambda _: None) -> tuple[CheckSet, dict]:
    """Detector windows on long event-free recordings (a site's own), for the threshold check.

    Hours of a real street are what a false-alarm budget per sensor-hour should be checked
    on; each recording is streamed from disk through the deployed detector, as
    ``soft evaluate --streams`` plays it, and every window it submits is kept (about 80 MB
    an hour). Returns the check and an account of the files (hours, failures).
    """
    from soft.evaluation.clip_eval import deployed_detector_config
    from soft.evaluation.recordings import stream_recording

    cfg, _ = deployed_detector_config()
    xs, sus, names, seconds, files, failed = [], [], [], 0.0, [], []
    for path in paths:
        rec = WindowRecorder(fcfg)
        run = stream_recording(path, rec, cfg, observer=rec.observe)
        w, s = _recorded(rec, fcfg)
        xs.append(w)
        sus.append(s)
        names.extend([f'recording:{path}'] * len(w))
        seconds += run.seconds
        files.append({'path': str(path), 'hours': run.seconds / 3600.0, 'windows': len(w)})
        if run.error:
            failed.append([str(path), run.error])
        log(f'threshold check recording {path}: {run.seconds / 3600:.2f} h, '
            f'{len(w)} windows' + (f' (stopped: {run.error})' if run.error else ''))
    check = _check_set(xs, sus, names, seconds / 3600.0, fcfg, 'recording')
    return check, {'recordings': len(files), 'hours': check.hours,
                   'windows': len(check.windows),
                   'sustained_windows': int(check.sustained.sum()), 'files': files,
                   'failed': failed}


def _check_set(xs: list[np.ndarray], sus: list[np.ndarray], names: list[str], hours: float,
               fcfg: FeatureConfig, origin: str) -> CheckSet:
    """Label-0 check windows from per-play window stacks (possibly empty)."""
    x = np.concatenate(xs) if xs else np.zeros((0, fcfg.n_mels, fcfg.window_frames),
                                               dtype=np.float16)
    n = len(x)
    return CheckSet(FeatureSet(x, np.zeros(n, dtype=np.int64), np.full(n, origin, dtype='U10'),
                               np.asarray(names, dtype='U120')), hours,
                    np.concatenate(sus) if sus else np.zeros(0, dtype=bool))


def _require_background(clips: Sequence[tuple[ClipRecord, np.ndarray]], why: str) -> None:
    for rec, _ in clips:
        if rec.class_id != taxonomy.BACKGROUND:
            raise ValueError(f'{rec.path}: label {rec.label!r} is not background; {why}')


def deployed_windows(stream_fs: np.ndarray, fcfg: FeatureConfig, budget: bool = True
                     ) -> np.ndarray:
    """Every window a sensor's detector (deployed configuration) classifies in a stream.

    ``budget=False`` lifts the onset budget: every onset's window, the most a detector could
    submit, which is what training wants (more hard negatives); threshold checks keep it, so
    the false alarms they count are the deployed detector's.
    """
    return _deployed_windows(stream_fs, fcfg, budget)[0]


def _deployed_windows(stream_fs: np.ndarray, fcfg: FeatureConfig, budget: bool = True
                      ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`deployed_windows` and, per window, whether it was a sustained one."""
    from soft.evaluation.clip_eval import deployed_detector_config, run_stream

    cfg, _ = deployed_detector_config()
    if not budget:
        cfg = dataclasses.replace(cfg, onset_budget_per_s=0.0)
    rec = WindowRecorder(fcfg)
    x = np.clip(np.asarray(stream_fs, dtype=np.float32), -1.0, 1.0)
    run_stream(x, rec, cfg, fcfg.sample_rate, BLOCK_S, observer=rec.observe)
    return _recorded(rec, fcfg)


def _recorded(rec: WindowRecorder, fcfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """The windows a recorder kept and, per window, whether it was a sustained one."""
    if not rec.windows:
        return (np.zeros((0, fcfg.n_mels, fcfg.window_frames), dtype=np.float16),
                np.zeros(0, dtype=bool))
    if len(rec.sustained) != len(rec.windows):
        raise RuntimeError(f'detector observer saw {len(rec.sustained)} windows, the '
                           f'classifier {len(rec.windows)}')
    return np.stack(rec.windows), np.asarray(rec.sustained, dtype=bool)


def _street_gain(x: np.ndarray, rng: np.random.Generator, sr: int,
                 spl_db: tuple[float, float]) -> float:
    from soft.evaluation import mixtures as mx

    return mx.street_gain(x, float(rng.uniform(*spl_db)), sr,
                          float(rng.uniform(*MIC_SENSITIVITY_DBFS)))


def real_background_set(clips: Sequence[tuple[ClipRecord, np.ndarray]],
                        rng: np.random.Generator, fcfg: FeatureConfig,
                        stream_s: float = 120.0, bandlimit: float = 0.0,
                        bandlimit_hz: tuple[float, float] = (3400.0, 7200.0),
                        street_spl: tuple[float, float] | None = None) -> FeatureSet:
    """Label-0 windows from the detector run over real background clips (training split).

    ``street_spl``: every clip and stream is played at a level drawn from this range (dB SPL)
    through a microphone of drawn sensitivity, as a sensor hears a street, instead of at the
    recording's own level and fixed gains from it. Recordings of rain or surf sit at -15 to
    -25 dBFS, a 110 dB street on a sensor, while the events are trained at street levels: a
    model then learns that loud means background (soft-cnn-1.4.1 did).

    ``bandlimit``: share of the streams low-passed (``featureset.bandlimited``) before the
    detector hears them, as a band-limited recording or sensor would be. A recipe that
    band-limits real events must band-limit the real background as often, or the model learns
    that a missing top band means an event.

    Raises ValueError if a clip is not labelled background: a hard negative that is really
    an event would teach the model to miss it.
    """
    from soft.evaluation import clip_eval
    from soft.evaluation import mixtures as mx
    from soft.sim.background import PROFILES

    sr = fcfg.sample_rate
    _require_background(clips, 'only background clips can be hard negatives')
    xs: list[np.ndarray] = []
    names: list[str] = []

    def add(stream: np.ndarray, name: str, cap: int | None = None) -> None:
        narrow = bandlimited(stream, rng, sr, bandlimit_hz, bandlimit)
        if narrow is not stream:
            stream, name = narrow.astype(np.float32), name + ' band-limited'
        w = deployed_windows(stream, fcfg, budget=False)
        if cap is not None and len(w) > cap:
            w = w[np.sort(rng.choice(len(w), cap, replace=False))]
        xs.append(w)
        names.extend([name] * len(w))

    # 1. each clip alone, as the clip-level evaluation plays it, at several digital gains
    tail_s = 1.5
    for rec, x in clips:
        for g in CLIP_GAINS_DB:
            gain = 10 ** (g / 20) if street_spl is None else \
                _street_gain(np.asarray(x), rng, sr, street_spl)
            stream, _ = clip_eval.embed(np.asarray(x, np.float32) * gain, sr, rng, tail_s)
            add(stream, f'clip:{rec.label}', MAX_PER_CLIP)
    # 2. joined streams of every clip, alone and over generated street at several gains
    audio = [np.asarray(x, np.float32) for _, x in clips]
    profiles = sorted(PROFILES)
    for k, street_db in enumerate(STREET_GAINS_DB):
        joined = mx.background_stream(audio, sr, rng)
        if street_spl is None:
            joined = joined * 10 ** (float(rng.uniform(-10.0, 6.0)) / 20)
        step = int(stream_s * sr)
        for i in range(0, joined.size, step):
            part = joined[i:i + step]
            if part.size < sr:
                continue
            if street_spl is not None:
                part = part * _street_gain(part, rng, sr, street_spl)
            if street_db is not None:
                street = mx.traffic(part.size / sr + 0.1, profiles[(k + i) % len(profiles)],
                                    int(rng.integers(2 ** 31)), sr)[:part.size]
                gain = mx.rms(part) / max(mx.rms(street), 1e-12) * 10 ** (street_db / 20)
                part = part + gain * street
            add(part, 'stream' if street_db is None else f'stream+street{street_db:+g}dB')
    x = np.concatenate(xs) if xs else np.zeros((0, fcfg.n_mels, fcfg.window_frames),
                                               dtype=np.float16)
    n = len(x)
    return FeatureSet(x, np.zeros(n, dtype=np.int64), np.full(n, 'hardneg', dtype='U10'),
                      np.asarray(names, dtype='U120'))


def calibration_set(clips: Sequence[tuple[ClipRecord, np.ndarray]],
                    rng: np.random.Generator, fcfg: FeatureConfig,
                    street_spl: tuple[float, float] | None = None) -> CheckSet:
    """Detector windows on held-out real background clips, and the hours of audio played.

    The false-alarm budget of the shipped thresholds is checked on these: clips the model
    never trained on, played the two ways ``soft evaluate`` plays background (each clip alone
    over its own floor, and all clips joined into one stream), so a threshold that passes here
    faces real rain, dogs and crowds it has not memorised. ``street_spl``: each clip and
    each two minutes of the stream at a drawn street level, as for the hard negatives.
    """
    from soft.evaluation import clip_eval
    from soft.evaluation import mixtures as mx

    sr = fcfg.sample_rate
    _require_background(clips, 'a calibration clip must be background')
    xs, names, sus, samples = [], [], [], 0
    for rec, x in clips:
        gain = 1.0 if street_spl is None else _street_gain(np.asarray(x), rng, sr, street_spl)
        stream, _ = clip_eval.embed(np.asarray(x, np.float32) * gain, sr, rng, 1.5)
        w, s = _deployed_windows(stream, fcfg)
        xs.append(w)
        sus.append(s)
        names.extend([f'clip:{rec.path}'] * len(w))
        samples += stream.size
    joined = mx.background_stream([np.asarray(x, np.float32) for _, x in clips], sr, rng)
    if joined.size:
        if street_spl is not None:
            step = int(120.0 * sr)
            joined = np.concatenate([
                joined[i:i + step] * _street_gain(joined[i:i + step], rng, sr, street_spl)
                for i in range(0, joined.size, step)]).astype(np.float32)
        w, s = _deployed_windows(joined, fcfg)
        xs.append(w)
        sus.append(s)
        names.extend(['stream'] * len(w))
        samples += joined.size
    return _check_set(xs, sus, names, samples / sr / 3600.0, fcfg, 'calib')
