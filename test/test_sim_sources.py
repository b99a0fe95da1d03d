"""Procedural and recorded sources: every kind and variant, levels, errors, real clips."""
import zlib
from pathlib import Path

import numpy as np
import pytest

from soft.classify import taxonomy
from soft.sim.sources import (ALERT_KINDS, KINDS, NEGATIVE_KINDS, ClipLibrary, clip_source,
                              measure_level, synthesize)
from soft.sim.sources.registry import FAMILIES

DATA = Path('/work/shared/data')


def test_every_taxonomy_class_has_generators_and_negatives_are_class_zero():
    names = {c.name for c in taxonomy.CLASSES if c.id != 0}
    assert set(ALERT_KINDS) == names
    for kind in ALERT_KINDS:
        assert len(KINDS[kind]) >= 3, kind
    assert len(NEGATIVE_KINDS) >= 12
    assert not set(ALERT_KINDS) & set(NEGATIVE_KINDS)
    for kind in NEGATIVE_KINDS:
        assert FAMILIES[kind].class_id == 0


@pytest.mark.parametrize('kind,variant', [(k, v) for k, vs in KINDS.items() for v in vs])
def test_each_variant_is_finite_audible_and_at_its_stated_level(kind, variant):
    rng = np.random.default_rng(zlib.crc32(f'{kind}/{variant}'.encode()))
    s = synthesize(kind, rng, variant=variant)
    x = s.samples
    assert s.kind == kind and s.variant == variant and s.sample_rate == 16000
    assert s.class_id == (taxonomy.by_name(kind).id if kind in ALERT_KINDS else 0)
    assert x.dtype == np.float32 and x.ndim == 1 and np.all(np.isfinite(x))
    assert 0.002 < s.duration_s < 30.0
    assert 0 <= s.onset_index < len(x)
    # the sound starts at its onset: nothing before it louder than band-limiting ringing
    assert np.max(np.abs(x[:s.onset_index]), initial=0.0) < 0.25 * np.max(np.abs(x))
    lo, hi = FAMILIES[kind].variants[variant].level_range
    assert lo <= s.level_db <= hi
    assert measure_level(x, s.onset_index, s.level_type) == pytest.approx(s.level_db, abs=0.05)


def test_realistic_levels_per_family():
    rng = np.random.default_rng(3)

    def level(kind):
        return [synthesize(kind, rng).level_db for _ in range(6)]

    assert all(138 <= v <= 165 for v in level('gunshot'))
    assert min(level('explosion')) > 155
    assert all(98 <= v <= 115 for v in level('scream'))
    assert all(110 <= v <= 120 for v in level('siren'))


def test_synthesis_varies_and_repeats_for_a_seed():
    a = synthesize('glass_break', np.random.default_rng(1), variant='window_pane')
    b = synthesize('glass_break', np.random.default_rng(1), variant='window_pane')
    c = synthesize('glass_break', np.random.default_rng(2), variant='window_pane')
    assert np.array_equal(a.samples, b.samples)
    assert len(a.samples) != len(c.samples) or not np.allclose(a.samples, c.samples)


def test_gunshot_is_sharper_and_shorter_than_explosion():
    rng = np.random.default_rng(5)
    g = synthesize('gunshot', rng, variant='pistol_9mm')
    e = synthesize('explosion', rng, variant='high_explosive')

    def centroid(s):
        x = s.samples[s.onset_index:s.onset_index + 1600].astype(float)
        p = np.abs(np.fft.rfft(x, 4096)) ** 2
        f = np.fft.rfftfreq(4096, 1 / 16000)
        return float((p * f).sum() / p.sum())

    assert centroid(g) > 2 * centroid(e)
    assert e.duration_s > 10 * g.duration_s


def test_other_sample_rates_and_level_override():
    s = synthesize('siren', np.random.default_rng(0), sample_rate=48000, variant='wail',
                   level_db=112.0)
    assert s.sample_rate == 48000 and s.level_db == 112.0 and s.level_type == 'leq'
    assert measure_level(s.samples, s.onset_index, 'leq') == pytest.approx(112.0, abs=0.05)


def test_unknown_kind_or_variant_lists_valid_names():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match='gunshot.*scream'):
        synthesize('gunshoot', rng)
    with pytest.raises(ValueError, match='pistol_9mm'):
        synthesize('gunshot', rng, variant='bazooka')


