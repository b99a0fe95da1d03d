"""Onset accuracy at 10 dB SNR on synthetic sounds with known sub-sample onsets."""
import numpy as np
import pytest

from soft.audio.features import FeatureConfig, logmel
from soft.audio.levels import NoiseFloorTracker
from soft.audio.onsets import OnsetCandidates, OnsetConfig, coarse_band_db, refine_onset

SR = 16000
CFG = FeatureConfig()


def _noise(rng, n, kind):
    w = rng.standard_normal(n)
    if kind == 'white':
        return w
    spec = np.fft.rfft(w)
    k = np.arange(len(spec), dtype=float)
    k[0] = 1.0
    return np.fft.irfft(spec / np.sqrt(k), n)           # pink (1/f), like traffic


def _sound(rng, kind, n, onset):
    """A sound starting at the fractional sample ``onset`` (evaluated on the exact time)."""
    t = (np.arange(n) - onset) / SR
    on = t >= 0
    tp = np.maximum(t, 0.0)
    if kind == 'impulse':                # gunshot-like: broadband, 5 ms decay
        return on * np.exp(-tp / 0.005) * rng.standard_normal(n)
    if kind == 'burst':                  # door slam / crash: 50 ms decaying noise
        return on * np.exp(-tp / 0.05) * rng.standard_normal(n)
    if kind == 'glass':                  # ringing partials
        return on * np.exp(-tp / 0.02) * sum(np.sin(2 * np.pi * f * tp + 1.0)
                                             for f in (2500, 3700, 5100))
    if kind == 'chirp':                  # 500 Hz -> 4 kHz sweep, constant amplitude
        return on * (tp < 0.2) * np.sin(2 * np.pi * (500 * tp + 8750 * tp ** 2) + 0.5)
    if kind == 'slow':                   # 150 ms linear fade-in of noise
        return on * np.minimum(tp / 0.15, 1.0) * rng.standard_normal(n)
    raise ValueError(kind)


def _trial(rng, kind, noise_kind, snr_db=10.0):
    n = int(0.3 * SR)
    onset = 0.15 * SR + rng.uniform(0, 1)
    s = _sound(rng, kind, n, onset)
    first = int(np.ceil(onset))
    # SNR: the sound's power over its first 20 ms against the noise power.
    p_s = np.mean(s[first:first + int(0.02 * SR)] ** 2)
    noise = _noise(rng, n, noise_kind)
    noise *= np.sqrt(p_s / 10 ** (snr_db / 10) / np.mean(noise ** 2))
    x = s + noise
    # The window the detector would analyse: starts 20..45 ms before the onset.
    start = first - int(rng.uniform(0.02, 0.045) * SR)
    r = refine_onset(x[start:start + int(0.075 * SR)], SR)
    return (start + r.index - onset) / SR, r


@pytest.mark.parametrize('noise_kind', ['white', 'pink'])
@pytest.mark.parametrize('kind', ['impulse', 'burst', 'glass', 'chirp'])
def test_median_onset_error_below_half_a_millisecond_at_10_db(kind, noise_kind):
    rng = np.random.default_rng(abs(hash((kind, noise_kind))) % 2 ** 32)
    results = [_trial(rng, kind, noise_kind) for _ in range(40)]
    errors = np.abs([e for e, _ in results])
    median_ms = float(np.median(errors)) * 1e3
    print(f'{kind}/{noise_kind}: median {median_ms:.3f} ms, '
          f'p90 {np.percentile(errors, 90) * 1e3:.3f} ms')
    assert median_ms <= 0.5
    assert sum(r.ok for _, r in results) >= 36
    # The reported sigma is an honest order of magnitude of the error (not 10x off).
    sigmas = np.array([r.sigma_samples for _, r in results]) / SR
    assert np.median(sigmas) < 1e-3
    assert np.median(errors) < 10 * np.median(sigmas)


