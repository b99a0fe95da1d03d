"""Clip-level evaluation with the deployed streaming detector, not the bare classifier.

A sensor never sees a clip: it sees a stream, finds onsets against a tracked noise floor and
classifies the windows those onsets open. So each clip is played through a fresh
:class:`~soft.audio.detector.StreamingDetector` configured as the sensors are
(``config/params/sensor.yaml``, else the sensor component's defaults) in 0.1 s blocks, and
the clip's prediction is the class of its most confident detection (background if none).

Lead-in: the detector's floor tracker needs a few tenths of a second of audio before it can
see an onset, and a clip often starts on its event. Each clip is therefore embedded in noise
with the clip's own noise-floor spectrum (:func:`floor_bed`: per frequency bin, the 10th
percentile of the clip's STFT power over time): ``LEAD_S`` seconds before it, long enough
after it for the window of an event at its very end to complete, and under it (adding at
most 3 dB to the clip's own floor). Matching the spectrum matters: a street-traffic bed
under a rain clip would make the clip's start an onset in the high bands that a sensor
listening to the rain all along would never see. Detections in the lead-in are counted
apart, never credited to the clip.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from soft.audio.detector import SENSOR_PARAMS, DetectorConfig, Detection, StreamingDetector, \
    parse_class_thresholds
from soft.audio.drivers import NS, AudioBlock
from soft.classify import taxonomy
from soft.evaluation.intervals import wilson

LEAD_S = 3.0
BLOCK_S = 0.1
FLOOR_PERCENTILE = 10.0
FLOOR_MIN_DB = -60.0        # bed never more than this under the clip's loudest 100 ms
ONSET_TOLERANCE_S = 0.05    # a refined onset may land this much before the clip start


def deployed_sensor_params() -> tuple[dict, str]:
    """The detector parameters a deployed sensor runs with (config/params/sensor.yaml over
    the component's defaults), and where they came from: ``soft evaluate`` and ``soft run``
    must hear as the ROS graph does."""
    from soft.graph.sensor_node import SensorComponent

    keys = SENSOR_PARAMS + ('class_thresholds',)
    defaults = {p.name: p.default for p in SensorComponent.params}
    values = {key: defaults[key] for key in keys}
    source = 'soft.graph.sensor_node.SensorComponent defaults'
    try:
        import yaml
        from soft.paths import config_dir

        path = config_dir() / 'params' / 'sensor.yaml'
        data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
        params = next(iter(data.values())).get('ros__parameters', {})
        values.update({key: params[key] for key in keys if key in params})
        source = f'{path} over the component defaults'
    except (FileNotFoundError, OSError, StopIteration, AttributeError, ValueError):
        pass
    values = {**{key: float(values[key]) for key in SENSOR_PARAMS},
              'class_thresholds': str(values['class_thresholds'] or '')}
    parse_class_thresholds(values['class_thresholds'])      # a bad entry fails here, named
    return values, source


def deployed_detector_config() -> tuple[DetectorConfig, dict]:
    """The DetectorConfig a sensor runs with, and where its values came from."""
    values, source = deployed_sensor_params()
    cfg = DetectorConfig(**values)
    return cfg, {'source': source, **{key: getattr(cfg, key) for key in SENSOR_PARAMS},
                 **({'class_thresholds': cfg.class_thresholds} if cfg.class_thresholds
                    else {})}


def run_stream(x: np.ndarray, classifier, cfg: DetectorConfig, sample_rate: int,
               block_s: float = BLOCK_S, observer=None) -> tuple[list[Detection], dict]:
    """Feed ``x`` to a fresh detector in blocks; detections with onsets in stream seconds.

    Returns the detections (``onset_ns`` counted from the first sample) and the detector's
    diagnostics; ``observer`` sees every classified window (:class:`WindowVerdict`).
    """
    det = StreamingDetector(cfg, classifier.feature_config, classifier, observer)
    block = max(1, int(round(block_s * sample_rate)))
    out: list[Detection] = []
    for i in range(0, len(x), block):
        out += det.process(AudioBlock(x[i:i + block], i * NS // sample_rate, sample_rate))
    return out, det.diagnostics()


def floor_bed(x: np.ndarray, n: int, rng: np.random.Generator, n_fft: int = 512
              ) -> np.ndarray:
    """``n`` samples of noise with the clip's own noise-floor spectrum and level.

    Shape: per STFT bin, the 10th percentile of its power over the clip's frames (frames of
    digital silence, 80 dB under the loudest, are ignored); white noise is shaped to it in
    the frequency domain. Level: the 10th percentile of the frames' mean square, never under
    60 dB below the loudest frame, so a zero-padded clip still sits in a microphone's noise.
    """
    x = np.asarray(x, dtype=np.float64)
    hop = n_fft // 2
    k = max(1, (x.size - n_fft) // hop + 1)
    idx = np.arange(n_fft)[None, :] + hop * np.arange(k)[:, None]
    frames = np.pad(x, (0, max(0, n_fft - x.size)))[idx]
    power = np.mean(frames ** 2, axis=1)
    live = power > power.max() * 10 ** (-80 / 10)
    spectra = np.abs(np.fft.rfft(frames[live] * np.hanning(n_fft), axis=1)) ** 2
    psd = np.percentile(spectra, FLOOR_PERCENTILE, axis=0) + 1e-30
    level = max(float(np.percentile(power[live], FLOOR_PERCENTILE)),
                float(power.max()) * 10 ** (FLOOR_MIN_DB / 10))
    spec = np.fft.rfft(rng.standard_normal(n))
    spec *= np.sqrt(np.interp(np.linspace(0, 1, spec.size), np.linspace(0, 1, psd.size), psd))
    bed = np.fft.irfft(spec, n)
    bed *= np.sqrt(level / max(float(np.mean(bed ** 2)), 1e-30))
    return bed.astype(np.float32)


def embed(x: np.ndarray, sample_rate: int, rng: np.random.Generator, tail_s: float,
          lead_s: float = LEAD_S) -> tuple[np.ndarray, int]:
    """The clip over a bed of its own floor, starting ``lead_s`` into the stream."""
    lead, tail = int(lead_s * sample_rate), int(tail_s * sample_rate)
    out = floor_bed(x, lead + x.size + tail, rng)
    out[lead:lead + x.size] += x
    return out, lead


@dataclass
class ClipResult:
    """What the detector made of one clip."""

    path: str
    label: str
    true_id: int
    pred_id: int
    confidence: float
    events: int
    lead_in_events: int
    classes: list[int]


def evaluate_clip(x: np.ndarray, classifier, cfg: DetectorConfig, sr: int,
                  rng: np.random.Generator) -> tuple[int, float, int, int, list[int]]:
    """(predicted class, confidence, detections in the clip, in the lead-in, their classes)."""
    fcfg = classifier.feature_config
    tail_s = (fcfg.window_frames + cfg.pre_onset_frames) * fcfg.hop_length / sr + \
        cfg.sustained_period_s + 0.2
    stream, lead = embed(x, sr, rng, tail_s)
    dets, _ = run_stream(stream, classifier, cfg, sr)
    t_start = lead / sr - ONSET_TOLERANCE_S
    t_end = (lead + x.size) / sr
    inside = [d for d in dets if t_start <= d.onset_ns / NS <= t_end]
    before = sum(1 for d in dets if d.onset_ns / NS < t_start)
    if not inside:
        return taxonomy.BACKGROUND, 0.0, 0, before, []
    best = max(inside, key=lambda d: d.confidence)
    return best.class_id, float(best.confidence), len(inside), before, \
        sorted({d.class_id for d in inside})


def at_street_level(x: np.ndarray, spl_db: float, sample_rate: int,
                    sensitivity_dbfs: float) -> np.ndarray:
    """The clip with its typical second (median one-second RMS) at ``spl_db`` on a sensor.

    The same rule as the street-level mixtures' backgrounds and the hard negatives, applied
    to every clip whatever its label, so the level says nothing about the label: a clip
    whose event is short (a shot) has its own background at the street's level and the
    event at its recorded ratio above it; a clip the event fills (a siren) has the event at
    that level. Scaled down if its peak would clip, as the mixtures are.
    """
    from soft.evaluation import mixtures as mx

    x = np.asarray(x, dtype=np.float64)
    return (x * mx.unclipped_street_gain(x, x, spl_db, sample_rate, sensitivity_dbfs)
            ).astype(np.float32)


def evaluate_clips(clips: Sequence[tuple[object, np.ndarray]], classifier,
                   cfg: DetectorConfig, seed: int = 0,
                   street_spl: tuple[float, float] | None = None) -> list[ClipResult]:
    """Run every (clip, samples) pair; clips without a single class (-1) are left out.

    ``street_spl``: each clip first set to a level drawn from this range (dB SPL) on the
    sensors' microphone (:func:`at_street_level`); the draws do not depend on the model, so
    two reports with the same seed pair clip by clip.
    """
    out = []
    sr = classifier.feature_config.sample_rate
    for k, (clip, x) in enumerate(clips):
        if clip.class_id < 0:
            continue
        rng = np.random.default_rng([seed, 11, k])
        if street_spl is not None:
            spl = float(np.random.default_rng([seed, 12, k]).uniform(*street_spl))
            x = at_street_level(x, spl, sr, cfg.sensitivity_dbfs)
        pred, conf, n, before, classes = evaluate_clip(x, classifier, cfg, sr, rng)
        out.append(ClipResult(str(Path(clip.path)), clip.label, int(clip.class_id), pred,
                              conf, n, before, classes))
    return out


def clip_metrics(results: list[ClipResult]) -> dict:
    """:func:`classification_metrics` of the results, with the per-clip rows that let
    ``soft compare`` pair two reports clip by clip."""
    m = classification_metrics([r.true_id for r in results], [r.pred_id for r in results])
    m['clips_detail'] = results_table(results)
    return m


def classification_metrics(true: Sequence[int], pred: Sequence[int],
                           n_classes: int = taxonomy.NUM_CLASSES) -> dict:
    """Per-class precision/recall/F1/support, confusion matrix (rows true), macro F1.

    Also the police view: a police-class clip raising any police alert, and a non-police
    clip raising one (a false police alert).
    """
    true = np.asarray(true, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    conf = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(conf, (true, pred), 1)
    per_class = {}
    f1s = []
    for c in taxonomy.CLASSES[:n_classes]:
        tp = int(conf[c.id, c.id])
        support, predicted = int(conf[c.id].sum()), int(conf[:, c.id].sum())
        p = tp / predicted if predicted else float('nan')
        r = tp / support if support else float('nan')
        f1 = 2 * tp / (support + predicted) if support + predicted else float('nan')
        per_class[c.name] = {'precision': p, 'recall': r, 'f1': f1, 'support': support,
                             'predicted': predicted,
                             'precision_ci95': list(wilson(tp, predicted)),
                             'recall_ci95': list(wilson(tp, support))}
        if support:
            f1s.append(f1)
    police = np.array([taxonomy.by_id(int(i)).police for i in range(n_classes)])
    is_police, says_police = police[true], police[pred]
    return {
        'clips': int(true.size),
        'accuracy': float(np.mean(true == pred)) if true.size else float('nan'),
        'macro_f1': float(np.mean(f1s)) if f1s else float('nan'),
        'per_class': per_class,
        'confusion': {'classes': [c.name for c in taxonomy.CLASSES[:n_classes]],
                      'rows_true_columns_predicted': conf.tolist()},
        'police_alert': {
            'police_clips': int(is_police.sum()),
            'alerted': float(np.mean(says_police[is_police])) if is_police.any()
            else float('nan'),
            'other_clips': int((~is_police).sum()),
            'false_alert_rate': float(np.mean(says_police[~is_police])) if (~is_police).any()
            else float('nan'),
        },
    }


def results_table(results: list[ClipResult]) -> list[dict]:
    """Per-clip rows for the JSON report (paths and labels only, never audio)."""
    return [asdict(r) for r in results]
