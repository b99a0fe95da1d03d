"""Levels: calibration to dB SPL, noise floor tracking, clipping."""
import numpy as np

from soft.audio import levels

SR = 16000


def _sine(spl_db, sensitivity_dbfs, seconds=1.0, f=1000.0):
    amp = 10 ** ((spl_db - 94.0 + sensitivity_dbfs) / 20)
    return (amp * np.sin(2 * np.pi * f * np.arange(int(SR * seconds)) / SR)).astype(np.float32)


def test_94_db_tone_reads_94_db_spl():
    for sens in (-26.0, -38.0, -12.5):
        x = _sine(94.0, sens)
        assert abs(levels.spl_rms(x, sens) - 94.0) < 0.5
        assert abs(levels.spl_peak(x, sens) - 94.0) < 0.5
    x = _sine(70.0, -26.0, f=440.0)
    assert abs(levels.spl_rms(x, -26.0) - 70.0) < 0.5
    assert abs(levels.dbfs_rms(_sine(94.0 + 26.0, -26.0))) < 0.01    # full-scale sine: 0 dBFS


def test_noise_floor_ignores_short_loud_events_and_block_sizes():
    rng = np.random.default_rng(0)
    frames = 60.0 + rng.normal(0, 2.0, 3000)     # 30 s of 10 ms frame levels, dB
    for start in range(100, 3000, 300):
        frames[start:start + 50] += 30.0         # 0.5 s loud every 3 s
    trackers = []
    for cut in (1, 7, 250):
        t = levels.NoiseFloorTracker(frame_rate=100.0, window_s=10.0, percentile=10.0)
        assert np.isnan(t.floor) and not t.ready
        for i in range(0, len(frames), cut):
            t.update(frames[i:i + cut])
        trackers.append(t.floor)
    assert 57.0 < trackers[0] < 61.0
    assert trackers[0] == trackers[1] == trackers[2]


def test_band_floor_tracks_each_band():
    t = levels.NoiseFloorTracker(100.0, 5.0, 20.0, width=3)
    t.update(np.tile([10.0, 20.0, 30.0], (200, 1)))
    np.testing.assert_allclose(t.floor, [10.0, 20.0, 30.0])


def test_clipping_ratio_over_recent_window():
    meter = levels.ClippingMeter(window=1000)
    x = np.zeros(500, np.float32)
    x[:50] = 1.0
    assert meter.update(x) == 0.1
    for _ in range(4):
        meter.update(np.zeros(500, np.float32))
    assert meter.ratio == 0.0 and meter.total_clipped == 50
