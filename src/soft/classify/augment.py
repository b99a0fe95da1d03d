"""Street acoustics for training data: facade reverberation, microphones, pitch and speed.

The classifier is judged on real street recordings, which carry what generated sources lack:
flutter between facades and a reverberant tail, a cheap microphone's port and presence peak,
and sources that run a little faster or higher than any generator's range. Everything here is
drawn from the rng passed in (deterministic), works on in-memory arrays, and keeps every onset
where it was, or moves its index exactly as the signal moved.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal

C_AIR = 343.0             # m/s; the drawn geometry is approximate anyway
KINDS = ('canyon', 'square')
RT60_S = (0.2, 2.5)       # mid-band (500-2000 Hz) reverberation time, drawn log-uniform
CROSSOVER_HZ = (500.0, 2000.0)
SINC_HALF = 8             # fractional-delay kernel: 16 Hann-windowed sinc taps
MAX_ORDER = 24            # facade reflections per path, beyond that the tail takes over
ECHO_S = 0.4              # single facade echoes are kept up to this delay (squares slap back)


@dataclass(frozen=True)
class StreetGeometry:
    """One drawn street: walls of a box (some absent), source, microphone, materials, tail.

    Walls are x = 0, x = length, y = 0, y = width (``walls`` says which exist); a canyon has
    only the two y facades. ``alpha`` is the facades' broadband energy absorption and
    ``hf_loss`` the extra high-frequency loss per reflection (balconies, scattering):
    one reflection's response is sqrt(1 - alpha) * (1 - 2 hf_loss + 2 hf_loss cos w).
    """

    kind: str
    width_m: float
    length_m: float
    height_m: float
    walls: tuple[bool, bool, bool, bool]   # x=0, x=length, y=0, y=width
    source: tuple[float, float, float]
    mic: tuple[float, float, float]
    alpha: float
    hf_loss: float
    ground: float           # pressure reflection coefficient of the ground for facade paths
    rt60_s: float           # mid band
    rt60_low_ratio: float   # below 500 Hz: rt60 * ratio (>= 1)
    rt60_high_ratio: float  # above 2 kHz: rt60 * ratio (< 1: highs decay faster)
    early_s: float          # image sources up to this delay after the direct sound, then tail
    tail_gain: float        # tail level relative to the early energy where it starts

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f'street kind {self.kind!r}: expected one of {KINDS}')
        if not (self.width_m > 0 and self.length_m > 0 and self.height_m > 0):
            raise ValueError(f'street geometry: width, length and height must be positive '
                             f'({self.width_m}, {self.length_m}, {self.height_m})')
        if not 0.0 < self.rt60_s <= 10.0:
            raise ValueError(f'rt60_s {self.rt60_s!r} outside (0, 10] s')
        if not (0.0 <= self.alpha < 1.0 and 0.0 <= self.hf_loss <= 0.25):
            raise ValueError(f'facade alpha {self.alpha!r} or hf_loss {self.hf_loss!r} '
                             'out of range')


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def draw_street(rng: np.random.Generator, kind: str | None = None,
                distance_m: float | None = None) -> StreetGeometry:
    """A random canyon (facades 8-40 m apart, 6-30 m high) or square (30-120 m, 1-4 walls).

    ``distance_m`` sets the source-microphone distance (the one the propagation already
    applied), so the reflections arrive where they would for that distance.
    """
    if kind is None:
        kind = KINDS[int(rng.random() < 0.35)]
    if kind not in KINDS:
        raise ValueError(f'street kind {kind!r}: expected one of {KINDS}')
    d = float(distance_m) if distance_m is not None else _log_uniform(rng, 5.0, 120.0)
    if not d > 0:
        raise ValueError(f'distance_m {distance_m!r} must be positive')
    zs, zm = float(rng.uniform(0.3, 2.0)), float(rng.uniform(2.5, 6.0))
    if kind == 'canyon':
        w = float(rng.uniform(8.0, 40.0))
        h = float(rng.uniform(6.0, 30.0))
        ys = float(rng.uniform(0.15, 0.85)) * w
        ym = float(rng.choice([rng.uniform(0.5, 2.0), w - rng.uniform(0.5, 2.0)]))
        across = ym - ys
        along = math.sqrt(max(d * d - across * across, 0.0))
        length = max(4.0 * along, 200.0) + 400.0  # open ends: no x walls
        xs = length / 2 - along / 2
        walls = (False, False, True, True)
        src, mic = (xs, ys, zs), (xs + along, ym, zm)
    else:
        w, length = float(rng.uniform(30.0, 120.0)), float(rng.uniform(30.0, 120.0))
        h = float(rng.uniform(6.0, 30.0))
        walls = tuple(bool(v) for v in rng.random(4) < 0.55)
        if not any(walls):
            walls = tuple(i == int(rng.integers(4)) for i in range(4))
        mic = (float(rng.uniform(0.05, 0.95)) * length, float(rng.uniform(0.05, 0.95)) * w, zm)
        # the source at distance d in a random direction, kept inside the square
        ang = float(rng.uniform(0.0, 2.0 * math.pi))
        reach = min(d, 0.95 * math.hypot(length, w))
        sx = float(np.clip(mic[0] + reach * math.cos(ang), 0.5, length - 0.5))
        sy = float(np.clip(mic[1] + reach * math.sin(ang), 0.5, w - 0.5))
        src = (sx, sy, zs)
    rt60 = _log_uniform(rng, *RT60_S)
    return StreetGeometry(
        kind=kind, width_m=w, length_m=length, height_m=h, walls=walls,
        source=src, mic=mic,
        alpha=float(rng.uniform(0.02, 0.2)), hf_loss=float(rng.uniform(0.02, 0.12)),
        ground=float(rng.uniform(0.7, 0.95)),
        rt60_s=rt60, rt60_low_ratio=float(rng.uniform(1.0, 1.3)),
        rt60_high_ratio=float(rng.uniform(0.45, 0.8)),
        early_s=float(rng.uniform(0.05, 0.12)),
        tail_gain=float(rng.uniform(0.5, 1.5)))


def _axis_images(s: float, size: float, lo: bool, hi: bool, n_max: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates of ``s`` between walls at 0 (``lo``) and ``size`` (``hi``), orders."""
    if lo and hi:
        n = np.arange(-n_max, n_max + 1)
        pos = np.concatenate([2 * n * size + s, 2 * n * size - s])
        order = np.concatenate([np.abs(2 * n), np.abs(2 * n - 1)])
        return pos, order
    pos, order = [s], [0]
    if lo:
        pos, order = pos + [-s], order + [1]
    if hi:
        pos, order = pos + [2 * size - s], order + [1]
    return np.array(pos), np.array(order)


