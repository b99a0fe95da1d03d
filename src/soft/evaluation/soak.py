"""Police events per sensor-hour counted live, from the events alone: a site's soak test.

A new site's false-alarm rate is best measured on its own streets, and the way that keeps
faith with the privacy rules is to let the sensors listen and count what they report: no
audio is kept, only the events, which an operator checks against the cameras. ``soft run``
tallies them and prints the rate per sensor-hour, with its exact Poisson interval, when it
stops; on a ROS 2 gateway, ``soft soak BAG`` does the same from a rosbag of the events and
the sensors' diagnostics.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

from soft.classify import taxonomy
from soft.evaluation.intervals import format_ci, poisson_rate
from soft.graph.registry import EVENTS_TOPIC


class EventTally:
    """Events per sensor and class, over the time each sensor really heard (the caller reads
    it from the detectors: a sensor whose microphone failed for a day did not listen)."""

    def __init__(self, sensors: list[str]):
        self.counts: dict[str, Counter] = {s: Counter() for s in sensors}

    def add(self, sensor_id: str, class_id: int) -> None:
        self.counts.setdefault(sensor_id, Counter())[taxonomy.by_id(class_id).name] += 1

    def summary(self, hours: dict[str, float]) -> dict:
        """Rates given the hours each sensor heard (a sensor missing from ``hours``: 0)."""
        police = {taxonomy.by_id(i).name for i in taxonomy.police_ids()}
        per_sensor = {}
        for s, c in self.counts.items():
            n = sum(v for k, v in c.items() if k in police)
            h = float(hours.get(s, 0.0))
            per_sensor[s] = {'hours': h, 'police_events': n, 'events_per_class': dict(c),
                             'police_per_hour': n / h if h > 0 else None}
        sensor_hours = sum(v['hours'] for v in per_sensor.values())
        total = sum(v['police_events'] for v in per_sensor.values())
        return {'sensors': len(self.counts),
                'sensor_hours': sensor_hours, 'police_events': total,
                'police_per_sensor_hour': total / sensor_hours if sensor_hours > 0 else None,
                'police_per_sensor_hour_ci95': list(poisson_rate(total, sensor_hours))
                if sensor_hours > 0 else None,
                'per_sensor': per_sensor}

    def lines(self, hours: dict[str, float]) -> list[str]:
        s = self.summary(hours)
        if not s['sensor_hours']:
            return ['listened 0 h: no rate']
        out = [f'listened {s["sensor_hours"]:.4g} sensor-hours ({s["sensors"]} sensors): '
               f'{s["police_events"]} police events, '
               f'{s["police_per_sensor_hour"]:.2f} per sensor-hour '
               f'{format_ci(s["police_per_sensor_hour_ci95"])}']
        for sid, v in s['per_sensor'].items():
            rate = (f'{v["police_per_hour"]:.2f} per hour' if v['police_per_hour'] is not None
                    else 'heard nothing')
            out.append(f'  {sid}: {v["hours"]:.4g} h heard, {v["police_events"]} police '
                       f'events ({rate}); all {v["events_per_class"]}')
        return out


def tally_bag(path: Path, events_topic: str = EVENTS_TOPIC,
              diagnostics_topic: str = '/diagnostics') -> tuple[EventTally, dict, dict]:
    """Tally a rosbag2 (sqlite3 or mcap) recorded on a gateway during a soak.

    Events come from ``events_topic``; each sensor's heard time from the ``heard_s`` value of
    its detector diagnostics (restarts, when the value falls back, are summed). A sensor with
    events but no diagnostics is given the bag's span, and said so. Returns the tally, the
    hours per sensor and an account (messages read, police events with their times).
    """
    from rosbags.rosbag2 import Reader

    from soft.graph import messages

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f'rosbag not found: {path}')
    tally = EventTally([])
    heard: dict[str, list[float]] = {}       # sensor -> [sum of finished runs, last value]
    police = set(taxonomy.police_ids())
    listed: dict[str, list] = {}
    counts = Counter()
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # noqa: BLE001 - rosbags raises its own types per storage
        raise ValueError(f'{path}: not a readable rosbag2 ({exc})') from None
    try:
        conns = [c for c in reader.connections if c.topic in (events_topic, diagnostics_topic)]
        if not any(c.topic == events_topic for c in conns):
            raise ValueError(f'{path}: no {events_topic} topic (topics: '
                             f'{sorted({c.topic for c in reader.connections})})')
        span_ns = max(reader.duration, 0)
        for conn, _, raw in reader.messages(connections=conns):
            try:
                msg = messages.deserialize(raw, conn.msgtype)
            except Exception:  # noqa: BLE001 - one bad message must not end the tally
                counts['undecodable'] += 1
                continue
            if conn.topic == events_topic:
                counts['events'] += 1
                tally.add(msg.sensor_id, msg.class_id)
                if msg.class_id in police:
                    listed.setdefault(msg.sensor_id, []).append(
                        (messages.stamp_ns(msg.header.stamp) / 1e9,
                         taxonomy.by_id(msg.class_id).name, float(msg.confidence)))
                continue
            counts['diagnostics'] += 1
            for st in msg.status:
                value = next((kv.value for kv in st.values if kv.key == 'heard_s'), None)
                if value is None or not st.hardware_id:
                    continue
                acc = heard.setdefault(st.hardware_id, [0.0, 0.0])
                v = float(value)
                if v < acc[1]:                # the sensor restarted: keep what it had heard
                    acc[0] += acc[1]
                acc[1] = v
                tally.counts.setdefault(st.hardware_id, Counter())
    finally:
        reader.close()
    hours = {s: (a + b) / 3600.0 for s, (a, b) in heard.items()}
    guessed = sorted(s for s in tally.counts if s not in hours)
    for s in guessed:
        hours[s] = span_ns / 1e9 / 3600.0
    return tally, hours, {'bag': str(path), 'messages': dict(counts),
                          'span_h': span_ns / 1e9 / 3600.0,
                          'hours_from_bag_span': guessed, 'police_listed': listed}


def propose_thresholds(false_events: Sequence[tuple[str, float]], sensor_hours: float,
                       budget_per_hour: float) -> tuple[dict[str, float], dict]:
    """Per-class thresholds under which the soak's false police events keep the budget.

    ``false_events`` are (class, confidence) of the police events operators did not confirm.
    The least confident are dropped first, whatever their class, until at most
    ``budget_per_hour`` x ``sensor_hours`` remain: each class's threshold then goes just
    above the most confident of its dropped events. Approximate where a follow-up (a
    volley's later shot, reported from a lower threshold) was among them. An event at 1.00
    cannot be dropped by a threshold: that is said, not hidden.
    """
    import math

    allowed = int(math.floor(budget_per_hour * sensor_hours + 1e-9))
    ranked = sorted(false_events, key=lambda e: e[1])
    drop = ranked[:max(0, len(ranked) - allowed)]
    proposal: dict[str, float] = {}
    stuck = 0
    for name, conf in drop:
        if conf >= 0.995:
            stuck += 1
            continue
        proposal[name] = max(proposal.get(name, 0.0), math.floor(conf * 100 + 1) / 100)
    kept = len(ranked) - len(drop) + stuck
    return proposal, {'false_events': len(ranked), 'allowed': allowed, 'kept': kept,
                      'met': kept <= allowed,
                      'per_hour_after': kept / sensor_hours if sensor_hours > 0 else None}


def _confirmed(path: Path | None) -> list[tuple[str, float]]:
    """(sensor, epoch s) of events operators confirmed real, from a two-column CSV."""
    import csv

    if path is None:
        return []
    out = []
    with Path(path).open(newline='', encoding='utf-8') as fh:
        for i, row in enumerate(csv.reader(fh), 1):
            if not row or row[0].strip().startswith('#') or row[0].strip() == 'sensor_id':
                continue
            try:
                out.append((row[0].strip(), float(row[1])))
            except (IndexError, ValueError):
                raise ValueError(f'{path}:{i}: expected sensor_id,time_s (epoch seconds), '
                                 f'got {",".join(row)!r}') from None
    return out


def soak_main(argv: Sequence[str]) -> int:
    """``soft soak BAG``: the soak figure from a gateway's rosbag; 2 on bad input."""
    import argparse
    import json

    from soft.cliargs import float_in

    p = argparse.ArgumentParser(
        prog='soft soak', description='Police events per sensor-hour from a rosbag2 recorded '
        'on a gateway during a soak (ros2 bag record /soft/events /diagnostics): the site\'s '
        'false-alarm rate from the events alone, no audio. Lists each police event so '
        'operators can check it against the cameras.')
    p.add_argument('bag', type=Path, help='rosbag2 folder (sqlite3 or mcap)')
    p.add_argument('--events-topic', default=EVENTS_TOPIC)
    p.add_argument('--diagnostics-topic', default='/diagnostics')
    p.add_argument('--budget', type=float_in('--budget', 0.0, 1000.0, ' per sensor-hour'),
                   default=None, metavar='PER_HOUR',
                   help='propose per-class thresholds (the sensors\' class_thresholds '
                   'parameter) under which the false police events would stay within this '
                   'many per sensor-hour')
    p.add_argument('--confirmed', type=Path, default=None, metavar='CSV',
                   help='sensor_id,time_s rows (epoch seconds) of the events operators '
                   'confirmed as real: not false alarms (matched within 1 s)')
    p.add_argument('--json', type=Path, default=None, help='write the summary here')
    args = p.parse_args(list(argv))
    try:
        tally, hours, info = tally_bag(args.bag, args.events_topic, args.diagnostics_topic)
        confirmed = _confirmed(args.confirmed)
    except (FileNotFoundError, ValueError) as exc:
        print(f'soft soak: {type(exc).__name__}: {exc}', file=sys.stderr)
        return 2
    for line in tally.lines(hours):
        print(line)
    false = [(name, conf) for sid, evs in info['police_listed'].items() for t, name, conf in evs
             if not any(s == sid and abs(t - tc) <= 1.0 for s, tc in confirmed)]
    info['confirmed_real'] = len(confirmed)
    info['false_police_events'] = len(false)
    if args.budget is not None:
        proposal, how = propose_thresholds(false, sum(hours.values()), args.budget)
        info['proposal'] = {'budget_per_hour': args.budget, 'class_thresholds': proposal,
                            **how}
        text = ','.join(f'{k}={v:.2f}' for k, v in sorted(proposal.items()))
        print(f'{len(false)} false police events ({len(confirmed)} confirmed real left out); '
              f'a budget of {args.budget:g} per sensor-hour allows {how["allowed"]}: '
              + (f"class_thresholds: '{text}'" if text else 'no threshold needs raising')
              + ('' if how['met'] else f' (still {how["kept"]}: events at 1.00 that no '
                 'threshold removes)'))
    if info['hours_from_bag_span']:
        print(f'no heard_s diagnostics for {", ".join(info["hours_from_bag_span"])}: given the '
              f'bag\'s span ({info["span_h"]:.3f} h)')
    for sid, evs in sorted(info['police_listed'].items()):
        for t, name, conf in evs[:50]:
            print(f'  {sid} {t:.3f} {name} {conf:.2f}')
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**tally.summary(hours), **info}, indent=1) + '\n',
                             encoding='utf-8')
    return 0
