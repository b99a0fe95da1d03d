"""Model card and attribution files, rendered from a training report and the manifests.

Written by the pipeline rather than by hand so the figures in the card are the figures the
run measured, and so every clip the model learnt from is credited as its licence requires.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict

from soft.classify import taxonomy
from soft.classify.dataset import ClipRecord
from soft.evaluation.intervals import format_ci, poisson_rate

NAMES = [c.name for c in taxonomy.CLASSES]
# event-free hours before the exact 95 % interval of a rate can fall under 1 per hour
NEEDED_SENSOR_HOURS = -math.log(0.025)


def _f(v: float) -> str:
    return '–' if v is None or (isinstance(v, float) and math.isnan(v)) else f'{v:.2f}'


def _train_minutes(report: dict) -> float:
    """Wall minutes of the whole recipe: every stage when the run continued earlier ones."""
    stages = report.get('stages') or []
    return (sum(st['seconds'] for st in stages) if stages else report['seconds']) / 60


def _ci(ci) -> str:
    return format_ci(ci, sep='–')


def per_class_table(res: dict) -> str:
    lines = ['| class | precision | recall | support | decided as |',
             '|---|---|---|---|---|']
    for c, row in enumerate(res['per_class']):
        if row['support'] == 0 and row['predicted'] == 0:
            continue
        lines.append(f'| {c} {NAMES[c]} | {_f(row["precision"])} | {_f(row["recall"])} | '
                     f'{row["support"]} | {row["predicted"]} |')
    return '\n'.join(lines)


def confusion_table(res: dict) -> str:
    conf = res['confusion']
    used = [c for c in range(len(conf)) if sum(conf[c]) or sum(r[c] for r in conf)]
    head = '| true \\ decided | ' + ' | '.join(str(c) for c in used) + ' |'
    lines = [head, '|---' * (len(used) + 1) + '|']
    for r in used:
        cells = [str(conf[r][c]) if conf[r][c] else '·' for c in used]
        lines.append(f'| {r} {NAMES[r]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


_NEGATIVE_LEVELS = {
    'street': 'at three street levels (45–80 dB SPL through a −46…−30 dBFS microphone, '
              '`--street-negatives`; the threshold-check background too)',
    'both': 'at 0/−12/+8 dB from its recording level and again at three street levels '
            '(45–80 dB SPL through a −46…−30 dBFS microphone, `--street-negatives both`; the '
            'threshold-check background at both)'}


def _street_negatives(args: dict) -> str:
    """The report's --street-negatives level; reports before 'both' existed say 'True'."""
    level = str(args.get('street_negatives'))
    return 'street' if level == 'True' else level


