"""Re-threshold an exported model under today's threshold rules and threshold check.

Why: a model's thresholds were chosen once, at training, against that day's rules and that
day's check background. Both have changed since (the over-budget ceiling, the check played at
street levels too), so comparing a new recipe with a shipped model at the shipped thresholds
mixes two things: the weights, and an operating point the new check would not allow. The
shipped model's checkpoint may be gone, but its ONNX file holds the whole calibrated network:
this runs it on the same validation windows, generated streams and real check background a
``soft train --epochs 0`` run would build, and applies the same rules
(:func:`soft.classify.train.choose_and_check`). The weights and the temperature stay as
trained; the copy differs from the original only in ``soft.thresholds``, its version and a
note of where it came from.

Run as ``soft train --epochs 0 --init-from MODEL.onnx [data and threshold options] --out NEW``.
"""
from __future__ import annotations

import argparse
import json
import time

from soft.classify import taxonomy


def rethreshold(args: argparse.Namespace) -> dict:
    """Choose thresholds for the ONNX model ``args.init_from``; write the copy and report."""
    from soft.audio.features import FeatureConfig
    from soft.classify.export import format_thresholds, sha256, with_metadata
    from soft.classify.inference import Classifier
    from soft.classify.train import Progress, _data, choose_and_check, run_facts

    prog = Progress(args.quiet)
    fcfg = FeatureConfig()
    source = Classifier(args.init_from, expected=fcfg, threads=max(1, args.threads))
    data = _data(args, fcfg, prog)
    va, fa, cal = data['val'], data['fa'], data['calib']
    choices, thresholds, results = choose_and_check(
        args, data, source.predict_all(va.x),
        source.predict_all(fa.x) if fa is not None else None,
        source.predict_all(cal.windows.x) if cal is not None and len(cal.windows) else None,
        source.predict_all(data['streams'].windows.x)
        if data['streams'] is not None and len(data['streams'].windows) else None)
    before = source.thresholds
    for c in taxonomy.CLASSES[1:]:
        if abs(thresholds[c.id] - before[c.id]) >= 0.005:
            prog.log(f'{c.name}: threshold {before[c.id]:.2f} -> {thresholds[c.id]:.2f}')
    date = args.date or time.strftime('%Y-%m-%d')
    version = args.version or f'{source.version}-rt{date}'
    with_metadata(args.init_from, args.out, {
        'soft.thresholds': format_thresholds(thresholds),
        'soft.model_version': version,
        'soft.rethresholded_from': f'{source.version} sha256:{source.sha256}',
        'soft.rethreshold_date': date})
    copy = Classifier(args.out, expected=fcfg)      # the sensor must accept the copy
    meta = copy.metadata
    report = {
        'version': version, 'date': date, 'model': str(args.out), 'sha256': sha256(args.out),
        'bytes': args.out.stat().st_size,
        'rethresholded_from': {'path': str(args.init_from), 'version': source.version,
                               'sha256': source.sha256, 'thresholds': before.tolist()},
        'temperature': float(meta.get('soft.temperature', 'nan')),
        'architecture': meta.get('soft.architecture', ''),
        'history': [],
        'command': 'soft train ' + ' '.join(getattr(args, 'argv', []) or []),
        **run_facts(args, data, choices, copy.thresholds, results),
        'seconds': prog.elapsed(),
    }
    args.run_dir.mkdir(parents=True, exist_ok=True)
    (args.run_dir / 'report.json').write_text(json.dumps(report, indent=1, default=str))
    prog.log(f'wrote {args.out} (the weights of {source.version}, new thresholds) in '
             f'{prog.elapsed():.0f} s')
    return report
