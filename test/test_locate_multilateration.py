"""Multilateration and its uncertainty on the shipped site's real sensor layout."""
from __future__ import annotations

import math

import numpy as np
import pytest

from soft.locate.multilateration import FixConfig, linear_solution, locate
from soft.locate.sensor_array import SensorArray
from soft.locate.uncertainty import Ellipse, circle, ellipse_from_cov
from soft.paths import default_site
from soft.site import load_site

C = 340.3
CFG = FixConfig(speed_of_sound=C)


@pytest.fixture(scope='module')
def array() -> SensorArray:
    return SensorArray.from_site(load_site(default_site()))


def arrivals(array, src, rng, n_nearest=None, radius=450.0, offsets=None):
    """Noisy arrival times (s) at the sensors that hear ``src``, with their sigmas."""
    d = np.linalg.norm(array.positions - src, axis=1)
    idx = np.argsort(d)[:n_nearest] if n_nearest else np.flatnonzero(d < radius)
    sig = rng.uniform(1e-4, 5e-4, len(idx))
    off = offsets[idx] if offsets is not None else 0.0
    t = 3.0 + d[idx] / C + rng.normal(0.0, sig) + off
    # Clock offsets up to 0.1 ms are uniform: their sigma is 0.1 ms / sqrt(3).
    return idx, t, np.hypot(sig, 1e-4 / math.sqrt(3))


def test_sources_inside_the_array_are_located_to_centimetres(array):
    rng = np.random.default_rng(7)
    offsets = rng.uniform(-1e-4, 1e-4, len(array))
    errs = []
    for _ in range(150):
        src = np.array([*rng.uniform(-400, 400, 2), 1.5])
        idx, t, sig = arrivals(array, src, rng, offsets=offsets)
        fix = locate(array.positions[idx], t, sig, CFG)
        assert fix is not None
        errs.append(np.linalg.norm(fix.position[:2] - src[:2]))
        assert abs(fix.emission_s - 3.0) < 1e-3
    assert np.median(errs) < 0.2
    assert np.percentile(errs, 90) < 0.5


def test_95_percent_ellipse_holds_about_95_percent_of_true_positions(array):
    # Six nearest sensors: ellipses of a metre or so, so coverage is a real test of the
    # covariance and not of a loose floor.
    rng = np.random.default_rng(11)
    offsets = rng.uniform(-1e-4, 1e-4, len(array))
    inside, majors = 0, []
    n = 400
    for _ in range(n):
        src = np.array([*rng.uniform(-350, 350, 2), 1.5])
        idx, t, sig = arrivals(array, src, rng, n_nearest=6, offsets=offsets)
        fix = locate(array.positions[idx], t, sig, CFG)
        ell = ellipse_from_cov(fix.cov_xy)
        majors.append(ell.major_m)
        inside += ell.contains(fix.position, src)
    assert 0.90 <= inside / n <= 0.995
    assert np.median(majors) < 2.0


def test_a_reflected_arrival_is_rejected_as_outlier(array):
    rng = np.random.default_rng(3)
    src = np.array([60.0, -40.0, 1.5])
    idx, t, sig = arrivals(array, src, rng, n_nearest=8)
    t[3] += 0.012                       # 4 m longer path around a building corner
    fix = locate(array.positions[idx], t, sig, CFG)
    assert not fix.inliers[3] and fix.inliers.sum() == 7
    assert fix.residuals_s[3] == pytest.approx(0.012, abs=0.002)
    err = np.linalg.norm(fix.position[:2] - src[:2])
    assert err < 0.3
    # Without the rejection (plain least squares, no outlier test) the fix is pulled away.
    naive = locate(array.positions[idx], t, sig, FixConfig(
        speed_of_sound=C, loss='linear', outlier_sigma=1e9, max_residual_s=1e9))
    assert naive.inliers.all()
    assert np.linalg.norm(naive.position[:2] - src[:2]) > 3.0 * err


def test_three_sensors_suffice_in_2d_and_two_do_not(array):
    rng = np.random.default_rng(5)
    src = np.array([10.0, 20.0, 1.5])
    idx, t, sig = arrivals(array, src, rng, n_nearest=3)
    fix = locate(array.positions[idx], t, sig, CFG)
    assert fix is not None and fix.dof == 0
    assert np.linalg.norm(fix.position[:2] - src[:2]) < 3.0
    assert locate(array.positions[idx[:2]], t[:2], sig[:2], CFG) is None


def test_height_can_be_estimated_with_sensors_at_varied_heights():
    rng = np.random.default_rng(2)
    pos = np.column_stack([rng.uniform(-200, 200, 8), rng.uniform(-200, 200, 8),
                           [2, 30, 5, 45, 10, 25, 3, 60]])
    src = np.array([15.0, -30.0, 12.0])
    t = np.linalg.norm(pos - src, axis=1) / C + rng.normal(0, 1e-4, 8)
    fix = locate(pos, t, np.full(8, 1e-4), FixConfig(speed_of_sound=C, estimate_height=True,
                                                     height_prior_sigma_m=50.0))
    assert abs(fix.position[2] - 12.0) < 1.0
    assert np.linalg.norm(fix.position[:2] - src[:2]) < 0.5


def test_linear_solution_is_exact_without_noise(array):
    src = np.array([-120.0, 75.0, 1.5])
    pos = array.positions[:12]
    t = 0.25 + np.linalg.norm(pos - src, axis=1) / C
    p, t0 = linear_solution(pos, t, C, 1.5)
    assert np.allclose(p, src, atol=1e-4) and t0 == pytest.approx(0.25, abs=1e-8)


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match='disagree'):
        locate(np.zeros((3, 3)), np.zeros(4), np.ones(4), CFG)
    with pytest.raises(ValueError, match='finite'):
        locate(np.zeros((4, 3)), np.array([0, 1, np.nan, 2]), np.ones(4), CFG)


def test_ellipse_axes_and_orientation():
    # Variance 4 m^2 along 30 degrees, 1 m^2 across.
    a = math.radians(30)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    ell = ellipse_from_cov(rot @ np.diag([4.0, 1.0]) @ rot.T)
    assert ell.major_m == pytest.approx(2.0 * math.sqrt(5.991), rel=1e-3)
    assert ell.minor_m == pytest.approx(math.sqrt(5.991), rel=1e-3)
    assert ell.orientation_rad == pytest.approx(a, abs=1e-9)
    assert ell.contains([0, 0], [4.0 * math.cos(a), 4.0 * math.sin(a)])
    assert not ell.contains([0, 0], [-2.5 * math.sin(a), 2.5 * math.cos(a)])
    assert isinstance(circle(150.0), Ellipse) and circle(150.0).minor_m == 150.0
    with pytest.raises(ValueError):
        ellipse_from_cov(np.full((2, 2), np.nan))
