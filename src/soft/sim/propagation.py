"""Outdoor sound propagation from a source to a microphone, sample-exact in time.

Travel delay (speed of sound from temperature), spherical spreading, ISO 9613-1 air
absorption, a ground-reflected image source and Maekawa diffraction behind buildings are
combined into one frequency response applied with an FFT: the fractional part of every delay
is a linear phase, so the ground-truth arrival time is exact to well under a microsecond.
The magnitude filters are zero-phase: they do not move the onset.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import shapely
from scipy import fft as sfft

PAD = 256          # samples of lead-in kept before the first arrival (band-limited pre-ringing)
FADE = 64          # raised-cosine fade at both ends of a received piece


def speed_of_sound(temperature_c: float) -> float:
    """Speed of sound in dry-ish air, m/s (humidity changes it by < 0.5 %)."""
    if not -60.0 <= temperature_c <= 60.0:
        raise ValueError(f'temperature_c {temperature_c!r} outside -60..60 degC')
    return 331.3 * math.sqrt(1.0 + temperature_c / 273.15)


def air_absorption_db_per_m(f: np.ndarray, temperature_c: float, humidity_pct: float,
                            pressure_kpa: float = 101.325) -> np.ndarray:
    """Pure-tone atmospheric absorption coefficient alpha (dB/m), ISO 9613-1:1993 eq. (5)."""
    if not 0.0 <= humidity_pct <= 100.0:
        raise ValueError(f'humidity {humidity_pct!r} outside 0..100 %')
    f = np.asarray(f, dtype=float)
    T = temperature_c + 273.15
    T0, T01 = 293.15, 273.16
    pa_pr = pressure_kpa / 101.325
    c_sat = -6.8346 * (T01 / T) ** 1.261 + 4.6151
    h = humidity_pct * 10.0 ** c_sat / pa_pr
    fr_o = pa_pr * (24.0 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    fr_n = pa_pr * (T / T0) ** -0.5 * (9.0 + 280.0 * h * math.exp(
        -4.170 * ((T / T0) ** (-1.0 / 3.0) - 1.0)))
    f2 = f * f
    return 8.686 * f2 * (1.84e-11 / pa_pr * (T / T0) ** 0.5 + (T / T0) ** -2.5 * (
        0.01275 * math.exp(-2239.1 / T) / (fr_o + f2 / fr_o)
        + 0.1068 * math.exp(-3352.0 / T) / (fr_n + f2 / fr_n)))


def maekawa_db(delta_m: float, f: np.ndarray, c: float, cap_db: float = 25.0) -> np.ndarray:
    """Barrier insertion loss (dB) from the path-length difference: 10 log10(3 + 20 N)."""
    if delta_m <= 0:
        return np.zeros_like(np.asarray(f, dtype=float))
    n = 2.0 * delta_m * np.asarray(f, dtype=float) / c
    return np.minimum(10.0 * np.log10(3.0 + 20.0 * n), cap_db)


@dataclass(frozen=True)
class Atmosphere:
    temperature_c: float = 15.0
    humidity_pct: float = 60.0
    pressure_kpa: float = 101.325

    @property
    def c(self) -> float:
        return speed_of_sound(self.temperature_c)


@dataclass(frozen=True)
class PropagationModel:
    """Which effects to apply; tests switch them off one by one to check the others."""

    ground_reflection: float = 0.85   # pressure reflection coefficient of asphalt (0: none)
    air_absorption: bool = True
    diffraction: bool = True
    ground_z: float = 0.0             # height of the (flat) ground in the map frame, m
    max_diffraction_db: float = 25.0


@dataclass(frozen=True)
class PathGeometry:
    """How sound gets from a source to a microphone."""

    direct_m: float      # straight-line 3D distance
    length_m: float      # length actually travelled (direct, or over/around buildings)
    occluded: bool

    @property
    def delta_m(self) -> float:
        return self.length_m - self.direct_m


def _upper_hull_length(pts: list[tuple[float, float]]) -> float:
    """Length of the upper convex hull from the first to the last point (sorted by x)."""
    pts = sorted(pts)
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return sum(math.dist(a, b) for a, b in zip(hull, hull[1:]))


def _around_length(polys: list[shapely.Geometry], s: np.ndarray, m: np.ndarray) -> float:
    """Shortest horizontal way around the convex hull of the blocking footprints."""
    hull = shapely.convex_hull(shapely.union_all(polys + [shapely.Point(s[:2]),
                                                          shapely.Point(m[:2])]))
    ring = np.asarray(hull.exterior.coords)[:-1]
    ds = np.hypot(*(ring - s[:2]).T)
    dm = np.hypot(*(ring - m[:2]).T)
    i, j = int(np.argmin(ds)), int(np.argmin(dm))
    if ds[i] > 1e-6 or dm[j] > 1e-6:
        return math.inf  # an end is inside the hull (courtyard): no way around
    seg = np.hypot(*np.diff(np.vstack([ring, ring[:1]]), axis=0).T)
    a, b = sorted((i, j))
    one = float(seg[a:b].sum())
    return min(one, float(seg.sum()) - one)


class BuildingMap:
    """Building footprints (shapely polygons in ENU metres) with roof heights above ground."""

    def __init__(self, buildings: Sequence[tuple[shapely.Geometry, float]] = (),
                 ground_z: float = 0.0):
        self.polygons: list[shapely.Geometry] = []
        self.heights: list[float] = []
        for i, item in enumerate(buildings):
            try:
                poly, height = item
            except (TypeError, ValueError):
                raise ValueError(f'buildings[{i}]: expected (polygon, height_m)') from None
            if not isinstance(poly, (shapely.Polygon, shapely.MultiPolygon)) or poly.is_empty:
                raise ValueError(f'buildings[{i}]: footprint must be a non-empty shapely Polygon')
            if not (math.isfinite(height) and height > 0):
                raise ValueError(f'buildings[{i}]: height {height!r} must be > 0 m')
            self.polygons.append(poly)
            self.heights.append(float(height))
        self.ground_z = ground_z
        self._tree = shapely.STRtree(self.polygons) if self.polygons else None

    def __len__(self) -> int:
        return len(self.polygons)

    def path(self, src: np.ndarray, dst: np.ndarray) -> PathGeometry:
        """The direct path, or the shorter of over-the-roofs and around-the-corner paths."""
        src = np.asarray(src, float)
        dst = np.asarray(dst, float)
        direct = float(np.linalg.norm(dst - src))
        if self._tree is None:
            return PathGeometry(direct, direct, False)
        line = shapely.LineString([src[:2], dst[:2]])
        horiz = float(line.length)
        if horiz < 1e-9:
            return PathGeometry(direct, direct, False)
        profile = [(0.0, float(src[2])), (horiz, float(dst[2]))]
        blocking = []
        for k in self._tree.query(line, predicate='intersects'):
            poly = self.polygons[k]
            if poly.contains(shapely.Point(src[:2])) or poly.contains(shapely.Point(dst[:2])):
                continue  # a microphone on a facade, a source in a doorway
            inter = poly.intersection(line)
            if inter.is_empty:
                continue
            coords = shapely.get_coordinates(inter)
            d = np.hypot(coords[:, 0] - src[0], coords[:, 1] - src[1])
            top = self.ground_z + self.heights[k]
            s_in, s_out = float(d.min()), float(d.max())
            z_line = src[2] + (dst[2] - src[2]) * np.array([s_in, s_out]) / horiz
            if np.all(z_line >= top):
                continue  # the ray passes over this roof
            profile += [(s_in, top), (s_out, top)]
            blocking.append(poly)
        if not blocking:
            return PathGeometry(direct, direct, False)
        over = _upper_hull_length(profile)
        around_h = _around_length(blocking, src, dst)
        around = math.hypot(around_h, float(dst[2] - src[2]))
        return PathGeometry(direct, max(direct, min(over, around)), True)


@dataclass
class Received:
    """A source as one microphone receives it: a piece of signal placed on the true clock."""

    start_sample: int          # global index (true clock) of samples[0]
    samples: np.ndarray        # pressure, Pa, float32
    arrival_time_s: float      # first onset at the microphone (true clock)
    path: PathGeometry
    peak_pa: float

    @property
    def end_sample(self) -> int:
        return self.start_sample + len(self.samples)


def estimate_level_db(level_db: float, path: PathGeometry, atm: Atmosphere,
                      model: PropagationModel, f: float = 1000.0) -> float:
    """Quick received level at one frequency, to skip microphones that cannot hear it."""
    loss = 20.0 * math.log10(max(path.length_m, 1.0))
    if model.air_absorption:
        loss += float(air_absorption_db_per_m(np.array([f]), atm.temperature_c,
                                              atm.humidity_pct, atm.pressure_kpa)[0]) \
            * path.length_m
    if model.diffraction and path.occluded:
        loss += float(maekawa_db(path.delta_m, np.array([f]), atm.c,
                                 model.max_diffraction_db)[0])
    return level_db - loss


def audible_paths(src: np.ndarray, mics: np.ndarray, buildings: BuildingMap, level_db: float,
                  audible_db: float, atm: Atmosphere,
                  model: PropagationModel = PropagationModel(),
                  max_range_m: float = math.inf) -> list[tuple[int, PathGeometry]]:
    """The microphones (rows of ``mics``) that hear a source of ``level_db`` at 1 m above
    ``audible_db`` at 1 kHz, each with the path it hears it along: what a test or a bench
    needs to place arrivals where the simulator would, without rendering any audio."""
    src = np.asarray(src, float)
    mics = np.asarray(mics, float)
    out = []
    for j in np.flatnonzero(np.linalg.norm(mics - src, axis=1) < max_range_m):
        path = buildings.path(src, mics[j])
        if estimate_level_db(level_db, path, atm, model) >= audible_db:
            out.append((int(j), path))
    return out


TAIL_S = 0.1  # length allowed for absorption/diffraction responses, s


def minimum_phase(gain_db: np.ndarray, nfft: int) -> np.ndarray:
    """Causal (minimum-phase) response with the magnitude ``gain_db`` on an rfft grid.

    A zero-phase attenuation spreads energy before the arrival (a strong diffraction low-pass
    rings ~20 ms early), which would make every onset measured downstream look early.
    Minimum phase keeps the magnitude and puts all the response after the arrival.
    """
    cep = np.fft.irfft(gain_db * (np.log(10.0) / 20.0), nfft)
    half = nfft // 2
    fold = np.zeros(nfft)
    fold[0] = cep[0]
    fold[1:half] = 2.0 * cep[1:half]
    fold[half] = cep[half] if nfft % 2 == 0 else 2.0 * cep[half]
    return np.exp(np.fft.rfft(fold, nfft))


def propagate(samples: np.ndarray, fs: int, onset_index: int, emission_time_s: float,
              src: np.ndarray, mic: np.ndarray, atm: Atmosphere,
              model: PropagationModel = PropagationModel(),
              buildings: BuildingMap | None = None,
              path: PathGeometry | None = None) -> Received:
    """Render what ``mic`` receives of a dry source emitted at ``emission_time_s``.

    ``samples`` are pascal at 1 m; the onset (``onset_index``) leaves the source at
    ``emission_time_s`` and reaches the microphone at ``emission_time_s + length / c``.
    """
    src = np.asarray(src, float)
    mic = np.asarray(mic, float)
    c = atm.c
    if path is None:
        if buildings is not None:
            path = buildings.path(src, mic)
        else:
            d = float(np.linalg.norm(mic - src))
            path = PathGeometry(d, d, False)
    length = max(path.length_m, 0.1)
    arrival = emission_time_s + length / c
    t0 = arrival - onset_index / fs              # when source sample 0 arrives
    k0 = math.floor(t0 * fs) - PAD
    frac = t0 * fs - k0                          # >= PAD, fractional
    paths: list[tuple[float, float, float]] = [(frac, 1.0 / length, length)]
    if model.ground_reflection > 0:
        zg = model.ground_z
        horiz = math.hypot(*(mic[:2] - src[:2]))
        image = math.hypot(horiz, (src[2] - zg) + (mic[2] - zg)) + path.delta_m
        extra = (image - length) / c * fs
        paths.append((frac + extra, model.ground_reflection / image, image))
    n_out = len(samples) + int(math.ceil(max(p[0] for p in paths))) + PAD
    # Room for the filters' causal tails, so that circular convolution cannot wrap them round
    # to before the arrival.
    nfft = sfft.next_fast_len(n_out + PAD + int(TAIL_S * fs), real=True)
    f = np.fft.rfftfreq(nfft, 1.0 / fs)
    spec = sfft.rfft(np.asarray(samples, dtype=np.float64), nfft)
    alpha = air_absorption_db_per_m(f, atm.temperature_c, atm.humidity_pct, atm.pressure_kpa) \
        if model.air_absorption else None
    barrier = maekawa_db(path.delta_m, f, c, model.max_diffraction_db) \
        if model.diffraction and path.occluded else None
    h = np.zeros(len(f), dtype=np.complex128)
    w = 2j * np.pi * f / fs
    for delay, gain, dist in paths:
        db = np.zeros(len(f))
        if alpha is not None:
            db -= alpha * dist
        if barrier is not None:
            db -= barrier
        shape = minimum_phase(db, nfft) if alpha is not None or barrier is not None else 1.0
        h += gain * shape * np.exp(-w * delay)
    if nfft % 2 == 0:
        h[-1] = 0.0  # a fractional delay at Nyquist is not representable
    y = sfft.irfft(spec * h, nfft)[:n_out]
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(FADE) / FADE)
    y[:FADE] *= ramp
    y[-FADE:] *= ramp[::-1]
    y32 = y.astype(np.float32)
    return Received(int(k0), y32, float(arrival), path, float(np.max(np.abs(y))))
