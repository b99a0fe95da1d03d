"""Procedural and recorded sound sources for the district simulator.

``synthesize(kind, rng)`` gives a dry, calibrated sound of any taxonomy class or hard
negative, with wide random variation; ``ClipLibrary`` swaps in real recordings.
"""
from __future__ import annotations

import numpy as np

from .base import P_REF, Source, finish, measure_level
from .clips import ClipLibrary, clip_source, estimate_onset
from .registry import ALERT_KINDS, KINDS, NEGATIVE_KINDS, family, is_sustained

__all__ = ['ALERT_KINDS', 'ClipLibrary', 'KINDS', 'NEGATIVE_KINDS', 'P_REF', 'Source',
           'clip_source', 'estimate_onset', 'is_sustained', 'measure_level', 'synthesize']


def synthesize(kind: str, rng: np.random.Generator, sample_rate: int = 16000,
               variant: str | None = None, level_db: float | None = None) -> Source:
    """Synthesize one sound of ``kind`` (random variant unless given) at 1 m, in pascal.

    ``level_db`` overrides the random realistic level (same peak/Leq convention as the
    variant). Unknown kinds or variants raise ValueError listing the valid names.
    """
    fam = family(kind)
    if variant is None:
        names = tuple(fam.variants)
        variant = names[int(rng.integers(len(names)))]
    elif variant not in fam.variants:
        raise ValueError(f'unknown variant {variant!r} of {kind!r}; valid variants: '
                         f'{", ".join(fam.variants)}')
    if not isinstance(sample_rate, int) or sample_rate < 8000:
        raise ValueError(f'sample_rate {sample_rate!r}: expected an integer >= 8000 Hz')
    spec = fam.variants[variant]
    x, onset = spec.render(rng, sample_rate)
    return finish(kind, fam.class_id, variant, spec, x, onset, sample_rate, rng, level_db)
