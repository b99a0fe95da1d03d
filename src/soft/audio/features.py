"""Log-mel features shared by training and inference, offline and streaming.

One function (:func:`logmel`) defines the features; the trainer, the detector and the model
metadata all go through it, so a model can never be fed features computed differently from
the ones it learnt on. :class:`LogMelStream` yields exactly the frames :func:`logmel` would
give on the concatenated signal, whatever the block sizes.

Conventions (part of the model contract, recorded in the ONNX metadata):

* input: float32 mono samples in digital full scale (-1..1) at ``sample_rate``;
* frame ``i`` covers samples ``[i * hop_length, i * hop_length + win_length)``: no centre
  padding, so frames are causal and streamable; ``1 + (n - win_length) // hop_length`` frames;
* periodic Hann window of ``win_length``, zero-padded to ``n_fft``; power spectrum ``|X|^2``
  of the unscaled full-scale samples;
* Slaney-style mel filterbank (linear below 1 kHz, logarithmic above, area-normalised
  triangles, the same as librosa's default ``htk=False, norm='slaney'``);
* **natural** logarithm of ``max(mel_power, log_floor)`` (not dB: multiply by 10/ln 10 for dB).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Mapping

import numpy as np

_PREFIX = 'soft.feature.'


class FeatureConfigError(ValueError):
    """A feature configuration (or model metadata) that is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class FeatureConfig:
    """Feature parameters; the model's metadata carries them so drift is caught at load time."""

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 64
    fmin: float = 50.0
    fmax: float = 7800.0
    log_floor: float = 1e-10
    window_frames: int = 100

    def __post_init__(self) -> None:
        checks = (
            (self.sample_rate > 0, 'sample_rate must be positive'),
            (0 < self.win_length <= self.n_fft, 'win_length must be in 1..n_fft'),
            (self.hop_length > 0, 'hop_length must be positive'),
            (self.n_mels > 0, 'n_mels must be positive'),
            (0.0 <= self.fmin < self.fmax <= self.sample_rate / 2,
             'need 0 <= fmin < fmax <= sample_rate / 2'),
            (self.log_floor > 0.0, 'log_floor must be positive'),
            (self.window_frames > 0, 'window_frames must be positive'),
        )
        for ok, text in checks:
            if not ok:
                raise FeatureConfigError(f'FeatureConfig: {text} ({self})')

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sample_rate / self.hop_length

    def window_samples(self) -> int:
        """Samples spanned by one classification window of ``window_frames`` frames."""
        return (self.window_frames - 1) * self.hop_length + self.win_length

    def to_metadata(self) -> dict[str, str]:
        """Key/value strings for ONNX ``metadata_props`` (floats round-trip exactly)."""
        return {_PREFIX + f.name: repr(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str]) -> 'FeatureConfig':
        """Parse the ``soft.feature.*`` keys; a missing or malformed key is named in the error."""
        values: dict[str, int | float] = {}
        for f in fields(cls):
            key = _PREFIX + f.name
            if key not in meta:
                raise FeatureConfigError(f'feature metadata: missing key {key!r}')
            raw = meta[key]
            try:
                values[f.name] = int(raw) if f.type in ('int', int) else float(raw)
            except (TypeError, ValueError):
                raise FeatureConfigError(f'feature metadata: key {key!r} has value {raw!r}, '
                                         f'expected {f.type}') from None
        return cls(**values)  # type: ignore[arg-type]

    def mismatches(self, other: 'FeatureConfig') -> list[tuple[str, str, str]]:
        """(metadata key, this value, other value) for every field that differs."""
        return [(_PREFIX + f.name, repr(getattr(self, f.name)), repr(getattr(other, f.name)))
                for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear to 1 kHz, then logarithmic (27 mels per factor 6.4)."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    lin = hz / f_sp
    log = min_log_mel + np.log(np.maximum(hz, min_log_hz) / min_log_hz) / logstep
    return np.where(hz >= min_log_hz, log, lin)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    lin = mel * f_sp
    log = min_log_hz * np.exp(logstep * (mel - min_log_mel))
    return np.where(mel >= min_log_mel, log, lin)


@lru_cache(maxsize=16)
def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """Slaney-normalised triangular filters, float32 [n_fft // 2 + 1, n_mels] (read-only)."""
    fft_hz = np.linspace(0.0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    mel_pts = np.linspace(_hz_to_mel(cfg.fmin), _hz_to_mel(cfg.fmax), cfg.n_mels + 2)
    hz_pts = _mel_to_hz(mel_pts)
    fdiff = np.diff(hz_pts)
    ramps = hz_pts[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_pts[2:] - hz_pts[:-2]))[:, None]
    fb = np.ascontiguousarray(weights.T, dtype=np.float32)
    fb.setflags(write=False)
    return fb


@lru_cache(maxsize=16)
def hann_window(win_length: int) -> np.ndarray:
    """Periodic Hann window (the usual spectral-analysis convention), float32, read-only."""
    n = np.arange(win_length, dtype=np.float64)
    w = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)).astype(np.float32)
    w.setflags(write=False)
    return w


