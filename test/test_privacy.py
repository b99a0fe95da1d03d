"""Privacy by construction: no audio leaves the sensor, nothing is written to disk.

These tests run the real sensor component (driver, detector, ONNX classifier) on the embedded
host, with an audit hook that records every file opened for writing.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soft.audio.drivers import FileDriver
from soft.audio.features import FeatureConfig
from soft.classify import taxonomy
from soft.classify.inference import Classifier
from soft.graph import messages
from soft.graph.embedded_host import EmbeddedHost
from soft.graph.registry import COMPONENTS, load
from soft.graph.sensor_node import SensorComponent

from onnx_fixtures import band_detector_weights, make_test_model

# Numeric array fields allowed in soft messages: none can hold a signal.
ALLOWED_ARRAYS = {('soft/msg/Incident', 'residuals_s')}
_WRITES: list[str] = []
_ARMED = [False]


def _audit(event: str, args: tuple) -> None:
    if not _ARMED[0] or event != 'open':
        return
    path, mode = args[0], args[1]
    writing = (isinstance(mode, str) and any(c in mode for c in 'wax+')) or \
        (isinstance(mode, int) and mode & 0o3)  # os.open flags: O_WRONLY / O_RDWR
    if writing:
        _WRITES.append(str(path))


sys.addaudithook(_audit)


def _array_fields(msgtype: str, seen: set[str] | None = None) -> list[tuple[str, str, str]]:
    store = messages.typestore()
    out = []
    for name, desc in store.fielddefs[msgtype][1]:
        kind, spec = desc
        if kind in (3, 4):  # array / sequence
            inner = spec[0]
            if inner[0] == 1:  # base type
                out.append((msgtype, name, str(inner[1])))
            elif inner[0] == 2:
                out += _array_fields(inner[1])
        elif kind == 2:
            out += _array_fields(spec)
    return out


def test_no_message_type_can_carry_audio():
    for msgtype in messages.soft_types():
        for owner, field, base in _array_fields(msgtype):
            if 'string' in base:
                continue
            assert (owner, field) in ALLOWED_ARRAYS, \
                f'{owner}.{field} is a numeric array: a message must not be able to carry audio'


def test_acoustic_event_carries_only_event_data():
    fields = {name for name, _ in messages.typestore().fielddefs['soft/msg/AcousticEvent'][1]}
    assert fields == {
        'header', 'sensor_id', 'seq', 'class_id', 'confidence', 'level_db_spl',
        'noise_floor_db_spl', 'onset_uncertainty_s', 'duration_s', 'sustained',
        'has_direction', 'azimuth_rad', 'elevation_rad', 'direction_uncertainty_rad'}


def test_no_component_publishes_audio_on_a_shared_port():
    for key in COMPONENTS:
        cls = load(key)
        for port in cls.outputs:
            if port.qos == 'audio':
                assert port.private, f'{key}: audio port {port.topic} must be private'


def _wav_bytes(x: np.ndarray, rate: int) -> io.BytesIO:
    buf = io.BytesIO()
    sf.write(buf, x, rate, format='WAV', subtype='PCM_16')
    buf.seek(0)
    return buf


@pytest.fixture
def model(tmp_path: Path) -> Path:
    cfg = FeatureConfig()
    w, b = band_detector_weights(cfg, taxonomy.by_name('whistle').id, 2500.0, 3500.0)
    return make_test_model(tmp_path / 'm.onnx', cfg, w, b)


def test_sensor_run_writes_nothing_and_publishes_only_events(model: Path):
    rate = 16000
    rng = np.random.default_rng(3)
    x = (0.003 * rng.standard_normal(rate * 18)).astype(np.float32)
    t = np.arange(int(0.8 * rate)) / rate
    for start in (2.0, 8.5, 15.0):  # beyond the sustained-class rate limit
        i = int(start * rate)
        x[i:i + t.size] += 0.3 * np.sin(2 * np.pi * 3000 * t).astype(np.float32)
    classifier = Classifier(model, expected=FeatureConfig())
    driver = FileDriver(_wav_bytes(x, rate), sample_rate=rate, block_s=0.1)
    host = EmbeddedHost()
    seen: list[tuple[str, str]] = []
    host.tap(None, lambda topic, msg, now: seen.append((topic, msg.__msgtype__)))
    _WRITES.clear()
    _ARMED[0] = True
    try:
        host.add(SensorComponent, namespace='sensor_s01',
                 params={'sensor_id': 's01', 'driver': 'file', 'diagnostics_period_s': 1.0},
                 resources={'classifier': classifier, 'driver': driver})
        host.run_until(18 * 1_000_000_000)
        host.shutdown()
    finally:
        _ARMED[0] = False
    assert _WRITES == [], f'files opened for writing during a sensor run: {_WRITES}'
    types = {t for _, t in seen}
    assert types <= {'soft/msg/AcousticEvent', 'diagnostic_msgs/msg/DiagnosticArray'}
    events = [t for topic, t in seen if topic == 'sensor_s01/events']
    assert len(events) >= 3, 'the whistles should have been detected'
    assert not host.errors


def test_audit_hook_sees_writes(tmp_path: Path):
    """The hook must catch a write, or the test above proves nothing."""
    _WRITES.clear()
    _ARMED[0] = True
    try:
        (tmp_path / 'x.bin').write_bytes(b'1')
    finally:
        _ARMED[0] = False
    assert any('x.bin' in w for w in _WRITES)