def render_model_card(report: dict, system: dict | None = None,
                      generators: dict | None = None, evaluation: dict | None = None) -> str:
    """The model card markdown for one training report (see train.train).

    ``generators`` is a :mod:`soft.classify.spectralcompare` report; its summary goes in the
    card (the full tables live in GENERATORS_VS_REAL.md).
    """
    args = report.get('args', {})
    recipe = report.get('recipe') or {}
    real_labels = set(report.get('real_train_labels', {}))
    from soft.classify.dataset import LABEL_MAP

    real_classes = sorted({taxonomy.by_name(LABEL_MAP[lb]).id for lb in real_labels})
    val_real = sorted({taxonomy.by_name(LABEL_MAP[lb]).id
                       for lb in report.get('real_val_labels', {})})
    gen_only = [c.id for c in taxonomy.CLASSES if c.id not in val_real]
    channels = report.get('channels', (16, 32, 64, 128))
    negatives = [k.replace('_', ' ') for k, cid in report.get('kinds', {}).items() if cid == 0]
    out = [
        '# S.O.F.T. classifier — model card', '',
        f'- **File**: `{report["model"]}` ({report["bytes"]} bytes)',
        f'- **SHA-256**: `{report["sha256"]}`',
        f'- **Version**: `{report["version"]}`, trained {report["date"]}',
        f'- **Training command**: `{report["command"].strip()}` '
        f'({_train_minutes(report):.1f} min on 2 CPU threads'
        + (', all stages' if report.get('stages') else '') + ')',
        f'- **Architecture**: {len(channels)} × (conv 3×3, batch-norm, ReLU, max-pool 2×2), '
        f'channels {"/".join(map(str, channels))}, global mean+max '
        f'pooling, linear head; {report["parameters"]} '
        'parameters; per-band normalisation (training statistics) inside the graph'
        + (f'; a second input map holds each band relative to its mean over the window\'s '
           f'first {report["relative_frames"]} frames (before the onset)'
           if report.get('relative_frames') else '') + '.',
        '- **Input** `logmel` float32 [N, 1, 64, 100]: `soft.audio.features.logmel` (natural-log '
        'Slaney mel power, 16 kHz, 25 ms Hann window, 10 ms hop, 50–7800 Hz) of a 1.015 s '
        'window starting 10 frames (0.10–0.11 s) before an onset, as the detector cuts it.',
        '- **Output** `probs` float32 [N, 13]: softmax(logits / T), T = '
        f'{report["temperature"]:.3f} (temperature scaling on generated validation windows), '
        'in taxonomy id order.',
        '- **Decision rule**: class = argmax if probs[argmax] ≥ threshold[argmax], else 0 '
        '(background). Thresholds are in the metadata `soft.thresholds`.', '',
        '## Intended use and limits', '',
        'Edge classification of onset-triggered windows on S.O.F.T. street sensors. A small '
        'model trained in well under an hour on two cores; not a validated public-safety '
        'instrument. Every police-class detection is meant for a human operator, never for '
        'automatic action.', '',
        '## Data', '',
        'No downloaded weights or data sets. Two sources:', '',
        '1. **Generated** by `soft.sim.sources.synthesize` (every taxonomy class and '
        f'{len(negatives)} hard negatives: {", ".join(negatives)}), propagated by '
        '`soft.sim.propagation` over 5–200 m (log-uniform; air absorption, ground reflection, '
        '20 % behind a corner). Each rendered source is mixed 3 times into `soft.sim.background` '
        'urban background (each mixture its own background, SNR, window position, microphone) '
        f'at {_rng((recipe.get("mix") or {}).get("snr_db"))} dB SNR **as the simulator\'s '
        'ground truth defines it** (loudest 25 ms of the '
        'sound over the background mean, both band-passed to 150–7000 Hz), random microphone '
        'sensitivity (−46…−30 dBFS for 94 dB SPL), 5 % forced clipping. 60 % of windows start '
        'where the detector starts them (0.095–0.115 s before the onset), the rest 0.02–0.3 s '
        'before it; sustained sounds also from their middle. Background-only windows are '
        'class 0, and so are **the windows the detector itself submits** (onsets and '
        'sustained-sound checks) on background-only streams: the hard negatives behind false '
        'alarms.',
        '   **Street augmentation** (`soft.classify.augment`, probabilities from the recipe): '
        f'speed ×{_rng(recipe.get("speed_range"))} on {_pct(recipe.get("speed_probability"))} '
        f'of sources, pitch ×{_rng(recipe.get("pitch_range"))} at constant duration on '
        f'{_pct(recipe.get("pitch_probability"))} of sustained ones; impulsive sounds repeated '
        f'as volleys of {_rng(recipe.get("burst_shots"))} on '
        f'{_pct(recipe.get("burst_probability"))} (never explosions); reverberation by generated '
        'impulse '
        'responses of street canyons (facades 8–40 m apart, image sources with per-reflection '
        'facade loss) and squares, with band-dependent RT60 0.2–2.5 s, on '
        f'{_pct(recipe.get("reverb_probability"))} of events; the whole mixture through a '
        'random street microphone (high-pass 40–250 Hz, presence peak 0–6 dB at 2–7 kHz, '
        f'±3 dB tilt) on {_pct(recipe.get("mic_probability"))}'
        f'{_bandlimit_text(recipe)}. The mixing pool joins the '
        'generated streets and the **training split\'s real ambience** (rain, sea waves, '
        'helicopter, SESA casual, wind, traffic), each clip set to 45–72 dB(A).',
        '2. **Real** clips of `shared/data/devset` and `devset-extra` (ESC-10, SESA and openly '
        'licensed Freesound-derived clips; full credits in [ATTRIBUTION.md](ATTRIBUTION.md)). '
        'Split by source recording (ESC and named clips by Freesound id, SESA by blocks of '
        'ten consecutive numbers since SESA names carry no source id), 25 % of each label '
        'held out; labels with a single source are held out entirely. '
        f'{_calib_text(report)}Training crops put the loudest onsets in the window; '
        f'{_pct(recipe.get("real_mixed_probability"))} are mixed into background at '
        f'{_rng(recipe.get("real_snr_db"))} dB SNR; with speed, pitch, microphone and (rarely) '
        'reverberation augmentation; a real window weighs '
        f'{args.get("real_weight", "?")} generated ones in the loss'
        + (' (last stage; see each stage\'s command)' if report.get('stages') else '') + '.', '',
    ]
    if report['train_windows'].get('hardneg'):
        out += [
            f'3. **Real hard negatives**: {report["train_windows"]["hardneg"]} class-0 windows, '
            'every window the detector (deployed configuration, `config/params/sensor.yaml`) '
            'submits when the **training-split** real background clips (rain, sea waves, '
            'helicopter, SESA casual, dog, rooster, clock tick, crying baby, ...) are played '
            'through it: each clip alone over a bed of its own floor '
            + _NEGATIVE_LEVELS.get(_street_negatives(args), 'at 0/−12/+8 dB from its '
                                   'recording level')
            + ' (at most 8 windows per clip and level), and all clips joined into streams '
            'alone and over generated street background at −10/0/+6 dB '
            '(`soft.classify.hardnegatives`). '
            f'Loss weight {args.get("hard_negative_weight", "?")}'
            + (' (last stage)' if report.get('stages') else '') + '. Validation-split clips are '
            'never used.', '']
    if args.get('init_from', 'None') != 'None':
        stages = report.get('stages') or []
        lines = '; '.join(f'stage {i + 1}: `{st["command"]}` ({st["seconds"] / 60:.1f} min)'
                          for i, st in enumerate(stages))
        out += ['Trained in stages of the same recipe, each starting from the previous '
                'stage\'s final checkpoint (`--init-from`, weights and per-band statistics); a '
                'stage of 0 epochs keeps the weights and only re-fits temperature and '
                'thresholds.' + (f' {lines}.' if lines else ''), '']
    if report.get('teachers'):
        out += [f'**Distilled** (`--teacher`, weight {report.get("teacher_weight")}): the loss '
                'blends the labels with cross-entropy to the averaged probabilities of '
                + ', '.join(f'`{t["version"]}` (SHA-256 `{t["sha256"][:16]}…`)'
                            for t in report['teachers'])
                + ' on each training window, so this one model learns what their ensemble '
                'knows at one model\'s cost. The teachers never saw the held-out clips '
                '(same split).', '']
    out += [
        'Training: AdamW, one-cycle (cosine) schedule, label smoothing 0.05, square-root class '
        'weights, feature-space augmentation '
        f'(±{float(report.get("args", {}).get("level_shift_db", 3.0)):g} dB gain, another '
        'background window added in '
        'the power domain 0–13 dB down, one frequency and one time mask).', '',
        f'Training windows: {report["train_windows"]}; per class '
        f'{dict(zip(NAMES, report["train_per_class"]))}.', '',
        f'Real clips (training): {report.get("real_train_labels")}.', '',
        f'Real clips (held out): {report.get("real_val_labels")}.', '',
    ]
    lr = report.get('load_report') or {}
    if lr.get('skipped'):
        out += [f'Skipped clips: {len(lr["skipped"])} '
                f'({", ".join(f"{p}: {r}" for p, r in lr["skipped"])}).', '']
    else:
        out += ['Skipped clips: none (no corrupt, silent or too-short clip).', '']
    out += ['## Which classes are measured on what', '',
            'Measured on held-out **real** recordings: '
            + ', '.join(f'{c} {NAMES[c]}' for c in val_real) + '.', '',
            'Measured on **generated** windows only (no real recording available here): '
            + ', '.join(f'{c} {NAMES[c]}' for c in gen_only) + '. '
            'Their figures below say how well the model learnt the generators, not how it '
            'hears the real thing.', '',
            'Real recordings used in training: '
            + ', '.join(f'{c} {NAMES[c]}' for c in real_classes) + '.', '']
    return '\n'.join(out + _measured(report, system, generators, evaluation))


