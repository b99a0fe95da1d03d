"""WGS84 <-> map frame, ENU <-> NED and compass <-> yaw conversions."""
import math

import numpy as np
import pytest

from soft.site.geo import LocalFrame, compass_yaw, enu_ned, enu_to_geodetic, geodetic_to_enu

LAT0, LON0, ALT0 = 45.4410, 4.3850, 520.0
FRAME = LocalFrame(LAT0, LON0, ALT0)
WGS84_A = 6378137.0
WGS84_E2 = 6.69437999014e-3


def _metres_per_degree(lat_deg: float) -> tuple[float, float]:
    """Meridian and parallel arc lengths per degree on the WGS84 ellipsoid (textbook formulae)."""
    s = math.sin(math.radians(lat_deg))
    m = WGS84_A * (1 - WGS84_E2) / (1 - WGS84_E2 * s * s) ** 1.5
    n = WGS84_A / math.sqrt(1 - WGS84_E2 * s * s)
    return math.radians(1) * m, math.radians(1) * n * math.cos(math.radians(lat_deg))


def test_one_millidegree_of_latitude_is_about_111_m():
    p = FRAME.to_enu(LAT0 + 0.001, LON0)
    assert p[1] == pytest.approx(111.1, abs=0.1)
    assert p[0] == pytest.approx(0.0, abs=1e-6)
    assert p[1] == pytest.approx(_metres_per_degree(LAT0 + 0.0005)[0] * 0.001, rel=1e-4)


def test_one_millidegree_of_longitude_shrinks_with_cos_latitude():
    p = FRAME.to_enu(LAT0, LON0 + 0.001)
    assert p[0] == pytest.approx(_metres_per_degree(LAT0)[1] * 0.001, rel=1e-4)
    assert 78.0 < p[0] < 78.5
    assert abs(p[1]) < 0.01


def test_origin_is_zero_and_vertical_is_altitude_difference():
    assert np.allclose(FRAME.to_enu(LAT0, LON0, ALT0), 0.0, atol=1e-9)
    p = FRAME.to_enu(LAT0 + 0.02, LON0 - 0.03, ALT0 + 5.0)
    assert p[2] == 5.0                         # flat ground: no curvature drop in z
    low = FRAME.to_enu(LAT0 + 0.02, LON0 - 0.03, ALT0 - 100.0)
    assert np.allclose(p[:2], low[:2], atol=1e-6)   # x, y do not depend on the height


def test_round_trip_vectorised_over_5_km():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-5000, 5000, (2, 200))
    z = rng.uniform(-50, 300, 200)
    lat, lon, alt = FRAME.to_wgs84(x, y, z)
    assert lat.shape == lon.shape == alt.shape == (200,)
    back = FRAME.to_enu(lat, lon, alt)
    assert back.shape == (200, 3)
    assert np.max(np.abs(back - np.stack([x, y, z], axis=1))) < 1e-4


def test_shapes_broadcast():
    assert FRAME.to_enu(LAT0, LON0).shape == (3,)
    grid = FRAME.to_enu(np.full((4, 5), LAT0), np.full((4, 5), LON0), 530.0)
    assert grid.shape == (4, 5, 3)
    assert np.allclose(grid[..., 2], 10.0)
    lat, lon, alt = FRAME.to_wgs84(np.zeros(3), 100.0)
    assert lat.shape == (3,) and np.allclose(alt, ALT0)


def test_true_tangent_plane_functions_round_trip_and_agree_with_frame_horizontally():
    lat = np.array([45.45, 45.43, 45.4411])
    lon = np.array([4.37, 4.40, 4.3851])
    alt = np.array([530.0, 510.0, 520.0])
    enu = geodetic_to_enu(lat, lon, alt, LAT0, LON0, ALT0)
    back = enu_to_geodetic(enu[:, 0], enu[:, 1], enu[:, 2], LAT0, LON0, ALT0)
    assert np.allclose(back[0], lat, atol=1e-10) and np.allclose(back[1], lon, atol=1e-10)
    assert np.allclose(back[2], alt, atol=1e-4)
    assert np.allclose(enu[:, :2], FRAME.to_enu(lat, lon, alt)[:, :2], atol=2e-3)
    # The true `up` drops below the flat map frame with distance (about d^2 / 2R).
    d = np.hypot(enu[:, 0], enu[:, 1])
    drop = FRAME.to_enu(lat, lon, alt)[:, 2] - enu[:, 2]
    assert np.allclose(drop, d * d / (2 * 6.371e6), rtol=0.02, atol=1e-6)


def test_distance_matches_haversine():
    a = FRAME.to_enu(45.4455, 4.3790)
    b = FRAME.to_enu(45.4368, 4.3912)
    p1, p2 = math.radians(45.4455), math.radians(45.4368)
    dl = math.radians(4.3912 - 4.3790)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    hav = 2 * 6371008.8 * math.asin(math.sqrt(h))
    assert np.linalg.norm(a - b) == pytest.approx(hav, rel=3e-3)


def test_enu_ned_swaps_axes_and_is_its_own_inverse():
    assert enu_ned([1.0, 2.0, 3.0]).tolist() == [2.0, 1.0, -3.0]
    v = np.random.default_rng(1).normal(size=(7, 3))
    assert np.array_equal(enu_ned(enu_ned(v)), v)
    assert enu_ned(v).shape == (7, 3)
    # A drone 10 m east, 20 m north, 30 m up is 20 m north, 10 m east, -30 m down in NED.
    assert enu_ned(np.array([10.0, 20.0, 30.0])).tolist() == [20.0, 10.0, -30.0]
    with pytest.raises(ValueError, match='length 3'):
        enu_ned([1.0, 2.0])


@pytest.mark.parametrize('bearing, yaw', [(0, 90), (90, 0), (180, 270), (270, 180), (45, 45),
                                          (135, 315), (359, 91)])
def test_compass_bearing_to_enu_yaw(bearing, yaw):
    assert float(compass_yaw(bearing)) == pytest.approx(yaw)
    assert float(compass_yaw(yaw)) == pytest.approx(bearing % 360)
    assert float(compass_yaw(math.radians(bearing), degrees=False)) == \
        pytest.approx(math.radians(yaw))


def test_compass_yaw_wraps_and_points_the_right_way():
    out = compass_yaw(np.array([-1e-17, 450.0, -90.0, 720.0]))
    assert np.all((out >= 0) & (out < 360))
    assert out.tolist() == pytest.approx([90.0, 0.0, 180.0, 90.0])
    # A camera heading 60 deg (east-north-east) looks along +x more than +y.
    yaw = math.radians(float(compass_yaw(60.0)))
    assert math.cos(yaw) == pytest.approx(math.sin(math.radians(60)))
    assert math.sin(yaw) == pytest.approx(math.cos(math.radians(60)))
