"""QoS intents named once for the whole graph.

Components name an intent; the rclpy host maps it to a ``QoSProfile`` and the embedded host
uses the depth and latching. Keeping them here stops two nodes from disagreeing about a topic.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QosIntent:
    reliable: bool
    transient_local: bool
    depth: int


PROFILES: dict[str, QosIntent] = {
    # Events and operator-visible state must not be dropped.
    'events': QosIntent(reliable=True, transient_local=False, depth=100),
    # Alerts latch so that a dashboard started late sees the current ones.
    'alerts': QosIntent(reliable=True, transient_local=True, depth=100),
    # Site data (sensor layout, camera list) latches the last value only.
    'site': QosIntent(reliable=True, transient_local=True, depth=1),
    # Raw audio, private in-process link only: about two seconds of 100 ms blocks.
    'audio': QosIntent(reliable=True, transient_local=False, depth=20),
    'diagnostics': QosIntent(reliable=False, transient_local=False, depth=10),
    'markers': QosIntent(reliable=False, transient_local=False, depth=10),
    'state': QosIntent(reliable=True, transient_local=False, depth=10),
}


def intent(name: str) -> QosIntent:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f'unknown QoS intent {name!r}; known: {", ".join(PROFILES)}') from None
