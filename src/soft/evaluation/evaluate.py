"""``soft evaluate MODEL DATA``: how a model does on anyone's labelled recordings.

Six views, all through the deployed streaming detector (:mod:`clip_eval`):

1. clip level: per-class precision, recall, F1 and the confusion matrix of each clip's most
   confident detection;
2. event based, DCASE 2017 task 2 style: 30 s mixtures of DATA's own clips at -6, 0 and
   +6 dB EBR (:mod:`mixtures`), scored with sed_eval's definitions (:mod:`event_metrics`);
   strongly labelled recordings (DCASE layout) are also scored as they are;
3. false alarms per hour of the police classes on background-only streams (DATA's background
   clips concatenated, and generated traffic), and on long background recordings streamed
   whole from disk (``--streams``, and DATA's background files over ``--max-clip-s``:
   :mod:`recordings`), the only data that can show a rate near 1 per hour;
4. the clip level again with every clip band-limited, as if recorded at a lower sample rate
   (``--bandwidths``): a model that leans on the top band fails on such recordings, and on
   far sources that lost it to the air;
5. the clip level, the mixtures and the real-background false alarms again with every clip
   and background at a street's level on the sensors' microphone (``--street-spl``):
   recordings come at their makers' levels, and a model that tells background by loudness
   passes 1-3 and fails on a street;
6. the clip level again with every clip heard from further off (``--far-m``: air absorption
   and ground reflection over the added path, then at street level as in 5): a district's
   sensors hear most shots from 200-1200 m, duller than any recording of one.

Each missed mixture event is also given the cause that lost it (:mod:`misses`): no window
from the detector's front end, or the model's judgement of the windows it had; and each
insertion the cause of it (:mod:`insertions`): a background-only mixture, the same sound
reported again, part of a sound heard as another class, or background beside an event.

On the shared dev set only the validation groups of the training's own split are used
(same fraction and seed as ``soft train``), so the evaluation never hears a training clip.
Nothing is written but the JSON report: no audio, no features.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from soft.audio.drivers import NS
from soft.classify import taxonomy
from soft.cliargs import float_in, range_in, values_in
from soft.evaluation import clip_eval, mixtures as mx, recordings
from soft.evaluation.intervals import format_ci as _ci, poisson_rate
from soft.evaluation.insertions import INSERTIONS_DEFINITION, InsertionLedger
from soft.evaluation.misses import MISSES_DEFINITION, MissLedger
from soft.evaluation.event_metrics import DCASE_COLLAR_S, Event, EventBasedMetrics, \
    merge_repeats

# soft train's defaults (--val-fraction 0.25, --seed 0): the held-out real clips.
TRAIN_VAL_FRACTION = 0.25
TRAIN_SEED = 0
MERGE_GAP_S = mx.BURST_GAP_S
STREAM_S = 120.0
MAX_REAL_FA_S = 3600.0
# Nyquist frequencies of recordings made at 11.025 and 8 kHz (a little under, as resamplers
# leave a transition band)
BANDWIDTHS_HZ = (5500.0, 3800.0)
BANDLIMIT_ORDER = 16
# added paths (m) for the far clip level: a block away, and the district's far sensors
FAR_M = (300.0, 800.0)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='soft evaluate',
        description='Evaluate an ONNX classifier, through the deployed streaming detector, on '
        'a folder of labelled recordings: clip-level precision/recall/F1 and confusion, '
        'DCASE-style event-based error rate and F1 on 30 s mixtures at -6/0/+6 dB '
        'event-to-background ratio, and police false alarms per hour on background streams. '
        'Layouts: the shared dev-set manifest, ESC-50, UrbanSound8K, DCASE strong labels '
        '(onset offset label), MIVIA audio events (XML), or label/clip.wav folders. No audio '
        'is written.')
    p.add_argument('model', type=Path, help='ONNX classifier (e.g. models/soft_classifier.onnx)')
    p.add_argument('data', type=Path, help='dataset folder')
    p.add_argument('--out', type=Path, default=None, help='write the JSON report here')
    p.add_argument('--mixtures', type=int, default=300,
                   help='30 s mixtures per EBR (about half carry an event; 0: none)')
    p.add_argument('--seed', type=int, default=0, help='seed of mixtures and backgrounds')
    p.add_argument('--split', choices=('val', 'all'), default=None,
                   help='clips to use: the held-out validation groups of the training split, '
                   'or all (default: val for the shared dev-set manifest, all otherwise)')
    p.add_argument('--val-fraction', type=float, default=TRAIN_VAL_FRACTION,
                   help='validation fraction of the training run (soft train --val-fraction)')
    p.add_argument('--split-seed', type=int, default=TRAIN_SEED,
                   help='split seed of the training run (soft train --split-seed, which '
                   'defaults to its --seed)')
    p.add_argument('--label-map', type=Path, default=None,
                   help='YAML or CSV file mapping dataset labels to taxonomy classes '
                   '(or "ignore"), on top of the built-in maps')
    p.add_argument('--strict', action='store_true',
                   help='an unmapped label is an error (default: background, counted)')
    p.add_argument('--fa-minutes', type=float, default=10.0,
                   help='minutes of generated traffic for the false-alarm rate')
    p.add_argument('--max-clip-s', type=float, default=60.0,
                   help='longer weakly labelled clips are skipped (reason: long), except '
                   'background recordings, which are streamed for the false alarms per hour')
    p.add_argument('--onset-budget', type=_budget, default=None, metavar='PER_S',
                   help='onsets a second the detector classifies freely before only the '
                   'salient ones pass (default: config/params/sensor.yaml; 0: every onset), '
                   'to see what a site\'s setting trades')
    p.add_argument('--bandwidths', type=_bandwidths, default=BANDWIDTHS_HZ, metavar='HZ,HZ',
                   help='repeat the clip level with every clip low-passed at each of these '
                   'cutoffs, as recordings made at twice the cutoff (default: '
                   f'{",".join(f"{b:g}" for b in BANDWIDTHS_HZ)}; "none": skip)')
    p.add_argument('--street-spl', type=_spl_range, default=mx.STREET_SPL_DB, metavar='LO,HI',
                   help='repeat the mixtures and the real-background false alarms with every '
                   'background at a level drawn from this range (dB SPL through the sensors\' '
                   'microphone), as a sensor hears a street; recordings\' own levels are '
                   'arbitrary (default: '
                   f'{",".join(f"{v:g}" for v in mx.STREET_SPL_DB)}; "none": skip)')
    p.add_argument('--far-m', type=_far_distances, default=FAR_M, metavar='M,M',
                   help='repeat the clip level with every clip heard from this much further '
                   'off (air absorption, ground reflection; at street level unless '
                   '--street-spl none), as a sensor hears a distant shot (default: '
                   f'{",".join(f"{d:g}" for d in FAR_M)}; "none": skip)')
    p.add_argument('--streams', type=Path, default=None, metavar='DIR',
                   help='every audio file under DIR is an event-free background recording of '
                   'any length (a site\'s own street captures), streamed whole through the '
                   'detector for police false alarms per hour; DATA\'s background recordings '
                   'longer than --max-clip-s are streamed the same way')
    p.add_argument('--quiet', action='store_true', help='no progress lines on stderr')
    return p


_bandwidths = values_in('--bandwidths', 500.0, float('inf'), ' Hz', '5500,3800',
                        'a lower cutoff leaves no sound to classify')
_far_distances = values_in('--far-m', 1.0, 3000.0, ' m', '300,800')
_spl_range = range_in('--street-spl', 20.0, 110.0, ' dB SPL', none_ok=True)
_budget = float_in('--onset-budget', 0.0, 100.0, ' per s')


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``soft evaluate``; 2 on bad input (message, no traceback)."""
    from soft.classify.dataset import ManifestError
    from soft.classify.inference import ModelError
    from soft.classify.layouts import LayoutError

    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        report = evaluate(args)
    except (FileNotFoundError, LayoutError, ManifestError, ModelError, ValueError) as exc:
        print(f'soft evaluate: {type(exc).__name__}: {exc}', file=sys.stderr)
        return 2
    print(format_report(report))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(_clean(report), indent=1) + '\n', encoding='utf-8')
        print(f'report written to {args.out}')
    return 0


