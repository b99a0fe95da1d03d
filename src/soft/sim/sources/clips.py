"""Real recordings as sources: one clip, or a library of labelled folders.

Real clips carry no calibration, so they are given a level drawn from the kind's realistic
range (or the caller's), and their onset is estimated from the envelope.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from soft.audio.clipio import read_mono

from .base import Source, measure_level
from .registry import FAMILIES, family

# folder label -> simulator kind (labels that are already kinds map to themselves)
LABEL_TO_KIND = {
    'crackling_fire': 'crackling', 'chainsaw': 'angle_grinder', 'dog': 'dog_bark',
    'fireworks': 'crackling', 'motorbike': 'motorbike_backfire', 'crying_baby': 'scream_negative',
}
AUDIO_SUFFIXES = ('.flac', '.wav', '.ogg')


def _read(path: Path, sample_rate: int) -> np.ndarray:
    x = read_mono(path, sample_rate).astype(np.float64)
    if x.size == 0 or not np.any(x):
        raise ValueError(f'{path}: audio clip is empty or silent')
    return x


def estimate_onset(x: np.ndarray, fs: int) -> int:
    """First 1 ms frame whose energy rises 20 dB above the clip's quiet floor (or -30 dB peak)."""
    hop = max(1, fs // 1000)
    m = len(x) // hop
    if m < 2:
        return 0
    e = np.mean(x[:m * hop].reshape(m, hop) ** 2, axis=1) + 1e-20
    floor = np.percentile(e, 10)
    thr = min(floor * 100.0, np.max(e) * 1e-3) if floor * 100 < np.max(e) else np.max(e) * 0.1
    thr = max(thr, floor * 10)
    idx = int(np.argmax(e > thr))
    # refine inside the frame: first sample above a third of the frame's peak
    seg = np.abs(x[idx * hop:(idx + 1) * hop])
    return idx * hop + int(np.argmax(seg >= seg.max() / 3)) if seg.size else idx * hop


def clip_source(path: str | Path, kind: str, rng: np.random.Generator,
                sample_rate: int = 16000, level_db: float | None = None) -> Source:
    """A Source from a FLAC/WAV file, resampled, with an estimated onset and a realistic level.

    The level type (peak or Leq) and default range are those of the kind's first variant.
    """
    path = Path(path)
    fam = family(kind)
    spec = next(iter(fam.variants.values()))
    x = _read(path, sample_rate)
    onset = estimate_onset(x, sample_rate)
    if level_db is None:
        level_db = float(rng.uniform(*spec.level_range))
    now = measure_level(x, onset, spec.level_type)
    x = x * 10 ** ((level_db - now) / 20)
    return Source(kind, fam.class_id, f'clip:{path.name}', x.astype(np.float32), sample_rate,
                  onset, float(level_db), spec.level_type)


class ClipLibrary:
    """Clips found under ``folder``, grouped by kind from the name of each clip's folder.

    Labels that are not simulator kinds (after ``LABEL_TO_KIND``) are kept under ``others``
    and never used as sources.
    """

    def __init__(self, folder: str | Path, label_map: dict[str, str] | None = None):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ValueError(f'clip library folder {self.folder} does not exist')
        mapping = dict(LABEL_TO_KIND, **(label_map or {}))
        self.clips: dict[str, list[Path]] = {}
        self.others: dict[str, list[Path]] = {}
        for p in sorted(self.folder.rglob('*')):
            if p.suffix.lower() not in AUDIO_SUFFIXES or not p.is_file():
                continue
            label = p.parent.name
            kind = mapping.get(label, label)
            (self.clips if kind in FAMILIES else self.others).setdefault(kind, []).append(p)

    def kinds(self) -> tuple[str, ...]:
        return tuple(self.clips)

    def has(self, kind: str) -> bool:
        return bool(self.clips.get(kind))

    def pick(self, kind: str, rng: np.random.Generator, sample_rate: int = 16000,
             level_db: float | None = None) -> Source:
        """A random clip of ``kind`` as a Source; ValueError if the library has none."""
        paths = self.clips.get(kind)
        if not paths:
            raise ValueError(f'clip library {self.folder} has no clip of kind {kind!r}; '
                             f'it has: {", ".join(self.clips) or "nothing"}')
        return clip_source(paths[int(rng.integers(len(paths)))], kind, rng, sample_rate,
                           level_db)
