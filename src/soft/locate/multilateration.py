"""Time-difference-of-arrival multilateration: source position and emission time.

Arrival times ``t_i = T + |p - s_i| / c`` at known sensors ``s_i`` are fitted for the source
``p`` and the emission time ``T`` by weighted nonlinear least squares. A robust loss keeps one
bad arrival (a reflection behind a building, a wrong onset) from dragging the fix; the worst
sensor is then dropped while its normalised residual stays out of bounds, and the final fit
on the inliers is an ordinary weighted least squares whose Jacobian gives the covariance.

Times are seconds relative to a reference chosen by the caller (integer nanoseconds from a
sensor clock do not fit a float64 at microsecond resolution once they are epoch times).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FixConfig:
    """How a fix is computed; the component fills this from its parameters."""

    speed_of_sound: float = 340.3
    source_z: float = 1.5              # map-frame height of the source when not estimated, m
    estimate_height: bool = False      # fit z too (needs sensors at varied heights)
    height_prior_sigma_m: float = 3.0  # weak prior on z around source_z when estimating it
    loss: str = 'soft_l1'
    loss_scale: float = 2.0            # robust loss knee, in units of sigma
    outlier_sigma: float = 4.0         # drop a sensor above this normalised residual...
    max_residual_s: float = 0.005      # ... or above this absolute residual
    min_sensors: int = 3               # in 2-D; one more when the height is estimated
    max_iterations: int = 50


@dataclass(frozen=True)
class Fix:
    """A multilateration result; arrays are per input sensor, in input order."""

    position: np.ndarray       # (3,) map frame, m
    emission_s: float          # relative to the caller's time reference
    cov: np.ndarray            # covariance of (x, y[, z], T): m^2, m*s, s^2
    residuals_s: np.ndarray    # observed minus predicted arrival, every sensor
    inliers: np.ndarray        # bool, sensors used by the final fit
    leverage: np.ndarray       # hat-matrix diagonal of the final fit (0 for outliers)
    chi2: float                # sum of squared normalised inlier residuals
    dof: int
    scale: float               # factor applied to the covariance (>= 1)

    @property
    def cov_xy(self) -> np.ndarray:
        return self.cov[:2, :2]

    @property
    def emission_sigma_s(self) -> float:
        return float(math.sqrt(max(self.cov[-1, -1], 0.0)))

    @property
    def n_inliers(self) -> int:
        return int(self.inliers.sum())


def predicted_arrivals(position: np.ndarray, emission_s: float, sensors: np.ndarray,
                       c: float) -> np.ndarray:
    """Arrival times (s) of a sound emitted at ``position`` at ``emission_s``."""
    return emission_s + np.linalg.norm(np.asarray(sensors, float) - position, axis=1) / c


def linear_solution(sensors: np.ndarray, times_s: np.ndarray, c: float,
                    source_z: float) -> tuple[np.ndarray, float] | None:
    """Closed-form start for the fit (spherical intersection with fixed source height).

    Squaring ``|p - s_i| = c (t_i - T)`` gives equations linear in x, y, T and the nuisance
    ``w = |p|^2 - c^2 T^2``; four sensors or more solve them by least squares. Noise makes the
    result biased, which is fine for a starting point; None when the system is degenerate.
    """
    s = np.asarray(sensors, float)
    t = np.asarray(times_s, float)
    if len(t) < 4:
        return None
    a = np.column_stack([-2.0 * s[:, 0], -2.0 * s[:, 1], 2.0 * c * c * t, np.ones(len(t))])
    b = c * c * t * t - (s * s).sum(1) + 2.0 * source_z * s[:, 2]
    sol, _, rank, sv = np.linalg.lstsq(a, b, rcond=None)
    if rank < 4 or sv[-1] < 1e-9 * sv[0] or not np.all(np.isfinite(sol)):
        return None
    return np.array([sol[0], sol[1], source_z]), float(sol[2])


class _Problem:
    """Normalised residuals ``(t_i - T - r_i / c) / sigma_i`` over a subset of sensors."""

    def __init__(self, sensors: np.ndarray, times_s: np.ndarray, sigmas_s: np.ndarray,
                 cfg: FixConfig):
        self.s = sensors
        self.t = times_s
        self.w = 1.0 / sigmas_s
        self.cfg = cfg
        self.c = cfg.speed_of_sound
        self.nz = 1 if cfg.estimate_height else 0

    # theta = (x, y[, z], tau) with tau = c * T in metres so that every unknown is in metres.
    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        z = theta[2] if self.nz else self.cfg.source_z
        return np.array([theta[0], theta[1], z]), float(theta[-1]) / self.c

    def pack(self, p: np.ndarray, emission_s: float) -> np.ndarray:
        head = [p[0], p[1]] + ([p[2]] if self.nz else [])
        return np.array(head + [emission_s * self.c], float)

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        p, _ = self.unpack(theta)
        r = np.linalg.norm(self.s - p, axis=1)
        res = (self.t - theta[-1] / self.c - r / self.c) * self.w
        if self.nz:
            prior = (theta[2] - self.cfg.source_z) / self.cfg.height_prior_sigma_m
            res = np.append(res, prior)
        return res

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        p, _ = self.unpack(theta)
        d = p - self.s
        r = np.maximum(np.linalg.norm(d, axis=1), 1e-6)
        cols = [-d[:, 0] / r, -d[:, 1] / r] + ([-d[:, 2] / r] if self.nz else [])
        cols.append(-np.ones(len(r)))
        jac = np.column_stack(cols) * (self.w / self.c)[:, None]
        if self.nz:
            row = np.zeros(jac.shape[1])
            row[2] = 1.0 / self.cfg.height_prior_sigma_m
            jac = np.vstack([jac, row])
        return jac

    def solve(self, theta0: np.ndarray, loss: str) -> np.ndarray:
        """Levenberg-Marquardt with iteratively reweighted residuals for the robust loss.

        The same minimiser as scipy's ``least_squares(loss='soft_l1')`` (a test checks they
        agree), at a fraction of its per-call overhead: the fusion solves thousands of these
        3-4 parameter problems per simulated minute.
        """
        theta = np.array(theta0, dtype=float)
        scale = self.cfg.loss_scale
        cost = _loss_cost(self.residuals(theta), loss, scale)
        lam = 1e-3
        for _ in range(self.cfg.max_iterations):
            r = self.residuals(theta)
            jac = self.jacobian(theta)
            w = np.sqrt(_loss_weight(r, loss, scale))
            jw = jac * w[:, None]
            a = jw.T @ jw
            g = jw.T @ (r * w)
            damp = lam * np.diag(np.diag(a)) + 1e-12 * np.eye(len(theta))
            try:
                step = np.linalg.solve(a + damp, -g)
            except np.linalg.LinAlgError:
                break
            cand = theta + step
            new = _loss_cost(self.residuals(cand), loss, scale)
            if new <= cost:
                small = np.linalg.norm(step) <= 1e-5  # metres (tau is c T): far below timing noise
                theta, lam = cand, max(lam * 0.3, 1e-9)
                converged = cost - new <= 1e-12 * max(cost, 1e-300)
                cost = new
                if small or converged:
                    break
            else:
                lam *= 10.0
                if lam > 1e10:
                    break
        return theta


def _loss_cost(r: np.ndarray, loss: str, scale: float) -> float:
    z = (r / scale) ** 2
    if loss == 'linear':
        return float(z.sum())
    if loss == 'soft_l1':
        return float((2.0 * (np.sqrt(1.0 + z) - 1.0)).sum())
    if loss == 'huber':
        return float(np.where(z <= 1.0, z, 2.0 * np.sqrt(z) - 1.0).sum())
    raise ValueError(f'loss {loss!r} is not one of linear, soft_l1, huber')


def _loss_weight(r: np.ndarray, loss: str, scale: float) -> np.ndarray:
    """rho'(z) of the loss: the weight each squared residual gets in the reweighted step."""
    z = (r / scale) ** 2
    if loss == 'linear':
        return np.ones_like(r)
    if loss == 'soft_l1':
        return 1.0 / np.sqrt(1.0 + z)
    if loss == 'huber':
        return np.where(z <= 1.0, 1.0, 1.0 / np.sqrt(np.maximum(z, 1e-300)))
    raise ValueError(f'loss {loss!r} is not one of linear, soft_l1, huber')


