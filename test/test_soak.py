"""The soak figure: police events per sensor-hour counted from the events alone."""
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soft.classify import taxonomy
from soft.cli import main
from soft.evaluation.soak import EventTally

GUNSHOT = taxonomy.by_name('gunshot').id
DRILL = taxonomy.by_name('drill').id
SITE = Path(__file__).resolve().parents[1] / 'config' / 'sites' / 'saint_etienne_tarentaize.yaml'


def test_tally_counts_police_events_per_sensor_hour_with_an_exact_interval():
    t = EventTally(['s01', 's02', 's03'])
    for _ in range(3):
        t.add('s01', GUNSHOT)
    t.add('s02', DRILL)                     # a nuisance: counted, not a police event
    s = t.summary({'s01': 2.0, 's02': 2.5, 's03': 1.5})
    assert s['sensor_hours'] == 6.0 and s['police_events'] == 3
    assert s['police_per_sensor_hour'] == pytest.approx(0.5)
    lo, hi = s['police_per_sensor_hour_ci95']
    assert lo == pytest.approx(0.103, abs=0.002) and hi == pytest.approx(1.461, abs=0.002)
    assert s['per_sensor']['s02'] == {'hours': 2.5, 'police_events': 0,
                                      'events_per_class': {'drill': 1}, 'police_per_hour': 0.0}
    assert s['per_sensor']['s01']['police_per_hour'] == pytest.approx(1.5)
    assert s['per_sensor']['s03']['police_events'] == 0        # quiet sensors count
    dead = t.summary({'s01': 2.0, 's02': 2.5})                 # s03's microphone never worked
    assert dead['sensor_hours'] == 4.5 and dead['per_sensor']['s03']['police_per_hour'] is None
    assert 's03: 0 h heard, 0 police events (heard nothing)' in '\n'.join(
        t.lines({'s01': 2.0, 's02': 2.5}))
    assert t.lines({}) == ['listened 0 h: no rate']


def test_soft_run_ends_with_the_soak_figure(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = 0.01 * rng.standard_normal(int(16000 * 0.8)).astype(np.float32)
    sf.write(str(tmp_path / 'street.flac'), x, 16000)
    code = main(['run', str(SITE), '--driver', 'file',
                 '--file', str(tmp_path / 'street.flac'), '--sensor', 's01', '--sensor', 's02',
                 '--seconds', '1.5'])
    assert code == 0
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if 'sensor-hours' in ln)
    assert '(2 sensors)' in line
    # each sensor heard the 0.8 s file, not the 1.5 s the run lasted
    for sid in ('s01', 's02'):
        heard = next(ln for ln in err.splitlines() if f'{sid}: ' in ln)
        assert float(heard.split(f'{sid}: ')[1].split()[0]) == pytest.approx(0.8 / 3600,
                                                                             abs=0.0001)
    assert float(line.split('listened ')[1].split()[0]) == pytest.approx(2 * 0.8 / 3600,
                                                                         abs=0.0002)


def _event(sensor: str, t_s: float, class_id: int):
    from soft.graph import messages
    cls = messages.msg_class('soft/msg/AcousticEvent')
    return cls(header=messages.header(int(t_s * 1e9), sensor), sensor_id=sensor, seq=1,
               class_id=class_id, confidence=0.934, level_db_spl=90.0, noise_floor_db_spl=50.0,
               onset_uncertainty_s=0.0005, duration_s=0.3, sustained=False,
               has_direction=False, azimuth_rad=0.0, elevation_rad=0.0,
               direction_uncertainty_rad=0.0)


def _diag(sensor: str, t_s: float, heard_s: float):
    from soft.graph import messages
    return messages.diagnostic_array(int(t_s * 1e9), [
        (0, f'soft/{sensor}/audio', 'ok', sensor, {'heard_s': f'{heard_s:.3f}', 'blocks': '1'})])