def _clean(o):
    """JSON has no NaN: undefined figures become null."""
    if isinstance(o, float):
        return None if math.isnan(o) or math.isinf(o) else o
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return _clean(float(o))
    return o


class _Log:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def __call__(self, text: str) -> None:
        if not self.quiet:
            print(f'[{time.perf_counter() - self.t0:6.1f}s] {text}', file=sys.stderr, flush=True)


def select_split(data, split: str, val_fraction: float, seed: int) -> tuple[list, dict]:
    """The clips to evaluate and how they were chosen."""
    from soft.classify.dataset import split_by_group

    clips = data.clips
    if split == 'all':
        return clips, {'split': 'all', 'clips': len(clips)}
    if data.manifest_records:
        records, how = data.manifest_records, 'training split of the shared manifests'
    else:
        records, how = [c.record() for c in clips], 'split_by_group of this dataset'
    _, val = split_by_group(records, val_fraction, seed)
    keep = {Path(r.path).resolve() for r in val}
    chosen = [c for c in clips if Path(c.path).resolve() in keep]
    groups = {c.group for c in chosen}
    return chosen, {'split': 'val', 'how': how, 'val_fraction': val_fraction, 'seed': seed,
                    'clips': len(chosen), 'groups': len(groups), 'of_clips': len(clips)}


