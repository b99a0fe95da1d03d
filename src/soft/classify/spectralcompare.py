"""Spectral statistics of generated sounds against the real clips of the same class.

A model trained on generated sounds only transfers to the street if the generators sound
like the real thing; this module says where they do not. Every clip, real or generated, is
measured around its main event with the same code and level-normalised (real clips are of
unknown scale), then each class's generated distribution (dry, and as a street microphone
hears it 20-100 m away) is set against the real one: medians, IQRs, a standardised
difference and a flag where the generated median leaves the real interquartile range.

Audio stays in memory; the report holds statistics only.

``python -m soft.classify.spectralcompare [DATA] --out report.json [--markdown FILE]``
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from soft.classify.dataset import default_data_dir, load_clips, load_devset, onsets

SAMPLE_RATE = 16000
PRE_S = 0.05          # analysis starts this long before the onset
EVENT_S = 1.0         # spectrum / crest window after the onset (the classifier's window)
LONG_S = 6.0          # envelope and pitch-track span after the onset
N_BANDS = 24
F_LO, F_HI = 50.0, 8000.0
ENV_HOP_S = 0.001
ENV_SMOOTH_S = 0.005
PITCH_RANGE = (150.0, 4000.0)
LOW_SPLIT, HIGH_SPLIT = 500.0, 2000.0
DISTANCE_M = (20.0, 100.0)
# dry at 1 m; propagated to a street mic; and also through a facade reverb as the training
# augmentation (soft.classify.augment) renders half of the generated events
CONDITIONS = ('dry', 'street', 'reverb')
EPS = 1e-20
# band levels below this (dB re the total) count as this in spectrum differences: real clips
# carry a background floor there, and training mixes background over that range anyway
BAND_FLOOR_DB = -40.0


@dataclass(frozen=True)
class Comparison:
    """A generator kind and the manifest labels whose real clips it should resemble."""

    name: str
    kind: str
    labels: tuple[str, ...]
    tonal: bool = False
    variant: str | None = None  # compare one variant only (the real clips show just that one)


COMPARISONS: tuple[Comparison, ...] = (
    Comparison('gunshot', 'gunshot', ('gunshot',)),
    Comparison('explosion', 'explosion', ('explosion',)),
    Comparison('siren', 'siren', ('siren',), tonal=True),
    Comparison('crackling', 'crackling', ('crackling_fire', 'crackling')),
    Comparison('glass_break', 'glass_break', ('glass_break',)),
    Comparison('scream', 'scream', ('scream',), tonal=True),
    Comparison('car_horn', 'car_horn', ('car_horn',), tonal=True),
    Comparison('crash', 'crash', ('crash',)),
    Comparison('whistle', 'whistle', ('whistle',), tonal=True),
    Comparison('angle_grinder', 'angle_grinder', ('chainsaw',), tonal=True, variant='chainsaw'),
    Comparison('drill', 'drill', (), tonal=True),
    Comparison('aerosol_spray', 'aerosol_spray', ()),
    Comparison('door_slam', 'door_slam', ('door_slam',)),
    Comparison('footsteps', 'footsteps', ('footsteps',)),
    Comparison('dog_bark', 'dog_bark', ('dog',), tonal=True),
    Comparison('music', 'music', ('music',), tonal=True),
)

BASE_STATS = ('centroid_hz', 'bandwidth_hz', 'flatness', 'rolloff85_hz', 'low_high_db',
              'attack_s', 'decay20_s', 'above20_s', 'crest_db')
TONAL_STATS = ('dominant_hz', 'mod_rate_hz', 'mod_depth_st')
# smallest spread used to standardise a difference (a class with 1-2 clips has no IQR)
SCALE_FLOOR = {'centroid_hz': 50.0, 'bandwidth_hz': 50.0, 'flatness': 0.01,
               'rolloff85_hz': 100.0, 'low_high_db': 1.0, 'attack_s': 0.002,
               'decay20_s': 0.01, 'above20_s': 0.01, 'crest_db': 0.5, 'dominant_hz': 20.0,
               'mod_rate_hz': 0.2, 'mod_depth_st': 0.5}


def band_edges(n_bands: int = N_BANDS, lo: float = F_LO, hi: float = F_HI) -> np.ndarray:
    """Mel-spaced band edges in Hz: equal perceptual weight per band, as the model's input."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)
    m = np.linspace(mel(lo), mel(hi), n_bands + 1)
    return 700.0 * (10 ** (m / 2595.0) - 1.0)


