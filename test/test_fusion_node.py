"""The fusion component on the embedded host: AcousticEvent messages in, Incident messages out."""
from __future__ import annotations

import numpy as np
import pytest

from soft.graph import messages
from soft.graph.component import ParamError
from soft.graph.embedded_host import EmbeddedHost
from soft.graph.fusion_node import FusionComponent
from soft.locate.sensor_array import SensorArray
from soft.paths import default_site
from soft.sim.propagation import speed_of_sound
from soft.site import load_site

NS = 1_000_000_000
EVENTS = 'soft/events'


@pytest.fixture(scope='module')
def site():
    return load_site(default_site())


def event(sensor_id, onset_ns, class_id=1, confidence=0.9, level=95.0, sigma=2e-4, **kw):
    cls = messages.msg_class('soft/msg/AcousticEvent')
    fields = dict(header=messages.header(onset_ns, f'sensor_{sensor_id}'), sensor_id=sensor_id,
                  seq=1, class_id=class_id, confidence=confidence, level_db_spl=level,
                  noise_floor_db_spl=50.0, onset_uncertainty_s=sigma, duration_s=0.1,
                  sustained=False, has_direction=False, azimuth_rad=0.0, elevation_rad=0.0,
                  direction_uncertainty_rad=0.0)
    fields.update(kw)
    return cls(**fields)


def graph(site, **params):
    host = EmbeddedHost()
    comp = host.add(FusionComponent, namespace='soft', params=params, remap={'events': EVENTS},
                    resources={'site': site})
    out = []
    host.tap('soft/incidents', lambda t, m, now: out.append(m))
    return host, comp, out


def shot(site, src, emission_ns, rng, radius=450.0):
    arr = SensorArray.from_site(site)
    c = speed_of_sound(site.config.air_temperature_c)
    d = np.linalg.norm(arr.positions - src, axis=1)
    return sorted((emission_ns + int((d[j] / c + rng.normal(0, 2e-4)) * NS), arr.ids[j],
                   130.0 - 20 * np.log10(d[j])) for j in np.flatnonzero(d < radius))


def play(host, evs, end_ns):
    """Inject events at their onset time, the host's timers running in between."""
    for onset, sid, level in evs:
        host.run_until(onset + NS // 20)      # delivered 50 ms after the onset
        host.inject(EVENTS, event(sid, onset, level=level))
    host.run_until(end_ns)


def test_a_shot_becomes_a_located_incident_message(site):
    host, comp, out = graph(site)
    rng = np.random.default_rng(1)
    src = np.array([-140.0, 60.0, 1.5])
    evs = shot(site, src, 20 * NS, rng)
    play(host, evs, 30 * NS)
    assert len(out) == 1 and not host.errors
    inc = out[0]
    assert inc.__msgtype__ == 'soft/msg/Incident'
    assert inc.header.frame_id == 'map'
    assert abs(messages.stamp_ns(inc.header.stamp) - 20 * NS) < NS // 1000
    assert np.hypot(inc.position.x - src[0], inc.position.y - src[1]) < 0.5
    lat, lon, alt = site.to_wgs84(inc.position.x, inc.position.y, inc.position.z)
    assert inc.latitude_deg == pytest.approx(float(lat)) and \
        inc.longitude_deg == pytest.approx(float(lon))
    assert inc.class_id == 1 and not inc.position_degraded
    assert 0.0 < inc.ellipse_minor_m <= inc.ellipse_major_m < 5.0
    assert len(inc.sensor_ids) == len(evs) == len(inc.residuals_s)
    assert np.all(np.abs(inc.residuals_s) < 2e-3)
    # The CDR round trip a bag or a ROS subscriber would see.
    back = messages.deserialize(messages.serialize(inc), 'soft/msg/Incident')
    assert back.incident_id == inc.incident_id
    assert comp.diagnostics(host.now)['located'] == '1'


def test_bad_input_is_refused_naming_the_field_and_the_graph_goes_on(site):
    host, comp, out = graph(site)
    host.run_until(100 * NS)
    now = host.now
    bad = [event('s01', now, confidence=float('nan')),
           event('s01', now, class_id=40),
           event('s01', now, class_id=0),
           event('nope', now, header=messages.header(now, 'sensor_nope')),
           event('s01', now + 3600 * NS),
           event('s01', now - 90 * NS),
           event('s01', now, sigma=-1.0),
           event('s01', now, header=messages.header(now, 'sensor_s02'))]
    for msg in bad:
        host.inject(EVENTS, msg)
    assert sum(host.errors.values()) == len(bad) == comp.rejected
    text = ' '.join(t for _, _, _, t in host.logs)
    for field in ('confidence', 'class_id', 'sensor_id', 'header.stamp',
                  'onset_uncertainty_s', 'header.frame_id'):
        assert field in text
    # The component still works.
    rng = np.random.default_rng(2)
    play(host, shot(site, np.array([50.0, 50.0, 1.5]), 102 * NS, rng), 110 * NS)
    assert len(out) == 1 and not out[0].position_degraded


def test_diagnostics_report_clock_offsets(site):
    host, comp, out = graph(site, diagnostics_period_s=1.0)
    diags = []
    host.tap('diagnostics', lambda t, m, now: diags.append(m))
    rng = np.random.default_rng(3)
    evs = []
    for k in range(6):
        evs += shot(site, np.array([*rng.uniform(-300, 300, 2), 1.5]), (5 + 3 * k) * NS, rng)
    play(host, sorted(evs), 40 * NS)
    assert len(out) == 6
    names = {s.name for d in diags for s in d.status}
    assert {'soft/fusion', 'soft/fusion/clock_offsets'} <= names
    clock = [s for s in diags[-1].status if s.name == 'soft/fusion/clock_offsets'][0]
    assert {kv.key for kv in clock.values} == set(site.sensor_ids())
    assert any('fixes' in kv.value and not kv.value.startswith('+0.0') for kv in clock.values)


def test_parameters_are_validated():
    with pytest.raises(ParamError, match='max_range_m'):
        FusionComponent.validate_params({'max_range_m': 1.0})
    with pytest.raises(ParamError, match='nonsense'):
        FusionComponent.validate_params({'nonsense': 1})
    for p in FusionComponent.params:
        assert p.description


def test_the_shipped_site_is_loaded_when_none_is_shared():
    host = EmbeddedHost()
    comp = host.add(FusionComponent, remap={'events': EVENTS})
    assert len(comp.fusion.array) == 50
    assert comp.speed_of_sound == pytest.approx(speed_of_sound(14.0))