def n_frames(n_samples: int, cfg: FeatureConfig) -> int:
    """How many complete frames ``n_samples`` samples give."""
    if n_samples < cfg.win_length:
        return 0
    return 1 + (n_samples - cfg.win_length) // cfg.hop_length


def _frame_view(samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    count = n_frames(len(samples), cfg)
    if count == 0:
        return np.zeros((0, cfg.win_length), dtype=np.float32)
    samples = np.ascontiguousarray(samples)
    step = samples.strides[0]
    return np.lib.stride_tricks.as_strided(samples, (count, cfg.win_length),
                                           (step * cfg.hop_length, step), writeable=False)


def _logmel_frames(frames: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Frames [T, win_length] -> log-mel [n_mels, T] float32."""
    if len(frames) == 0:
        return np.zeros((cfg.n_mels, 0), dtype=np.float32)
    spec = np.fft.rfft(frames * hann_window(cfg.win_length), n=cfg.n_fft, axis=1)
    power = (spec.real * spec.real + spec.imag * spec.imag).astype(np.float32, copy=False)
    mel = power @ mel_filterbank(cfg)
    np.maximum(mel, np.float32(cfg.log_floor), out=mel)
    np.log(mel, out=mel)
    return np.ascontiguousarray(mel.T)


def _as_samples(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f'features expect mono 1-D samples, got shape {x.shape}')
    return x.astype(np.float32, copy=False)


def logmel(samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Log-mel spectrogram [n_mels, n_frames] (float32, natural log) of mono full-scale samples.

    The single definition of the model's input features (see the module docstring).
    """
    x = _as_samples(samples)
    return _logmel_frames(_frame_view(x, cfg), cfg)


def frame_mean_square(samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Unwindowed mean square per frame [n_frames] (float32): the frame's level for SPL."""
    frames = _frame_view(_as_samples(samples), cfg)
    return np.einsum('ij,ij->i', frames, frames) / np.float32(cfg.win_length)


class LogMelStream:
    """Streaming :func:`logmel`: feed blocks of any size, get the same frames as offline.

    Keeps only the ``win_length - hop_length`` samples that straddle the next frame.
    """

    def __init__(self, cfg: FeatureConfig):
        self.cfg = cfg
        self._tail = np.zeros(0, dtype=np.float32)
        self.frames_done = 0

    def reset(self) -> None:
        """Forget the partial frame (after a gap): the next sample starts frame 0 again."""
        self._tail = np.zeros(0, dtype=np.float32)
        self.frames_done = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add samples; return the newly completed frames, log-mel [n_mels, k]."""
        return self.push_with_power(samples)[0]

    def push_with_power(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`push`, plus each new frame's unwindowed mean square [k] for levels."""
        cfg = self.cfg
        x = _as_samples(samples)
        buf = np.concatenate((self._tail, x)) if len(self._tail) else x
        frames = _frame_view(buf, cfg)
        count = len(frames)
        out = _logmel_frames(frames, cfg)
        power = (np.einsum('ij,ij->i', frames, frames) / np.float32(cfg.win_length)
                 if count else np.zeros(0, dtype=np.float32))
        self._tail = buf[count * cfg.hop_length:].copy()
        self.frames_done += count
        return out, power.astype(np.float32, copy=False)
