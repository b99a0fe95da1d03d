"""soft compare: two models' reports on the same clips and mixtures, compared pairwise."""
import json

import numpy as np
import pytest
from onnx_fixtures import band_detector_weights, make_test_model
from test_evaluate import WHISTLE, whistles_and_rain

from soft.audio.features import FeatureConfig
from soft.evaluation import evaluate, paired


def test_mcnemar_counts_only_the_discordant_clips():
    assert paired.mcnemar_exact(0, 0) == 1.0
    assert paired.mcnemar_exact(6, 14) == pytest.approx(0.1153, abs=1e-4)
    assert paired.mcnemar_exact(14, 6) == paired.mcnemar_exact(6, 14)
    assert paired.mcnemar_exact(0, 10) < 0.01


def test_paired_bootstrap_sees_a_small_difference_that_unpaired_intervals_hide():
    # 300 mixtures whose difficulty varies a lot; the candidate removes one insertion in
    # 40 of them: a small shift under the spread, yet the same on every resample
    rng = np.random.default_rng(0)
    n_ref = rng.integers(0, 3, 300)
    ins = rng.poisson(1.5, 300)
    base = np.c_[n_ref, n_ref + ins, n_ref, np.zeros(300, int)]
    cand = base.copy()
    better = np.flatnonzero(ins > 0)[:40]
    cand[better, 1] -= 1
    r = paired.paired_error_rate(base, cand)
    assert r['difference'] == pytest.approx(-40 / n_ref.sum())
    lo, hi = r['difference_ci95']
    assert lo <= r['difference'] <= hi < 0
    assert r['share_candidate_better'] == 1.0
    with pytest.raises(paired.ComparisonError, match='reference events differ'):
        paired.paired_error_rate(base, np.c_[n_ref + 1, base[:, 1:]])


def test_compare_two_evaluated_models_end_to_end(tmp_path, capsys):
    cfg = FeatureConfig()
    w, b = band_detector_weights(cfg, WHISTLE, 2000, 3000)
    good = make_test_model(tmp_path / 'good.onnx', cfg, w, b, version='good-1')
    deaf = make_test_model(tmp_path / 'deaf.onnx', cfg, version='deaf-1')
    data = whistles_and_rain(tmp_path / 'data')
    common = ['--mixtures', '6', '--fa-minutes', '0.2', '--quiet']
    reports = {}
    for name, model, seed in (('good', good, '1'), ('deaf', deaf, '1'), ('other', deaf, '2')):
        out = tmp_path / f'{name}.json'
        assert evaluate.main([str(model), str(data), '--seed', seed, '--out', str(out),
                              *common]) == 0
        reports[name] = out
    capsys.readouterr()
    out = tmp_path / 'cmp.json'
    assert paired.main([str(reports['good']), str(reports['deaf']), '--out', str(out)]) == 0
    text = capsys.readouterr().out
    c = json.loads(out.read_text())
    # the deaf model loses every whistle clip and gains nothing
    assert c['clip_level']['fixed'] == 0 and c['clip_level']['broken'] == 4
    assert c['clip_level']['p_value'] == pytest.approx(0.125)
    assert 'clips: 0 fixed, 4 broken of 8' in text
    g = json.loads(reports['good'].read_text())['event_based']
    assert g['with_event'] >= 1
    e = c['event_based']['+6']
    assert e['difference'] > 0 and e['candidate'] > e['base']
    assert c['false_alarms_real']['candidate_events'] == 0
    ins = {k: json.loads(reports[k].read_text())['event_based']['insertions']['per_ebr']['+6']
           ['overall'] for k in ('good', 'deaf')}
    assert e['insertions'] == {k: [ins['good'][k], ins['deaf'][k]] for k in ins['good']}
    assert e['insertions']['no_event'][1] == 0          # the deaf model reports nothing
    assert '  insertions: no event ' in text
    # the band-limited clip levels are paired too: a 2-3 kHz whistle survives 5.5 kHz
    assert set(c['bandwidth']) == {'5500', '3800'}
    assert c['bandwidth']['5500']['broken'] == 4 and c['bandwidth']['5500']['fixed'] == 0
    assert 'clips band-limited at 5500 Hz: 0 fixed, 4 broken' in text
    # and the same clips and mixtures at street level: the deaf model loses the whistles
    sc = c['street_level']['clip_level']
    assert sc['broken'] == 4 and sc['fixed'] == 0 and sc['clips'] == 8
    assert text.count('clips: 0 fixed, 4 broken of 8') == 2
    st = c['street_level']['event_based']['+6']
    assert st['difference'] > 0 and st['base'] < st['candidate']
    assert c['street_level']['false_alarms_real']['candidate_events'] == 0
    assert 'at street level:' in text
    # and heard from further off (default 300 and 800 m): a 2-3 kHz whistle carries
    assert set(c['far']) == {'300', '800'}
    assert c['far']['300']['broken'] == 4 and c['far']['300']['fixed'] == 0
    assert 'clips heard from 300 m further: 0 fixed, 4 broken' in text
    # other mixtures (another seed) cannot be paired: refused, naming the field
    assert paired.main([str(reports['good']), str(reports['other'])]) == 2
    err = capsys.readouterr().err
    assert 'soft compare:' in err and 'seed' in err
    (tmp_path / 'bad.json').write_text('{"model": {}}')
    assert paired.main([str(reports['good']), str(tmp_path / 'bad.json')]) == 2
    assert 'soft compare:' in capsys.readouterr().err
