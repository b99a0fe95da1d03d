"""Running estimate of each sensor's clock offset from the residuals of good fixes.

Sensors are synchronised by GPS or PTP to a stated tolerance (0.1 ms by default), and a
constant offset biases every fix that sensor takes part in. Each good fix (enough sensors,
residuals consistent with their sigmas) leaves a residual per sensor that carries part of that
sensor's offset: the fit absorbs the fraction given by the sensor's leverage, so the residual
divided by ``1 - leverage`` is an unbiased innovation. The estimate follows the innovations
with a small gain; arrivals are corrected by the current estimate before association, so the
innovations shrink as the estimate converges. Only differences between sensors are
observable (a common offset is indistinguishable from the emission time), and the residuals
of a fit have no common part, so the estimates stay centred.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable


@dataclass
class _State:
    offset_s: float = 0.0
    updates: int = 0
    innov_var: float = 0.0     # running variance of the innovations, s^2


class ClockOffsets:
    """Per-sensor offsets (s, positive = the sensor's clock runs ahead of site time)."""

    def __init__(self, sensor_ids: Iterable[str], gain: float = 0.05,
                 max_offset_s: float = 0.01, max_leverage: float = 0.8):
        if not 0.0 <= gain <= 1.0:
            raise ValueError(f'gain {gain!r} outside 0..1')
        self.gain = float(gain)
        self.max_offset_s = float(max_offset_s)
        self.max_leverage = float(max_leverage)
        self._state = {s: _State() for s in sensor_ids}

    def offset_s(self, sensor_id: str) -> float:
        """Current estimate; 0 for a sensor never seen in a good fix."""
        st = self._state.get(sensor_id)
        return st.offset_s if st is not None else 0.0

    def updates(self, sensor_id: str) -> int:
        st = self._state.get(sensor_id)
        return st.updates if st is not None else 0

    def sigma_s(self, sensor_id: str, tolerance_s: float, min_updates: int = 20) -> float:
        """One-sigma clock error to use in fits: the stated tolerance until the estimate has
        seen ``min_updates`` fixes, then what the innovations say is left (never above it)."""
        prior = tolerance_s / math.sqrt(3.0)       # uniform within +-tolerance
        st = self._state.get(sensor_id)
        if st is None or st.updates < min_updates:
            return prior
        # Steady-state error of an exponential average: innovation variance * g / (2 - g).
        left = math.sqrt(st.innov_var * self.gain / (2.0 - self.gain))
        return min(prior, left)

    def update(self, sensor_ids: Iterable[str], residuals_s: Iterable[float],
               leverages: Iterable[float]) -> None:
        """Fold in one good fix's inlier residuals (observed minus predicted arrival)."""
        for sid, r, h in zip(sensor_ids, residuals_s, leverages):
            st = self._state.get(sid)
            if st is None or not math.isfinite(r):
                continue
            innov = float(r) / (1.0 - min(float(h), self.max_leverage))
            g = max(self.gain, 1.0 / (st.updates + 2))   # fast start, then the slow gain
            st.offset_s = max(-self.max_offset_s,
                              min(self.max_offset_s, st.offset_s + g * innov))
            st.innov_var += g * (innov * innov - st.innov_var)
            st.updates += 1

    def report(self) -> dict[str, tuple[float, int]]:
        """Sensor id -> (offset s, number of fixes it came from), for diagnostics."""
        return {s: (st.offset_s, st.updates) for s, st in self._state.items()}