def _measured(report: dict, system: dict | None, generators: dict | None,
              evaluation: dict | None) -> list[str]:
    """Every measured section, from the run's own to the whole system's."""
    out = render_results(report)
    if evaluation:
        out += render_evaluation(evaluation)
    if generators:
        out += render_generator_summary(generators)
    if system:
        out += render_system(system)
    return out


_RESULTS_HEADING = '## Held-out REAL clips, as recorded'
_RETHRESHOLD_BULLET = '- **Re-thresholded**'


def render_rethresholded_card(base: str, report: dict, model_path: str,
                              system: dict | None = None, generators: dict | None = None,
                              evaluation: dict | None = None) -> str:
    """The card of a copy re-thresholded by ``soft train --epochs 0 --init-from X.onnx``.

    The weights, and so the data and training that made them, are the source's: the source
    card's account of them stands (its training report may be long gone). The header, the
    thresholds and every measured figure are the copy's.
    """
    src = report.get('rethresholded_from')
    if not src:
        raise ValueError('report: no rethresholded_from; a training report renders with '
                         'render_model_card')
    cut = base.find(_RESULTS_HEADING)
    if cut < 0:
        raise ValueError(f'base card: no {_RESULTS_HEADING!r} section to replace from')
    before = [f'{t:.2f}' for t in src['thresholds'][1:]]
    after = [f'{t:.2f}' for t in report['thresholds'][1:]]
    moved = ', '.join(f'{NAMES[i + 1]} {a} → {b}' for i, (a, b) in enumerate(zip(before, after))
                      if a != b)
    head = {
        '- **File**:': f'- **File**: `{model_path}` ({report["bytes"]} bytes)',
        '- **SHA-256**:': f'- **SHA-256**: `{report["sha256"]}`',
    }
    out = []
    for line in base[:cut].rstrip('\n').split('\n'):
        if line.startswith(_RETHRESHOLD_BULLET):
            continue
        key = next((k for k in head if line.startswith(k)), None)
        if key:
            line = head[key]
        elif line.startswith('- **Version**:'):
            found = re.search(r'trained (\d{4}-\d{2}-\d{2})', line)
            trained = found.group(1) if found else '?'
            line = (f'- **Version**: `{report["version"]}`, re-thresholded {report["date"]} '
                    f'(weights of `{src["version"]}`, trained {trained})')
        out.append(line)
        if line.startswith('- **Training command**:'):
            out.append(f'{_RETHRESHOLD_BULLET}: `{report["command"].strip()}` '
                       f'({report["seconds"] / 60:.1f} min) from `{src["version"]}` (SHA-256 '
                       f'`{src["sha256"][:16]}…`): weights and temperature unchanged, '
                       f'thresholds chosen again under the rules below ({moved}). The '
                       'figures the run measures itself (held-out real crops, generated '
                       'validation, background false alarms, thresholds) come from its own '
                       'data build, which may differ from the source\'s.')
    return '\n'.join(out + [''] + _measured(report, system, generators, evaluation))


