"""The location stage as one object: events in, located incidents out.

``Fusion`` validates nothing about messages (the component does that); it corrects each
arrival for its sensor's estimated clock offset, associates, multilaterates, falls back to the
loudest sensor when the fix is impossible or meaningless, and learns the clock offsets from
the good fixes. Time only moves through the ``now_ns`` given to ``flush``.
"""
from __future__ import annotations

import dataclasses
import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from soft.locate.association import (NS, AssociationConfig, Associator, Detection, Group,
                                     classes_compatible, fuse_class)
from soft.locate.clock_offsets import ClockOffsets
from soft.locate.multilateration import Fix, FixConfig, locate
from soft.locate.sensor_array import SensorArray
from soft.locate.uncertainty import Ellipse, circle, ellipse_from_cov


@dataclass(frozen=True)
class FusionConfig:
    association: AssociationConfig = AssociationConfig()
    fix: FixConfig = FixConfig()
    min_sensors_publish: int = 1       # smaller groups are dropped (counted), not published
    fallback_radius_m: float = 150.0   # 95 % radius around the loudest sensor when degraded
    max_ellipse_m: float = 200.0       # a wider fix says the geometry is degenerate
    min_onset_sigma_s: float = 1e-4    # floor under the sensors' stated onset sigma
    # Timing error of the straight-path model itself, added to every arrival's sigma: the
    # air a few degrees off the configured temperature, wind, an onset picked on a rise
    # that a building corner has smoothed. Without it a fix's inlier gate and ellipse claim
    # the sensors' 0.1 ms onset precision, a tenth of a metre, for positions metres off.
    model_sigma_s: float = 1e-3
    # Spread of the extra delay of paths bent over or around buildings (tens of ms): the
    # coarse fit uses it when the straight-path fit cannot keep the seed, or keeps no spare
    # sensor to check itself while more sensors heard the sound; and it bounds the ellipse
    # of a fix that nothing checks or that several of its sensors contradict.
    nlos_sigma_s: float = 0.015
    clock_correction: bool = True
    clock_gain: float = 0.01
    clock_min_sensors: int = 5         # inliers a fix needs to teach the clock estimate
    clock_max_reduced_chi2: float = 3.0


@dataclass(frozen=True)
class _Recent:
    """A located source, kept a while to recognise what else it makes heard."""

    emission_ns: int
    arrivals_ns: np.ndarray                # predicted arrival at every sensor row
    classes: set[int]
    spans: dict[int, tuple[int, int]]      # sensor row -> its event's onset, end (ns)


@dataclass(frozen=True)
class LocatedIncident:
    """A located source, ready to become an ``Incident`` message."""

    incident_id: str
    emission_ns: int                   # site time (clock-corrected)
    class_id: int
    confidence: float
    position: np.ndarray               # (3,) map frame, m
    ellipse: Ellipse
    time_sigma_s: float
    source_level_db: float
    sensor_ids: tuple[str, ...]        # sensors used (inliers, or the voters if degraded)
    residuals_s: tuple[float, ...]
    degraded: bool
    outlier_ids: tuple[str, ...] = ()
    detections: tuple[Detection, ...] = ()
    fix: Fix | None = None


