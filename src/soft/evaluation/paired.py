"""``soft compare BASE.json CANDIDATE.json``: is a retrained model better, or just different?

Two models evaluated on the same clips and mixtures differ on a few of them, and the
held-out set is small: 186 real clips, on which two training runs of one recipe flip 10-20
clips. Comparing each model's figures with its own interval throws away the pairing; the
paired tests here keep it:

- clip level: the clips one model gets right and the other wrong, with McNemar's exact
  test (a two-sided binomial test on the discordant clips);
- event based: the difference of error rates per EBR, with a paired bootstrap that
  resamples the same mixtures for both models;
- false alarms: the police events on the same real background, with the exact conditional
  test for two Poisson counts over equal exposure.

Both reports must come from ``soft evaluate`` on the same data with the same seed and
number of mixtures; otherwise the pairing would be meaningless and the comparison refuses.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import stats

from soft.classify import taxonomy
from soft.evaluation.event_metrics import error_rate_of_counts
from soft.evaluation.intervals import format_ci


class ComparisonError(ValueError):
    """The two reports cannot be paired (different data, seed or mixtures)."""


def _clip_key(path: str, root: str) -> str:
    p, r = Path(path), Path(root)
    for base in (r, r.resolve()):
        try:
            return p.relative_to(base).as_posix()
        except ValueError:
            continue
    return p.as_posix()


# where a report keeps a clip level: the recordings as they are, at street level, and the
# transformed copies (keyed by cutoff or added distance)
CLIPS = ('clip_level',)
STREET_CLIPS = ('street_level', 'clip_level')
VARIANTS = {'bandwidth': 'per_cutoff', 'far': 'per_distance'}


def _clips(report: dict, name: str, where: tuple[str, ...] = CLIPS
           ) -> dict[str, tuple[int, int]]:
    """(true, predicted) per clip of the clip level at ``where`` in the report."""
    try:
        section = report
        for key in where:
            section = section[key]
        rows = section['clips_detail']
        root = report['data']['root']
    except KeyError as exc:
        raise ComparisonError(f'{name}: no {exc.args[0]!r} (not a soft evaluate report, or '
                              'one written before clips_detail)') from None
    return {_clip_key(r['path'], root): (int(r['true_id']), int(r['pred_id'])) for r in rows}


def variants(report: dict, section: str) -> list[str]:
    """Settings of a transformed clip level the report holds (cutoffs of ``bandwidth``,
    distances of ``far``; none in reports written before the section)."""
    return list(report.get(section, {}).get(VARIANTS[section], {}))


def shared_variants(reports: Sequence[dict], section: str) -> list[tuple[str, tuple[str, ...]]]:
    """(setting, path) of the transformed clip levels every report holds."""
    return [(v, (section, VARIANTS[section], v)) for v in variants(reports[0], section)
            if all(v in variants(r, section) for r in reports[1:])]


def mcnemar_exact(fixed: int, broken: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts."""
    n = fixed + broken
    return 1.0 if n == 0 else float(stats.binomtest(fixed, n, 0.5).pvalue)


def compare_clips(base: dict, cand: dict, where: tuple[str, ...] = CLIPS) -> dict:
    """Clips fixed and broken by the candidate, overall and per true label, on the clip level
    at ``where`` (the recordings, at street level, band-limited, heard from further off)."""
    a, b = _clips(base, 'base', where), _clips(cand, 'candidate', where)
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))
        raise ComparisonError(f'clip_level.clips_detail: the reports list different clips '
                              f'({len(only)} in one only, e.g. {only[0]})')
    fixed, broken, changed = Counter(), Counter(), 0
    for key, (t, pa) in a.items():
        tb, pb = b[key]
        if tb != t:
            raise ComparisonError(f'clip_level.clips_detail: {key} is labelled {t} in base '
                                  f'and {tb} in candidate')
        if pa == t and pb != t:
            broken[t] += 1
        elif pa != t and pb == t:
            fixed[t] += 1
        elif pa != pb:
            changed += 1
    nf, nb = sum(fixed.values()), sum(broken.values())
    return {'clips': len(a), 'fixed': nf, 'broken': nb, 'wrong_both_ways': changed,
            'p_value': mcnemar_exact(nf, nb),
            'fixed_per_true_class': {_name(k): v for k, v in sorted(fixed.items())},
            'broken_per_true_class': {_name(k): v for k, v in sorted(broken.items())}}


def _name(class_id: int) -> str:
    try:
        return taxonomy.by_id(class_id).name
    except ValueError:
        return str(class_id)