def render_results(report: dict) -> list[str]:
    """The sections measured by the run itself: real and generated validation windows,
    false alarms on background, and the thresholds with the rules that chose them."""
    res = report['results']
    args = report.get('args', {})
    recipe = report.get('recipe') or {}
    out: list[str] = []
    for key, title in (('real', 'Held-out REAL clips, as recorded (one crop per clip at its '
                                'loudest onset)'),
                       ('real_mixed', 'Held-out REAL clips mixed into generated street '
                                      f'background ({_rng(recipe.get("real_snr_db"))} dB SNR)'),
                       ('generated', 'Generated validation windows (held-out seeds)')):
        if key not in res:
            continue
        r = res[key]
        out += [f'## {title}', '',
                f'{r["n"]} windows; accuracy with thresholds {r["accuracy"]:.3f}, argmax '
                f'accuracy {r["argmax_accuracy"]:.3f}.', '', per_class_table(r), '',
                'Confusion matrix (rows: true class, columns: decided class):', '',
                confusion_table(r), '']
    fa = res.get('false_alarms')
    if fa:
        per = ', '.join(f'{NAMES[i + 1]} {v:.1f}' for i, v in
                        enumerate(fa['per_class_per_hour']) if v)
        out += ['## False alarms on background', '',
                f'{fa["hours"] * 60:.0f} minutes of generated urban background through the '
                f'detector\'s onset and sustained-sound stages, every window it submits '
                f'classified ({fa["windows"]} windows; no rate limiting): '
                f'**{fa["per_hour"]:.1f} false detections per sensor-hour**'
                + (f' ({per}).' if per else '.'), '']
    fr = res.get('false_alarms_real_heldout')
    if fr:
        per = ', '.join(f'{NAMES[i + 1]} {v:.1f}' for i, v in
                        enumerate(fr['per_class_per_hour']) if v)
        out += [f'{fr["hours"] * 60:.1f} minutes of held-out **real** background (the '
                'threshold-check clips, each alone and all joined, never trained on): '
                f'{fr["windows"]} detector windows, **{fr["per_hour"]:.1f} false detections '
                f'per sensor-hour, {fr["police_per_hour"]:.1f} of a police class**'
                + (f' ({per}).' if per else '.') + ' These clips also chose the thresholds, '
                'so this is a training figure; `soft evaluate` below gives the test figure.',
                '']
    out += ['## Thresholds', '',
            '| class | threshold | precision | recall | FA/h | target met |',
            '|---|---|---|---|---|---|']
    for ch in report['threshold_choice'][1:]:
        out.append(f'| {ch["class_id"]} {NAMES[ch["class_id"]]} | {ch["threshold"]:.2f} | '
                   f'{_f(ch["precision"])} | {_f(ch["recall"])} | '
                   f'{ch["false_alarms_per_hour"]:.1f} | {"yes" if ch["met_target"] else "no"} |')
    ceiling = args.get('max_threshold', '0.9')
    budget = args.get('max_fa_per_hour', '1.0')
    other = args.get('max_fa_per_hour_other')
    budget_text = (f'≤ {budget} false alarm per hour for the police classes and ≤ {other} for '
                   'the others (tranquillity statistics and context, which alert nobody)'
                   if other is not None else f'≤ {budget} false alarm per hour')
    out += ['', 'Chosen on generated validation windows and the detector\'s windows on '
            'generated background streams **and** on the held-out real background clips, each '
            f'set on its own: the lowest threshold (0.30–{ceiling}) giving precision ≥ '
            f'{args.get("target_precision", "0.9")} and {budget_text} on '
            'every background set; where that is not reachable, the best F1 within the '
            'false-alarm budget, or the ceiling ("no").' + _over_budget_text(args)
            + _keep_recall_text(args), '']
    return out


