"""Simulator speed: background for 50 microphones x 600 s on one core, and a full district.

Prints the figures and writes bench/results/sim.json. Audio stays in memory.
Run: PYTHONPATH=src python3 bench/bench_sim.py [--seconds 600] [--mics 50]
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from soft.sim.background import BackgroundGenerator, Weather
from soft.sim.district import DistrictSimulation, SimMic
from soft.sim.scenario import load_scenario

FS = 16000
ROOT = Path(__file__).resolve().parent.parent


def bench_background(mics: int, seconds: float, weather: Weather, block_s: float = 1.0) -> float:
    gens = [BackgroundGenerator(('busy_street', 'quiet_street', 'square')[i % 3], FS, seed=i,
                                weather=weather) for i in range(mics)]
    block = int(block_s * FS)
    t = time.perf_counter()
    for g in gens:
        for _ in range(int(seconds / block_s)):
            g.read(block)
    return time.perf_counter() - t


def bench_district(mics: int, seconds: float, block_s: float = 0.25) -> dict:
    scen = load_scenario(ROOT / 'config' / 'scenarios' / 'demo_mixed.yaml')
    rng = np.random.default_rng(0)
    grid = [(x, y) for x in range(-400, 401, 100) for y in range(-400, 401, 100)]
    picks = rng.choice(len(grid), mics, replace=False)
    sim_mics = [SimMic(f's{i:02d}', np.array([*grid[k], 4.0]),
                       background=('busy_street', 'quiet_street', 'square')[i % 3])
                for i, k in enumerate(picks)]
    t = time.perf_counter()
    sim = DistrictSimulation(sim_mics, scen, seed=1)
    setup = time.perf_counter() - t
    block = int(block_s * FS)
    t = time.perf_counter()
    for mi in range(mics):
        for s in range(0, int(seconds * FS), block):
            sim.render(mi, s, block)
    render = time.perf_counter() - t
    t = time.perf_counter()
    sim.ground_truth()
    truth = time.perf_counter() - t
    return {'mics': mics, 'seconds': seconds, 'setup_s': setup, 'render_s': render,
            'ground_truth_s': truth, 'realtime_factor': seconds * mics / render}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--seconds', type=float, default=600.0)
    ap.add_argument('--mics', type=int, default=50)
    args = ap.parse_args()
    calm = bench_background(args.mics, args.seconds, Weather(2.0, 0.0))
    stormy = bench_background(args.mics, args.seconds, Weather(8.0, 5.0))
    district = bench_district(args.mics, args.seconds)
    res = {'background_calm_s': calm, 'background_wind_rain_s': stormy,
           'background_mic_seconds': args.mics * args.seconds,
           'district': district, 'python': platform.python_version(),
           'machine': platform.machine()}
    print(f'background {args.mics} mics x {args.seconds:.0f} s, light wind: {calm:.2f} s '
          f'({args.mics * args.seconds / calm:.0f}x real time per core)')
    print(f'background with wind and rain: {stormy:.2f} s')
    print(f'district demo_mixed ({args.mics} mics, {args.seconds:.0f} s, 0.25 s blocks): '
          f'setup {district["setup_s"]:.2f} s, render {district["render_s"]:.2f} s, '
          f'ground truth {district["ground_truth_s"]:.2f} s')
    out = ROOT / 'bench' / 'results' / 'sim.json'
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(f'wrote {out}')


if __name__ == '__main__':
    main()
