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
    s = t.summary(hours_each=2.0)
    assert s['sensor_hours'] == 6.0 and s['police_events'] == 3
    assert s['police_per_sensor_hour'] == pytest.approx(0.5)
    lo, hi = s['police_per_sensor_hour_ci95']
    assert lo == pytest.approx(0.103, abs=0.002) and hi == pytest.approx(1.461, abs=0.002)
    assert s['per_sensor']['s02'] == {'police_events': 0, 'events_per_class': {'drill': 1},
                                      'police_per_hour': 0.0}
    assert s['per_sensor']['s03']['police_events'] == 0        # silent sensors count
    assert t.lines(0.0) == ['listened 0 h: no rate']


def test_soft_run_ends_with_the_soak_figure(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = 0.01 * rng.standard_normal(16000 * 4).astype(np.float32)
    sf.write(str(tmp_path / 'street.flac'), x, 16000)
    code = main(['run', str(SITE), '--driver', 'file',
                 '--file', str(tmp_path / 'street.flac'), '--sensor', 's01', '--sensor', 's02',
                 '--seconds', '1.5'])
    assert code == 0
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if 'sensor-hours' in ln)
    hours = float(line.split('listened ')[1].split()[0])
    assert hours == pytest.approx(2 * 1.5 / 3600, abs=0.0006)
    assert '(2 sensors)' in line and 's01: ' in err and 's02: ' in err