def _over_budget_text(args: dict) -> str:
    over, ceiling = args.get('max_threshold_over_budget'), args.get('max_threshold', '0.9')
    if over is None or float(over) <= float(ceiling):
        return ''
    return (f' A class over its budget at the ceiling goes on up to {float(over):g}, to the '
            'first threshold meeting the budget, while its recall keeps the share below of its '
            'recall at the ceiling.')


def _keep_recall_text(args: dict) -> str:
    keep = float(args.get('keep_recall', 0.0) or 0.0)
    if keep <= 0:
        return ''
    return (f' A threshold may not keep less than {keep:g} of the recall at the class\'s '
            'best-F1 threshold: where the precision target needs more, the most precise '
            'threshold that keeps it is used ("no").')


def _rng(v) -> str:
    return f'{v[0]:g}–{v[1]:g}' if isinstance(v, (list, tuple)) and len(v) == 2 else '?'


def _pct(v) -> str:
    return f'{100 * float(v):.0f} %' if v is not None else '?'


def _calib_text(report: dict) -> str:
    cb = report.get('calibration_background') or {}
    if not cb.get('clips'):
        return ''
    return (f'A further {cb["clips"]} background clips of the training split (by source, '
            f'{cb["hours"] * 60:.1f} min as played) are kept out of training and only check '
            'the thresholds\' false alarms. ')


def render_evaluation(ev: dict) -> list[str]:
    """The `soft evaluate` figures on held-out real recordings: the test the issue sets."""
    data, clip = ev.get('data', {}), ev['clip_level']
    out = ['## Held-out REAL recordings through the deployed detector (`soft evaluate`)', '',
           f'`soft evaluate models/soft_classifier.onnx ../shared/data --out eval.json` '
           f'({data.get("clips", "?")} clips of the validation split, {data.get("groups", "?")} '
           'source recordings, none used in training or threshold choice). Each clip is '
           'played through a fresh detector configured as the sensors are; the clip is the '
           'class of its most confident detection, background if none.', '',
           f'Clip level: accuracy {_f(clip.get("accuracy"))}, macro F1 '
           f'{_f(clip.get("macro_f1"))}. Targets for gunshot, explosion and siren: recall ≥ 0.90 '
           'at precision ≥ 0.90.', '',
           'Brackets: 95 % Wilson intervals; with a few tens of clips per class they are wide: '
           'read a target as reached only when the whole interval clears it.', '',
           ] + _clip_table(clip)
    eb = ev.get('event_based') or {}
    if eb.get('per_ebr'):
        out += ['', f'Event based on {eb.get("mixtures_per_ebr")} × 30 s mixtures per '
                f'event-to-background ratio built from held-out real events, '
                f'{eb.get("with_event", "?")} of them with an event and '
                f'{eb.get("real_backgrounds", "?")} over real ambience recordings (the rest '
                f'over generated traffic). Scoring: {eb.get("definition", "sed_eval")}. '
                'Targets: ER ≤ 0.20, F1 ≥ 0.90.', '',
                ] + _ebr_table(eb['per_ebr'])
        out += render_misses(eb)
    fa = ev.get('false_alarms') or {}
    lines = []
    for kind in ('real', 'generated'):
        f = fa.get(kind)
        if f and f.get('hours'):
            ci = format_ci(f.get('police_per_hour_ci95'), '.1f', '–')
            lines.append(f'{kind} background {f["hours"] * 60:.1f} min: '
                         f'**{f["police_per_hour"]:.1f} police events per sensor-hour** '
                         f'{ci} ({f["police_events"]} events; all classes '
                         f'{f["all_per_hour"]:.1f}/h; {f.get("events_per_class")})')
    lr = ev.get('long_recordings')
    if lr and lr.get('hours'):
        lines.append(f'{lr["recordings"]} long background recordings, {lr["hours"]:.2f} h '
                     f'streamed whole: **{lr["police_per_hour"]:.2f} police events per '
                     f'sensor-hour** {format_ci(lr.get("police_per_hour_ci95"), ".2f", "–")} '
                     f'({lr["police_events"]} events; {lr.get("events_per_class")})')
    if lines:
        real_h = max([(fa.get('real') or {}).get('hours') or 0.0,
                      (lr or {}).get('hours') or 0.0])
        out += ['', 'False alarms (target ≤ 1 police-class event per sensor-hour on real '
                'background streams):', ''] + [f'- {li}' for li in lines]
        if real_h < NEEDED_SENSOR_HOURS:
            out += ['', f'{real_h:.2f} h of real background cannot show the target: even '
                    'with no event at all the 95 % interval would reach '
                    f'{poisson_rate(0, real_h)[1]:.1f} per hour. It takes '
                    f'{NEEDED_SENSOR_HOURS:.1f} event-free sensor-hours or more: a site\'s '
                    'soak (`soft run`, or `soft soak BAG` on a ROS 2 gateway; no audio kept) '
                    'or its lawfully held recordings (`soft evaluate MODEL DATA --streams '
                    'DIR`).']
    out += render_bandwidth(ev)
    out += render_street(ev)
    out += render_far(ev)
    out.append('')
    return out


