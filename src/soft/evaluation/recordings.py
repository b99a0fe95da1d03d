"""False alarms on long background recordings: hours of a real street, heard as a sensor hears it.

The ≤ 1 false alert per sensor-hour target can only be shown on hours of event-free street
audio, and no clip dataset has them; whoever does (a site's own captures, a city's archive)
points ``soft evaluate`` at them. Each recording is streamed from disk through
:class:`~soft.audio.drivers.FileDriver` (chunked reads, streaming resampler: a ten-hour file
is never in memory) into one detector that runs from its first sample to its last, as on a
sensor, rather than the 2 min cross-faded streams the short clips make.

Levels are the recording's own, read through the sensors' microphone calibration
(``sensitivity_dbfs`` of config/params/sensor.yaml): recordings made with the sensors'
microphone and gain are heard exactly as deployed. Nothing but the report is written.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from soft.audio.detector import DetectorConfig, StreamingDetector
from soft.audio.drivers import NS, AudioInputError, FileDriver
from soft.classify import taxonomy
from soft.evaluation.intervals import format_ci, poisson_rate

READ_CHUNK_S = 10.0          # audio pulled from the file per step
LISTED_EVENTS = 100          # police events listed per recording (all are counted)
DEFINITION = ('every long event-free recording streamed whole through one detector, at its '
              'own level through the sensors\' microphone calibration; a recording that fails '
              'part-way counts the audio before the failure')


@dataclass
class RecordingRun:
    """What one recording gave: its heard duration, events and, if any, why it stopped."""

    path: Path
    seconds: float = 0.0
    events: list[tuple[float, str, float, float]] = field(default_factory=list)
    windows: int = 0
    over_budget: int = 0
    error: str | None = None


def stream_recording(path: Path, classifier, cfg: DetectorConfig,
                     chunk_s: float = READ_CHUNK_S, observer=None) -> RecordingRun:
    """Stream ``path`` through a fresh detector; events as (s from start, class, conf, dB SPL).

    ``observer`` sees every classified window, as in :func:`clip_eval.run_stream`.
    An unreadable file gives ``error`` and no audio; a file that turns corrupt or truncated
    part-way keeps what was heard before, so nothing heard is dropped from the figure.
    """
    sr = classifier.feature_config.sample_rate
    run = RecordingRun(Path(path))
    drv = FileDriver(path, sample_rate=sr, block_s=0.1, play_truncated=True)
    det = StreamingDetector(cfg, classifier.feature_config, classifier, observer)
    samples = 0
    try:
        drv.open()
        now = 0
        while not drv.exhausted:
            now += int(chunk_s * NS)
            for block in drv.read(now):
                samples += block.samples.size
                for d in det.process(block):
                    run.events.append((d.onset_ns / NS, taxonomy.by_id(d.class_id).name,
                                       float(d.confidence), float(d.level_db_spl)))
        if drv.truncated:
            run.error = f'{drv.name}: {drv.truncated}'
    except AudioInputError as exc:
        run.error = str(exc)
    finally:
        drv.close()
    run.seconds = samples / sr
    if run.error is None and samples == 0:
        run.error = f'{run.path}: empty: no audio'
    diag = det.diagnostics()
    run.windows = int(diag.get('classified_windows', 0))
    run.over_budget = int(diag.get('onsets_over_budget', 0))
    return run


def long_recordings_section(paths: Sequence[Path], classifier, cfg: DetectorConfig,
                            log: Callable[[str], None] = lambda _: None,
                            roots: Sequence[Path] = ()) -> dict:
    """Police events per hour over ``paths``, pooled and per recording (named relative to
    the first of ``roots`` that holds it)."""
    police = set(taxonomy.police_ids())
    per_class: Counter = Counter()
    files, failed = [], []
    seconds = windows = over_budget = 0.0
    for path in paths:
        run = stream_recording(path, classifier, cfg)
        name = _name(run.path, roots)
        if run.error is not None:
            failed.append([name, run.error])
        seconds += run.seconds
        windows += run.windows
        over_budget += run.over_budget
        per_class.update(e[1] for e in run.events)
        pol = [e for e in run.events if taxonomy.by_name(e[1]).id in police]
        files.append({'path': name, 'hours': run.seconds / 3600.0, 'police_events': len(pol),
                      'events_per_class': dict(Counter(e[1] for e in run.events)),
                      'police_listed': [{'t_s': round(t, 3), 'class': c,
                                         'confidence': round(p, 3), 'level_db_spl': round(lv, 1)}
                                        for t, c, p, lv in pol[:LISTED_EVENTS]],
                      'error': run.error})
        log(f'long recording {name}: {run.seconds / 3600:.2f} h, {len(pol)} police events'
            + (f' (stopped: {run.error})' if run.error else ''))
    hours = seconds / 3600.0
    n_police = sum(n for c, n in per_class.items() if taxonomy.by_name(c).id in police)
    return {'definition': DEFINITION, 'recordings': len(paths), 'failed': failed,
            'hours': hours, 'events_per_class': dict(per_class), 'police_events': n_police,
            'police_per_hour': n_police / hours if hours else float('nan'),
            'police_per_hour_ci95': list(poisson_rate(n_police, hours)),
            'all_per_hour': sum(per_class.values()) / hours if hours else float('nan'),
            'classified_windows_per_s': windows / seconds if seconds else float('nan'),
            'onsets_over_budget': int(over_budget), 'per_recording': files}


def _name(path: Path, roots: Sequence[Path]) -> str:
    for root in roots:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            continue
    return str(path)


def recording_lines(sec: dict | None) -> list[str]:
    """The report's lines for :func:`long_recordings_section` (none when there were none)."""
    if not sec or not sec['recordings']:
        return []
    lines = [f'False alarms on long background recordings ({sec["recordings"]} recordings, '
             f'{sec["hours"]:.2f} h, streamed whole at their own level): police events per '
             f'hour {sec["police_per_hour"]:.2f} {format_ci(sec["police_per_hour_ci95"])} '
             f'({sec["police_events"]} events; {sec["events_per_class"]})']
    worst = sorted(sec['per_recording'], key=lambda f: -f['police_events'])
    for f in worst[:10]:
        if f['police_events']:
            first = ', '.join(f'{e["class"]} {e["confidence"]:.2f} at {e["t_s"]:.1f} s'
                              for e in f['police_listed'][:3])
            lines.append(f'  {f["path"]}: {f["police_events"]} in {f["hours"]:.2f} h '
                         f'(first: {first})')
    for name, why in sec['failed']:
        lines.append(f'  {name}: stopped early: {why}')
    return lines


def audio_under(root: Path, option: str = '--streams') -> list[Path]:
    """Every audio file under ``root`` (the dataset layouts' extensions), sorted; errors name
    the command-line ``option`` that gave the folder."""
    from soft.classify.layouts import audio_files
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'{option}: folder not found: {root}')
    found = audio_files(root)
    if not found:
        raise ValueError(f'{option}: no audio files under {root}')
    return found


def pooled(paths: Iterable[Path]) -> list[Path]:
    """Paths once each, in order (a file both in the dataset and under --streams counts once)."""
    seen, out = set(), []
    for p in paths:
        key = Path(p).resolve()
        if key not in seen:
            seen.add(key)
            out.append(Path(p))
    return out
