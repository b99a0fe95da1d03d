"""Benchmark: the whole simulated district on the embedded host, scored against ground truth.

Prints wall time for the scenario and the detection figures of the foundation issue, and
writes bench/results/demo_<scenario>.json. Usage:

    python bench/bench_demo.py [--scenario config/scenarios/demo_mixed.yaml] [--minutes 10]
                               [--model runs/X/soft_classifier.onnx] [--out result.json]

``--model`` measures a candidate classifier before it replaces the shipped one.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from soft.demo import band_text, simulate_and_score
from soft.paths import config_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--scenario', type=Path,
                    default=config_dir() / 'scenarios' / 'demo_mixed.yaml')
    ap.add_argument('--minutes', type=float, default=None)
    ap.add_argument('--seed', type=int, default=None)
    ap.add_argument('--block', type=float, default=0.25)
    ap.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument('--model', type=Path, default=None,
                    help='classifier to measure (default: the shipped models/ one)')
    ap.add_argument('--out', type=Path, default=None,
                    help='where to write the JSON (default: bench/results/demo_<scenario>.json)')
    args = ap.parse_args()
    if args.model is not None and not args.model.is_file():
        ap.error(f'--model: no file at {args.model}')
    res = simulate_and_score(None, args.scenario, args.seed, args.minutes, model=args.model,
                             block_s=args.block, workers=args.workers)
    out = {
        'scenario': str(args.scenario.name), 'sensors': res['n_sensors'],
        'simulated_s': res['duration_s'], 'wall_s': round(res['wall_s'], 2),
        'build_s': round(res['build_s'], 2),
        'speed_x_realtime': round(res['duration_s'] / res['wall_s'], 1),
        'workers': args.workers, 'model': str(args.model or 'shipped'),
        'cpu': platform.processor() or platform.machine(), 'cores': os.cpu_count(),
        **res['summary'],
    }
    for k, v in out.items():
        if k == 'alert_recall_by_range':
            v = ', '.join(band_text(b) for b in v)
        print(f'{k:40s} {v}')
    dest = args.out or Path(__file__).resolve().parent / 'results' / \
        f'demo_{args.scenario.stem}.json'
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2))
    print(f'written {dest}')


if __name__ == '__main__':
    main()