def _events(dets, shift_s: float = 0.0, t_min: float = -math.inf) -> list[Event]:
    out = []
    for d in dets:
        t = d.onset_ns / NS - shift_s
        if t >= t_min:
            out.append(Event(t, t + max(d.duration_s, 0.01), taxonomy.by_id(d.class_id).name))
    return out


def evaluate(args: argparse.Namespace) -> dict:
    """Run every section and return the report (see the module docstring)."""
    from soft.classify import layouts
    from soft.classify.inference import Classifier

    log = _Log(args.quiet)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    classifier = Classifier(args.model, threads=1)
    cfg, cfg_info = clip_eval.deployed_detector_config()
    if args.onset_budget is not None:
        cfg = dataclasses.replace(cfg, onset_budget_per_s=args.onset_budget)
        cfg_info = {**cfg_info, 'onset_budget_per_s': args.onset_budget,
                    'source': cfg_info['source'] + '; --onset-budget on the command line'}
    sr = classifier.feature_config.sample_rate
    data = layouts.load_dataset(args.data, args.label_map, args.strict)
    split = args.split or ('val' if data.layout == 'manifest' else 'all')
    clips, split_info = select_split(data, split, args.val_fraction, args.split_seed)
    log(f'{data.layout} layout: {len(data.clips)} clips listed, {len(clips)} in split {split}')
    clips, long_bg = layouts.long_backgrounds(clips, args.max_clip_s)
    streams = recordings.pooled([c.path for c in long_bg] + (
        recordings.audio_under(args.streams) if args.streams is not None else []))
    loaded, audio_rep = layouts.load_audio(clips, sr, max_s=args.max_clip_s)
    skipped = list(data.skipped) + list(audio_rep.skipped)
    if data.unknown_labels:
        log(f'warning: {sum(data.unknown_labels.values())} clips with unmapped labels counted '
            f'as background: {dict(data.unknown_labels)}')
    for path, reason in skipped:
        log(f'skipped {path}: {reason}')
    timings['load_s'] = time.perf_counter() - t_start
    report: dict = {
        'model': {'path': str(args.model), 'sha256': classifier.sha256,
                  'version': classifier.version,
                  'thresholds': dict(zip([c.name for c in taxonomy.CLASSES],
                                         classifier.thresholds.tolist()))},
        'detector': cfg_info,
        'data': {'root': str(args.data), 'layout': data.layout, 'listed': len(data.clips),
                 'loaded': audio_rep.loaded, 'labels': dict(Counter(c.label for c, _ in loaded)),
                 'unknown_labels_as_background': dict(data.unknown_labels),
                 'ignored_by_label_map': data.ignored,
                 'skipped_reasons': dict(Counter(r.split(':')[0] for _, r in skipped)),
                 'skipped': [[str(p), r] for p, r in skipped],
                 'kept_with_note': dict(audio_rep.notes),
                 'long_background_recordings': len(long_bg),
                 'streams': None if args.streams is None else str(args.streams), **split_info},
        'seed': args.seed,
    }
    # 1. clip level
    t = time.perf_counter()
    results = clip_eval.evaluate_clips(loaded, classifier, cfg, args.seed)
    clip_metrics = clip_eval.clip_metrics(results)
    clip_metrics['left_out_multi_class'] = sum(1 for c, _ in loaded if c.class_id < 0)
    clip_metrics['lead_in_detections'] = sum(r.lead_in_events for r in results)
    clip_metrics['audio_s'] = sum(x.size for _, x in loaded) / sr
    report['clip_level'] = clip_metrics
    timings['clip_level_s'] = time.perf_counter() - t
    log(f'clip level: {len(results)} clips, accuracy {clip_metrics["accuracy"]:.3f}')

    # 2. event based
    t = time.perf_counter()
    weak = [(c, x) for c, x in loaded if c.events is None]
    report['event_based'] = _mixture_section(weak, classifier, cfg, sr, args, log)
    strong = [(c, x) for c, x in loaded if c.events is not None]
    if strong:
        report['event_based_recordings'] = _recordings_section(strong, classifier, cfg, sr,
                                                               args.seed)
    timings['event_based_s'] = time.perf_counter() - t

    # 3. false alarms
    t = time.perf_counter()
    bg_clips = [x for c, x in loaded if c.class_id == taxonomy.BACKGROUND
                and (c.events is None or not c.events)]
    report['false_alarms'] = _false_alarm_section(bg_clips, classifier, cfg, sr, args, log)
    timings['false_alarms_s'] = time.perf_counter() - t
    if streams:
        t = time.perf_counter()
        report['long_recordings'] = recordings.long_recordings_section(
            streams, classifier, cfg, log, roots=[r for r in (args.streams, args.data) if r])
        timings['long_recordings_s'] = time.perf_counter() - t

    # 4. band-limited recordings
    t = time.perf_counter()
    report['bandwidth'] = _bandwidth_section(loaded, classifier, cfg, sr, args, log)
    timings['bandwidth_s'] = time.perf_counter() - t

    # 5. at street level
    t = time.perf_counter()
    report['street_level'] = _street_section(loaded, weak, bg_clips, classifier, cfg, sr, args,
                                             log)
    timings['street_level_s'] = time.perf_counter() - t

    # 6. heard from further off
    t = time.perf_counter()
    report['far'] = _far_section(loaded, classifier, cfg, sr, args, log)
    timings['far_s'] = time.perf_counter() - t
    timings['total_s'] = time.perf_counter() - t_start
    report['timings'] = timings
    return report


