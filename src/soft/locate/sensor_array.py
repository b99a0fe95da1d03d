"""The sensor layout as the fusion sees it: ids, map-frame positions and clock tolerances.

Built once from a ``Site`` (or from plain arrays in tests and benches) so that association
and multilateration work on numpy rows instead of looking sensors up one by one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class SensorArray:
    """Sensors in the ``map`` frame; row ``i`` of every array is sensor ``ids[i]``."""

    ids: tuple[str, ...]
    positions: np.ndarray              # (N, 3) metres, map frame
    clock_tolerance_s: np.ndarray      # (N,) stated maximum clock error, s
    ground_z: float = 0.0
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _dist: np.ndarray = field(default=None, repr=False, compare=False)  # type: ignore

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions, float)
        if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] != len(self.ids):
            raise ValueError(f'positions must be ({len(self.ids)}, 3), got {pos.shape}')
        if len(set(self.ids)) != len(self.ids):
            raise ValueError('sensor ids are not unique')
        tol = np.broadcast_to(np.asarray(self.clock_tolerance_s, float), (len(self.ids),))
        object.__setattr__(self, 'positions', pos)
        object.__setattr__(self, 'clock_tolerance_s', tol.copy())
        object.__setattr__(self, '_index', {s: i for i, s in enumerate(self.ids)})
        diff = pos[:, None, :] - pos[None, :, :]
        object.__setattr__(self, '_dist', np.sqrt((diff ** 2).sum(-1)))

    @classmethod
    def from_site(cls, site: Any) -> 'SensorArray':
        """Positions and clock tolerances of every sensor of a loaded ``Site``."""
        ids = site.sensor_ids()
        return cls(tuple(ids), site.sensor_positions(),
                   np.array([site.sensor(s).clock_tolerance_s for s in ids], float),
                   float(site.ground_z))

    @classmethod
    def from_positions(cls, ids: Sequence[str], positions: Any, clock_tolerance_s: float = 1e-4,
                       ground_z: float = 0.0) -> 'SensorArray':
        return cls(tuple(ids), np.asarray(positions, float),
                   np.full(len(ids), float(clock_tolerance_s)), ground_z)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, sensor_id: object) -> bool:
        return sensor_id in self._index

    def index(self, sensor_id: str) -> int:
        """Row of a sensor; KeyError naming it when unknown."""
        try:
            return self._index[sensor_id]
        except KeyError:
            raise KeyError(f'unknown sensor {sensor_id!r}') from None

    @property
    def distances(self) -> np.ndarray:
        """(N, N) straight-line distances between sensors, metres."""
        return self._dist

    def neighbours(self, i: int, radius_m: float) -> np.ndarray:
        """Rows of the sensors within ``radius_m`` of sensor ``i`` (itself included)."""
        return np.flatnonzero(self._dist[i] <= radius_m)
