"""Small ONNX models honouring the classifier contract, built in memory for tests and benches.

``make_test_model`` is a transparent linear model (time-averaged log-mel -> logits -> softmax)
whose weights a test chooses; ``make_cnn_model`` has the cost of a small CNN, for the bench.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from soft.audio.features import FeatureConfig, mel_filterbank
from soft.classify import taxonomy

OPSET = 17


def _metadata(cfg: FeatureConfig, thresholds, version: str,
              overrides: Mapping[str, str | None] | None) -> dict[str, str]:
    meta = dict(cfg.to_metadata())
    meta['soft.classes'] = ','.join(c.name for c in taxonomy.CLASSES)
    thr = [0.5] * taxonomy.NUM_CLASSES if thresholds is None else list(thresholds)
    meta['soft.thresholds'] = ','.join(repr(float(t)) for t in thr)
    meta['soft.model_version'] = version
    for key, value in (overrides or {}).items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    return meta


def _save(graph, path: Path, meta: dict[str, str]) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)])
    model.ir_version = 8
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def _io(cfg: FeatureConfig):
    x = helper.make_tensor_value_info('logmel', TensorProto.FLOAT,
                                      ['N', 1, cfg.n_mels, cfg.window_frames])
    y = helper.make_tensor_value_info('probs', TensorProto.FLOAT, ['N', taxonomy.NUM_CLASSES])
    return x, y


def make_test_model(path: Path, cfg: FeatureConfig, weights: np.ndarray | None = None,
                    bias: np.ndarray | None = None, thresholds=None, version: str = 'test-1',
                    metadata: Mapping[str, str | None] | None = None) -> Path:
    """softmax(mean_t(logmel) @ weights + bias); weights [n_mels, 13], bias [13].

    ``metadata`` overrides (or, with None, removes) metadata keys to build broken models.
    """
    w = np.zeros((cfg.n_mels, taxonomy.NUM_CLASSES), np.float32) if weights is None \
        else np.asarray(weights, np.float32)
    b = np.zeros(taxonomy.NUM_CLASSES, np.float32) if bias is None \
        else np.asarray(bias, np.float32)
    x, y = _io(cfg)
    nodes = [
        helper.make_node('ReduceMean', ['logmel'], ['avg'], axes=[1, 3], keepdims=0),
        helper.make_node('MatMul', ['avg', 'W'], ['lin']),
        helper.make_node('Add', ['lin', 'B'], ['logits']),
        helper.make_node('Softmax', ['logits'], ['probs'], axis=1),
    ]
    graph = helper.make_graph(nodes, 'soft_test_linear', [x], [y],
                              [numpy_helper.from_array(w, 'W'), numpy_helper.from_array(b, 'B')])
    return _save(graph, path, _metadata(cfg, thresholds, version, metadata))


def band_detector_weights(cfg: FeatureConfig, class_id: int, f_lo: float, f_hi: float,
                          gain: float = 4.0, contrast_db: float = 6.0
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Weights making ``class_id`` win when the window's mean log-mel in [f_lo, f_hi] Hz
    exceeds the rest of the spectrum by more than about ``contrast_db`` (flat noise: 0 dB)."""
    fb = mel_filterbank(cfg)
    hz = np.linspace(0.0, cfg.sample_rate / 2, fb.shape[0])
    centre = (fb * hz[:, None]).sum(0) / np.maximum(fb.sum(0), 1e-12)
    inside = (centre >= f_lo) & (centre <= f_hi)
    if not inside.any() or inside.all():
        raise ValueError(f'band {f_lo}-{f_hi} Hz selects no (or every) mel band')
    w = np.zeros((cfg.n_mels, taxonomy.NUM_CLASSES), np.float32)
    w[inside, class_id] = gain / inside.sum()
    w[~inside, class_id] = -gain / (~inside).sum()
    b = np.zeros(taxonomy.NUM_CLASSES, np.float32)
    b[class_id] = -gain * contrast_db * np.log(10.0) / 10.0
    return w, b


def make_cnn_model(path: Path, cfg: FeatureConfig, channels=(16, 32, 64), seed: int = 0,
                   thresholds=None) -> Path:
    """A random-weight small CNN (3 conv blocks, global pooling, linear): realistic cost."""
    rng = np.random.default_rng(seed)
    x, y = _io(cfg)
    nodes, inits = [], []
    prev, cin = 'logmel', 1
    for i, cout in enumerate(channels):
        w = (rng.standard_normal((cout, cin, 3, 3)) / np.sqrt(9 * cin)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f'cw{i}'),
                  numpy_helper.from_array(np.zeros(cout, np.float32), f'cb{i}')]
        nodes += [helper.make_node('Conv', [prev, f'cw{i}', f'cb{i}'], [f'c{i}'],
                                   pads=[1, 1, 1, 1]),
                  helper.make_node('Relu', [f'c{i}'], [f'r{i}']),
                  helper.make_node('MaxPool', [f'r{i}'], [f'p{i}'], kernel_shape=[2, 2],
                                   strides=[2, 2])]
        prev, cin = f'p{i}', cout
    wl = (rng.standard_normal((cin, taxonomy.NUM_CLASSES)) / np.sqrt(cin)).astype(np.float32)
    inits += [numpy_helper.from_array(wl, 'wl'),
              numpy_helper.from_array(np.zeros(taxonomy.NUM_CLASSES, np.float32), 'bl')]
    nodes += [helper.make_node('GlobalAveragePool', [prev], ['gap']),
              helper.make_node('Flatten', ['gap'], ['flat'], axis=1),
              helper.make_node('Gemm', ['flat', 'wl', 'bl'], ['logits']),
              helper.make_node('Softmax', ['logits'], ['probs'], axis=1)]
    graph = helper.make_graph(nodes, 'soft_test_cnn', [x], [y], inits)
    return _save(graph, path, _metadata(cfg, thresholds, f'cnn-{seed}', None))
