"""Benchmark: what the shipped classifier costs on one core, per window and per second of audio.

The sensor classifies a window at each onset and once a second while a loud sound lasts, so
"per second of audio" is given at one window per second (the sustained rate) and at two (a
busy street: a 0.5 s hop over every window, the false-alarm estimate's upper bound). MACs are
counted from the ONNX graph's Conv and Gemm nodes. Writes bench/results/classifier.json.
Usage:

    PYTHONPATH=src python3 bench/bench_classifier.py [--model models/soft_classifier.onnx]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def count_macs(path: Path, n_mels: int, frames: int) -> tuple[int, int]:
    """(multiply-accumulates for one window, parameters) from the ONNX graph's shapes."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = onnx.load(str(path))
    inp = model.graph.input[0].type.tensor_type.shape.dim
    inp[0].dim_value = 1
    model = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(model.graph.value_info) + list(model.graph.output)}
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    params = int(sum(a.size for a in inits.values()))
    macs = 0
    for node in model.graph.node:
        if node.op_type == 'Conv':
            w = inits[node.input[1]]
            out = shapes.get(node.output[0])
            if out:
                macs += int(np.prod(out[1:])) * int(np.prod(w.shape[1:]))
        elif node.op_type in ('Gemm', 'MatMul') and node.input[1] in inits:
            macs += int(inits[node.input[1]].size)
    return macs, params


def main() -> None:
    from soft.audio.features import FeatureConfig
    from soft.classify.inference import Classifier
    from soft.paths import default_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', type=Path, default=None)
    ap.add_argument('--repeats', type=int, default=200)
    args = ap.parse_args()
    path = Path(args.model or default_model())
    cfg = FeatureConfig()
    clf = Classifier(path, expected=cfg, threads=1)
    rng = np.random.default_rng(0)
    x = rng.normal(-8.0, 3.0, (1, cfg.n_mels, cfg.window_frames)).astype(np.float32)
    for _ in range(20):
        clf.predict(x)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        clf.predict(x)
        times.append(time.perf_counter() - t0)
    ms = float(np.median(times)) * 1e3
    macs, params = count_macs(path, cfg.n_mels, cfg.window_frames)
    out = {
        'model': str(path), 'version': clf.version, 'bytes': path.stat().st_size,
        'parameters': params, 'mmac_per_window': round(macs / 1e6, 2),
        'gmac_per_10s_at_1_window_per_s': round(10 * macs / 1e9, 4),
        'gmac_per_10s_at_2_windows_per_s': round(20 * macs / 1e9, 4),
        'ms_per_window_one_core': round(ms, 3),
        'ms_p90_per_window_one_core': round(float(np.percentile(times, 90)) * 1e3, 3),
        'ms_per_audio_second_at_1_window_per_s': round(ms, 3),
        'ms_per_audio_second_at_2_windows_per_s': round(2 * ms, 3),
        'cpu': platform.processor() or platform.machine(), 'cores': os.cpu_count(),
    }
    for k, v in out.items():
        print(f'{k:40s} {v}')
    dest = Path(__file__).resolve().parent / 'results' / 'classifier.json'
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2))
    print(f'written {dest}')


if __name__ == '__main__':
    main()
