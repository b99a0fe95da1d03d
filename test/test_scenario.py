"""Whole-graph scenario tests: simulator, sensors, shipped model, scored against ground truth.

They run a subset of the district's sensors (those near the incidents) to stay fast; the
benchmarks run all fifty.
"""
from __future__ import annotations

import numpy as np
import pytest

from soft.classify import taxonomy
from soft.demo import simulate_and_score
from soft.graph import messages
from soft.paths import config_dir, default_model

SMOKE = config_dir() / 'scenarios' / 'smoke.yaml'
NS = 1_000_000_000


def _near_sensors(max_m: float) -> list[str]:
    from soft.sim.scenario import load_scenario
    from soft.site import load_site
    from soft.paths import default_site

    site = load_site(default_site())
    scenario = load_scenario(SMOKE, to_enu=site.to_enu)
    pos = site.sensor_positions()
    keep = set()
    for inc in scenario.incidents:
        d = np.hypot(pos[:, 0] - inc.position[0], pos[:, 1] - inc.position[1])
        keep.update(np.flatnonzero(d <= max_m).tolist())
    ids = site.sensor_ids()
    return [ids[i] for i in sorted(keep)]


@pytest.fixture(scope='module')
def smoke_result():
    assert default_model().is_file(), 'the trained model must ship in models/'
    return simulate_and_score(None, SMOKE, None, None, sensors=_near_sensors(160.0))


def test_smoke_scenario_alert_sounds_found_near_their_source(smoke_result):
    """A floor well under the benchmark's 0.95 target (bench/bench_demo.py measures that on
    the whole district): sixteen arrivals are too few for a tight bound."""
    res = smoke_result
    assert not res['run'].host.errors, res['run'].host.logs
    recall, n = res['score'].recall(150.0, 6.0)
    assert n >= 8, 'the smoke scenario must put alert sounds near several sensors'
    assert recall >= 0.7, res['summary']
    # the any-range figure counts every arrival, the near ones among them
    s = res['summary']
    assert s['alert_arrivals_any_range'] >= s['alert_arrivals_150m_snr6'] == n
    right = sum(r['correct_class_sensors'] for r in res['rows']
                if taxonomy.by_id(r['class_id']).police)
    want = right / s['alert_arrivals_any_range']
    assert s['alert_recall_any_range'] == pytest.approx(want, abs=1e-4)
    # the range bands split the audible arrivals without overlap; the first is the near recall
    bands = s['alert_recall_by_range']
    assert [b['from_m'] for b in bands] == [0.0, 150.0, 300.0, 600.0] and bands[-1]['to_m'] is None
    assert bands[0]['arrivals'] == n and bands[0]['recall'] == pytest.approx(recall, abs=1e-4)
    audible = [m for m in res['score'].matches if m.arrival.snr_db >= 6.0
               and taxonomy.by_id(m.arrival.class_id).police]
    assert sum(b['arrivals'] for b in bands) == len(audible) > n
    found = sum(b['recall'] * b['arrivals'] for b in bands if b['arrivals'])
    assert found == pytest.approx(sum(m.correct for m in audible), abs=1e-3)


def test_smoke_scenario_sharp_onsets_are_sub_millisecond(smoke_result):
    """Gunshots and glass start with a front: their onsets must be sub-millisecond. (A gas
    explosion rises over ~2 ms, its onset is read about 1 ms late; it is reported, not
    asserted.)"""
    sc = smoke_result['score']
    errs = np.abs([m.onset_error_s for m in sc.matches
                   if m.event is not None and m.nearest and m.correct
                   and m.arrival.snr_db >= 10.0 and m.arrival.kind in ('gunshot', 'glass_break')])
    assert errs.size >= 5
    assert np.median(errs) <= 0.5e-3, np.sort(errs)[:20]


def test_every_police_incident_has_a_correct_sensor(smoke_result):
    for row in smoke_result['rows']:
        if row['class_id'] in (1, 2, 3, 5) and row['sensors_within_150m'] > 0:
            assert row['correct_class_sensors'] >= 1, row


