"""Event-based sound event detection metrics, as sed_eval and the DCASE challenges define them.

Definitions (A. Mesaros, T. Heittola, T. Virtanen, "Metrics for polyphonic sound event
detection", Applied Sciences 6(6):162, 2016, section 3.2; implemented in sed_eval's
``EventBasedMetrics`` and used by DCASE 2017 task 2 with an onset-only collar of 500 ms):

* An estimated event is **correct** (true positive) when a reference event of the same class
  has its onset within +/- ``collar_s`` of it (onset-only evaluation: offsets are ignored).
  Each reference and each estimate is used at most once; the pairs are a maximum bipartite
  matching (sed_eval's "optimal" event matching), per recording and per class.
* Among the leftover events, a reference and an estimate of *different* classes whose onsets
  also meet the collar form a **substitution** S (again a maximum matching, class ignored).
* The remaining references are **deletions** D, the remaining estimates **insertions** I:
  ``D = Nref - Ntp - S``, ``I = Nsys - Ntp - S``.
* Overall (micro-averaged over all classes and recordings): ``ER = (S + D + I) / Nref``,
  ``P = Ntp / Nsys``, ``R = Ntp / Nref``, ``F1 = 2 P R / (P + R) = 2 Ntp / (Nref + Nsys)``.
* Class-wise there are no substitutions: ``ER_c = (D_c + I_c) / Nref_c`` with
  ``D_c = Nref_c - Ntp_c`` and ``I_c = Nsys_c - Ntp_c``; the class-wise average is the
  unweighted mean over classes with reference events (macro average).

Undefined ratios (no reference, no estimate) are NaN, never a made-up 0 or 1. sed_eval itself
is not used: it pulls in librosa, numba and matplotlib, and its dcase_util import fails on
current setuptools.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from soft.evaluation.intervals import bootstrap

DCASE_COLLAR_S = 0.5


@dataclass(frozen=True)
class Event:
    """One sound event of a recording: onset and offset in seconds, class label."""

    onset: float
    offset: float
    label: str


def _ratio(num: float, den: float) -> float:
    return num / den if den else float('nan')


def _matching(ref: Sequence[Event], est: Sequence[Event], collar_s: float,
              same_label: bool) -> list[tuple[int, int]]:
    """Maximum one-to-one pairing of references and estimates meeting the onset collar."""
    if not ref or not est:
        return []
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    r_on = np.array([e.onset for e in ref])
    s_on = np.array([e.onset for e in est])
    ok = np.abs(r_on[:, None] - s_on[None, :]) <= collar_s + 1e-9
    if same_label:
        ok &= np.array([e.label for e in ref])[:, None] == np.array([e.label for e in est])[None]
    if not ok.any():
        return []
    match = maximum_bipartite_matching(csr_matrix(ok.astype(np.int8)), perm_type='column')
    return [(i, int(j)) for i, j in enumerate(match) if j >= 0]


def pair_events(ref: Sequence[Event], est: Sequence[Event], collar_s: float
                ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(true positives, substitutions) of one recording as (reference, estimate) index pairs:
    same-class pairs first, then a class-blind matching of what is left."""
    correct = _matching(ref, est, collar_s, same_label=True)
    ref_ok = {i for i, _ in correct}
    est_ok = {j for _, j in correct}
    ref_left = [i for i in range(len(ref)) if i not in ref_ok]
    est_left = [j for j in range(len(est)) if j not in est_ok]
    subs = _matching([ref[i] for i in ref_left], [est[j] for j in est_left], collar_s,
                     same_label=False)
    return correct, [(ref_left[a], est_left[b]) for a, b in subs]


@dataclass
class _Counts:
    n_ref: int = 0
    n_sys: int = 0
    n_tp: int = 0


