"""Association: which sensors' events come from one source.

Two arrivals of one sound at sensors i and j differ by at most ``d_ij / c`` (plus clock and
onset errors), and a sensor hears a sound once. The earliest pending event seeds a group;
source positions on a grid around its sensor are scored by how many other sensors have a
compatible event near the arrival time each position predicts, so several simultaneous
incidents and bursts of repeated shots separate by geometry rather than by time alone. The
group is complete once no sensor within hearing range can still report an arrival: the
seed's onset plus the longest travel time to those sensors plus a margin for late delivery.

Sustained events (periodic classifications of a drill, a siren) carry coarse onsets: they
vote for the class of an impulsive group they fall in, or form a group of their own located
at the loudest sensor, but never enter the time-difference fit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from soft.classify import taxonomy
from soft.locate.sensor_array import SensorArray

NS = 1_000_000_000


@dataclass(frozen=True)
class Detection:
    """One sensor's event as the fusion uses it (onset already clock-corrected)."""

    sensor_id: str
    onset_ns: int               # on site time: the sensor clock minus its estimated offset
    class_id: int
    confidence: float
    level_db_spl: float
    onset_sigma_s: float
    sustained: bool = False
    duration_s: float = 0.0
    raw_onset_ns: int = 0       # as received, on the sensor's own clock


@dataclass(frozen=True)
class AssociationConfig:
    speed_of_sound: float = 340.3
    max_range_m: float = 600.0         # farthest a sensor is assumed to hear a source, m
    margin_s: float = 0.5              # wait for late deliveries past the travel time, s
    gate_s: float = 0.05               # arrival-time gate of the hypothesis search, s
    grid_step_m: float = 10.0          # spacing of the source hypotheses, m
    echo_window_s: float = 0.1         # later arrivals at a grouped sensor that are echoes, s
    allow_class_disagreement: bool = True
    sustained_sigmas: float = 3.0      # time gate of sustained voters, in their onset sigmas
    source_z: float = 1.5              # map-frame height of the hypotheses, m


@dataclass
class Group:
    """Events judged to come from one source; ``timing`` enter the TDOA fit.

    The fit's outliers of another class stay pending (they may be another source's
    arrival), those of the seed's class leave with the group; an event no group wants that
    falls just after a located incident's arrival is absorbed as its echo.
    """

    seed: Detection
    timing: list[Detection]
    voters: list[Detection] = field(default_factory=list)   # sustained, same source
    hypothesis_xy: np.ndarray | None = None

    @property
    def detections(self) -> list[Detection]:
        return self.timing + self.voters

    @property
    def sensor_ids(self) -> set[str]:
        return {d.sensor_id for d in self.detections}


def classes_compatible(a: int, b: int, allow_disagreement: bool) -> bool:
    """Whether two sensors' classes can describe one sound.

    Impulsive classes are confused with each other at a distance (a far gunshot and a
    firecracker), so with disagreement allowed any two impulsive or any two sustained
    classes may group and the fused class is decided by vote.
    """
    if a == b:
        return True
    if not allow_disagreement:
        return False
    return taxonomy.by_id(a).impulsive == taxonomy.by_id(b).impulsive


def fuse_class(detections: Iterable[Detection]) -> tuple[int, float]:
    """Confidence-weighted vote; the fused probability never exceeds the best sensor's.

    Sensors hearing one sound are not independent witnesses (same sound, same confusions),
    so no product of probabilities: the winner's best calibrated confidence, scaled by its
    share of the total vote, which lowers it when the sensors disagree.
    """
    votes: dict[int, float] = {}
    best: dict[int, float] = {}
    for d in detections:
        votes[d.class_id] = votes.get(d.class_id, 0.0) + d.confidence
        best[d.class_id] = max(best.get(d.class_id, 0.0), d.confidence)
    if not votes:
        raise ValueError('no detections to fuse')
    total = sum(votes.values())
    cls = max(votes, key=lambda k: (votes[k], best[k], -k))
    share = votes[cls] / total if total > 0 else 1.0
    return cls, float(best[cls] * share)


