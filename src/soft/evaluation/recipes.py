"""``soft compare A1 A2 A3 --vs B1 B2 B3``: is one training recipe better, over training seeds?

Two runs of one recipe that differ only in the training seed flip as many held-out clips
as two recipes do (soft-cnn-1.5.1 against 1.5.1-s1: 8 fixed, 10 broken of 186), so a
pairwise comparison of one run per recipe ranks seeds as much as recipes. Here each recipe
is an arm of several ``soft evaluate`` reports (one per training seed, all on the same
clips, mixtures and background) and two kinds of uncertainty are kept apart:

- a hierarchical bootstrap resamples the runs within each arm and, shared by both arms,
  the clips or mixtures (police false events: runs, then a Poisson draw of each count);
- an exact permutation test over the runs treats each run's figure as one observation.
  With three runs per arm there are 20 splits, so it cannot go below p = 0.10: that floor
  is the honest statement of what three seeds can show.
"""
from __future__ import annotations

import itertools
import math
from typing import Sequence

import numpy as np

from soft.evaluation.event_metrics import error_rate_of_counts
from soft.evaluation.intervals import format_ci
from soft.evaluation.paired import CLIPS, STREET_CLIPS, VARIANTS, ComparisonError, _clips, \
    _name, check_same_data, check_same_mixtures, compare_clips, compare_false_alarms, \
    comparison_sections, shared_variants


def _check_pairable(reports: Sequence[dict], names: Sequence[str]) -> None:
    """Every report must be scored on the first report's clips, mixtures and background."""
    first = reports[0]
    for report, name in zip(reports[1:], names[1:]):
        try:
            check_same_data(first, report)
            compare_clips(first, report)
            _check_events(first, report)
            compare_false_alarms(first, report)
        except ComparisonError as exc:
            raise ComparisonError(f'{name} does not pair with {names[0]}: {exc}') from None


def _check_events(base: dict, cand: dict) -> None:
    ea, eb = base.get('event_based', {}), cand.get('event_based', {})
    if 'per_ebr' not in ea or 'per_ebr' not in eb:
        if ('per_ebr' in ea) != ('per_ebr' in eb):
            raise ComparisonError('event_based: only one report has mixtures')
        return
    check_same_mixtures(base, cand)
    if set(ea['per_ebr']) != set(eb['per_ebr']):
        raise ComparisonError('event_based.per_ebr: different EBRs')
    for ebr in ea['per_ebr']:
        ra, rb = ea['per_ebr'][ebr], eb['per_ebr'][ebr]
        if 'per_recording' not in ra or 'per_recording' not in rb:
            raise ComparisonError(f'event_based.per_ebr.{ebr}.per_recording: missing (report '
                                  'predates per-mixture counts; re-run soft evaluate)')
        if [r[0] for r in ra['per_recording']] != [r[0] for r in rb['per_recording']]:
            raise ComparisonError(f'event_based.per_ebr.{ebr}: the reference events differ')


