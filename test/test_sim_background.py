"""Urban background: levels per profile, continuity, block-size independence, weather."""
import numpy as np
import pytest

from soft.sim.background import PROFILES, BackgroundGenerator, Weather
from soft.sim.levels import a_weighting_db, leq_db, leq_dba

FS = 16000


def test_a_weighting_reference_points():
    # IEC 61672-1 table: 100 Hz -19.1, 1 kHz 0.0, 4 kHz +1.0, 8 kHz -1.1 dB
    a = a_weighting_db(np.array([100.0, 1000.0, 4000.0, 8000.0]))
    assert a == pytest.approx([-19.1, 0.0, 1.0, -1.1], abs=0.1)
    t = np.arange(FS) / FS
    assert leq_dba(np.sqrt(2) * np.sin(2 * np.pi * 1000 * t), FS) == pytest.approx(94.0, 0.01)
    assert leq_dba(np.sqrt(2) * np.sin(2 * np.pi * 100 * t), FS) == pytest.approx(74.9, 0.1)


@pytest.mark.parametrize('profile', sorted(PROFILES))
def test_profile_levels_inside_their_range(profile):
    lo, hi = PROFILES[profile].leq_dba
    for seed in range(3):
        g = BackgroundGenerator(profile, FS, seed=seed, self_noise_dba=30.0)
        x = g.read(60 * FS)
        assert x.dtype == np.float32
        assert lo <= leq_dba(x, FS) <= hi, (seed, leq_dba(x, FS))
        # the long-run mean square it announces matches what it produces
        assert 10 * np.log10(g.expected_power_pa2() / 4e-10) == pytest.approx(leq_db(x), abs=2)


def test_profiles_are_ordered():
    busy = leq_dba(BackgroundGenerator('busy_street', FS, seed=1).read(30 * FS), FS)
    quiet = leq_dba(BackgroundGenerator('quiet_street', FS, seed=1).read(30 * FS), FS)
    assert busy > quiet + 8


def test_block_size_independent_and_click_free():
    a = BackgroundGenerator('busy_street', FS, seed=7, weather=Weather(6.0, 3.0))
    b = BackgroundGenerator('busy_street', FS, seed=7, weather=Weather(6.0, 3.0))
    xa = np.concatenate([a.read(1600) for _ in range(60)])
    xb = np.concatenate([b.read(n) for n in (1, 999, 16000, 77, 79923)])
    assert np.array_equal(xa, xb[:len(xa)])
    # internal chunk boundaries do not stand out from ordinary sample-to-sample steps
    d = np.abs(np.diff(xb.astype(float)))
    chunk = a.chunk
    at_bounds = d[np.arange(chunk - 1, len(d), chunk)]
    assert at_bounds.max() < 4 * np.percentile(d, 99.9)


def test_seeds_and_skip():
    x1 = BackgroundGenerator('square', FS, seed=1).read(FS)
    x2 = BackgroundGenerator('square', FS, seed=2).read(FS)
    assert not np.allclose(x1, x2)
    g = BackgroundGenerator('square', FS, seed=1)
    g.skip_to(5000)
    assert np.array_equal(g.read(100), x1[5000:5100])
    with pytest.raises(ValueError, match='increasing order'):
        g.skip_to(10)


def test_wind_and_rain_raise_the_level_and_self_noise_sets_the_floor():
    calm = leq_dba(BackgroundGenerator('park', FS, seed=3).read(20 * FS), FS)
    windy = BackgroundGenerator('park', FS, seed=3, weather=Weather(wind_m_s=12.0))
    xw = windy.read(20 * FS)
    rainy = leq_dba(BackgroundGenerator('park', FS, seed=3,
                                        weather=Weather(rain_mm_h=20.0)).read(20 * FS), FS)
    assert leq_db(xw) > leq_db(BackgroundGenerator('park', FS, seed=3).read(20 * FS)) + 10
    assert rainy > calm + 3
    with pytest.raises(ValueError, match='wind_m_s'):
        Weather(wind_m_s=-1.0)
    with pytest.raises(ValueError, match='busy_street'):
        BackgroundGenerator('downtown')
