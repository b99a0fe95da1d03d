"""DCASE-2017-task-2-style test mixtures: a real event placed in 30 s of real background.

Clip-level scores say little about a sensor that listens to a continuous street; the DCASE
2017 rare-event task measured detection on 30 s mixtures of background recordings and
isolated events at event-to-background ratios (EBR) of -6, 0 and +6 dB, about half of them
with no event at all. This module builds such mixtures from a dataset's own held-out clips,
in memory only (nothing is written).

EBR, as the DCASE 2017 task 2 mixture synthesiser computes it: the RMS of the inserted event
segment over the RMS of the background over the same span (the event's duration), in dB::

    EBR = 20 log10( rms(event[t0:t1]) / rms(background[t0:t1]) )

The event segment is the clip's active part (see :func:`active_span`), at most
``MAX_EVENT_S`` long. It is annotated as one event per sound: stretches of activity separated
by more than ``BURST_GAP_S`` of quiet (shots seconds apart, a second blast) are separate
events, as an annotator would mark them and as the detector is meant to report them. The
first starts at the segment's start and the last ends at its end.

Backgrounds: a steady real ambience clip (rain, sea waves, helicopter, street recordings...)
looped with cross-fades to 30 s, with the simulator's generated traffic 10 dB under it; or
generated traffic alone (:class:`soft.sim.background.BackgroundGenerator`, a random street
profile, through a -38 dBFS microphone as the sensors are configured).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from soft.classify import taxonomy
from soft.classify.mixing import band, pa_to_full_scale
from soft.evaluation.event_metrics import Event

EBRS_DB = (-6.0, 0.0, 6.0)
DURATION_S = 30.0
LEAD_S = 2.0            # no event starts in the first seconds (the detector's floor settles)
TAIL_S = 1.5            # ... nor ends in the last ones (its window must complete)
MAX_EVENT_S = 8.0
FADE_S = 0.5            # cross-fade of looped background clips
JOIN_FADE_S = 1.0       # cross-fade between different clips of a background stream
TRAFFIC_UNDER_DB = -10.0
SENSITIVITY_DBFS = -38.0    # the sensor component's default microphone sensitivity
ANTICLIP_PEAK = 0.99
BURST_GAP_S = 1.0       # sounds of one class further apart than this are separate events


@dataclass(frozen=True)
class Source:
    """A real clip used in mixtures: an event segment or a background ambience (full scale)."""

    name: str
    label: str
    class_id: int
    samples: np.ndarray


@dataclass(frozen=True)
class Recipe:
    """Everything that defines one mixture except its EBR (rendered at each EBR)."""

    index: int
    ambient: tuple[int, ...]     # ambience sources joined in this order; empty: traffic only
    ambient_start: int
    traffic_profile: str
    traffic_seed: int
    event: int | None            # index into the event sources, None: no event
    insert_s: float


@dataclass
class Mixture:
    """One rendered mixture; ``background`` and ``event`` are the parts it is the sum of."""

    recipe: Recipe
    audio: np.ndarray
    sample_rate: int
    ebr_db: float                # NaN without an event
    annotations: list[Event]
    background: np.ndarray
    event: np.ndarray


def rms(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def ebr_db(event: np.ndarray, background: np.ndarray) -> float:
    """DCASE 2017 EBR of an event segment over the background on the same span, dB."""
    return 20.0 * math.log10(rms(event) / rms(background))


def _frame_db(x: np.ndarray, sample_rate: int, hop_s: float = 0.01) -> np.ndarray:
    hop = max(1, int(hop_s * sample_rate))
    n = max(1, x.size // hop)
    y = band(np.pad(x, (0, max(0, n * hop - x.size))), sample_rate)[:n * hop]
    return 10 * np.log10(np.mean(y.reshape(n, hop) ** 2, axis=1) + 1e-20)


def active_runs(x: np.ndarray, sample_rate: int, gap_s: float = math.inf, rise_db: float = 6.0,
                below_peak_db: float = 20.0) -> list[tuple[int, int]]:
    """Samples [start, end) of each stretch of a clip's sound, split at quiet gaps > ``gap_s``.

    A frame (in-band, 10 ms) is active when it is less than 20 dB under the loudest frame
    and at least 6 dB over the clip's own floor (10th percentile); a steady clip (peak
    within 6 dB of its floor) is one run throughout.
    """
    e = _frame_db(x, sample_rate)
    hop = max(1, int(0.01 * sample_rate))
    peak, floor = float(e.max()), float(np.percentile(e, 10))
    if peak - floor < rise_db:
        return [(0, x.size)]
    above = np.flatnonzero(e >= max(floor + rise_db, peak - below_peak_db))
    cuts = np.flatnonzero(np.diff(above) - 1 > gap_s / 0.01) if math.isfinite(gap_s) \
        else np.zeros(0, dtype=int)
    firsts = np.concatenate(([above[0]], above[cuts + 1]))
    lasts = np.concatenate((above[cuts], [above[-1]]))
    return [(int(a) * hop, min(x.size, (int(b) + 1) * hop)) for a, b in zip(firsts, lasts)]


def active_span(x: np.ndarray, sample_rate: int) -> tuple[int, int]:
    """Samples [start, end) from the first to the last active frame (:func:`active_runs`)."""
    runs = active_runs(x, sample_rate)
    return runs[0][0], runs[-1][1]


def _fade(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)


def event_segment(x: np.ndarray, sample_rate: int, max_s: float = MAX_EVENT_S) -> np.ndarray:
    """The active part of a clip (20 ms before, 50 ms after), faded in and out, capped."""
    start, end = active_span(x, sample_rate)
    start = max(0, start - int(0.02 * sample_rate))
    end = min(x.size, end + int(0.05 * sample_rate), start + int(max_s * sample_rate))
    seg = np.asarray(x[start:end], dtype=np.float32).copy()
    n_in, n_out = min(seg.size // 4, int(0.005 * sample_rate)), \
        min(seg.size // 4, int(0.02 * sample_rate))
    if n_in:
        seg[:n_in] *= _fade(n_in)
    if n_out:
        seg[-n_out:] *= _fade(n_out)[::-1]
    return seg


def trim_silence(x: np.ndarray, sample_rate: int, below_peak_db: float = 50.0) -> np.ndarray:
    """Drop leading/trailing near-silence (ESC clips are zero-padded to 5 s)."""
    e = _frame_db(x, sample_rate)
    hop = max(1, int(0.01 * sample_rate))
    keep = np.flatnonzero(e >= e.max() - below_peak_db)
    return x[int(keep[0]) * hop:min(x.size, (int(keep[-1]) + 1) * hop)]


def concat(pieces: list[np.ndarray], sample_rate: int, fade_s: float = FADE_S) -> np.ndarray:
    """Pieces joined with raised-cosine cross-fades (no click for the onset finder)."""
    nf = int(fade_s * sample_rate)
    out = np.asarray(pieces[0], dtype=np.float32).copy()
    for p in pieces[1:]:
        p = np.asarray(p, dtype=np.float32)
        k = min(nf, out.size // 2, p.size // 2)
        if k < 2:
            out = np.concatenate((out, p))
            continue
        f = _fade(k)
        # equal-power cross-fade: uncorrelated backgrounds keep their level through it
        joint = out[-k:] * np.sqrt(1 - f) + p[:k] * np.sqrt(f)
        out = np.concatenate((out[:-k], joint, p[k:]))
    return out


def loop_to(x: np.ndarray, n: int, start: int, sample_rate: int) -> np.ndarray:
    """``n`` samples of ``x`` looped (cross-faded) from ``start``."""
    x = np.asarray(x, dtype=np.float32)
    pieces, have = [x[start % x.size:]], x.size - start % x.size
    while have < n + int(FADE_S * sample_rate) * (len(pieces) + 1):
        pieces.append(x)
        have += x.size
    return concat(pieces, sample_rate)[:n]


def traffic(seconds: float, profile: str, seed: int, sample_rate: int,
            sensitivity_dbfs: float = SENSITIVITY_DBFS) -> np.ndarray:
    """Generated street background (full scale) through a microphone of that sensitivity."""
    from soft.sim.background import BackgroundGenerator

    gen = BackgroundGenerator(profile, sample_rate, seed=seed)
    pa = gen.read(int(round(seconds * sample_rate)))
    return (pa * pa_to_full_scale(sensitivity_dbfs)).astype(np.float32)


def make_recipes(n: int, events: list[Source], ambient: list[Source],
                 rng: np.random.Generator, event_probability: float = 0.5,
                 duration_s: float = DURATION_S, sample_rate: int = 16000) -> list[Recipe]:
    """``n`` mixture recipes: about ``event_probability`` of them carry one event.

    Event classes are drawn uniformly (then a clip of the class), so a class with many clips
    does not drown the others; two thirds of the backgrounds are real ambiences when any:
    distinct clips of one ambience label (drawn uniformly) joined until 30 s are covered, so
    a short clip is not looped (a looped clip repeats whatever sound it holds).
    """
    from soft.sim.background import PROFILES

    by_class: dict[int, list[int]] = {}
    for i, s in enumerate(events):
        by_class.setdefault(s.class_id, []).append(i)
    classes = sorted(by_class)
    amb_by_label: dict[str, list[int]] = {}
    for i, s in enumerate(ambient):
        amb_by_label.setdefault(s.label, []).append(i)
    amb_labels = sorted(amb_by_label)
    profiles = sorted(PROFILES)
    out = []
    for k in range(n):
        amb: tuple[int, ...] = ()
        start = 0
        if amb_labels and rng.random() < 2 / 3:
            pool = amb_by_label[amb_labels[int(rng.integers(len(amb_labels)))]]
            have, chosen = 0, []
            for i in rng.permutation(pool):
                chosen.append(int(i))
                have += ambient[int(i)].samples.size - int(JOIN_FADE_S * sample_rate)
                if have >= duration_s * sample_rate:
                    break
            amb = tuple(chosen)
            start = int(rng.integers(ambient[amb[0]].samples.size))
        ev, t = None, 0.0
        if classes and rng.random() < event_probability:
            pool = by_class[classes[int(rng.integers(len(classes)))]]
            ev = pool[int(rng.integers(len(pool)))]
            length = events[ev].samples.size / sample_rate
            hi = max(LEAD_S, duration_s - TAIL_S - length)
            t = float(rng.uniform(LEAD_S, hi))
        out.append(Recipe(k, amb, start, profiles[int(rng.integers(len(profiles)))],
                          int(rng.integers(2 ** 31)), ev, t))
    return out


def render_background(recipe: Recipe, ambient: list[Source], sample_rate: int,
                      duration_s: float = DURATION_S) -> np.ndarray:
    """The recipe's 30 s background (full scale, float32)."""
    n = int(round(duration_s * sample_rate))
    bed = traffic(duration_s, recipe.traffic_profile, recipe.traffic_seed, sample_rate)[:n]
    if not recipe.ambient:
        return bed
    first = ambient[recipe.ambient[0]].samples
    joined = concat([first[recipe.ambient_start % first.size:]]
                    + [ambient[i].samples for i in recipe.ambient[1:]] + [first],
                    sample_rate, JOIN_FADE_S)
    amb = loop_to(joined, n, 0, sample_rate)
    gain = rms(amb) / max(rms(bed), 1e-12) * 10 ** (TRAFFIC_UNDER_DB / 20)
    return (amb + gain * bed).astype(np.float32)


