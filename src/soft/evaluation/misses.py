"""Where the events a detector missed were lost: no window at all, or a window judged otherwise.

An event-based error rate counts a deletion the same whether the detector's onset stage never
cut a window for the sound (too weak over the floor, dropped by the onset budget) or the
classifier heard it and said background. The two call for different work (the front end's
sensitivity against the model), so each reference of a scored recording is given one cause,
with the same one-to-one matching as :mod:`event_metrics` (sed_eval's):

* ``found``: a true positive;
* ``wrong_class``: a substitution (another class reported within the collar);
* ``off_collar``: the right class was reported during the sound, but its onset lies outside
  the collar (a timing loss, not a hearing one);
* ``under_threshold``: a window cut for the sound (its onset within the collar, or a
  sustained-sound window overlapping it) had the right class on top, under its threshold;
* ``judged_background``: such windows exist, and background was on top;
* ``judged_other``: such windows exist, another class on top and not reported;
* ``no_window``: the detector classified no window for the sound.

The causes of one reference are tried in this order.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from soft.audio.detector import WindowVerdict
from soft.audio.drivers import NS
from soft.classify import taxonomy
from soft.evaluation.event_metrics import Event, pair_events

MISSES_DEFINITION = ('each reference event given one cause, in this order: found (true '
                     'positive), wrong_class (substitution), off_collar (its class reported '
                     'during the sound, onset outside the collar), under_threshold / '
                     'judged_background / judged_other (a window was classified for it, '
                     'with its class, background or another unreported class on top), '
                     'no_window (the detector classified no window for it)')
CAUSES = ('found', 'wrong_class', 'off_collar', 'under_threshold', 'judged_background',
          'judged_other', 'no_window')


def _near(ref: Event, windows: Sequence[WindowVerdict], collar_s: float
          ) -> list[WindowVerdict]:
    out = []
    for w in windows:
        onset = w.onset_ns / NS
        if abs(onset - ref.onset) <= collar_s + 1e-9:
            out.append(w)
        elif w.sustained and w.start_ns / NS < ref.offset and w.end_ns / NS > ref.onset:
            out.append(w)
    return out


def causes(ref: Sequence[Event], est: Sequence[Event], windows: Sequence[WindowVerdict],
           collar_s: float) -> list[str]:
    """One cause per reference of one recording (see the module's list)."""
    out = ['' for _ in ref]
    hits, subs = pair_events(ref, est, collar_s)
    for i, _ in hits:
        out[i] = 'found'
    for i, _ in subs:
        out[i] = 'wrong_class'
    for i, r in enumerate(ref):
        if out[i]:
            continue
        if any(e.label == r.label and r.onset - collar_s <= e.onset <= max(r.offset, r.onset)
               for e in est):
            out[i] = 'off_collar'
            continue
        near = _near(r, windows, collar_s)
        if not near:
            out[i] = 'no_window'
            continue
        true_id = taxonomy.by_name(r.label).id
        tops = {int(np.argmax(w.probs)) for w in near}
        out[i] = 'under_threshold' if true_id in tops else \
            'judged_background' if tops == {taxonomy.BACKGROUND} else 'judged_other'
    return out


class CauseLedger:
    """Counts one cause per item over recordings, overall, per class and per kind of
    background; subclasses name the causes and decide them."""

    CAUSES: tuple[str, ...] = ()

    def __init__(self, collar_s: float):
        self.collar_s = collar_s
        self.overall: Counter[str] = Counter()
        self.per_class: dict[str, Counter[str]] = {}
        self.per_background: dict[str, Counter[str]] = {}

    def _count(self, label: str, cause: str, background: str | None) -> None:
        self.overall[cause] += 1
        self.per_class.setdefault(label, Counter())[cause] += 1
        if background is not None:
            self.per_background.setdefault(background, Counter())[cause] += 1

    def results(self) -> dict:
        def table(counts: dict[str, Counter[str]]) -> dict:
            return {k: {c: v[c] for c in self.CAUSES} for k, v in sorted(counts.items())}
        return {'causes': list(self.CAUSES),
                'overall': {c: self.overall[c] for c in self.CAUSES},
                'per_class': table(self.per_class),
                'per_background': table(self.per_background)}


class MissLedger(CauseLedger):
    """Causes of the missed references (a model that hears events over generated streets but
    not over real ambience has a domain gap, not a sensitivity problem)."""

    CAUSES = CAUSES

    def add(self, ref: Sequence[Event], est: Sequence[Event],
            windows: Sequence[WindowVerdict], background: str | None = None) -> None:
        for r, c in zip(ref, causes(ref, est, windows, self.collar_s)):
            self._count(r.label, c, background)
