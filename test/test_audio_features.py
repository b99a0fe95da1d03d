"""Log-mel features: streaming equals offline, filterbank and metadata round trip."""
import numpy as np
import pytest

from soft.audio.features import (FeatureConfig, FeatureConfigError, LogMelStream,
                                 frame_mean_square, logmel, mel_filterbank, n_frames)

CFG = FeatureConfig()


def test_stream_equals_offline_for_any_block_sizes():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(16000 * 3 + 123) * 0.05).astype(np.float32)
    x[20000:20400] += np.sin(np.arange(400) * 0.3).astype(np.float32)
    ref = logmel(x, CFG)
    assert ref.shape == (64, n_frames(len(x), CFG)) and ref.dtype == np.float32
    for sizes in ([1600], [1, 7, 159, 161, 400, 4000], [37]):
        stream = LogMelStream(CFG)
        parts, pos, i = [], 0, 0
        while pos < len(x):
            n = sizes[i % len(sizes)]
            parts.append(stream.push(x[pos:pos + n]))
            pos += n
            i += 1
        got = np.concatenate(parts, axis=1)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)
        assert stream.frames_done == ref.shape[1]


def test_stream_power_matches_offline_and_reset_restarts():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(5000) * 0.1).astype(np.float32)
    stream = LogMelStream(CFG)
    _, p1 = stream.push_with_power(x[:2500])
    _, p2 = stream.push_with_power(x[2500:])
    np.testing.assert_allclose(np.concatenate((p1, p2)), frame_mean_square(x, CFG), rtol=1e-5)
    stream.reset()
    np.testing.assert_allclose(stream.push(x), logmel(x, CFG), rtol=1e-5, atol=1e-4)


def test_sine_peaks_in_the_mel_band_around_its_frequency():
    fb = mel_filterbank(CFG)
    hz = np.linspace(0, 8000, fb.shape[0])
    centres = (fb * hz[:, None]).sum(0) / fb.sum(0)
    assert np.all(np.diff(centres) > 0) and np.all(fb.max(0) > 0)
    t = np.arange(16000) / 16000
    spec = logmel(0.5 * np.sin(2 * np.pi * 1000 * t), CFG).mean(axis=1)
    assert abs(centres[int(np.argmax(spec))] - 1000) < 60
    # Natural log of the power: a 20 dB louder signal adds ln(100) everywhere.
    loud = logmel(5.0 * np.sin(2 * np.pi * 1000 * t), CFG).mean(axis=1)
    assert abs(loud[int(np.argmax(spec))] - spec.max() - np.log(100)) < 1e-3


def test_metadata_round_trip_and_errors():
    cfg = FeatureConfig(n_mels=40, fmax=7000.0)
    meta = cfg.to_metadata()
    assert all(k.startswith('soft.feature.') for k in meta)
    assert FeatureConfig.from_metadata(meta) == cfg
    broken = dict(meta)
    del broken['soft.feature.hop_length']
    with pytest.raises(FeatureConfigError, match='soft.feature.hop_length'):
        FeatureConfig.from_metadata(broken)
    broken = dict(meta, **{'soft.feature.n_mels': 'sixty'})
    with pytest.raises(FeatureConfigError, match="soft.feature.n_mels.*'sixty'"):
        FeatureConfig.from_metadata(broken)
    assert cfg.mismatches(CFG)[0] == ('soft.feature.n_mels', '40', '64')
    with pytest.raises(FeatureConfigError, match='fmax'):
        FeatureConfig(fmax=9000.0)
