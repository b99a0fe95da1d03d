"""The model card states what was measured on real recordings and what only on generated."""
from __future__ import annotations

import math

import pytest

from soft.classify import taxonomy
from soft.classify.modelcard import (render_generator_summary, render_model_card,
                                     render_rethresholded_card)

N = taxonomy.NUM_CLASSES


def _res(support: dict[int, int]) -> dict:
    conf = [[0] * N for _ in range(N)]
    for c, n in support.items():
        conf[c][c] = n
    rows = [{'precision': 1.0 if support.get(c) else math.nan,
             'recall': 1.0 if support.get(c) else math.nan,
             'support': support.get(c, 0), 'predicted': support.get(c, 0)} for c in range(N)]
    return {'n': sum(support.values()), 'accuracy': 1.0, 'argmax_accuracy': 1.0,
            'confusion': conf, 'per_class': rows}


def _report() -> dict:
    return {
        'model': 'models/soft_classifier.onnx', 'bytes': 400000, 'sha256': 'ab' * 32,
        'version': 'soft-cnn-test', 'date': '2026-11-24', 'command': 'soft train --epochs 8',
        'seconds': 600.0, 'parameters': 100733, 'temperature': 1.2,
        'train_windows': {'synthetic': 10, 'real': 5}, 'train_per_class': [1] * N,
        'real_train_labels': {'gunshot': 60, 'rain': 15},
        'real_val_labels': {'gunshot': 16, 'siren': 19, 'rain': 6},
        'calibration_background': {'clips': 80, 'windows': 7000, 'hours': 0.4},
        'recipe': {'speed_range': [0.85, 1.18], 'speed_probability': 0.4,
                   'pitch_range': [0.89, 1.12], 'pitch_probability': 0.3,
                   'burst_shots': [2, 6], 'burst_probability': 0.35,
                   'reverb_probability': 0.5, 'mic_probability': 0.7},
        'args': {'real_weight': '3.0', 'max_threshold': '0.98', 'max_fa_per_hour': '1.0',
                 'target_precision': '0.9', 'init_from': 'None'},
        'threshold_choice': [{'class_id': c, 'threshold': 0.5, 'precision': 0.95,
                              'recall': 0.9, 'false_alarms_per_hour': 0.0, 'met_target': True}
                             for c in range(N)],
        'results': {
            'real': _res({0: 6, 1: 16, 12: 19}),
            'false_alarms_real_heldout': {'windows': 7000, 'hours': 0.4, 'per_hour': 5.0,
                                          'police_per_hour': 2.5,
                                          'per_class_per_hour': [2.5] + [0.0] * 10 + [2.5]},
        },
    }


def test_card_separates_real_from_generated_only_classes_and_reports_real_false_alarms():
    card = render_model_card(_report())
    real_line = next(li for li in card.splitlines() if li.startswith('Measured on held-out'))
    gen_line = next(li for li in card.splitlines() if li.startswith('Measured on **generated'))
    assert '1 gunshot' in real_line and '12 siren' in real_line
    assert '10 aerosol_spray' in gen_line and '1 gunshot' not in gen_line
    assert '5.0 false detections per sensor-hour, 2.5 of a police class' in card
    assert 'A further 80 background clips' in card and '24.0 min' in card
    assert 'volleys of 2–6 on 35 %' in card and 'a real window weighs 3.0' in card
    assert '0.30–0.98' in card
    assert 'recall at the class' not in card          # a report from before --keep-recall
    r = _report()
    r['args']['keep_recall'] = '0.8'
    assert 'may not keep less than 0.8 of the recall' in render_model_card(r)
    assert 'low-passed at' not in card                 # a recipe from before band limits
    r['recipe'].update(bandlimit_probability=0.2, real_bandlimit_probability=0.3,
                       bandlimit_hz=[3400.0, 7200.0])
    assert 'low-passed at 3400–7200 Hz' in render_model_card(r)
    assert 'on 20 % of whole windows and 30 % of real clips' in render_model_card(r)


