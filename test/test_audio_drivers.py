"""Microphone drivers: files (any rate, channels, broken), devices, simulator pacing.

Audio stays in memory: files are built in BytesIO buffers; only the shared FLAC clips are read
from disk.
"""
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from soft.audio.drivers import NS, AudioInputError, DeviceDriver, FileDriver, SimDriver

CLIP = Path('/work/shared/data/devset/esc10/dog/1-100032-A-0.flac')


def _memfile(x, rate, fmt='WAV', name='clip.wav', subtype=None):
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype)
    buf.seek(0)
    buf.name = name
    return buf


def _drain(drv, step_ns=37_000_000, start=0):
    out, now = [], start
    while True:
        now += step_ns
        got = drv.read(now)
        out += got
        if drv.exhausted and not got:
            return out


@pytest.mark.skipif(not CLIP.is_file(), reason='shared FLAC clips not present')
def test_real_flac_is_read_whole_and_paced_by_now():
    ref, rate = sf.read(CLIP, dtype='float32')
    drv = FileDriver(CLIP, sample_rate=16000, start_ns=10 * NS, block_s=0.1)
    drv.open()
    assert rate == 16000 and drv.read(10 * NS - 1) == []
    first = drv.read(10 * NS + NS // 4)            # samples 0..4000 have time <= now
    assert sum(len(b.samples) for b in first) == 4001
    assert [b.t0_ns for b in first[:2]] == [10 * NS, 10 * NS + NS // 10]
    rest = _drain(drv, start=10 * NS + NS // 4)
    got = np.concatenate([b.samples for b in first + rest])
    np.testing.assert_array_equal(got, ref)
    assert all(len(b.samples) <= 1600 and b.samples.dtype == np.float32 for b in rest)
    drv.close()


def test_stereo_44k_file_is_downmixed_and_resampled_like_one_shot():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((44100 * 2 + 31, 2)) * 0.1).astype(np.float32)
    x[:, 1] *= 0.0                                  # right channel silent: mean halves it
    drv = FileDriver(_memfile(x, 44100, subtype='FLOAT'), sample_rate=16000)
    drv.open()
    assert (drv.file_rate, drv.channels) == (44100, 2)
    got = np.concatenate([b.samples for b in _drain(drv)])
    ref = resample_poly(x.mean(axis=1), 16000, 44100)
    assert len(got) == len(ref)
    np.testing.assert_allclose(got, ref, atol=1e-6)


def test_loop_restarts_the_file_on_a_continuous_timeline():
    x = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    drv = FileDriver(_memfile(x, 16000, subtype='FLOAT'), loop=True)
    drv.open()
    blocks = drv.read(2500 * NS // 16000)
    got = np.concatenate([b.samples for b in blocks])
    assert len(got) == 2501
    np.testing.assert_array_equal(got[1000:2000], x)
    assert not drv.exhausted


def test_broken_files_give_errors_naming_the_file():
    with pytest.raises(AudioInputError, match='nowhere.flac: no such file'):
        FileDriver('/nonexistent/nowhere.flac').open()
    junk = io.BytesIO(b'RIFF\x00\x01garbage that is not audio' * 10)
    junk.name = 'junk.wav'
    with pytest.raises(AudioInputError, match='junk.wav: unreadable or unsupported'):
        FileDriver(junk).open()
    x = (np.random.default_rng(2).standard_normal(16000) * 0.1).astype(np.float32)
    raw = _memfile(x, 16000).getvalue()
    cut = io.BytesIO(raw[:len(raw) // 2])
    cut.name = 'cut.wav'
    with pytest.raises(AudioInputError, match='cut.wav: truncated'):
        FileDriver(cut).open()
    raw = _memfile(x, 16000, 'FLAC').getvalue()
    cut = io.BytesIO(raw[:len(raw) // 2])
    cut.name = 'cut.flac'
    drv = FileDriver(cut)
    drv.open()
    with pytest.raises(AudioInputError, match='cut.flac: (truncated|corrupt)'):
        _drain(drv)


def test_missing_device_error_names_it():
    drv = DeviceDriver('no_such_microphone_42')
    with pytest.raises(AudioInputError, match="'no_such_microphone_42'"):
        drv.open()


class FakeSim:
    """The district simulator's API: a ramp signal and a capture clock 3 ms fast."""

    sample_rate = 16000

    def render(self, mic_index, start_sample, n):
        return (np.arange(start_sample, start_sample + n) % 1000 / 1000.0 * mic_index
                ).astype(np.float32)

    def capture_time_ns(self, mic_index, true_ns):
        return true_ns + 3_000_000


def test_sim_driver_returns_whole_blocks_up_to_now_with_capture_times():
    drv = SimDriver(FakeSim(), mic_index=2, block_s=0.1)
    drv.open()
    assert drv.read(NS // 10 - NS // 16000 - 1) == []
    blocks = drv.read(NS // 10 - NS // 16000)      # the 1600th sample's time
    assert len(blocks) == 1 and blocks[0].t0_ns == 3_000_000
    blocks = drv.read(NS // 2)
    assert [b.t0_ns for b in blocks] == [k * NS // 10 + 3_000_000 for k in (1, 2, 3, 4)]
    assert blocks[0].samples[0] == pytest.approx(1600 % 1000 / 1000.0 * 2)
    drv.close()
