"""Street augmentation: facade reverberation, microphones, speed and pitch, real backgrounds.

Each property is measured on the signal the augmentation produces (Schroeder decay, image
delays computed independently here, frequency responses, click positions, tone frequencies),
and the feature-set builders run end to end with every augmentation switched on.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from soft.audio.features import FeatureConfig
from soft.classify import augment as A
from soft.classify import featureset as fset
from soft.classify import taxonomy
from soft.classify.dataset import ClipRecord, default_data_dir, load_clips, load_devset
from soft.classify.mixing import background_crop
from soft.sim.levels import leq_dba

SR = 16000


def _canyon(**kw) -> A.StreetGeometry:
    base = dict(kind='canyon', width_m=12.0, length_m=1000.0, height_m=18.0,
                walls=(False, False, True, True), source=(500.0, 3.0, 1.5),
                mic=(504.0, 10.0, 4.0), alpha=0.1, hf_loss=0.0, ground=0.9, rt60_s=1.0,
                rt60_low_ratio=1.2, rt60_high_ratio=0.6, early_s=0.1, tail_gain=1.0)
    base.update(kw)
    return A.StreetGeometry(**base)


def _t20(h: np.ndarray, lo: float, hi: float) -> float:
    """Reverberation time from the -5..-25 dB span of the Schroeder curve in one band."""
    sos = signal.butter(4, [lo, hi], 'bandpass', fs=SR, output='sos')
    e = np.cumsum((signal.sosfiltfilt(sos, h) ** 2)[::-1])[::-1]
    edc = 10 * np.log10(e / e[0])
    i5, i25 = int(np.argmax(edc < -5)), int(np.argmax(edc < -25))
    t = np.arange(i5, i25) / SR
    slope = np.polyfit(t, edc[i5:i25], 1)[0]
    return -60.0 / slope


def test_ir_direct_sound_first_and_decay_follows_the_drawn_rt60():
    rng = np.random.default_rng(1)
    errors = []
    for _ in range(8):
        g = A.draw_street(rng, 'canyon', distance_m=float(rng.uniform(10, 60)))
        ir = A.render_ir(g, SR, rng)
        assert ir[0] == 1.0
        assert np.max(np.abs(ir[1:])) < 1.0
        assert np.all(np.isfinite(ir))
        late = ir[int(g.early_s * SR):]
        mid, high = _t20(late, 700, 1400), _t20(late, 3000, 6000)
        low = _t20(late, 120, 350)
        errors.append((mid / g.rt60_s - 1, high / (g.rt60_s * g.rt60_high_ratio) - 1,
                       low / (g.rt60_s * g.rt60_low_ratio) - 1))
        assert high < mid  # highs decay faster
        # the tail lasts as long as its slowest band needs to fall 60 dB
        assert ir.size / SR >= g.early_s + g.rt60_s * g.rt60_low_ratio
    # one noise tail's decay fluctuates (most in the low band, few cycles): each within
    # 30 %, the typical one within 10 % (15 % low)
    errors = np.abs(np.array(errors))
    assert np.all(errors < 0.3), errors
    assert np.all(np.median(errors, axis=0) < [0.1, 0.1, 0.15]), errors
    # an event keeps its onset: nothing of it arrives before the direct sound
    x = np.zeros(4000)
    x[1000] = 1.0
    y, onset = A.reverberate(x, 1000, A.street_ir(rng, SR))
    assert onset == 1000 and np.all(np.abs(y[:1000]) < 1e-12) and y[1000] == pytest.approx(1.0)


def _sinc_value(h: np.ndarray, pos: float) -> float:
    n = np.arange(int(pos) - 40, int(pos) + 41)
    return float(np.sum(h[n] * np.sinc(pos - n)))


def test_canyon_flutter_reflections_arrive_at_the_image_delays():
    g = _canyon(tail_gain=0.0, early_s=0.15)
    ir = A.render_ir(g, SR, np.random.default_rng(0))
    (xs, ys, zs), (xm, ym, zm) = g.source, g.mic
    w, c = g.width_m, A.C_AIR
    r0 = math.dist(g.source, g.mic)
    refl = math.sqrt(1 - g.alpha)
    # images across the street: y = 2nW + ys (2|n| reflections), 2nW - ys (|2n - 1|)
    expected = []
    for n in range(-3, 4):
        for y_img, order in ((2 * n * w + ys, abs(2 * n)), (2 * n * w - ys, abs(2 * n - 1))):
            if order == 0:
                continue
            for z_img, ground in ((zs, 1.0), (-zs, g.ground)):
                r = math.dist((xs, y_img, z_img), (xm, ym, zm))
                if (r - r0) / c <= g.early_s:
                    expected.append(((r - r0) / c * SR, ground * r0 / r * refl ** order))
    assert len(expected) >= 12
    arrivals = sorted(p for p, _ in expected)
    checked = 0
    for pos, gain in expected:
        if sum(abs(a - pos) < 2 * A.SINC_HALF for a in arrivals) > 1:
            continue  # overlapping kernels
        # the band-limited impulse's samples sum to its gain
        i = int(pos)
        assert np.sum(ir[i - A.SINC_HALF:i + A.SINC_HALF + 2]) == pytest.approx(
            gain, rel=0.02), pos
        checked += 1
    assert checked >= 6
    # and nothing between them: quiet halfway between consecutive arrivals more than 4 ms
    gaps = [(a + b) / 2 for a, b in zip(arrivals, arrivals[1:]) if b - a > 0.004 * SR]
    assert gaps
    for mid in gaps:
        assert abs(_sinc_value(ir, mid)) < 0.01
    # the first flutter (first-order wall) comes after the direct sound by the path excess
    first = int(min(arrivals))
    assert first > A.SINC_HALF and not np.any(ir[1:first - A.SINC_HALF])


def test_facade_absorption_is_stronger_at_high_frequencies():
    f = np.fft.rfftfreq(1 << 15, 1 / SR)
    low, high = (f > 300) & (f < 800), (f > 5000) & (f < 7000)
    energy = {}
    for hf_loss in (0.0, 0.1):
        ir = A.render_ir(_canyon(tail_gain=0.0, hf_loss=hf_loss), SR,
                         np.random.default_rng(0))
        ir[0] = 0.0  # reflections only
        spec = np.abs(np.fft.rfft(ir, 1 << 15)) ** 2
        energy[hf_loss] = (spec[low].mean(), spec[high].mean())
    assert energy[0.1][0] == pytest.approx(energy[0.0][0], rel=0.15)
    assert energy[0.1][1] < 0.6 * energy[0.0][1]


def test_square_has_few_walls_and_the_geometry_is_checked():
    rng = np.random.default_rng(5)
    for _ in range(20):
        g = A.draw_street(rng, 'square', distance_m=40.0)
        assert 30 <= g.width_m <= 120 and 30 <= g.length_m <= 120 and 1 <= sum(g.walls) <= 4
        assert math.dist(g.source[:2], g.mic[:2]) <= 40.0 + 1e-6
        assert A.render_ir(g, SR, rng)[0] == 1.0
    with pytest.raises(ValueError, match='street kind'):
        A.draw_street(rng, 'tunnel')
    with pytest.raises(ValueError, match='rt60_s'):
        _canyon(rt60_s=0.0)


def test_mic_response_stays_within_its_drawn_limits():
    rng = np.random.default_rng(2)
    f = np.geomspace(10, 0.49 * SR, 400)
    for _ in range(300):
        p = A.draw_mic(rng, SR)
        assert 40 <= p.highpass_hz <= 250 and p.highpass_order in (1, 2)
        assert 2000 <= p.presence_hz <= 7000 and 0 <= p.presence_db <= 6
        assert -3 <= p.tilt_db <= 3
        sos = A.mic_sos(p, SR)
        _, h_scipy = signal.sosfreqz(sos, worN=f, fs=SR)
        db = 20 * np.log10(np.abs(h_scipy))
        assert abs(db[np.argmin(np.abs(f - 1000))]) < 0.1  # sensitivity is quoted at 1 kHz
        band = f >= 2 * p.highpass_hz
        assert db[band].max() <= p.presence_db + abs(p.tilt_db) / 2 + 0.5
        assert db[band].min() >= p.rolloff_db - abs(p.tilt_db) / 2 - p.presence_db - 0.5
        q = 20 * np.log10(abs(A.sos_gain(sos, p.highpass_hz / 4, SR)))
        assert q <= (-9.0 if p.highpass_order == 1 else -20.0)
        for row in sos:
            assert np.all(np.abs(np.roots(row[3:])) < 1.0)  # stable
    # a cut window through the mic is, once the priming has died out, the same stretch of
    # the filtered stream: no shift, no gain error
    x = np.random.default_rng(3).normal(size=3 * SR)
    sos = A.mic_sos(replace(p, highpass_hz=200.0, highpass_order=2), SR)
    ref = signal.sosfilt(sos, x)[SR:2 * SR]
    assert np.allclose(A.apply_mic(x[SR:2 * SR], sos)[4000:], ref[4000:], atol=1e-6)


@pytest.mark.parametrize('cutoff', [3400.0, 5500.0, 7200.0])
def test_bandlimit_keeps_the_band_below_its_cutoff_and_removes_the_band_above(cutoff):
    f = np.array([0.5, 0.9, 1.0, 1.25, 1.6]) * cutoff
    f = f[f < 0.5 * SR]
    for order in A.BANDLIMIT_ORDERS:
        db = 20 * np.log10(np.abs(A.sos_gain(A.bandlimit_sos(cutoff, SR, order), f, SR)))
        assert abs(db[0]) < 0.1                          # an octave below: untouched
        assert -3.5 < db[2] < -2.5                       # -3 dB at the cutoff
        if f.size > 4:                                   # ... and falling at order x 6 dB/oct
            assert db[4] < -6.0 * order * math.log2(1.6) + 6.0
    # a recording made at 11.025 kHz: white noise keeps nothing above 6 kHz
    x = np.random.default_rng(4).normal(size=SR)
    y = A.apply_mic(x, A.bandlimit_sos(5500.0, SR))
    fr, p = signal.welch(y, SR, nperseg=1024)
    assert 10 * np.log10(p[fr > 6000].mean() / p[fr < 4000].mean()) < -40
    with pytest.raises(ValueError, match='cutoff_hz 8000'):
        A.bandlimit_sos(8000.0, SR)
    rng = np.random.default_rng(5)
    cut = [A.draw_bandlimit(rng, SR, (3400.0, 7200.0)) for _ in range(200)]
    assert {len(s) for s in cut} == {o // 2 for o in A.BANDLIMIT_ORDERS}


def _top_band_db(windows: np.ndarray) -> np.ndarray:
    """Per window, the 6.5-7.5 kHz band's power over the 0.3-3 kHz band's, dB."""
    fr, p = signal.welch(windows.astype(np.float64), SR, nperseg=512, axis=-1)
    return 10 * np.log10(p[:, (fr > 6500) & (fr < 7500)].mean(1) / p[:, (fr > 300) &
                                                                     (fr < 3000)].mean(1))


def test_band_limited_recipe_takes_the_top_band_from_street_and_real_windows(monkeypatch):
    """The top band is gone from background windows (not only events: a band-limited
    street must stay background) and from real crops, and only when the recipe says so."""
    fcfg = FeatureConfig()
    pool = fset.background_pool(20.0, np.random.default_rng(1), SR)
    captured: list[np.ndarray] = []
    monkeypatch.setattr(fset, '_pack', lambda w, *a: captured.extend(w))
    narrow = replace(fset.Recipe(), mic_probability=0.0, bandlimit_hz=(3400.0, 4000.0))
    for probability, expect_cut in ((1.0, True), (0.0, False)):
        captured.clear()
        fset.background_set(6, pool, np.random.default_rng(2), fcfg,
                            replace(narrow, bandlimit_probability=probability))
        top = _top_band_db(np.stack(captured))
        assert np.all(top < -45) if expect_cut else np.all(top > -35), top
    noise = np.random.default_rng(3).normal(size=2 * SR)
    noise[SR // 2:SR // 2 + 800] *= 30.0             # one loud burst: the onset to crop at
    for probability, expect_cut in ((1.0, True), (0.0, False)):
        recipe = replace(narrow, real_bandlimit_probability=probability,
                         bandlimit_probability=0.0, speed_probability=0.0,
                         real_reverb_probability=0.0)
        w = fset.real_window(noise, np.random.default_rng(4), fcfg, recipe, None,
                             impulsive=True, mixed=False, augmented=True)
        top = _top_band_db(w[None])
        assert (top < -45) if expect_cut else (top > -10), top


def _click_train(onset: int, period: int, count: int, size: int) -> np.ndarray:
    x = np.zeros(size)
    x[onset:onset + period * count:period] = 1.0
    return x


@pytest.mark.parametrize('factor', [0.85, 0.93, 1.07, 1.18])
def test_speed_scales_duration_and_onset_together(factor):
    x = _click_train(3000, 1600, 6, 16000)
    y, onset = A.speed(x, 3000, factor)
    assert y.size == pytest.approx(x.size / factor, rel=0.02)
    peaks, _ = signal.find_peaks(y, height=0.5)
    assert len(peaks) == 6
    assert abs(peaks[0] - onset) <= 1
    assert np.diff(peaks).mean() == pytest.approx(1600 / factor, rel=0.02)
    with pytest.raises(ValueError, match='factor'):
        A.speed(x, 0, 0.0)


@pytest.mark.parametrize('factor', [0.89, 1.12])
def test_pitch_moves_a_tone_and_keeps_its_duration(factor):
    t = np.arange(SR) / SR
    x = np.zeros(2 * SR)
    x[8000:8000 + SR] = np.sin(2 * np.pi * 1000 * t)
    y, onset = A.pitch(x, 8000, factor)
    assert y.size == x.size and onset == 8000
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    peak_hz = np.fft.rfftfreq(y.size, 1 / SR)[spec.argmax()]
    assert peak_hz == pytest.approx(1000 * factor, rel=0.005)
    env = np.abs(signal.hilbert(y))
    on = np.flatnonzero(env > 0.5 * env.max())
    assert abs(on[0] - 8000) < 0.015 * SR and abs(on[-1] - (8000 + SR)) < 0.015 * SR
    steady = env[9000:23000]
    assert steady.std() < 0.05 * steady.mean()  # no phasey amplitude wobble


def _rec(label: str, class_id: int, name: str) -> ClipRecord:
    return ClipRecord(Path(f'test/{name}.flac'), label, class_id, name, 'CC0-1.0', 'test',
                      'test', Path('manifest.csv'))


def test_real_background_pool_sets_street_levels_and_skips_short_clips():
    rng = np.random.default_rng(4)
    short = (_rec('rain', taxonomy.BACKGROUND, 'short'), rng.normal(size=SR // 2))
    long_ = (_rec('traffic', taxonomy.BACKGROUND, 'long'), rng.normal(size=2 * SR) * 0.01)
    pool = fset.real_background_pool([short, long_], rng, SR, level_db=(50.0, 60.0))
    assert len(pool) == 2
    levels = [leq_dba(p, SR) for p in pool]
    assert all(50.0 - 1e-6 <= v <= 60.0 + 1e-6 for v in levels)
    # crops one window long come from the only clip long enough
    for _ in range(5):
        crop = background_crop(pool, SR, rng)
        hit = np.flatnonzero(np.isclose(pool[1], crop[0]))
        assert any(np.allclose(pool[1][i:i + SR], crop) for i in hit)
    with pytest.raises(ValueError, match=r'no stream of at least 16000 samples'):
        background_crop(pool[:1], SR, rng)
    with pytest.raises(ValueError, match=r'gunshot.*not background'):
        fset.real_background_pool([(_rec('gunshot', 1, 'shot'), rng.normal(size=SR))], rng, SR)
    with pytest.raises(ValueError, match='silent'):
        fset.real_background_pool([(_rec('rain', 0, 'zero'), np.zeros(SR))], rng, SR)


def _all_on() -> fset.Recipe:
    return replace(fset.Recipe(), reverb_probability=1.0, real_reverb_probability=1.0,
                   mic_probability=1.0, bandlimit_probability=1.0,
                   real_bandlimit_probability=1.0, mixtures_per_render=2,
                   background_pool_s=20.0)


def test_feature_sets_with_every_augmentation_on_are_finite_and_deterministic():
    fcfg = FeatureConfig()
    rng = np.random.default_rng(6)
    pool = fset.background_pool(20.0, rng, SR)
    pool += fset.real_background_pool(
        [(_rec('rain', 0, 'r'), np.random.default_rng(7).normal(size=SR + 100))], rng, SR)
    kinds = {'gunshot': 1, 'siren': 12}
    for recipe in (replace(_all_on(), speed_probability=1.0),
                   replace(_all_on(), speed_probability=0.0, pitch_probability=1.0)):
        a = fset.synthetic_set(kinds, {'gunshot': 2, 'siren': 2}, pool,
                               np.random.default_rng(8), fcfg, recipe, 'synthetic')
        b = fset.synthetic_set(kinds, {'gunshot': 2, 'siren': 2}, pool,
                               np.random.default_rng(8), fcfg, recipe, 'synthetic')
        assert a.x.shape == (8, fcfg.n_mels, fcfg.window_frames)
        assert np.all(np.isfinite(a.x.astype(np.float32)))
        assert np.array_equal(a.x, b.x) and sorted(set(a.y.tolist())) == [1, 12]
    off = fset.synthetic_set(kinds, {'gunshot': 2, 'siren': 2}, pool,
                             np.random.default_rng(8), fcfg, _all_on().without_augmentation(),
                             'synthetic')
    assert not np.array_equal(off.x, a.x)
    bg = fset.background_set(4, pool, np.random.default_rng(9), fcfg, _all_on())
    assert bg.x.shape == (4, fcfg.n_mels, fcfg.window_frames) and np.all(bg.y == 0)


DATA = default_data_dir()


@pytest.mark.skipif(not (DATA / 'devset' / 'manifest.csv').is_file(),
                    reason=f'shared dev set not found under {DATA}')
def test_real_set_with_augmentation_on_real_clips():
    fcfg = FeatureConfig()
    records = load_devset(DATA)
    pick = [next(r for r in records if r.label == lab) for lab in ('siren', 'gunshot', 'rain')]
    clips, _ = load_clips(pick, SR)
    assert len(clips) == 3
    pool = fset.background_pool(20.0, np.random.default_rng(10), SR)
    recipe = replace(_all_on(), real_crops_per_clip=2, real_min_windows_per_label=2,
                     speed_probability=0.5, pitch_probability=1.0)
    train = fset.real_set(clips, np.random.default_rng(11), fcfg, recipe, pool, True)
    assert train.x.shape == (6, fcfg.n_mels, fcfg.window_frames)
    assert np.all(np.isfinite(train.x.astype(np.float32)))
    # validation crops stay as recorded: the augmentation switches change nothing there
    v1 = fset.real_set(clips, np.random.default_rng(12), fcfg, recipe, pool, False)
    v0 = fset.real_set(clips, np.random.default_rng(12), fcfg,
                       recipe.without_augmentation(), pool, False)
    assert np.array_equal(v1.x, v0.x)
    # a pool of real background as the only background works for mixing
    real_pool = fset.real_background_pool([c for c in clips if c[0].label == 'rain'],
                                          np.random.default_rng(13), SR)
    w = fset.real_window(clips[0][1], np.random.default_rng(14), fcfg, recipe, real_pool,
                         impulsive=False, mixed=True, augmented=True)
    assert w.shape == (fcfg.window_samples(),) and np.all(np.isfinite(w))


def test_burst_repeats_the_shot_after_the_first_and_keeps_the_onset():
    from soft.classify.featureset import Recipe, burst

    sr = 16000
    x = np.zeros(2000)
    x[500:520] = 1.0                      # one 'shot' at the onset, then silence
    recipe = Recipe(burst_shots=(4, 4), burst_gap_s=(0.1, 0.2))
    y = burst(x, 500, np.random.default_rng(3), sr, recipe)
    assert np.array_equal(y[:x.size][:1600], x[:1600])   # first shot untouched
    assert not np.any(y[:500])                            # nothing before the onset
    peaks = np.flatnonzero(np.diff((np.abs(y) > 0.3).astype(int)) == 1) + 1
    assert len(peaks) == 4 and peaks[0] == 500
    gaps = np.diff(peaks) / sr
    assert np.all((gaps >= 0.1 - 1e-3) & (gaps <= 0.2 + 1e-3))


def test_time_stretch_survives_float_step_overshoot():
    # np.arange(0, 65, 1.15) ends a rounding error past 65: crashed a training run once
    from soft.classify.augment import time_stretch

    x = np.random.default_rng(0).normal(size=8356)
    y = time_stretch(x, 1.15)
    assert y.size == round(x.size / 1.15) and np.all(np.isfinite(y))


def test_real_crop_whose_augmentation_raises_is_redrawn_and_counted(monkeypatch):
    from collections import Counter

    fcfg = FeatureConfig()
    rng = np.random.default_rng(20)
    t = np.arange(2 * SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 900 * t) * (t > 0.5)).astype(np.float32)
    rec = ClipRecord(Path('siren_x.flac'), 'siren', 12, 'g', 'CC0', 'test', 'test',
                     Path('manifest.csv'))
    pool = fset.background_pool(10.0, rng, SR)
    recipe = replace(_all_on(), real_crops_per_clip=3, real_min_windows_per_label=3,
                     speed_probability=0.0, pitch_probability=1.0)
    calls = {'n': 0}
    real_pitch = A.pitch

    def flaky_pitch(x, onset, factor):
        calls['n'] += 1
        if calls['n'] == 2:
            raise IndexError('index 66 is out of bounds for axis 0 with size 66')
        return real_pitch(x, onset, factor)

    monkeypatch.setattr(A, 'pitch', flaky_pitch)
    failures: Counter = Counter()
    out = fset.real_set([(rec, tone)], np.random.default_rng(21), fcfg, recipe, pool, True,
                        failures)
    assert out.x.shape[0] == 3 and np.all(np.isfinite(out.x.astype(np.float32)))
    assert failures == {'real siren: IndexError: index 66 is out of bounds for axis 0 '
                        'with size 66': 1}

    def broken_pitch(x, onset, factor):
        raise ValueError('always broken')

    monkeypatch.setattr(A, 'pitch', broken_pitch)
    with pytest.raises(RuntimeError, match='augmenting real clip siren_x.flac failed'):
        fset.real_set([(rec, tone)], np.random.default_rng(21), fcfg, recipe, pool, True)


def test_explosions_are_never_turned_into_volleys(monkeypatch):
    # a string of blasts tenths of a second apart labelled explosion taught the model that
    # pounding is an explosion; gunshots still come in volleys
    calls: list[int] = []
    real_burst = fset.burst

    def spy(x, onset, rng, sr, recipe):
        calls.append(onset)
        return real_burst(x, onset, rng, sr, recipe)

    monkeypatch.setattr(fset, 'burst', spy)
    fcfg = FeatureConfig()
    pool = fset.background_pool(10.0, np.random.default_rng(0), SR)
    recipe = replace(fset.Recipe(), burst_probability=1.0, mixtures_per_render=1)
    for i in range(3):
        fset._synth_windows('explosion', np.random.default_rng(i), pool, fcfg, recipe)
    assert calls == []
    fset._synth_windows('gunshot', np.random.default_rng(5), pool, fcfg, recipe)
    assert len(calls) == 1