def mix(recipe: Recipe, background: np.ndarray, events: list[Source], ebr: float,
        sample_rate: int) -> Mixture:
    """Insert the recipe's event at ``ebr`` dB (DCASE definition); scale down if clipping."""
    bg = np.asarray(background, dtype=np.float32)
    placed = np.zeros_like(bg)
    notes: list[Event] = []
    if recipe.event is None:
        return Mixture(recipe, bg.copy(), sample_rate, float('nan'), notes, bg, placed)
    src = events[recipe.event]
    i0 = int(round(recipe.insert_s * sample_rate))
    seg = src.samples[:max(0, bg.size - i0)]
    gain = 10 ** (ebr / 20) * rms(bg[i0:i0 + seg.size]) / max(rms(seg), 1e-12)
    placed[i0:i0 + seg.size] = gain * seg
    audio = bg + placed
    peak = float(np.max(np.abs(audio)))
    if peak > ANTICLIP_PEAK:
        k = ANTICLIP_PEAK / peak          # the EBR is a ratio: unchanged by a common gain
        audio, bg, placed = audio * k, bg * k, placed * k
    name = taxonomy.by_id(src.class_id).name
    # one annotation per sound: a clip with shots seconds apart holds several events
    runs = active_runs(seg, sample_rate, BURST_GAP_S)
    edges = [(0 if k == 0 else a, seg.size if k == len(runs) - 1 else b)
             for k, (a, b) in enumerate(runs)]
    notes.extend(Event((i0 + a) / sample_rate, (i0 + b) / sample_rate, name) for a, b in edges)
    return Mixture(recipe, audio.astype(np.float32), sample_rate, float(ebr), notes,
                   bg.astype(np.float32), placed.astype(np.float32))