def _street_section(loaded, weak, bg_clips, classifier, cfg, sr: int, args, log) -> dict:
    """Clip level, mixtures and real-background false alarms again, at a sensor's level."""
    if args.street_spl is None:
        return {'skipped': 'no --street-spl'}
    lo, hi = args.street_spl
    section: dict = {'definition': f'each clip, each mixture\'s background, and each 2 min of '
                     f'the real background streams, set to a level drawn from {lo:g}-{hi:g} dB '
                     f'SPL (median one-second RMS) through the sensors\' '
                     f'{cfg.sensitivity_dbfs:g} dBFS microphone; EBRs and annotations '
                     'unchanged', 'spl_db': [lo, hi]}
    results = clip_eval.evaluate_clips(loaded, classifier, cfg, args.seed, street_spl=(lo, hi))
    clips = clip_eval.clip_metrics(results)
    section['clip_level'] = clips
    log(f'clip level at street level: accuracy {clips["accuracy"]:.3f}')
    mixed = _mixture_section(weak, classifier, cfg, sr, args, log, street=(lo, hi))
    section['event_based'] = {k: mixed[k] for k in ('per_ebr', 'misses', 'insertions')
                              if k in mixed}
    section['false_alarms'] = _false_alarm_section(bg_clips, classifier, cfg, sr, args, log,
                                                   street=(lo, hi))
    return section


def _bandwidth_section(loaded, classifier, cfg, sr: int, args, log) -> dict:
    """Clip level on low-passed copies of every clip (zero phase: onsets stay put)."""
    from scipy import signal

    from soft.classify.augment import bandlimit_sos

    section: dict = {'definition': f'every clip low-passed (Butterworth order {BANDLIMIT_ORDER}'
                     ', zero phase) at the cutoff, as a recording made at twice the cutoff; '
                     'then the clip level as above', 'per_cutoff': {}}
    for cut in args.bandwidths:
        try:
            sos = bandlimit_sos(cut, sr, BANDLIMIT_ORDER)
        except ValueError as exc:
            raise ValueError(f'--bandwidths: {exc}') from None
        narrow = [(c, signal.sosfiltfilt(sos, x).astype(np.float32)) for c, x in loaded]
        results = clip_eval.evaluate_clips(narrow, classifier, cfg, args.seed)
        m = clip_eval.clip_metrics(results)
        section['per_cutoff'][f'{cut:g}'] = m
        log(f'clip level band-limited at {cut:g} Hz: accuracy {m["accuracy"]:.3f}')
    return section


