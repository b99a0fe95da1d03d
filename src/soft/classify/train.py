"""``soft train``: build the data, train the CNN, calibrate, export the ONNX model, report.

One command rebuilds the shipped model from the generators and the shared real clips. It is
seeded, resumable (a checkpoint per epoch), CPU-only and sized for two cores; features are
cached so a second run spends its time on training. Figures are reported separately for
held-out real recordings and for generated validation windows, because only the former say
how the model hears the real world.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import zlib
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from soft.classify import taxonomy
from soft.cliargs import float_in, range_in

if TYPE_CHECKING:
    from soft.audio.features import FeatureConfig

DEFAULT_OUT = Path('models/soft_classifier.onnx')
DEFAULT_RUN = Path('runs/train')
DEFAULT_CACHE = Path('.cache/soft_train')
# feature-space level shift of every training window, +-dB (--level-shift-db)
LEVEL_SHIFT_DB = 3.0
# a class over its false-alarm budget at --max-threshold may go on up to this
OVER_BUDGET_CEILING = 0.97
NATS_PER_DB = math.log(10.0) / 10.0
# real background labels that are ambience a street event is heard over (the rain,
# sea, helicopter and casual clips, plus wind and traffic); dogs or sneezes are events of
# their own and stay out of the mixing pool
AMBIENT_LABELS = frozenset({'rain', 'sea_waves', 'helicopter', 'casual', 'wind', 'traffic'})


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='soft train', description='Train the S.O.F.T. classifier from the sound '
        'generators and the shared real clips, calibrate it and export it to ONNX.')
    p.add_argument('--data', type=Path, default=None,
                   help='folder of the shared real clips (default: $SOFT_DATA_DIR or '
                   '../shared/data beside the repository)')
    p.add_argument('--no-real', action='store_true', help='train on generated data only')
    p.add_argument('--out', type=Path, default=DEFAULT_OUT, help='ONNX model to write')
    p.add_argument('--run-dir', type=Path, default=DEFAULT_RUN,
                   help='checkpoints and report.json go here')
    p.add_argument('--cache', type=Path, default=DEFAULT_CACHE,
                   help='feature cache folder (features only, never audio)')
    p.add_argument('--no-cache', action='store_true', help='do not read or write the cache')
    p.add_argument('--resume', action='store_true', help='continue from the run checkpoint')
    p.add_argument('--epochs', type=int, default=16,
                   help='one stage of 16 (about 50 min on 2 cores with features built) replaced '
                   'the four fine-tuning stages of soft-cnn-1.2.x; 0 with --init-from only '
                   're-fits the temperature and thresholds (new budgets) and re-exports')
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--channels', type=_channels, default=None,
                   help='output channels of the four or five conv blocks, comma-separated '
                   '(default: soft.classify.model.CHANNELS, 16,32,64,128; five widths add a block '
                   'on the 4x6 map, e.g. 16,32,64,128,192: 28 M MAC per window)')
    p.add_argument('--relative-frames', type=int, default=None,
                   help='also feed the network each window relative to the mean of its first '
                   'N frames (before the onset); default 0: absolute log-mel only')
    p.add_argument('--lr', type=float, default=3e-3, help='peak learning rate (one-cycle)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--split-seed', type=int, default=None,
                   help='seed of the real clips\' train/validation split (default: --seed); '
                   'fix it to retrain with another --seed and compare on the same held-out '
                   'clips (soft evaluate --split-seed, soft compare)')
    p.add_argument('--band-limit', action='store_true',
                   help='low-pass 20 %% of windows and 30 %% of real clips at 3.4-7.2 kHz, as '
                   'recordings made at 8-14 kHz or far sources (measured in soft-cnn-1.7.0: '
                   'band-limited recall up, full-band gunshot recall down)')
    p.add_argument('--street-negatives', nargs='?', const='street', default=None,
                   choices=('street', 'both'),
                   help='play the real background clips for hard negatives and threshold '
                   'checks at street levels (45-80 dB SPL through a -46..-30 dBFS '
                   'microphone) instead of their recordings\' own levels, which on a sensor '
                   'would be 100+ dB streets; "both": at street levels and at the recordings\' '
                   'levels, so neither a quiet nor a loud background reads as an event')
    p.add_argument('--snr-db', type=_snr_range, default=None, metavar='LO,HI',
                   help='draw every event\'s SNR over its background (loudest in-band 25 ms '
                   'over the background, the simulator\'s terms) from LO..HI dB, generated '
                   'and real clips alike (default: the recipe\'s -6..24 and -6..25). The '
                   'held-out mixtures\' events sit at medians of -2 / 4 / 10 dB at -6 / 0 / '
                   '+6 dB EBR (bench/bench_levels.py). A negative LO needs the = form: '
                   '--snr-db=-2,12')
    p.add_argument('--distance-m', type=_distance_range, default=None, metavar='LO,HI',
                   help='draw each generated source\'s distance from LO..HI m (log-uniform; '
                   'default the recipe\'s 5..200). A district sensor hears a shot from up to '
                   'about 1200 m')
    p.add_argument('--far-real', type=_far_real, default=0.0, metavar='P',
                   help='with --distance-m: this share of the real clips is heard from a '
                   'further max(LO, 50)..HI m (air absorption, ground reflection) before it is '
                   'cropped and mixed (default 0)')
    p.add_argument('--level-shift-db', type=_level_shift, default=LEVEL_SHIFT_DB,
                   help='every training window is shifted by a random gain within +-this many '
                   f'dB (feature space; default {LEVEL_SHIFT_DB:g}). Recordings come at any '
                   'digital level and microphones differ: a wide range (e.g. 24) leaves the '
                   'model no level to tell background by, which soft-cnn-1.4.1 did (real '
                   'hard negatives at recording level, events at street level)')
    p.add_argument('--scale', type=float, default=1.0,
                   help='multiply every data count (0.05 for a smoke run)')
    p.add_argument('--val-fraction', type=float, default=0.25,
                   help='share of each label\'s real clips held out (by source recording)')
    p.add_argument('--fa-minutes', type=float, default=30.0,
                   help='minutes of background streams for the false-alarm estimate')
    p.add_argument('--check-streams', type=Path, default=None, metavar='DIR',
                   help='event-free background recordings of any length under DIR (a '
                   'site\'s own, lawfully held), streamed through the deployed detector: the '
                   'thresholds must keep the false-alarm budgets over their hours too, on '
                   'their own (with --epochs 0 --init-from MODEL.onnx: re-threshold a '
                   'model for a site)')
    p.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    p.add_argument('--workers', type=int, default=2,
                   help='processes rendering generated windows (same result for any number)')
    p.add_argument('--target-precision', type=float, default=0.9)
    p.add_argument('--max-fa-per-hour', type=float, default=5.0,
                   help='per-class false-alarm budget on each background set (detector '
                   'windows, before any rate limit). 1/h on the ~25 min of held-out real '
                   'background means not one window, which pushed gunshot and explosion to '
                   'the ceiling and cut the simulated district\'s alert recall to 0.67')
    p.add_argument('--max-fa-per-hour-other', type=float, default=20.0,
                   help='the same budget for the classes that raise no police alert '
                   '(tranquillity statistics, context): a false siren is only logged, and '
                   'holding it to the police budget pinned its threshold at the ceiling')
    p.add_argument('--max-threshold', type=float, default=0.9,
                   help='no class threshold above this (0.98 cost the district a third of '
                   'its alerts for a halving of real false alarms)')
    p.add_argument('--max-threshold-over-budget', type=float, default=None,
                   help='a class over its false-alarm budget at --max-threshold may go on up '
                   'to this threshold, to the first that meets the budget, while its '
                   'validation recall keeps --keep-recall of its recall at the ceiling '
                   '(soft-cnn-1.8.1\'s explosion: 194 real false alarms per hour at 0.9; at '
                   '0.97 it found the same 39 of 41 held-out real explosions); default '
                   f'{OVER_BUDGET_CEILING:g} or --max-threshold if higher; set it to '
                   '--max-threshold to turn it off')
    p.add_argument('--keep-recall', type=float, default=0.8,
                   help='a threshold chasing --target-precision may not cut a class\'s '
                   'generated-validation recall below this share of its recall at the best-F1 '
                   'threshold (0 turns the guard off: soft-cnn-1.5.2\'s gunshot kept 0.30)')
    p.add_argument('--real-weight', type=float, default=5.0,
                   help='loss weight of real-recording windows relative to generated ones')
    p.add_argument('--hard-negative-weight', type=float, default=2.0,
                   help='loss weight of the detector windows on real background clips '
                   '(soft.classify.hardnegatives); 0 leaves them out')
    p.add_argument('--max-hard-negatives', type=int, default=10000,
                   help='keep at most this many hard-negative windows (a random subset): '
                   'more drown the real events in background')
    p.add_argument('--calib-fraction', type=float, default=0.3,
                   help='share of the training split\'s real background clips (by source '
                   'recording) kept out of training to check the thresholds\' false alarms; '
                   '0 checks them on generated streams only')
    p.add_argument('--init-from', type=Path, default=None,
                   help='start from the weights (and band statistics) of this checkpoint '
                   'instead of a fresh model: fine-tuning a shipped model on new data. With '
                   '--epochs 0 it may be an exported model (.onnx): its weights and '
                   'temperature are kept and only its thresholds are chosen again, under '
                   'these options\' rules and threshold check')
    p.add_argument('--teacher', type=Path, action='append', default=None,
                   help='ONNX model whose probabilities on each training window become soft '
                   'targets (knowledge distillation); repeat it for an ensemble, whose '
                   'averaged judgement one model of the usual cost then learns')
    p.add_argument('--teacher-weight', type=float, default=0.5,
                   help='share of the loss given to the teachers\' soft targets (0-1); the '
                   'rest stays on the labels')
    p.add_argument('--version', default=None, help='model version string')
    p.add_argument('--date', default=None, help='training date for the metadata (YYYY-MM-DD)')
    p.add_argument('--model-card', type=Path, default=None,
                   help='also write the model card (and ATTRIBUTION.md beside it)')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    return p


_level_shift = float_in('--level-shift-db', 0.0, 40.0, ' dB')
_snr_range = range_in('--snr-db', -30.0, 60.0, ' dB')
_distance_range = range_in('--distance-m', 1.0, 3000.0, ' m')
_far_real = float_in('--far-real', 0.0, 1.0)


def _channels(text: str) -> tuple[int, ...]:
    try:
        ch = tuple(int(c) for c in str(text).split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'--channels {text!r}: expected integers such as '
                                         '16,32,64,128') from None
    if len(ch) not in (4, 5) or min(ch) < 1 or max(ch) > 512:
        raise argparse.ArgumentTypeError(f'--channels {text!r}: expected four or five widths '
                                         '1..512')
    return ch


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if args.epochs < 0:
        parser.error(f'--epochs {args.epochs}: must be >= 0')
    if args.epochs == 0 and args.init_from is None:
        parser.error('--epochs 0 re-calibrates a trained model: it needs --init-from')
    if args.far_real and args.distance_m is None:
        parser.error(f'--far-real {args.far_real:g}: needs --distance-m (how far a real clip '
                     'may be heard from)')
    if not 0.0 <= args.keep_recall <= 1.0:
        parser.error(f'--keep-recall {args.keep_recall}: must be within 0-1')
    if not 0.0 < args.max_threshold < 1.0:
        parser.error(f'--max-threshold {args.max_threshold}: must be within 0 and 1 (excluded)')
    if args.max_threshold_over_budget is None:
        args.max_threshold_over_budget = max(OVER_BUDGET_CEILING, args.max_threshold)
    elif not args.max_threshold <= args.max_threshold_over_budget < 1.0:
        parser.error(f'--max-threshold-over-budget {args.max_threshold_over_budget}: must be '
                     f'within --max-threshold ({args.max_threshold}) and 1 (excluded)')
    if not 0.0 <= args.teacher_weight <= 1.0:
        parser.error(f'--teacher-weight {args.teacher_weight}: must be within 0-1')
    for path in args.teacher or []:
        if not path.is_file():
            parser.error(f'--teacher {path}: no such file')
    onnx_source = args.init_from is not None and args.init_from.suffix.lower() == '.onnx'
    if onnx_source:
        for bad, why in ((args.epochs != 0, f'--epochs {args.epochs}'),
                         (args.resume, '--resume'), (args.teacher, '--teacher'),
                         (args.model_card is not None, '--model-card')):
            if bad:
                parser.error(f'--init-from {args.init_from}: an exported model can only be '
                             f're-thresholded (--epochs 0), not used with {why}; training '
                             'further needs its checkpoint.pt')
    try:
        if args.check_streams is not None:     # fail before minutes of data building
            from soft.evaluation.recordings import audio_under
            audio_under(args.check_streams, '--check-streams')
        if onnx_source:
            from soft.classify.rethreshold import rethreshold

            rethreshold(args)
        else:
            train(args)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f'soft train: {type(exc).__name__}: {exc}', file=sys.stderr)
        return 2
    return 0


class Progress:
    """A plain-text progress bar on stderr (one line, rewritten in place)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.perf_counter()
        self.label, self.total, self.done = '', 0, 0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, max(1, total), 0
        self._t = time.perf_counter()
        self._draw()

    def step(self, n: int = 1, note: str = '') -> None:
        self.done += n
        if self.done == self.total or self.done % max(1, self.total // 50) == 0:
            self._draw(note)

    def _draw(self, note: str = '') -> None:
        if self.quiet:
            return
        frac = self.done / self.total
        bar = '#' * int(30 * frac) + '.' * (30 - int(30 * frac))
        el = time.perf_counter() - self._t
        eta = el / frac - el if frac > 0 else 0.0
        sys.stderr.write(f'\r{self.label:<22} [{bar}] {self.done}/{self.total} '
                         f'{el:5.0f}s eta {eta:4.0f}s {note:<30}')
        if self.done >= self.total:
            sys.stderr.write('\n')
        sys.stderr.flush()

    def log(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(f'[{time.perf_counter() - self.t0:6.0f}s] {text}\n')
            sys.stderr.flush()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def _data(args, fcfg, prog: Progress) -> dict:
    """Every feature set the run needs (cached), plus the real-clip bookkeeping."""
    from soft.classify import dataset as ds
    from soft.classify import featureset as fset
    from soft.classify import hardnegatives as hn
    from soft.sim.sources import ALERT_KINDS, NEGATIVE_KINDS, synthesize

    base = fset.Recipe().with_band_limits() if args.band_limit else fset.Recipe()
    if args.snr_db is not None:
        base = base.with_snr(args.snr_db)
    if args.distance_m is not None:
        base = base.with_distance(args.distance_m, args.far_real)
    recipe = base.scaled(args.scale)
    val_recipe = base.scaled(args.scale * 0.25)
    kinds = {k: int(synthesize(k, np.random.default_rng(0), fcfg.sample_rate).class_id)
             for k in ALERT_KINDS + NEGATIVE_KINDS}
    # what shapes a training window; of dataset.py only clip reading, onsets and crops
    fp = fset.source_fingerprint(['soft.sim.sources', 'soft.sim.background',
                                  'soft.sim.propagation', 'soft.audio.features',
                                  'soft.classify.featureset', 'soft.classify.mixing',
                                  'soft.classify.augment',
                                  'soft.classify.dataset:read_clip,check_samples,'
                                  'frame_energy_db,onsets,crop'])
    cache = None if args.no_cache else args.cache
    common = dict(features=fcfg.to_metadata(), code=fp, seed=args.seed)

    records, train_clips, val_clips, calib_clips, report = [], [], [], [], None
    if not args.no_real:
        records = ds.load_devset(args.data)
        train_rec, val_rec, calib_rec = real_splits(records, args)
        prog.log(f'real clips: {len(records)} in manifests, {len(train_rec)} train / '
                 f'{len(calib_rec)} background for threshold checks / {len(val_rec)} '
                 'validation (split by source recording)')
        train_clips, rep_t = ds.load_clips(train_rec, fcfg.sample_rate)
        val_clips, rep_v = ds.load_clips(val_rec, fcfg.sample_rate)
        calib_clips, rep_c = ds.load_clips(calib_rec, fcfg.sample_rate)
        report = {'loaded': rep_t.loaded + rep_v.loaded + rep_c.loaded,
                  'skipped': [(str(p), r) for p, r in
                              rep_t.skipped + rep_v.skipped + rep_c.skipped]}
        for path, reason in report['skipped']:
            prog.log(f'skipped {path}: {reason}')
    manifest_hash = fset.cache_key(rows=[(str(r.path), r.label, r.group) for r in records])

    def per_kind(rec: fset.Recipe) -> dict[str, int]:
        by_class = Counter(kinds[k] for k in ALERT_KINDS)
        out = {k: -(-rec.per_alert_class // by_class[kinds[k]]) for k in ALERT_KINDS}
        out.update({k: rec.per_negative_kind for k in NEGATIVE_KINDS})
        return out

    failures: Counter = Counter()

    def build_split(name: str, rec: fset.Recipe, seed_offset: int, clips, train: bool):
        pool_box: list = []

        def pool():
            if not pool_box:
                prog.log(f'{name}: generating {rec.background_pool_s:.0f} s of background')
                streets = fset.background_pool(
                    rec.background_pool_s, np.random.default_rng([args.seed, seed_offset, 0]),
                    fcfg.sample_rate)
                # real ambience of this split only (never validation clips in training)
                ambient = [(r, x) for r, x in clips if r.label in AMBIENT_LABELS]
                if ambient:
                    real = fset.real_background_pool(
                        ambient, np.random.default_rng([args.seed, seed_offset, 6]),
                        fcfg.sample_rate)
                    prog.log(f'{name}: joined {len(real)} real ambient clips '
                             f'({sum(a.size for a in real) / fcfg.sample_rate:.0f} s)')
                    streets = streets + real
                pool_box.append(streets)
            return pool_box[0]

        counts = per_kind(rec)
        key = fset.cache_key(recipe=rec, split=name, ambient=sorted(
            str(r.path) for r, _ in clips if r.label in AMBIENT_LABELS), **common)
        parts = []
        prog.start(f'{name}: generated', sum(counts.values()))
        # one cache entry and one random stream per kind: a crash or an edit to one generator
        # costs only that kind; kinds not cached are rendered in parallel worker processes
        todo = [k for k in sorted(counts)
                if not fset.is_cached(cache, f'{name}-gen-{k}', key)]
        ready = {}
        if todo and args.workers > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(min(args.workers, len(todo))) as ex:
                futs = {k: ex.submit(_synth_kind, [args.seed, seed_offset,
                                                   zlib.crc32(k.encode())],
                                     kinds, k, counts[k], pool(), fcfg, rec) for k in todo}
                for k in todo:
                    ready[k], fails = futs[k].result()
                    failures.update(fails)
        for kind in sorted(counts):
            def synth(kind=kind):
                if kind in ready:
                    return ready.pop(kind)
                got, fails = _synth_kind([args.seed, seed_offset, zlib.crc32(kind.encode())],
                                         kinds, kind, counts[kind], pool(), fcfg, rec)
                failures.update(fails)
                return got
            parts.append(fset.cached(cache, f'{name}-gen-{kind}', key, synth))
            prog.step(counts[kind], note=kind)
        parts.append(fset.cached(
            cache, f'{name}-onset-background', key,
            lambda: fset.onset_background_set(rec.onset_background_s,
                                              np.random.default_rng([args.seed, seed_offset, 4]),
                                              fcfg, rec)))
        parts.append(fset.cached(
            cache, f'{name}-background', key,
            lambda: fset.background_set(rec.background_windows, pool(),
                                        np.random.default_rng([args.seed, seed_offset, 1]),
                                        fcfg, rec)))
        if clips:
            # the key names the split's clips: another split must not reuse these crops
            rkey = fset.cache_key(recipe=rec, split=name, manifests=manifest_hash,
                                  clips=fset.cache_key(rows=[str(r.path) for r, _ in clips]),
                                  **common)
            parts.append(fset.cached(
                cache, f'{name}-real', rkey,
                lambda: fset.real_set(clips, np.random.default_rng([args.seed, seed_offset, 2]),
                                      fcfg, rec, pool(), train, failures)))
        out = fset.FeatureSet.concat(parts)
        neg = np.isin(out.name, list(NEGATIVE_KINDS))
        out.origin[neg] = 'negative'
        return out

    train_set = build_split('train', recipe, 1, train_clips, True)
    bg_train = [(r, x) for r, x in train_clips if r.class_id == taxonomy.BACKGROUND]
    if bg_train and args.hard_negative_weight > 0:
        def hkey(spl):
            return fset.cache_key(
                manifests=fset.cache_key(rows=[str(r.path) for r, _ in bg_train]),
                code=fset.source_fingerprint(['soft.classify.hardnegatives',
                                              'soft.evaluation.clip_eval',
                                              'soft.evaluation.mixtures', 'soft.audio.detector',
                                              'soft.audio.features', 'soft.sim.background']),
                detector=str(_deployed_cfg()), features=fcfg.to_metadata(), seed=args.seed,
                **({'bandlimit': [recipe.real_bandlimit_probability, recipe.bandlimit_hz]}
                   if recipe.real_bandlimit_probability else {}),
                **({'street_spl': hn.STREET_SPL_DB, 'mic': hn.MIC_SENSITIVITY_DBFS}
                   if spl is not None else {}))

        prog.log(f'hard negatives: detector over {len(bg_train)} real background clips '
                 '(training split only)')
        hards = [fset.cached(
            cache, 'train-hardneg', hkey(spl), lambda spl=spl: hn.real_background_set(
                bg_train, np.random.default_rng([args.seed, 1, 7]), fcfg,
                bandlimit=recipe.real_bandlimit_probability, bandlimit_hz=recipe.bandlimit_hz,
                street_spl=spl)) for spl in _negative_levels(args)]
        hard = hards[0] if len(hards) == 1 else fset.FeatureSet.concat(hards)
        if len(hard) > args.max_hard_negatives:
            keep = np.random.default_rng([args.seed, 1, 8]).choice(
                len(hard), args.max_hard_negatives, replace=False)
            hard = hard.subset(np.sort(keep))
        prog.log(f'hard negatives: {len(hard)} windows')
        train_set = fset.FeatureSet.concat([train_set, hard])
    val_set = build_split('val', val_recipe, 2, val_clips, False)

    def streams() -> fset.FeatureSet:
        from soft.classify.mixing import to_full_scale

        rng = np.random.default_rng([args.seed, 3])
        n_streams = max(1, int(round(args.fa_minutes / 2)))
        secs = args.fa_minutes * 60 / n_streams
        xs = []
        prog.start('false-alarm streams', n_streams)
        for _ in range(n_streams):
            pa = fset.background_pool(secs, rng, fcfg.sample_rate, chunk_s=secs)[0]
            y, _ = to_full_scale(pa.astype(np.float64), rng, fset.MixConfig(clip_probability=0))
            xs.append(fset.detector_windows(y, fcfg))
            prog.step()
        x = np.concatenate(xs)
        n = len(x)
        prog.log(f'false-alarm streams: {n} detector windows in {args.fa_minutes:.0f} min')
        return fset.FeatureSet(x, np.zeros(n, dtype=np.int64),
                               np.full(n, 'stream', dtype='U10'),
                               np.full(n, 'stream', dtype='U120'))

    fa_key = fset.cache_key(minutes=args.fa_minutes, **common)
    fa_set = fset.cached(cache, 'fa-streams', fa_key, streams) if args.fa_minutes > 0 \
        else None
    calib = None
    if calib_clips:
        # not cached: a few minutes of audio through the detector take seconds
        calib = hn.CheckSet.concat([hn.calibration_set(
            calib_clips, np.random.default_rng([args.seed, 5]), fcfg, street_spl=spl)
            for spl in _negative_levels(args)])
        prog.log(f'threshold check: {len(calib.windows)} detector windows '
                 f'({int(calib.sustained.sum())} sustained) on {calib.hours * 60:.1f} min of '
                 'held-out real background')
    streams, streams_info = None, None
    if args.check_streams is not None:
        from soft.evaluation.recordings import audio_under

        streams, streams_info = hn.recordings_check_set(
            audio_under(args.check_streams, '--check-streams'), fcfg, prog.log)
    for what, n in failures.items():
        prog.log(f'generator failure (retried): {what} x{n}')
    return {'train': train_set, 'val': val_set, 'fa': fa_set, 'records': records,
            'calib': calib, 'streams': streams, 'streams_info': streams_info,
            'calib_clips': [r for r, _ in calib_clips],
            'generator_failures': dict(failures),
            'train_clips': [r for r, _ in train_clips], 'val_clips': [r for r, _ in val_clips],
            'load_report': report, 'kinds': kinds, 'recipe': asdict(recipe)}


def _negative_levels(args: argparse.Namespace) -> list[tuple[float, float] | None]:
    """The levels real background is played at for hard negatives and threshold checks:
    a street SPL range, or None for the recordings' own levels."""
    from soft.classify import hardnegatives as hn

    return {None: [None], 'street': [hn.STREET_SPL_DB],
            'both': [None, hn.STREET_SPL_DB]}[args.street_negatives]


def _deployed_cfg():
    from soft.evaluation.clip_eval import deployed_detector_config

    return deployed_detector_config()[0]


def real_splits(records: list, args: argparse.Namespace) -> tuple[list, list, list]:
    """Real clips for training, validation and threshold checks, split by source recording.

    The split has its own seed so that the training seed (generated data, augmentation,
    initialisation) can change while the held-out clips stay the same.
    """
    from soft.classify import dataset as ds

    seed = args.seed if args.split_seed is None else args.split_seed
    train_rec, val_rec = ds.split_by_group(records, args.val_fraction, seed)
    calib_rec: list = []
    if args.calib_fraction > 0:
        bg_rec = [r for r in train_rec if r.class_id == taxonomy.BACKGROUND]
        if len(bg_rec) > 1:
            _, calib_rec = ds.split_by_group(bg_rec, args.calib_fraction, seed + 1)
            held = {r.path for r in calib_rec}
            train_rec = [r for r in train_rec if r.path not in held]
    return train_rec, val_rec, calib_rec


def _synth_kind(seed: list[int], kinds: dict[str, int], kind: str, count: int, pool, fcfg,
                rec) -> tuple:
    """Render ``count`` sources of one kind (a worker process's unit of work)."""
    from soft.classify import featureset as fset

    fails: Counter = Counter()
    got = fset.synthetic_set(kinds, {kind: count}, pool, np.random.default_rng(seed), fcfg, rec,
                             'synthetic', failures=fails)
    return got, fails


def _checkpoint(path: Path, option: str, args: argparse.Namespace, torch) -> dict:
    """Load a soft train checkpoint and take the network's shape from it.

    A checkpoint written since the architecture options existed records them, so re-calibrating
    (--init-from) or continuing a run (--resume) needs no repeated --channels/--relative-frames;
    an explicit option that contradicts the checkpoint is an error rather than a silently
    different network.
    """
    ck = torch.load(path, weights_only=False)
    if not isinstance(ck, dict) or 'model' not in ck:
        raise ValueError(f'{option} {path}: not a soft train checkpoint (no "model" entry)')
    arch = ck.get('arch') or {}
    for flag, key, given in (('--channels', 'channels', args.channels),
                             ('--relative-frames', 'relative_frames', args.relative_frames)):
        if key not in arch:
            continue
        stored = tuple(arch[key]) if key == 'channels' else int(arch[key])
        if given is None:
            setattr(args, key, stored)
        elif given != stored:
            raise ValueError(f'{option} {path}: the checkpoint was trained with {flag} '
                             f'{stored}, not {given}')
    return ck


def _init_checkpoint(args: argparse.Namespace, torch) -> dict:
    """The --init-from checkpoint (see :func:`_checkpoint`); it must exist."""
    path = Path(args.init_from)
    if not path.is_file():
        raise FileNotFoundError(f'--init-from: no checkpoint at {path}')
    return _checkpoint(path, '--init-from', args, torch)


def _load_weights(model, ck: dict, option: str, path) -> None:
    try:
        model.load_state_dict(ck['model'])
    except RuntimeError as exc:
        raise ValueError(f'{option} {path}: the checkpoint is another network; give the '
                         '--channels and --relative-frames it was trained with '
                         f'({str(exc).splitlines()[0]})') from None


def _logits(model, x: np.ndarray, batch: int = 256) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(np.asarray(x[i:i + batch], dtype=np.float32)[:, None])
            out.append(model(xb).numpy())
    return np.concatenate(out) if out else np.zeros((0, taxonomy.NUM_CLASSES), np.float32)


def _augment(xb, rng: np.random.Generator, background: np.ndarray | None = None,
             p_mix: float = 0.3, level_db: float = LEVEL_SHIFT_DB):
    """Cheap feature-domain augmentation: level shift, extra background, time/frequency masks.

    Extra background is another background window added in the power domain 0-13 dB below
    its own level, so an event meets more streets than were rendered, for free. The level
    shift (+-``level_db``, the same for every band and frame) is a digital gain: the window's
    shape stays, its loudness changes.
    """
    import torch

    n, _, m, t = xb.shape
    if background is not None and len(background):
        pick = np.flatnonzero(rng.random(n) < p_mix)
        if pick.size:
            bg = torch.from_numpy(background[rng.integers(len(background), size=pick.size)]
                                  .astype(np.float32)[:, None])
            g = torch.from_numpy(rng.uniform(-3.0, 0.0, (pick.size, 1, 1, 1))
                                 .astype(np.float32))
            idx = torch.from_numpy(pick)
            xb[idx] = torch.logaddexp(xb[idx], bg + g)
    half = level_db * NATS_PER_DB          # the features are natural-log power
    gain = torch.from_numpy(rng.uniform(-half, half, (n, 1, 1, 1)).astype(np.float32))
    xb = xb + gain
    floor = xb.amin(dim=(2, 3), keepdim=True)
    for i in range(n):
        if rng.random() < 0.5:
            f0, fw = int(rng.integers(0, m - 8)), int(rng.integers(1, 8))
            xb[i, :, f0:f0 + fw, :] = floor[i]
        if rng.random() < 0.3:
            t0, tw = int(rng.integers(15, t - 10)), int(rng.integers(1, 10))
            xb[i, :, :, t0:t0 + tw] = floor[i]
    return xb


def _teacher_targets(paths: Sequence[Path], x: np.ndarray, fcfg: 'FeatureConfig', threads: int,
                     batch: int = 1024) -> tuple[np.ndarray, list[dict]]:
    """The teachers' averaged probabilities on every training window, and who they are.

    Computed once on the windows as stored, not per augmented batch: the augmentations
    (level, masks, extra background) keep a window's class, and one pass of a few ONNX
    models over the set costs a minute where a pass per batch would double training time.
    A teacher must use the same features (its metadata is checked).
    """
    from soft.classify.inference import Classifier

    teachers = [Classifier(p, expected=fcfg, threads=threads) for p in paths]
    out = np.mean([t.predict_all(x, batch) for t in teachers], axis=0).astype(np.float32)
    return out, [{'path': str(t.path), 'version': t.version, 'sha256': t.sha256}
                 for t in teachers]


def _distilled(label_loss, logits, soft_targets, weight: float):
    """Per-window loss: the label loss blended with cross-entropy to the teachers' targets."""
    import torch

    if soft_targets is None:
        return label_loss
    soft = -(soft_targets * torch.log_softmax(logits, dim=1)).sum(dim=1)
    return (1.0 - weight) * label_loss + weight * soft


def _evaluate(probs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray) -> dict:
    from soft.classify.calibrate import confusion, decide, per_class

    pred = decide(probs, thresholds)
    conf = confusion(labels, pred, taxonomy.NUM_CLASSES)
    return {'n': int(len(labels)), 'accuracy': float(np.mean(pred == labels)) if len(labels)
            else float('nan'),
            'argmax_accuracy': float(np.mean(probs.argmax(1) == labels)) if len(labels)
            else float('nan'),
            'confusion': conf.tolist(), 'per_class': per_class(conf)}


CALIBRATION_ORIGINS = ('synthetic', 'negative', 'background')


def choose_and_check(args: argparse.Namespace, data: dict, probs: np.ndarray,
                     fa_probs: np.ndarray | None, cal_probs: np.ndarray | None,
                     stream_probs: np.ndarray | None = None
                     ) -> tuple[list, np.ndarray, dict]:
    """Thresholds from a model's calibrated probabilities, and what they achieve.

    ``probs`` are on every validation window, ``fa_probs`` on the generated background
    streams, ``cal_probs`` on the real threshold-check windows (``data['calib']``) and
    ``stream_probs`` on a site's long recordings (``data['streams']``, --check-streams). The
    thresholds come from the generated validation and both background sets; the real
    validation clips are only scored. Shared by training and by re-thresholding an exported
    model (:mod:`soft.classify.rethreshold`), so both apply the same rules.
    """
    from soft.classify.calibrate import choose_thresholds, decide, reportable

    va, cal = data['val'], data['calib']
    calib = np.isin(va.origin, CALIBRATION_ORIGINS)
    fa_hours = args.fa_minutes / 60.0 if fa_probs is not None else 0.0
    cal_hours = cal.hours if cal is not None else 0.0
    if cal_probs is not None:
        # only what a sensor could report: no impulsive class from a sustained window
        cal_probs = cal_probs[reportable(cal_probs, cal.sustained)]
    extra = [(cal_probs, cal_hours)] if cal_probs is not None else []
    streams = data.get('streams')
    stream_hours = streams.hours if streams is not None else 0.0
    if stream_probs is not None:
        stream_probs = stream_probs[reportable(stream_probs, streams.sustained)]
        extra.append((stream_probs, stream_hours))
    budgets = [args.max_fa_per_hour if c.police else args.max_fa_per_hour_other
               for c in taxonomy.CLASSES]
    choices = choose_thresholds(probs[calib], va.y[calib], taxonomy.NUM_CLASSES,
                                fa_probs, fa_hours, args.target_precision,
                                budgets, ceiling=args.max_threshold,
                                extra_backgrounds=extra, keep_recall=args.keep_recall,
                                over_budget_ceiling=args.max_threshold_over_budget)
    thresholds = np.array([c.threshold for c in choices])
    results = {}
    for name, mask in (('real', va.origin == 'real'), ('real_mixed', va.origin == 'real_mixed'),
                       ('generated', calib)):
        if mask.any():
            results[name] = _evaluate(probs[mask], va.y[mask], thresholds)
    for key, fp, hours in (('false_alarms', fa_probs, fa_hours),
                           ('false_alarms_real_heldout', cal_probs, cal_hours),
                           ('false_alarms_recordings', stream_probs, stream_hours)):
        if fp is None or hours <= 0:
            continue
        d = decide(fp, thresholds)
        results[key] = {
            'windows': int(len(d)), 'hours': hours,
            'per_hour': float(np.sum(d != 0) / hours),
            'police_per_hour': float(np.isin(d, taxonomy.police_ids()).sum() / hours),
            'per_class_per_hour': np.bincount(d, minlength=taxonomy.NUM_CLASSES)[1:]
            .astype(float).__truediv__(hours).tolist()}
    return choices, thresholds, results


def run_facts(args: argparse.Namespace, data: dict, choices: list, thresholds: np.ndarray,
              results: dict) -> dict:
    """The report's account of the thresholds and of the data they were chosen on."""
    tr, va, cal = data['train'], data['val'], data['calib']
    return {
        'thresholds': thresholds.tolist(),
        'threshold_choice': [asdict(c) for c in choices],
        'results': results,
        'train_windows': dict(Counter(tr.origin.tolist())),
        'train_per_class': np.bincount(tr.y, minlength=taxonomy.NUM_CLASSES).tolist(),
        'val_windows': dict(Counter(va.origin.tolist())),
        'calibration_background': {'clips': len(data['calib_clips']),
                                   'windows': 0 if cal is None else len(cal.windows),
                                   'sustained_windows': 0 if cal is None
                                   else int(cal.sustained.sum()),
                                   'hours': 0.0 if cal is None else cal.hours},
        'check_recordings': data.get('streams_info'),
        'real_train_labels': dict(Counter(r.label for r in data['train_clips'])),
        'real_val_labels': dict(Counter(r.label for r in data['val_clips'])),
        'load_report': data['load_report'],
        'generator_failures': data['generator_failures'], 'kinds': data['kinds'],
        'recipe': data['recipe'],
        'args': {k: str(v) for k, v in vars(args).items()},
    }


def train(args: argparse.Namespace) -> dict:
    """Run the whole pipeline; returns the report (also written to run_dir/report.json)."""
    import torch
    from torch import nn

    from soft.audio.features import FeatureConfig
    from soft.classify.calibrate import fit_temperature, softmax
    from soft.classify.export import export_onnx, model_metadata, sha256
    from soft.classify.model import CHANNELS, SoftCNN, count_parameters

    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(args.seed)
    prog = Progress(args.quiet)
    fcfg = FeatureConfig()
    # checked before the data are built: a wrong checkpoint should fail in a second
    init = _init_checkpoint(args, torch) if args.init_from is not None else None
    ckpt_path = args.run_dir / 'checkpoint.pt'
    resumed = _checkpoint(ckpt_path, '--resume', args, torch) \
        if args.resume and ckpt_path.is_file() else None
    data = _data(args, fcfg, prog)
    tr, va, fa = data['train'], data['val'], data['fa']
    prog.log(f'train windows: {len(tr)} {dict(Counter(tr.origin.tolist()))}; '
             f'validation: {len(va)} {dict(Counter(va.origin.tolist()))}')

    xs = tr.x.astype(np.float32)
    mean = torch.from_numpy(xs.mean(axis=(0, 2)))
    std = torch.from_numpy(xs.std(axis=(0, 2)))
    del xs
    if args.channels is None:
        args.channels = CHANNELS
    if args.relative_frames is None:
        args.relative_frames = 0
    model = SoftCNN(n_mels=fcfg.n_mels, n_classes=taxonomy.NUM_CLASSES,
                    channels=tuple(args.channels), relative_frames=args.relative_frames)
    model.set_band_stats(mean, std)
    if init is not None:
        # the band statistics come with the weights: the network was trained under them
        _load_weights(model, init, '--init-from', args.init_from)
        prog.log(f'initialised from {args.init_from}')
    counts = np.bincount(tr.y, minlength=taxonomy.NUM_CLASSES).astype(np.float64)
    weights = np.where(counts > 0, np.sqrt(counts.sum() / (taxonomy.NUM_CLASSES
                                                           * np.maximum(counts, 1))), 0.0)
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32),
                                  label_smoothing=0.05, reduction='none')
    sample_w = np.where(tr.origin == 'real', args.real_weight, 1.0)
    sample_w = torch.from_numpy(np.where(tr.origin == 'hardneg', args.hard_negative_weight,
                                         sample_w).astype(np.float32))
    bg_feats = tr.x[tr.origin == 'background']
    soft_targets, teachers = None, []
    if args.teacher:
        soft_targets, teachers = _teacher_targets(args.teacher, tr.x, fcfg, args.threads)
        prog.log(f'soft targets from {len(teachers)} teacher(s): '
                 f'{", ".join(t["version"] for t in teachers)}; weight {args.teacher_weight}')
        soft_targets = torch.from_numpy(soft_targets)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    steps_per_epoch = -(-len(tr) // args.batch_size)
    # no schedule for a calibration-only run (--epochs 0): the loop below does not run
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch,
                                                pct_start=0.2) if args.epochs else None
    args.run_dir.mkdir(parents=True, exist_ok=True)
    start_epoch, history = 0, []
    if resumed is not None:
        ck = resumed
        if ck.get('n_train') != len(tr) or ck.get('epochs') != args.epochs:
            raise RuntimeError(f'{ckpt_path}: checkpoint is for another run '
                               f'({ck.get("n_train")} windows, {ck.get("epochs")} epochs)')
        _load_weights(model, ck, '--resume', ckpt_path)
        opt.load_state_dict(ck['opt'])
        if sched is not None:
            sched.load_state_dict(ck['sched'])
        start_epoch, history = ck['epoch'], ck['history']
        prog.log(f'resumed from {ckpt_path} after epoch {start_epoch}')
    prog.log(f'model: {count_parameters(model)} parameters; class weights '
             f'{np.round(weights, 2).tolist()}')

    yt = torch.from_numpy(tr.y)
    for epoch in range(start_epoch, args.epochs):
        rng = np.random.default_rng([args.seed, 100 + epoch])
        order = rng.permutation(len(tr))
        model.train()
        total, seen = 0.0, 0
        prog.start(f'epoch {epoch + 1}/{args.epochs}', steps_per_epoch)
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            xb = torch.from_numpy(tr.x[idx].astype(np.float32)[:, None])
            xb = _augment(xb, rng, bg_feats, level_db=args.level_shift_db)
            opt.zero_grad()
            wb = sample_w[idx]
            logits = model(xb)
            per = _distilled(loss_fn(logits, yt[idx]), logits,
                             None if soft_targets is None else soft_targets[idx],
                             args.teacher_weight)
            loss = (per * wb).sum() / wb.sum()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
            prog.step(note=f'loss {total / seen:.3f}')
        synth_mask = va.origin != 'real'
        lv = _logits(model, va.x[synth_mask])
        acc = float(np.mean(lv.argmax(1) == va.y[synth_mask]))
        history.append({'epoch': epoch + 1, 'loss': total / seen, 'val_synthetic_acc': acc})
        prog.log(f'epoch {epoch + 1}: loss {total / seen:.3f}, generated validation '
                 f'accuracy {acc:.3f}')
        torch.save({'model': model.state_dict(), 'opt': opt.state_dict(),
                    'sched': sched.state_dict(), 'epoch': epoch + 1, 'history': history,
                    'n_train': len(tr), 'epochs': args.epochs,
                    'arch': {'channels': list(args.channels),
                             'relative_frames': args.relative_frames}}, ckpt_path)

    # calibration on generated validation + background streams; real clips stay a test set
    calib = np.isin(va.origin, CALIBRATION_ORIGINS)
    lv = _logits(model, va.x)
    temperature = fit_temperature(lv[calib], va.y[calib])
    cal = data['calib']
    choices, thresholds, results = choose_and_check(
        args, data, softmax(lv, temperature),
        softmax(_logits(model, fa.x), temperature) if fa is not None else None,
        softmax(_logits(model, cal.windows.x), temperature)
        if cal is not None and len(cal.windows) else None,
        softmax(_logits(model, data['streams'].windows.x), temperature)
        if data['streams'] is not None and len(data['streams'].windows) else None)
    prog.log(f'temperature {temperature:.3f}; thresholds {np.round(thresholds, 2).tolist()}')

    date = args.date or time.strftime('%Y-%m-%d')
    version = args.version or f'soft-cnn-{date}-s{args.seed}'
    trained_on = 'generated' if args.no_real else 'generated+devset'
    meta = model_metadata(fcfg.to_metadata(), thresholds.tolist(), version, {
        'soft.temperature': f'{temperature:.6f}',
        'soft.trained_on': trained_on,
        'soft.train_date': date,
        'soft.architecture': f'SoftCNN {len(args.channels)}x(conv3x3-bn-relu-maxpool) '
                             f'channels {"/".join(map(str, args.channels))} '
                             f'{count_parameters(model)} params, per-band normalisation in graph'
                             + (f', pre-onset-relative map over {args.relative_frames} frames'
                                if args.relative_frames else ''),
    })
    real_check = va.x[:16].astype(np.float32)[:, None]
    export_onnx(model.eval(), temperature, meta, args.out, fcfg.n_mels, fcfg.window_frames,
                check_inputs=real_check)
    report = {
        'version': version, 'date': date, 'model': str(args.out), 'sha256': sha256(args.out),
        'bytes': args.out.stat().st_size, 'parameters': count_parameters(model),
        'channels': list(args.channels), 'relative_frames': args.relative_frames,
        'temperature': temperature, 'history': history,
        'teachers': teachers, 'teacher_weight': args.teacher_weight if teachers else 0.0,
        'command': 'soft train ' + ' '.join(getattr(args, 'argv', []) or []),
        **run_facts(args, data, choices, thresholds, results),
        'seconds': prog.elapsed(),
    }
    (args.run_dir / 'report.json').write_text(json.dumps(report, indent=1, default=str))
    if args.model_card is not None:
        from soft.classify.modelcard import render_attribution, render_model_card

        args.model_card.write_text(render_model_card(report))
        (args.model_card.parent / 'ATTRIBUTION.md').write_text(
            render_attribution(data['records'], data['train_clips'],
                               data['val_clips'] + data['calib_clips']))
    prog.log(f'wrote {args.out} ({report["bytes"]} bytes) in {prog.elapsed():.0f} s')
    _print_summary(report)
    return report


def _print_summary(report: dict) -> None:
    names = [c.name for c in taxonomy.CLASSES]
    for key, res in report['results'].items():
        if 'per_class' not in res:
            continue
        print(f'\n{key}: {res["n"]} windows, accuracy {res["accuracy"]:.3f} '
              f'(argmax {res["argmax_accuracy"]:.3f})', file=sys.stderr)
        for c, row in enumerate(res['per_class']):
            if row['support'] or row['predicted']:
                print(f'  {names[c]:<14} P {row["precision"]:.2f} R {row["recall"]:.2f} '
                      f'n={row["support"]}', file=sys.stderr)
    for key, what in (('false_alarms', 'generated background streams'),
                      ('false_alarms_real_heldout', 'held-out real background clips')):
        fa = report['results'].get(key)
        if fa:
            print(f'\nfalse alarms on {what}: {fa["per_hour"]:.1f} per sensor-hour '
                  f'({fa["police_per_hour"]:.1f} police) over {fa["hours"] * 60:.1f} min',
                  file=sys.stderr)


if __name__ == '__main__':
    raise SystemExit(main())