def test_soak_from_a_gateway_rosbag_counts_the_hours_each_sensor_heard(tmp_path, capsys):
    import json

    from rosbags.rosbag2 import Writer

    from soft.graph import messages
    from soft.graph.registry import EVENTS_TOPIC

    bag = tmp_path / 'soak'
    store = messages.typestore()
    with Writer(bag, version=8) as w:
        ev = w.add_connection(EVENTS_TOPIC, 'soft/msg/AcousticEvent', typestore=store)
        dg = w.add_connection('/diagnostics', 'diagnostic_msgs/msg/DiagnosticArray',
                              typestore=store)
        other = w.add_connection('/rosout_like', 'std_msgs/msg/String', typestore=store)
        t0 = 1_800_000_000.0
        rows = [(ev, _event('s01', t0 + 100, GUNSHOT)), (ev, _event('s01', t0 + 900, GUNSHOT)),
                (ev, _event('s02', t0 + 500, DRILL)), (ev, _event('s03', t0 + 700, GUNSHOT)),
                (other, messages.msg_class('std_msgs/msg/String')(data='x'))]
        # s01 hears 3600 s, restarts (its counter falls back) and hears 1800 s more;
        # s02 hears 1800 s; s03 publishes no diagnostics (the bag's span is used)
        for t, sid, h in ((t0, 's01', 0.0), (t0 + 3600, 's01', 3600.0), (t0 + 3700, 's01', 5.0),
                          (t0 + 5400, 's01', 1800.0), (t0, 's02', 0.0),
                          (t0 + 1800, 's02', 1800.0)):
            rows.append((dg, _diag(sid, t, h)))
        for conn, msg in sorted(rows, key=lambda r: _stamp(r[1])):
            w.write(conn, _stamp(msg), messages.serialize(msg))
    out = tmp_path / 'soak.json'
    assert main(['soak', str(bag), '--json', str(out)]) == 0
    text = capsys.readouterr().out
    s = json.loads(out.read_text())
    span_h = s['span_h']
    assert span_h == pytest.approx(5400 / 3600, abs=1e-6)
    assert s['per_sensor']['s01']['hours'] == pytest.approx(1.5)
    assert s['per_sensor']['s02']['hours'] == pytest.approx(0.5)
    assert s['hours_from_bag_span'] == ['s03'] and 'no heard_s diagnostics for s03' in text
    assert s['police_events'] == 3 and s['sensor_hours'] == pytest.approx(2.0 + span_h)
    assert s['per_sensor']['s01']['police_per_hour'] == pytest.approx(2 / 1.5)
    assert s['messages'] == {'events': 4, 'diagnostics': 6}
    assert '  s01 1800000100.000 gunshot 0.93' in text
    # operators confirmed s03's shot; a budget of 0.3 per sensor-hour over 3.5 h allows one
    (tmp_path / 'real.csv').write_text('sensor_id,time_s\ns03,1800000700.4\n')
    assert main(['soak', str(bag), '--budget', '0.3', '--confirmed', str(tmp_path / 'real.csv'),
                 '--json', str(out)]) == 0
    assert "2 false police events (1 confirmed real left out); a budget of 0.3 per " \
        "sensor-hour allows 1: class_thresholds: 'gunshot=0.94'" in capsys.readouterr().out
    prop = json.loads(out.read_text())['proposal']
    assert prop['class_thresholds'] == {'gunshot': 0.94} and prop['met']
    (tmp_path / 'bad.csv').write_text('s03;1800000700\n')
    assert main(['soak', str(bag), '--confirmed', str(tmp_path / 'bad.csv')]) == 2
    assert 'bad.csv:1: expected sensor_id,time_s' in capsys.readouterr().err
    assert main(['soak', str(tmp_path / 'nowhere')]) == 2
    assert 'rosbag not found' in capsys.readouterr().err


def _stamp(msg) -> int:
    from soft.graph import messages
    return messages.stamp_ns(msg.header.stamp) if hasattr(msg, 'header') else 1_800_000_000 * 10**9


