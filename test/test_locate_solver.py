"""The fusion's own Levenberg-Marquardt agrees with scipy's least_squares on TDOA problems."""
import numpy as np
import pytest
from scipy.optimize import least_squares

from soft.locate.multilateration import FixConfig, _loss_cost, _Problem


@pytest.mark.parametrize('loss', ['linear', 'soft_l1', 'huber'])
def test_solver_matches_scipy(loss):
    rng = np.random.default_rng(11)
    cfg = FixConfig(loss=loss)
    for trial in range(20):
        n = int(rng.integers(4, 12))
        sensors = np.column_stack([rng.uniform(-400, 400, n), rng.uniform(-400, 400, n),
                                   rng.uniform(3, 8, n)])
        src = np.array([rng.uniform(-300, 300), rng.uniform(-300, 300), cfg.source_z])
        t = np.linalg.norm(sensors - src, axis=1) / cfg.speed_of_sound + 2.0
        t += rng.normal(0, 3e-4, n)
        if trial % 3 == 0:
            t[0] += 0.02                       # one reflected arrival
        sig = np.full(n, 3e-4)
        prob = _Problem(sensors, t, sig, cfg)
        start = prob.pack(sensors[np.argmin(t)] + [5.0, 5.0, 0.0], 1.9)
        ours = prob.solve(start, loss)
        ref = least_squares(prob.residuals, start, jac=prob.jacobian, loss=loss,
                            f_scale=cfg.loss_scale, method='trf', x_scale='jac',
                            max_nfev=200).x
        c_ours = _loss_cost(prob.residuals(ours), loss, cfg.loss_scale)
        c_ref = _loss_cost(prob.residuals(ref), loss, cfg.loss_scale)
        # Never worse than scipy (which sometimes stops early on huber), and the same
        # minimum whenever scipy reaches one.
        assert c_ours <= c_ref * (1 + 1e-6) + 1e-9, (trial, c_ours, c_ref)
        if c_ref <= c_ours * (1 + 1e-6) + 1e-9:
            ours_p, _ = prob.unpack(ours)
            ref_p, _ = prob.unpack(ref)
            assert np.linalg.norm(ours_p - ref_p) < 0.05, (trial, ours_p, ref_p)
