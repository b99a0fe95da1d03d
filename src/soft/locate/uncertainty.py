"""Uncertainty figures of a fix: the 95 % horizontal ellipse and the degraded fallback.

An operator reads the ellipse as "the source is in there 19 times out of 20", so it is the
chi-square(2) 95 % contour of the horizontal covariance, not a one-sigma ellipse.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

P95_2D = float(chi2.ppf(0.95, 2))     # 5.991: squared Mahalanobis radius of the 95 % contour


@dataclass(frozen=True)
class Ellipse:
    """Semi-axes in metres and major-axis orientation (rad, counter-clockwise from east)."""

    major_m: float
    minor_m: float
    orientation_rad: float

    def contains(self, centre: np.ndarray, point: np.ndarray) -> bool:
        """Whether ``point`` (x, y) lies inside the ellipse centred on ``centre``."""
        d = np.asarray(point, float)[:2] - np.asarray(centre, float)[:2]
        c, s = math.cos(self.orientation_rad), math.sin(self.orientation_rad)
        u, v = c * d[0] + s * d[1], -s * d[0] + c * d[1]
        if self.minor_m <= 0.0:
            return False
        return (u / self.major_m) ** 2 + (v / self.minor_m) ** 2 <= 1.0


def ellipse_from_cov(cov_xy: np.ndarray, quantile_sq: float = P95_2D) -> Ellipse:
    """The contour ``d^T C^-1 d = quantile_sq`` of a 2x2 covariance (m^2)."""
    cov = np.asarray(cov_xy, float)
    if cov.shape != (2, 2) or not np.all(np.isfinite(cov)):
        raise ValueError(f'cov_xy must be a finite 2x2 matrix, got {cov!r}')
    vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
    vals = np.clip(vals, 0.0, None)
    major, minor = math.sqrt(quantile_sq * vals[1]), math.sqrt(quantile_sq * vals[0])
    angle = math.atan2(vecs[1, 1], vecs[0, 1])
    # An axis has no direction: fold into (-pi/2, pi/2].
    if angle <= -math.pi / 2:
        angle += math.pi
    elif angle > math.pi / 2:
        angle -= math.pi
    return Ellipse(major, minor, angle)


def circle(radius_m: float) -> Ellipse:
    """The fallback region: a circle, used when the position is only a sensor's."""
    if not radius_m > 0:
        raise ValueError(f'radius_m must be positive, got {radius_m!r}')
    return Ellipse(float(radius_m), float(radius_m), 0.0)
