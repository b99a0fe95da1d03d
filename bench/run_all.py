"""Run every benchmark in turn; each prints its figures and writes bench/results/*.json.

    python bench/run_all.py            # or: make bench
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = [
    ['bench_detector.py'],
    ['bench_classifier.py'],
    ['bench_sim.py'],
    ['bench_locate.py'],
    ['bench_levels.py'],
    ['bench_demo.py'],
    ['bench_demo.py', '--scenario',
     str(HERE.parent / 'config' / 'scenarios' / 'background_only.yaml')],
]


def main() -> int:
    failed = 0
    for args in RUNS:
        print(f'== {" ".join(args)}', flush=True)
        rc = subprocess.call([sys.executable, str(HERE / args[0]), *args[1:]])
        failed += rc != 0
    return 1 if failed else 0


if __name__ == '__main__':
    raise SystemExit(main())
