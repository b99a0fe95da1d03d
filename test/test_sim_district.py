"""The district simulation end to end: arrival times, blocks, determinism, ground truth."""
import json

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from soft.paths import config_dir
from soft.sim.district import DistrictSimulation, SimMic
from soft.sim.propagation import Atmosphere, PropagationModel
from soft.sim.scenario import Incident, Scenario, load_scenario

FS = 16000


def _scenario(kind='bag_pop', variant='balloon', pos=(0.0, 0.0, 1.5), t=2.0, dur=6.0):
    return Scenario('t', dur, seed=3, atmosphere=Atmosphere(18.0, 55.0),
                    incidents=[Incident(0, t, kind, variant, np.array(pos))])


def _mics(*xy, background='park', self_noise=20.0):
    return [SimMic(f'm{i}', np.array([x, y, 4.0]), background=background,
                   self_noise_dba=self_noise)
            for i, (x, y) in enumerate(xy)]


def test_ground_truth_arrival_matches_rendered_onset():
    """A click 420 m away: the arrival time in the truth is where the audio has it.

    Air absorption is a causal (minimum-phase) low-pass that delays the energy a little,
    so the exactness of the delay itself is checked without it.
    """
    sim = DistrictSimulation(_mics((420.0, 0.0), (60.0, 80.0)), _scenario(), seed=1,
                             propagation=PropagationModel(air_absorption=False))
    truth = sim.ground_truth()
    assert len(truth) == 1
    src = sim._emissions[0].source.samples.astype(float)
    onset = sim._emissions[0].source.onset_index
    for mi, m in enumerate(truth[0].mics):
        x = np.concatenate([sim.render(mi, k * 1600, 1600) for k in range(40)]).astype(float)
        x /= sim.mics[mi].pa_to_fs
        # locate the source in the audio by up-sampled cross-correlation (ground reflection
        # and absorption blur it, but the direct path dominates the first lobe)
        i0 = int(m.arrival_time_s * FS) - 400
        seg = x[i0:i0 + 1200]
        up = 16
        from scipy import signal
        su = signal.resample(seg, len(seg) * up)
        ru = signal.resample(np.pad(src, (0, len(seg) - len(src))), len(seg) * up)
        c = signal.correlate(su, ru, mode='full', method='fft')
        k = int(np.argmax(c)) - (len(ru) - 1)
        t_src0 = (i0 + k / up) / FS
        err = t_src0 + onset / FS - m.arrival_time_s
        assert abs(err) < 50e-6, (m.mic_id, err)
        assert m.arrival_time_s == pytest.approx(2.0 + m.distance_m / sim.atm.c, abs=1e-8)


def test_render_is_block_size_independent_and_deterministic():
    scen = load_scenario(config_dir() / 'scenarios' / 'smoke.yaml')
    mics = _mics((0.0, 0.0), (120.0, 40.0), background='busy_street')

    def run(block, seed=0):
        sim = DistrictSimulation(mics, scen, seed=seed)
        n = 20 * FS
        return np.concatenate([sim.render(1, s, min(block, n - s)) for s in range(0, n, block)])

    a, b = run(1600), run(16000)
    assert a.dtype == np.float32 and a.shape == (20 * FS,)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, run(16000, seed=1))


def test_building_attenuates_and_delays_in_the_truth():
    wall = [(shapely.box(150, -30, 170, 30), 18.0)]
    mics = _mics((300.0, 0.0), (0.0, 300.0))   # same distance; the first is behind the block
    scen = _scenario('gunshot', 'pistol_9mm')
    t_open = DistrictSimulation(mics, scen).ground_truth()[0]
    t_wall = DistrictSimulation(mics, scen, buildings=wall).ground_truth()[0]
    hid, free = t_wall.mics[0], t_wall.mics[1]
    assert hid.occluded and not free.occluded
    assert hid.arrival_time_s > t_open.mics[0].arrival_time_s + 1e-4
    assert hid.level_db_spl < free.level_db_spl - 10
    assert free.level_db_spl == pytest.approx(t_open.mics[1].level_db_spl, abs=0.01)


def test_repeats_clock_clipping_and_ground_truth_files(tmp_path):
    inc = Incident(0, 1.0, 'gunshot', 'rifle_762', np.array([5.0, 0.0, 1.5]), level_db=165.0,
                   repeat_count=3, repeat_interval_s=0.5)
    scen = Scenario('r', 4.0, incidents=[inc])
    mics = [SimMic('near', np.array([0.0, 0, 4]), clock_offset_s=0.002, clock_jitter_s=1e-6),
            SimMic('far', np.array([800.0, 0, 4]), sensitivity_dbfs=-26.0)]
    sim = DistrictSimulation(mics, scen, seed=2)
    truth = sim.ground_truth()
    assert [t.repeat for t in truth] == [0, 1, 2]
    assert {t.variant for t in truth} == {'rifle_762'}
    assert [t.emission_time_s for t in truth] == [1.0, 1.5, 2.0]
    x = sim.render(0, 0, 3 * FS)
    assert np.max(np.abs(x)) == 1.0        # 165 dB at 5 m clips the converter
    ns = sim.capture_time_ns(0, 10**9)
    assert abs(ns - (10**9 + 2_000_000)) < 10_000
    assert ns == sim.capture_time_ns(0, 10**9)
    assert sim.capture_time_ns(1, 5) == 5
    with pytest.raises(ValueError, match='increasing order'):
        sim.render(0, 0, 10)
    assert sim.mic_index('far') == 1
    with pytest.raises(KeyError):
        sim.mic_index('nope')
    jpath, cpath = sim.write_ground_truth(tmp_path / 'gt.json')
    doc = json.loads(jpath.read_text())
    assert len(doc['sounds']) == 3 and doc['sounds'][0]['mics'][1]['mic_id'] == 'far'
    rows = cpath.read_text().strip().splitlines()
    assert len(rows) == 1 + 3 * 2 and rows[0].startswith('incident,repeat,kind')


def test_snr_falls_with_distance_and_faint_mics_are_skipped():
    scen = _scenario('aerosol_spray', 'long_spray')
    mics = _mics((3.0, 0.0), (60.0, 0.0), (900.0, 0.0), background='quiet_street',
                 self_noise=35.0)
    t = DistrictSimulation(mics, scen).ground_truth()[0]
    s = [m.snr_db for m in t.mics]
    assert s[0] > s[1] > s[2]
    assert t.mics[0].rendered and not t.mics[2].rendered


def test_filtered_sound_never_precedes_its_arrival():
    """Absorption and diffraction are causal: no energy before the ground-truth arrival."""
    wall = Polygon([(150.0, -30.0), (170.0, -30.0), (170.0, 30.0), (150.0, 30.0)])
    sim = DistrictSimulation(_mics((300.0, 0.0), (600.0, 40.0)),
                             _scenario('explosion', 'gas_explosion'), [(wall, 20.0)], seed=2)
    truth = sim.ground_truth()[0]
    for mi, m in enumerate(truth.mics):
        rec = sim._received(0, mi)
        y = np.abs(rec.samples.astype(float))
        first = int(np.argmax(y > 1e-3 * y.max()))
        lead_s = m.arrival_time_s - (rec.start_sample + first) / FS
        assert lead_s < 1e-3, (m.mic_id, m.occluded, lead_s)
    assert truth.mics[0].occluded
