"""Export the trained classifier to ONNX with everything inference needs inside the file.

The feature configuration, class names and decision thresholds travel as ONNX metadata so
the sensor can refuse a model whose features do not match its own, and so no side file can
drift from the weights. The export is verified against torch with onnxruntime before it is
accepted.
"""
from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from soft.classify import taxonomy

OPSET = 17
INPUT = 'logmel'
OUTPUT = 'probs'
MAX_BYTES = 5 * 1024 * 1024


class ExportError(RuntimeError):
    """The exported graph disagrees with torch, or the file breaks the model contract."""


def model_metadata(feature_metadata: dict[str, str], thresholds: list[float],
                   version: str, extra: dict[str, Any] | None = None) -> dict[str, str]:
    """The metadata_props of the shipped model (all values strings, as ONNX requires)."""
    meta = {str(k): str(v) for k, v in feature_metadata.items()}
    meta['soft.classes'] = ','.join(c.name for c in taxonomy.CLASSES)
    meta['soft.thresholds'] = format_thresholds(thresholds)
    meta['soft.model_version'] = version
    meta['soft.decision_rule'] = 'argmax class if probs[argmax] >= its threshold, else 0'
    for k, v in (extra or {}).items():
        meta[str(k)] = str(v)
    return meta


def format_thresholds(thresholds: Sequence[float]) -> str:
    """``soft.thresholds`` as stored: one per class, in taxonomy order."""
    if len(thresholds) != taxonomy.NUM_CLASSES:
        raise ValueError(f'need {taxonomy.NUM_CLASSES} thresholds, got {len(thresholds)}')
    return ','.join(f'{float(t):.4f}' for t in thresholds)


def with_metadata(src: Path, dst: Path, updates: dict[str, str]) -> Path:
    """Copy the ONNX model ``src`` to ``dst`` with some metadata entries replaced or added.

    The graph and weights are copied untouched, so the copy computes exactly what ``src``
    does; only its declared decisions (thresholds, version) change. Written atomically.
    """
    import onnx

    proto = onnx.load(str(src))
    meta = {e.key: e.value for e in proto.metadata_props}
    meta.update({str(k): str(v) for k, v in updates.items()})
    _set_metadata(proto, meta)
    onnx.checker.check_model(proto)
    return _write_atomic(Path(dst), proto.SerializeToString())


def _set_metadata(proto, meta: dict[str, str]) -> None:
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v


def _write_atomic(path: Path, data: bytes) -> Path:
    """No half-written model is ever left at ``path`` for a sensor to load."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + '.tmp')
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def export_onnx(model, temperature: float, metadata: dict[str, str], path: Path,
                n_mels: int, window_frames: int, check_inputs: np.ndarray | None = None,
                atol: float = 1e-4) -> Path:
    """Write ``softmax(model(x) / T)`` as ONNX to ``path`` and verify it against torch.

    ``check_inputs`` (real feature windows, [N, 1, n_mels, frames]) are run through both
    torch and onnxruntime; a difference above ``atol`` raises ExportError and nothing is
    left at ``path``.
    """
    import onnx
    import torch

    from soft.classify.model import Calibrated

    path = Path(path)
    wrapped = Calibrated(model, temperature).eval()
    dummy = torch.zeros(1, 1, n_mels, window_frames, dtype=torch.float32)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter needs no onnxscript; its deprecation notice is noise here
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(wrapped, (dummy,), buf, opset_version=OPSET,
                          input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: {0: 'N'}, OUTPUT: {0: 'N'}},
                          dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    _set_metadata(proto, metadata)
    proto.producer_name = 'soft train'
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    if len(data) > MAX_BYTES:
        raise ExportError(f'model is {len(data)} bytes, above the {MAX_BYTES} byte budget')
    if check_inputs is None:
        check_inputs = np.random.default_rng(0).normal(
            -5.0, 2.0, (4, 1, n_mels, window_frames)).astype(np.float32)
    max_diff = verify(data, wrapped, np.asarray(check_inputs, dtype=np.float32))
    if max_diff > atol:
        raise ExportError(f'onnxruntime and torch differ by {max_diff:.2e} > {atol:.0e}')
    return _write_atomic(path, data)


def verify(onnx_bytes: bytes, torch_model, inputs: np.ndarray) -> float:
    """Largest absolute difference between onnxruntime and torch outputs on ``inputs``."""
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(onnx_bytes, providers=['CPUExecutionProvider'])
    got = sess.run([OUTPUT], {INPUT: inputs})[0]
    with torch.no_grad():
        want = torch_model.eval()(torch.from_numpy(inputs)).numpy()
    if got.shape != want.shape:
        raise ExportError(f'output shape {got.shape} != torch {want.shape}')
    return float(np.max(np.abs(got - want)))


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata_props of an ONNX file, as onnxruntime sees them."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return dict(sess.get_modelmeta().custom_metadata_map)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
