"""ONNX classifier of log-mel windows, refusing any model that does not fit the detector.

A model trained on other features, or for another taxonomy, would produce confident nonsense;
so the features and class names recorded in the model's metadata are compared with the
detector's, and a mismatch is an error naming the key and both values.

Model contract: input ``logmel`` float32 [N, 1, n_mels, window_frames]; output ``probs``
float32 [N, 13] (calibrated probabilities, taxonomy id order); metadata ``soft.feature.*``
(see :class:`FeatureConfig`), ``soft.classes``, ``soft.thresholds``, ``soft.model_version``.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from soft.audio.features import FeatureConfig, FeatureConfigError
from soft.classify import taxonomy

INPUT_NAME = 'logmel'
OUTPUT_NAME = 'probs'
CLASSES_KEY = 'soft.classes'
THRESHOLDS_KEY = 'soft.thresholds'
VERSION_KEY = 'soft.model_version'


class ModelError(RuntimeError):
    """A model file that is missing, unreadable or does not fit; the message names the path."""


class Classifier:
    """One onnxruntime session on one (or ``threads``) core(s), sequential execution."""

    def __init__(self, model_path: str | os.PathLike, expected: FeatureConfig | None = None,
                 threads: int = 1):
        self.path = Path(model_path)
        if not self.path.is_file():
            raise ModelError(f'model {self.path}: no such file')
        blob = self.path.read_bytes()
        self._sha256 = hashlib.sha256(blob).hexdigest()
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(blob, sess_options=opts,
                                                 providers=['CPUExecutionProvider'])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises several private types
            raise ModelError(f'model {self.path}: not a loadable ONNX model ({exc})') from None
        meta = dict(self._session.get_modelmeta().custom_metadata_map)
        self._check_metadata(meta, expected)
        self._check_io()

    def _error(self, text: str) -> ModelError:
        return ModelError(f'model {self.path}: {text}')

    def _check_metadata(self, meta: dict[str, str], expected: FeatureConfig | None) -> None:
        try:
            self._features = FeatureConfig.from_metadata(meta)
        except FeatureConfigError as exc:
            raise self._error(str(exc)) from None
        if expected is not None:
            for key, model_value, want in self._features.mismatches(expected):
                raise self._error(f'metadata {key} = {model_value} but the detector uses {want}')
        for key in (CLASSES_KEY, THRESHOLDS_KEY, VERSION_KEY):
            if key not in meta:
                raise self._error(f'metadata key {key!r} is missing')
        names = [n.strip() for n in meta[CLASSES_KEY].split(',')]
        want_names = [c.name for c in taxonomy.CLASSES]
        if names != want_names:
            raise self._error(f'metadata {CLASSES_KEY} = {meta[CLASSES_KEY]!r} but the taxonomy '
                              f'is {",".join(want_names)!r}')
        try:
            thr = np.array([float(v) for v in meta[THRESHOLDS_KEY].split(',')], dtype=np.float64)
        except ValueError:
            raise self._error(f'metadata {THRESHOLDS_KEY} = {meta[THRESHOLDS_KEY]!r} is not a '
                              f'comma-separated list of numbers') from None
        if thr.shape != (taxonomy.NUM_CLASSES,) or not np.all((thr >= 0) & (thr <= 1)):
            raise self._error(f'metadata {THRESHOLDS_KEY} = {meta[THRESHOLDS_KEY]!r}: need '
                              f'{taxonomy.NUM_CLASSES} values in [0, 1]')
        self._thresholds = thr
        self._version = meta[VERSION_KEY]
        self.metadata = meta

    def _check_io(self) -> None:
        cfg = self._features
        ins = {i.name: i for i in self._session.get_inputs()}
        outs = {o.name: o for o in self._session.get_outputs()}
        if INPUT_NAME not in ins:
            raise self._error(f'no input named {INPUT_NAME!r} (has {sorted(ins)})')
        if OUTPUT_NAME not in outs:
            raise self._error(f'no output named {OUTPUT_NAME!r} (has {sorted(outs)})')
        shape = list(ins[INPUT_NAME].shape)
        want = [None, 1, cfg.n_mels, cfg.window_frames]
        fixed = [s if isinstance(s, int) else None for s in shape]
        if len(shape) != 4 or any(w is not None and f is not None and f != w
                                  for f, w in zip(fixed, want)):
            raise self._error(f'input {INPUT_NAME!r} has shape {shape}, expected '
                              f'[N, 1, {cfg.n_mels}, {cfg.window_frames}]')
        oshape = list(outs[OUTPUT_NAME].shape)
        if len(oshape) != 2 or (isinstance(oshape[1], int)
                                and oshape[1] != taxonomy.NUM_CLASSES):
            raise self._error(f'output {OUTPUT_NAME!r} has shape {oshape}, expected '
                              f'[N, {taxonomy.NUM_CLASSES}]')

    @property
    def thresholds(self) -> np.ndarray:
        """Per-class decision thresholds [13] (copy)."""
        return self._thresholds.copy()

    @property
    def feature_config(self) -> FeatureConfig:
        """The features the model was trained on."""
        return self._features

    @property
    def version(self) -> str:
        """The model's ``soft.model_version``."""
        return self._version

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the model file, for event provenance and the model card."""
        return self._sha256

    def predict_all(self, x: np.ndarray, batch: int = 2048) -> np.ndarray:
        """:meth:`predict` over a whole stored feature set (e.g. float16), a batch at a time:
        converting tens of thousands of windows to float32 at once costs gigabytes."""
        out = [self.predict(np.asarray(x[i:i + batch], dtype=np.float32))
               for i in range(0, len(x), batch)]
        return np.concatenate(out) if out else np.zeros((0, taxonomy.NUM_CLASSES), np.float32)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities [N, 13] for log-mel windows [N, n_mels, window_frames]."""
        cfg = self._features
        x = np.asarray(batch, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (cfg.n_mels, cfg.window_frames):
            raise ValueError(f'predict: batch of shape {x.shape}, expected '
                             f'[N, {cfg.n_mels}, {cfg.window_frames}]')
        if len(x) == 0:
            return np.zeros((0, taxonomy.NUM_CLASSES), dtype=np.float32)
        if not np.all(np.isfinite(x)):
            raise ValueError('predict: batch contains NaN/inf')
        probs = self._session.run([OUTPUT_NAME], {INPUT_NAME: x[:, None]})[0]
        probs = np.asarray(probs, dtype=np.float32)
        if probs.shape != (len(x), taxonomy.NUM_CLASSES):
            raise self._error(f'output {OUTPUT_NAME!r} came back with shape {probs.shape}')
        return probs
