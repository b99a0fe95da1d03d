"""Sound levels: dB SPL, the IEC 61672 A-weighting curve and A-weighted Leq of a signal."""
from __future__ import annotations

import numpy as np

P_REF = 20e-6  # Pa


def a_weighting_db(f: np.ndarray) -> np.ndarray:
    """IEC 61672-1 A-weighting in dB at frequencies ``f`` (Hz); 0 dB at 1 kHz."""
    f2 = np.asarray(f, dtype=float) ** 2
    num = 12194.0 ** 2 * f2 ** 2
    den = (f2 + 20.6 ** 2) * np.sqrt((f2 + 107.7 ** 2) * (f2 + 737.9 ** 2)) * (f2 + 12194.0 ** 2)
    with np.errstate(divide='ignore'):
        return 20.0 * np.log10(np.maximum(num / den, 1e-30)) + 2.0


def a_weighted_power(x: np.ndarray, fs: int) -> float:
    """Mean square of ``x`` after A-weighting (Pa^2), computed exactly in the FFT domain."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n == 0:
        raise ValueError('empty signal has no level')
    spec = np.fft.rfft(x)
    w = 10.0 ** (a_weighting_db(np.fft.rfftfreq(n, 1.0 / fs)) / 10.0)
    p = np.abs(spec) ** 2 * w
    # one-sided spectrum: bins other than DC (and Nyquist for even n) count twice
    total = p[0] + 2.0 * p[1:].sum() - (p[-1] if n % 2 == 0 else 0.0)
    return float(total / n ** 2)


def leq_dba(x: np.ndarray, fs: int) -> float:
    """A-weighted equivalent level (dB(A)) of a pressure signal in pascal."""
    return power_db(a_weighted_power(x, fs))


def leq_db(x: np.ndarray) -> float:
    """Unweighted equivalent level (dB SPL) of a pressure signal in pascal."""
    x = np.asarray(x, dtype=np.float64)
    return power_db(float(np.mean(x * x)))


def power_db(p2: float) -> float:
    return 10.0 * np.log10(max(p2, 1e-30) / P_REF ** 2)


def db_to_power(db: float) -> float:
    return P_REF ** 2 * 10.0 ** (db / 10.0)


SNR_BAND_HZ = (150.0, 7000.0)   # where detectors look; keeps traffic rumble out of SNRs


def filter_a_gain(b: np.ndarray, a: np.ndarray, fs: int, n: int = 8192
                  ) -> tuple[float, float, float]:
    """Output power of the filter b/a driven by unit white noise: A-weighted, unweighted,
    and inside SNR_BAND_HZ."""
    from scipy import signal

    w, h = signal.freqz(b, a, worN=n, fs=fs)
    h2 = np.abs(h) ** 2
    wa = 10.0 ** (a_weighting_db(w) / 10.0)
    band = (w >= SNR_BAND_HZ[0]) & (w <= SNR_BAND_HZ[1])
    return float(np.mean(h2 * wa)), float(np.mean(h2)), float(np.mean(h2 * band))