def _far_section(loaded, classifier, cfg, sr: int, args, log) -> dict:
    """Clip level on copies of every clip heard from further off, at street level.

    The added path's draws (heights, weather, a corner) depend on the seed and the clip only,
    and the street levels are the street section's, so two reports pair clip by clip and the
    difference from the street section is the distance alone.
    """
    from soft.classify.featureset import heard_from

    street = args.street_spl
    section: dict = {'definition': 'every clip heard from this much further off (the '
                     'simulator\'s propagation: spreading, ISO 9613-1 air absorption, ground '
                     'reflection, sometimes a corner; peak kept), then '
                     + (f'at street level ({street[0]:g}-{street[1]:g} dB SPL, the street '
                        'section\'s draws)' if street else 'at its recording\'s level')
                     + '; then the clip level as above', 'per_distance': {}}
    for d in args.far_m:
        far = [(c, heard_from(x, np.random.default_rng([args.seed, 13, k]), sr, d)
                .astype(np.float32)) for k, (c, x) in enumerate(loaded)]
        results = clip_eval.evaluate_clips(far, classifier, cfg, args.seed, street_spl=street)
        m = clip_eval.clip_metrics(results)
        section['per_distance'][f'{d:g}'] = m
        log(f'clip level heard from {d:g} m further: accuracy {m["accuracy"]:.3f}')
    return section


def mixture_sources(weak, sr: int) -> tuple[list[mx.Source], list[mx.Source]]:
    """The event segments and ambient backgrounds the mixtures are built from (also used by
    bench/bench_levels.py, which must rebuild the very same mixtures)."""
    from soft.classify.layouts import AMBIENT_LABELS, normalise_label

    events = [mx.Source(str(c.path), c.label, c.class_id, mx.event_segment(x, sr))
              for c, x in weak if c.class_id > taxonomy.BACKGROUND]
    ambient = [mx.Source(str(c.path), c.label, c.class_id, mx.trim_silence(x, sr))
               for c, x in weak if c.class_id == taxonomy.BACKGROUND
               and normalise_label(c.label) in AMBIENT_LABELS]
    return events, ambient


def _mixture_section(weak, classifier, cfg, sr: int, args, log,
                     street: tuple[float, float] | None = None) -> dict:
    """Mixtures at their recordings' level; with ``street`` (dB SPL range), the same
    mixtures with each background set to a level drawn from it, as a sensor would hear it."""
    events, ambient = mixture_sources(weak, sr)
    section: dict = {'definition': 'sed_eval event-based, onset only, collar '
                     f'{DCASE_COLLAR_S} s; repeats of one class merged when less than '
                     f'{MERGE_GAP_S} s apart; one reference per sound of an event clip '
                     f'(quiet gaps over {mx.BURST_GAP_S} s separate sounds)',
                     'ebr_definition': '20 log10(rms(event segment) / rms(background over '
                     'the same span)), as the DCASE 2017 task 2 synthesiser',
                     'event_clips': len(events), 'ambient_clips': len(ambient),
                     'event_classes': dict(Counter(taxonomy.by_id(s.class_id).name
                                                   for s in events))}
    if args.mixtures <= 0 or not events:
        section['skipped'] = 'no mixtures requested' if args.mixtures <= 0 else \
            'no event clips (non-background classes) in the data'
        return section
    rng = np.random.default_rng([args.seed, 1])
    recipes = mx.make_recipes(args.mixtures, events, ambient, rng, sample_rate=sr)
    merged = {e: EventBasedMetrics(DCASE_COLLAR_S) for e in mx.EBRS_DB}
    raw = {e: EventBasedMetrics(DCASE_COLLAR_S) for e in mx.EBRS_DB}
    both = EventBasedMetrics(DCASE_COLLAR_S)
    lost = {e: MissLedger(DCASE_COLLAR_S) for e in mx.EBRS_DB}
    extra = {e: InsertionLedger(DCASE_COLLAR_S) for e in mx.EBRS_DB}
    detections = 0
    for k, rec in enumerate(recipes):
        bg = mx.render_background(rec, ambient, sr)
        ebrs = mx.EBRS_DB if rec.event is not None else (None,)
        spl = None if street is None else \
            float(np.random.default_rng([args.seed, 3, k]).uniform(*street))
        for ebr in ebrs:
            m = mx.mix(rec, bg, events, 0.0 if ebr is None else ebr, sr)
            if spl is not None:
                m = mx.at_street_level(m, spl, cfg.sensitivity_dbfs)
            windows: list = []
            dets, _ = clip_eval.run_stream(m.audio, classifier, cfg, sr,
                                           observer=windows.append)
            detections += len(dets)
            est = _events(dets)
            est_merged = merge_repeats(est, MERGE_GAP_S)
            kind = 'real ambience' if rec.ambient else 'generated traffic'
            for e in (mx.EBRS_DB if ebr is None else (ebr,)):
                merged[e].add(m.annotations, est_merged)
                raw[e].add(m.annotations, est)
                extra[e].add(m.annotations, est_merged, kind)
            if ebr is not None:
                lost[ebr].add(m.annotations, est_merged, windows, kind)
            both.add(m.annotations, est_merged)
        if (k + 1) % 20 == 0:
            log(f'mixtures: {k + 1}/{len(recipes)}')
    section.update({
        'mixtures_per_ebr': len(recipes),
        'with_event': sum(r.event is not None for r in recipes),
        'real_backgrounds': sum(bool(r.ambient) for r in recipes),
        'detections': detections,
        'per_ebr': {f'{e:+g}': merged[e].results() for e in mx.EBRS_DB},
        'per_ebr_unmerged': {f'{e:+g}': {k: o[k] for k in ('error_rate', 'f1', 'insertions')}
                             for e in mx.EBRS_DB for o in (raw[e].results()['overall'],)},
        'all_ebrs': both.results(),
        'misses': {'definition': MISSES_DEFINITION,
                   'per_ebr': {f'{e:+g}': lost[e].results() for e in mx.EBRS_DB}},
        'insertions': {'definition': INSERTIONS_DEFINITION,
                       'per_ebr': {f'{e:+g}': extra[e].results() for e in mx.EBRS_DB}},
    })
    return section


