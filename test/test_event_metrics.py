"""Event-based metrics against cases computed by hand from Mesaros et al. 2016's definitions."""
import math

import pytest

from soft.evaluation.event_metrics import Event, EventBasedMetrics, event_based, merge_repeats


def ev(onset, label, dur=0.5):
    return Event(onset, onset + dur, label)


def test_one_of_each_error_kind():
    # A@1.3 is correct; A@5.2 sits on B@5.0 (substitution); C@20 matches nothing (insertion);
    # A@10 is never found (deletion). Nref = Nsys = 3, Ntp = 1, S = D = I = 1.
    ref = [ev(1.0, 'A'), ev(5.0, 'B'), ev(10.0, 'A')]
    est = [ev(1.3, 'A'), ev(5.2, 'A'), ev(20.0, 'C')]
    r = event_based([(ref, est)])
    o = r['overall']
    assert (o['n_ref'], o['n_sys'], o['n_tp']) == (3, 3, 1)
    assert (o['substitutions'], o['deletions'], o['insertions']) == (1, 1, 1)
    assert o['error_rate'] == pytest.approx(1.0)
    assert o['f1'] == pytest.approx(1 / 3)
    assert o['precision'] == pytest.approx(1 / 3) and o['recall'] == pytest.approx(1 / 3)
    a, b, c = (r['class_wise'][k] for k in 'ABC')
    # class-wise: no substitutions; A: 2 refs, 2 estimates, 1 correct
    assert (a['deletions'], a['insertions'], a['error_rate'], a['f1']) == (1, 1, 1.0, 0.5)
    assert (b['deletions'], b['insertions'], b['error_rate'], b['f1']) == (1, 0, 1.0, 0.0)
    assert math.isnan(c['error_rate']) and c['f1'] == 0.0 and c['insertions'] == 1
    assert r['class_wise_average']['f1'] == pytest.approx(0.25)
    assert r['class_wise_average']['error_rate'] == pytest.approx(1.0)


def test_collar_is_inclusive_and_onset_only():
    ref = [Event(2.0, 2.2, 'A')]
    inside = event_based([(ref, [Event(2.5, 9.0, 'A')])])['overall']      # offset ignored
    outside = event_based([(ref, [Event(2.51, 2.6, 'A')])])['overall']
    assert inside['n_tp'] == 1 and inside['error_rate'] == 0.0 and inside['f1'] == 1.0
    assert outside['n_tp'] == 0 and outside['deletions'] == 1 and outside['insertions'] == 1
    assert outside['error_rate'] == pytest.approx(2.0)
    # a wrong class inside the collar is one substitution, not a deletion plus an insertion
    sub = event_based([(ref, [Event(2.4, 2.5, 'B')])])['overall']
    assert (sub['substitutions'], sub['deletions'], sub['insertions']) == (1, 0, 0)
    assert sub['error_rate'] == pytest.approx(1.0)


def test_matching_is_optimal_not_greedy():
    # Greedy in reference order pairs r1=1.0 with e=1.45 and leaves r2=1.9 alone;
    # the maximum matching pairs r1-0.6 and r2-1.45: two correct events.
    ref = [ev(1.0, 'A'), ev(1.9, 'A')]
    est = [ev(1.45, 'A'), ev(0.6, 'A')]
    o = event_based([(ref, est)])['overall']
    assert o['n_tp'] == 2 and o['error_rate'] == 0.0


def test_recordings_are_matched_separately_and_accumulate():
    m = EventBasedMetrics(collar_s=0.5)
    m.add([ev(3.0, 'A')], [])                 # a deletion in recording 1
    m.add([], [ev(3.0, 'A')])                 # an insertion in recording 2 (no event there)
    m.add([ev(7.0, 'B')], [ev(7.1, 'B')])     # correct
    r = m.results()
    o = r['overall']
    assert r['recordings'] == 3
    assert (o['n_tp'], o['deletions'], o['insertions'], o['n_ref']) == (1, 1, 1, 2)
    assert o['error_rate'] == pytest.approx(1.0) and o['f1'] == pytest.approx(0.5)


