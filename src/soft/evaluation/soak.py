"""Police events per sensor-hour counted live, from the events alone: a site's soak test.

A new site's false-alarm rate is best measured on its own streets, and the way that keeps
faith with the privacy rules is to let the sensors listen and count what they report: no
audio is kept, only the events, which an operator checks against the cameras. ``soft run``
tallies them and prints the rate per sensor-hour, with its exact Poisson interval, when it
stops.
"""
from __future__ import annotations

from collections import Counter

from soft.classify import taxonomy
from soft.evaluation.intervals import format_ci, poisson_rate


class EventTally:
    """Events per sensor and class, over the time each sensor really heard (the caller reads
    it from the detectors: a sensor whose microphone failed for a day did not listen)."""

    def __init__(self, sensors: list[str]):
        self.sensors = list(sensors)
        self.counts: dict[str, Counter] = {s: Counter() for s in self.sensors}

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