def test_card_shows_the_band_limited_clip_level_next_to_the_full_band():
    def clip(recalls: dict) -> dict:
        return {'accuracy': 0.8, 'per_class': {k: {'support': n, 'predicted': n,
                                                   'precision': 1.0, 'recall': r, 'f1': 1.0}
                                               for k, (n, r) in recalls.items()}}
    ev = {'clip_level': clip({'gunshot': (16, 0.81), 'siren': (19, 0.68), 'scream': (2, 0.5)}),
          'bandwidth': {'definition': 'low-passed', 'per_cutoff': {
              '5500': clip({'gunshot': (16, 0.5), 'siren': (19, 0.68), 'scream': (2, 0.0)})}}}
    card = render_model_card(_report(), evaluation=ev)
    assert '| cutoff | accuracy | gunshot | siren |' in card   # classes of 5 clips or more
    assert '| none | 0.80 | 0.81 | 0.68 |' in card and '| 5500 Hz | 0.80 | 0.50 | 0.68 |' in card
    # heard from further off: under the street-level clip level when the report has one
    ev['far'] = {'definition': 'heard from further', 'per_distance': {
        '800': clip({'gunshot': (16, 0.25), 'siren': (19, 0.6), 'scream': (2, 0.0)})}}
    card = render_model_card(_report(), evaluation=ev)
    assert '| added path | accuracy | gunshot | siren |' in card
    assert '| as recorded | 0.80 | 0.81 | 0.68 |' in card
    assert '| 800 m | 0.80 | 0.25 | 0.60 |' in card
    ev['street_level'] = {'clip_level': clip({'gunshot': (16, 0.75), 'siren': (19, 0.9)})}
    card = render_model_card(_report(), evaluation=ev)
    assert '| as recorded, street level | 0.80 | 0.75 | 0.90 |' in card


def test_card_says_where_the_mixture_events_were_lost():
    from soft.evaluation.misses import CAUSES

    def ebr(n_ref, counts):
        return {'overall': {'error_rate': 1.0, 'f1': 0.2, 'precision': 0.2, 'recall': 0.2,
                            'substitutions': 0, 'deletions': n_ref - counts['found'],
                            'insertions': 3, 'n_ref': n_ref}}
    lost = {'-6': dict.fromkeys(CAUSES, 0) | {'found': 2, 'no_window': 7, 'under_threshold': 1},
            '+6': dict.fromkeys(CAUSES, 0) | {'found': 8, 'judged_background': 2}}
    eb = {'mixtures_per_ebr': 4, 'per_ebr': {k: ebr(10, v) for k, v in lost.items()},
          'misses': {'per_ebr': {k: {'causes': list(CAUSES), 'overall': v}
                                 for k, v in lost.items()}}}
    ev = {'clip_level': {'accuracy': 0.8, 'per_class': {}}, 'event_based': eb}
    card = render_model_card(_report(), evaluation=ev)
    assert '| EBR | found | another class | onset off | under threshold | judged background ' \
        '| other class, unreported | no window |' in card
    assert '| -6 dB | 2 | 0 | 0 | 1 | 0 | 0 | 7 |' in card
    assert '| +6 dB | 8 | 0 | 0 | 0 | 2 | 0 | 0 |' in card
    ev['street_level'] = {'definition': 'at 55-75 dB SPL', 'event_based': {
        'per_ebr': {'-6': ebr(10, lost['-6'])}},
        'false_alarms': {'real': {'hours': 0.1, 'police_per_hour': 40.0, 'police_events': 4,
                                  'police_per_hour_ci95': [10.9, 102.4],
                                  'events_per_class': {'explosion': 4}}}}
    card = render_model_card(_report(), evaluation=ev)
    assert '**At street level** (`soft evaluate --street-spl`; at 55-75 dB SPL)' in card
    assert 'at street level: **40.0 police events per sensor-hour** [10.9–102.4]' in card
    assert 'Clip level at street level' not in card      # a report from before that section
    ev['street_level']['clip_level'] = {
        'accuracy': 0.7, 'macro_f1': 0.5,
        'per_class': {'gunshot': {'support': 16, 'predicted': 20, 'precision': 0.5,
                                  'recall': 0.62, 'f1': 0.55}},
        'police_alert': {'alerted': 0.9, 'police_clips': 60, 'false_alert_rate': 0.16,
                         'other_clips': 126}}
    card = render_model_card(_report(), evaluation=ev)
    assert 'Clip level at street level: accuracy 0.70, macro F1 0.50.' in card
    assert '| gunshot | 16 | 20 | 0.50  | 0.62  | 0.55 |' in card     # no intervals given
    assert 'other clips raising one: 0.16 of 126.' in card
    del ev['street_level']
    del eb['misses']                 # a report from before the ledger: no table
    assert 'Where the events went' not in render_model_card(_report(), evaluation=ev)