P_REF = 20e-6                # Pa: 0 dB SPL
STREET_SPL_DB = (55.0, 75.0)  # quiet residential street at night .. busy road by day


def full_scale_rms(spl_db: float, sensitivity_dbfs: float = SENSITIVITY_DBFS) -> float:
    """Full-scale RMS of a sound at ``spl_db`` through a microphone of that sensitivity."""
    return P_REF * 10 ** (spl_db / 20) * pa_to_full_scale(sensitivity_dbfs)


def street_gain(background: np.ndarray, spl_db: float, sample_rate: int,
                sensitivity_dbfs: float = SENSITIVITY_DBFS) -> float:
    """The digital gain that puts a recording's background at ``spl_db`` on a sensor.

    Recordings come at whatever level their maker chose: SESA's and ESC's rain and surf sit
    at -15 to -25 dBFS, which through a sensor's -38 dBFS microphone would be a 110 dB
    street. The level is the median of the background's one-second RMS values, so a few
    loud seconds do not set it.
    """
    x = np.asarray(background, dtype=np.float64)
    sec = max(1, sample_rate)
    levels = [rms(x[i:i + sec]) for i in range(0, max(1, x.size - sec + 1), sec)]
    level = float(np.median(levels)) if levels else 0.0
    return full_scale_rms(spl_db, sensitivity_dbfs) / level if level > 0 else 1.0