@dataclass
class EventBasedMetrics:
    """Accumulates recordings (reference list, estimated list), then reports the metrics."""

    collar_s: float = DCASE_COLLAR_S
    overall: _Counts = field(default_factory=_Counts)
    substitutions: int = 0
    class_wise: dict[str, _Counts] = field(default_factory=dict)
    recordings: int = 0
    # n_ref, n_sys, n_tp, substitutions of each recording, for the bootstrap intervals
    per_recording: list[tuple[int, int, int, int]] = field(default_factory=list)

    def add(self, reference: Sequence[Event], estimated: Sequence[Event]) -> None:
        """Score one recording's estimated events against its reference events."""
        ref, est = list(reference), list(estimated)
        self.recordings += 1
        correct, subs = pair_events(ref, est, self.collar_s)
        self.overall.n_ref += len(ref)
        self.overall.n_sys += len(est)
        self.overall.n_tp += len(correct)
        self.substitutions += len(subs)
        self.per_recording.append((len(ref), len(est), len(correct), len(subs)))
        for e in ref:
            self.class_wise.setdefault(e.label, _Counts()).n_ref += 1
        for e in est:
            self.class_wise.setdefault(e.label, _Counts()).n_sys += 1
        for i, _ in correct:
            self.class_wise[ref[i].label].n_tp += 1

    def results(self) -> dict:
        """Overall (micro), class-wise and class-wise average (macro) metrics."""
        o = self.overall
        s = self.substitutions
        d = o.n_ref - o.n_tp - s
        i = o.n_sys - o.n_tp - s
        overall = {
            'n_ref': o.n_ref, 'n_sys': o.n_sys, 'n_tp': o.n_tp,
            'substitutions': s, 'deletions': d, 'insertions': i,
            'precision': _ratio(o.n_tp, o.n_sys), 'recall': _ratio(o.n_tp, o.n_ref),
            'f1': _ratio(2 * o.n_tp, o.n_ref + o.n_sys),
            'error_rate': _ratio(s + d + i, o.n_ref),
            'substitution_rate': _ratio(s, o.n_ref), 'deletion_rate': _ratio(d, o.n_ref),
            'insertion_rate': _ratio(i, o.n_ref),
            # recordings resampled: how much the figures depend on the mixtures drawn
            'error_rate_ci95': list(bootstrap(error_rate_of_counts,
                                              np.array(self.per_recording))),
            'f1_ci95': list(bootstrap(lambda c: 2 * c[:, 2] / (c[:, 0] + c[:, 1]),
                                      np.array(self.per_recording))),
        }
        classes = {}
        for label in sorted(self.class_wise):
            c = self.class_wise[label]
            dc, ic = c.n_ref - c.n_tp, c.n_sys - c.n_tp
            classes[label] = {
                'n_ref': c.n_ref, 'n_sys': c.n_sys, 'n_tp': c.n_tp,
                'deletions': dc, 'insertions': ic,
                'precision': _ratio(c.n_tp, c.n_sys), 'recall': _ratio(c.n_tp, c.n_ref),
                'f1': _ratio(2 * c.n_tp, c.n_ref + c.n_sys),
                'error_rate': _ratio(dc + ic, c.n_ref),
            }
        with_ref = [v for v in classes.values() if v['n_ref'] > 0]
        average = {
            'f1': _mean(v['f1'] for v in with_ref),
            'error_rate': _mean(v['error_rate'] for v in with_ref),
        }
        return {'collar_s': self.collar_s, 'onset_only': True, 'recordings': self.recordings,
                'overall': overall, 'class_wise': classes, 'class_wise_average': average,
                # n_ref, n_sys, n_tp, substitutions per recording: lets two models scored
                # on the same recordings be compared pairwise (soft compare)
                'per_recording': [list(r) for r in self.per_recording]}


def error_rate_of_counts(c: np.ndarray) -> np.ndarray:
    """ER from summed per-recording counts (n_ref, n_sys, n_tp, S in the last axis).

    S + D + I = S + (n_ref - n_tp - S) + (n_sys - n_tp - S) = n_ref + n_sys - 2 n_tp - S.
    """
    return (c[..., 0] + c[..., 1] - 2 * c[..., 2] - c[..., 3]) / c[..., 0]


def _mean(values: Iterable[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return float(np.mean(vals)) if vals else float('nan')


def event_based(pairs: Iterable[tuple[Sequence[Event], Sequence[Event]]],
                collar_s: float = DCASE_COLLAR_S) -> dict:
    """Metrics over recordings given as (reference events, estimated events) pairs."""
    m = EventBasedMetrics(collar_s)
    for ref, est in pairs:
        m.add(ref, est)
    return m.results()


def merge_repeats(events: Sequence[Event], gap_s: float) -> list[Event]:
    """Merge events of one class that continue one another (gap <= ``gap_s``).

    A detector reports a sustained sound again every period and each shot of a burst on its
    own; the alert stage merges such repeats, and an annotator marks the burst as one event.
    """
    out: list[Event] = []
    last: dict[str, int] = {}
    for e in sorted(events, key=lambda e: e.onset):
        k = last.get(e.label)
        if k is not None and e.onset <= out[k].offset + gap_s:
            prev = out[k]
            out[k] = Event(prev.onset, max(prev.offset, e.offset), prev.label)
            continue
        last[e.label] = len(out)
        out.append(e)
    return out
