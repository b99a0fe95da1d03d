"""Long background recordings: streamed whole from disk for the false alarms per hour."""
import json
import struct

import numpy as np
import pytest
import soundfile as sf
from onnx_fixtures import band_detector_weights, make_test_model
from scipy.signal import resample_poly

from soft.audio.detector import DetectorConfig
from soft.audio.features import FeatureConfig
from soft.classify import taxonomy
from soft.classify.inference import Classifier
from soft.evaluation import clip_eval
from soft.evaluation.evaluate import main
from soft.evaluation.recordings import long_recordings_section, stream_recording

SR = 16000
GUNSHOT = taxonomy.by_name('gunshot').id


@pytest.fixture(scope='module')
def band_model(tmp_path_factory):
    """A model that calls a 2-3 kHz tone burst a gunshot: police events on demand."""
    cfg = FeatureConfig()
    w, b = band_detector_weights(cfg, GUNSHOT, 2000, 3000)
    return make_test_model(tmp_path_factory.mktemp('m') / 'band.onnx', cfg, w, b)


def street_with_bursts(seconds: float, every_s: float, seed: int = 0, amp: float = 0.2
                       ) -> np.ndarray:
    """Brown-ish noise with a short 2-3 kHz burst every ``every_s`` seconds."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal(int(seconds * SR))) * 2e-4
    x -= np.convolve(x, np.ones(801) / 801, mode='same')     # keep it from wandering off
    x += 0.003 * rng.standard_normal(x.size)
    t = np.arange(int(0.6 * SR)) / SR
    burst = amp * sum(np.sin(2 * np.pi * f * t) for f in (2200, 2500, 2800)) * np.exp(-t / 0.4)
    for k in range(int(seconds // every_s)):
        i = int((k * every_s + every_s / 2) * SR)
        x[i:i + t.size] += burst
    return x.astype(np.float32)


def test_a_recording_streamed_from_disk_gives_what_the_same_audio_in_memory_gives(
        tmp_path, band_model):
    x = street_with_bursts(150.0, 10.0)
    path = tmp_path / 'street.flac'
    sf.write(str(path), x, SR)
    clf = Classifier(band_model, threads=1)
    cfg, _ = clip_eval.deployed_detector_config()
    run = stream_recording(path, clf, cfg, chunk_s=7.0)
    dets, _ = clip_eval.run_stream(x, clf, cfg, SR)
    assert run.error is None and run.seconds == pytest.approx(150.0, abs=1 / SR)
    assert [(round(t, 6), c) for t, c, _, _ in run.events] == \
        [(round(d.onset_ns / 1e9, 6), taxonomy.by_id(d.class_id).name) for d in dets]
    assert sum(c == 'gunshot' for _, c, _, _ in run.events) == 15     # every burst, once
    # the same street recorded at 44.1 kHz in stereo: the same shots at the same times
    y = resample_poly(x, 441, 160).astype(np.float32)
    sf.write(str(tmp_path / 'street44.wav'), np.stack([y, y], 1), 44100, subtype='PCM_24')
    run44 = stream_recording(tmp_path / 'street44.wav', clf, cfg)
    assert run44.seconds == pytest.approx(150.0, abs=1e-3)
    shots = [t for t, c, _, _ in run.events if c == 'gunshot']
    shots44 = [t for t, c, _, _ in run44.events if c == 'gunshot']
    assert len(shots44) == len(shots)
    assert np.max(np.abs(np.array(shots44) - shots)) < 0.002


def test_a_recording_that_breaks_part_way_keeps_what_was_heard(tmp_path, band_model):
    x = street_with_bursts(60.0, 10.0)
    path = tmp_path / 'cut.wav'
    sf.write(str(path), x, SR, subtype='PCM_16')
    data = path.read_bytes()
    path.write_bytes(data[:44 + 2 * SR * 30])         # the header still announces 60 s
    assert struct.unpack('<I', data[40:44])[0] == 2 * x.size
    clf = Classifier(band_model, threads=1)
    cfg = DetectorConfig()
    sf.write(str(tmp_path / 'empty.wav'), np.zeros(0, np.float32), SR)
    sec = long_recordings_section([path, tmp_path / 'missing.flac', tmp_path / 'empty.wav'],
                                  clf, cfg, roots=[tmp_path])
    assert [name for name, _ in sec['failed']] == ['cut.wav', 'missing.flac', 'empty.wav']
    assert 'truncated' in sec['failed'][0][1] and 'no such file' in sec['failed'][1][1]
    assert 'empty: no audio' in sec['failed'][2][1]
    assert sec['hours'] * 3600 == pytest.approx(30.0, abs=0.2)
    assert sec['police_events'] == 3                   # the bursts at 5, 15 and 25 s
    assert sec['police_per_hour'] == pytest.approx(3 / sec['hours'])
    assert sec['per_recording'][1]['hours'] == 0.0


def test_evaluate_streams_long_background_recordings_instead_of_skipping_them(
        tmp_path, band_model, capsys):
    data = tmp_path / 'data'
    (data / 'traffic').mkdir(parents=True)
    (data / 'gunshot').mkdir()
    sf.write(str(data / 'traffic' / 'short.flac'), street_with_bursts(8.0, 100.0), SR)
    sf.write(str(data / 'traffic' / 'night.flac'), street_with_bursts(90.0, 30.0, 1), SR)
    sf.write(str(data / 'gunshot' / 'long_range.flac'), street_with_bursts(90.0, 30.0), SR)
    sf.write(str(data / 'gunshot' / 'g.flac'), street_with_bursts(4.0, 4.0, 2), SR)
    site = tmp_path / 'site' / 'sensor_07'
    site.mkdir(parents=True)
    sf.write(str(site / 'monday.flac'), street_with_bursts(120.0, 40.0, 3), SR)
    (site / 'notes.txt').write_text('not audio')
    out = tmp_path / 'r.json'
    code = main([str(band_model), str(data), '--streams', str(tmp_path / 'site'),
                 '--max-clip-s', '60', '--mixtures', '0', '--fa-minutes', '0',
                 '--bandwidths', 'none', '--street-spl', 'none', '--far-m', 'none',
                 '--out', str(out), '--quiet'])
    assert code == 0
    r = json.loads(out.read_text())
    d = r['data']
    assert d['skipped_reasons'] == {'long': 1}            # a long *event* clip is still skipped
    assert d['long_background_recordings'] == 1 and d['loaded'] == 2
    lr = r['long_recordings']
    assert lr['recordings'] == 2 and lr['failed'] == []
    assert lr['hours'] * 3600 == pytest.approx(210.0, abs=0.01)
    by_name = {f['path']: f for f in lr['per_recording']}
    assert set(by_name) == {'sensor_07/monday.flac', 'traffic/night.flac'}
    assert by_name['sensor_07/monday.flac']['police_events'] == 3
    assert by_name['traffic/night.flac']['police_events'] == 3
    assert [e['t_s'] for e in by_name['traffic/night.flac']['police_listed']] == \
        pytest.approx([15.0, 45.0, 75.0], abs=0.05)
    assert lr['police_per_hour'] == pytest.approx(6 / lr['hours'])
    text = capsys.readouterr().out
    assert 'False alarms on long background recordings (2 recordings' in text
    assert '1 long background recordings streamed' in text


def test_streams_folder_without_audio_is_a_clear_error(tmp_path, band_model, capsys):
    data = tmp_path / 'data' / 'traffic'
    data.mkdir(parents=True)
    sf.write(str(data / 'a.flac'), street_with_bursts(4.0, 100.0), SR)
    (tmp_path / 'empty').mkdir()
    code = main([str(band_model), str(tmp_path / 'data'), '--streams', str(tmp_path / 'empty'),
                 '--quiet'])
    assert code == 2
    assert '--streams: no audio files under' in capsys.readouterr().err


def test_a_sites_recordings_re_threshold_a_model_until_it_raises_no_alert(
        tmp_path, band_model, capsys):
    """soft evaluate --streams finds the site's false alerts; soft train --epochs 0
    --check-streams raises the thresholds over them; the new model passes the same check."""
    from soft.classify.train import main as train_main

    site = tmp_path / 'site'
    site.mkdir()
    sf.write(str(site / 'a.flac'), street_with_bursts(150.0, 10.0, amp=0.02), SR)
    clf = Classifier(band_model, threads=1)
    cfg, _ = clip_eval.deployed_detector_config()
    before = long_recordings_section([site / 'a.flac'], clf, cfg)
    assert before['police_events'] == 15                    # a 2-3 kHz chirp, every 10 s

    base = ['--no-real', '--scale', '0.012', '--epochs', '0', '--fa-minutes', '0.2',
            '--no-cache', '--quiet', '--max-threshold', '0.6', '--init-from', str(band_model)]
    for name, extra in (('plain', []), ('site', ['--check-streams', str(site)])):
        assert train_main(base + extra + ['--out', str(tmp_path / f'{name}.onnx'),
                                          '--run-dir', str(tmp_path / name)]) == 0
    plain = Classifier(tmp_path / 'plain.onnx')
    tuned = Classifier(tmp_path / 'site.onnx')
    assert plain.thresholds[GUNSHOT] == pytest.approx(0.6)
    assert tuned.thresholds[GUNSHOT] > 0.86                # above every chirp's window
    assert np.array_equal(np.delete(tuned.thresholds, GUNSHOT),
                          np.delete(plain.thresholds, GUNSHOT))
    report = json.loads((tmp_path / 'site' / 'report.json').read_text())
    acc = report['check_recordings']
    assert acc['recordings'] == 1 and acc['failed'] == []
    assert acc['hours'] == pytest.approx(150.0 / 3600)
    assert report['results']['false_alarms_recordings']['police_per_hour'] == 0.0
    assert report['threshold_choice'][GUNSHOT]['met_target']
    after = long_recordings_section([site / 'a.flac'], Classifier(tmp_path / 'site.onnx'), cfg)
    assert after['police_events'] == 0
    from soft.evaluation.paired import _long_lines, compare_long_recordings
    c = compare_long_recordings({'long_recordings': before}, {'long_recordings': after})
    assert (c['base_events'], c['candidate_events']) == (15, 0) and c['p_value'] < 1e-4
    assert c['moved'] == {str(site / 'a.flac'): [15, 0]}
    assert 'police events on 1 long recordings (0.04 h): 15 -> 0' in _long_lines(c)[0]
    longer = {**after, 'per_recording': [{**after['per_recording'][0], 'hours': 1.0}]}
    assert 'skipped' in compare_long_recordings({'long_recordings': before},
                                                {'long_recordings': longer})
    assert compare_long_recordings({'long_recordings': before}, {}) is None
    assert long_recordings_section([site / 'a.flac'], plain, cfg)['police_events'] == 15
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert train_main(base + ['--check-streams', str(empty), '--out', str(tmp_path / 'x.onnx'),
                              '--run-dir', str(tmp_path / 'x')]) == 2
    assert '--check-streams: no audio files under' in capsys.readouterr().err