def _recordings_section(strong, classifier, cfg, sr: int, seed: int) -> dict:
    """Strongly labelled recordings scored as they are (no EBR control)."""
    metrics = EventBasedMetrics(DCASE_COLLAR_S)
    fcfg = classifier.feature_config
    tail = (fcfg.window_frames + cfg.pre_onset_frames) * fcfg.hop_length / sr \
        + cfg.sustained_period_s + 0.2
    for k, (c, x) in enumerate(strong):
        stream, lead = clip_eval.embed(x, sr, np.random.default_rng([seed, 13, k]), tail)
        dets, _ = clip_eval.run_stream(stream, classifier, cfg, sr)
        shift = lead / sr
        est = merge_repeats(_events(dets, shift, -clip_eval.ONSET_TOLERANCE_S), MERGE_GAP_S)
        ref = [Event(a.onset_s, a.offset_s, taxonomy.by_id(a.class_id).name)
               for a in c.events if a.class_id != taxonomy.BACKGROUND]
        metrics.add(ref, est)
    return metrics.results()


def _false_alarm_section(bg_clips, classifier, cfg, sr: int, args, log,
                         street: tuple[float, float] | None = None) -> dict:
    """Police events per hour on background streams; with ``street`` (dB SPL range), the
    real streams only, each 2 min stretch set to a level drawn from it."""
    rng = np.random.default_rng([args.seed, 2])
    streams: list[tuple[str, np.ndarray]] = []
    real = mx.background_stream(bg_clips, sr, rng) if bg_clips else np.zeros(0, np.float32)
    real = real[:int(MAX_REAL_FA_S * sr)]
    for k, i in enumerate(range(0, real.size, int(STREAM_S * sr))):
        part = real[i:i + int(STREAM_S * sr)]
        if street is not None:
            spl = float(np.random.default_rng([args.seed, 4, k]).uniform(*street))
            part = np.clip(part * mx.street_gain(part, spl, sr, cfg.sensitivity_dbfs),
                           -1.0, 1.0).astype(np.float32)
        streams.append(('real', part))
    from soft.sim.background import PROFILES

    profiles = sorted(PROFILES)
    left, k = (0.0 if street is not None else args.fa_minutes * 60.0), 0
    while left > 1.0:
        dur = min(STREAM_S, left)
        streams.append(('generated', mx.traffic(dur, profiles[k % len(profiles)],
                                                int(rng.integers(2 ** 31)), sr)))
        left -= dur
        k += 1
    police = set(taxonomy.police_ids())
    out: dict = {}
    for kind in ('real', 'generated') if street is None else ('real',):
        parts = [x for name, x in streams if name == kind]
        hours = sum(x.size for x in parts) / sr / 3600.0
        per_class: Counter = Counter()
        windows = over_budget = 0
        for x in parts:
            dets, diag = clip_eval.run_stream(x, classifier, cfg, sr)
            per_class.update(taxonomy.by_id(d.class_id).name for d in dets)
            windows += int(diag['classified_windows'])
            over_budget += int(diag['onsets_over_budget'])
        n_police = sum(n for name, n in per_class.items()
                       if taxonomy.by_name(name).id in police)
        out[kind] = {'hours': hours, 'events_per_class': dict(per_class),
                     'police_events': n_police,
                     'police_per_hour': n_police / hours if hours else float('nan'),
                     'police_per_hour_ci95': list(poisson_rate(n_police, hours)),
                     'all_per_hour': sum(per_class.values()) / hours if hours
                     else float('nan'),
                     # the classifier's load: its MACs per window times this is its cost
                     'classified_windows_per_s': windows / hours / 3600 if hours
                     else float('nan'),
                     'onsets_over_budget': over_budget}
        log(f'false alarms on {kind} background: {hours * 60:.1f} min, {n_police} police')
    if street is not None:
        return out
    total_h = out['real']['hours'] + out['generated']['hours']
    total_p = out['real']['police_events'] + out['generated']['police_events']
    out['combined'] = {'hours': total_h,
                       'police_per_hour': total_p / total_h if total_h else float('nan'),
                       'police_per_hour_ci95': list(poisson_rate(total_p, total_h))}
    out['real']['source'] = 'background-class clips of the evaluated split, cross-faded'
    out['generated']['source'] = 'soft.sim.background traffic, profiles in turn'
    return out