def _clip_table(clip: dict) -> list[str]:
    out = ['| class | clips | decided | precision | recall | F1 |', '|---|---|---|---|---|---|']
    for name, row in clip['per_class'].items():
        if row['support'] or row['predicted']:
            out.append(f'| {name} | {row["support"]} | {row["predicted"]} | '
                       f'{_f(row["precision"])} {_ci(row.get("precision_ci95"))} | '
                       f'{_f(row["recall"])} {_ci(row.get("recall_ci95"))} | '
                       f'{_f(row["f1"])} |')
    pa = clip.get('police_alert') or {}
    if pa:
        out += ['', f'Police-class clips raising a police alert: {_f(pa.get("alerted"))} of '
                f'{pa.get("police_clips")}; other clips raising one: '
                f'{_f(pa.get("false_alert_rate"))} of {pa.get("other_clips")}.']
    return out


def _ebr_table(per_ebr: dict) -> list[str]:
    out = ['| EBR | ER | F1 | precision | recall | S | D | I | events |',
           '|---|---|---|---|---|---|---|---|---|']
    for ebr, r in per_ebr.items():
        o = r['overall']
        out.append(f'| {ebr} dB | {_f(o["error_rate"])} {_ci(o.get("error_rate_ci95"))} | '
                   f'{_f(o["f1"])} {_ci(o.get("f1_ci95"))} | '
                   f'{_f(o["precision"])} | {_f(o["recall"])} | {o["substitutions"]} | '
                   f'{o["deletions"]} | {o["insertions"]} | {o["n_ref"]} |')
    return out


def render_street(ev: dict) -> list[str]:
    """Mixtures and real-background false alarms at a sensor's level, not the recordings'."""
    st = ev.get('street_level') or {}
    eb = st.get('event_based') or {}
    if not eb.get('per_ebr'):
        return []
    out = ['', '**At street level** (`soft evaluate --street-spl`; '
           f'{st.get("definition", "")}). The recordings above play at their makers\' '
           'levels, which through a sensor\'s microphone would be streets of 100 dB and more; '
           'a model that tells background by loudness does well there and not on a street.',
           '']
    clip = st.get('clip_level')
    if clip:
        out += [f'Clip level at street level: accuracy {_f(clip.get("accuracy"))}, macro F1 '
                f'{_f(clip.get("macro_f1"))}.', ''] + _clip_table(clip) + ['']
    out += _ebr_table(eb['per_ebr']) + render_misses(eb)
    f = (st.get('false_alarms') or {}).get('real')
    if f and f.get('hours'):
        ci = format_ci(f.get('police_per_hour_ci95'), '.1f', '–')
        out += ['', f'Real background {f["hours"] * 60:.1f} min at street level: '
                f'**{f["police_per_hour"]:.1f} police events per sensor-hour** {ci} '
                f'({f["police_events"]} events; {f.get("events_per_class")}).']
    return out


MISS_WORDS = {'found': 'found', 'wrong_class': 'another class', 'off_collar': 'onset off',
              'under_threshold': 'under threshold', 'judged_background': 'judged background',
              'judged_other': 'other class, unreported', 'no_window': 'no window'}


