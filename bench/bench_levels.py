"""Levels of the held-out real clips and of the test mixtures' events, in the training's terms.

Why: recordings come at their makers' levels. Through a sensor's -38 dBFS microphone the
ambience clips the evaluation mixes events into would be streets of 110 dB and more, which is
how the shipped model learnt that loud means background (see the model card). And the SNR
training draws (loudest 25 ms in band over the background mean, soft.classify.mixing) says
where the mixtures' -6/0/+6 dB EBR events fall in its range.

Prints the figures and writes bench/results/levels.json. No audio is written.
Run: PYTHONPATH=src python3 bench/bench_levels.py [--data DIR] [--mixtures 300]
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from soft.classify import layouts, taxonomy
from soft.classify.dataset import default_data_dir
from soft.classify.layouts import AMBIENT_LABELS, normalise_label
from soft.classify.mixing import band, event_power
from soft.evaluation import evaluate as ev, mixtures as mx

SR = 16000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', type=Path, default=default_data_dir())
    ap.add_argument('--mixtures', type=int, default=300)
    ap.add_argument('--out', type=Path, default=Path('bench/results/levels.json'))
    args = ap.parse_args()
    data = layouts.load_dataset(args.data, None, False)
    clips, _ = ev.select_split(data, 'val', ev.TRAIN_VAL_FRACTION, ev.TRAIN_SEED)
    loaded, _ = layouts.load_audio(clips, SR, max_s=60.0)

    ambient_dbfs: dict[str, list[float]] = defaultdict(list)
    for c, x in loaded:
        label = normalise_label(c.label)
        if c.class_id == taxonomy.BACKGROUND and label in AMBIENT_LABELS:
            ambient_dbfs[label].append(20 * np.log10(mx.rms(mx.trim_silence(x, SR)) + 1e-12))
    out: dict = {'ambient_rms_dbfs_median': {k: float(np.median(v))
                                             for k, v in sorted(ambient_dbfs.items())},
                 'street_55_75_db_spl_dbfs': [20 * np.log10(mx.full_scale_rms(s))
                                              for s in mx.STREET_SPL_DB]}
    print('held-out ambience, median RMS dBFS (the recordings\' own level):')
    for k, v in out['ambient_rms_dbfs_median'].items():
        print(f'  {k:<12} {v:6.1f}  ({len(ambient_dbfs[k])} clips)')
    lo, hi = out['street_55_75_db_spl_dbfs']
    print(f'a 55-75 dB SPL street on the sensors\' -38 dBFS microphone: {lo:.1f} to {hi:.1f} dBFS')

    # the evaluation's mixtures, rebuilt as soft evaluate builds them (same seed)
    weak = [(c, x) for c, x in loaded if c.events is None]
    events, ambient = ev.mixture_sources(weak, SR)
    recipes = mx.make_recipes(args.mixtures, events, ambient, np.random.default_rng([0, 1]),
                              sample_rate=SR)
    snr: dict[float, list[float]] = defaultdict(list)
    n = int(1.015 * SR)                     # a detector window
    for rec in recipes:
        if rec.event is None:
            continue
        bg = mx.render_background(rec, ambient, SR)
        for ebr in mx.EBRS_DB:
            m = mx.mix(rec, bg, events, ebr, SR)
            i0 = int(m.annotations[0].onset * SR)
            pb = float(np.mean(band(m.background[max(0, i0 - SR):i0 + n], SR) ** 2))
            snr[ebr].append(10 * np.log10(event_power(m.event[i0:i0 + n], SR) / pb))
    out['mixture_event_snr_db'] = {f'{e:+g}': {'median': float(np.median(v)),
                                               'p10': float(np.percentile(v, 10)),
                                               'p90': float(np.percentile(v, 90)),
                                               'events': len(v)} for e, v in snr.items()}
    print('mixture events in the training\'s SNR terms (loudest 25 ms in band over the '
          'background mean):')
    for e, s in out['mixture_event_snr_db'].items():
        print(f'  EBR {e:>3} dB: median {s["median"]:5.1f} dB (p10 {s["p10"]:.1f}, '
              f'p90 {s["p90"]:.1f}; {s["events"]} events)')
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