@pytest.mark.skipif(not (DATA / 'devset-extra').is_dir(), reason='dev clips not available')
def test_real_clips_replace_procedural_sources():
    lib = ClipLibrary(DATA / 'devset-extra')
    assert lib.has('glass_break') and lib.has('door_slam')
    rng = np.random.default_rng(0)
    s = lib.pick('glass_break', rng, sample_rate=22050, level_db=110.0)
    assert s.sample_rate == 22050 and s.variant.startswith('clip:') and s.class_id == 3
    assert measure_level(s.samples, s.onset_index, s.level_type) == pytest.approx(110.0, 0.01)
    assert 0 <= s.onset_index < len(s.samples)
    with pytest.raises(ValueError, match='no clip of kind'):
        lib.pick('aerosol_spray', rng)


@pytest.mark.skipif(not (DATA / 'devset').is_dir(), reason='dev clips not available')
def test_clip_source_estimates_onset_of_a_gunshot():
    path = sorted((DATA / 'devset' / 'sesa' / 'gunshot').glob('*.flac'))[0]
    s = clip_source(path, 'gunshot', np.random.default_rng(0))
    x = np.abs(s.samples)
    # the onset is before the loudest sample and the signal is quiet well before it
    assert s.onset_index <= int(np.argmax(x))
    assert 140 <= s.level_db <= 165
    with pytest.raises(ValueError, match='cannot read'):
        clip_source(Path(__file__), 'gunshot', np.random.default_rng(0))


def _low_share_and_env_db(x: np.ndarray, fs: int = 16000) -> tuple[float, np.ndarray]:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / fs)
    hop = fs // 100
    env = np.array([np.mean(x[i:i + hop] ** 2) for i in range(0, len(x) - hop, hop)])
    return float(spec[f < 300].sum() / spec.sum()), 10 * np.log10(env + 1e-30)


@pytest.mark.parametrize('variant', ['pounding', 'subwoofer_beat', 'pile_driver'])
def test_thud_series_are_low_and_repeated_hits(variant):
    # the confusion they are there to teach: explosion-like spectra, but a string of hits
    from scipy.signal import find_peaks

    for seed in range(3):
        s = synthesize('thud_series', np.random.default_rng(seed), variant=variant)
        low, env = _low_share_and_env_db(s.samples)
        assert low > 0.8, (variant, seed, low)
        hits, _ = find_peaks(env, prominence=6.0, distance=15)
        assert len(hits) >= 3, (variant, seed, len(hits))


def test_wind_buffeting_is_a_low_roar_that_swings_by_ten_db_or_more():
    for seed in range(3):
        s = synthesize('wind_buffeting', np.random.default_rng(seed), variant='gusty_capsule')
        low, env = _low_share_and_env_db(s.samples[s.onset_index:])
        assert low > 0.9
        assert np.percentile(env, 95) - np.percentile(env, 5) > 10.0
        assert s.level_type == 'leq'


def test_wind_pops_are_separate_low_thumps_with_little_above_two_kilohertz():
    from scipy.signal import find_peaks

    fs = 16000
    for seed in range(4):
        s = synthesize('wind_buffeting', np.random.default_rng(seed), variant='wind_pops')
        x = s.samples[s.onset_index:]
        low, env = _low_share_and_env_db(x)
        assert low > 0.8, (seed, low)
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / fs)
        assert spec[f > 2000].sum() / spec.sum() < 0.01
        pops, _ = find_peaks(env, prominence=6.0, distance=4)
        assert len(pops) >= 4, (seed, len(pops))
        assert s.level_type == 'peak'


def _centroid_hz(x: np.ndarray, fs: int = 16000) -> float:
    p = np.abs(np.fft.rfft(x)) ** 2
    return float((p * np.fft.rfftfreq(len(x), 1 / fs)).sum() / p.sum())