def test_slow_sound_gets_a_sensible_onset():
    rng = np.random.default_rng(7)
    errors = [_trial(rng, 'slow', 'white', snr_db=10.0)[0] for _ in range(20)]
    # Somewhere early in the 150 ms fade-in, never before the sound.
    assert -0.003 < np.median(errors) < 0.05


def test_pure_noise_window_is_flagged_not_ok():
    rng = np.random.default_rng(8)
    oks = [refine_onset(rng.standard_normal(1200), SR).ok for _ in range(20)]
    assert sum(oks) <= 4


def _sparse_bursts(onsets):
    """Quiet noise with a door-slam-like burst at each of ``onsets`` (s), 20 s long."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal(SR * 20) * 0.01
    for t in onsets:
        i = int(t * SR)
        x[i:i + 4000] += _sound(rng, 'burst', 4000, 0.0) * 0.2
    return x.astype(np.float32)


def test_candidates_fire_once_per_sound_and_not_on_noise():
    onsets = [8.0, 12.5, 15.25]
    # the floor from the noise before the sounds; blocks of 13 frames (size must not matter)
    times, _ = _candidates(_sparse_bursts(onsets), OnsetConfig(), floor_frames=500)
    assert len(times) == 3
    np.testing.assert_allclose(times, onsets, atol=0.03)


def _rain_with_bangs(rng, seconds, bangs):
    """Dense random drops (many similar candidates) with a few much louder bursts."""
    x = rng.standard_normal(SR * seconds) * 0.01
    for i in rng.integers(SR, x.size - 2000, size=8 * seconds):    # about 8 drops a second
        x[i:i + 800] += _sound(rng, 'impulse', 800, 0.0) * rng.uniform(0.03, 0.06)
    for t in bangs:
        i = int(t * SR)
        x[i:i + 4000] += _sound(rng, 'burst', 4000, 0.0) * 0.5
    return x.astype(np.float32)


def _candidates(x, cfg, block=13, floor_frames=300):
    """Candidate times (s) and the picker, the floor taken from the first frames."""
    bands = coarse_band_db(logmel(x, CFG), cfg.n_bands)
    tracker = NoiseFloorTracker(CFG.frame_rate, width=cfg.n_bands)
    tracker.update(bands[:, :floor_frames].T)
    picker = OnsetCandidates(cfg, CFG.frame_rate)
    found = []
    for i in range(0, bands.shape[1], block):
        found += picker.push(bands[:, i:i + block], tracker.floor)[0]
    return np.array(found) * CFG.hop_length / SR, picker


def test_budget_bounds_the_candidate_rate_and_keeps_the_salient_sounds():
    rng = np.random.default_rng(4)
    bangs = [21.0, 33.5, 47.25]
    x = _rain_with_bangs(rng, 60, bangs)
    free, p0 = _candidates(x, OnsetConfig())
    gated, p1 = _candidates(x, OnsetConfig(budget_per_s=1.0, budget_window_s=10.0))
    assert p0.dropped == 0
    assert len(free) > 4 * 60                   # the drops alone overwhelm an ungated picker
    late = gated[gated >= 10.0]                 # once a full window of history exists
    assert len(late) <= 1.5 * 50                # near the budget of 1 a second
    assert p1.dropped == len(free) - len(gated)
    for t in bangs:                             # the loud bursts still pass
        assert np.min(np.abs(gated - t)) < 0.03
    again, _ = _candidates(x, OnsetConfig(budget_per_s=1.0, budget_window_s=10.0), block=7)
    np.testing.assert_array_equal(again, gated)     # block size must not matter


def test_budget_passes_everything_when_candidates_are_sparse():
    onsets = [8.0, 12.5, 15.25]
    gated, picker = _candidates(_sparse_bursts(onsets), OnsetConfig(budget_per_s=0.5))
    np.testing.assert_allclose(gated, onsets, atol=0.03)
    assert picker.dropped == 0
