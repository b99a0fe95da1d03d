"""soft evaluate: mixtures at a stated EBR with true annotations, and the whole run end to end."""
import json

import numpy as np
import pytest
import soundfile as sf
from onnx_fixtures import band_detector_weights, make_test_model

from soft.audio.features import FeatureConfig
from soft.classify import taxonomy
from soft.evaluation import mixtures as mx
from soft.evaluation.evaluate import main

SR = 16000
WHISTLE = taxonomy.by_name('whistle').id


def burst(seconds, f_lo=2100, f_hi=2900, lead=0.4, amp=0.2, seed=0):
    """Noise floor, then a tone cluster from ``lead`` s: a whistle for the band model."""
    rng = np.random.default_rng(seed)
    x = 0.003 * rng.standard_normal(int(seconds * SR))
    t = np.arange(int(0.6 * SR)) / SR
    s = sum(np.sin(2 * np.pi * f * t + f) for f in np.linspace(f_lo, f_hi, 4))
    i = int(lead * SR)
    x[i:i + t.size] += amp * s
    return x.astype(np.float32)


def whistles_and_rain(root):
    """A label/clip folder tree: four whistles (for the band model) and four rain clips."""
    for k in range(4):
        (root / 'whistle').mkdir(parents=True, exist_ok=True)
        sf.write(str(root / 'whistle' / f'w{k}.wav'), burst(2.0, seed=k), SR)
        (root / 'rain').mkdir(exist_ok=True)
        noise = np.random.default_rng(10 + k).standard_normal(3 * SR) * 0.02
        sf.write(str(root / 'rain' / f'r{k}.flac'), noise.astype(np.float32), SR)
    return root


@pytest.mark.parametrize('ebr', mx.EBRS_DB)
def test_mixture_has_the_requested_ebr_and_true_annotation(ebr):
    rng = np.random.default_rng(3)
    events = [mx.Source('w', 'whistle', WHISTLE, mx.event_segment(burst(2.0), SR))]
    rain = (0.05 * rng.standard_normal(7 * SR)).astype(np.float32)
    ambient = [mx.Source('r', 'rain', 0, rain)]
    recipes = mx.make_recipes(12, events, ambient, rng, event_probability=1.0)
    assert any(r.ambient for r in recipes) and any(not r.ambient for r in recipes)
    for rec in recipes[:4]:
        bg = mx.render_background(rec, ambient, SR)
        m = mx.mix(rec, bg, events, ebr, SR)
        assert m.audio.size == int(mx.DURATION_S * SR)
        np.testing.assert_allclose(m.audio, m.background + m.event, atol=1e-6)
        (a,) = m.annotations
        on, off = round(a.onset * SR), round(a.offset * SR)
        nz = np.flatnonzero(m.event)
        assert a.label == 'whistle' and on <= nz[0] and nz[-1] < off
        assert mx.LEAD_S <= a.onset and a.offset <= mx.DURATION_S - mx.TAIL_S + 0.01
        # the event segment starts at the tone's onset (0.4 s into the clip, 20 ms margin)
        assert (off - on) / SR == pytest.approx(0.6 + 0.07, abs=0.03)
        assert mx.ebr_db(m.event[on:off], m.background[on:off]) == pytest.approx(ebr, abs=0.5)
    # the anti-clipping gain keeps the ratio
    loud = [mx.Source('w', 'whistle', WHISTLE, 40 * events[0].samples)]
    bg = mx.render_background(recipes[0], [mx.Source('r', 'rain', 0, 15 * rain)], SR)
    m = mx.mix(recipes[0], bg, loud, ebr, SR)
    (a,) = m.annotations
    on, off = round(a.onset * SR), round(a.offset * SR)
    assert np.max(np.abs(m.audio)) <= mx.ANTICLIP_PEAK + 1e-6
    assert mx.ebr_db(m.event[on:off], m.background[on:off]) == pytest.approx(ebr, abs=0.5)


