"""Reading a whole recorded clip into memory as mono samples at the processing rate.

Training, evaluation and the simulator's real-clip sources all read clips the same way, so a
clip sounds the same to each of them. (Streaming a long file on a sensor is FileDriver's job.)
"""
from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly


def read_mono(path: str | Path, sample_rate: int) -> np.ndarray:
    """float32 mono samples of ``path`` at ``sample_rate``; ValueError names the file."""
    try:
        data, rate = sf.read(str(path), dtype='float32', always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise ValueError(f'{path}: cannot read audio clip: {exc}') from None
    x = data.mean(axis=1)
    if rate != sample_rate:
        g = gcd(int(rate), int(sample_rate))
        x = resample_poly(x, sample_rate // g, int(rate) // g).astype(np.float32)
    return x
