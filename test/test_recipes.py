"""soft compare --vs: two recipes, each a set of runs, on the same clips and mixtures."""
import json

import numpy as np
import pytest
from onnx_fixtures import band_detector_weights, make_test_model
from test_evaluate import WHISTLE, whistles_and_rain

from soft.audio.features import FeatureConfig
from soft.evaluation import evaluate, paired, recipes


def test_permutation_test_over_runs_has_the_floor_three_seeds_allow():
    assert recipes.permutation_p([0.70, 0.71, 0.72], [0.80, 0.81, 0.82]) == pytest.approx(0.1)
    assert recipes.permutation_p([1, 2, 3], [1, 2, 3]) == 1.0
    # overlapping arms: the observed split is far from extreme
    assert recipes.permutation_p([0.70, 0.80, 0.75], [0.72, 0.78, 0.76]) > 0.5
    assert recipes.permutation_p([1.0, 2.0], [3.0, 4.0]) == pytest.approx(1 / 3)


def test_two_recipes_over_seeds_end_to_end(tmp_path, capsys):
    cfg = FeatureConfig()
    data = whistles_and_rain(tmp_path / 'data')
    models = {}
    for k, gain in enumerate((4.0, 3.0)):
        w, b = band_detector_weights(cfg, WHISTLE, 2000, 3000, gain=gain)
        models[f'good{k}'] = make_test_model(tmp_path / f'good{k}.onnx', cfg, w, b,
                                             version=f'good-{k}')
    for k in range(2):
        models[f'deaf{k}'] = make_test_model(tmp_path / f'deaf{k}.onnx', cfg,
                                             version=f'deaf-{k}')
    common = ['--mixtures', '6', '--fa-minutes', '0.2', '--quiet']
    reports = {}
    for name, model in models.items():
        out = tmp_path / f'{name}.json'
        assert evaluate.main([str(model), str(data), '--seed', '1', '--out', str(out),
                              *common]) == 0
        reports[name] = str(out)
    capsys.readouterr()

    out = tmp_path / 'recipes.json'
    assert paired.main([reports['good0'], reports['good1'], '--vs', reports['deaf0'],
                        reports['deaf1'], '--out', str(out), '--resamples', '500']) == 0
    text = capsys.readouterr().out
    c = json.loads(out.read_text())
    assert c['base_versions'] == ['good-0', 'good-1']
    assert c['candidate_versions'] == ['deaf-0', 'deaf-1']
    cl = c['clip_level']
    # both deaf runs miss all four whistles that the good runs hear
    assert cl['candidate_runs'] == [0.5, 0.5] and min(cl['base_runs']) > 0.5
    assert cl['recall_per_true_class']['whistle']['candidate'] == 0.0
    lo, hi = cl['difference_ci95']
    assert lo <= cl['difference'] <= hi < 0 and cl['share_candidate_better'] == 0.0
    assert cl['permutation_p'] == pytest.approx(1 / 3)     # two runs a side: 6 splits
    e = c['event_based']['+6']
    assert e['candidate'] > e['base'] and e['difference'] > 0
    assert e['candidate_per_run']['hits'] == [0, 0] and sum(e['base_per_run']['hits']) > 0
    assert c['false_alarms_real']['candidate_runs'] == [0, 0]
    assert 'base recipe: 2 runs (good-0, good-1)' in text and 'p = 0.33' in text
    # band-limited at 5.5 kHz the whistles stay and the deaf runs still miss them all
    b = c['bandwidth']['5500']
    assert b['candidate_runs'] == [0.5, 0.5] and b['base_runs'] == [1.0, 1.0]
    assert b['recall_per_true_class']['whistle']['base'] == 1.0
    assert 'clips band-limited at 5500 Hz: accuracy 1.000 -> 0.500' in text
    # the same clips and mixtures at street level, pooled the same way
    sc = c['street_level']['clip_level']
    assert sc['candidate_runs'] == [0.5, 0.5] and sc['base_runs'] == [1.0, 1.0]
    assert 'clip accuracy (8 clips): 1.000 [1.000 1.000] -> 0.500' in text
    st = c['street_level']['event_based']['+6']
    assert st['candidate_per_run']['hits'] == [0, 0] and sum(st['base_per_run']['hits']) > 0
    assert c['street_level']['false_alarms_real']['candidate_runs'] == [0, 0]
    assert 'at street level:' in text
    f = c['far']['300']                        # heard 300 m further off, pooled alike
    assert f['candidate_runs'] == [0.5, 0.5] and f['base_runs'] == [1.0, 1.0]
    assert 'clips heard from 300 m further: accuracy 1.000 -> 0.500' in text

    # a run of the candidate made on other mixtures is refused, naming it
    other = tmp_path / 'other.json'
    assert evaluate.main([models['deaf0'].as_posix(), str(data), '--seed', '2', '--out',
                          str(other), *common]) == 0
    capsys.readouterr()
    assert paired.main([reports['good0'], '--vs', reports['deaf0'], str(other)]) == 2
    err = capsys.readouterr().err
    assert 'other.json does not pair with' in err and 'seed' in err
    with pytest.raises(SystemExit):
        paired.main([reports['good0'], reports['good1'], reports['deaf0']])
    assert 'two (base, candidate)' in capsys.readouterr().err


def test_hierarchical_bootstrap_widens_with_seed_spread():
    """The same mean difference is less certain when the runs of a recipe disagree."""
    def report(correct: np.ndarray, version: str) -> dict:
        return {'model': {'version': version}, 'data': {'root': 'r', 'labels': {'x': 1}},
                'clip_level': {'clips_detail': [
                    {'path': f'r/c{i}.wav', 'true_id': 1, 'pred_id': 1 if ok else 0}
                    for i, ok in enumerate(correct)]},
                'event_based': {},
                'false_alarms': {'real': {'hours': 0.1, 'police_per_hour': 10.0}}}

    rng = np.random.default_rng(0)
    n = 400
    base = [report(rng.random(n) < 0.70, f'a{k}') for k in range(3)]
    steady = [report(rng.random(n) < 0.75, f'b{k}') for k in range(3)]
    spread = [report(rng.random(n) < p, f'c{k}') for k, p in enumerate((0.60, 0.75, 0.90))]
    a = recipes.compare_recipes(base, steady, resamples=1000)['clip_level']
    b = recipes.compare_recipes(base, spread, resamples=1000)['clip_level']
    width = [x['difference_ci95'][1] - x['difference_ci95'][0] for x in (a, b)]
    assert width[1] > 1.5 * width[0]
    assert a['difference_ci95'][0] > 0            # steady runs: the gain is clear
    assert b['difference_ci95'][0] < 0 < b['difference_ci95'][1]