@pytest.mark.parametrize('gap_s, n_events', [(0.4, 1), (2.0, 2)])
def test_sounds_further_apart_than_the_burst_gap_are_separate_references(gap_s, n_events):
    # two shots 2 s apart are two events to report; 0.4 s apart they are one burst
    clip = burst(4.0, lead=0.3) + burst(4.0, lead=0.3 + 0.6 + gap_s, seed=1)
    seg = mx.event_segment(clip, SR)
    events = [mx.Source('w', 'whistle', WHISTLE, seg)]
    rec = mx.Recipe(0, (), 0, 'quiet_street', 5, 0, 5.0)
    m = mx.mix(rec, mx.render_background(rec, [], SR), events, 6.0, SR)
    assert len(m.annotations) == n_events
    assert m.annotations[0].onset == pytest.approx(5.0)
    assert m.annotations[-1].offset == pytest.approx(5.0 + seg.size / SR)
    if n_events == 2:
        assert m.annotations[1].onset - m.annotations[0].onset == pytest.approx(0.6 + gap_s,
                                                                                abs=0.03)


@pytest.mark.parametrize('spl', [55.0, 75.0])
def test_street_level_sets_the_background_level_and_keeps_the_ebr(spl):
    rng = np.random.default_rng(4)
    events = [mx.Source('w', 'whistle', WHISTLE, mx.event_segment(burst(2.0), SR))]
    rain = (0.1 * rng.standard_normal(7 * SR)).astype(np.float32)   # a loud recording
    rec = mx.Recipe(0, (0,), 0, 'quiet_street', 5, 0, 6.0)
    m = mx.mix(rec, mx.render_background(rec, [mx.Source('r', 'rain', 0, rain)], SR), events,
               0.0, SR)
    s = mx.at_street_level(m, spl, -38.0)
    # 1 Pa (94 dB SPL) reads -38 dBFS as a sine: RMS 10^(-38/20)/sqrt(2) full scale
    want = 20e-6 * 10 ** (spl / 20) * 10 ** (-38 / 20) / np.sqrt(2)
    sec = [mx.rms(s.background[i:i + SR]) for i in range(0, s.background.size - SR + 1, SR)]
    assert np.median(sec) == pytest.approx(want, rel=1e-3)
    assert s.annotations == m.annotations
    np.testing.assert_allclose(s.audio, s.background + s.event, atol=1e-6)
    (a,) = s.annotations
    on, off = round(a.onset * SR), round(a.offset * SR)
    assert mx.ebr_db(s.event[on:off], s.background[on:off]) == pytest.approx(
        mx.ebr_db(m.event[on:off], m.background[on:off]), abs=1e-3)
    loud = mx.at_street_level(m, 150.0, -38.0)       # never clips: scaled back to the peak
    assert np.max(np.abs(loud.audio)) <= mx.ANTICLIP_PEAK + 1e-6


@pytest.mark.parametrize('spl', [50.0, 80.0])
def test_a_clip_at_street_level_has_its_typical_second_at_that_level(spl):
    from soft.evaluation.clip_eval import at_street_level

    rng = np.random.default_rng(5)
    x = (0.2 * rng.standard_normal(6 * SR)).astype(np.float32)     # a loud recording
    x[2 * SR:2 * SR + 800] *= 4.0                                    # and one short bang
    y = at_street_level(x, spl, SR, -38.0)
    want = 20e-6 * 10 ** (spl / 20) * 10 ** (-38 / 20) / np.sqrt(2)
    sec = [mx.rms(y[i:i + SR]) for i in range(0, y.size - SR + 1, SR)]
    assert np.median(sec) == pytest.approx(want, rel=1e-3)
    np.testing.assert_allclose(y / y.max(), x / x.max(), atol=1e-5)   # a gain, nothing else
    loud = at_street_level(x, 150.0, SR, -38.0)        # never clips: scaled back to the peak
    assert np.max(np.abs(loud)) <= mx.ANTICLIP_PEAK + 1e-6


