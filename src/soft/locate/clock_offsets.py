"""Running estimate of each sensor's clock offset from the residuals of good fixes.

Sensors are synchronised by GPS or PTP to a stated tolerance (0.1 ms by default), and a
constant offset biases every fix that sensor takes part in. Each good fix (enough sensors,
residuals consistent with their sigmas) leaves a residual per sensor that carries part of that
sensor's offset: the fit absorbs the fraction given by the sensor's leverage, so the residual
divided by ``1 - leverage`` is an unbiased innovation. The estimate averages the innovations;
arrivals are corrected by the current estimate before association, so the
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
    weight: float = 0.0        # forgotten sum of innovation weights, 1/s^2


class ClockOffsets:
    """Per-sensor offsets (s, positive = the sensor's clock runs ahead of site time).

    The estimate is a weighted mean of the innovations (weight: inverse variance, so a sharp
    onset counts more than a blurred one) with exponential forgetting: ``gain`` is the
    fraction of weight forgotten per update, so about ``1 / gain`` fixes are remembered and
    a slowly drifting clock is followed.
    """

    def __init__(self, sensor_ids: Iterable[str], gain: float = 0.01,
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
        seen ``min_updates`` fixes, then the estimate's own (never above the tolerance)."""
        prior = tolerance_s / math.sqrt(3.0)       # uniform within +-tolerance
        st = self._state.get(sensor_id)
        if st is None or st.updates < min_updates or st.weight <= 0.0:
            return prior
        return min(prior, 1.0 / math.sqrt(st.weight))

    def update(self, sensor_ids: Iterable[str], residuals_s: Iterable[float],
               leverages: Iterable[float], sigmas_s: Iterable[float]) -> None:
        """Fold in one good fix's inlier residuals (observed minus predicted arrival)."""
        for sid, r, h, sig in zip(sensor_ids, residuals_s, leverages, sigmas_s):
            st = self._state.get(sid)
            if st is None or not math.isfinite(r) or not sig > 0:
                continue
            keep = 1.0 - min(float(h), self.max_leverage)
            innov = float(r) / keep                  # variance sig^2 / keep
            w = keep / (float(sig) ** 2)
            st.weight = (1.0 - self.gain) * st.weight + w
            st.offset_s = max(-self.max_offset_s,
                              min(self.max_offset_s, st.offset_s + w / st.weight * innov))
            st.updates += 1

    def report(self) -> dict[str, tuple[float, int]]:
        """Sensor id -> (offset s, number of fixes it came from), for diagnostics."""
        return {s: (st.offset_s, st.updates) for s, st in self._state.items()}
