"""Clip-level figures on the held-out REAL clips for the classes judged on real recordings.

Training reports every class at the shipped thresholds; the project's later goal is stated
per class as "recall at precision >= 0.90" (gunshot, explosion, siren), so this also sweeps
one class's threshold to find the best recall that keeps that precision. The sweep is done
on the test clips themselves, so it is an optimistic ceiling, never the shipped operating
point; both are printed. Reads cached features (no audio) of the run's validation split.

    PYTHONPATH=src python3 -m soft.classify.realfigures [--model models/soft_classifier.onnx]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from soft.classify import taxonomy
from soft.classify.calibrate import decide

GOAL_CLASSES = ('gunshot', 'explosion', 'siren')


def best_recall_at_precision(p_class: np.ndarray, is_class: np.ndarray,
                             min_precision: float) -> tuple[float, float]:
    """(recall, threshold) of the lowest threshold on ``p_class`` keeping the precision."""
    best = (0.0, 1.0)
    for t in np.unique(p_class)[::-1]:
        pred = p_class >= t
        tp = int(np.sum(pred & is_class))
        if tp == 0:
            continue
        if tp / int(pred.sum()) >= min_precision:
            rec = tp / max(1, int(is_class.sum()))
            if rec >= best[0]:
                best = (rec, float(t))
    return best


def figures(probs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray,
            min_precision: float = 0.9) -> dict[str, dict[str, float]]:
    """Shipped-rule precision/recall and swept recall at ``min_precision``, per goal class."""
    pred = decide(probs, thresholds)
    out = {}
    for name in GOAL_CLASSES:
        c = taxonomy.by_name(name).id
        is_c = labels == c
        tp = int(np.sum((pred == c) & is_c))
        n_pred = int(np.sum(pred == c))
        rec, t = best_recall_at_precision(probs[:, c], is_c, min_precision)
        out[name] = {'clips': int(is_c.sum()), 'other_clips': int((~is_c).sum()),
                     'precision': tp / n_pred if n_pred else float('nan'),
                     'recall': tp / int(is_c.sum()) if is_c.any() else float('nan'),
                     f'swept_recall_at_precision_{min_precision:.2f}': rec,
                     'swept_threshold': t}
    return out


def main(argv: list[str] | None = None) -> int:
    from soft.classify.inference import Classifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', type=Path, default=Path('models/soft_classifier.onnx'))
    ap.add_argument('--cache', type=Path, default=Path('.cache/soft_train'))
    ap.add_argument('--features', type=Path, default=None,
                    help='val-real-*.npz to use (default: the newest in --cache)')
    args = ap.parse_args(argv)
    path = args.features or max(args.cache.glob('val-real-*.npz'),
                                key=lambda p: p.stat().st_mtime, default=None)
    if path is None:
        raise SystemExit(f'no val-real-*.npz under {args.cache}: run soft train first')
    clf = Classifier(args.model)
    with np.load(path, allow_pickle=False) as z:
        x, y, origin = z['x'], z['y'], z['origin']
    res = {}
    for tag in ('real', 'real_mixed'):
        m = origin == tag
        res[tag] = figures(clf.predict(x[m].astype(np.float32)), y[m], clf.thresholds)
    print(json.dumps({'model': str(args.model), 'version': clf.version,
                      'features': str(path), **res}, indent=1))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