def test_no_event_mixtures_are_about_half():
    rng = np.random.default_rng(0)
    events = [mx.Source('w', 'whistle', WHISTLE, np.ones(SR, np.float32))]
    recipes = mx.make_recipes(400, events, [], rng)
    share = np.mean([r.event is None for r in recipes])
    assert 0.4 < share < 0.6 and all(not r.ambient for r in recipes)


def test_evaluate_end_to_end_on_a_generated_dataset(tmp_path, capsys):
    cfg = FeatureConfig()
    w, b = band_detector_weights(cfg, WHISTLE, 2000, 3000)
    model = make_test_model(tmp_path / 'band.onnx', cfg, w, b)
    data = whistles_and_rain(tmp_path / 'data')
    (data / 'whistle' / 'broken.wav').write_bytes(b'not audio')
    out = tmp_path / 'results.json'
    code = main([str(model), str(data), '--mixtures', '4', '--fa-minutes', '0.5',
                 '--seed', '1', '--out', str(out), '--quiet'])
    assert code == 0
    r = json.loads(out.read_text())
    for key in ('model', 'detector', 'data', 'clip_level', 'event_based', 'false_alarms',
                'timings'):
        assert key in r, key
    assert r['data']['layout'] == 'folders' and r['data']['split'] == 'all'
    assert r['data']['skipped_reasons'] == {'corrupt': 1}
    assert len(r['model']['sha256']) == 64
    c = r['clip_level']
    assert c['per_class']['whistle']['support'] == 4 and c['per_class']['background'][
        'support'] == 4
    assert c['per_class']['whistle']['recall'] == 1.0          # a band model hears its band
    assert c['confusion']['rows_true_columns_predicted'][0][0] == 4
    e = r['event_based']
    assert set(e['per_ebr']) == {'-6', '+0', '+6'} and e['mixtures_per_ebr'] == 4
    for res in e['per_ebr'].values():
        o = res['overall']
        assert o['n_ref'] == e['with_event']
        assert o['substitutions'] + o['deletions'] + o['n_tp'] == o['n_ref']
    if e['with_event']:
        assert e['per_ebr']['+6']['overall']['recall'] == 1.0
    for ebr, res in e['misses']['per_ebr'].items():    # one cause per reference
        o, m = e['per_ebr'][ebr]['overall'], res['overall']
        assert sum(m.values()) == o['n_ref']
        assert m['found'] == o['n_tp'] and m['wrong_class'] == o['substitutions']
        ins = e['insertions']['per_ebr'][ebr]['overall']      # one cause per insertion
        assert sum(ins.values()) == o['insertions']
    fa = r['false_alarms']
    assert fa['generated']['hours'] == pytest.approx(0.5 / 60, rel=0.01)
    assert fa['real']['hours'] > 0 and fa['combined']['police_per_hour'] == 0.0
    for kind in ('real', 'generated'):         # the classifier's load on background
        assert 0.0 <= fa[kind]['classified_windows_per_s'] < 10.0
        assert fa[kind]['onsets_over_budget'] >= 0
    assert r['detector']['onset_budget_per_s'] == 1.0
    # zero false alarms in a few minutes still allows a high rate: the interval says so
    lo, hi = fa['combined']['police_per_hour_ci95']
    assert lo == 0.0 and hi > 3.69 / fa['combined']['hours'] * 0.99
    lo, hi = c['per_class']['whistle']['recall_ci95']
    assert hi == 1.0 and 0.4 < lo < 0.6                         # 4 of 4 clips
    text = capsys.readouterr().out
    assert 'Clip level' in text and 'EBR dB' in text and 'False alarms' in text
    assert 'Windows classified per second of background' in text
    assert 'where the reference events went' in text
    assert 'where the insertions came from' in text
    assert 'R 95% CI' in text and '[0.51, 1.00]' in text
    bw = r['bandwidth']['per_cutoff']          # default cutoffs: 11 and 8 kHz recordings
    assert set(bw) == {'5500', '3800'}
    assert all(len(m['clips_detail']) == 8 for m in bw.values())
    assert bw['5500']['per_class']['whistle']['recall'] == 1.0
    assert 'every clip band-limited' in text
    st = r['street_level']                     # default: backgrounds at 55-75 dB SPL
    assert st['spl_db'] == [55.0, 75.0]
    for ebr, res in st['event_based']['per_ebr'].items():
        o = res['overall']
        assert o['n_ref'] == e['per_ebr'][ebr]['overall']['n_ref']      # the same mixtures
        assert sum(st['event_based']['misses']['per_ebr'][ebr]['overall'].values()) == o['n_ref']
        assert sum(st['event_based']['insertions']['per_ebr'][ebr]['overall'].values()) == \
            o['insertions']
    if e['with_event']:                        # a band model does not go by loudness
        assert st['event_based']['per_ebr']['+6']['overall']['recall'] == 1.0
    assert st['false_alarms']['real']['hours'] == pytest.approx(fa['real']['hours'])
    sc = st['clip_level']                      # every clip again, at a street's level
    assert [d['path'] for d in sc['clips_detail']] == [d['path'] for d in c['clips_detail']]
    assert sc['per_class']['whistle']['recall'] == 1.0
    assert 'Clip level at street level (8 clips' in text
    assert 'generated' not in st['false_alarms'] and 'At street level' in text