def locate(sensors: np.ndarray, times_s: np.ndarray, sigmas_s: np.ndarray,
           cfg: FixConfig = FixConfig(), init: np.ndarray | None = None) -> Fix | None:
    """Fit the source from arrival times; None when too few sensors or the geometry is flat.

    ``init`` is an (x, y) or (x, y, z) starting guess (the association's best hypothesis, or
    the loudest sensor); the closed-form spherical intersection is tried as well and the
    start with the lower robust cost wins.
    """
    s = np.asarray(sensors, float)
    t = np.asarray(times_s, float)
    sig = np.asarray(sigmas_s, float)
    n = len(t)
    if s.shape != (n, 3) or sig.shape != (n,):
        raise ValueError(f'sensors {s.shape}, times {t.shape} and sigmas {sig.shape} disagree')
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(s)) and np.all(sig > 0)):
        raise ValueError('times and positions must be finite and sigmas positive')
    nz = 1 if cfg.estimate_height else 0
    n_params = 3 + nz
    min_n = max(cfg.min_sensors + nz, n_params)
    if n < min_n:
        return None
    c = cfg.speed_of_sound

    def start(xy: np.ndarray) -> tuple[np.ndarray, float]:
        p = np.array([xy[0], xy[1], xy[2] if len(xy) > 2 and nz else cfg.source_z])
        return p, float(np.min(t - np.linalg.norm(s - p, axis=1) / c))

    starts = []
    if init is not None:
        starts.append(start(np.asarray(init, float)))
    lin = linear_solution(s, t, c, cfg.source_z)
    if lin is not None and np.all(np.abs(lin[0][:2] - s[:, :2].mean(0)) < 1e5):
        starts.append(lin)
    # The first sensor to hear it, slightly offset so that the gradient is defined there.
    starts.append(start(s[int(np.argmin(t))] + np.array([0.5, 0.5, 0.0])))

    inl = np.ones(n, bool)
    theta = None
    best = math.inf
    prob = _Problem(s, t, sig, cfg)
    for p0, t0 in starts:
        th = prob.solve(prob.pack(p0, t0), cfg.loss)
        cost = float(_robust_cost(prob.residuals(th)[:n], cfg))
        if cost < best:
            best, theta = cost, th
        # A start that explains the arrivals about as well as their sigmas allow is the
        # basin; the other starts only guard against a poor one.
        if best <= 2.0 * n:
            break
    assert theta is not None

    # Drop the sensors out of bounds, worst first, a few rounds at most: the robust loss has
    # already kept outliers from pulling the fit, so one round usually settles it (dropping
    # them one at a time cost a solve per outlier, too slow behind many occluded sensors).
    for _ in range(4):
        sub = _Problem(s[inl], t[inl], sig[inl], cfg)
        theta = sub.solve(theta, cfg.loss)
        p, emission = sub.unpack(theta)
        res_s = t - predicted_arrivals(p, emission, s, c)
        norm = np.abs(res_s) / sig
        bad = inl & ((norm > cfg.outlier_sigma) | (np.abs(res_s) > cfg.max_residual_s))
        spare = int(inl.sum()) - max(min_n, n_params)
        if not bad.any() or spare <= 0:
            break
        order = np.argsort(np.where(bad, -norm, np.inf))[:min(int(bad.sum()), spare)]
        inl[order] = False
        if inl.sum() < min_n:
            return None

    # Final ordinary least squares on the inliers: the covariance is the Gauss-Newton one.
    sub = _Problem(s[inl], t[inl], sig[inl], cfg)
    theta = sub.solve(theta, 'linear')
    p, emission = sub.unpack(theta)
    jac = sub.jacobian(theta)
    jtj = jac.T @ jac
    try:
        cov_theta = np.linalg.inv(jtj)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(cov_theta)) or np.linalg.cond(jtj) > 1e14:
        return None
    r = sub.residuals(theta)
    dof = int(inl.sum()) + nz - n_params
    chi2 = float(np.sum(r ** 2))
    # A-priori sigmas, inflated when the residuals say they were optimistic.
    scale = max(1.0, chi2 / dof) if dof > 0 else 1.0
    # Back from tau = c T (metres) to seconds for the time row and column.
    conv = np.ones(n_params)
    conv[-1] = 1.0 / c
    cov = cov_theta * np.outer(conv, conv) * scale
    lev = np.zeros(n)
    lev[inl] = np.einsum('ij,jk,ik->i', jac[:int(inl.sum())], cov_theta,
                         jac[:int(inl.sum())])
    res_s = t - predicted_arrivals(p, emission, s, c)
    return Fix(p, emission, cov, res_s, inl, lev, chi2, dof, scale)


def _robust_cost(r: np.ndarray, cfg: FixConfig) -> float:
    return _loss_cost(r, cfg.loss, cfg.loss_scale)
