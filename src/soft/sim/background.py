"""Per-microphone urban background: traffic, city hum, wind, rain and microphone self-noise.

Each microphone has its own generator with state (filter memories, vehicle schedule, gust
process), producing a continuous stream in fixed internal chunks: blocks of any size read
the same samples, and block boundaries never click. Speed matters (50 microphones in real
time and much faster for training), so white noise is read at random offsets from one shared
Gaussian table and shaped with first/second-order IIR filters whose gains change only once
per 10 ms hop, before the filter, which smooths the steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from .levels import db_to_power, filter_a_gain

_TABLE_BITS = 22
_GUST_POWER = 2.7254   # E[(1 + 0.3 N)^6]: mean power of the gust factor
_DROP = 12.0           # rain drop impulse size relative to the hiss samples
_table: np.ndarray | None = None


def _noise_table() -> np.ndarray:
    global _table
    if _table is None:
        rng = np.random.default_rng(0x50F7)
        _table = rng.standard_normal(1 << _TABLE_BITS, dtype=np.float32)
    return _table


@dataclass(frozen=True)
class Profile:
    """An urban setting: its A-weighted Leq range and how traffic makes it up."""

    leq_dba: tuple[float, float]
    vehicles_per_s: tuple[float, float]
    hum_fraction: float          # share of traffic power that is steady distant hum


PROFILES: dict[str, Profile] = {
    'busy_street': Profile((60.0, 68.0), (0.3, 0.8), 0.3),
    'quiet_street': Profile((45.0, 52.0), (0.03, 0.08), 0.7),
    'square': Profile((40.0, 50.0), (0.0, 0.02), 0.85),
    'park': Profile((40.0, 50.0), (0.0, 0.01), 0.9),
}


@dataclass(frozen=True)
class Weather:
    wind_m_s: float = 0.0
    rain_mm_h: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.wind_m_s) and 0 <= self.wind_m_s <= 40):
            raise ValueError(f'weather.wind_m_s {self.wind_m_s!r} outside 0..40 m/s')
        if not (math.isfinite(self.rain_mm_h) and 0 <= self.rain_mm_h <= 200):
            raise ValueError(f'weather.rain_mm_h {self.rain_mm_h!r} outside 0..200 mm/h')


def wind_noise_dba(wind_m_s: float) -> float:
    """A-weighted wind noise on a wind-screened street microphone (grows ~ 60 log v)."""
    return 35.0 + 30.0 * math.log10(max(wind_m_s, 1e-3) / 3.0)


def rain_noise_dba(rain_mm_h: float) -> float:
    """A-weighted noise of rain on streets and the microphone housing."""
    return 40.0 + 10.0 * math.log10(max(rain_mm_h, 1e-3))


def _one_pole_lp(fc: float, fs: int) -> tuple[np.ndarray, np.ndarray]:
    a = math.exp(-2 * math.pi * fc / fs)
    return np.array([1 - a]), np.array([1.0, -a])


def _two_pole_lp(f1: float, f2: float, fs: int) -> tuple[np.ndarray, np.ndarray]:
    b1, a1 = _one_pole_lp(f1, fs)
    b2, a2 = _one_pole_lp(f2, fs)
    return np.convolve(b1, b2), np.convolve(a1, a2)


class _Shaper:
    """Noise x gain (per hop) through an IIR filter, continuous across chunks."""

    def __init__(self, b: np.ndarray, a: np.ndarray, fs: int, target_dba: float):
        ga, glin, gband = filter_a_gain(b, a, fs)
        self.b = b.astype(np.float32)
        self.a = a.astype(np.float32)
        self.zi = np.zeros(max(len(a), len(b)) - 1, dtype=np.float32)
        self.scale = math.sqrt(db_to_power(target_dba) / ga)   # unit gain -> target dB(A)
        self.lin_per_a = glin / ga
        self.band_per_a = gband / ga

    def run(self, noise: np.ndarray, gains: np.ndarray) -> np.ndarray:
        hops = len(gains)
        x = (noise.reshape(hops, -1) * (gains * self.scale)[:, None].astype(np.float32)).ravel()
        y, self.zi = signal.lfilter(self.b, self.a, x, zi=self.zi)
        return y


class BackgroundGenerator:
    """Endless background for one microphone (pressure in pascal), read in order.

    ``level_dba`` is the traffic Leq (drawn inside the profile's range when None); wind,
    rain and self-noise add to it. ``expected_power_pa2`` is the long-run mean square.
    """

    def __init__(self, profile: str = 'busy_street', sample_rate: int = 16000,
                 seed: int | np.random.SeedSequence = 0, weather: Weather = Weather(),
                 self_noise_dba: float = 30.0, level_dba: float | None = None):
        if profile not in PROFILES:
            raise ValueError(f'unknown background profile {profile!r}; valid profiles: '
                             f'{", ".join(PROFILES)}')
        if sample_rate % 100:
            raise ValueError(f'sample_rate {sample_rate}: must be a multiple of 100 Hz')
        self.profile = PROFILES[profile]
        self.fs = sample_rate
        self.hop = sample_rate // 100
        self.chunk = 100 * self.hop
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        s_main, s_veh = ss.spawn(2)
        self.rng = np.random.default_rng(s_main)
        self.veh_rng = np.random.default_rng(s_veh)
        lo, hi = self.profile.leq_dba
        margin = min(1.5, (hi - lo) / 4)
        self.level_dba = float(level_dba if level_dba is not None
                               else self.rng.uniform(lo + margin, hi - margin))
        self.rate = float(self.rng.uniform(*self.profile.vehicles_per_s))
        self.weather = weather
        fs = sample_rate
        self.traffic = _Shaper(*_two_pole_lp(80.0, 3000.0, fs), fs, self.level_dba)
        self.hum = self.profile.hum_fraction if self.rate > 0 else 1.0
        # vehicle peak (relative power) so that hum + vehicles average to 1
        mean_d_over_v = 8.0 * math.log(14.0 / 7.0) / 7.0
        self.p0 = (1.0 - self.hum) / (self.rate * math.pi * mean_d_over_v) \
            if self.rate > 0 else 0.0
        self.vehicles = np.zeros((0, 4))   # t0, peak, d, v
        self.scheduled_until = 0.0
        self.wind = _Shaper(*_two_pole_lp(25.0, 200.0, fs), fs,
                            wind_noise_dba(weather.wind_m_s)) if weather.wind_m_s > 0 else None
        self.gust = 0.0
        pole = math.exp(-2 * math.pi * 1000.0 / fs)   # one-pole high-pass: patter and hiss
        self.rain = _Shaper(np.array([1.0, -1.0]), np.array([1.0, -pole]), fs,
                            rain_noise_dba(weather.rain_mm_h)) if weather.rain_mm_h > 0 else None
        self.drops_per_s = 40.0 * min(weather.rain_mm_h, 50.0)
        white_a, _, self.white_band = filter_a_gain(np.array([1.0]), np.array([1.0]), fs)
        self.self_sigma = math.sqrt(db_to_power(self_noise_dba) / white_a)
        self.position = 0          # next sample index to hand out
        self._buf = np.zeros(0, dtype=np.float32)
        self._made = 0             # samples generated so far

    def expected_power_pa2(self, band: bool = False) -> float:
        """Long-run mean square pressure of this background: unweighted, or (``band``)
        inside levels.SNR_BAND_HZ."""
        parts = [(self.traffic, self.level_dba)]
        if self.wind is not None:
            parts.append((self.wind, wind_noise_dba(self.weather.wind_m_s)))
        if self.rain is not None:
            parts.append((self.rain, rain_noise_dba(self.weather.rain_mm_h)))
        p = sum(db_to_power(lv) * (sh.band_per_a if band else sh.lin_per_a)
                for sh, lv in parts)
        return p + self.self_sigma ** 2 * (self.white_band if band else 1.0)

    def _schedule(self, until: float) -> None:
        if self.rate <= 0:
            return
        t = self.scheduled_until
        new = []
        while t < until:
            t += self.veh_rng.exponential(1.0 / self.rate)
            # heavy vehicles and motorbikes are louder: log-normal peak with unit mean
            x = math.exp(self.veh_rng.normal(0.0, 0.7) - 0.245)
            new.append((t, self.p0 * x, self.veh_rng.uniform(4, 12), self.veh_rng.uniform(7, 14)))
        self.scheduled_until = t
        if new:
            keep = self.vehicles[self.vehicles[:, 0] > until - 120.0] if len(self.vehicles) \
                else self.vehicles
            self.vehicles = np.vstack([keep, np.array(new)])

    def _traffic_gain(self, tc: np.ndarray) -> np.ndarray:
        power = np.full(len(tc), self.hum)
        if self.rate > 0:
            self._schedule(float(tc[-1]) + 40.0)
            v = self.vehicles
            v = v[(v[:, 0] > tc[0] - 30.0) & (v[:, 0] < tc[-1] + 30.0)]
            if len(v):
                dt = tc[None, :] - v[:, :1]
                d2 = (v[:, 2:3]) ** 2
                swell = v[:, 1:2] * d2 / (d2 + (v[:, 3:4] * dt) ** 2)
                power += np.where(np.abs(dt) < 30.0, swell, 0.0).sum(axis=0)
        return np.sqrt(power)

    def _gusts(self, hops: int) -> np.ndarray:
        """Ornstein-Uhlenbeck gust factor (tau 3 s); wind noise amplitude ~ speed^3."""
        a = math.exp(-0.01 / 3.0)
        e = self.rng.standard_normal(hops) * math.sqrt(1 - a * a)
        out, zf = signal.lfilter([1.0], [1.0, -a], e, zi=[a * self.gust])
        self.gust = float(out[-1])
        return np.maximum(1.0 + 0.3 * out, 0.05) ** 3

    def _make_chunk(self) -> np.ndarray:
        n = self.chunk
        tab = _noise_table()
        top = len(tab) - n
        hops = n // self.hop
        tc = (self._made + (np.arange(hops) + 0.5) * self.hop) / self.fs
        o1, o2, o3, o4 = self.rng.integers(0, top, 4)
        out = self.traffic.run(tab[o1:o1 + n], self._traffic_gain(tc))
        out += tab[o2:o2 + n] * np.float32(self.self_sigma)
        if self.wind is not None:
            out += self.wind.run(tab[o3:o3 + n], self._gusts(hops) / math.sqrt(_GUST_POWER))
        if self.rain is not None:
            x = tab[o4:o4 + n].copy()
            count = int(self.rng.poisson(n / self.fs * self.drops_per_s))
            drops = self.rng.integers(0, n, count)
            x[drops] += self.rng.standard_normal(len(drops)).astype(np.float32) * _DROP
            norm = 1.0 / math.sqrt(1.0 + self.drops_per_s * _DROP ** 2 / self.fs)
            out += self.rain.run(x, np.full(hops, norm))
        self._made += n
        return out.astype(np.float32, copy=False)

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` samples (pascal, float32)."""
        if n < 0:
            raise ValueError(f'cannot read {n} samples')
        parts = [self._buf]
        have = len(self._buf)
        while have < n:
            c = self._make_chunk()
            parts.append(c)
            have += len(c)
        data = np.concatenate(parts) if len(parts) > 1 else self._buf
        self._buf = data[n:]
        self.position += n
        return data[:n]

    def skip_to(self, sample: int) -> None:
        """Advance to ``sample`` (generating and discarding); going back is an error."""
        if sample < self.position:
            raise ValueError(f'background already at sample {self.position}; cannot go back '
                             f'to {sample} (render blocks in increasing order)')
        while sample - self.position > 0:
            self.read(min(sample - self.position, 1 << 20))