class Pending:
    """Events waiting for their association window to close, per sensor, in time order."""

    def __init__(self, array: SensorArray):
        self.array = array
        self._by_sensor: list[list[Detection]] = [[] for _ in range(len(array))]

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_sensor)

    def add(self, det: Detection) -> None:
        lst = self._by_sensor[self.array.index(det.sensor_id)]
        lst.append(det)
        lst.sort(key=lambda d: d.onset_ns)

    def remove(self, dets: Iterable[Detection]) -> None:
        for d in dets:
            lst = self._by_sensor[self.array.index(d.sensor_id)]
            for k, e in enumerate(lst):
                if e is d:
                    del lst[k]
                    break

    def earliest(self) -> Detection | None:
        heads = [v[0] for v in self._by_sensor if v]
        return min(heads, key=lambda d: d.onset_ns) if heads else None

    def at(self, i: int, lo_ns: int, hi_ns: int) -> list[Detection]:
        return [d for d in self._by_sensor[i] if lo_ns <= d.onset_ns <= hi_ns]


class Associator:
    """Groups pending events into sources; ``locate`` refines a group's hypothesis."""

    def __init__(self, array: SensorArray, cfg: AssociationConfig = AssociationConfig()):
        self.array = array
        self.cfg = cfg
        self.pending = Pending(array)
        # Coarse-to-fine search: a grid four times coarser over the whole range, then the
        # fine step around the best few coarse cells (15x fewer points than the fine grid).
        self._coarse_step = 4.0 * cfg.grid_step_m
        self._grid = self._make_grid(cfg.max_range_m, self._coarse_step)
        self._local = self._make_grid(1.5 * self._coarse_step, cfg.grid_step_m)
        reach = np.where(array.distances <= 2.0 * cfg.max_range_m, array.distances, 0.0)
        # Longest wait, per seed sensor, for an arrival from any sensor that can hear it.
        self._reach_s = reach.max(axis=1) / cfg.speed_of_sound

    @staticmethod
    def _make_grid(radius: float, step: float) -> np.ndarray:
        k = int(math.ceil(radius / step))
        g = np.arange(-k, k + 1) * step
        xx, yy = np.meshgrid(g, g)
        keep = xx ** 2 + yy ** 2 <= radius ** 2
        return np.column_stack([xx[keep], yy[keep]])

    def add(self, det: Detection) -> None:
        self.pending.add(det)

    def close_time_ns(self, seed: Detection) -> int:
        """When no sensor in hearing range of the seed can still report this sound."""
        i = self.array.index(seed.sensor_id)
        tol = 2.0 * float(self.array.clock_tolerance_s.max())
        wait = self._reach_s[i] + tol + self.cfg.gate_s + self.cfg.margin_s
        if seed.sustained:
            wait += self.cfg.sustained_sigmas * seed.onset_sigma_s
        return seed.onset_ns + int(round(wait * NS))

    def ready_seed(self, now_ns: int) -> Detection | None:
        """The earliest pending event if its window has closed."""
        seed = self.pending.earliest()
        if seed is None or self.close_time_ns(seed) > now_ns:
            return None
        return seed

    # -- impulsive groups --------------------------------------------------------------
    def candidates(self, seed: Detection) -> list[Detection]:
        """Impulsive events at other sensors that the travel-time bound allows."""
        a = self.array
        i = a.index(seed.sensor_id)
        c = self.cfg.speed_of_sound
        out = []
        for j in a.neighbours(i, 2.0 * self.cfg.max_range_m):
            if j == i:
                continue
            slack = a.distances[i, j] / c + a.clock_tolerance_s[i] + a.clock_tolerance_s[j] \
                + self.cfg.gate_s
            lo = seed.onset_ns - int(slack * NS)
            hi = seed.onset_ns + int(slack * NS)
            out += [d for d in self.pending.at(int(j), lo, hi) if not d.sustained
                    and classes_compatible(seed.class_id, d.class_id,
                                           self.cfg.allow_class_disagreement)]
        return out

    def hypothesis(self, seed: Detection,
                   cands: list[Detection]) -> tuple[np.ndarray, list[Detection]]:
        """Best source position on the grid around the seed's sensor and its supporters.

        Score of a position: the confidence of the seed plus, per other sensor, the best
        Gaussian-weighted agreement of its events with the predicted time difference.
        """
        a = self.array
        i = a.index(seed.sensor_id)
        centre = a.positions[i, :2]
        grid = centre + self._grid
        if not cands:
            return centre.copy(), [seed]
        c = self.cfg.speed_of_sound
        rows = np.array([a.index(d.sensor_id) for d in cands])
        order = np.argsort(rows, kind='stable')
        rows = rows[order]
        cands = [cands[k] for k in order]
        dt = np.array([(d.onset_ns - seed.onset_ns) / NS for d in cands])
        w = np.array([d.confidence for d in cands])
        sens = np.unique(rows)
        z = self.cfg.source_z
        pos = a.positions[sens]
        col = np.searchsorted(sens, rows)
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])

        def score(points: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
            d_seed = np.sqrt(((points - centre) ** 2).sum(1) + (a.positions[i, 2] - z) ** 2)
            d_s = np.sqrt(((points[:, None, :] - pos[None, :, :2]) ** 2).sum(-1)
                          + (pos[None, :, 2] - z) ** 2)                   # (G, S)
            pred = (d_s[:, col] - d_seed[:, None]) / c                     # (G, M)
            agree = w[None, :] * np.exp(-0.5 * ((dt[None, :] - pred) / sigma) ** 2)
            return np.maximum.reduceat(agree, starts, axis=1).sum(1), pred

        sigma = self.cfg.gate_s / 2.0
        coarse, _ = score(grid, max(sigma, self._coarse_step / c))
        best = grid[np.argsort(coarse)[-3:]]
        fine = np.unique(np.round((best[:, None, :] + self._local[None]).reshape(-1, 2), 6),
                         axis=0)
        fine_score, pred = score(fine, sigma)
        g = int(np.argmax(fine_score))
        grid = fine
        support = [seed]
        resid = np.abs(dt - pred[g])
        for k0, k1 in zip(starts, list(starts[1:]) + [len(cands)]):
            k = k0 + int(np.argmin(resid[k0:k1]))
            if resid[k] <= self.cfg.gate_s:
                support.append(cands[k])
        return grid[g].copy(), support

    def gather(self, seed: Detection, position: np.ndarray, emission_ns: int,
               gate_s: float) -> tuple[list[Detection], list[Detection]]:
        """Events of every sensor in range near the arrival a fix predicts.

        Returns (timing, voters): per sensor the impulsive event nearest the prediction
        within ``gate_s``, and the sustained event nearest it within its onset uncertainty.
        """
        a = self.array
        c = self.cfg.speed_of_sound
        i0 = a.index(seed.sensor_id)
        timing, voters = [], []
        dists = np.linalg.norm(a.positions - position, axis=1)
        for j in a.neighbours(i0, 2.0 * self.cfg.max_range_m):
            pred = emission_ns + int(round(dists[j] / c * NS))
            tol = a.clock_tolerance_s[j] + gate_s
            near = [d for d in self.pending.at(int(j), pred - int(tol * NS),
                                               pred + int(tol * NS)) if not d.sustained
                    and classes_compatible(seed.class_id, d.class_id,
                                           self.cfg.allow_class_disagreement)]
            if near:
                timing.append(min(near, key=lambda d: abs(d.onset_ns - pred)))
            wide = self.cfg.sustained_sigmas
            sus = [d for d in self.pending.at(int(j), pred - 60 * NS, pred + 60 * NS)
                   if d.sustained and abs(d.onset_ns - pred) <= (tol + wide * d.onset_sigma_s)
                   * NS]
            if sus:
                voters.append(min(sus, key=lambda d: abs(d.onset_ns - pred)))
        # A sustained classification votes only for a class the onsets already reported
        # (a scream's onset, then its periodic classifications), never for a new one.
        classes = {d.class_id for d in timing} | {seed.class_id}
        return timing, [v for v in voters if v.class_id in classes]

    # -- sustained groups --------------------------------------------------------------
    def sustained_group(self, seed: Detection) -> Group:
        """Sustained events of compatible class heard around the seed's time."""
        a = self.array
        i = a.index(seed.sensor_id)
        c = self.cfg.speed_of_sound
        members = [seed]
        for j in a.neighbours(i, 2.0 * self.cfg.max_range_m):
            if j == i:
                continue
            best = None
            for d in self.pending.at(int(j), seed.onset_ns - 60 * NS, seed.onset_ns + 60 * NS):
                if not d.sustained or d.class_id != seed.class_id:
                    continue
                slack = a.distances[i, j] / c + self.cfg.sustained_sigmas * (
                    seed.onset_sigma_s + d.onset_sigma_s)
                gap = abs(d.onset_ns - seed.onset_ns)
                if gap <= slack * NS and (best is None or gap < abs(best.onset_ns
                                                                    - seed.onset_ns)):
                    best = d
            if best is not None:
                members.append(best)
        return Group(seed, [], voters=members)