def image_paths(g: StreetGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(delay after the direct sound s, gain relative to it, facade order) of each image.

    Every facade image comes with its ground image; the direct path's own ground reflection
    is left out: propagation already renders it. Reflections that would hit a facade above
    its height are dropped. Images arrive up to ``early_s`` after the direct sound; in a
    square single facade echoes up to ``ECHO_S`` (a far wall across it slaps back; in a
    canyon the flutter goes on and the tail stands for it).
    """
    src, mic = np.asarray(g.source), np.asarray(g.mic)
    r0 = float(np.linalg.norm(mic - src))
    reach = r0 + C_AIR * g.early_s
    nx = int(reach / (2 * g.length_m)) + 1
    ny = int(reach / (2 * g.width_m)) + 1
    px, ox = _axis_images(src[0], g.length_m, g.walls[0], g.walls[1], nx)
    py, oy = _axis_images(src[1], g.width_m, g.walls[2], g.walls[3], ny)
    X, Y = np.meshgrid(px, py, indexing='ij')
    order = (ox[:, None] + oy[None, :]).ravel()
    X, Y = X.ravel(), Y.ravel()
    horiz = np.hypot(X - mic[0], Y - mic[1])
    keep = (order >= 1) & (order <= MAX_ORDER) & (horiz <= r0 + C_AIR * max(g.early_s, ECHO_S))
    X, Y, order, horiz = X[keep], Y[keep], order[keep], horiz[keep]
    out_d, out_g, out_o = [], [], []
    for z_img, coeff in ((src[2], 1.0), (-src[2], g.ground)):
        r = np.hypot(horiz, mic[2] - z_img)
        # the image ray climbs linearly from z_img to the mic: its height at the farthest
        # facade it crosses is below the mic's or the image's, both under any facade >= 6 m,
        # but a tall mic in a low street can exceed it
        ok = np.maximum(abs(z_img), mic[2]) <= g.height_m
        echo_s = max(g.early_s, ECHO_S) if g.kind == 'square' else g.early_s
        late = r - r0 - C_AIR * np.where(order == 1, echo_s, g.early_s)
        sel = (late <= 0) & ok
        out_d.append((r[sel] - r0) / C_AIR)
        out_g.append(coeff * r0 / r[sel])
        out_o.append(order[sel])
    return np.concatenate(out_d), np.concatenate(out_g), np.concatenate(out_o)


@lru_cache(maxsize=8)
def _crossovers(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    lo = signal.butter(4, CROSSOVER_HZ[0], 'lowpass', fs=sample_rate, output='sos')
    hi = signal.butter(4, min(CROSSOVER_HZ[1], 0.45 * sample_rate), 'lowpass',
                       fs=sample_rate, output='sos')
    return lo, hi


def render_ir(g: StreetGeometry, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """The impulse response of ``g``: unit direct sound at index 0, images, diffuse tail.

    Images sit at exact fractional delays (windowed sinc) and are grouped by facade order so
    the frequency-dependent facade loss is applied order by order (Horner's scheme: one short
    zero-phase FIR per order). The tail is noise whose decay differs below 500 Hz, 500-2000 Hz
    and above 2 kHz, started at ``early_s`` at the level the early reflections reached there.
    """
    sr = int(sample_rate)
    delays, gains, orders = image_paths(g)
    last = float(delays.max()) if delays.size else 0.0
    n_early = int(math.ceil(max(g.early_s, last) * sr)) + 2 * SINC_HALF + 2
    k_max = int(orders.max()) if orders.size else 0
    bufs = np.zeros((k_max + 1, n_early + SINC_HALF))
    if orders.size:
        pos = delays * sr
        base = np.floor(pos).astype(np.int64)
        frac = pos - base
        offs = np.arange(-SINC_HALF + 1, SINC_HALF + 1)
        t = offs[None, :] - frac[:, None]
        kern = np.sinc(t) * (0.5 + 0.5 * np.cos(np.pi * t / SINC_HALF))
        idx = base[:, None] + offs[None, :]
        valid = (idx >= 1) & (idx < bufs.shape[1])   # the direct sound alone at 0
        rows = np.broadcast_to(orders[:, None], idx.shape)
        np.add.at(bufs, (rows[valid], idx[valid]), (kern * gains[:, None])[valid])
    refl = math.sqrt(1.0 - g.alpha)
    fir = refl * np.array([g.hf_loss, 1.0 - 2.0 * g.hf_loss, g.hf_loss])
    early = bufs[k_max].copy()
    for k in range(k_max - 1, -1, -1):
        early = np.convolve(early, fir, mode='same') + bufs[k]
    early[0] = 1.0  # the direct sound; reflections spill nothing onto or before it

    # diffuse tail from early_s on, band by band
    t0 = int(round(g.early_s * sr))
    rt_low = g.rt60_s * g.rt60_low_ratio
    n_tail = int(math.ceil(1.1 * rt_low * sr))
    # the tail continues the reflections' energy density (spread over the span they arrive
    # in), decayed from mid-window to t0; a square with few walls holds less than a canyon
    span = max(t0, early.size - 2 * SINC_HALF)
    p0 = float(np.sum(early[1:] ** 2)) / span * 10.0 ** (-3.0 * g.early_s / g.rt60_s) \
        * g.tail_gain
    if g.kind == 'square':
        p0 *= sum(g.walls) / 4.0
    ir = np.zeros(max(t0 + n_tail, early.size))
    ir[:early.size] = early
    if p0 > 0:
        t = np.arange(n_tail) / sr
        env = {name: np.exp(-6.9078 * t / rt) for name, rt in
               (('low', rt_low), ('mid', g.rt60_s), ('high', g.rt60_s * g.rt60_high_ratio))}
        noise = rng.standard_normal(n_tail) * math.sqrt(p0)
        lp_lo, lp_hi = _crossovers(sr)
        tail = noise * env['high'] \
            + signal.sosfilt(lp_hi, noise * (env['mid'] - env['high'])) \
            + signal.sosfilt(lp_lo, noise * (env['low'] - env['mid']))
        ramp = min(n_tail, max(8, int(0.01 * sr)))
        tail[:ramp] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        ir[t0:t0 + n_tail] += tail
    return ir


def street_ir(rng: np.random.Generator, sample_rate: int, kind: str | None = None,
              distance_m: float | None = None) -> np.ndarray:
    """A random street's impulse response (direct sound first, at index 0 with gain 1)."""
    return render_ir(draw_street(rng, kind, distance_m), sample_rate, rng)


def reverberate(x: np.ndarray, onset: int, ir: np.ndarray) -> tuple[np.ndarray, int]:
    """``x`` heard in the street of ``ir``; the onset index is unchanged (direct path first).

    The output is longer than ``x`` by the IR's length minus one (the tail rings on).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or ir.ndim != 1 or not ir.size:
        raise ValueError(f'reverberate: expected 1-D signal and IR, got shapes {x.shape}, '
                         f'{ir.shape}')
    return signal.fftconvolve(x, ir), int(onset)


# --- microphones -----------------------------------------------------------------------------

@dataclass(frozen=True)
class MicParams:
    """A street microphone's deviation from flat, normalised to 0 dB at 1 kHz."""

    highpass_hz: float
    highpass_order: int
    presence_hz: float
    presence_db: float
    presence_q: float
    rolloff_hz: float
    rolloff_db: float   # high shelf, <= 0
    tilt_db: float      # high-frequency shelf minus low-frequency shelf, around 1 kHz


def draw_mic(rng: np.random.Generator, sample_rate: int) -> MicParams:
    """A MEMS or electret capsule behind a port and a wind screen."""
    nyq = 0.5 * sample_rate
    return MicParams(
        highpass_hz=_log_uniform(rng, 40.0, 250.0), highpass_order=int(rng.integers(1, 3)),
        presence_hz=float(rng.uniform(2000.0, min(7000.0, 0.85 * nyq))),
        presence_db=float(rng.uniform(0.0, 6.0)), presence_q=float(rng.uniform(0.7, 2.5)),
        rolloff_hz=float(rng.uniform(min(4000.0, 0.5 * nyq), min(7000.0, 0.9 * nyq))),
        rolloff_db=float(rng.uniform(-6.0, -1.0)),
        tilt_db=float(rng.uniform(-3.0, 3.0)))


def _rbj(kind: str, f0: float, gain_db: float, q: float, fs: int) -> np.ndarray:
    """One biquad from R. Bristow-Johnson's Audio EQ Cookbook, as an sos row."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * f0 / fs
    cw, sw = math.cos(w0), math.sin(w0)
    al = sw / (2.0 * q)
    if kind == 'highpass':
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        den = [1 + al, -2 * cw, 1 - al]
    elif kind == 'peak':
        b = [1 + al * a, -2 * cw, 1 - al * a]
        den = [1 + al / a, -2 * cw, 1 - al / a]
    else:
        sa = 2.0 * math.sqrt(a) * al
        sign = 1.0 if kind == 'lowshelf' else -1.0
        b = [a * ((a + 1) - sign * (a - 1) * cw + sa),
             sign * 2 * a * ((a - 1) - sign * (a + 1) * cw),
             a * ((a + 1) - sign * (a - 1) * cw - sa)]
        den = [(a + 1) + sign * (a - 1) * cw + sa,
               -sign * 2 * ((a - 1) + sign * (a + 1) * cw),
               (a + 1) + sign * (a - 1) * cw - sa]
    return np.array(b + den) / den[0]


def mic_sos(p: MicParams, sample_rate: int) -> np.ndarray:
    """The biquad cascade of ``p``, 0 dB at 1 kHz."""
    fs = int(sample_rate)
    s = 1.0 / math.sqrt(2.0)
    if p.highpass_order == 2:  # RBJ's high-pass at Q = 1/sqrt(2) is the Butterworth one
        hp = _rbj('highpass', p.highpass_hz, 0.0, s, fs)
    else:  # first order, bilinear with pre-warping
        k = math.tan(math.pi * p.highpass_hz / fs)
        hp = np.array([1.0, -1.0, 0.0, 1.0 + k, k - 1.0, 0.0]) / (1.0 + k)
    sos = [hp[None],
           _rbj('peak', p.presence_hz, p.presence_db, p.presence_q, fs)[None],
           _rbj('highshelf', p.rolloff_hz, p.rolloff_db, s, fs)[None],
           _rbj('lowshelf', 1000.0, -p.tilt_db / 2.0, 0.5, fs)[None],
           _rbj('highshelf', 1000.0, p.tilt_db / 2.0, 0.5, fs)[None]]
    sos = np.concatenate(sos)
    sos[0, :3] /= abs(sos_gain(sos, 1000.0, fs))
    return sos


def sos_gain(sos: np.ndarray, f: float | np.ndarray, sample_rate: int) -> np.ndarray:
    """Complex response of ``sos`` at ``f`` Hz (cheaper than scipy's for a few points)."""
    z = np.exp(-2j * np.pi * np.asarray(f, dtype=float) / sample_rate)
    h = np.ones_like(z)
    for b0, b1, b2, a0, a1, a2 in sos:
        h = h * (b0 + b1 * z + b2 * z * z) / (a0 + a1 * z + a2 * z * z)
    return h


def mic_response(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A random street microphone as scipy second-order sections (see :func:`draw_mic`)."""
    return mic_sos(draw_mic(rng, sample_rate), sample_rate)


def apply_mic(x: np.ndarray, sos: np.ndarray, pad: int = 512) -> np.ndarray:
    """``x`` through the microphone, primed on a mirrored lead-in of ``pad`` samples.

    A window cut from a longer stream has no silence before it; filtering it from rest turns
    a large low-frequency swing at its first sample into a step through the port filter,
    which no real sensor produces.
    """
    x = np.asarray(x, dtype=np.float64)
    k = min(pad, x.size - 1)
    if k <= 0:
        return signal.sosfilt(sos, x)
    y = signal.sosfilt(sos, np.concatenate([x[k:0:-1], x]))
    return y[k:]


# --- bandwidth -------------------------------------------------------------------------------

BANDLIMIT_ORDERS = (4, 8, 16)    # a distant source or soft codec ... a resampled recording


def bandlimit_sos(cutoff_hz: float, sample_rate: int, order: int = 16) -> np.ndarray:
    """Butterworth low-pass at ``cutoff_hz`` as second-order sections.

    Order 16 stands for a recording made at twice ``cutoff_hz`` and resampled: nothing above
    its Nyquist frequency survives (11.025 kHz sources stop at 5.5 kHz, 8 kHz ones at 4 kHz).
    Lower orders stand for the gentler losses of distance, wind screens and codecs.
    """
    nyq = 0.5 * sample_rate
    if not 0.0 < cutoff_hz < nyq:
        raise ValueError(f'cutoff_hz {cutoff_hz}: must lie between 0 and the Nyquist '
                         f'frequency {nyq:g} Hz')
    return signal.butter(int(order), cutoff_hz, fs=sample_rate, output='sos')


def draw_bandlimit(rng: np.random.Generator, sample_rate: int,
                   cutoff_hz: tuple[float, float]) -> np.ndarray:
    """A random band limit: cutoff log-uniform in ``cutoff_hz``, order from BANDLIMIT_ORDERS."""
    hi = min(cutoff_hz[1], 0.95 * 0.5 * sample_rate)
    return bandlimit_sos(_log_uniform(rng, min(cutoff_hz[0], hi), hi), sample_rate,
                         int(rng.choice(BANDLIMIT_ORDERS)))


# --- speed and pitch -------------------------------------------------------------------------

def _ratio(factor: float, max_den: int = 48) -> Fraction:
    if not 0.25 <= factor <= 4.0 or not math.isfinite(factor):
        raise ValueError(f'speed/pitch factor {factor!r} outside 0.25..4')
    return Fraction(1.0 / factor).limit_denominator(max_den)


def speed(x: np.ndarray, onset: int, factor: float) -> tuple[np.ndarray, int]:
    """Play ``x`` ``factor`` times faster (shorter and higher), as tape or a faster motor.

    Polyphase resampling by the closest ratio up/down with small terms; the filter is
    zero-phase, so sample ``onset`` lands at ``onset * up / down``.
    """
    r = _ratio(factor)
    if r == 1:
        return np.asarray(x, dtype=np.float64).copy(), int(onset)
    y = signal.resample_poly(np.asarray(x, dtype=np.float64), r.numerator, r.denominator)
    return y, int(round(onset * r.numerator / r.denominator))


def time_stretch(x: np.ndarray, rate: float, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """``x`` played ``rate`` times faster at the same pitch (phase vocoder, vectorised).

    Good enough for sustained sounds (motors, sirens, horns); it smears sharp attacks, so
    impulsive sounds are only ever sped up, never pitch-shifted.
    """
    if n_fft % hop or not rate > 0:
        raise ValueError(f'time_stretch: n_fft {n_fft} must be a multiple of hop {hop}, '
                         f'rate {rate!r} positive')
    x = np.asarray(x, dtype=np.float64)
    if x.size < n_fft:
        return x.copy()
    win = np.hanning(n_fft + 1)[:-1]
    pad = np.concatenate([np.zeros(n_fft), x, np.zeros(n_fft)])
    n_frames = 1 + (pad.size - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop][:n_frames]
    spec = np.fft.rfft(frames * win, axis=1)
    steps = np.arange(0.0, n_frames - 1, rate)
    # a float arange may overshoot its stop by a rounding error: keep i0 + 1 in range
    steps = steps[steps < n_frames - 1]
    i0 = steps.astype(np.int64)
    frac = (steps - i0)[:, None]
    mag = (1 - frac) * np.abs(spec[i0]) + frac * np.abs(spec[i0 + 1])
    omega = 2 * np.pi * hop * np.arange(spec.shape[1]) / n_fft
    dphi = np.angle(spec[i0 + 1]) - np.angle(spec[i0]) - omega
    dphi -= 2 * np.pi * np.round(dphi / (2 * np.pi))
    phase = np.angle(spec[0]) + np.concatenate(
        [np.zeros((1, spec.shape[1])), np.cumsum(omega + dphi, axis=0)[:-1]])
    out_frames = np.fft.irfft(mag * np.exp(1j * phase), n=n_fft, axis=1) * win
    # overlap-add block by block (n_fft is a multiple of hop): no scattered adds
    per = n_fft // hop
    n_seg = len(steps) + per - 1
    y = np.zeros((n_seg, hop))
    norm = np.zeros((n_seg, hop))
    w2 = (win * win).reshape(per, hop)
    for b in range(per):
        y[b:b + len(steps)] += out_frames[:, b * hop:(b + 1) * hop]
        norm[b:b + len(steps)] += w2[b]
    y, norm = y.ravel(), norm.ravel()
    y /= np.maximum(norm, 1e-3 * norm.max())
    start = int(round(n_fft / rate))
    return y[start:start + int(round(x.size / rate))]


def pitch(x: np.ndarray, onset: int, factor: float) -> tuple[np.ndarray, int]:
    """``x`` with every frequency times ``factor`` and the same duration and onset.

    Stretched by the phase vocoder to ``factor`` times its length, then sped up by
    ``factor`` with :func:`speed`; the result is trimmed or zero-padded to ``x.size``.
    """
    r = _ratio(factor)
    f = r.denominator / r.numerator  # the speed factor speed() will really apply
    x = np.asarray(x, dtype=np.float64)
    stretched = time_stretch(x, 1.0 / f)
    y, _ = speed(stretched, 0, f)
    out = np.zeros(x.size)
    m = min(x.size, y.size)
    out[:m] = y[:m]
    return out, int(onset)
