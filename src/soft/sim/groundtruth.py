"""What really happened in a simulation: every emitted sound and how each microphone got it.

Written as JSON (nested) and CSV (one row per sound x microphone) so that scoring scripts
and spreadsheets read the same facts. No audio is ever written.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence


@dataclass(frozen=True)
class MicTruth:
    """One sound at one microphone.

    ``arrival_time_s`` is on the true clock: when the first onset reaches the microphone
    (over or around buildings when the straight path is blocked). ``level_db_spl`` is the
    received peak. ``snr_db`` = the maximum 25 ms mean-square of the received sound over the
    microphone's long-run background mean-square, both in the 150-7000 Hz band where
    detectors look (levels.SNR_BAND_HZ), in dB.
    ``rendered`` is False when the sound was too faint to be worth adding (below
    self-noise): its level and SNR are then estimates at 1 kHz.
    """

    mic_id: str
    distance_m: float
    path_m: float
    arrival_time_s: float
    level_db_spl: float
    snr_db: float
    occluded: bool
    rendered: bool = True


@dataclass(frozen=True)
class GroundTruth:
    """One emitted sound (each repeat of an incident is its own entry)."""

    incident: int
    repeat: int
    kind: str
    class_id: int
    variant: str
    position: tuple[float, float, float]
    emission_time_s: float
    source_level_db: float
    level_type: str
    duration_s: float
    sustained: bool
    mics: list[MicTruth] = field(default_factory=list)

    def mic(self, mic_id: str) -> MicTruth:
        for m in self.mics:
            if m.mic_id == mic_id:
                return m
        raise KeyError(f'microphone {mic_id!r} not in the ground truth of incident '
                       f'{self.incident}')


CSV_FIELDS = ('incident', 'repeat', 'kind', 'class_id', 'variant', 'x', 'y', 'z',
              'emission_time_s', 'source_level_db', 'level_type', 'duration_s', 'sustained',
              'mic_id', 'distance_m', 'path_m', 'arrival_time_s', 'level_db_spl', 'snr_db',
              'occluded', 'rendered')


def write_ground_truth(truths: Sequence[GroundTruth], path: str | Path,
                       meta: dict | None = None) -> tuple[Path, Path]:
    """Write ``path`` (JSON) and the CSV beside it; returns both paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {'meta': meta or {}, 'sounds': [asdict(t) for t in truths]}
    path.write_text(json.dumps(doc, indent=1), encoding='utf-8')
    csv_path = path.with_suffix('.csv')
    with csv_path.open('w', newline='', encoding='utf-8') as fh:
        w = csv.writer(fh)
        w.writerow(CSV_FIELDS)
        for t in truths:
            head = [t.incident, t.repeat, t.kind, t.class_id, t.variant, *t.position,
                    f'{t.emission_time_s:.6f}', f'{t.source_level_db:.1f}', t.level_type,
                    f'{t.duration_s:.3f}', int(t.sustained)]
            for m in t.mics:
                w.writerow(head + [m.mic_id, f'{m.distance_m:.2f}', f'{m.path_m:.2f}',
                                   f'{m.arrival_time_s:.7f}', f'{m.level_db_spl:.1f}',
                                   f'{m.snr_db:.1f}', int(m.occluded), int(m.rendered)])
    return path, csv_path


def read_ground_truth(path: str | Path) -> list[GroundTruth]:
    """Read back a JSON ground truth written by ``write_ground_truth``."""
    doc = json.loads(Path(path).read_text(encoding='utf-8'))
    out = []
    for s in doc['sounds']:
        mics = [MicTruth(**m) for m in s.pop('mics')]
        s['position'] = tuple(s['position'])
        out.append(GroundTruth(**s, mics=mics))
    return out
