"""Where a detector's insertions came from: over background, or during a sound it also reported.

An event-based error rate counts every unmatched report as one insertion, whether the sensor
fired on rain with no event in sight, reported a firecracker string a second time three seconds
into it, or called a gunshot's tail glass. The first is the model's false-alarm problem, the
second how the detector segments one sound, the third a confusion: different work. So each
insertion of a scored recording (an estimate left unmatched by :func:`pair_events`, as sed_eval
leaves it) is given one cause:

* ``no_event``: the recording holds no reference at all (a background-only mixture);
* ``same_sound_again``: it lies within a reference of its own class (from the onset minus the
  collar to the offset plus the collar): the same sound reported again;
* ``other_class_in_sound``: within a reference of another class only: a sound's part heard as
  something else;
* ``over_background``: outside every reference of a recording that has some.
"""
from __future__ import annotations

from typing import Sequence

from soft.evaluation.event_metrics import Event, pair_events
from soft.evaluation.misses import CauseLedger

INSERTIONS_DEFINITION = ('each insertion (an estimate sed_eval leaves unmatched) given one '
                         'cause: no_event (the recording has no reference), same_sound_again '
                         '(within a reference of its own class, collar included), '
                         'other_class_in_sound (within a reference of another class only), '
                         'over_background (outside every reference)')
CAUSES = ('no_event', 'same_sound_again', 'other_class_in_sound', 'over_background')


def _within(e: Event, r: Event, collar_s: float) -> bool:
    return r.onset - collar_s <= e.onset <= max(r.offset, r.onset) + collar_s


def causes(ref: Sequence[Event], est: Sequence[Event], collar_s: float
           ) -> list[tuple[int, str]]:
    """(estimate index, cause) of each insertion of one recording."""
    hits, subs = pair_events(ref, est, collar_s)
    used = {j for _, j in hits} | {j for _, j in subs}
    out = []
    for j, e in enumerate(est):
        if j in used:
            continue
        if not ref:
            cause = 'no_event'
        elif any(r.label == e.label and _within(e, r, collar_s) for r in ref):
            cause = 'same_sound_again'
        elif any(_within(e, r, collar_s) for r in ref):
            cause = 'other_class_in_sound'
        else:
            cause = 'over_background'
        out.append((j, cause))
    return out


class InsertionLedger(CauseLedger):
    """Causes of the insertions, per reported class and per kind of background."""

    CAUSES = CAUSES

    def add(self, ref: Sequence[Event], est: Sequence[Event],
            background: str | None = None) -> None:
        for j, c in causes(ref, est, self.collar_s):
            self._count(est[j].label, c, background)