def render_misses(eb: dict) -> list[str]:
    """Where the mixtures' events were lost: the front end (no window) or the model."""
    per = (eb.get('misses') or {}).get('per_ebr') or {}
    if not per:
        return []
    causes = next(iter(per.values()))['causes']
    out = ['', 'Where the events went, one cause each (`soft evaluate`, `misses`): '
           '*no window*: the detector classified no window for the sound (too weak over the '
           'noise floor, or over the onset budget); *under threshold*: a window for it had '
           'its class on top, under the threshold; *judged background* / *other class*: '
           'the model put background or an unreported class on top; *onset off*: its class '
           'was reported during the sound, outside the 0.5 s collar.', '',
           '| EBR | ' + ' | '.join(MISS_WORDS.get(c, c) for c in causes) + ' |',
           '|---' * (len(causes) + 1) + '|']
    for ebr, r in per.items():
        out.append(f'| {ebr} dB | ' + ' | '.join(str(r['overall'][c]) for c in causes) + ' |')
    return out


def render_bandwidth(ev: dict) -> list[str]:
    """The clip level on band-limited copies: recordings made at 11 or 8 kHz, far sources."""
    return _variant_table(ev, 'bandwidth', 'per_cutoff', 'cutoff', 'Hz', ev['clip_level'],
                          'none',
                          'The same clips **band-limited** (`soft evaluate --bandwidths`; ')


def render_far(ev: dict) -> list[str]:
    """The clip level on copies heard from further off: a district's distant sensors."""
    street = (ev.get('street_level') or {}).get('clip_level')
    return _variant_table(ev, 'far', 'per_distance', 'added path', 'm',
                          street or ev['clip_level'],
                          'as recorded' + (', street level' if street else ''),
                          'The same clips **heard from further off** (`soft evaluate '
                          '--far-m`; ')


def _variant_table(ev: dict, section: str, key: str, setting: str, unit: str, ref: dict,
                   ref_name: str, title: str) -> list[str]:
    """Recall per class and accuracy of transformed copies of every clip, under ``ref``."""
    per = (ev.get(section) or {}).get(key) or {}
    if not per:
        return []
    full = ref['per_class']
    shown = [k for k, v in full.items() if v['support'] >= 5]
    out = ['', f'{title}{ev[section].get("definition", "")}): recall per class, accuracy.',
           '', f'| {setting} | accuracy | '
           + ' | '.join(shown) + ' |',
           '|---' * (len(shown) + 2) + '|',
           f'| {ref_name} | {_f(ref.get("accuracy"))} | '
           + ' | '.join(_f(full[k]['recall']) for k in shown) + ' |']
    for v, m in per.items():
        out.append(f'| {v} {unit} | {_f(m.get("accuracy"))} | '
                   + ' | '.join(_f(m['per_class'][k]['recall']) for k in shown) + ' |')
    return out


def _bandlimit_text(recipe: dict) -> str:
    """The band-limit augmentation, for runs whose recipe had it."""
    if not recipe.get('bandlimit_probability') and not recipe.get('real_bandlimit_probability'):
        return ''
    return (f'; low-passed at {_rng(recipe.get("bandlimit_hz"))} Hz (Butterworth order 4–16, '
            f'as a far source or a recording made at a lower rate) on '
            f'{_pct(recipe.get("bandlimit_probability"))} of whole windows and '
            f'{_pct(recipe.get("real_bandlimit_probability"))} of real clips before mixing')


def render_generator_summary(gen: dict) -> list[str]:
    """Per class: how far the generated sound's spectrum and envelope are from real clips."""
    out = ['## Generated vs real sounds', '',
           f'`python -m soft.classify.spectralcompare --markdown models/GENERATORS_VS_REAL.md` '
           f'({gen.get("n_generated", "?")} generated examples per class and condition; full '
           'tables, statistics and flags in [GENERATORS_VS_REAL.md](GENERATORS_VS_REAL.md)). '
           'Mean absolute difference of the median 24-band spectra (dB), and how many of the '
           'statistics (centroid, bandwidth, flatness, roll-off, low/high ratio, attack, decay, '
           'duration, crest, and pitch for tonal classes) have their generated median outside '
           'the real interquartile range. "street" is as a microphone 20–100 m away hears it.',
           '', '| class | real clips | spectrum Δ dry / street / reverb (dB) | '
           'stats outside real IQR (street) |', '|---|---|---|---|']
    for name, c in gen.get('classes', {}).items():
        if c.get('status') != 'ok':
            out.append(f'| {name} | 0 | {c.get("status")} | – |')
            continue
        sp = c['spectrum']
        deltas = ' / '.join(f'{sp.get(f"{k}_mean_abs_db", float("nan")):.1f}'
                            for k in ('dry', 'street', 'reverb'))
        stats = c.get('stats', {})
        outside = sum(1 for st in stats.values() if st.get('street', {}).get('outside'))
        out.append(f'| {name} | {c["n_real"]} | {deltas} | {outside} of {len(stats)} |')
    out.append('')
    return out


