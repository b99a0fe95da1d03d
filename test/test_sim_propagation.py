"""Propagation: exact delays, 1/r spreading, air absorption, ground, buildings."""
import numpy as np
import pytest
import shapely
from scipy import signal

from soft.sim.propagation import (Atmosphere, BuildingMap, PropagationModel,
                                  air_absorption_db_per_m, maekawa_db, propagate,
                                  speed_of_sound)

FS = 16000
FREE = PropagationModel(ground_reflection=0.0, air_absorption=False, diffraction=False)


def _click(n=400, at=100):
    x = np.zeros(n)
    x[at] = 1.0
    x[at + 1] = -0.5
    return x


def _delay_by_xcorr(y, x, up=16):
    """Sub-sample lag of y relative to x: cross-correlation of band-limited 16x upsampled
    copies, refined with a parabola (resolution << 1 us at 16 kHz)."""
    n = len(y) + len(x)
    yu = signal.resample(np.pad(y, (0, n - len(y))), n * up)
    xu = signal.resample(np.pad(x, (0, n - len(x))), n * up)
    c = signal.correlate(yu, xu, mode='full', method='fft')
    k = int(np.argmax(c))
    a, b, d = c[k - 1], c[k], c[k + 1]
    return (k - (len(xu) - 1) + 0.5 * (a - d) / (a - 2 * b + d)) / up


def test_speed_of_sound_and_iso_9613_reference_values():
    assert speed_of_sound(20.0) == pytest.approx(343.2, abs=0.2)
    assert speed_of_sound(0.0) == pytest.approx(331.3, abs=0.01)
    # ISO 9613-1 table 1: 20 degC, 50 % RH: 1 kHz 4.66 dB/km, 4 kHz 29.7 dB/km (approx.)
    a = air_absorption_db_per_m(np.array([1000.0, 4000.0]), 20.0, 50.0) * 1000
    assert a[0] == pytest.approx(4.66, abs=0.05)
    assert a[1] == pytest.approx(29.7, rel=0.03)
    with pytest.raises(ValueError, match='humidity'):
        air_absorption_db_per_m(np.array([1000.0]), 20.0, 150.0)


@pytest.mark.parametrize('distance', [37.3, 251.0, 812.7])
def test_fractional_delay_is_exact(distance):
    atm = Atmosphere(12.0, 70.0)
    x = _click()
    t_emit = 1.23456789
    rec = propagate(x, FS, 100, t_emit, np.array([0.0, 0, 1.5]),
                    np.array([distance, 0, 1.5]), atm, FREE)
    assert rec.arrival_time_s == pytest.approx(t_emit + distance / atm.c, abs=1e-12)
    lag = _delay_by_xcorr(rec.samples.astype(float), x)     # where source sample 0 landed
    t_measured = (rec.start_sample + lag + 100) / FS
    assert abs(t_measured - rec.arrival_time_s) < 5e-6


def _pulse(n=400, at=100, width=3.0):
    """A smooth band-limited pulse: its sampled peak does not depend on sub-sample shifts."""
    return np.exp(-0.5 * ((np.arange(n) - at) / width) ** 2)


@pytest.mark.parametrize('measure', ['peak', 'energy'])
def test_spherical_spreading_6db_per_doubling(measure):
    atm = Atmosphere()
    levels = []
    for d in (20.0, 40.0, 80.0, 160.0, 320.0):
        rec = propagate(_pulse(), FS, 100, 0.0, np.zeros(3), np.array([d, 0, 0]), atm, FREE)
        y = rec.samples.astype(float)
        levels.append(20 * np.log10(rec.peak_pa) if measure == 'peak'
                      else 10 * np.log10(np.sum(y * y)))
    steps = -np.diff(levels)
    assert np.all(np.abs(steps - 6.02) < 1.0), steps


def test_air_absorption_removes_more_highs_far_away():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(8000)
    atm = Atmosphere(20.0, 40.0)
    model = PropagationModel(ground_reflection=0.0)

    def hi_lo_db(d):
        y = propagate(x, FS, 0, 0.0, np.zeros(3), np.array([d, 0, 0]), atm, model).samples
        p = np.abs(np.fft.rfft(y)) ** 2
        f = np.fft.rfftfreq(len(y), 1 / FS)
        return 10 * np.log10(p[(f > 5000) & (f < 7000)].sum() / p[(f > 200) & (f < 500)].sum())

    near, far = hi_lo_db(50.0), hi_lo_db(500.0)
    assert near - far > 20.0     # ~ 0.09 dB/m more at 6 kHz over 450 m
    assert near > -3.0           # hardly any loss at 50 m


