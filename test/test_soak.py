"""The soak figure: police events per sensor-hour counted from the events alone."""
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
