"""The district simulation: what each street microphone's converter delivers, block by block.

Sources are synthesized once per emitted sound; what each microphone receives is rendered
once (lazily, only where audible) and added over a per-microphone background stream, then
converted to digital full scale with the microphone's sensitivity and hard-clipped.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import shapely
from scipy import signal

from .background import BackgroundGenerator
from .groundtruth import GroundTruth, MicTruth, write_ground_truth
from .levels import P_REF, SNR_BAND_HZ, power_db
from .propagation import (PAD, BuildingMap, PathGeometry, PropagationModel, Received,
                          estimate_level_db, propagate)
from .scenario import Scenario
from .sources import ClipLibrary, Source, clip_source, is_sustained, synthesize

SNR_WINDOW_S = 0.025


@dataclass
class SimMic:
    """A simulated microphone; ``sensitivity_dbfs`` is the level (dBFS re a full-scale sine,
    AES17) of a 94 dB SPL tone, so 1 Pa RMS reads 10**(s/20)/sqrt(2) RMS in full scale."""

    id: str
    position: np.ndarray
    sensitivity_dbfs: float = -38.0
    self_noise_dba: float = 30.0
    clock_offset_s: float = 0.0
    clock_jitter_s: float = 0.0
    background: str = 'busy_street'

    def __post_init__(self) -> None:
        self.position = np.asarray(self.position, dtype=float).reshape(3)
        if not np.all(np.isfinite(self.position)):
            raise ValueError(f'mic {self.id}: position {self.position} is not finite')
        if not -80.0 <= self.sensitivity_dbfs <= 0.0:
            raise ValueError(f'mic {self.id}: sensitivity_dbfs {self.sensitivity_dbfs} '
                             f'outside -80..0')

    @property
    def pa_to_fs(self) -> float:
        return 10.0 ** (self.sensitivity_dbfs / 20.0) / math.sqrt(2.0)


@dataclass
class _Emission:
    incident: int
    repeat: int
    time_s: float
    position: np.ndarray
    source: Source
    paths: list[PathGeometry] = field(default_factory=list)
    audible: list[bool] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)   # per mic, global samples


class DistrictSimulation:
    """Renders a scenario at every microphone of a district.

    ``render(mic, start, n)`` must be called with increasing ``start`` for each microphone
    (gaps are fine). The result depends only on the seeds, not on the block size.
    """

    def __init__(self, mics: Sequence[SimMic], scenario: Scenario,
                 buildings: Sequence[tuple[shapely.Polygon, float]] = (),
                 sample_rate: int = 16000, seed: int = 0, clips: ClipLibrary | None = None,
                 propagation: PropagationModel = PropagationModel(),
                 audible_margin_db: float = 10.0):
        if not mics:
            raise ValueError('a district simulation needs at least one microphone')
        ids = [m.id for m in mics]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f'duplicate microphone ids: {dup}')
        self.mics = list(mics)
        self.scenario = scenario
        self.sample_rate = int(sample_rate)
        self.seed = int(seed)
        self.clips = clips
        self.model = propagation
        self.buildings = BuildingMap(buildings, ground_z=propagation.ground_z)
        self.atm = scenario.atmosphere
        root = np.random.SeedSequence([scenario.seed, self.seed])
        self._bg = [BackgroundGenerator(m.background, self.sample_rate,
                                        np.random.SeedSequence([scenario.seed, self.seed,
                                                                zlib.crc32(m.id.encode())]),
                                        scenario.weather, m.self_noise_dba)
                    for m in self.mics]
        self._bg_power = [g.expected_power_pa2(band=True) for g in self._bg]
        self._snr_sos = signal.butter(4, [SNR_BAND_HZ[0], min(SNR_BAND_HZ[1],
                                                              0.45 * self.sample_rate)],
                                      'bandpass', fs=self.sample_rate, output='sos')
        self._emissions = self._synthesize_all(root)
        for e in self._emissions:
            self._plan(e, audible_margin_db)
        self._cache: list[dict[int, Received]] = [{} for _ in self.mics]
        self._summary: dict[tuple[int, int], tuple[float, float]] = {}
        self._next = [0] * len(self.mics)

    # -- setup -------------------------------------------------------------------------------

    def _synthesize_all(self, root: np.random.SeedSequence) -> list[_Emission]:
        out = []
        for inc in self.scenario.incidents:
            variant, level = inc.variant, inc.level_db
            for r, t in enumerate(inc.emission_times()):
                rng = np.random.default_rng(np.random.SeedSequence(
                    root.entropy, spawn_key=(inc.index, r)))
                if inc.clip is not None:
                    src = clip_source(inc.clip, inc.kind, rng, self.sample_rate, level)
                elif self.clips is not None and self.clips.has(inc.kind) and variant is None:
                    src = self.clips.pick(inc.kind, rng, self.sample_rate, level)
                else:
                    src = synthesize(inc.kind, rng, self.sample_rate, variant, level)
                if r == 0 and not src.variant.startswith('clip:'):
                    variant = src.variant   # repeats: the same gun, the same horn
                level = src.level_db
                out.append(_Emission(inc.index, r, t, inc.position.copy(), src))
        return out

    def _plan(self, e: _Emission, margin: float) -> None:
        fs = self.sample_rate
        c = self.atm.c
        src = e.source
        zg = self.model.ground_z
        for m in self.mics:
            path = self.buildings.path(e.position, m.position)
            e.paths.append(path)
            horiz = math.hypot(*(m.position[:2] - e.position[:2]))
            image = math.hypot(horiz, e.position[2] + m.position[2] - 2 * zg) + path.delta_m
            extra = len(src.samples) + 2 * PAD + 4 + int((image - path.length_m) / c * fs)
            est = estimate_level_db(src.level_db, path, self.atm, self.model)
            e.audible.append(est > m.self_noise_dba - margin)
            t0 = e.time_s + path.length_m / c - src.onset_index / fs
            start = math.floor(t0 * fs) - PAD - 2
            e.spans.append((start, start + extra))

    # -- rendering ---------------------------------------------------------------------------

    def mic_index(self, mic_id: str) -> int:
        for i, m in enumerate(self.mics):
            if m.id == mic_id:
                return i
        raise KeyError(f'no microphone {mic_id!r} in the simulation '
                       f'({len(self.mics)} microphones)')

    def _received(self, ei: int, mi: int) -> Received:
        cache = self._cache[mi]
        rec = cache.get(ei)
        if rec is None:
            e = self._emissions[ei]
            s = e.source
            rec = propagate(s.samples, self.sample_rate, s.onset_index, e.time_s, e.position,
                            self.mics[mi].position, self.atm, self.model, path=e.paths[mi])
            cache[ei] = rec
            self._summarise(ei, mi, rec)
        return rec

    def _summarise(self, ei: int, mi: int, rec: Received) -> None:
        if (ei, mi) in self._summary:
            return
        y = signal.sosfilt(self._snr_sos, rec.samples.astype(np.float64))
        w = max(1, int(SNR_WINDOW_S * self.sample_rate))
        c = np.concatenate([[0.0], np.cumsum(y * y)])
        ms = (c[w:] - c[:-w]) / w if len(y) > w else np.array([c[-1] / max(len(y), 1)])
        self._summary[(ei, mi)] = (rec.peak_pa, float(ms.max()))

    def render(self, mic_index: int, start_sample: int, n: int) -> np.ndarray:
        """Samples ``start_sample .. start_sample + n`` of a microphone, in full scale.

        Sample k is at true time (start_sample + k) / sample_rate s from the scenario start.
        """
        if not 0 <= mic_index < len(self.mics):
            raise IndexError(f'mic_index {mic_index} outside 0..{len(self.mics) - 1}')
        if n < 0 or start_sample < 0:
            raise ValueError(f'render: start_sample {start_sample} and n {n} must be >= 0')
        bg = self._bg[mic_index]
        if start_sample < bg.position:
            raise ValueError(f'mic {self.mics[mic_index].id}: block at sample {start_sample} '
                             f'comes before the previous one (ends at {bg.position}); render '
                             f'blocks in increasing order')
        bg.skip_to(start_sample)
        x = bg.read(n).astype(np.float64)
        end = start_sample + n
        for ei, e in enumerate(self._emissions):
            if not e.audible[mic_index]:
                continue
            s0, s1 = e.spans[mic_index]
            if s1 <= start_sample or s0 >= end:
                continue
            rec = self._received(ei, mic_index)
            a, b = max(rec.start_sample, start_sample), min(rec.end_sample, end)
            if a < b:
                x[a - start_sample:b - start_sample] += \
                    rec.samples[a - rec.start_sample:b - rec.start_sample]
        cache = self._cache[mic_index]
        for ei in [k for k, r in cache.items() if r.end_sample <= end]:
            del cache[ei]   # already fully played out
        y = x * self.mics[mic_index].pa_to_fs
        np.clip(y, -1.0, 1.0, out=y)
        return y.astype(np.float32)

    def capture_time_ns(self, mic_index: int, true_ns: int) -> int:
        """The sensor's capture clock at true time ``true_ns``: offset plus a small jitter.

        The jitter is a deterministic function of (seed, microphone, time).
        """
        m = self.mics[mic_index]
        out = int(true_ns) + int(round(m.clock_offset_s * 1e9))
        if m.clock_jitter_s > 0:
            rng = np.random.default_rng([self.scenario.seed, self.seed, mic_index,
                                         int(true_ns) & 0x7FFFFFFFFFFFFFFF])
            out += int(round(rng.normal(0.0, m.clock_jitter_s) * 1e9))
        return out

    # -- ground truth ------------------------------------------------------------------------

    def ground_truth(self) -> list[GroundTruth]:
        """One entry per emitted sound with, for every microphone, arrival, level and SNR."""
        out = []
        c = self.atm.c
        for ei, e in enumerate(self._emissions):
            s = e.source
            mics = []
            for mi, m in enumerate(self.mics):
                path = e.paths[mi]
                arrival = e.time_s + path.length_m / c
                if e.audible[mi]:
                    if (ei, mi) not in self._summary:
                        rec = propagate(s.samples, self.sample_rate, s.onset_index, e.time_s,
                                        e.position, m.position, self.atm, self.model,
                                        path=path)
                        self._summarise(ei, mi, rec)
                    peak, ms = self._summary[(ei, mi)]
                    level = 20 * math.log10(max(peak, 1e-12) / P_REF)
                    snr = power_db(ms) - power_db(self._bg_power[mi])
                else:
                    level = estimate_level_db(s.level_db, path, self.atm, self.model)
                    snr = level - 3.0 - power_db(self._bg_power[mi])
                mics.append(MicTruth(m.id, round(path.direct_m, 6), round(path.length_m, 6),
                                     arrival, round(float(level), 2), round(float(snr), 2),
                                     path.occluded,
                                     bool(e.audible[mi])))
            out.append(GroundTruth(e.incident, e.repeat, s.kind, s.class_id, s.variant,
                                   tuple(float(v) for v in e.position), e.time_s,
                                   round(s.level_db, 2), s.level_type,
                                   round(s.duration_s, 4), is_sustained(s.kind), mics))
        return out

    def write_ground_truth(self, path: str | Path) -> tuple[Path, Path]:
        """JSON at ``path`` and a CSV beside it (one row per sound x microphone)."""
        meta = {'scenario': self.scenario.name, 'seed': self.seed,
                'scenario_seed': self.scenario.seed, 'sample_rate': self.sample_rate,
                'speed_of_sound_m_s': self.atm.c,
                'mics': [{'id': m.id, 'position': [float(v) for v in m.position],
                          'clock_offset_s': m.clock_offset_s} for m in self.mics]}
        return write_ground_truth(self.ground_truth(), path, meta)
