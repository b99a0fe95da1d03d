"""Association, fusion and clock offsets on synthetic events over the shipped sensor layout.

Events are what sensors would report for sources at known positions: arrival time on each
sensor's clock (true travel time, onset noise of 0.1-0.5 ms, a clock offset of up to 0.1 ms),
a level falling with distance, and the class.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import shapely

from soft.classify import taxonomy
from soft.locate.association import AssociationConfig, Detection, fuse_class
from soft.locate.fusion import Fusion, FusionConfig
from soft.locate.multilateration import FixConfig
from soft.locate.sensor_array import SensorArray
from soft.paths import default_site
from soft.sim.propagation import Atmosphere, BuildingMap, audible_paths
from soft.site import load_site

C = 340.3
NS = 1_000_000_000
T0 = 100 * NS


@pytest.fixture(scope='module')
def site():
    return load_site(default_site())


@pytest.fixture(scope='module')
def array(site) -> SensorArray:
    return SensorArray.from_site(site)


def config(**kw) -> FusionConfig:
    return FusionConfig(AssociationConfig(speed_of_sound=C), FixConfig(speed_of_sound=C), **kw)


def shot_events(array, src, emission_ns, rng, class_id=1, radius=450.0, offsets=None,
                source_db=130.0, only=None):
    """One sound's events at every sensor within ``radius`` (or the ``only`` rows)."""
    d = np.linalg.norm(array.positions - src, axis=1)
    rows = only if only is not None else np.flatnonzero(d < radius)
    out = []
    for j in rows:
        sig = float(rng.uniform(1e-4, 5e-4))
        off = float(offsets[j]) if offsets is not None else 0.0
        on = emission_ns + int(round((d[j] / C + rng.normal(0.0, sig) + off) * NS))
        out.append(Detection(array.ids[j], on, class_id, 0.9,
                             source_db - 20.0 * np.log10(max(d[j], 1.0)), sig))
    return out


def detoured_events(array, buildings, src, emission_ns, rng, source_db=140.0,
                    audible_db=50.0):
    """One shot as the sensors hear it along the simulator's paths, over the roofs or round
    the corners of the site's buildings: most arrive tens of ms after the straight path."""
    atm = Atmosphere(temperature_c=15.0)
    out = []
    for j, path in audible_paths(src, array.positions, buildings, source_db, audible_db, atm,
                                 max_range_m=600.0):
        sig = float(rng.uniform(1e-4, 5e-4))
        on = emission_ns + int(round((path.length_m / atm.c + rng.normal(0.0, sig)) * NS))
        out.append(Detection(array.ids[j], on, 1, 0.9,
                             source_db - 20.0 * np.log10(path.length_m), sig))
    return out


