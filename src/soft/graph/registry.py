"""Every component the graph can run, by executable name.

The rclpy executables in ``lib/soft/``, the launch files, the parameter files and the embedded
host all look components up here, and a static test checks that they agree.
"""
from __future__ import annotations

from importlib import import_module

from soft.graph.component import Component

COMPONENTS: dict[str, str] = {
    'sensor': 'soft.graph.sensor_node:SensorComponent',
    'fusion': 'soft.graph.fusion_node:FusionComponent',
}

# Every sensor publishes its events on this one topic (the sensor id is in each message),
# so the centre needs no per-sensor wiring however many sensors a site has.
EVENTS_TOPIC = '/soft/events'


def load(key: str) -> type[Component]:
    try:
        target = COMPONENTS[key]
    except KeyError:
        raise KeyError(f'unknown component {key!r}; known: {", ".join(COMPONENTS)}') from None
    module, _, attr = target.partition(':')
    cls = getattr(import_module(module), attr)
    if not issubclass(cls, Component):
        raise TypeError(f'{target} is not a Component')
    return cls