def render_system(system: dict) -> list[str]:
    """Sections measured outside training: the whole system (A), real-clip goal (B), cost (C).

    They are what the project is judged on, so they sit in the card with the commands that
    reproduce them; ``system`` is the JSON written by hand from those commands' output.
    """
    out: list[str] = []
    for sec in system.get('sections', []):
        out += [f'## {sec["title"]}', '']
        out += [str(line) for line in sec.get('lines', [])]
        out.append('')
    return out


def render_attribution(records: list[ClipRecord], train: list[ClipRecord],
                       val: list[ClipRecord]) -> str:
    """ATTRIBUTION.md: every real clip used (training or evaluation), with its credit."""
    used = {r.path for r in train} | {r.path for r in val}
    trained = {r.path for r in train}
    by_source: dict[str, list[ClipRecord]] = defaultdict(list)
    for r in records:
        if r.path in used:
            by_source[r.source_repo].append(r)
    out = ['# Attribution of the recordings behind `soft_classifier.onnx`', '',
           'The shipped classifier was trained (and evaluated) with the openly licensed '
           'recordings below, from the project\'s shared development set. Each clip is '
           'credited as its manifest says; "train" clips shaped the weights, "eval" clips '
           'were only used to measure the model or to check its thresholds\' false alarms.', '',
           '- ESC-10: K. J. Piczak, "ESC: Dataset for Environmental Sound Classification", '
           'ACM MM 2015, CC-BY 3.0 (clips CC0 or CC-BY from Freesound, authors below).',
           '- SESA: Sound Events for Surveillance Applications, Tito Spadini (2019), '
           'doi:10.5281/zenodo.3519845, CC BY 4.0 (audio originally from Freesound).',
           '- Other clips: as credited per clip (CC0, CC-BY 3.0/4.0, public domain; clips from '
           'compiled sound packs also name the pack\'s licence).', '']
    for source in sorted(by_source):
        groups: dict[tuple[str, str], list[ClipRecord]] = defaultdict(list)
        for r in by_source[source]:
            groups[(r.licence, r.attribution)].append(r)
        out += [f'## {source}', '', '| clips | label | use | licence | attribution |',
                '|---|---|---|---|---|']
        for (licence, attribution), rows in sorted(groups.items(),
                                                   key=lambda kv: str(kv[1][0].path)):
            labels = sorted({r.label for r in rows})
            n_train = sum(r.path in trained for r in rows)
            use = f'{n_train} train, {len(rows) - n_train} eval'
            if len(rows) <= 3:
                clips = ', '.join('/'.join(r.path.parts[-2:]) for r in rows)
            else:
                folders = sorted({'/'.join(r.path.parts[-3:-1]) for r in rows})
                clips = f'{len(rows)} clips in ' + ', '.join(folders)
            attr = attribution.replace('|', '\\|')
            out.append(f'| {clips} | {", ".join(labels)} | {use} | {licence} | {attr} |')
        out.append('')
    return '\n'.join(out)


def main(argv: list[str] | None = None) -> int:
    """Re-render the card from a run's report and the measured system figures."""
    import argparse
    import json
    from pathlib import Path

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument('--report', type=Path, default=Path('models/train_report.json'),
                    help="the shipped run's report.json, kept in models/ so that a fresh "
                    'checkout can re-render the card')
    ap.add_argument('--system', type=Path, default=Path('models/system_figures.json'))
    ap.add_argument('--generators', type=Path, default=Path('models/generators_vs_real.json'),
                    help='a soft.classify.spectralcompare JSON report')
    ap.add_argument('--evaluation', type=Path, default=None,
                    help='the JSON `soft evaluate --out` wrote for this model')
    ap.add_argument('--out', type=Path, default=Path('models/MODEL_CARD.md'))
    ap.add_argument('--model-path', default='models/soft_classifier.onnx',
                    help='where the card says the model lives')
    ap.add_argument('--base', type=Path, default=Path('models/MODEL_CARD.md'),
                    help="for a re-thresholded model's report: the source model's card, "
                    'whose account of data and training is kept')
    args = ap.parse_args(argv)
    report = json.loads(args.report.read_text())
    system = json.loads(args.system.read_text()) if args.system.is_file() else None
    gen = json.loads(args.generators.read_text()) if args.generators.is_file() else None
    ev = json.loads(args.evaluation.read_text()) if args.evaluation else None
    if report.get('rethresholded_from'):
        card = render_rethresholded_card(args.base.read_text(), report, args.model_path,
                                         system, gen, ev)
    else:
        card = render_model_card(report, system, gen, ev)
    args.out.write_text(card if card.endswith('\n') else card + '\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
