"""Real-time factor of the streaming detector for one sensor on one core.

10 minutes of urban-like noise (pink + white) with a sparse event every ~7 s (impulses, ringing
tones, a few sustained sounds), fed in 0.1 s blocks to the full detector: features, onsets,
refinement, noise floors and the classifier (models/soft_classifier.onnx when present,
otherwise a random small CNN of realistic cost). The features-only pass over the same audio is
the baseline measured in the same run. Prints figures, writes bench/results/detector.json.
Target: RTF <= 0.01 per sensor (goal 0.003).
"""
from __future__ import annotations

import os

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_var, '1')

import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'src'))
sys.path.insert(0, str(ROOT / 'test'))

from soft.audio.detector import DetectorConfig, StreamingDetector  # noqa: E402
from soft.audio.drivers import NS, AudioBlock  # noqa: E402
from soft.audio.features import FeatureConfig, LogMelStream  # noqa: E402
from soft.classify.inference import Classifier  # noqa: E402

SR = 16000
SECONDS = float(os.environ.get('SOFT_BENCH_SECONDS', '600'))


def scene(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    white = rng.standard_normal(n).astype(np.float32)
    spec = np.fft.rfft(rng.standard_normal(n))
    k = np.arange(len(spec), dtype=np.float64)
    k[0] = 1.0
    pink = np.fft.irfft(spec / np.sqrt(k), n).astype(np.float32)
    x = 0.004 * white + 0.02 * pink / np.std(pink)
    t_ev = 2.0
    kinds = 0
    while t_ev < seconds - 3:
        i = int(t_ev * SR)
        kind = kinds % 4
        if kind == 0:       # impulse
            m = int(0.05 * SR)
            x[i:i + m] += 0.3 * np.exp(-np.arange(m) / (0.005 * SR)) * rng.standard_normal(m)
        elif kind == 1:     # ringing tones
            m = int(0.3 * SR)
            t = np.arange(m) / SR
            x[i:i + m] += 0.1 * np.exp(-t / 0.05) * np.sin(2 * np.pi * 3700 * t)
        elif kind == 2:     # horn, 0.8 s
            m = int(0.8 * SR)
            t = np.arange(m) / SR
            x[i:i + m] += 0.05 * np.sign(np.sin(2 * np.pi * 420 * t))
        else:               # siren, 4 s
            m = int(4.0 * SR)
            t = np.arange(m) / SR
            f = 700 + 300 * np.sin(2 * np.pi * 0.5 * t)
            x[i:i + m] += 0.05 * np.sin(2 * np.pi * np.cumsum(f) / SR)
        kinds += 1
        t_ev += 5.0 + rng.uniform(0, 4)
    return x.astype(np.float32)


def main() -> None:
    cfg = FeatureConfig()
    shipped = ROOT / 'models' / 'soft_classifier.onnx'
    with tempfile.TemporaryDirectory() as tmp:
        if shipped.is_file():
            model_path, model_kind = shipped, 'shipped soft_classifier.onnx'
        else:
            from onnx_fixtures import make_cnn_model
            thresholds = [0.0] + [0.05] * 12      # let random outputs through: worst case
            model_path = make_cnn_model(Path(tmp) / 'cnn.onnx', cfg, thresholds=thresholds)
            model_kind = 'random CNN 16-32-64 (3x3 conv, 2x2 pool) x3'
        clf = Classifier(model_path, expected=cfg, threads=1)
        x = scene(SECONDS)
        block = SR // 10

        tic = time.perf_counter()
        stream = LogMelStream(cfg)
        for i in range(0, len(x), block):
            stream.push_with_power(x[i:i + block])
        t_feat = time.perf_counter() - tic

        batch = np.random.default_rng(1).standard_normal((1, cfg.n_mels, cfg.window_frames))
        clf.predict(batch.astype(np.float32))
        tic = time.perf_counter()
        for _ in range(50):
            clf.predict(batch.astype(np.float32))
        t_one = (time.perf_counter() - tic) / 50

        det = StreamingDetector(DetectorConfig(), cfg, clf)
        events = 0
        tic = time.perf_counter()
        for i in range(0, len(x), block):
            events += len(det.process(AudioBlock(x[i:i + block], i * NS // SR, SR)))
        t_det = time.perf_counter() - tic
    diag = det.diagnostics()
    res = {
        'audio_s': SECONDS, 'block_s': 0.1, 'model': model_kind,
        'features_rtf': t_feat / SECONDS,
        'detector_rtf': t_det / SECONDS,
        'detector_over_features': t_det / t_feat,
        'classifier_ms_per_window': t_one * 1e3,
        'classifier_calls': int(diag['classifier_calls']),
        'classified_windows': int(diag['classified_windows']),
        'onset_candidates': int(diag['onset_candidates']),
        'events': events,
        'sensors_per_core_realtime': 1.0 / (t_det / SECONDS),
        'seconds_for_50_sensors_x_600s': 50 * 600 * t_det / SECONDS,
        'target_rtf': 0.01, 'goal_rtf': 0.003,
        'python': platform.python_version(), 'machine': platform.machine(),
    }
    for key, value in res.items():
        print(f'{key:32s} {value:.5g}' if isinstance(value, float) else f'{key:32s} {value}')
    out = ROOT / 'bench' / 'results' / 'detector.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + '\n')
    print(f'written {out}')


if __name__ == '__main__':
    main()
