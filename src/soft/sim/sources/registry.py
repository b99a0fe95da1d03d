"""Every kind the simulator can synthesize, with its variants (taxonomy classes + negatives)."""
from __future__ import annotations

from soft.classify import taxonomy

from . import (aerosol_spray, angle_grinder, car_horn, crackling, crash, drill, explosion,
               glass_break, gunshot, negatives_hiss, negatives_impulsive, negatives_lowfreq,
               negatives_tonal, negatives_voices, scream, siren, whistle)
from .base import Family

_ALERT = (gunshot.FAMILY, scream.FAMILY, glass_break.FAMILY, crash.FAMILY, explosion.FAMILY,
          drill.FAMILY, angle_grinder.FAMILY, car_horn.FAMILY, whistle.FAMILY,
          aerosol_spray.FAMILY, crackling.FAMILY, siren.FAMILY)
_NEGATIVE = (negatives_impulsive.FAMILIES + negatives_lowfreq.FAMILIES + negatives_hiss.FAMILIES
             + negatives_voices.FAMILIES + negatives_tonal.FAMILIES)

FAMILIES: dict[str, Family] = {f.kind: f for f in _ALERT + _NEGATIVE}

KINDS: dict[str, tuple[str, ...]] = {k: tuple(f.variants) for k, f in FAMILIES.items()}
ALERT_KINDS: tuple[str, ...] = tuple(f.kind for f in _ALERT)
NEGATIVE_KINDS: tuple[str, ...] = tuple(f.kind for f in _NEGATIVE)


def _check() -> None:
    for fam in _ALERT:
        cls = taxonomy.by_name(fam.kind)
        if cls.id != fam.class_id:
            raise RuntimeError(f'{fam.kind}: class id {fam.class_id} != taxonomy {cls.id}')
    missing = {c.name for c in taxonomy.CLASSES if c.id != taxonomy.BACKGROUND} \
        - set(ALERT_KINDS)
    if missing:
        raise RuntimeError(f'no generator for taxonomy classes {sorted(missing)}')


_check()


def family(kind: str) -> Family:
    """The family of ``kind``; an unknown kind is a ValueError listing the valid ones."""
    try:
        return FAMILIES[kind]
    except KeyError:
        raise ValueError(f'unknown sound kind {kind!r}; valid kinds: '
                         f'{", ".join(FAMILIES)}') from None


def is_sustained(kind: str) -> bool:
    """True if most variants of the kind last seconds (sirens, drills) rather than an instant."""
    fam = family(kind)
    n = sum(v.sustained for v in fam.variants.values())
    return n * 2 > len(fam.variants)