def run(fusion, events, step_ns=NS // 10, tail_s=10.0):
    """Deliver events in onset order with the clock ticking as a host would."""
    out = []
    now = 0
    for ev in sorted(events, key=lambda e: e.onset_ns):
        while now < ev.onset_ns:
            now += step_ns
            out += fusion.flush(now)
        fusion.add(ev)
    out += fusion.flush(now + int(tail_s * NS))
    return out


def test_one_shot_is_one_located_incident(array):
    rng = np.random.default_rng(1)
    src = np.array([35.0, -80.0, 1.5])
    evs = shot_events(array, src, T0, rng)
    fu = Fusion(array, config())
    incs = run(fu, evs)
    assert len(incs) == 1
    inc = incs[0]
    assert not inc.degraded and inc.class_id == 1
    assert len(inc.sensor_ids) == len(evs) and not inc.outlier_ids
    assert np.linalg.norm(inc.position[:2] - src[:2]) < 0.3
    assert abs(inc.emission_ns - T0) < 0.2e-3 * NS
    assert inc.ellipse.contains(inc.position, src)
    assert inc.source_level_db == pytest.approx(130.0, abs=1.0)
    assert fu.pending() == 0


def test_nothing_is_emitted_before_the_window_closes(array):
    rng = np.random.default_rng(2)
    evs = shot_events(array, np.array([0.0, 0.0, 1.5]), T0, rng)
    fu = Fusion(array, config())
    for ev in evs:
        fu.add(ev)
    first = min(e.onset_ns for e in evs)
    close = fu.assoc.close_time_ns(min(evs, key=lambda e: e.onset_ns))
    # At least the travel time to the sensors within hearing range, at most across the site.
    assert first + 1 * NS < close < first + 6 * NS
    assert fu.flush(close - 1) == []
    assert len(fu.flush(close)) == 1


def test_position_error_over_many_sources_inside_the_array(array):
    rng = np.random.default_rng(3)
    offsets = rng.uniform(-1e-4, 1e-4, len(array))
    truth, evs = [], []
    t = T0
    for _ in range(60):
        t += int(rng.uniform(1.0, 4.0) * NS)
        src = np.array([*rng.uniform(-400, 400, 2), 1.5])
        truth.append((t, src))
        evs += shot_events(array, src, t, rng, offsets=offsets)
    incs = run(Fusion(array, config()), evs)
    assert len(incs) == len(truth)
    errs = []
    for inc, (t, src) in zip(sorted(incs, key=lambda i: i.emission_ns), truth):
        assert abs(inc.emission_ns - t) < 1e-3 * NS
        errs.append(np.linalg.norm(inc.position[:2] - src[:2]))
    assert np.median(errs) < 0.2 and np.percentile(errs, 90) < 0.5


def test_simultaneous_incidents_are_separated(array):
    rng = np.random.default_rng(4)
    a, b = np.array([-250.0, 120.0, 1.5]), np.array([230.0, -150.0, 1.5])
    evs = shot_events(array, a, T0, rng)
    evs += shot_events(array, b, T0 + NS // 50, rng, class_id=3, source_db=120.0)
    incs = run(Fusion(array, config()), evs)
    assert len(incs) == 2
    by_class = {i.class_id: i for i in incs}
    assert set(by_class) == {1, 3}
    assert np.linalg.norm(by_class[1].position[:2] - a[:2]) < 0.5
    assert np.linalg.norm(by_class[3].position[:2] - b[:2]) < 0.5
    assert not any(i.degraded for i in incs)


def test_a_burst_of_shots_0_3_s_apart_gives_one_incident_per_shot(array):
    rng = np.random.default_rng(5)
    src = np.array([-60.0, 40.0, 1.5])
    times = [T0 + k * 3 * NS // 10 for k in range(5)]
    evs = [e for t in times for e in shot_events(array, src, t, rng)]
    incs = sorted(run(Fusion(array, config()), evs), key=lambda i: i.emission_ns)
    assert len(incs) == 5
    for inc, t in zip(incs, times):
        assert abs(inc.emission_ns - t) < 1e-3 * NS
        assert np.linalg.norm(inc.position[:2] - src[:2]) < 0.5
        assert len(set(inc.sensor_ids)) == len(inc.sensor_ids)     # one event per sensor
    assert len({i.incident_id for i in incs}) == 5


def test_reflection_is_an_outlier_and_its_echo_no_incident(array):
    rng = np.random.default_rng(6)
    src = np.array([100.0, 100.0, 1.5])
    evs = shot_events(array, src, T0, rng)
    # One sensor only hears the sound around a building: 10 ms (3.4 m) late...
    k = max(range(len(evs)), key=lambda n: evs[n].onset_ns)
    late = evs[k]
    evs[k] = Detection(late.sensor_id, late.onset_ns + NS // 100, 1, 0.8,
                       late.level_db_spl, late.onset_sigma_s)
    # ... and another hears the direct sound then a facade echo 60 ms later.
    first = evs[0]
    evs.append(Detection(first.sensor_id, first.onset_ns + 6 * NS // 100, 1, 0.7,
                         first.level_db_spl - 6.0, first.onset_sigma_s))
    fu = Fusion(array, config())
    incs = run(fu, evs)
    assert len(incs) == 1, [(i.sensor_ids, i.degraded) for i in incs]
    assert late.sensor_id in incs[0].outlier_ids
    assert late.sensor_id not in incs[0].sensor_ids
    assert np.linalg.norm(incs[0].position[:2] - src[:2]) < 0.5
    # The reflected arrival, within the gate and of the same class, is absorbed as this
    # source's (it must not seed a fix of its own); the facade echo is an echo.
    assert fu.counters['absorbed_outliers'] == 1 and fu.counters['echoes'] == 1
    assert fu.pending() == 0


def test_too_few_sensors_fall_back_to_the_loudest_sensor(array, site):
    rng = np.random.default_rng(8)
    src = np.array([20.0, 10.0, 1.5])
    d = np.linalg.norm(array.positions - src, axis=1)
    rows = np.argsort(d)[:2]
    incs = run(Fusion(array, config()), shot_events(array, src, T0, rng, class_id=3,
                                                    only=rows))
    assert len(incs) == 1
    inc = incs[0]
    assert inc.degraded
    assert np.allclose(inc.position[:2], array.positions[rows[0], :2])
    assert inc.ellipse.major_m == inc.ellipse.minor_m == 150.0
    assert set(inc.sensor_ids) == {array.ids[r] for r in rows}
    # The minimum-sensor setting drops what it is told to.
    incs = run(Fusion(array, config(min_sensors_publish=3)),
               shot_events(array, src, T0, rng, only=rows))
    assert incs == []


def test_collinear_sensors_give_a_degraded_fix():
    ids = [f'l{k}' for k in range(5)]
    line = SensorArray.from_positions(ids, [[k * 100.0, 0.0, 5.0] for k in range(5)])
    rng = np.random.default_rng(9)
    src = np.array([180.0, 60.0, 1.5])
    incs = run(Fusion(line, config()), shot_events(line, src, T0, rng))
    # A line of sensors cannot tell its two sides apart: the fix is refused, not reported
    # with a tight ellipse on the wrong side.
    assert len(incs) == 1
    assert incs[0].degraded


def test_clock_offsets_are_learnt_from_good_fixes(array):
    rng = np.random.default_rng(10)
    offsets = rng.uniform(-1e-4, 1e-4, len(array))
    fu = Fusion(array, config())
    evs, t = [], T0
    # Onset noise (0.1-0.5 ms) is larger than the offsets (up to 0.1 ms): it takes a few
    # hundred fixes per sensor to see them.
    for _ in range(320):
        t += int(rng.uniform(2.0, 4.0) * NS)
        evs += shot_events(array, np.array([*rng.uniform(-400, 400, 2), 1.5]), t, rng,
                           offsets=offsets)
    run(fu, evs)
    est = np.array([fu.clocks.offset_s(s) for s in array.ids])
    seen = np.array([fu.clocks.updates(s) >= 80 for s in array.ids])
    assert seen.sum() >= 25
    # Offsets are observable up to a common part (it looks like emission time).
    truth = offsets[seen] - offsets[seen].mean()
    got = est[seen] - est[seen].mean()
    rms_err = np.sqrt(np.mean((got - truth) ** 2))
    # Better than assuming perfect clocks, and pointing the right way sensor by sensor.
    assert rms_err < 0.8 * np.sqrt(np.mean(truth ** 2))
    assert np.corrcoef(truth, got)[0, 1] > 0.6


def test_class_vote_and_sustained_groups(array):
    dets = [Detection('s01', 0, 1, 0.9, 90, 1e-4), Detection('s02', 0, 1, 0.6, 90, 1e-4),
            Detection('s03', 0, 11, 0.95, 90, 1e-4)]
    cls, conf = fuse_class(dets)
    assert cls == 1
    assert conf == pytest.approx(0.9 * 1.5 / 2.45)
    # A drill heard by three sensors, classified every second: coarse onsets, one incident.
    rng = np.random.default_rng(12)
    src = np.array([-30.0, 200.0, 1.5])
    d = np.linalg.norm(array.positions - src, axis=1)
    rows = np.argsort(d)[:3]
    evs = [Detection(array.ids[j], T0 + int((d[j] / C + rng.uniform(0, 0.5)) * NS), 6, 0.8,
                     90.0 - k, 0.5, sustained=True, duration_s=2.0)
           for k, j in enumerate(rows)]
    incs = run(Fusion(array, config()), evs)
    assert len(incs) == 1 and incs[0].degraded and incs[0].class_id == 6
    assert np.allclose(incs[0].position[:2], array.positions[rows[0], :2])


def test_a_badly_timed_first_arrival_joins_the_source_the_others_locate(array):
    """The first sensor times a blast's slow rise 5 ms early: the others locate it, and the
    seed is that source, not a second incident of its own."""
    rng = np.random.default_rng(12)
    src = np.array([-40.0, 120.0, 1.5])
    evs = sorted(shot_events(array, src, T0, rng, class_id=5), key=lambda e: e.onset_ns)
    first = evs[0]
    evs[0] = Detection(first.sensor_id, first.onset_ns - 5 * NS // 1000, 5, 0.9,
                       first.level_db_spl, first.onset_sigma_s)
    fu = Fusion(array, config())
    incs = run(fu, evs)
    assert len(incs) == 1, [(i.sensor_ids, i.degraded) for i in incs]
    assert not incs[0].degraded and first.sensor_id not in incs[0].sensor_ids
    assert np.linalg.norm(incs[0].position[:2] - src[:2]) < 0.5
    assert fu.counters['blurred_seeds'] == 1 and fu.pending() == 0


@pytest.mark.parametrize('xy', [(97.0, -327.0), (155.0, -204.0)])
def test_a_volley_behind_buildings_is_one_located_incident_per_shot(array, site, xy):
    """Four shots 1.03 s apart where most sensors hear round buildings: arrivals 10-45 ms
    late, each by its own amount, interleaved between shots. Each shot is one incident
    near the source whose ellipse holds it; no leftover detour makes a fix of its own far
    away, and the detours teach the clock offsets nothing."""
    rng = np.random.default_rng(7)
    src = np.array([*xy, 1.5])
    buildings = BuildingMap(site.building_polygons())
    times = [T0 + k * 1030 * NS // 1000 for k in range(4)]
    evs = [e for t in times for e in detoured_events(array, buildings, src, t, rng)]
    fu = Fusion(array, config())
    incs = sorted(run(fu, evs), key=lambda i: i.emission_ns)
    assert len(incs) == 4, [(np.round(i.position[:2]), i.degraded) for i in incs]
    for inc, t in zip(incs, times):
        assert not inc.degraded and abs(inc.emission_ns - t) < 0.1 * NS
        assert np.linalg.norm(inc.position[:2] - src[:2]) < 15.0
        assert inc.ellipse.contains(inc.position, src)
    assert fu.pending() == 0
    assert max(abs(fu.clocks.offset_s(s)) for s in array.ids) < 2e-4


def test_an_exact_fix_allows_for_a_detour_it_cannot_see(array):
    """Three sensors, one of them 20 ms late round a corner: three arrivals fit any
    position exactly, so the fix is metres off and nothing shows it; its ellipse must
    still hold the source instead of claiming the onsets' tenth of a metre."""
    src = np.array([35.0, -80.0, 1.5])
    rows = np.argsort(np.linalg.norm(array.positions - src, axis=1))[:3]
    evs = shot_events(array, src, T0, np.random.default_rng(9), only=rows)
    late = evs[1]
    evs[1] = Detection(late.sensor_id, late.onset_ns + 20 * NS // 1000, 1, 0.9,
                       late.level_db_spl, late.onset_sigma_s)
    incs = run(Fusion(array, config()), evs)
    assert len(incs) == 1 and not incs[0].degraded
    err = np.linalg.norm(incs[0].position[:2] - src[:2])
    assert 1.0 < err < 10.0
    assert incs[0].ellipse.contains(incs[0].position, src)


def test_later_impacts_inside_a_reported_sound_are_not_new_incidents(array):
    """A crash's two later impacts, heard only by the two nearest sensors inside the span of
    the event each already gave the located crash, are that crash, not two degraded
    incidents; shots 1 s apart whose events ring longer than that still make one incident
    each, because every sensor hears each of them."""
    rng = np.random.default_rng(13)
    crash, gun = taxonomy.by_name('crash').id, taxonomy.by_name('gunshot').id
    src = np.array([60.0, -150.0, 1.5])
    first = [dataclasses.replace(e, duration_s=0.9)
             for e in shot_events(array, src, T0, rng, class_id=crash)]
    near = sorted(first, key=lambda e: -e.level_db_spl)[:2]
    later = [dataclasses.replace(e, onset_ns=e.onset_ns + k * 3 * NS // 10, duration_s=0.4)
             for k in (1, 2) for e in near]
    fu = Fusion(array, config())
    incs = run(fu, first + later)
    assert len(incs) == 1 and not incs[0].degraded and fu.pending() == 0
    assert fu.counters['echoes'] == len(later)

    shots = [T0 + 20 * NS + k * NS for k in range(3)]
    evs = [dataclasses.replace(e, duration_s=1.5) for t in shots
           for e in shot_events(array, np.array([-60.0, 40.0, 1.5]), t, rng, class_id=gun)]
    incs = sorted(run(Fusion(array, config()), evs), key=lambda i: i.emission_ns)
    assert len(incs) == 3 and not any(i.degraded for i in incs)


def test_ellipses_behind_buildings_hold_the_source_19_times_in_20(array, site):
    """Sources anywhere in the district, heard along the simulator's paths round the site's
    buildings: the fixes are metres off, and their 95 % ellipses must say so."""
    rng = np.random.default_rng(21)
    buildings = BuildingMap(site.building_polygons())
    truth, evs = [], []
    t = T0
    while len(truth) < 40:
        src = np.array([*rng.uniform(-400.0, 400.0, 2), 1.5])
        if any(poly.contains(shapely.Point(src[:2])) for poly in buildings.polygons):
            continue
        t += int(rng.uniform(2.0, 5.0) * NS)
        heard = detoured_events(array, buildings, src, t, rng)
        if len(heard) >= 4:
            truth.append((t, src))
            evs += heard
    incs = run(Fusion(array, config()), evs)
    inside, errs = [], []
    for t, src in truth:
        inc = min(incs, key=lambda i: (abs(i.emission_ns - t) > 0.5 * NS, i.degraded,
                                       abs(i.emission_ns - t)))
        inside.append(inc.ellipse.contains(inc.position, src))
        errs.append(np.linalg.norm(inc.position[:2] - src[:2]))
    assert np.mean(inside) >= 0.9, (np.mean(inside), np.round(errs, 1))
    assert np.median(errs) < 6.0


def test_a_fix_whose_allowance_for_detours_leaves_no_position_is_degraded(array):
    """Three sensors 160-280 m from a source outside the array: their arrivals fit exactly,
    and once the fit allows for paths round buildings, its ellipse is wider than
    ``max_ellipse_m``: the incident says its position is only the loudest sensor's."""
    centre = array.positions[:, :2].mean(0)
    src = np.array([*(centre + 800.0 * np.array([np.sqrt(0.5), np.sqrt(0.5)])), 1.5])
    rows = np.argsort(np.linalg.norm(array.positions - src, axis=1))[:3]
    evs = shot_events(array, src, T0, np.random.default_rng(3), only=rows)
    fu = Fusion(array, config())
    incs = run(fu, evs)
    assert len(incs) == 1 and incs[0].degraded
    assert incs[0].ellipse.major_m == 150.0 and fu.counters['fix_too_uncertain'] == 1
    loudest = max(evs, key=lambda e: e.level_db_spl).sensor_id
    assert np.allclose(incs[0].position[:2], array.positions[array.index(loudest), :2])