class Fusion:
    """Associate, locate, estimate clock offsets."""

    def __init__(self, array: SensorArray, cfg: FusionConfig = FusionConfig()):
        self.array = array
        self.cfg = cfg
        self.assoc = Associator(array, cfg.association)
        self.clocks = ClockOffsets(array.ids, gain=cfg.clock_gain,
                                   max_offset_s=10.0 * float(array.clock_tolerance_s.max()))
        self.counters: Counter[str] = Counter()
        self._recent: deque[_Recent] = deque()

    @property
    def c(self) -> float:
        return self.cfg.fix.speed_of_sound

    def add(self, det: Detection) -> None:
        """Queue one event (``onset_ns`` on the sensor's own clock)."""
        self.array.index(det.sensor_id)
        offset = self.clocks.offset_s(det.sensor_id) if self.cfg.clock_correction else 0.0
        self.assoc.add(dataclasses.replace(
            det, raw_onset_ns=det.onset_ns, onset_ns=det.onset_ns - int(round(offset * NS))))
        self.counters['events'] += 1

    def pending(self) -> int:
        return len(self.assoc.pending)

    def flush(self, now_ns: int) -> list[LocatedIncident]:
        """Every incident whose association window has closed by ``now_ns``."""
        out = []
        while (seed := self.assoc.ready_seed(now_ns)) is not None:
            inc = self._one(seed)
            if inc is not None:
                out.append(inc)
        return out

    # -- one group ----------------------------------------------------------------------
    def _one(self, seed: Detection) -> LocatedIncident | None:
        assoc = self.assoc
        if seed.sustained:
            return self._emit_degraded(assoc.sustained_group(seed))
        if self._is_echo(seed):
            # Late at its sensor for a source just located: that source's echo or its path
            # round a building, left out of the fix. Kept, it would seed a fix of its own
            # from other such leftovers, hundreds of metres from anything.
            self.assoc.pending.remove([seed])
            self.counters['echoes'] += 1
            return None
        xy, support = assoc.hypothesis(seed, assoc.candidates(seed))
        fix = self._fit(support, seed, np.array([xy[0], xy[1], self.cfg.fix.source_z]))
        if fix is not None:
            emission = seed.onset_ns + int(round(fix.emission_s * NS))
            timing, voters = assoc.gather(seed, fix.position, emission,
                                          self.cfg.association.gate_s)
            k = next((n for n, d in enumerate(timing) if d is seed), None)
            refit = self._fit(timing, seed, fix.position)
            seed_in = refit is not None and k is not None and bool(refit.inliers[k])
            group = Group(seed, timing, voters, xy)
            if seed_in and (refit.dof > 0 or len(timing) <= self.cfg.fix.min_sensors):
                return self._emit_fix(group, refit)
            if not seed_in and refit is not None and self._blurred(seed, refit, timing):
                # The others locate a source and the seed's arrival sits within the gate of
                # its prediction: that source, its onset badly timed (a blast's slow rise).
                inc = self._emit_fix(group, refit)
                self.assoc.pending.remove([seed])
                self.counters['blurred_seeds'] += 1
                return inc
            coarse = self._coarse(timing, seed, k, fix.position) if k is not None else None
            if coarse is not None:
                self.counters['coarse_fixes'] += 1
                return self._emit_fix(group, coarse, straight=False)
            if seed_in:
                # An exact fix that nothing checks, and no coarser one: the best there is.
                return self._emit_fix(group, refit)
            # The seed does not belong with what its own hypothesis found: a stray event or
            # a reflection. It goes alone and the others wait for a better seed.
            self.counters['stray_seeds'] += 1
            support = [seed]
        # Without a fix, members that sit just after a located incident's arrival at their
        # sensor are its echoes or rejected reflections, not a new source.
        echoes = [d for d in support if self._is_echo(d, repeats=True)]
        if echoes:
            self.assoc.pending.remove(echoes)
            self.counters['echoes'] += len(echoes)
            support = [d for d in support if not any(d is e for e in echoes)]
            if not support:
                return None
            seed = min(support, key=lambda d: d.onset_ns)
        return self._emit_degraded(Group(seed, support, [], xy))

    def _blurred(self, seed: Detection, fix: Fix, timing: Sequence[Detection]) -> bool:
        """Whether ``fix`` stands without the seed and predicts the seed's arrival within
        the association gate: a reflection comes later than that, another source anywhere."""
        others = [ok for d, ok in zip(timing, fix.inliers) if d is not seed and ok]
        if len(others) < self.cfg.fix.min_sensors + 1:
            return False
        i = self.array.index(seed.sensor_id)
        pred = fix.emission_s + float(np.linalg.norm(self.array.positions[i] - fix.position)) \
            / self.c
        return abs(pred) <= self.cfg.association.gate_s + float(self.array.clock_tolerance_s[i])

    def _is_echo(self, det: Detection, repeats: bool = False) -> bool:
        """Whether a lone event falls just after a recent incident's arrival at its sensor,
        or (``repeats``) inside the span of the event that sensor gave that incident: a
        crash's later impacts, a blast's swells, which no other sensors' events can locate
        on their own."""
        i = self.array.index(det.sensor_id)
        gate = int((self.cfg.association.gate_s + self.array.clock_tolerance_s[i]) * NS)
        win = int(self.cfg.association.echo_window_s * NS)
        horizon = det.onset_ns - int(2.0 * self.cfg.association.max_range_m / self.c * NS)
        while self._recent and self._recent[0].emission_ns < horizon - win:
            self._recent.popleft()
        for rec in self._recent:
            arrival = int(rec.arrivals_ns[i])
            span = rec.spans.get(i) if repeats else None
            if ((arrival - gate <= det.onset_ns <= arrival + win
                 or span is not None and span[0] < det.onset_ns <= span[1] + gate)
                    and any(classes_compatible(det.class_id, k,
                                               self.cfg.association.allow_class_disagreement)
                            for k in rec.classes)):
                return True
        return False

    def _sigmas(self, dets: Sequence[Detection], model: bool = True) -> np.ndarray:
        """Each arrival's timing sigma: onset, clock and (unless ``model`` is False, for
        what the clock estimate may learn) the straight-path model's own error."""
        out = []
        extra = self.cfg.model_sigma_s if model else 0.0
        for d in dets:
            tol = float(self.array.clock_tolerance_s[self.array.index(d.sensor_id)])
            clock = self.clocks.sigma_s(d.sensor_id, tol) if self.cfg.clock_correction \
                else tol / math.sqrt(3.0)
            out.append(math.hypot(max(d.onset_sigma_s, self.cfg.min_onset_sigma_s), clock,
                                  extra))
        return np.array(out)

    def _coarse(self, dets: Sequence[Detection], seed: Detection, k: int,
                init: np.ndarray) -> Fix | None:
        """A fit that allows for diffracted paths, when the straight-path fit either leaves
        the seed out or keeps exactly as many sensors as it has unknowns although more heard
        the sound. Sound that reaches most sensors over or around buildings arrives tens of
        ms late at each by a different amount; the straight-path fit then keeps whichever
        three happen to agree and claims a tenth of a metre for a position that can be
        hundreds of metres off. This fix stands only if the seed and a spare sensor beyond
        the minimum agree with it; its ellipse is accordingly wide."""
        need = self.cfg.fix.min_sensors + 1
        if len(dets) < need:
            return None
        fix, pos = self._detoured_fit(dets, seed.onset_ns, init)
        fix = self._checked(fix, pos)
        if fix is None or fix.n_inliers < need or not fix.inliers[k]:
            return None
        return fix

    def _detoured_fit(self, dets: Sequence[Detection], ref_ns: int,
                      init: np.ndarray) -> tuple[Fix | None, np.ndarray]:
        """Every arrival carries the diffraction spread and the association gate bounds its
        residual. Returns the fit (None when it fails) and the sensors' positions."""
        pos = self.array.positions[[self.array.index(d.sensor_id) for d in dets]]
        times = np.array([(d.onset_ns - ref_ns) / NS for d in dets])
        sig = np.hypot(self._sigmas(dets), self.cfg.nlos_sigma_s)
        cfg = dataclasses.replace(self.cfg.fix, max_residual_s=self.cfg.association.gate_s)
        return locate(pos, times, sig, cfg, init=init), pos

    def _fit(self, dets: Sequence[Detection], seed: Detection,
             init: np.ndarray) -> Fix | None:
        if len(dets) < self.cfg.fix.min_sensors:
            return None
        rows = [self.array.index(d.sensor_id) for d in dets]
        pos = self.array.positions[rows]
        times = np.array([(d.onset_ns - seed.onset_ns) / NS for d in dets])
        sig = self._sigmas(dets)
        fix = self._checked(locate(pos, times, sig, self.cfg.fix, init=init), pos)
        if fix is None:
            # With few sensors two positions explain the arrivals equally well; the loud
            # sensor is the nearer one, so start again there.
            loud = pos[int(np.argmax([d.level_db_spl for d in dets]))] + np.array([1.0, 1.0, 0])
            fix = self._checked(locate(pos, times, sig, self.cfg.fix, init=loud), pos,
                                count=fix is None and len(dets) <= self.cfg.fix.min_sensors)
        if fix is None and len(dets) > self.cfg.fix.min_sensors:
            fix = self._consensus(dets, pos, times, sig)
        if fix is not None and self._mirrored(fix, pos, times, sig):
            self.counters['fix_ambiguous'] += 1
            return None
        return fix

    def _mirrored(self, fix: Fix, pos: np.ndarray, times: np.ndarray,
                  sig: np.ndarray) -> bool:
        """Whether the mirror image of the fix across the inlier sensors' main axis fits
        nearly as well: nearly collinear sensors cannot tell the two sides apart, and the
        local covariance does not show it."""
        ok = fix.inliers
        xy = pos[ok, :2]
        centre = xy.mean(0)
        _, _, vt = np.linalg.svd(xy - centre, full_matrices=False)
        axis = vt[0]
        d = fix.position[:2] - centre
        mirror = fix.position.copy()
        mirror[:2] = centre + 2.0 * (d @ axis) * axis - d
        if np.linalg.norm(mirror[:2] - fix.position[:2]) < 1.0:
            return False
        w = 1.0 / sig[ok] ** 2
        travel = np.linalg.norm(pos[ok] - mirror, axis=1) / self.c
        t0 = float(np.sum(w * (times[ok] - travel)) / np.sum(w))
        chi2_mirror = float(np.sum(w * (times[ok] - t0 - travel) ** 2))
        return chi2_mirror <= fix.chi2 + 25.0

    def _consensus(self, dets: Sequence[Detection], pos: np.ndarray, times: np.ndarray,
                   sig: np.ndarray) -> Fix | None:
        """Minimal subsets with the seed (RANSAC): when several of the group's events
        belong to another sound, the robust fit can settle on a wrong consensus; exact fits
        of the seed and two others, scored by how many events they explain, find the right
        one. The seed is row 0 of ``dets``'s time reference; the loudest events are tried."""
        from itertools import combinations

        k0 = int(np.argmin(np.abs(times)))
        others = [k for k in np.argsort([-d.level_db_spl for d in dets]) if k != k0][:8]
        gate = 4.0 * sig + 1e-3
        best, best_key = None, None
        cfg3 = dataclasses.replace(self.cfg.fix, loss='linear')
        for a, b in combinations(others, 2):
            idx = [k0, int(a), int(b)]
            f = locate(pos[idx], times[idx], sig[idx], cfg3, init=pos[k0] + np.array([1, 1, 0]))
            if f is None:
                continue
            res = times - (f.emission_s + np.linalg.norm(pos - f.position, axis=1) / self.c)
            ok = np.abs(res) <= gate
            key = (int(ok.sum()), -float(np.sum((res[ok] / sig[ok]) ** 2)))
            if best_key is None or key > best_key:
                best, best_key = (ok, f.position), key
        if best is None or best_key[0] < self.cfg.fix.min_sensors + 1:
            self.counters['fix_failed'] += 1
            return None
        ok, p0 = best
        fix = locate(pos[ok], times[ok], sig[ok], self.cfg.fix, init=p0)
        fix = self._checked(fix, pos[ok], count=True)
        if fix is None:
            return None
        # Back to the group's rows: the events outside the consensus are outliers.
        res = times - (fix.emission_s + np.linalg.norm(pos - fix.position, axis=1) / self.c)
        inl = np.zeros(len(dets), bool)
        inl[np.flatnonzero(ok)[fix.inliers]] = True
        lev = np.zeros(len(dets))
        lev[ok] = fix.leverage
        self.counters['consensus_fixes'] += 1
        return dataclasses.replace(fix, residuals_s=res, inliers=inl, leverage=lev)

    def _checked(self, fix: Fix | None, pos: np.ndarray, count: bool = False) -> Fix | None:
        """The fix, or None when it failed, is degenerate, or lies outside hearing range."""
        why = ''
        if fix is None:
            why = 'fix_failed'
        elif ellipse_from_cov(fix.cov_xy).major_m > self.cfg.max_ellipse_m:
            why = 'fix_degenerate'
        elif float(np.min(np.linalg.norm(pos[:, :2] - fix.position[:2], axis=1))) \
                > self.cfg.association.max_range_m:
            why = 'fix_out_of_range'
        if why:
            if count:
                self.counters[why] += 1
            return None
        return fix

    def _reduced_chi2(self, inl: Sequence[Detection], fix: Fix) -> float:
        """The inliers' chi-square per degree of freedom against their onset and clock
        sigmas alone: a fix teaches the clocks only when it explains the arrivals that well,
        so that the offsets do not learn the propagation model's errors."""
        res = fix.residuals_s[fix.inliers] / self._sigmas(inl, model=False)
        return float(np.sum(res ** 2)) / fix.dof

    def _published_cov(self, fix: Fix, timing: Sequence[Detection], straight: bool) -> np.ndarray:
        """The fit's covariance widened for the errors it cannot see in its own inliers.

        - Nothing checks an exact fit (as many sensors as unknowns): in a street the paths
          may bend round buildings by the diffraction spread, so it is allowed for.
        - Neighbouring sensors' model errors are not independent (the same air, the same
          buildings in the way): the uncertainty does not shrink with the count of sensors
          beyond the few a fix needs to check itself.
        - When two or more sensors that heard the sound disagree with a straight-path fit,
          paths bend round buildings here and the inliers may share their detour, which
          their agreement cannot show: the fit allowing for detours over every member
          bounds how well the position is known.
        """
        need = self.cfg.fix.min_sensors + 1
        independent = max(1.0, fix.n_inliers / need)
        cov = fix.cov * independent
        if fix.dof == 0:
            sig = self._sigmas(timing)[fix.inliers]
            cov = cov * float(np.mean(1.0 + (self.cfg.nlos_sigma_s / sig) ** 2))
        if straight and len(timing) - fix.n_inliers >= 2:
            alt, _ = self._detoured_fit(timing, timing[0].onset_ns, fix.position)
            if alt is not None:
                alt_cov = alt.cov * max(1.0, alt.n_inliers / need)
                if np.trace(alt_cov[:2, :2]) > np.trace(cov[:2, :2]):
                    cov = alt_cov
        return cov

    # -- output -------------------------------------------------------------------------
    def _emit_fix(self, group: Group, fix: Fix, straight: bool = True) -> LocatedIncident | None:
        """Publish a fix; only a straight-path one (not a coarse fit) teaches the clocks."""
        seed = group.seed
        timing = group.timing
        inl = [d for d, ok in zip(timing, fix.inliers) if ok]
        out = [d for d, ok in zip(timing, fix.inliers) if not ok]
        # Outliers of another class stay pending: they may be another source's arrival. One
        # of the seed's class, within the gate of this source's arrival at its sensor, is
        # this source badly timed (a blast's slow rise, a diffracted path); left pending it
        # would seed a second fix of the same sound from whatever else was left out.
        same = [d for d in out if d.class_id == seed.class_id]
        group = Group(seed, inl, group.voters, group.hypothesis_xy)
        self.assoc.pending.remove(group.detections)
        self.assoc.pending.remove(same)
        self.counters['outliers'] += len(out)
        self.counters['absorbed_outliers'] += len(same)
        if len(group.sensor_ids) < self.cfg.min_sensors_publish:
            self.counters['dropped_small'] += 1
            return None
        cls, conf = fuse_class(group.detections)
        dist = np.linalg.norm(self.array.positions[[self.array.index(d.sensor_id)
                                                    for d in inl]] - fix.position, axis=1)
        level = float(np.median([d.level_db_spl for d in inl]
                                + 20.0 * np.log10(np.maximum(dist, 1.0))))
        emission = seed.onset_ns + int(round(fix.emission_s * NS))
        cov = self._published_cov(fix, timing, straight)
        if ellipse_from_cov(cov[:2, :2]).major_m > self.cfg.max_ellipse_m:
            # Allowing for what the fit cannot see leaves the position unknown: the loudest
            # sensor is the better guess, and the incident says it is degraded.
            self.counters['fix_too_uncertain'] += 1
            return self._emit_degraded(group)
        arrivals = emission + np.round(np.linalg.norm(self.array.positions - fix.position,
                                                      axis=1) / self.c * NS).astype(np.int64)
        spans = {self.array.index(d.sensor_id): (d.onset_ns,
                                                 d.onset_ns + int(d.duration_s * NS))
                 for d in list(inl) + same}
        self._recent.append(_Recent(emission, arrivals, {d.class_id for d in inl}, spans))
        if (straight and self.cfg.clock_correction
                and fix.n_inliers >= self.cfg.clock_min_sensors and fix.dof > 0
                and self._reduced_chi2(inl, fix) <= self.cfg.clock_max_reduced_chi2):
            self.clocks.update([d.sensor_id for d in inl], fix.residuals_s[fix.inliers],
                               fix.leverage[fix.inliers],
                               [max(d.onset_sigma_s, self.cfg.min_onset_sigma_s)
                                for d in inl])
            self.counters['clock_updates'] += 1
        self.counters['incidents'] += 1
        self.counters['located'] += 1
        return LocatedIncident(
            incident_id=f'inc_{emission // 1_000_000}_{seed.sensor_id}',
            emission_ns=emission, class_id=cls, confidence=conf,
            position=fix.position.copy(), ellipse=ellipse_from_cov(cov[:2, :2]),
            time_sigma_s=math.sqrt(max(float(cov[-1, -1]), 0.0)), source_level_db=level,
            sensor_ids=tuple(d.sensor_id for d in inl),
            residuals_s=tuple(float(r) for r in fix.residuals_s[fix.inliers]),
            degraded=False, outlier_ids=tuple(d.sensor_id for d in out),
            detections=tuple(group.detections), fix=fix)

    def _emit_degraded(self, group: Group) -> LocatedIncident | None:
        """Too few sensors or no usable fix: the loudest sensor's position, a wide circle."""
        self.assoc.pending.remove(group.detections)
        dets = group.detections
        if len(group.sensor_ids) < self.cfg.min_sensors_publish:
            self.counters['dropped_small'] += 1
            return None
        loudest = max(dets, key=lambda d: d.level_db_spl)
        pos = self.array.positions[self.array.index(loudest.sensor_id)].copy()
        pos[2] = self.cfg.fix.source_z
        cls, conf = fuse_class(dets)
        radius = self.cfg.fallback_radius_m
        earliest = min(d.onset_ns for d in dets)
        self.counters['incidents'] += 1
        self.counters['degraded'] += 1
        # Emission: the first arrival, less half the travel time over the fallback radius;
        # the sigma spans the rest.
        emission = earliest - int(round(radius / 2.0 / self.c * NS))
        sigma_t = max(radius / 2.0 / self.c, max(d.onset_sigma_s for d in dets))
        return LocatedIncident(
            incident_id=f'inc_{emission // 1_000_000}_{group.seed.sensor_id}',
            emission_ns=emission, class_id=cls, confidence=conf, position=pos,
            ellipse=circle(radius), time_sigma_s=sigma_t,
            # The distance is unknown: the loudest level is a lower bound of the 1 m level.
            source_level_db=float(loudest.level_db_spl),
            sensor_ids=tuple(dict.fromkeys(d.sensor_id for d in dets)),
            residuals_s=tuple(0.0 for _ in dict.fromkeys(d.sensor_id for d in dets)),
            degraded=True, detections=tuple(dets))
