"""The embedded host: a whole graph of components in one process.

Topics are in-process queues, time is simulated (as fast as the CPU allows, deterministic) or
real. Messages published during a callback are delivered after it returns, in publication
order, with the same ``now``: no re-entrancy, and a replay gives the same result every time.
A component that raises on a message is counted and logged, and the graph keeps running.
"""
from __future__ import annotations

import heapq
import time
import traceback
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from soft.graph.component import Component, InputError, Log, Outputs
from soft.graph.qos import intent

Tap = Callable[[str, Any, int], None]


def resolve(namespace: str, topic: str, remap: Mapping[str, str] | None = None) -> str:
    """Full topic name as ROS resolves a relative name: 'sensor_07' + 'events'."""
    if remap and topic in remap:
        return remap[topic].lstrip('/')
    if topic.startswith('/'):
        return topic.lstrip('/')
    return f'{namespace.strip("/")}/{topic}' if namespace.strip('/') else topic


@dataclass
class Node:
    name: str
    namespace: str
    component: Component
    remap: dict[str, str]
    inputs: dict[str, str] = field(default_factory=dict)  # full topic -> relative topic


class EmbeddedHost:
    """Runs components on a simulated or real clock.

    ``log`` receives (level, node, text); by default warnings and errors are kept in
    ``self.logs`` so that a test or the demo can show them.
    """

    def __init__(self, start_ns: int = 0, realtime: bool = False,
                 log: Callable[[str, str, str], None] | None = None):
        self.now = int(start_ns)
        self.realtime = realtime
        self.nodes: dict[str, Node] = {}
        self._subs: dict[str, list[Node]] = defaultdict(list)
        self._taps: dict[str, list[Tap]] = defaultdict(list)
        self._all_taps: list[Tap] = []
        self._latched: dict[str, deque[Any]] = {}
        self._timers: list[tuple[int, int, str, str, int]] = []
        self._seq = 0
        self._queue: deque[tuple[str, Any]] = deque()
        self.errors: Counter[tuple[str, str]] = Counter()
        self.published: Counter[str] = Counter()
        self.logs: list[tuple[int, str, str, str]] = []
        self._log = log
        self._start_ns = int(start_ns)
        self._wall0 = time.monotonic()

    # -- building the graph -------------------------------------------------------------
    def add(self, cls: type[Component], name: str | None = None, namespace: str = '',
            params: Mapping[str, Any] | None = None, remap: Mapping[str, str] | None = None,
            resources: Mapping[str, Any] | None = None) -> Component:
        node_name = name or cls.name
        full = f'{namespace.strip("/")}/{node_name}' if namespace.strip('/') else node_name
        if full in self.nodes:
            raise ValueError(f'node {full!r} already exists in the graph')
        remap = dict(remap or {})
        outputs = {p.topic: resolve(namespace, p.topic, remap) for p in cls.outputs}
        log = Log(lambda level, text, _n=full: self._emit_log(level, _n, text))
        comp = cls(params or {}, Outputs(lambda t, m, _o=outputs: self._publish(_o[t], m),
                                         list(outputs)), log, resources)
        periods = {}
        for timer in cls.timers:
            periods[timer.name] = int(round(cls.timer_period(timer, comp.config) * 1e9))
            if periods[timer.name] <= 0:
                raise ValueError(f'{full}: timer {timer.name!r} has a non-positive period')
        for port in cls.outputs:
            qos = intent(port.qos)
            if qos.transient_local:
                self._latched.setdefault(outputs[port.topic], deque(maxlen=qos.depth))
        # Start before wiring: a component that fails to start leaves no half-built node
        # behind to receive messages and ticks.
        comp.configure()
        try:
            comp.activate()
        except Exception:
            comp.cleanup()
            raise
        node = Node(full, namespace, comp, remap)
        for port in cls.inputs:
            topic = resolve(namespace, port.topic, remap)
            node.inputs[topic] = port.topic
            self._subs[topic].append(node)
        self.nodes[full] = node
        for timer in cls.timers:
            self._schedule(self.now + periods[timer.name], full, timer.name,
                           periods[timer.name])
        # A late subscriber still gets latched data, as with transient-local QoS.
        for topic in node.inputs:
            for msg in self._latched.get(topic, ()):
                self._deliver(node, topic, msg)
        # What starting published (and what latched data caused) is delivered now, at the
        # same ``now``, rather than at the next tick.
        self._drain()
        return comp

    def tap(self, topic: str | None, fn: Tap) -> None:
        """Observe a topic (or every topic when None) without being a component."""
        if topic is None:
            self._all_taps.append(fn)
        else:
            self._taps[topic.lstrip('/')].append(fn)

    def inject(self, topic: str, msg: Any) -> None:
        """Publish from outside the graph (tests, replays, operator tools)."""
        self._publish(topic.lstrip('/'), msg)
        self._drain()

    # -- running ------------------------------------------------------------------------
    def _schedule(self, when: int, node: str, timer: str, period: int) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (when, self._seq, node, timer, period))

    def run_until(self, end_ns: int, on_tick: Callable[[int], None] | None = None) -> None:
        """Fire every timer due up to ``end_ns`` in time order."""
        while self._timers and self._timers[0][0] <= end_ns:
            when, _, node_name, timer, period = heapq.heappop(self._timers)
            if self.realtime:
                self._sleep_until(when)
            self.now = when
            node = self.nodes.get(node_name)
            if node is None:
                continue
            self._schedule(when + period, node_name, timer, period)
            try:
                node.component.on_timer(timer, when)
            except Exception as exc:  # noqa: BLE001 - one bad node must not stop the graph
                self._fault(node_name, f'timer:{timer}', exc)
            self._drain()
            if on_tick is not None:
                on_tick(when)
        self.now = max(self.now, end_ns)

    def _sleep_until(self, when: int) -> None:
        target = self._wall0 + (when - self._start_ns) / 1e9
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def shutdown(self) -> None:
        for node in reversed(list(self.nodes.values())):
            # Cleanup runs even when deactivate fails: a device must still be closed.
            for step in (node.component.deactivate, node.component.cleanup):
                try:
                    step()
                except Exception as exc:  # noqa: BLE001
                    self._fault(node.name, 'shutdown', exc)

    # -- topics ---------------------------------------------------------------------------
    def _publish(self, topic: str, msg: Any) -> None:
        self._queue.append((topic, msg))

    def _drain(self) -> None:
        while self._queue:
            topic, msg = self._queue.popleft()
            self.published[topic] += 1
            if topic in self._latched:
                self._latched[topic].append(msg)
            for fn in self._all_taps:
                fn(topic, msg, self.now)
            for fn in self._taps.get(topic, ()):
                fn(topic, msg, self.now)
            for node in self._subs.get(topic, ()):
                self._deliver(node, topic, msg)

    def _deliver(self, node: Node, topic: str, msg: Any) -> None:
        try:
            node.component.on_message(node.inputs[topic], msg, self.now)
        except InputError as exc:
            self.errors[(node.name, topic)] += 1
            self._emit_log('warn', node.name, f'rejected message on {topic}: {exc}')
        except Exception as exc:  # noqa: BLE001
            self._fault(node.name, topic, exc)

    def _fault(self, node: str, where: str, exc: Exception) -> None:
        self.errors[(node, where)] += 1
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f' at {frame.filename}:{frame.lineno}' if frame else ''
        self._emit_log('error', node, f'{where}: {type(exc).__name__}: {exc}{at}')

    def _emit_log(self, level: str, node: str, text: str) -> None:
        if self._log is not None:
            self._log(level, node, text)
        if level != 'info':
            self.logs.append((self.now, level, node, text))
