"""Spectral statistics on signals with known answers, and the real-vs-generated comparison."""
import json

import numpy as np
import pytest

from soft.classify import spectralcompare as sc
from soft.classify.dataset import default_data_dir, load_clips, load_devset

FS = 16000


def _tone(f, dur=1.0, fs=FS):
    t = np.arange(int(dur * fs)) / fs
    return np.sin(2 * np.pi * f * t)


def test_tone_centroid_dominant_frequency_and_no_modulation():
    x = np.concatenate([np.zeros(1600), _tone(1000.0, 1.5)])
    s, bands = sc.clip_stats(x, FS)
    assert s['centroid_hz'] == pytest.approx(1000.0, abs=30.0)
    assert s['dominant_hz'] == pytest.approx(1000.0, abs=5.0)
    assert s['bandwidth_hz'] < 100.0
    assert s['flatness'] < 0.01
    assert s['mod_depth_st'] < 0.1
    assert s['crest_db'] == pytest.approx(3.0, abs=0.5)  # a sine: peak / rms = sqrt(2)
    edges = sc.band_edges()
    k = int(np.searchsorted(edges, 1000.0)) - 1
    assert int(np.argmax(bands)) == k and bands[k] > -1.0


def test_white_noise_is_flat_and_centred():
    x = np.random.default_rng(0).standard_normal(FS * 2)
    s, bands = sc.clip_stats(x, FS, tonal=False)
    assert s['flatness'] > 0.9
    # flat between 50 Hz and 8 kHz: centroid in the middle, roll-off at 85 % of the span
    assert s['centroid_hz'] == pytest.approx(4025.0, rel=0.05)
    assert s['rolloff85_hz'] == pytest.approx(50 + 0.85 * 7950, rel=0.03)
    assert 'dominant_hz' not in s


def test_click_attack_and_exponential_decay():
    tau = 0.05
    n = FS
    x = np.zeros(FS // 2 + n)
    t = np.arange(n) / FS
    x[FS // 2:] = np.random.default_rng(1).standard_normal(n) * np.exp(-t / tau)
    s, _ = sc.clip_stats(x, FS, tonal=False)
    assert s['attack_s'] < 0.006
    # amplitude exp(-t/tau) is 20 dB down at tau * ln(10)
    assert s['decay20_s'] == pytest.approx(tau * np.log(10), rel=0.2)
    assert s['above20_s'] == pytest.approx(tau * np.log(10), rel=0.25)


def test_slow_attack_is_measured():
    n = FS
    env = np.clip(np.arange(n) / (0.2 * FS), 0, 1)  # linear 200 ms ramp: 10-90 % in 160 ms
    x = np.concatenate([np.zeros(FS // 4), _tone(500.0, 1.0) * env])
    s, _ = sc.clip_stats(x, FS, onset=FS // 4)
    assert s['attack_s'] == pytest.approx(0.16, abs=0.02)


def test_swept_tone_modulation_rate_and_depth():
    dur, rate = 4.0, 2.0
    t = np.arange(int(dur * FS)) / FS
    ph = (t * rate) % 1.0
    f0 = 600.0 + 600.0 * np.where(ph < 0.5, 2 * ph, 2 - 2 * ph)  # 600-1200 Hz triangle
    x = np.sin(2 * np.pi * np.cumsum(f0) / FS)
    s, _ = sc.clip_stats(x, FS, onset=0)
    assert s['mod_rate_hz'] == pytest.approx(rate, abs=0.15)
    assert s['mod_depth_st'] == pytest.approx(12.0, abs=1.5)  # one octave
    low = sc.clip_stats(_tone(300.0, 2.0), FS, onset=0)[0]['low_high_db']
    assert low > 30.0  # all energy below 500 Hz


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match='non-finite'):
        sc.clip_stats(np.array([0.0, np.nan] * 100), FS)
    with pytest.raises(ValueError, match='mono'):
        sc.clip_stats(np.zeros((10, 2)), FS)
    with pytest.raises(ValueError, match='unknown class'):
        sc.build_report(real={}, n=4, classes=['bazooka'])


def test_compare_stat_flags_a_median_outside_the_real_iqr():
    real = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    far = sc.compare_stat(real, np.array([9.0, 10.0, 11.0]), 'crest_db')
    assert far['outside'] and far['z'] == pytest.approx((10.0 - 3.0) / 2.0)
    assert far['coverage'] == 0.0
    near = sc.compare_stat(real, np.linspace(0.0, 6.0, 50), 'crest_db')
    assert not near['outside'] and near['coverage'] == 1.0


def _real(label, k):
    recs = [r for r in load_devset(default_data_dir()) if r.label == label][:k]
    clips, _ = load_clips(recs, FS)
    return [x for _, x in clips]


@pytest.mark.skipif(not (default_data_dir() / 'devset' / 'manifest.csv').is_file(),
                    reason='shared real clips not available')
def test_comparison_on_real_clips_and_a_class_without_any(tmp_path):
    real = {'gunshot': _real('gunshot', 4), 'explosion': _real('explosion', 4)}
    assert len(real['gunshot']) == 4
    rep = sc.build_report(real=real, n=6, seed=0, classes=['gunshot', 'explosion', 'drill'])
    g = rep['classes']['gunshot']
    assert g['status'] == 'ok' and g['n_real'] == 4
    assert g['n_generated'] == {c: 6 for c in sc.CONDITIONS}
    assert set(g['stats']) == set(sc.BASE_STATS)
    for s in sc.BASE_STATS:
        for cond in sc.CONDITIONS:
            d = g['stats'][s][cond]
            r = g['stats'][s]['real']
            assert d['outside'] == (d['median'] < r['q25'] or d['median'] > r['q75'])
            assert d['z'] is not None and np.isfinite(d['z'])
    assert len(g['spectrum']['real_median_db']) == sc.N_BANDS
    assert g['spectrum']['dry_mean_abs_db'] > 0
    # gunshots are brighter and shorter than explosions, in real and generated sounds alike
    e = rep['classes']['explosion']
    for key in ('real', 'dry'):
        assert g['stats']['centroid_hz'][key]['median'] > e['stats']['centroid_hz'][key][
            'median']
        assert g['stats']['above20_s'][key]['median'] < e['stats']['above20_s'][key]['median']
    assert rep['classes']['drill']['status'] == 'no real clips'
    md = sc.render_markdown(rep)
    assert '### gunshot (4 real clips)' in md and 'No real clips to compare with: drill' in md
    assert 'drill: no real clips' in sc.render_text(rep)
    json.dumps(rep)  # serialisable as written by main


def test_main_writes_json_and_markdown(tmp_path, capsys):
    data = tmp_path / 'data'
    (data / 'devset').mkdir(parents=True)
    (data / 'devset' / 'manifest.csv').write_text(
        'path,label,source_repo,license,attribution\n', encoding='utf-8')
    out, md = tmp_path / 'r.json', tmp_path / 'r.md'
    assert sc.main([str(data), '--out', str(out), '--markdown', str(md), '--n', '4',
                    '--classes', 'whistle,drill']) == 0
    rep = json.loads(out.read_text())
    assert rep['classes']['whistle']['status'] == 'no real clips'
    assert 'No real clips to compare with: whistle, drill' in md.read_text()
    assert sc.main([str(tmp_path / 'nowhere'), '--n', '4']) == 2
    assert 'no manifest' in capsys.readouterr().err
