"""Where missed events were lost: one cause per reference, from real detector windows."""
import numpy as np
import pytest
from onnx_fixtures import band_detector_weights, make_test_model

from soft.audio.detector import DetectorConfig, WindowVerdict
from soft.audio.drivers import NS
from soft.audio.features import FeatureConfig
from soft.classify import taxonomy
from soft.classify.inference import Classifier
from soft.evaluation import clip_eval
from soft.evaluation.evaluate import _events
from soft.evaluation.event_metrics import Event, EventBasedMetrics
from soft.evaluation.misses import CAUSES, MissLedger, causes

SR = 16000
WHISTLE = taxonomy.by_name('whistle').id
GLASS = taxonomy.by_name('glass_break').id


def _window(onset_s, top, p=0.9, sustained=False):
    probs = np.full(taxonomy.NUM_CLASSES, (1 - p) / (taxonomy.NUM_CLASSES - 1))
    probs[top] = p
    return WindowVerdict(int(onset_s * NS), int((onset_s - 0.1) * NS),
                         int((onset_s + 0.9) * NS), sustained, probs)


def test_each_reference_gets_the_cause_that_lost_it():
    ref = [Event(2.0, 2.5, 'whistle'), Event(6.0, 6.4, 'whistle'), Event(10.0, 11.0, 'whistle'),
           Event(14.0, 14.5, 'whistle'), Event(18.0, 18.5, 'whistle'),
           Event(22.0, 22.5, 'whistle'), Event(26.0, 26.5, 'whistle')]
    est = [Event(2.1, 2.5, 'whistle'),          # found
           Event(6.2, 6.4, 'glass_break'),      # substitution
           Event(10.7, 11.0, 'whistle')]        # heard, onset 0.7 s late
    windows = [_window(14.1, WHISTLE, 0.4),      # under its threshold
               _window(18.0, 0),                 # background on top
               _window(22.3, GLASS, 0.5),        # another class, unreported
               _window(26.8, WHISTLE)]           # beyond the collar: no window for 26.0
    assert causes(ref, est, windows, 0.5) == [
        'found', 'wrong_class', 'off_collar', 'under_threshold', 'judged_background',
        'judged_other', 'no_window']
    # a sustained window covering the sound counts although its episode began earlier
    assert causes([Event(30.0, 33.0, 'whistle')], [],
                  [_window(28.0, WHISTLE, 0.4, sustained=True)], 0.5) == ['no_window']
    long = WindowVerdict(int(28.0 * NS), int(30.5 * NS), int(31.5 * NS), True,
                         _window(0, WHISTLE, 0.4).probs)
    assert causes([Event(30.0, 33.0, 'whistle')], [], [long], 0.5) == ['under_threshold']


def test_ledger_agrees_with_the_metrics_on_a_real_detector_run(tmp_path):
    """A band model hears a whistle, calls a low hum background and never gets a window
    for a whisper under the onset threshold; the ledger's counts match sed_eval's."""
    cfg = FeatureConfig()
    w, b = band_detector_weights(cfg, WHISTLE, 2000, 3000)
    model = Classifier(make_test_model(tmp_path / 'band.onnx', cfg, w, b), expected=cfg)
    rng = np.random.default_rng(0)
    x = 0.003 * rng.standard_normal(20 * SR)

    def tones(onset, f_lo, f_hi, amp):
        t = np.arange(int(0.5 * SR)) / SR
        i = int(onset * SR)
        x[i:i + t.size] += amp * sum(np.sin(2 * np.pi * f * t + f)
                                     for f in np.linspace(f_lo, f_hi, 4))

    tones(5.0, 2100, 2900, 0.05)        # a whistle
    tones(10.0, 300, 600, 0.05)         # labelled whistle, but the model hears only 2-3 kHz
    tones(15.0, 2100, 2900, 0.0003)     # a whistle far under the floor
    ref = [Event(t, t + 0.5, 'whistle') for t in (5.0, 10.0, 15.0)]
    windows = []
    dets, _ = clip_eval.run_stream(x.astype(np.float32), model, DetectorConfig(), SR,
                                   observer=windows.append)
    est = _events(dets)
    ledger, metrics = MissLedger(0.5), EventBasedMetrics(0.5)
    ledger.add(ref, est, windows, 'generated traffic')
    metrics.add(ref, est)
    assert causes(ref, est, windows, 0.5) == ['found', 'judged_background', 'no_window']
    r, o = ledger.results(), metrics.results()['overall']
    assert r['causes'] == list(CAUSES) and sum(r['overall'].values()) == o['n_ref'] == 3
    assert r['overall']['found'] == o['n_tp'] == 1
    assert r['per_class']['whistle']['no_window'] == 1
    assert r['per_background']['generated traffic'] == r['overall']


def test_an_unknown_reference_label_is_named():
    with pytest.raises(ValueError, match='not_a_class'):
        causes([Event(1.0, 1.5, 'not_a_class')], [], [_window(1.0, 0)], 0.5)
