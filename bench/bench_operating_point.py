"""One class's operating point: what each threshold costs on real background and finds in clips.

Why: `soft train` sets a police class's threshold where the false windows on its held-out real
check background meet the budget; when that check is played at street levels too
(`--street-negatives both`) the gunshot threshold rose and held-out gunshot recall fell. This
shows, per threshold, the false windows of each play of the check (recordings' level, street
level; the same clips, split and draws as `soft train --seed S --split-seed 0`) next to the
held-out real clips the class finds at both levels (`soft evaluate`'s clip level and its
street-level repeat). The clips are the test set: read it to understand a trade, never to
pick a threshold.

Prints the table and writes bench/results/operating_point.json. No audio is written.
Run: PYTHONPATH=src python3 bench/bench_operating_point.py MODEL[:SEED] ... [--class gunshot]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from soft.classify import dataset as ds, hardnegatives as hn, layouts, taxonomy
from soft.classify.calibrate import reportable
from soft.classify.dataset import default_data_dir
from soft.classify.inference import Classifier
from soft.classify.train import build_parser as train_parser, real_splits
from soft.evaluation import clip_eval
from soft.evaluation import evaluate as ev

GRID = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
STREET_CLIPS_SPL = (55.0, 75.0)  # soft evaluate's --street-spl default


class WithThreshold:
    """The classifier with one class's threshold replaced (what the detector reads)."""

    def __init__(self, classifier: Classifier, class_id: int, threshold: float):
        self._c = classifier
        self.thresholds = classifier.thresholds
        self.thresholds[class_id] = threshold
        self.feature_config = classifier.feature_config

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self._c.predict(batch)


def _model_arg(text: str) -> tuple[Path, int]:
    path, _, seed = text.partition(':')
    try:
        return Path(path), int(seed or 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text}: SEED after the colon must be an integer '
                                         '(the training seed whose check background to play)')


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('models', nargs='+', type=_model_arg, metavar='MODEL[:SEED]')
    p.add_argument('--class', dest='cls', default='gunshot', help='taxonomy class name')
    p.add_argument('--data', type=Path, default=default_data_dir())
    p.add_argument('--out', type=Path, default=Path('bench/results/operating_point.json'))
    args = p.parse_args()
    cls = taxonomy.by_name(args.cls).id
    train_args = train_parser().parse_args(['--split-seed', '0'])
    _, _, check_rec = real_splits(ds.load_devset(args.data), train_args)
    data = layouts.load_dataset(args.data, None, False)
    clips, _ = ev.select_split(data, 'val', ev.TRAIN_VAL_FRACTION, ev.TRAIN_SEED)
    cfg, _ = clip_eval.deployed_detector_config()
    out = {'class': args.cls, 'definition': __doc__.split('\n\n')[1].replace('\n', ' '),
           'models': {}}
    audio: dict[int, tuple] = {}      # per sample rate: the check clips and the held-out clips
    for path, seed in args.models:
        clf = Classifier(path, threads=1)
        fcfg, sr = clf.feature_config, clf.feature_config.sample_rate
        own = float(clf.thresholds[cls])
        grid = sorted(set(GRID) | {round(own, 2)})
        if sr not in audio:
            audio[sr] = (ds.load_clips(check_rec, sr)[0],
                         layouts.load_audio(clips, sr, max_s=60.0)[0])
        check_clips, loaded = audio[sr]
        row: dict = {'version': clf.version, 'threshold': own, 'check_seed': seed,
                     'check': {}, 'clips': {}}
        for play, spl in (('recordings', None), ('street', hn.STREET_SPL_DB)):
            cs = hn.calibration_set(check_clips, np.random.default_rng([seed, 5]), fcfg,
                                    street_spl=spl)
            probs = clf.predict(cs.windows.x.astype(np.float32))
            probs = probs[reportable(probs, cs.sustained)]
            top = probs.argmax(1) == cls
            row['check'][play] = {'hours': cs.hours, 'false_windows': {
                f'{t:.2f}': int(np.sum(top & (probs[:, cls] >= t))) for t in grid}}
        for t in grid:
            model = WithThreshold(clf, cls, t)
            for level, spl in (('recordings', None), ('street', STREET_CLIPS_SPL)):
                res = clip_eval.evaluate_clips(loaded, model, cfg, 0, street_spl=spl)
                row['clips'].setdefault(level, {})[f'{t:.2f}'] = {
                    'found': sum(r.true_id == cls and r.pred_id == cls for r in res),
                    'support': sum(r.true_id == cls for r in res),
                    'called': sum(r.pred_id == cls for r in res),
                    'accuracy': float(np.mean([r.true_id == r.pred_id for r in res]))}
        out['models'][str(path)] = row
        _print(row, grid)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + '\n')
    print(f'wrote {args.out}')
    return 0


def _print(row: dict, grid: list[float]) -> None:
    ck, cl = row['check'], row['clips']
    print(f'{row["version"]} (own threshold {row["threshold"]:.2f}; check seed '
          f'{row["check_seed"]}, {ck["recordings"]["hours"] * 60:.1f} min a play)')
    print('  threshold | false windows rec / street (per h) | clips found/called rec | street')
    for t in grid:
        k = f'{t:.2f}'
        fw = [ck[p]['false_windows'][k] for p in ('recordings', 'street')]
        per_h = [n / ck[p]['hours'] for n, p in zip(fw, ('recordings', 'street'))]
        a, b = cl['recordings'][k], cl['street'][k]
        print(f'  {k:>9} | {fw[0]:3d} / {fw[1]:3d} ({per_h[0]:5.1f} / {per_h[1]:5.1f})'
              f'       | {a["found"]:2d}/{a["called"]:2d} of {a["support"]}'
              f'           | {b["found"]:2d}/{b["called"]:2d}')


if __name__ == '__main__':
    raise SystemExit(main())
