"""Score the events of a simulated run against the simulator's ground truth.

Each ground-truth arrival (one sound reaching one sensor) is matched to that sensor's events
whose onset, on the sensor's capture clock, falls inside a collar around the expected capture
time. Unmatched events are false events. The figures are the ones the foundation issue states:
recall of alert classes near the sensor, false events per sensor-hour, onset error.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from soft.classify import taxonomy
from soft.locate.uncertainty import Ellipse


@dataclass(frozen=True)
class Arrival:
    """One sound reaching one sensor, as the simulator knows it."""

    incident: int
    sensor_id: str
    class_id: int
    kind: str
    expected_ns: int      # arrival on the sensor's capture clock
    distance_m: float
    snr_db: float
    sustained: bool
    duration_s: float = 0.0


@dataclass(frozen=True)
class Event:
    sensor_id: str
    onset_ns: int
    class_id: int
    confidence: float
    sustained: bool = False


@dataclass
class Match:
    arrival: Arrival
    event: Event | None
    # The matched event is also the one nearest in time: only then is its onset error the
    # detector's timing, not the distance to another sound's event.
    nearest: bool = True

    @property
    def correct(self) -> bool:
        return self.event is not None and self.event.class_id == self.arrival.class_id

    @property
    def onset_error_s(self) -> float | None:
        if self.event is None:
            return None
        return (self.event.onset_ns - self.arrival.expected_ns) / 1e9


@dataclass
class Score:
    matches: list[Match]
    false_events: list[Event]
    sensor_hours: float
    by_incident: dict[int, list[Match]] = field(default_factory=dict)

    def recall(self, max_distance_m: float = 150.0, min_snr_db: float = 6.0,
               classes: Iterable[int] | None = None, min_distance_m: float = 0.0
               ) -> tuple[float, int]:
        """Fraction of qualifying arrivals detected with the right class, and their number
        (distance within [min_distance_m, max_distance_m]; a band's lower end is exclusive
        when above 0, so adjacent bands share no arrival)."""
        wanted = set(classes) if classes is not None else set(taxonomy.police_ids())
        pool = [m for m in self.matches if m.arrival.class_id in wanted
                and (m.arrival.distance_m > min_distance_m if min_distance_m > 0 else True)
                and m.arrival.distance_m <= max_distance_m and m.arrival.snr_db >= min_snr_db]
        if not pool:
            return float('nan'), 0
        return sum(m.correct for m in pool) / len(pool), len(pool)

    def onset_errors_s(self, min_snr_db: float = 10.0, impulsive_only: bool = True) -> np.ndarray:
        errs = [m.onset_error_s for m in self.matches
                if m.event is not None and m.nearest and m.arrival.snr_db >= min_snr_db
                and not m.event.sustained
                and (not impulsive_only or taxonomy.by_id(m.arrival.class_id).impulsive
                     or m.arrival.class_id == 0)]
        return np.asarray([e for e in errs if e is not None], dtype=float)

    def false_per_sensor_hour(self, police_only: bool = False) -> float:
        evs = [e for e in self.false_events
               if not police_only or taxonomy.by_id(e.class_id).police]
        return len(evs) / self.sensor_hours if self.sensor_hours > 0 else float('nan')


def score(arrivals: Sequence[Arrival], events: Sequence[Event], sensor_hours: float,
          collar_s: float = 0.5, sustained_collar_s: float = 3.0) -> Score:
    """Greedy one-to-one matching per sensor, nearest onset first.

    Sustained sounds (sirens, drills) are reported by periodic classification, so their events
    may come seconds after the onset: they get a wider collar and every event inside the
    sound's span counts as that sound, not as a false event.
    """
    by_sensor: dict[str, list[Event]] = defaultdict(list)
    for ev in events:
        by_sensor[ev.sensor_id].append(ev)
    used: set[int] = set()
    matches: list[Match] = []
    for arr in sorted(arrivals, key=lambda a: a.expected_ns):
        collar = int((sustained_collar_s if arr.sustained else collar_s) * 1e9)
        best, best_key, nearest_err = None, None, None
        for ev in by_sensor.get(arr.sensor_id, ()):
            if id(ev) in used:
                continue
            err = ev.onset_ns - arr.expected_ns
            if -int(collar_s * 1e9) <= err <= collar:
                key = (ev.class_id != arr.class_id, abs(err))
                if best is None or key < best_key:
                    best, best_key = ev, key
                if nearest_err is None or abs(err) < nearest_err:
                    nearest_err = abs(err)
        if best is not None:
            used.add(id(best))
        matches.append(Match(arr, best, best is None or best_key[1] == nearest_err))
    # Extra events inside any arrival's span (same sensor) are repeats, not false alarms.
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for arr in arrivals:
        span = int((collar_s + arr.duration_s + (sustained_collar_s if arr.sustained else 0.0))
                   * 1e9)
        spans[arr.sensor_id].append((arr.expected_ns - int(collar_s * 1e9),
                                     arr.expected_ns + span))
    false_events = [ev for ev in events if id(ev) not in used and not any(
        lo <= ev.onset_ns <= hi for lo, hi in spans.get(ev.sensor_id, ()))]
    by_incident: dict[int, list[Match]] = defaultdict(list)
    for m in matches:
        by_incident[m.arrival.incident].append(m)
    return Score(matches, false_events, sensor_hours, dict(by_incident))


@dataclass(frozen=True)
class LocatedIncident:
    """What the fusion published, reduced to what scoring needs."""

    emission_ns: int
    class_id: int
    confidence: float
    x: float
    y: float
    ellipse_major_m: float
    n_sensors: int
    degraded: bool
    ellipse_minor_m: float | None = None        # None: a circle of the major semi-axis
    ellipse_orientation_rad: float = 0.0

    def ellipse_holds(self, x: float, y: float) -> bool:
        """Whether (x, y) lies inside the published 95 % ellipse."""
        minor = self.ellipse_major_m if self.ellipse_minor_m is None else self.ellipse_minor_m
        return Ellipse(self.ellipse_major_m, minor, self.ellipse_orientation_rad).contains(
            np.array([self.x, self.y]), np.array([x, y]))


@dataclass(frozen=True)
class SoundTruth:
    """One emitted sound as the simulator knows it (true clock)."""

    index: int
    class_id: int
    emission_ns: int
    duration_s: float
    x: float
    y: float


@dataclass
class IncidentScore:
    located: dict[int, LocatedIncident]     # sound index -> best incident
    false_incidents: list[LocatedIncident]
    count: dict[int, int] = field(default_factory=dict)     # sound index -> its incidents

    def position_error_m(self, truth: Sequence[SoundTruth], police_only: bool = True,
                         include_degraded: bool = False) -> np.ndarray:
        out = []
        for s in truth:
            inc = self.located.get(s.index)
            if inc is None or (inc.degraded and not include_degraded):
                continue
            if police_only and not taxonomy.by_id(s.class_id).police:
                continue
            out.append(float(np.hypot(inc.x - s.x, inc.y - s.y)))
        return np.asarray(out)

    def ellipse_coverage(self, truth: Sequence[SoundTruth]) -> float | None:
        """Share of the located (not degraded) police sounds whose incident's 95 % ellipse
        holds the source: an operator slews a camera into it, so it should, 19 times in 20."""
        held = [self.located[s.index].ellipse_holds(s.x, s.y) for s in truth
                if s.index in self.located and not self.located[s.index].degraded
                and taxonomy.by_id(s.class_id).police]
        return float(np.mean(held)) if held else None


def score_incidents(truth: Sequence[SoundTruth], incidents: Sequence[LocatedIncident],
                    before_s: float = 0.5, after_s: float = 3.0) -> IncidentScore:
    """Each incident goes to the sound whose emission span holds its emission time and that
    lies nearest; several incidents of one sustained sound are repeats, not false ones.
    Between sounds at one spot (the shots of a volley) the one emitted nearest in time wins:
    otherwise every shot's incident would fall to the first shot, whose span covers them."""
    located: dict[int, LocatedIncident] = {}
    count: dict[int, int] = {}
    false: list[LocatedIncident] = []
    for inc in incidents:
        best, best_d = None, None
        for s in truth:
            lo = s.emission_ns - int(before_s * 1e9)
            hi = s.emission_ns + int((s.duration_s + after_s) * 1e9)
            if not lo <= inc.emission_ns <= hi:
                continue
            d = (inc.class_id != s.class_id, float(np.hypot(inc.x - s.x, inc.y - s.y)),
                 abs(inc.emission_ns - s.emission_ns))
            if best is None or d < best_d:
                best, best_d = s, d
        if best is None:
            false.append(inc)
            continue
        count[best.index] = count.get(best.index, 0) + 1
        cur = located.get(best.index)
        if cur is None or (cur.degraded, cur.class_id != best.class_id) > \
                (inc.degraded, inc.class_id != best.class_id):
            located[best.index] = inc
    return IncidentScore(located, false, count)