def test_event_stamps_follow_the_capture_clock_at_epoch_time():
    """On a ROS clock (epoch time) the sensor anchors the scenario at its activation."""
    from soft.audio.features import FeatureConfig
    from soft.classify.inference import Classifier
    from soft.graph.embedded_host import EmbeddedHost
    from soft.graph.sensor_node import SensorComponent
    from soft.sim.from_site import simulation_for_site

    start = 1_764_000_000 * NS
    ids = _near_sensors(120.0)[:3]
    simulation = simulation_for_site(None, SMOKE)
    classifier = Classifier(default_model(), expected=FeatureConfig())
    host = EmbeddedHost(start_ns=start)
    events = []
    host.tap(None, lambda t, m, now: events.append(m)
             if m.__msgtype__ == 'soft/msg/AcousticEvent' else None)
    for sid in ids:
        host.add(SensorComponent, namespace=f'sensor_{sid}', params={'sensor_id': sid},
                 resources={'simulation': simulation, 'classifier': classifier})
    host.run_until(start + 12 * NS)
    gunshot = [e for e in events if e.class_id == 1]
    assert gunshot, 'the 5 s gunshot should be heard by sensors within 120 m'
    shots = [gt for gt in simulation.ground_truth() if gt.kind == 'gunshot']
    for ev in gunshot:
        t = (messages.stamp_ns(ev.header.stamp) - start) / NS
        nearest = min(abs(t - m.arrival_time_s) for gt in shots for m in gt.mics
                      if m.mic_id == ev.sensor_id)
        assert nearest < 0.005, (ev.sensor_id, t)


def test_sharded_run_reports_the_same_events_as_one_process():
    """Sensors split over worker processes (events crossing as CDR) hear exactly what they
    hear in one process, and the fusion still gets every event."""
    ids = _near_sensors(120.0)[:4]
    one = simulate_and_score(None, SMOKE, None, 0.25, sensors=ids, workers=1)
    two = simulate_and_score(None, SMOKE, None, 0.25, sensors=ids, workers=2)
    key = sorted((e.sensor_id, e.onset_ns, e.class_id) for e in one['events'])
    assert key and key == sorted((e.sensor_id, e.onset_ns, e.class_id) for e in two['events'])
    assert len(one['run'].incidents) == len(two['run'].incidents)


def test_each_shot_of_a_volley_is_credited_with_its_own_incident():
    """Four shots from one spot 1 s apart: every shot's span covers the later incidents, and
    only the emission time tells them apart."""
    from soft.evaluation.scenario_score import LocatedIncident, SoundTruth, score_incidents

    gun = taxonomy.by_name('gunshot').id
    shots = [SoundTruth(i, gun, int((100 + i) * 1e9), 0.3, 50.0, -20.0) for i in range(4)]
    incidents = [LocatedIncident(int((100 + i) * 1e9) + 2_000_000, gun, 0.9, 50.0 + i,
                                 -20.0, 3.0, 12, False) for i in (3, 1, 0, 2)]
    got = score_incidents(shots, incidents)
    assert not got.false_incidents
    assert {i: round(inc.x - 50.0) for i, inc in got.located.items()} == {0: 0, 1: 1, 2: 2, 3: 3}
    np.testing.assert_allclose(got.position_error_m(shots), [0, 1, 2, 3])


def test_every_incident_of_a_sound_is_counted_as_its_repeat():
    """One blast located three times (its echoes located again elsewhere) counts three."""
    from soft.evaluation.scenario_score import LocatedIncident, SoundTruth, score_incidents

    boom = taxonomy.by_name('explosion').id
    blast = SoundTruth(0, boom, int(36e9), 1.5, 150.0, -200.0)
    incidents = [LocatedIncident(int(36e9) + k * 300_000_000, boom, 1.0, 150.0 + 40 * k,
                                 -200.0, 1.0, 4, False) for k in range(3)]
    got = score_incidents([blast], incidents)
    assert got.count == {0: 3} and not got.false_incidents
    assert got.located[0].x == 150.0


def test_ellipse_coverage_reads_the_published_ellipse_shape():
    """Two fixes 5 m east of their shots, each with a 8 m x 2 m ellipse: the one lying
    east-west holds the source, the one lying north-south does not."""
    import math

    from soft.evaluation.scenario_score import LocatedIncident, SoundTruth, score_incidents

    gun = taxonomy.by_name('gunshot').id
    shots = [SoundTruth(i, gun, int((100 + 100 * i) * 1e9), 0.3, 0.0, 0.0) for i in range(2)]
    incidents = [LocatedIncident(s.emission_ns, gun, 0.9, 5.0, 0.0, 8.0, 5, False, 2.0, angle)
                 for s, angle in zip(shots, (0.0, math.pi / 2))]
    got = score_incidents(shots, incidents)
    assert got.ellipse_coverage(shots) == 0.5
    assert got.located[0].ellipse_holds(0.0, 0.0) and not got.located[1].ellipse_holds(0.0, 0.0)
