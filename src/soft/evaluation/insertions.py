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

from collections import Counter
from typing import Sequence

from soft.evaluation.event_metrics import Event, pair_events

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


class InsertionLedger:
    """Accumulates insertion causes over recordings, overall, per reported class and per kind
    of background."""

    def __init__(self, collar_s: float):
        self.collar_s = collar_s
        self.overall: Counter[str] = Counter()
        self.per_class: dict[str, Counter[str]] = {}
        self.per_background: dict[str, Counter[str]] = {}

    def add(self, ref: Sequence[Event], est: Sequence[Event],
            background: str | None = None) -> None:
        for j, c in causes(ref, est, self.collar_s):
            self.overall[c] += 1
            self.per_class.setdefault(est[j].label, Counter())[c] += 1
            if background is not None:
                self.per_background.setdefault(background, Counter())[c] += 1

    def results(self) -> dict:
        def table(counts: dict[str, Counter[str]]) -> dict:
            return {k: {c: v[c] for c in CAUSES} for k, v in sorted(counts.items())}
        return {'causes': list(CAUSES),
                'overall': {c: self.overall[c] for c in CAUSES},
                'per_class': table(self.per_class),
                'per_background': table(self.per_background)}