def test_thunder_rolls_for_seconds_and_only_a_close_strike_cracks():
    fs = 16000
    for seed in range(3):
        close = synthesize('thunder', np.random.default_rng(seed), variant='close_strike')
        x = close.samples[close.onset_index:]
        assert _centroid_hz(x[:int(0.05 * fs)]) > 1000          # the crack
        low, env = _low_share_and_env_db(x[int(0.5 * fs):])
        assert low > 0.9 and len(x) > 3 * fs                     # then seconds of rumble
        far = synthesize('thunder', np.random.default_rng(seed), variant='distant_roll')
        y = far.samples[far.onset_index:]
        assert _centroid_hz(y[:int(0.5 * fs)]) < 200
        _, env = _low_share_and_env_db(y)
        assert np.argmax(env) > 20                               # a swell, not a shock
        assert far.level_type == 'leq'


@pytest.mark.parametrize('variant, period', [('locator_tick', (0.85, 1.25)),
                                             ('rapid_tick', (0.07, 0.14))])
def test_crossing_signal_ticks_are_short_and_periodic(variant, period):
    from scipy.signal import find_peaks

    for seed in range(3):
        s = synthesize('crossing_signal', np.random.default_rng(seed), variant=variant)
        _, env = _low_share_and_env_db(s.samples[s.onset_index:])
        ticks, _ = find_peaks(env, prominence=10.0, distance=5)
        gaps = np.diff(ticks) / 100.0
        assert len(ticks) >= 3
        assert period[0] <= np.median(gaps) <= period[1] and np.std(gaps) < 0.02
        loud_s = np.count_nonzero(env > env.max() - 20) / 100.0
        assert loud_s / len(ticks) < 0.08                  # each tick is short


def test_a_collision_crumple_swells_and_sits_lower_than_a_strike_on_metal():
    fs = 16000

    def attack_and_centroid(variant, seed):
        s = synthesize('crash', np.random.default_rng(seed), variant=variant)
        x = s.samples[s.onset_index:s.onset_index + fs]
        _, env = _low_share_and_env_db(x)
        return np.argmax(env) / 100.0, _centroid_hz(x)

    crumple = np.array([attack_and_centroid('collision_crumple', k) for k in range(6)])
    strike = np.array([attack_and_centroid('metal_impact', k) for k in range(6)])
    assert np.median(crumple[:, 0]) >= 0.03 > np.median(strike[:, 0])
    assert np.median(crumple[:, 1]) < 0.8 * np.median(strike[:, 1])


def _bandwidth_hz(x: np.ndarray, fs: int = 16000) -> float:
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / fs)
    c = (p * f).sum() / p.sum()
    return float(np.sqrt((p * (f - c) ** 2).sum() / p.sum()))


def test_water_hiss_is_broader_than_a_spray_can_and_stops_and_starts():
    # the pair the classifier must separate: a spray can's jet is a narrower band
    rng = np.random.default_rng(7)
    water = [synthesize('water_and_air_hiss', rng, variant=v).samples
             for v in ('tap_or_hose', 'fountain') for _ in range(4)]
    spray = [synthesize('aerosol_spray', rng, variant='long_spray').samples for _ in range(8)]
    assert np.median([_bandwidth_hz(x) for x in water]) > \
        1.2 * np.median([_bandwidth_hz(x) for x in spray])
    for x in water:
        low, _ = _low_share_and_env_db(x)
        assert low < 0.5                      # not a rumble either


def test_air_brake_release_decays_instead_of_holding_like_a_spray():
    for seed in range(3):
        s = synthesize('water_and_air_hiss', np.random.default_rng(seed), variant='air_brake')
        _, env = _low_share_and_env_db(s.samples[s.onset_index:])
        first, last = np.mean(env[2:12]), np.mean(env[-10:])
        assert first - last > 15.0


def test_rifle_downrange_crack_leads_a_duller_boom():
    for seed in range(4):
        s = synthesize('gunshot', np.random.default_rng(seed), variant='rifle_downrange')
        x = s.samples.astype(np.float64)
        hop = 160
        e = np.array([np.sum(x[i:i + hop] ** 2) for i in range(0, len(x) - hop, hop)])
        crack = int(np.argmax(e[:3]))
        later = int(np.argmax(e[3:])) + 3                  # the boom, >= 30 ms later
        assert 10 * np.log10(e[later] / e[crack]) > -12.0

        def centroid(seg):
            p = np.abs(np.fft.rfft(seg, 2048)) ** 2
            return float((p * np.fft.rfftfreq(2048, 1 / 16000)).sum() / p.sum())

        assert centroid(x[later * hop:later * hop + 480]) < centroid(x[:crack * hop + 480])