def test_band_limited_clip_level_loses_what_lies_above_the_cutoff(tmp_path, capsys):
    """A model listening at 2-3 kHz keeps its whistles at a 5.5 kHz cutoff and loses them at
    1.5 kHz; the unlimited clip level is untouched; bad cutoffs are named."""
    cfg = FeatureConfig()
    w, b = band_detector_weights(cfg, WHISTLE, 2000, 3000)
    model = make_test_model(tmp_path / 'band.onnx', cfg, w, b)
    data = whistles_and_rain(tmp_path / 'data')
    out = tmp_path / 'bw.json'
    assert main([str(model), str(data), '--mixtures', '0', '--fa-minutes', '0',
                 '--bandwidths', '5500,1500', '--out', str(out), '--quiet']) == 0
    r = json.loads(out.read_text())
    assert r['clip_level']['per_class']['whistle']['recall'] == 1.0
    bw = r['bandwidth']['per_cutoff']
    assert bw['5500']['per_class']['whistle']['recall'] == 1.0
    assert bw['1500']['per_class']['whistle']['recall'] == 0.0
    assert bw['1500']['per_class']['background']['recall'] == 1.0
    assert len(bw['1500']['clips_detail']) == 8
    assert main([str(model), str(data), '--mixtures', '0', '--fa-minutes', '0',
                 '--bandwidths', 'none', '--out', str(out), '--quiet']) == 0
    assert json.loads(out.read_text())['bandwidth']['per_cutoff'] == {}
    capsys.readouterr()
    assert main([str(model), str(data), '--mixtures', '0', '--bandwidths', '9000',
                 '--quiet']) == 2
    assert '--bandwidths: cutoff_hz 9000' in capsys.readouterr().err
    for bad in ('100', 'wide'):
        with pytest.raises(SystemExit) as e:
            main([str(model), str(data), '--bandwidths', bad])
        assert e.value.code == 2 and '--bandwidths' in capsys.readouterr().err


def test_evaluate_reports_bad_input_without_traceback(tmp_path, capsys):
    assert main([str(tmp_path / 'none.onnx'), str(tmp_path)]) == 2
    assert 'soft evaluate: ModelError' in capsys.readouterr().err
    for bad in ('55', '75,55', 'loud,75', '10,200'):
        with pytest.raises(SystemExit) as e:
            main([str(tmp_path / 'none.onnx'), str(tmp_path), '--street-spl', bad])
        assert e.value.code == 2 and '--street-spl' in capsys.readouterr().err


