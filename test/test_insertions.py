"""Where insertions came from: one cause per unmatched report, summing to sed_eval's count."""
from soft.evaluation.event_metrics import Event, EventBasedMetrics
from soft.evaluation.insertions import CAUSES, InsertionLedger, causes


def test_each_insertion_gets_its_cause():
    ref = [Event(5.0, 9.0, 'crackling'), Event(20.0, 21.0, 'gunshot')]
    est = [Event(5.1, 5.2, 'crackling'),        # found
           Event(7.8, 7.9, 'crackling'),        # the same string of crackles again
           Event(9.4, 9.5, 'crackling'),        # still within the offset's collar
           Event(20.0, 20.1, 'gunshot'),        # found
           Event(20.9, 21.0, 'glass_break'),    # the shot's tail heard as glass
           Event(14.0, 14.1, 'explosion'),      # background between the two
           Event(21.6, 21.7, 'gunshot')]        # past the shot and its collar
    got = causes(ref, est, 0.5)
    assert got == [(1, 'same_sound_again'), (2, 'same_sound_again'),
                   (4, 'other_class_in_sound'), (5, 'over_background'),
                   (6, 'over_background')]
    assert causes([], est[:2], 0.5) == [(0, 'no_event'), (1, 'no_event')]


def test_the_ledger_sums_to_the_metrics_insertions():
    recordings = [
        ([Event(5.0, 9.0, 'crackling')], [Event(5.2, 5.3, 'crackling'),
                                          Event(8.0, 8.1, 'crackling')]),
        ([], [Event(3.0, 3.1, 'gunshot'), Event(12.0, 12.1, 'siren')]),
        ([Event(2.0, 2.4, 'scream')], [Event(2.1, 2.2, 'siren'),       # a substitution
                                       Event(2.3, 2.4, 'whistle')]),   # then an insertion
    ]
    ledger, metrics = InsertionLedger(0.5), EventBasedMetrics(0.5)
    for i, (ref, est) in enumerate(recordings):
        ledger.add(ref, est, 'real ambience' if i else 'generated traffic')
        metrics.add(ref, est)
    r = ledger.results()
    assert r['causes'] == list(CAUSES)
    assert sum(r['overall'].values()) == metrics.results()['overall']['insertions'] == 4
    assert r['overall'] == {'no_event': 2, 'same_sound_again': 1, 'other_class_in_sound': 1,
                            'over_background': 0}
    assert r['per_class']['crackling'] == {'no_event': 0, 'same_sound_again': 1,
                                           'other_class_in_sound': 0, 'over_background': 0}
    assert sum(r['per_background']['real ambience'].values()) == 3