def permutation_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided exact permutation p of the difference of means, runs as observations."""
    pooled = np.asarray(list(a) + list(b), dtype=np.float64)
    k, n = len(a), len(pooled)
    observed = abs(np.mean(b) - np.mean(a))
    hits = total = 0
    for pick in itertools.combinations(range(n), k):
        mask = np.zeros(n, bool)
        mask[list(pick)] = True
        total += 1
        hits += abs(pooled[~mask].mean() - pooled[mask].mean()) >= observed - 1e-12
    return hits / total


def _arm_draws(rng: np.random.Generator, runs: int, resamples: int) -> np.ndarray:
    return rng.integers(runs, size=(resamples, runs))


def _summary(diff_draws: np.ndarray, observed: float, lower_is_better: bool) -> dict:
    d = diff_draws[np.isfinite(diff_draws)]
    lo, hi = np.percentile(d, [2.5, 97.5]) if d.size else (math.nan, math.nan)
    better = np.mean(d < 0) if lower_is_better else np.mean(d > 0)
    return {'difference': float(observed), 'difference_ci95': [float(lo), float(hi)],
            'share_candidate_better': float(better) if d.size else math.nan}


def _clip_section(arm_a: Sequence[dict], arm_b: Sequence[dict], rng, resamples: int,
                  where: tuple[str, ...] = CLIPS) -> dict:
    """Clip accuracy of each arm on the clip level at ``where`` (the recordings, at street
    level, band-limited, heard from further off)."""
    keys = sorted(_clips(arm_a[0], 'base', where))

    def matrix(arm):
        rows = [_clips(r, 'report', where) for r in arm]
        truth = np.array([rows[0][k][0] for k in keys])
        return truth, np.array([[row[k][1] == row[k][0] for k in keys] for row in rows], float)

    truth, ca = matrix(arm_a)
    _, cb = matrix(arm_b)
    acc_a, acc_b = ca.mean(1), cb.mean(1)
    idx = rng.integers(len(keys), size=(resamples, len(keys)))
    ra, rb = _arm_draws(rng, len(ca), resamples), _arm_draws(rng, len(cb), resamples)
    # per resample: the arm's mean accuracy over its drawn runs on the drawn clips
    per_a = ca[:, idx].mean(2)                        # runs x resamples
    per_b = cb[:, idx].mean(2)
    cols = np.arange(resamples)[:, None]
    draws = per_b[rb, cols].mean(1) - per_a[ra, cols].mean(1)
    per_class = {}
    for cid in np.unique(truth):
        m = truth == cid
        per_class[_name(int(cid))] = {'clips': int(m.sum()),
                                      'base': float(ca[:, m].mean()),
                                      'candidate': float(cb[:, m].mean())}
    return {'clips': len(keys), 'base_runs': acc_a.tolist(), 'candidate_runs': acc_b.tolist(),
            'base': float(acc_a.mean()), 'candidate': float(acc_b.mean()),
            **_summary(draws, acc_b.mean() - acc_a.mean(), lower_is_better=False),
            'permutation_p': permutation_p(acc_a, acc_b),
            'recall_per_true_class': per_class}


def _view(report: dict, street: bool) -> dict:
    """The report, or its street-level section (same mixtures and background, at a sensor's
    level)."""
    return (report.get('street_level') or {}) if street else report


def _counts(arm: Sequence[dict], ebr: str) -> np.ndarray:
    return np.array([r['event_based']['per_ebr'][ebr]['per_recording'] for r in arm],
                    dtype=np.float64)                 # runs x mixtures x (ref, sys, tp, subs)


def _event_section(arm_a: Sequence[dict], arm_b: Sequence[dict], rng, resamples: int,
                   street: bool = False) -> dict:
    arm_a, arm_b = [_view(r, street) for r in arm_a], [_view(r, street) for r in arm_b]
    if 'per_ebr' not in arm_a[0].get('event_based', {}):
        return {'skipped': 'the reports have no mixtures'}
    out = {}
    for ebr in arm_a[0]['event_based']['per_ebr']:
        a, b = _counts(arm_a, ebr), _counts(arm_b, ebr)
        er_a, er_b = error_rate_of_counts(a.sum(1)), error_rate_of_counts(b.sum(1))
        idx = rng.integers(a.shape[1], size=(resamples, a.shape[1]))
        ra, rb = _arm_draws(rng, len(a), resamples), _arm_draws(rng, len(b), resamples)
        cols = np.arange(resamples)[:, None]
        sa = a[:, idx].sum(2)[ra, cols].sum(1)        # resamples x 4, pooled over runs
        sb = b[:, idx].sum(2)[rb, cols].sum(1)
        with np.errstate(divide='ignore', invalid='ignore'):
            draws = error_rate_of_counts(sb) - error_rate_of_counts(sa)
        pooled_a, pooled_b = a.sum((0, 1)), b.sum((0, 1))

        def per_run(c):
            tot = c.sum(1)
            return {'hits': tot[:, 2].astype(int).tolist(),
                    'insertions': (tot[:, 1] - tot[:, 2] - tot[:, 3]).astype(int).tolist()}

        out[ebr] = {'base_runs': er_a.tolist(), 'candidate_runs': er_b.tolist(),
                    'base': float(error_rate_of_counts(pooled_a)),
                    'candidate': float(error_rate_of_counts(pooled_b)),
                    **_summary(draws, float(error_rate_of_counts(pooled_b)
                                            - error_rate_of_counts(pooled_a)), True),
                    'permutation_p': permutation_p(er_a, er_b),
                    'base_per_run': per_run(a), 'candidate_per_run': per_run(b)}
    return out


def _police(arm: Sequence[dict]) -> tuple[np.ndarray, float]:
    fa = [r['false_alarms']['real'] for r in arm]
    return (np.array([round(f['police_per_hour'] * f['hours']) for f in fa], np.int64),
            float(fa[0]['hours']))


def _false_alarm_section(arm_a: Sequence[dict], arm_b: Sequence[dict], rng,
                         resamples: int, street: bool = False) -> dict:
    na, hours = _police([_view(r, street) for r in arm_a])
    nb, _ = _police([_view(r, street) for r in arm_b])
    if not hours > 0:
        return {'skipped': 'no real background'}
    # each run's count is one observation of its seed; the Poisson draw adds the counting
    # noise of a few minutes of background
    ra, rb = _arm_draws(rng, len(na), resamples), _arm_draws(rng, len(nb), resamples)
    draws = rng.poisson(nb[rb]).mean(1) - rng.poisson(na[ra]).mean(1)
    return {'hours': hours, 'base_runs': na.tolist(), 'candidate_runs': nb.tolist(),
            'base': float(na.mean()), 'candidate': float(nb.mean()),
            **_summary(draws.astype(np.float64), float(nb.mean() - na.mean()), True),
            'permutation_p': permutation_p(na, nb)}


def compare_recipes(arm_a: Sequence[dict], arm_b: Sequence[dict],
                    names_a: Sequence[str] | None = None, names_b: Sequence[str] | None = None,
                    resamples: int = 2000, seed: int = 0) -> dict:
    """Recipe B against recipe A, each a list of ``soft evaluate`` reports (one per seed)."""
    if not arm_a or not arm_b:
        raise ComparisonError('each recipe needs at least one report')
    names_a = list(names_a or [f'base run {i + 1}' for i in range(len(arm_a))])
    names_b = list(names_b or [f'candidate run {i + 1}' for i in range(len(arm_b))])
    _check_pairable(list(arm_a) + list(arm_b), names_a + names_b)
    rng = np.random.default_rng(seed)
    version = [[r.get('model', {}).get('version') for r in arm] for arm in (arm_a, arm_b)]
    return {'base_versions': version[0], 'candidate_versions': version[1],
            'resamples': resamples,
            'clip_level': _clip_section(arm_a, arm_b, rng, resamples),
            'event_based': _event_section(arm_a, arm_b, rng, resamples),
            'false_alarms_real': _false_alarm_section(arm_a, arm_b, rng, resamples),
            **{section: {v: _clip_section(arm_a, arm_b, rng, resamples, where)
                         for v, where in shared_variants(list(arm_a) + list(arm_b), section)}
               for section in VARIANTS},
            **({'street_level': {
                **({'clip_level': _clip_section(arm_a, arm_b, rng, resamples, STREET_CLIPS)}
                   if all(_view(r, True).get('clip_level') for r in list(arm_a) + list(arm_b))
                   else {}),
                'event_based': _event_section(arm_a, arm_b, rng, resamples, street=True),
                'false_alarms_real': _false_alarm_section(arm_a, arm_b, rng, resamples,
                                                          street=True)}}
               if all(_view(r, True).get('event_based') for r in list(arm_a) + list(arm_b))
               else {})}


def _runs(values: Sequence[float], fmt: str) -> str:
    return ' '.join(format(v, fmt) for v in values)


def format_recipe_comparison(c: dict) -> str:
    lines = [f'{arm} recipe: {len(c[key])} runs ({", ".join(map(str, c[key]))})'
             for arm, key in (('base', 'base_versions'), ('candidate', 'candidate_versions'))]
    lines.append('difference = candidate - base; interval: runs and clips/mixtures '
                 'resampled; p: exact permutation test over runs')
    lines += comparison_sections(c, _clip_lines, _events_and_alarms_lines, _variant_line)
    return '\n'.join(lines)


def _variant_line(title: str, b: dict) -> str:
    return (f'{title}: accuracy {b["base"]:.3f} -> {b["candidate"]:.3f}, difference '
            f'{b["difference"]:+.3f} {format_ci(b["difference_ci95"], "+.3f")} (p = '
            f'{b["permutation_p"]:.2f}); '
            + ', '.join(f'{k} {v["base"]:.2f}->{v["candidate"]:.2f}' for k, v in
                        b['recall_per_true_class'].items() if v['clips'] >= 5))


def _clip_lines(cl: dict) -> list[str]:
    return [f'clip accuracy ({cl["clips"]} clips): {cl["base"]:.3f} '
            f'[{_runs(cl["base_runs"], ".3f")}] -> {cl["candidate"]:.3f} '
            f'[{_runs(cl["candidate_runs"], ".3f")}], difference '
            f'{cl["difference"]:+.3f} {format_ci(cl["difference_ci95"], "+.3f")} (better in '
            f'{cl["share_candidate_better"]:.0%}; p = {cl["permutation_p"]:.2f})',
            '  recall per true class: ' + ', '.join(
                f'{k} {v["base"]:.2f}->{v["candidate"]:.2f}' for k, v in
                cl['recall_per_true_class'].items() if v['clips'] >= 5)]


def _events_and_alarms_lines(c: dict) -> list[str]:
    lines = []
    ev = c['event_based']
    if 'skipped' in ev:
        lines.append(f'event based: {ev["skipped"]}')
    for ebr, e in ({} if 'skipped' in ev else ev).items():
        lines.append(f'ER {ebr} dB: {e["base"]:.2f} [{_runs(e["base_runs"], ".2f")}] -> '
                     f'{e["candidate"]:.2f} [{_runs(e["candidate_runs"], ".2f")}], difference '
                     f'{e["difference"]:+.3f} {format_ci(e["difference_ci95"], "+.3f")} (lower '
                     f'in {e["share_candidate_better"]:.0%}; p = {e["permutation_p"]:.2f}); '
                     f'hits {_runs(e["base_per_run"]["hits"], ".0f")} -> '
                     f'{_runs(e["candidate_per_run"]["hits"], ".0f")}, insertions '
                     f'{_runs(e["base_per_run"]["insertions"], ".0f")} -> '
                     f'{_runs(e["candidate_per_run"]["insertions"], ".0f")}')
    f = c['false_alarms_real']
    if 'skipped' in f:
        lines.append(f'false alarms: {f["skipped"]}')
    else:
        lines.append(f'police false events per run on {f["hours"] * 60:.1f} min of real '
                     f'background: {_runs(f["base_runs"], ".0f")} -> '
                     f'{_runs(f["candidate_runs"], ".0f")}, mean difference '
                     f'{f["difference"]:+.1f} {format_ci(f["difference_ci95"], "+.1f")} '
                     f'(p = {f["permutation_p"]:.2f})')
    return lines
