"""The event taxonomy: stable class ids shared by every message, model and report.

Ids are part of the wire format (``AcousticEvent.class_id``) and of trained models' outputs,
so they never change meaning; new classes get new ids.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Use(str, Enum):
    """What the centre does with a class by default."""

    NEVER = 'never emitted'
    POLICE_CRITICAL = 'police alert, critical'
    POLICE_HIGH = 'police alert, high'
    TRANQUILLITY = 'tranquillity statistics'
    CONTEXT = 'context'


@dataclass(frozen=True)
class EventClass:
    id: int
    name: str
    label: str
    use: Use
    impulsive: bool

    @property
    def police(self) -> bool:
        return self.use in (Use.POLICE_CRITICAL, Use.POLICE_HIGH)


CLASSES: tuple[EventClass, ...] = (
    EventClass(0, 'background', 'background / other', Use.NEVER, False),
    EventClass(1, 'gunshot', 'gunshot', Use.POLICE_CRITICAL, True),
    EventClass(2, 'scream', 'scream / shout in distress', Use.POLICE_HIGH, False),
    EventClass(3, 'glass_break', 'glass break', Use.POLICE_HIGH, True),
    EventClass(4, 'crash', 'crash / road accident', Use.POLICE_HIGH, True),
    EventClass(5, 'explosion', 'explosion', Use.POLICE_CRITICAL, True),
    EventClass(6, 'drill', 'drill', Use.TRANQUILLITY, False),
    EventClass(7, 'angle_grinder', 'angle grinder / power saw', Use.TRANQUILLITY, False),
    EventClass(8, 'car_horn', 'car horn', Use.TRANQUILLITY, False),
    EventClass(9, 'whistle', 'whistle', Use.TRANQUILLITY, False),
    EventClass(10, 'aerosol_spray', 'aerosol spray', Use.TRANQUILLITY, False),
    EventClass(11, 'crackling', 'crackling / firecrackers', Use.TRANQUILLITY, True),
    EventClass(12, 'siren', 'siren', Use.CONTEXT, False),
)

NUM_CLASSES = len(CLASSES)
BACKGROUND = 0
_BY_NAME = {c.name: c for c in CLASSES}


def by_id(class_id: int) -> EventClass:
    """Return the class for a wire id; an unknown id is a ValueError naming it."""
    if not isinstance(class_id, int) or not 0 <= class_id < NUM_CLASSES:
        raise ValueError(f'class_id {class_id!r} is not a taxonomy id (0..{NUM_CLASSES - 1})')
    return CLASSES[class_id]


def by_name(name: str) -> EventClass:
    """Return the class for a name such as 'gunshot'; an unknown name lists the valid ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        valid = ', '.join(_BY_NAME)
        raise ValueError(f'unknown event class {name!r}; valid classes: {valid}') from None


def police_ids() -> tuple[int, ...]:
    return tuple(c.id for c in CLASSES if c.police)