def test_nothing_to_score_is_undefined_not_perfect():
    o = event_based([([], [])])['overall']
    assert math.isnan(o['error_rate']) and math.isnan(o['f1']) and math.isnan(o['precision'])


def test_merge_repeats_joins_one_class_only():
    dets = [Event(1.0, 1.2, 'A'), Event(1.8, 2.0, 'A'), Event(1.9, 2.0, 'B'),
            Event(5.0, 5.1, 'A')]
    out = merge_repeats(dets, gap_s=1.0)
    assert out == [Event(1.0, 2.0, 'A'), Event(1.9, 2.0, 'B'), Event(5.0, 5.1, 'A')]


def test_wilson_interval_matches_reference_values_and_edges():
    from soft.evaluation.intervals import wilson

    # reference: Newcombe (1998) table I, 81/263 -> 0.2553-0.3662
    lo, hi = wilson(81, 263)
    assert lo == pytest.approx(0.2553, abs=1e-4) and hi == pytest.approx(0.3662, abs=1e-4)
    lo, hi = wilson(12, 16)          # 16 gunshot clips at recall 0.75: cannot show 0.90
    assert lo < 0.55 and 0.85 < hi < 0.95
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert all(math.isnan(v) for v in wilson(0, 0))
    with pytest.raises(ValueError, match='successes 5 / trials 3'):
        wilson(5, 3)


def test_poisson_rate_interval_zero_events_and_known_quantiles():
    from soft.evaluation.intervals import poisson_rate

    lo, hi = poisson_rate(0, 1.0)
    assert lo == 0.0 and hi == pytest.approx(3.689, abs=1e-3)   # the rule of three, exactly
    lo, hi = poisson_rate(10, 2.0)                               # Garwood 10 -> 4.795-18.39
    assert lo == pytest.approx(4.795 / 2, abs=1e-3) and hi == pytest.approx(18.39 / 2, abs=1e-2)
    with pytest.raises(ValueError, match='count -1'):
        poisson_rate(-1, 1.0)


def test_clip_metrics_carry_intervals_around_the_point_figures():
    from soft.evaluation.clip_eval import classification_metrics

    m = classification_metrics([1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 1])
    g = m['per_class']['gunshot']
    assert g['recall'] == 0.75 and g['precision'] == 0.75
    for key, point in (('recall_ci95', g['recall']), ('precision_ci95', g['precision'])):
        lo, hi = g[key]
        assert lo < point < hi


def test_error_rate_interval_brackets_the_figure_and_narrows_with_more_recordings():
    def metrics(copies):
        m = EventBasedMetrics()
        for _ in range(copies):
            m.add([ev(5.0, 'gunshot')], [ev(5.1, 'gunshot')])                  # correct
            m.add([ev(5.0, 'gunshot')], [])                                     # deletion
            m.add([], [ev(9.0, 'siren')])                                       # insertion
            m.add([ev(3.0, 'scream')], [ev(3.2, 'siren'), ev(20.0, 'siren')])   # S + I
        return m.results()['overall']

    few, many = metrics(5), metrics(80)
    assert few['error_rate'] == many['error_rate'] == pytest.approx(4 / 3)
    for o in (few, many):
        lo, hi = o['error_rate_ci95']
        assert lo < o['error_rate'] < hi
        lo, hi = o['f1_ci95']
        assert lo < o['f1'] < hi
    width = [o['error_rate_ci95'][1] - o['error_rate_ci95'][0] for o in (few, many)]
    assert width[1] < width[0] / 2.5                       # ~ 1/sqrt(16) as wide
    assert metrics(5)['error_rate_ci95'] == few['error_rate_ci95']   # seeded: reproducible


def test_bootstrap_interval_is_undefined_without_recordings():
    from soft.evaluation.intervals import bootstrap

    assert all(math.isnan(v) for v in bootstrap(lambda c: c[:, 0], []))
    o = EventBasedMetrics().results()['overall']
    assert all(math.isnan(v) for v in o['error_rate_ci95'])
