"""ONNX classifier: contract checks, refusal of mismatched models, predictions."""
import numpy as np
import pytest
from onnx_fixtures import make_test_model

from soft.audio.features import FeatureConfig
from soft.classify import taxonomy
from soft.classify.inference import Classifier, ModelError

CFG = FeatureConfig()


def test_good_model_loads_and_predicts(tmp_path):
    w = np.zeros((CFG.n_mels, 13), np.float32)
    w[:32, 5] = 1.0                       # class 5 likes energy in the low half
    thr = [0.5] * 12 + [0.7]
    path = make_test_model(tmp_path / 'm.onnx', CFG, w, thresholds=thr, version='v7')
    clf = Classifier(path, expected=CFG)
    assert clf.version == 'v7' and clf.feature_config == CFG and len(clf.sha256) == 64
    np.testing.assert_allclose(clf.thresholds, thr)
    batch = np.zeros((3, CFG.n_mels, CFG.window_frames), np.float32)
    batch[1, :32] = 2.0
    probs = clf.predict(batch)
    assert probs.shape == (3, taxonomy.NUM_CLASSES) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert np.argmax(probs[1]) == 5 and probs[0, 5] == pytest.approx(1 / 13, rel=1e-5)
    assert clf.predict(batch[:0]).shape == (0, 13)
    with pytest.raises(ValueError, match=r'expected \[N, 64, 100\]'):
        clf.predict(np.zeros((2, 64, 99), np.float32))


@pytest.mark.parametrize('override, message', [
    ({'soft.feature.n_mels': '40'},
     'metadata soft.feature.n_mels = 40 but the detector uses 64'),
    ({'soft.feature.hop_length': None}, "missing key 'soft.feature.hop_length'"),
    ({'soft.classes': 'background,gunshot'}, "soft.classes = 'background,gunshot' but"),
    ({'soft.thresholds': '0.5,0.5'}, 'need 13 values'),
    ({'soft.thresholds': 'high,' * 12 + 'low'}, 'not a comma-separated list'),
    ({'soft.model_version': None}, "'soft.model_version' is missing"),
])
def test_mismatched_or_incomplete_metadata_is_refused(tmp_path, override, message):
    path = make_test_model(tmp_path / 'bad.onnx', CFG, metadata=override)
    with pytest.raises(ModelError, match=message.replace('(', r'\(').replace('[', r'\[')) as e:
        Classifier(path, expected=CFG)
    assert str(path) in str(e.value)


def test_model_for_other_features_is_refused_against_expected(tmp_path):
    other = FeatureConfig(fmax=7000.0)
    path = make_test_model(tmp_path / 'other.onnx', other)
    assert Classifier(path).feature_config == other      # fine on its own
    with pytest.raises(ModelError,
                       match='soft.feature.fmax = 7000.0 but the detector uses 7800.0'):
        Classifier(path, expected=CFG)


def test_missing_and_corrupt_files_name_the_path(tmp_path):
    with pytest.raises(ModelError, match='absent.onnx: no such file'):
        Classifier(tmp_path / 'absent.onnx')
    junk = tmp_path / 'junk.onnx'
    junk.write_bytes(b'\x08\x07not a protobuf at all' * 20)
    with pytest.raises(ModelError, match='junk.onnx: not a loadable ONNX model'):
        Classifier(junk)