def test_ground_reflection_adds_a_delayed_copy():
    atm = Atmosphere()
    model = PropagationModel(ground_reflection=0.9, air_absorption=False, diffraction=False)
    src, mic = np.array([0.0, 0, 1.5]), np.array([10.0, 0, 4.0])
    rec = propagate(_pulse(), FS, 100, 0.0, src, mic, atm, model)
    y = rec.samples.astype(float)
    direct = np.linalg.norm(mic - src)
    image = np.hypot(10.0, 5.5)
    i0 = int(round(rec.arrival_time_s * FS)) - rec.start_sample
    i1 = i0 + int(round((image - direct) / atm.c * FS))
    assert y[i1] == pytest.approx(0.9 / image, rel=0.1)
    assert y[i0] == pytest.approx(1 / direct, rel=0.1)
    off = model.__class__(ground_reflection=0.0, air_absorption=False, diffraction=False)
    y0 = propagate(_pulse(), FS, 100, 0.0, src, mic, atm, off).samples.astype(float)
    assert abs(y0[i1]) < 0.01 / direct


def test_maekawa_is_frequency_dependent_and_capped():
    f = np.array([100.0, 1000.0, 8000.0])
    att = maekawa_db(2.0, f, 343.0)
    assert np.all(np.diff(att) > 0) and att[0] > 4.7 and att[-1] <= 25.0
    assert np.all(maekawa_db(0.0, f, 343.0) == 0)


def test_building_path_over_roof_or_around_corner():
    # a long low wall: over the roof is shorter
    wall = BuildingMap([(shapely.box(-1, -200, 1, 200), 6.0)])
    p = wall.path(np.array([-20.0, 0, 2]), np.array([20.0, 0, 2]))
    over = 2 * np.hypot(19.0, 4.0) + 2.0
    assert p.occluded and p.length_m == pytest.approx(over, rel=1e-6)
    # a narrow tall tower: around the corner is shorter
    tower = BuildingMap([(shapely.box(-2, -3, 2, 3), 60.0)])
    p = tower.path(np.array([-20.0, 0, 2]), np.array([20.0, 0, 2]))
    around = 2 * np.hypot(18.0, 3.0) + 4.0
    assert p.occluded and p.length_m == pytest.approx(around, rel=1e-6)
    # a line of sight passing beside or above is not occluded
    assert not tower.path(np.array([-20.0, 10, 2]), np.array([20.0, 10, 2])).occluded
    assert not wall.path(np.array([-20.0, 0, 30]), np.array([20.0, 0, 30])).occluded
    with pytest.raises(ValueError, match='buildings\\[0\\]'):
        BuildingMap([(shapely.box(0, 0, 1, 1), -3.0)])


def test_building_reduces_level_and_delays_arrival():
    atm = Atmosphere()
    model = PropagationModel(ground_reflection=0.0)
    b = BuildingMap([(shapely.box(40, -15, 60, 15), 20.0)])
    src, mic = np.array([0.0, 0, 1.5]), np.array([100.0, 0, 4.0])
    x = _click()
    clear = propagate(x, FS, 100, 0.0, src, mic, atm, model)
    hidden = propagate(x, FS, 100, 0.0, src, mic, atm, model, buildings=b)
    assert hidden.path.occluded
    assert hidden.peak_pa < clear.peak_pa / 4          # > 12 dB of diffraction loss
    dt = hidden.arrival_time_s - clear.arrival_time_s
    assert dt == pytest.approx(hidden.path.delta_m / atm.c, rel=1e-9) and dt > 1e-3
    # and the rendered waveform really arrives later by that much
    lag_c = _delay_by_xcorr(clear.samples.astype(float), x) + clear.start_sample
    lag_h = _delay_by_xcorr(hidden.samples.astype(float), x) + hidden.start_sample
    assert (lag_h - lag_c) / FS == pytest.approx(dt, abs=3e-5)
