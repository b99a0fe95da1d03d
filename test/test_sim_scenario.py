"""Scenario files: shipped scenarios load, errors name file, line and field."""
import numpy as np
import pytest

from soft.configio import ConfigError
from soft.paths import config_dir
from soft.sim.scenario import load_scenario
from soft.sim.sources import ALERT_KINDS, NEGATIVE_KINDS

SCEN = config_dir() / 'scenarios'


def test_shipped_scenarios():
    demo = load_scenario(SCEN / 'demo_mixed.yaml')
    assert demo.duration_s == 600 and 30 <= len(demo.incidents) <= 40
    kinds = {i.kind for i in demo.incidents}
    assert set(ALERT_KINDS) <= kinds and len(kinds & set(NEGATIVE_KINDS)) >= 8
    pos = np.array([i.position for i in demo.incidents])
    assert np.all(np.abs(pos[:, :2]) <= 450)
    assert any(i.repeat_count > 1 for i in demo.incidents)
    bg = load_scenario(SCEN / 'background_only.yaml')
    assert bg.duration_s == 600 and not bg.incidents
    smoke = load_scenario(SCEN / 'smoke.yaml')
    assert smoke.duration_s == 60 and len(smoke.incidents) == 6
    assert smoke.incidents[0].emission_times() == [5.0, 5.8]
    assert smoke.atmosphere.temperature_c == 20


def _write(tmp_path, text):
    p = tmp_path / 'scen.yaml'
    p.write_text(text)
    return p


HEAD = 'name: t\nduration_s: 60\nincidents:\n'


def test_unknown_class_names_file_line_field_and_valid_names(tmp_path):
    p = _write(tmp_path, HEAD + '  - time: 1\n    class: gunshoot\n    position: {x: 1, y: 2}\n')
    with pytest.raises(ConfigError) as err:
        load_scenario(p)
    e = err.value
    assert e.path == str(p) and e.line == 5 and e.field == 'incidents[0].class'
    assert 'gunshoot' in str(e) and 'gunshot' in str(e) and 'glass_break' in str(e)


def test_other_errors(tmp_path):
    cases = [
        ('  - time: 1\n    class: gunshot\n    variant: bazooka\n    position: {x: 1, y: 2}\n',
         6, 'incidents[0].variant', 'pistol_9mm'),
        ('  - time: 75\n    class: gunshot\n    position: {x: 1, y: 2}\n',
         4, 'incidents[0].time', 'duration_s'),
        ('  - time: 1\n    class: gunshot\n    position: {x: 1}\n',
         6, 'incidents[0].position', 'x'),
        ('  - time: 1\n    class: gunshot\n    position: {lat: 45.4, lon: 4.39}\n',
         6, 'incidents[0].position', 'to_enu'),
        ('  - time: 50\n    class: gunshot\n    position: {x: 1, y: 2}\n'
         '    repeat: {count: 20, interval_s: 1}\n', 4, 'incidents[0].time', '69'),
        ('  - time: 1\n    kind: siren\n    position: {x: 1, y: 2}\n    levl_db: 3\n',
         7, 'incidents[0].levl_db', 'Extra'),
    ]
    for body, line, field, words in cases:
        with pytest.raises(ConfigError) as err:
            load_scenario(_write(tmp_path, HEAD + body))
        assert (err.value.line, err.value.field) == (line, field), str(err.value)
        assert words in str(err.value)


def test_lat_lon_positions_use_to_enu(tmp_path):
    p = _write(tmp_path, HEAD + '  - time: 1\n    class: scream\n'
               '    position: {lat: 45.44, lon: 4.38, z: 2.0}\n')
    seen = []

    def to_enu(lat, lon, alt):
        seen.append((lat, lon, alt))
        return (10.0 * lon, 100.0 * lat, 0.0)

    s = load_scenario(p, to_enu=to_enu)
    assert seen == [(45.44, 4.38, 0.0)]
    assert s.incidents[0].position == pytest.approx([43.8, 4544.0, 2.0])