def paired_error_rate(base_rows: Sequence[Sequence[int]], cand_rows: Sequence[Sequence[int]],
                      resamples: int = 2000, seed: int = 0) -> dict:
    """Difference of event error rates (candidate - base) with a paired bootstrap interval.

    The same resampled recordings are scored for both models, so the mixture-to-mixture
    variation they share cancels and only the models' difference is left.
    """
    a = np.asarray(base_rows, dtype=np.float64)
    b = np.asarray(cand_rows, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 4:
        raise ComparisonError(f'per_recording: shapes {a.shape} and {b.shape} do not pair')
    if not np.array_equal(a[:, 0], b[:, 0]):
        raise ComparisonError('per_recording: the reference events differ (not the same '
                              'mixtures)')
    er_a, er_b = float(error_rate_of_counts(a.sum(0))), float(error_rate_of_counts(b.sum(0)))
    rng = np.random.default_rng(seed)
    idx = rng.integers(len(a), size=(resamples, len(a)))
    with np.errstate(divide='ignore', invalid='ignore'):
        d = error_rate_of_counts(b[idx].sum(1)) - error_rate_of_counts(a[idx].sum(1))
    d = d[np.isfinite(d)]
    lo, hi = np.percentile(d, [2.5, 97.5]) if d.size else (math.nan, math.nan)
    return {'base': er_a, 'candidate': er_b,
            'difference': er_b - er_a, 'difference_ci95': [float(lo), float(hi)],
            'share_candidate_better': float(np.mean(d < 0)) if d.size else math.nan}


def check_same_data(base: dict, cand: dict) -> None:
    """Both reports were made on the same labelled clips."""
    if base.get('data', {}).get('labels') != cand.get('data', {}).get('labels'):
        raise ComparisonError('data.labels: the reports were made on different clips')


def check_same_mixtures(base: dict, cand: dict) -> None:
    """Both reports scored the same mixtures: same seed, counts and source clips."""
    ea, eb = base.get('event_based', {}), cand.get('event_based', {})
    if base.get('seed') != cand.get('seed'):
        raise ComparisonError(f'seed: {base.get("seed")} in base, {cand.get("seed")} in '
                              'candidate (not the same mixtures)')
    for field in ('mixtures_per_ebr', 'with_event', 'event_clips', 'ambient_clips'):
        if ea.get(field) != eb.get(field):
            raise ComparisonError(f'event_based.{field}: {ea.get(field)} in base, '
                                  f'{eb.get(field)} in candidate (not the same mixtures)')


def _street(report: dict) -> dict:
    return report.get('street_level') or {}


def compare_events(base: dict, cand: dict, street: bool = False) -> dict:
    """Paired error-rate differences per EBR; empty when a report has no per-mixture counts.
    ``street``: of the same mixtures at street level (the reports' ``street_level``)."""
    ea, eb = ((_street(base), _street(cand)) if street else (base, cand))
    ea, eb = ea.get('event_based', {}), eb.get('event_based', {})
    if 'per_ebr' not in ea or 'per_ebr' not in eb:
        return {'skipped': 'a report has no mixtures'}
    check_same_mixtures(base, cand)
    out = {}
    for ebr, ra in ea['per_ebr'].items():
        rb = eb['per_ebr'].get(ebr)
        if rb is None:
            raise ComparisonError(f'event_based.per_ebr: {ebr} dB missing in candidate')
        if 'per_recording' not in ra or 'per_recording' not in rb:
            out[ebr] = {'base': ra['overall']['error_rate'],
                        'candidate': rb['overall']['error_rate'],
                        'skipped': 'no per-mixture counts (report predates them): '
                                   're-run soft evaluate for the paired interval'}
            continue
        out[ebr] = paired_error_rate(ra['per_recording'], rb['per_recording'])
        ia, ib = (e.get('insertions', {}).get('per_ebr', {}).get(ebr) for e in (ea, eb))
        if ia and ib:
            out[ebr]['insertions'] = {c: [ia['overall'][c], ib['overall'][c]]
                                      for c in ia['causes'] if c in ib['overall']}
    return out


def compare_false_alarms(base: dict, cand: dict, street: bool = False) -> dict:
    """Police false events on the same real background: exact conditional Poisson test.
    ``street``: that background at street level."""
    ra, rb = ((_street(base), _street(cand)) if street else (base, cand))
    fa, fb = ra['false_alarms']['real'], rb['false_alarms']['real']
    if not math.isclose(fa['hours'], fb['hours'], rel_tol=1e-6):
        raise ComparisonError(f'false_alarms.real.hours: {fa["hours"]} in base, '
                              f'{fb["hours"]} in candidate (not the same background)')
    if not fa['hours'] > 0:
        return {'skipped': 'no real background'}
    na = int(round(fa['police_per_hour'] * fa['hours']))
    nb = int(round(fb['police_per_hour'] * fb['hours']))
    p = 1.0 if na + nb == 0 else float(stats.binomtest(nb, na + nb, 0.5).pvalue)
    return {'hours': fa['hours'], 'base_events': na, 'candidate_events': nb,
            'base_per_hour': fa['police_per_hour'], 'candidate_per_hour': fb['police_per_hour'],
            'p_value': p}


def compare_long_recordings(base: dict, cand: dict) -> dict | None:
    """Police events on the same long recordings (``--streams``): exact conditional Poisson
    test on the totals, and the recordings whose count moved. None unless both have them."""
    la, lb = base.get('long_recordings'), cand.get('long_recordings')
    if not la or not lb:
        return None
    fa = {f['path']: f for f in la['per_recording']}
    fb = {f['path']: f for f in lb['per_recording']}
    if set(fa) != set(fb) or any(not math.isclose(fa[k]['hours'], fb[k]['hours'],
                                                  rel_tol=1e-6, abs_tol=1e-9) for k in fa):
        return {'skipped': 'not the same recordings (paths or hours differ)'}
    na, nb = la['police_events'], lb['police_events']
    p = 1.0 if na + nb == 0 else float(stats.binomtest(nb, na + nb, 0.5).pvalue)
    moved = {k: [fa[k]['police_events'], fb[k]['police_events']] for k in sorted(fa)
             if fa[k]['police_events'] != fb[k]['police_events']}
    return {'recordings': len(fa), 'hours': la['hours'], 'base_events': na,
            'candidate_events': nb, 'p_value': p, 'moved': moved}


def compare(base: dict, cand: dict) -> dict:
    """Every paired comparison of two ``soft evaluate`` reports."""
    check_same_data(base, cand)
    long = compare_long_recordings(base, cand)
    return {'base': base.get('model', {}), 'candidate': cand.get('model', {}),
            **({'long_recordings': long} if long is not None else {}),
            'clip_level': compare_clips(base, cand),
            'event_based': compare_events(base, cand),
            'false_alarms_real': compare_false_alarms(base, cand),
            **{section: {v: compare_clips(base, cand, where)
                         for v, where in shared_variants([base, cand], section)}
               for section in VARIANTS},
            **({'street_level': {
                **({'clip_level': compare_clips(base, cand, STREET_CLIPS)}
                   if _street(base).get('clip_level') and _street(cand).get('clip_level')
                   else {}),
                'event_based': compare_events(base, cand, street=True),
                'false_alarms_real': compare_false_alarms(base, cand, True)}}
               if _street(base).get('event_based') and _street(cand).get('event_based')
               else {})}


def _events_and_alarms_lines(c: dict) -> list[str]:
    lines = []
    for ebr, e in c['event_based'].items():
        if ebr == 'skipped':
            lines.append(f'event based: {e}')
        elif 'skipped' in e:
            lines.append(f'ER {ebr} dB: {e["base"]:.2f} -> {e["candidate"]:.2f} ({e["skipped"]})')
        else:
            lines.append(f'ER {ebr} dB: {e["base"]:.2f} -> {e["candidate"]:.2f}, difference '
                         f'{e["difference"]:+.3f} {format_ci(e["difference_ci95"], "+.3f")} '
                         f'(lower in {e["share_candidate_better"]:.0%} of resamples)')
            if e.get('insertions'):
                lines.append('  insertions: ' + ', '.join(
                    f'{cause.replace("_", " ")} {a} -> {b}'
                    for cause, (a, b) in e['insertions'].items()))
    f = c['false_alarms_real']
    if 'skipped' in f:
        lines.append(f'false alarms: {f["skipped"]}')
    else:
        lines.append(f'police false events on {f["hours"] * 60:.1f} min of real background: '
                     f'{f["base_events"]} -> {f["candidate_events"]} (exact p = '
                     f'{f["p_value"]:.3f})')
    return lines


def format_comparison(c: dict) -> str:
    head = [f'base {c["base"].get("version")}  vs  candidate {c["candidate"].get("version")}']
    body = comparison_sections(c, _clip_lines, _events_and_alarms_lines, _variant_line)
    return '\n'.join(head + body)


def comparison_sections(c: dict, clip_lines, events_lines, variant_line) -> list[str]:
    """A comparison's sections in the report's order. Run against run and recipe against
    recipe word their lines differently but must keep the same sections in the same order,
    so that two texts read side by side line up."""
    lines = clip_lines(c['clip_level']) + events_lines(c)
    lines += [variant_line(f'clips band-limited at {cut} Hz', b)
              for cut, b in c.get('bandwidth', {}).items()]
    if 'street_level' in c:
        st = c['street_level']
        lines.append('at street level:')
        lines += [f'  {li}' for li in (clip_lines(st['clip_level']) if 'clip_level' in st
                                       else []) + events_lines(st)]
    lines += [variant_line(f'clips heard from {d} m further', b)
              for d, b in c.get('far', {}).items()]
    lines += _long_lines(c.get('long_recordings'))
    return lines


def _long_lines(lr: dict | None) -> list[str]:
    if not lr:
        return []
    if 'skipped' in lr:
        return [f'long recordings: {lr["skipped"]}']
    out = [f'police events on {lr["recordings"]} long recordings ({lr["hours"]:.2f} h): '
           f'{lr["base_events"]} -> {lr["candidate_events"]} (exact p = {lr["p_value"]:.3f})']
    out += [f'  {k}: {a} -> {b}' for k, (a, b) in list(lr['moved'].items())[:10]]
    return out


def _variant_line(title: str, b: dict) -> str:
    return f'{title}: {b["fixed"]} fixed, {b["broken"]} broken (McNemar exact p = ' \
        f'{b["p_value"]:.3f})'


def _clip_lines(cl: dict) -> list[str]:
    lines = [f'clips: {cl["fixed"]} fixed, {cl["broken"]} broken of {cl["clips"]} '
             f'(McNemar exact p = {cl["p_value"]:.3f}); {cl["wrong_both_ways"]} wrong in '
             'both, differently']
    for key, word in (('fixed_per_true_class', 'fixed'), ('broken_per_true_class', 'broken')):
        if cl[key]:
            lines.append(f'  {word}: ' + ', '.join(f'{k} {v}' for k, v in cl[key].items()))
    return lines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='soft compare',
        usage='soft compare BASE.json CANDIDATE.json [--out OUT]\n'
              '       soft compare BASE1.json BASE2.json ... --vs CAND1.json CAND2.json ... '
              '[--out OUT]',
        description='Paired comparison of two soft evaluate reports made on the same data: '
        'clips fixed and broken (McNemar), event error-rate differences with a paired '
        'bootstrap interval, police false events (exact Poisson test). With --vs, two '
        'recipes each trained with several seeds: runs and clips resampled, and an exact '
        'permutation test over the runs.')
    p.add_argument('reports', type=Path, nargs='+', metavar='REPORT',
                   help='base then candidate report; with --vs, every run of the base recipe')
    p.add_argument('--vs', type=Path, nargs='+', default=None, metavar='REPORT',
                   help='every run of the candidate recipe (one soft evaluate report per seed)')
    p.add_argument('--resamples', type=int, default=2000,
                   help='bootstrap resamples of the recipe comparison')
    p.add_argument('--out', type=Path, default=None, help='also write the comparison as JSON')
    return p


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except (OSError, json.JSONDecodeError) as exc:
        raise ComparisonError(f'{path}: {exc}') from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``soft compare``; 2 on unreadable or unpaired reports."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.vs is None and len(args.reports) != 2:
        parser.error(f'REPORT: {len(args.reports)} given; two (base, candidate), or give '
                     'the candidate recipe\'s runs after --vs')
    if args.resamples < 100:
        parser.error(f'--resamples {args.resamples}: at least 100')
    try:
        if args.vs is None:
            result = compare(_read(args.reports[0]), _read(args.reports[1]))
            text = format_comparison(result)
        else:
            from soft.evaluation.recipes import compare_recipes, format_recipe_comparison

            result = compare_recipes([_read(p) for p in args.reports],
                                     [_read(p) for p in args.vs],
                                     [str(p) for p in args.reports], [str(p) for p in args.vs],
                                     resamples=args.resamples)
            text = format_recipe_comparison(result)
    except ComparisonError as exc:
        print(f'soft compare: {exc}', file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f'soft compare: a report has no field {exc.args[0]!r} (not a soft evaluate '
              'report)', file=sys.stderr)
        return 2
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + '\n', encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main())