def test_proposed_thresholds_drop_the_least_confident_false_events_first():
    from soft.evaluation.soak import propose_thresholds

    events = [('gunshot', 0.62), ('gunshot', 0.71), ('explosion', 0.97), ('explosion', 0.80),
              ('glass_break', 1.0), ('gunshot', 0.93)]
    prop, how = propose_thresholds(events, sensor_hours=3.0, budget_per_hour=1.0)
    # 3 may stay: 0.62, 0.71 and 0.80 go; gunshot just above 0.71, explosion above 0.80
    assert prop == {'gunshot': 0.72, 'explosion': 0.81} and how['met'] and how['kept'] == 3
    prop, how = propose_thresholds(events, sensor_hours=0.5, budget_per_hour=1.0)
    assert prop == {'gunshot': 0.94, 'explosion': 0.98}
    assert not how['met'] and how['kept'] == 1         # the glass break at 1.00 stays
    assert propose_thresholds(events, 10.0, 1.0)[0] == {}


def test_a_sites_class_thresholds_reach_the_detector_and_bad_entries_are_named(tmp_path):
    import dataclasses

    from onnx_fixtures import band_detector_weights, make_test_model

    from soft.audio.detector import parse_class_thresholds
    from soft.audio.features import FeatureConfig
    from soft.classify.inference import Classifier
    from soft.evaluation import clip_eval

    assert parse_class_thresholds(' gunshot=0.95, explosion = 0.98 ') == {
        GUNSHOT: 0.95, taxonomy.by_name('explosion').id: 0.98}
    assert parse_class_thresholds('') == {}
    for bad, words in (('gunshoot=0.9', "unknown class 'gunshoot'"),
                       ('gunshot', 'expected class=threshold'),
                       ('gunshot=high', "'high' is not a number"),
                       ('gunshot=1.5', 'must be in (0, 1]'),
                       ('background=0.5', 'background has no threshold')):
        with pytest.raises(ValueError, match=re.escape(words)):
            parse_class_thresholds(bad)
    cfg = FeatureConfig()
    w, b = band_detector_weights(cfg, GUNSHOT, 2000, 3000)
    clf = Classifier(make_test_model(tmp_path / 'band.onnx', cfg, w, b))
    t = np.arange(int(0.6 * 16000)) / 16000
    burst = 0.02 * sum(np.sin(2 * np.pi * f * t) for f in (2200, 2500, 2800)) * np.exp(-t / .4)
    x = 0.003 * np.random.default_rng(0).standard_normal(16000 * 40)
    for k in range(4):
        x[(5 + 10 * k) * 16000:(5 + 10 * k) * 16000 + t.size] += burst
    x = x.astype(np.float32)
    dc, _ = clip_eval.deployed_detector_config()
    dets, _ = clip_eval.run_stream(x, clf, dc, 16000)
    confs = [d.confidence for d in dets if d.class_id == GUNSHOT]
    assert len(confs) == 4 and max(confs) < 0.95            # the model's 0.5 lets them out
    site = dataclasses.replace(dc, class_thresholds=f'gunshot={max(confs) + 0.01:.2f}')
    assert clip_eval.run_stream(x, clf, site, 16000)[0] == []


def test_soft_run_and_soft_evaluate_read_the_sites_class_thresholds(tmp_path, monkeypatch):
    import soft.paths
    from soft.evaluation.clip_eval import deployed_detector_config, deployed_sensor_params

    (tmp_path / 'params').mkdir()
    yaml_path = tmp_path / 'params' / 'sensor.yaml'
    yaml_path.write_text("/**:\n  ros__parameters:\n    min_snr_db: 9.0\n"
                         "    class_thresholds: 'gunshot=0.97'\n")
    monkeypatch.setattr(soft.paths, 'config_dir', lambda: tmp_path)
    values, source = deployed_sensor_params()
    assert values['class_thresholds'] == 'gunshot=0.97' and values['min_snr_db'] == 9.0
    assert str(yaml_path) in source
    cfg, info = deployed_detector_config()
    assert cfg.class_thresholds == 'gunshot=0.97' and info['class_thresholds'] == 'gunshot=0.97'
    yaml_path.write_text("/**:\n  ros__parameters:\n    class_thresholds: 'gunshot=2'\n")
    with pytest.raises(ValueError, match="class_thresholds entry 'gunshot=2'"):
        deployed_sensor_params()