def event_region(x: np.ndarray, fs: int, onset: int | None = None) -> tuple[np.ndarray, int]:
    """Samples from just before the main onset to LONG_S after it, and the onset within.

    The onset comes from the same finder the training crops use, unless given.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 16:
        raise ValueError(f'clip: expected a mono signal of at least 16 samples, got {x.shape}')
    if not np.all(np.isfinite(x)):
        raise ValueError('clip: non-finite samples')
    if onset is None:
        onset = onsets(x, fs, top=1)[0]
    start = max(0, int(onset) - int(PRE_S * fs))
    end = min(x.size, int(onset) + int(LONG_S * fs))
    return x[start:end], int(onset) - start


def _psd(x: np.ndarray, fs: int) -> tuple[np.ndarray, np.ndarray]:
    nper = min(1024, max(64, 1 << int(np.log2(max(x.size, 64)))))
    f, p = signal.welch(x, fs, nperseg=nper, noverlap=nper // 2, detrend='constant')
    return f, p


def _envelope_db(x: np.ndarray, fs: int) -> np.ndarray:
    """Smoothed energy envelope in dB at ENV_HOP_S steps (5 ms moving average of x**2)."""
    k = max(1, int(ENV_SMOOTH_S * fs))
    e = np.convolve(x * x, np.ones(k) / k, 'same')
    hop = max(1, int(ENV_HOP_S * fs))
    return 10 * np.log10(e[::hop] + EPS)


def envelope_stats(x: np.ndarray, fs: int) -> dict[str, float]:
    """Attack (10-90 % of the peak amplitude), decay to -20 dB, time above -20 dB."""
    env = _envelope_db(x, fs)
    hop = ENV_HOP_S
    p = int(np.argmax(env))
    peak = env[p]
    amp = 10 ** ((env - peak) / 20)  # amplitude re peak
    below10 = np.nonzero(amp[:p + 1] < 0.1)[0]
    a0 = int(below10[-1]) + 1 if below10.size else 0
    a1 = a0 + int(np.argmax(amp[a0:p + 1] >= 0.9))
    after = np.nonzero(env[p:] < peak - 20.0)[0]
    decay = (int(after[0]) if after.size else env.size - p) * hop
    return {'attack_s': (a1 - a0) * hop, 'decay20_s': decay,
            'above20_s': float(np.sum(env >= peak - 20.0)) * hop}


def spectrum_stats(x: np.ndarray, fs: int, edges: np.ndarray
                   ) -> tuple[dict[str, float], np.ndarray]:
    """Long-term spectrum statistics and band levels (dB re the total) of one event window."""
    f, p = _psd(x, fs)
    keep = (f >= F_LO) & (f <= min(F_HI, fs / 2))
    f, p = f[keep], p[keep] + EPS
    tot = float(np.sum(p))
    c = float(np.sum(f * p) / tot)
    bw = float(np.sqrt(np.sum((f - c) ** 2 * p) / tot))
    flat = float(np.exp(np.mean(np.log(p))) / np.mean(p))
    roll = float(f[min(f.size - 1, int(np.searchsorted(np.cumsum(p), 0.85 * tot)))])
    low = float(np.sum(p[f < LOW_SPLIT]))
    high = float(np.sum(p[f >= HIGH_SPLIT]))
    idx = np.clip(np.searchsorted(edges, f, side='right') - 1, 0, len(edges) - 2)
    bands = np.bincount(idx, weights=p, minlength=len(edges) - 1)
    bands_db = 10 * np.log10(bands / tot + 1e-12)
    return ({'centroid_hz': c, 'bandwidth_hz': bw, 'flatness': flat, 'rolloff85_hz': roll,
             'low_high_db': 10 * np.log10((low + EPS) / (high + EPS))}, bands_db)


def pitch_stats(x: np.ndarray, fs: int) -> dict[str, float]:
    """Dominant frequency and how it moves: median peak, modulation rate and depth.

    The spectral peak per 10 ms frame (parabolic interpolation) in PITCH_RANGE, over frames
    within 20 dB of the loudest, gives a track; its depth is the 5-95 % span in semitones and
    its rate the strongest periodicity of the track between 0.1 and 20 Hz (a wail's sweep,
    a yelp's warble, a horn's steadiness).
    """
    nfft, hop = 1024, fs // 100
    if x.size < nfft:
        x = np.pad(x, (0, nfft - x.size))
    f, _, z = signal.stft(x, fs, nperseg=nfft, noverlap=nfft - hop, boundary=None,
                          padded=False)
    mag = np.abs(z) ** 2
    band = (f >= PITCH_RANGE[0]) & (f <= PITCH_RANGE[1])
    sub = mag[band]
    fb = f[band]
    energy = 10 * np.log10(np.sum(mag, axis=0) + EPS)
    live = energy >= np.max(energy) - 20.0
    k = np.argmax(sub, axis=0)
    k = np.clip(k, 1, sub.shape[0] - 2)
    cols = np.arange(sub.shape[1])
    a, b, c = (np.log(sub[k - 1, cols] + EPS), np.log(sub[k, cols] + EPS),
               np.log(sub[k + 1, cols] + EPS))
    den = a - 2 * b + c
    delta = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / np.where(den == 0, 1, den), 0.0)
    track = fb[k] + np.clip(delta, -0.5, 0.5) * (fb[1] - fb[0])
    track = track[live]
    if track.size == 0:
        return {'dominant_hz': float('nan'), 'mod_rate_hz': float('nan'),
                'mod_depth_st': float('nan')}
    st = 12 * np.log2(track / np.median(track))
    depth = float(np.percentile(st, 95) - np.percentile(st, 5))
    rate = float('nan')
    if st.size >= 20:
        y = (st - np.mean(st)) * np.hanning(st.size)
        nz = max(4096, 4 * st.size)
        spec = np.abs(np.fft.rfft(y, nz))
        fr = np.fft.rfftfreq(nz, 1.0 / 100.0)
        ok = (fr >= max(0.1, 100.0 / st.size)) & (fr <= 20.0)
        if np.any(ok):
            rate = float(fr[ok][np.argmax(spec[ok])])
    return {'dominant_hz': float(np.median(track)), 'mod_rate_hz': rate, 'mod_depth_st': depth}


def clip_stats(x: np.ndarray, fs: int, edges: np.ndarray | None = None,
               onset: int | None = None, tonal: bool = True
               ) -> tuple[dict[str, float], np.ndarray]:
    """Every statistic of one clip around its main event, and its band levels (dB re total).

    Level-free by construction: band levels are relative to the total, envelope times to the
    peak, crest factor is a ratio. A silent clip is a ValueError.
    """
    edges = band_edges() if edges is None else edges
    seg, on = event_region(x, fs, onset)
    if float(np.max(np.abs(seg))) <= 0:
        raise ValueError('clip: silent around its onset')
    seg = seg / np.max(np.abs(seg))
    ev = seg[:on + int(EVENT_S * fs)]
    stats, bands = spectrum_stats(ev, fs, edges)
    stats.update(envelope_stats(seg, fs))
    rms = float(np.sqrt(np.mean(ev * ev)))
    stats['crest_db'] = 20 * np.log10(float(np.max(np.abs(ev))) / (rms + EPS))
    if tonal:
        stats.update(pitch_stats(seg, fs))
    return stats, bands


def _summary(values: np.ndarray) -> dict[str, float]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {'median': None, 'q25': None, 'q75': None, 'p05': None, 'p95': None, 'n': 0}
    q = np.percentile(v, [5, 25, 50, 75, 95])
    return {'median': float(q[2]), 'q25': float(q[1]), 'q75': float(q[3]),
            'p05': float(q[0]), 'p95': float(q[4]), 'n': int(v.size)}


def compare_stat(real: np.ndarray, gen: np.ndarray, stat: str) -> dict:
    """Real vs generated for one statistic: summaries, standardised difference, flag.

    ``z`` = (generated median - real median) / real IQR (floored by SCALE_FLOOR so a class
    with one or two clips still gets a finite figure); ``outside`` when the generated median
    leaves the real IQR; ``coverage`` the share of real clips inside the generated 5-95 %
    range, which is what training needs: real sounds inside what the model has seen.
    """
    r, g = _summary(np.asarray(real, float)), _summary(np.asarray(gen, float))
    out = {'real': r, 'gen': g, 'z': None, 'outside': False, 'coverage': None}
    if r['n'] == 0 or g['n'] == 0:
        return out
    scale = max(r['q75'] - r['q25'], SCALE_FLOOR.get(stat, 1e-6))
    out['z'] = (g['median'] - r['median']) / scale
    out['outside'] = bool(g['median'] < r['q25'] or g['median'] > r['q75'])
    rv = np.asarray(real, float)
    rv = rv[np.isfinite(rv)]
    out['coverage'] = float(np.mean((rv >= g['p05']) & (rv <= g['p95'])))
    return out


def _collect(items, fs, edges, tonal) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rows, bands = [], []
    for x, onset in items:
        try:
            s, b = clip_stats(x, fs, edges, onset=onset, tonal=tonal)
        except ValueError:
            continue
        rows.append(s)
        bands.append(b)
    keys = rows[0].keys() if rows else ()
    return ({k: np.array([r[k] for r in rows], float) for k in keys},
            np.array(bands) if bands else np.zeros((0, len(edges) - 1)))


def generated_items(kind: str, n: int, rng: np.random.Generator, fs: int, condition: str,
                    variant: str | None = None) -> list[tuple[np.ndarray, None]]:
    """``n`` rendered sounds of ``kind``: dry at 1 m, propagated 20-100 m to a street mic,
    or propagated and then reverberated by a random street canyon or square."""
    from soft.classify import augment
    from soft.classify.featureset import propagate
    from soft.sim.sources import synthesize

    out = []
    for _ in range(n):
        src = synthesize(kind, rng, fs, variant=variant)
        x = src.samples.astype(np.float64)
        if condition in ('street', 'reverb'):
            d = float(np.exp(rng.uniform(*np.log(DISTANCE_M))))
            x, onset = propagate(x, src.onset_index, fs, d, rng)
            if condition == 'reverb':
                x, _ = augment.reverberate(x, onset, augment.street_ir(rng, fs, distance_m=d))
        elif condition != 'dry':
            raise ValueError(f'condition {condition!r}: expected one of {CONDITIONS}')
        out.append((x, None))
    return out


def compare_class(comp: Comparison, real: list[np.ndarray], n: int,
                  rng: np.random.Generator, fs: int = SAMPLE_RATE,
                  edges: np.ndarray | None = None) -> dict:
    """The report entry of one class: 'no real clips' if none, else every comparison."""
    edges = band_edges() if edges is None else edges
    entry = {'kind': comp.kind, 'variant': comp.variant, 'labels': list(comp.labels),
             'n_real': len(real), 'tonal': comp.tonal}
    if not real:
        entry['status'] = 'no real clips'
        return entry
    stats_real, bands_real = _collect([(x, None) for x in real], fs, edges, comp.tonal)
    if not len(bands_real):
        entry['status'] = 'no usable real clips'
        return entry
    entry['status'] = 'ok'
    names = BASE_STATS + (TONAL_STATS if comp.tonal else ())
    real_med = np.median(bands_real, axis=0)
    entry['spectrum'] = {'real_median_db': _r(real_med), 'floor_db': BAND_FLOOR_DB}
    entry['stats'] = {s: {} for s in names}
    entry['flags'] = []
    entry['n_generated'] = {}
    for cond in CONDITIONS:
        items = generated_items(comp.kind, n, rng, fs, cond, comp.variant)
        stats_gen, bands_gen = _collect(items, fs, edges, comp.tonal)
        entry['n_generated'][cond] = len(bands_gen)
        gen_med = np.median(bands_gen, axis=0)
        entry['spectrum'][f'{cond}_median_db'] = _r(gen_med)
        diff = np.maximum(gen_med, BAND_FLOOR_DB) - np.maximum(real_med, BAND_FLOOR_DB)
        entry['spectrum'][f'{cond}_mean_abs_db'] = round(float(np.mean(np.abs(diff))), 2)
        worst = np.argsort(-np.abs(diff))[:3]
        entry['spectrum'][f'{cond}_worst_bands'] = [
            {'band_hz': [round(float(edges[i])), round(float(edges[i + 1]))],
             'diff_db': round(float(diff[i]), 1)} for i in sorted(worst)]
        for s in names:
            c = compare_stat(stats_real[s], stats_gen[s], s)
            entry['stats'][s]['real'] = _rd(c['real'])
            entry['stats'][s][cond] = _rd(c['gen']) | {
                'z': None if c['z'] is None else round(c['z'], 2), 'outside': c['outside'],
                'coverage': None if c['coverage'] is None else round(c['coverage'], 2)}
            if c['outside']:
                entry['flags'].append(
                    f'{cond}: {s} median {_fmt(c["gen"]["median"])} outside real IQR '
                    f'[{_fmt(c["real"]["q25"])}, {_fmt(c["real"]["q75"])}] (z {c["z"]:+.1f})')
    if len(real) < 3:
        entry['flags'].append(f'only {len(real)} real clip(s): weak evidence')
    return entry


def _r(v: np.ndarray) -> list[float]:
    return [round(float(a), 2) for a in v]


def _rd(d: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def _fmt(v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return '-'
    a = abs(v)
    return f'{v:.0f}' if a >= 100 else f'{v:.2f}' if a >= 1 else f'{v:.3f}'


def load_real(data_dir: Path, labels: set[str], fs: int = SAMPLE_RATE
              ) -> dict[str, list[np.ndarray]]:
    """Real clips by manifest label (only the labels asked for), in memory."""
    records = [r for r in load_devset(data_dir) if r.label in labels]
    clips, _ = load_clips(records, fs)
    out: dict[str, list[np.ndarray]] = {}
    for rec, x in clips:
        out.setdefault(rec.label, []).append(x)
    return out


def build_report(data_dir: Path | None = None, n: int = 40, seed: int = 0,
                 classes: list[str] | None = None, fs: int = SAMPLE_RATE,
                 real: dict[str, list[np.ndarray]] | None = None) -> dict:
    """Compare every chosen class; ``real`` (label -> clips) skips reading the data folder."""
    if n < 4:
        raise ValueError(f'n: need at least 4 generated examples per class, got {n}')
    comps = [c for c in COMPARISONS if classes is None or c.name in classes]
    if classes is not None:
        unknown = set(classes) - {c.name for c in COMPARISONS}
        if unknown:
            raise ValueError(f'unknown class(es) {sorted(unknown)}; valid: '
                             f'{", ".join(c.name for c in COMPARISONS)}')
    if real is None:
        data_dir = Path(data_dir) if data_dir else default_data_dir()
        real = load_real(data_dir, {lab for c in comps for lab in c.labels}, fs)
    edges = band_edges()
    report = {'sample_rate': fs, 'n_generated': n, 'seed': seed,
              'data_dir': None if data_dir is None else str(data_dir),
              'band_edges_hz': [round(float(e), 1) for e in edges],
              'event_window_s': [-PRE_S, EVENT_S], 'distance_m': list(DISTANCE_M),
              'classes': {}}
    for i, comp in enumerate(comps):
        clips = [x for lab in comp.labels for x in real.get(lab, [])]
        rng = np.random.default_rng([seed, i])
        report['classes'][comp.name] = compare_class(comp, clips, n, rng, fs, edges)
    return report


def render_text(report: dict) -> str:
    """A readable console table: one block per class, one row per statistic."""
    lines = []
    for name, e in report['classes'].items():
        if e['status'] != 'ok':
            lines.append(f'{name}: {e["status"]}')
            continue
        sp = e['spectrum']
        diffs = ' '.join(f'{c} {sp[f"{c}_mean_abs_db"]}' for c in CONDITIONS)
        lines.append(f'{name} (real {e["n_real"]}, generated {e["n_generated"]}) '
                     f'spectrum |dB diff| {diffs}')
        lines.append(f'  {"statistic":14s} {"real median [IQR]":26s} '
                     + ' '.join(f'{c + " median (z, cov)":24s}' for c in CONDITIONS))
        for s, d in e['stats'].items():
            r = d['real']
            cells = []
            for cond in CONDITIONS:
                g = d[cond]
                z = '-' if g['z'] is None else f'{g["z"]:+.1f}'
                cov = '-' if g['coverage'] is None else f'{g["coverage"]:.0%}'
                mark = '*' if g['outside'] else ' '
                cells.append(f'{_fmt(g["median"]):>7s}{mark}({z}, {cov})')
            lines.append(f'  {s:14s} {_fmt(r["median"]):>7s} [{_fmt(r["q25"])}, '
                         f'{_fmt(r["q75"])}]'.ljust(43) + ' '.join(f'{c:24s}' for c in cells))
    return '\n'.join(lines)


def render_markdown(report: dict) -> str:
    """A model-card section: per class, where generated sounds differ from real ones."""
    out = ['## Generated vs real sounds (spectral statistics)', '',
           f'{report["n_generated"]} generated examples per class and condition (dry at 1 m; '
           f'"street": propagated {report["distance_m"][0]:.0f}-{report["distance_m"][1]:.0f} m '
           'to a street microphone; "reverb": the same through a random street canyon or square '
           'as the training augmentation renders it), measured like the real clips from '
           f'{report["event_window_s"][0] * 1000:.0f} ms before the main onset (spectra over '
           f'{report["event_window_s"][1]:.0f} s, envelopes and pitch over {LONG_S:.0f} s), '
           'level-normalised. z = (generated median - real median) / real IQR; '
           'cov = share of real clips inside the generated 5-95 % range; '
           '**bold** = generated median outside the real IQR. Real clips include their '
           'background noise, generated ones do not.', '']
    missing = [n for n, e in report['classes'].items() if e['status'] != 'ok']
    for name, e in report['classes'].items():
        if e['status'] != 'ok':
            continue
        sp = e['spectrum']
        out.append(f'### {name} ({e["n_real"]} real clips)')
        out.append('')
        out.append(f'Median band spectrum ({len(report["band_edges_hz"]) - 1} mel bands, levels '
                   f'floored at {BAND_FLOOR_DB:.0f} dB re total), mean |difference|: '
                   + ', '.join(f'{c} {sp[f"{c}_mean_abs_db"]} dB' for c in CONDITIONS) + '.')
        out.append('')
        out.append('| statistic | real median [IQR] | '
                   + ' | '.join(f'{c} median (z, cov)' for c in CONDITIONS) + ' |')
        out.append('|---|---|' + '---|' * len(CONDITIONS))
        for s, d in e['stats'].items():
            r = d['real']
            cells = []
            for cond in CONDITIONS:
                g = d[cond]
                v = _fmt(g['median'])
                v = f'**{v}**' if g['outside'] else v
                z = '-' if g['z'] is None else f'{g["z"]:+.1f}'
                cov = '-' if g['coverage'] is None else f'{g["coverage"]:.0%}'
                cells.append(f'{v} ({z}, {cov})')
            out.append(f'| {s} | {_fmt(r["median"])} [{_fmt(r["q25"])}, {_fmt(r["q75"])}] | '
                       + ' | '.join(cells) + ' |')
        out.append('')
    if missing:
        out.append('No real clips to compare with: ' + ', '.join(missing) + '.')
        out.append('')
    return '\n'.join(out)


def main(argv: list[str] | None = None) -> int:
    """Command line: compare, print the table, write JSON (and markdown)."""
    p = argparse.ArgumentParser(prog='python -m soft.classify.spectralcompare',
                                description=__doc__.split('\n\n')[0])
    p.add_argument('data', nargs='?', type=Path, default=None,
                   help='folder of the shared real clips (default: $SOFT_DATA_DIR or '
                   '../shared/data beside the repository)')
    p.add_argument('--out', type=Path, default=None, help='JSON report to write')
    p.add_argument('--markdown', type=Path, default=None, help='markdown section to write')
    p.add_argument('--n', type=int, default=40, help='generated examples per class/condition')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--classes', default=None,
                   help='comma-separated subset of: ' + ', '.join(c.name for c in COMPARISONS))
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    classes = None if args.classes is None else [c.strip() for c in args.classes.split(',')]
    try:
        report = build_report(args.data, args.n, args.seed, classes)
    except (ValueError, FileNotFoundError) as exc:
        print(f'spectralcompare: {exc}', file=sys.stderr)
        return 2
    report['runtime_s'] = round(time.perf_counter() - t0, 1)
    print(render_text(report))
    print(f'({report["runtime_s"]} s)')
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + '\n', encoding='utf-8')
    if args.markdown:
        args.markdown.write_text(render_markdown(report) + '\n', encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main())