def _f(v: float, fmt: str = '.2f') -> str:
    return '-' if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _ebr_lines(per_ebr: dict) -> list[str]:
    out = [f'{"EBR dB":<8}{"ER":>7}{"ER 95% CI":>14}{"F1":>7}{"F1 95% CI":>14}'
           f'{"P":>7}{"R":>7}{"S":>5}{"D":>5}{"I":>5}{"Nref":>6}']
    for ebr, res in per_ebr.items():
        o = res['overall']
        out.append(f'{ebr:<8}{_f(o["error_rate"]):>7}{_ci(o.get("error_rate_ci95")):>14}'
                   f'{_f(o["f1"]):>7}{_ci(o.get("f1_ci95")):>14}'
                   f'{_f(o["precision"]):>7}{_f(o["recall"]):>7}{o["substitutions"]:>5}'
                   f'{o["deletions"]:>5}{o["insertions"]:>5}{o["n_ref"]:>6}')
    return out


def _clip_lines(c: dict, title: str) -> list[str]:
    lines = [f'{title} ({c["clips"]} clips, accuracy {_f(c["accuracy"])}, '
             f'macro F1 {_f(c["macro_f1"])})',
             f'{"class":<15}{"support":>8}{"pred":>6}{"P":>7}{"P 95% CI":>14}{"R":>7}'
             f'{"R 95% CI":>14}{"F1":>7}']
    for name, m in c['per_class'].items():
        if m['support'] or m['predicted']:
            lines.append(f'{name:<15}{m["support"]:>8}{m["predicted"]:>6}'
                         f'{_f(m["precision"]):>7}{_ci(m.get("precision_ci95")):>14}'
                         f'{_f(m["recall"]):>7}{_ci(m.get("recall_ci95")):>14}{_f(m["f1"]):>7}')
    pa = c['police_alert']
    lines.append(f'police clips alerting: {_f(pa["alerted"])} of {pa["police_clips"]}; '
                 f'false police alerts: {_f(pa["false_alert_rate"])} of {pa["other_clips"]}')
    return lines


def _variant_lines(per: dict, unit: str, what: str) -> list[str]:
    """The clip level of transformed copies of every clip, one line per setting."""
    if not per:
        return []
    lines = ['', f'Clip level, {what} (P / R of the classes with 5 clips or more):']
    for key, m in per.items():
        shown = ', '.join(f'{k} {_f(v["precision"])} / {_f(v["recall"])}'
                          for k, v in m['per_class'].items() if v['support'] >= 5)
        lines.append(f'{key:>6} {unit}: accuracy {_f(m["accuracy"])}, macro F1 '
                     f'{_f(m["macro_f1"])}; {shown}')
    return lines


def _street_lines(st: dict | None) -> list[str]:
    if not st or 'event_based' not in st:
        return []
    out = ['', f'At street level ({st["definition"]}):']
    if 'clip_level' in st:
        out += _clip_lines(st['clip_level'], 'Clip level at street level')
    if st['event_based'].get('per_ebr'):
        out += _ebr_lines(st['event_based']['per_ebr'])
        out += _cause_tables(st['event_based'])
    f = st.get('false_alarms', {}).get('real')
    if f and f.get('hours'):
        out.append(f'real background {f["hours"] * 60:.1f} min: police events per hour '
                   f'{_f(f["police_per_hour"], ".1f")} '
                   f'{_ci(f.get("police_per_hour_ci95"), ".1f")} ({f["police_events"]} events; '
                   f'{f["events_per_class"]})')
    return out