def test_onset_budget_option_shows_what_a_site_setting_trades(tmp_path, capsys):
    cfg = FeatureConfig()
    w, b = band_detector_weights(cfg, WHISTLE, 2000, 3000)
    model = make_test_model(tmp_path / 'band.onnx', cfg, w, b)
    data = tmp_path / 'data'
    (data / 'whistle').mkdir(parents=True)
    (data / 'rain').mkdir()
    sf.write(str(data / 'whistle' / 'w.wav'), burst(2.0), SR)
    rng = np.random.default_rng(2)
    for k in range(3):                          # hard rain: about 8 drops a second
        x = rng.standard_normal(20 * SR) * 0.002
        for i in rng.integers(0, x.size - 800, size=160):
            x[i:i + 800] += rng.uniform(0.05, 0.1) * np.exp(-np.arange(800) / 40.0) \
                * rng.standard_normal(800)
        sf.write(str(data / 'rain' / f'r{k}.flac'), x.astype(np.float32), SR)
    load = {}
    for budget in ('0', '1'):
        out = tmp_path / f'b{budget}.json'
        assert main([str(model), str(data), '--mixtures', '0', '--fa-minutes', '0.1',
                     '--onset-budget', budget, '--out', str(out), '--quiet']) == 0
        r = json.loads(out.read_text())
        assert r['detector']['onset_budget_per_s'] == float(budget)
        assert '--onset-budget' in r['detector']['source']
        load[budget] = r['false_alarms']['real']
    assert load['0']['onsets_over_budget'] == 0 and load['1']['onsets_over_budget'] > 0
    assert load['1']['classified_windows_per_s'] < load['0']['classified_windows_per_s'] / 2
    capsys.readouterr()
    for bad in ('-1', 'many'):
        with pytest.raises(SystemExit) as e:
            main([str(model), str(data), '--onset-budget', bad])
        assert e.value.code == 2 and '--onset-budget' in capsys.readouterr().err


def test_clips_heard_from_further_lose_their_top_band_to_the_air(tmp_path, capsys):
    """A model listening at 5.8-7.5 kHz keeps whistles there heard from 50 m further and
    loses them from 1500 m (air absorption near 0.1 dB/m up there); every clip pairs with
    the street section; bad distances are named."""
    cfg = FeatureConfig()
    w, b = band_detector_weights(cfg, WHISTLE, 5800, 7500)
    model = make_test_model(tmp_path / 'band.onnx', cfg, w, b)
    data = tmp_path / 'data'
    for k in range(4):
        (data / 'whistle').mkdir(parents=True, exist_ok=True)
        sf.write(str(data / 'whistle' / f'w{k}.wav'), burst(2.0, 6000, 7200, seed=k), SR)
        (data / 'rain').mkdir(exist_ok=True)
        noise = np.random.default_rng(10 + k).standard_normal(3 * SR) * 0.02
        sf.write(str(data / 'rain' / f'r{k}.flac'), noise.astype(np.float32), SR)
    out = tmp_path / 'far.json'
    assert main([str(model), str(data), '--mixtures', '0', '--fa-minutes', '0',
                 '--bandwidths', 'none', '--far-m', '50,1500', '--out', str(out),
                 '--quiet']) == 0
    r = json.loads(out.read_text())
    assert r['street_level']['clip_level']['per_class']['whistle']['recall'] == 1.0
    far = r['far']['per_distance']
    assert far['50']['per_class']['whistle']['recall'] == 1.0
    assert far['1500']['per_class']['whistle']['recall'] == 0.0
    assert far['1500']['per_class']['background']['recall'] == 1.0
    assert [d['path'] for d in far['1500']['clips_detail']] == \
        [d['path'] for d in r['street_level']['clip_level']['clips_detail']]
    assert 'heard from this much further off, at street level' in capsys.readouterr().out
    assert main([str(model), str(data), '--mixtures', '0', '--fa-minutes', '0',
                 '--bandwidths', 'none', '--far-m', 'none', '--street-spl', 'none',
                 '--out', str(out), '--quiet']) == 0
    assert json.loads(out.read_text())['far']['per_distance'] == {}
    capsys.readouterr()
    for bad in ('0', '5000', 'far'):
        with pytest.raises(SystemExit) as e:
            main([str(model), str(data), '--far-m', bad])
        assert e.value.code == 2 and '--far-m' in capsys.readouterr().err