def unclipped_street_gain(level_of: np.ndarray, audio: np.ndarray, spl_db: float,
                          sample_rate: int, sensitivity_dbfs: float = SENSITIVITY_DBFS
                          ) -> float:
    """:func:`street_gain` of ``level_of``, lowered if ``audio`` at that gain would clip."""
    g = street_gain(level_of, spl_db, sample_rate, sensitivity_dbfs)
    peak = float(np.max(np.abs(audio))) * g if np.size(audio) else 0.0
    return g * ANTICLIP_PEAK / peak if peak > ANTICLIP_PEAK else g


def at_street_level(m: Mixture, spl_db: float, sensitivity_dbfs: float = SENSITIVITY_DBFS
                    ) -> Mixture:
    """The same mixture (same EBR, same annotations) with its background at ``spl_db``."""
    g = unclipped_street_gain(m.background, m.audio, spl_db, m.sample_rate, sensitivity_dbfs)
    return Mixture(m.recipe, (m.audio * g).astype(np.float32), m.sample_rate, m.ebr_db,
                   m.annotations, (m.background * g).astype(np.float32),
                   (m.event * g).astype(np.float32))


def background_stream(clips: list[np.ndarray], sample_rate: int, rng: np.random.Generator,
                      bed_under_db: float = -30.0) -> np.ndarray:
    """Real background clips in random order, cross-faded over 1 s, over a faint bed.

    Joins are slow so that the change of clip is not an onset no street would produce.

    The bed (generated quiet-street traffic, 30 dB under the stream's median level) keeps the
    joins and zero-padded stretches from being digital silence, which no microphone yields.
    """
    if not clips:
        return np.zeros(0, dtype=np.float32)
    order = rng.permutation(len(clips))
    x = concat([trim_silence(clips[i], sample_rate) for i in order], sample_rate, JOIN_FADE_S)
    sec = sample_rate
    powers = [rms(x[i:i + sec]) for i in range(0, max(1, x.size - sec + 1), sec)]
    bed = traffic(x.size / sample_rate + 0.1, 'quiet_street', int(rng.integers(2 ** 31)),
                  sample_rate)[:x.size]
    gain = float(np.median(powers)) / max(rms(bed), 1e-12) * 10 ** (bed_under_db / 20)
    return (x + gain * bed).astype(np.float32)
