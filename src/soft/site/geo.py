"""WGS84 <-> the local `map` frame, and the one place where ENU and NED meet.

Sites are written in WGS84 but every computation (multilateration, camera pointing, routing)
works in metres in the `map` frame: a local East-North-Up tangent plane around the site origin
(REP 103/105). The vertical is taken as altitude above the origin's altitude ("flat ground"), so
a sensor 5 m above ground at the origin's altitude has z = 5.0 exactly anywhere in the site,
instead of losing the few centimetres (2 m at 5 km) that the Earth's curvature would take off a
true tangent-plane `up`. Horizontal coordinates are the exact pymap3d ENU ones.

Altitudes are used only as differences from the origin, so metres above mean sea level work as
well as ellipsoidal heights (the geoid undulation is constant over a district).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymap3d

ArrayLike = float | np.ndarray | list[float]


def geodetic_to_enu(lat: ArrayLike, lon: ArrayLike, alt: ArrayLike, lat0: float, lon0: float,
                    alt0: float) -> np.ndarray:
    """True tangent-plane ENU (metres) of WGS84 points; returns an array of shape (..., 3)."""
    e, n, u = pymap3d.geodetic2enu(np.asarray(lat, float), np.asarray(lon, float),
                                   np.asarray(alt, float), lat0, lon0, alt0)
    return np.stack(np.broadcast_arrays(e, n, u), axis=-1)


def enu_to_geodetic(x: ArrayLike, y: ArrayLike, z: ArrayLike, lat0: float, lon0: float,
                    alt0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of ``geodetic_to_enu``: (lat deg, lon deg, alt m) arrays."""
    lat, lon, alt = pymap3d.enu2geodetic(np.asarray(x, float), np.asarray(y, float),
                                         np.asarray(z, float), lat0, lon0, alt0)
    return np.asarray(lat, float), np.asarray(lon, float), np.asarray(alt, float)


@dataclass(frozen=True)
class LocalFrame:
    """The site's `map` frame: ENU metres around an origin, vertical = altitude - origin alt.

    Vectorised: every argument may be a scalar or a numpy array (broadcast together).
    """

    lat0: float
    lon0: float
    alt0: float

    def to_enu(self, lat: ArrayLike, lon: ArrayLike, alt: ArrayLike | None = None) -> np.ndarray:
        """Map-frame (x, y, z) in metres, shape (..., 3); ``alt=None``: the origin altitude."""
        lat = np.asarray(lat, float)
        lon = np.asarray(lon, float)
        alt = np.full(np.broadcast(lat, lon).shape, self.alt0) if alt is None \
            else np.asarray(alt, float)
        lat, lon, alt = np.broadcast_arrays(lat, lon, alt)
        # Horizontal position of the point brought down to the origin's altitude, so that x, y
        # do not depend on how high the point is.
        e, n, _ = pymap3d.geodetic2enu(lat, lon, np.full(lat.shape, self.alt0),
                                       self.lat0, self.lon0, self.alt0)
        return np.stack([np.asarray(e, float), np.asarray(n, float), alt - self.alt0], axis=-1)

    def to_wgs84(self, x: ArrayLike, y: ArrayLike, z: ArrayLike = 0.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Inverse of ``to_enu``: (lat deg, lon deg, alt m) arrays."""
        x, y, z = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float),
                                      np.asarray(z, float))
        # Find the tangent-plane `up` that puts (x, y) at the origin's altitude: start from the
        # spherical drop and correct it; two rounds reach well under a millimetre at 50 km.
        up = -(x * x + y * y) / (2.0 * 6_371_000.0)
        for _ in range(3):
            lat, lon, alt = pymap3d.enu2geodetic(x, y, up, self.lat0, self.lon0, self.alt0)
            up = up - (np.asarray(alt, float) - self.alt0)
        return np.asarray(lat, float), np.asarray(lon, float), z + self.alt0


def enu_ned(xyz: ArrayLike) -> np.ndarray:
    """Convert vectors between ENU and NED (the same swap both ways: it is its own inverse).

    REP 103 frames are ENU; flight controllers (PX4, ArduPilot/MAVLink) speak NED. Shape (..., 3).
    """
    v = np.asarray(xyz, float)
    if v.shape[-1:] != (3,):
        raise ValueError(f'enu_ned: expected vectors of length 3, got shape {v.shape}')
    return np.stack([v[..., 1], v[..., 0], -v[..., 2]], axis=-1)


def compass_yaw(angle: ArrayLike, degrees: bool = True) -> np.ndarray:
    """Convert between a compass bearing and an ENU yaw (the same formula both ways).

    A bearing (= NED yaw) turns clockwise from north; a REP 103 yaw turns counter-clockwise from
    east: yaw = 90 deg - bearing and bearing = 90 deg - yaw. Results wrap to [0, 360) degrees
    (or [0, 2 pi) radians).
    """
    full = 360.0 if degrees else 2.0 * np.pi
    out = np.mod(full / 4.0 - np.asarray(angle, float), full)
    # np.mod can round a tiny negative up to exactly ``full``.
    return np.where(out >= full, out - full, out)