def test_generator_summary_counts_flags_and_names_classes_without_real_clips():
    stat = {'real': {}, 'street': {'outside': True}, 'dry': {'outside': False}}
    ok = {'status': 'ok', 'n_real': 80,
          'spectrum': {'dry_mean_abs_db': 2.4, 'street_mean_abs_db': 4.7,
                       'reverb_mean_abs_db': 7.8},
          'stats': {'centroid_hz': stat, 'flatness': {'street': {'outside': False}}}}
    rows = render_generator_summary({'n_generated': 40, 'classes': {
        'gunshot': ok, 'drill': {'status': 'no real clips'}}})
    assert '| gunshot | 80 | 2.4 / 4.7 / 7.8 | 1 of 2 |' in rows
    assert '| drill | 0 | no real clips | – |' in rows


def test_a_rethresholded_card_keeps_the_source_training_and_replaces_the_figures():
    """The source's training report may be gone: its card's account of data and training
    stays; header, thresholds and measured figures are the copy's, and rendering twice
    does not stack the re-threshold line."""
    base = render_model_card(_report())
    rt = _report()
    rt.update(version='soft-cnn-test-rt', date='2026-11-25', sha256='cd' * 32, bytes=400100,
              command='soft train --epochs 0 --init-from models/soft_classifier.onnx',
              seconds=540.0,
              thresholds=[0.0] + [0.5] * (N - 1),
              rethresholded_from={'version': 'soft-cnn-test', 'sha256': 'ab' * 32,
                                  'thresholds': [0.0, 0.59] + [0.5] * (N - 2)})
    rt['results']['real'] = _res({0: 6, 1: 10, 12: 19})
    base = render_rethresholded_card(base, rt, 'models/soft_classifier.onnx')
    assert render_rethresholded_card(base, rt, 'models/soft_classifier.onnx') == base
    assert base.count('- **Re-thresholded**') == 1
    assert '(weights of `soft-cnn-test`, trained 2026-11-24)' in base
    assert '`soft-cnn-test-rt`, re-thresholded 2026-11-25' in base
    assert 'gunshot 0.59 → 0.50' in base and 'siren 0.50 → 0.50' not in base
    assert '`' + 'cd' * 32 + '`' in base and '(400100 bytes)' in base
    assert 'a real window weighs 3.0' in base            # the source's training, kept
    assert base.count('## Held-out REAL clips, as recorded') == 1
    assert '35 windows;' in base and '41 windows;' not in base
    with pytest.raises(ValueError, match='rethresholded_from'):
        render_rethresholded_card(base, _report(), 'x.onnx')


def test_card_says_when_the_real_background_is_too_short_to_show_the_target():
    import json
    from pathlib import Path

    from soft.classify.modelcard import render_evaluation

    shipped = Path(__file__).resolve().parents[1] / 'models' / 'evaluation_real.json'

    def ev(real_h: float, long_h: float | None) -> str:
        e = json.loads(shipped.read_text())
        e.pop('long_recordings', None)
        e['false_alarms'] = {'real': {'hours': real_h, 'police_per_hour': 0.0,
                                      'police_per_hour_ci95': [0.0, 3.689 / real_h],
                                      'police_events': 0, 'all_per_hour': 0.0,
                                      'events_per_class': {}}}
        if long_h is not None:
            e['long_recordings'] = {'recordings': 3, 'hours': long_h, 'police_events': 2,
                                    'police_per_hour': 2 / long_h,
                                    'police_per_hour_ci95': [0.05, 1.4],
                                    'events_per_class': {'gunshot': 2}}
        return '\n'.join(render_evaluation(e))

    short = ev(0.12, None)
    assert '0.12 h of real background cannot show the target' in short
    assert 'would reach 30.7 per hour' in short and 'It takes 3.7 event-free' in short
    long = ev(0.12, 12.0)
    assert '3 long background recordings, 12.00 h streamed whole: **0.17 police events per ' \
        'sensor-hour** [0.05–1.40]' in long
    assert 'cannot show the target' not in long
