"""Small signal-building blocks for the procedural sources (oscillators, shock waves, grains).

Impulsive waveforms are built on an oversampled grid and decimated with an anti-alias filter,
so that shock fronts are band-limited at the output rate instead of folding back.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

OVERSAMPLE = 4
PRE_ROLL_S = 0.004  # silence kept before an onset: room for band-limiting pre-ringing


def pre_roll(fs: int) -> int:
    """Onset index used by the generators: a few ms of silence before the sound."""
    return int(round(PRE_ROLL_S * fs))


@lru_cache(maxsize=1)
def _antialias() -> np.ndarray:
    linear = signal.firwin(8 * 16 * OVERSAMPLE + 1, 0.9 / OVERSAMPLE)
    return signal.minimum_phase(linear, method='homomorphic')


def decimate(x_hi: np.ndarray) -> np.ndarray:
    """Band-limit and decimate an OVERSAMPLE-times signal with a causal anti-alias filter.

    Minimum phase, as in a low-latency microphone decimator: nothing rings before a shock
    front, so the onset the generator states is where the sound starts. (A zero-phase filter
    puts ~0.5 ms of pre-ringing before it, which a detector at high SNR rightly picks up.)
    """
    h = _antialias()
    return signal.lfilter(h, 1.0, x_hi)[::OVERSAMPLE]


def friedlander(t: np.ndarray, t_pos: float, b: float = 1.0) -> np.ndarray:
    """Friedlander blast wave: instant rise, positive phase ``t_pos``, negative tail."""
    out = np.zeros_like(t)
    m = t >= 0
    tt = t[m] / t_pos
    out[m] = (1.0 - tt) * np.exp(-b * tt)
    return out


def n_wave(t: np.ndarray, dur: float, rise: float = 2e-5) -> np.ndarray:
    """Sonic-boom N-wave (supersonic bullet crack): jump up, linear fall, jump back to zero."""
    out = np.zeros_like(t)
    m = (t >= 0) & (t <= dur)
    out[m] = 1.0 - 2.0 * t[m] / dur
    if rise > 0:  # finite rise times soften the fronts like a real shock does
        k = max(1, int(rise / max(t[1] - t[0], 1e-9)))
        out = np.convolve(out, np.ones(k) / k, mode='full')[:len(t)]
    return out


def exp_env(n: int, fs: int, tau: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (fs * tau))


def ramp_env(n: int, fs: int, attack: float, release: float) -> np.ndarray:
    """Flat envelope with raised-cosine attack and release (no clicks at the edges)."""
    env = np.ones(n)
    a = min(n // 2, max(1, int(attack * fs)))
    r = min(n // 2, max(1, int(release * fs)))
    env[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)
    env[n - r:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(r) / r)
    return env


@lru_cache(maxsize=512)
def _butter(order: int, lo: float | None, hi: float | None, fs: int) -> np.ndarray | None:
    nyq = fs / 2
    if lo is not None and hi is not None:
        return signal.butter(order, [lo / nyq, min(hi / nyq, 0.99)], 'bandpass', output='sos')
    if lo is not None:
        return signal.butter(order, lo / nyq, 'highpass', output='sos')
    if hi is not None:
        return signal.butter(order, min(hi / nyq, 0.99), 'lowpass', output='sos')
    return None


def band_noise(rng: np.random.Generator, n: int, fs: int, lo: float | None,
               hi: float | None, order: int = 4) -> np.ndarray:
    """Gaussian noise band-limited with a Butterworth filter (lo/hi None: open edge)."""
    x = rng.standard_normal(n)
    # edges rounded to 10 Hz so that the filter designs can be cached
    sos = _butter(order, None if lo is None else round(float(lo), -1),
                  None if hi is None else round(float(hi), -1), fs)
    return x if sos is None else signal.sosfilt(sos, x)


def lowpass(x: np.ndarray, fs: int, fc: float, order: int = 2) -> np.ndarray:
    sos = signal.butter(order, min(fc / (fs / 2), 0.99), 'lowpass', output='sos')
    return signal.sosfilt(sos, x)


def highpass(x: np.ndarray, fs: int, fc: float, order: int = 2) -> np.ndarray:
    sos = signal.butter(order, min(fc / (fs / 2), 0.99), 'highpass', output='sos')
    return signal.sosfilt(sos, x)


def brown_noise(rng: np.random.Generator, n: int, fs: int, corner: float = 20.0) -> np.ndarray:
    """-6 dB/octave noise above ``corner`` Hz: rumbles and roars."""
    a = np.exp(-2 * np.pi * corner / fs)
    return signal.lfilter([1 - a], [1, -a], rng.standard_normal(n))


def harmonic(f0: np.ndarray, fs: int, amps: np.ndarray | float = 1.0, tilt_db: float = 6.0,
             max_harm: int = 40, phase0: float = 0.0,
             rng: np.random.Generator | None = None) -> np.ndarray:
    """Band-limited harmonic tone following the f0 track (Hz per sample).

    Harmonic k has amplitude k**(-tilt_db/6.02) (or ``amps[k-1]``) and is muted where it
    would pass 0.45 fs, so sweeps do not alias.
    """
    phase = 2 * np.pi * np.cumsum(f0) / fs + phase0
    out = np.zeros_like(f0, dtype=np.float64)
    fmax = float(np.max(f0)) if f0.size else 0.0
    kmax = int(min(max_harm, max(1, (0.45 * fs) // max(fmax, 1.0) + 1)))
    kmax = max(kmax, 1)
    for k in range(1, max_harm + 1):
        if k > kmax and k * np.min(f0) > 0.45 * fs:
            break
        a = (amps[k - 1] if k - 1 < len(amps) else 0.0) if isinstance(amps, np.ndarray) \
            else k ** (-tilt_db / 6.02)
        if a == 0:
            continue
        ph = rng.uniform(0, 2 * np.pi) if rng is not None else 0.0
        mask = np.clip((0.45 * fs - k * f0) / (0.05 * fs), 0.0, 1.0)
        out += a * mask * np.sin(k * phase + ph)
    return out


def modes(n: int, fs: int, freqs, decays, amps, rng: np.random.Generator | None = None
          ) -> np.ndarray:
    """Sum of exponentially decaying sinusoids: struck plates, shards, bells, car panels."""
    t = np.arange(n) / fs
    out = np.zeros(n)
    for f, d, a in zip(freqs, decays, amps):
        if f >= 0.48 * fs:
            continue
        ph = rng.uniform(0, 2 * np.pi) if rng is not None else 0.0
        out += a * np.exp(-t / d) * np.sin(2 * np.pi * f * t + ph)
    return out


def add_at(out: np.ndarray, grain: np.ndarray, start: int) -> None:
    """Add ``grain`` into ``out`` at ``start``, clipped to the buffer."""
    if start >= len(out) or start + len(grain) <= 0:
        return
    g0 = max(0, -start)
    s0 = max(0, start)
    m = min(len(grain) - g0, len(out) - s0)
    out[s0:s0 + m] += grain[g0:g0 + m]


def click(rng: np.random.Generator, fs: int, dur: float, lo: float, hi: float) -> np.ndarray:
    """A short broadband tick (a transient in a band), decaying over ``dur`` seconds."""
    n = max(8, int(dur * fs))
    return band_noise(rng, n, fs, lo, hi, order=2) * exp_env(n, fs, dur / 4)


def formant_filter(x: np.ndarray, fs: int, formants: np.ndarray, bandwidths: np.ndarray,
                   gains: np.ndarray | None = None, nfft: int = 512) -> np.ndarray:
    """Impose time-varying formant resonances on ``x`` (STFT-domain spectral envelope).

    ``formants``/``bandwidths`` are (frames, k) in Hz, sampled at the STFT hop (nfft/4);
    they are interpolated to the actual frame count. It shapes vowel-like timbre without
    any phonetic content.
    """
    hop = nfft // 4
    f, _, z = signal.stft(x, fs, nperseg=nfft, noverlap=nfft - hop, boundary='zeros')
    nfr = z.shape[1]
    formants = np.atleast_2d(formants)
    bandwidths = np.atleast_2d(bandwidths)
    src = np.linspace(0, 1, formants.shape[0])
    dst = np.linspace(0, 1, nfr)
    fm = np.stack([np.interp(dst, src, formants[:, i]) for i in range(formants.shape[1])], 1)
    bw = np.stack([np.interp(dst, src, bandwidths[:, i]) for i in range(bandwidths.shape[1])],
                  1)
    g = np.ones(formants.shape[1]) if gains is None else np.asarray(gains)
    env = np.zeros((len(f), nfr))
    for i in range(fm.shape[1]):
        env += g[i] / (1.0 + ((f[:, None] - fm[None, :, i]) / (bw[None, :, i] / 2)) ** 2)
    _, y = signal.istft(z * np.sqrt(env), fs, nperseg=nfft, noverlap=nfft - hop,
                        boundary=True)
    return y[:len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))


def smooth_random(rng: np.random.Generator, n: int, fs: int, rate_hz: float) -> np.ndarray:
    """Zero-mean, unit-ish random wander with a given bandwidth (jitter, gusts, load)."""
    m = max(4, int(n * rate_hz / fs) + 4)
    knots = rng.standard_normal(m)
    return np.interp(np.linspace(0, m - 3, n), np.arange(m), knots)


def street_reverb(x: np.ndarray, onset: int, rng: np.random.Generator, fs: int,
                  rt60: tuple[float, float], tail_db: tuple[float, float],
                  max_s: float | None = None) -> np.ndarray:
    """Add the echoes and reverberant tail of a street canyon after ``onset``.

    Real recordings of shots and blasts ring on for hundreds of ms (facades, ground,
    parked cars); a dry synthetic impulse does not, and a model trained on it learns a decay
    no street gives. The impulse response is a unit direct path, a few discrete facade
    echoes (3-60 ms) and exponentially decaying noise whose highs die faster; ``tail_db`` is
    the reverberant energy re the direct energy (a random draw per sound, wide on purpose:
    near sources hear little of it, far ones a lot). Causal: nothing moves before ``onset``.
    ``max_s`` caps the added length (with a fade) so short sounds stay short.
    """
    t60 = float(np.exp(rng.uniform(*np.log(rt60))))
    n_ir = int(min(1.2 * t60, max_s if max_s is not None else 1e9) * fs)
    n_ir = max(n_ir, int(0.02 * fs))
    t = np.arange(n_ir) / fs
    env = np.exp(-6.91 * t / t60)
    noise = rng.standard_normal(n_ir)
    dark = lowpass(noise, fs, float(rng.uniform(2500.0, 7000.0)), order=1)
    mix = np.exp(-6.91 * t / (0.6 * t60))  # high-frequency share falls faster than the rest
    tail = (noise * mix + dark * (1 - mix)) * env
    tail *= 0.5 - 0.5 * np.cos(np.pi * np.clip(t / 0.01, 0, 1))  # build-up over 10 ms
    fade = min(n_ir // 4, int(0.05 * fs))
    tail[n_ir - fade:] *= np.linspace(1.0, 0.0, fade)
    tail *= np.sqrt(10 ** (rng.uniform(*tail_db) / 10) / (np.sum(tail ** 2) + 1e-20))
    ir = tail
    ir[0] += 1.0
    for _ in range(int(rng.integers(1, 6))):
        k = int(rng.uniform(0.003, 0.06) * fs)
        if k < n_ir:
            ir[k] += rng.uniform(0.1, 0.6) * rng.choice([-1.0, 1.0])
    seg = np.asarray(x[onset:], dtype=np.float64)
    out = np.zeros(onset + seg.size + n_ir - 1)
    out[:onset] = x[:onset]
    out[onset:] = signal.fftconvolve(seg, ir)
    return out