def _cause_lines(ledger: dict | None, title: str) -> list[str]:
    if not ledger:
        return []
    causes = list(next(iter(ledger['per_ebr'].values()))['causes'])
    width = max(18, 2 + max(len(c) for c in causes))
    out = [title, f'{"EBR dB":<8}' + ''.join(f'{c:>{width}}' for c in causes)]
    for ebr, res in ledger['per_ebr'].items():
        out.append(f'{ebr:<8}' + ''.join(f'{res["overall"][c]:>{width}}' for c in causes))
    return out


def _cause_tables(e: dict) -> list[str]:
    return _cause_lines(e.get('misses'), 'where the reference events went (one cause each; '
                        'see misses.py):') \
        + _cause_lines(e.get('insertions'), 'where the insertions came from (one cause each; '
                       'see insertions.py):')


def format_report(r: dict) -> str:
    """The plain-text tables printed on stdout."""
    lines = []
    d = r['data']
    lines.append(f'model {r["model"]["version"]}  sha256 {r["model"]["sha256"][:16]}...')
    lines.append(f'data {d["root"]} ({d["layout"]}, split {d["split"]}): {d["loaded"]} clips '
                 f'loaded, skipped {d["skipped_reasons"] or 0}, unknown labels '
                 f'{d["unknown_labels_as_background"] or 0}'
                 + (f', {d["long_background_recordings"]} long background recordings streamed'
                    if d.get('long_background_recordings') else ''))
    lines.append('')
    lines += _clip_lines(r['clip_level'], 'Clip level')
    e = r['event_based']
    lines.append('')
    if 'per_ebr' in e:
        lines.append(f'Event based on {e["mixtures_per_ebr"]} x 30 s mixtures per EBR '
                     f'({e["with_event"]} with an event; onset collar {DCASE_COLLAR_S} s)')
        lines.extend(_ebr_lines(e['per_ebr']))
        lines.append('per class, all EBRs (F1 / ER): ' + ', '.join(
            f'{k} {_f(v["f1"])}/{_f(v["error_rate"])}'
            for k, v in e['all_ebrs']['class_wise'].items() if v['n_ref']))
        lines.extend(_cause_tables(e))
    else:
        lines.append(f'Event based: {e.get("skipped")}')
    if 'event_based_recordings' in r:
        o = r['event_based_recordings']['overall']
        lines.append(f'recordings as annotated: ER {_f(o["error_rate"])}, F1 {_f(o["f1"])} '
                     f'(Nref {o["n_ref"]}, Nsys {o["n_sys"]})')
    fa = r['false_alarms']
    lines.append('')
    lines.append('False alarms (police classes) per hour, 95% CI: ' + ', '.join(
        f'{k} {_f(fa[k]["police_per_hour"], ".1f")} '
        f'{_ci(fa[k].get("police_per_hour_ci95"), ".1f")} over {fa[k]["hours"] * 60:.1f} min'
        for k in ('real', 'generated', 'combined')))
    if 'classified_windows_per_s' in fa.get('real', {}):
        lines.append('Windows classified per second of background: ' + ', '.join(
            f'{k} {_f(fa[k]["classified_windows_per_s"])} ({fa[k]["onsets_over_budget"]} '
            'onsets over the budget)' for k in ('real', 'generated')))
    lines.extend(recordings.recording_lines(r.get('long_recordings')))
    lines.extend(_variant_lines(r.get('bandwidth', {}).get('per_cutoff', {}), 'Hz',
                                'every clip band-limited as if recorded at twice the cutoff'))
    lines.extend(_street_lines(r.get('street_level')))
    lines.extend(_variant_lines(r.get('far', {}).get('per_distance', {}), 'm',
                                'every clip heard from this much further off, at street level'
                                if r.get('street_level', {}).get('clip_level') else
                                'every clip heard from this much further off'))
    t = r['timings']
    lines.append(f'time: {t["total_s"]:.0f} s (clips {t["clip_level_s"]:.0f} s, events '
                 f'{t["event_based_s"]:.0f} s, false alarms {t["false_alarms_s"]:.0f} s, '
                 f'band-limited {t.get("bandwidth_s", 0.0):.0f} s, street level '
                 f'{t.get("street_level_s", 0.0):.0f} s, far {t.get("far_s", 0.0):.0f} s'
                 + (f', long recordings {t["long_recordings_s"]:.0f} s'
                    if 'long_recordings_s' in t else '') + ')')
    return '\n'.join(lines)
