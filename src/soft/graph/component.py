"""The component API: a graph node as a plain class, hosted by the embedded or the rclpy host.

A component declares its parameters, inputs, outputs and timers as class attributes, receives
messages and timer ticks with ``now`` (integer nanoseconds) passed in, and publishes through
the ``Outputs`` it was given. It never reads the wall clock, never sleeps and never imports
rclpy, so it runs the same under pytest, in a replay faster than real time and on a gateway.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence

ParamValue = bool | int | float | str | list[bool] | list[int] | list[float] | list[str]

_TYPE_NAMES = {bool: 'bool', int: 'int', float: 'float', str: 'str'}


class ParamError(ValueError):
    """A parameter value that does not fit its declaration; the message names the parameter."""


class InputError(ValueError):
    """A message a component refuses (NaN, unknown class, wrong frame...).

    Hosts count it per component and topic, log it and keep running.
    """


@dataclass(frozen=True)
class Param:
    """A typed parameter with a default, an SI unit in its description and an optional range."""

    name: str
    default: ParamValue
    description: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    read_only: bool = False

    @property
    def type_name(self) -> str:
        """ROS parameter type: bool, int, float, str, or their arrays as 'float[]' etc."""
        if isinstance(self.default, list):
            if not self.default:
                raise ParamError(f'{self.name}: an empty list default hides the element type')
            return _TYPE_NAMES[type(self.default[0])] + '[]'
        return _TYPE_NAMES[type(self.default)]

    def validate(self, value: Any) -> ParamValue:
        """Coerce and check ``value``; a ParamError names the parameter and what was wrong."""
        tname = self.type_name
        if tname.endswith('[]'):
            if not isinstance(value, (list, tuple)):
                raise ParamError(f'parameter {self.name!r}: expected a list of '
                                 f'{tname[:-2]}, got {value!r}')
            return [self._scalar(v, tname[:-2]) for v in value]
        return self._scalar(value, tname)

    def _scalar(self, value: Any, tname: str) -> Any:
        name = self.name
        if tname == 'bool':
            if not isinstance(value, bool):
                raise ParamError(f'parameter {name!r}: expected true/false, got {value!r}')
            return value
        if tname == 'str':
            if not isinstance(value, str):
                raise ParamError(f'parameter {name!r}: expected a string, got {value!r}')
            if self.choices and value not in self.choices:
                raise ParamError(f'parameter {name!r}: {value!r} is not one of '
                                 f'{", ".join(self.choices)}')
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f'parameter {name!r}: expected a number, got {value!r}')
        if tname == 'int':
            if isinstance(value, float) and not value.is_integer():
                raise ParamError(f'parameter {name!r}: expected an integer, got {value!r}')
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ParamError(f'parameter {name!r}: {value!r} is not finite')
        if self.min is not None and value < self.min:
            raise ParamError(f'parameter {name!r}: {value} is below the minimum {self.min}')
        if self.max is not None and value > self.max:
            raise ParamError(f'parameter {name!r}: {value} is above the maximum {self.max}')
        return value


@dataclass(frozen=True)
class Port:
    """A topic a component reads or writes, relative to its namespace.

    ``private`` ports (raw audio) are wired in-process only and never exposed on ROS.
    """

    topic: str
    msg_type: str
    qos: str
    description: str
    private: bool = False


@dataclass(frozen=True)
class Timer:
    """A periodic tick; the period (s) comes from a parameter when ``period_param`` is set."""

    name: str
    period_s: float = 1.0
    period_param: str = ''


class Outputs:
    """What a component publishes through: the host supplies the sink."""

    def __init__(self, sink: Callable[[str, Any], None], allowed: Sequence[str]):
        self._sink = sink
        self._allowed = frozenset(allowed)

    def publish(self, topic: str, msg: Any) -> None:
        if topic not in self._allowed:
            raise KeyError(f'topic {topic!r} is not a declared output ({sorted(self._allowed)})')
        self._sink(topic, msg)


@dataclass
class Log:
    """A logger the host provides; components log through it, never through print."""

    sink: Callable[[str, str], None] = field(default=lambda level, text: None)

    def info(self, text: str) -> None:
        self.sink('info', text)

    def warn(self, text: str) -> None:
        self.sink('warn', text)

    def error(self, text: str) -> None:
        self.sink('error', text)


class Component:
    """Base class of every graph node.

    Lifecycle (driven by the host; under rclpy, a lifecycle node when ``owns_resources``):
    ``configure()`` loads models and opens devices, ``activate()`` starts work,
    ``deactivate()`` and ``cleanup()`` release in reverse order.
    """

    name: ClassVar[str] = ''
    description: ClassVar[str] = ''
    params: ClassVar[tuple[Param, ...]] = ()
    inputs: ClassVar[tuple[Port, ...]] = ()
    outputs: ClassVar[tuple[Port, ...]] = ()
    timers: ClassVar[tuple[Timer, ...]] = ()
    owns_resources: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any], out: Outputs, log: Log | None = None,
                 resources: Mapping[str, Any] | None = None):
        self.config = self.validate_params(config)
        self.out = out
        self.log = log or Log()
        # In-process objects a host may hand over (a simulator, a shared model session).
        self.resources = dict(resources or {})

    @classmethod
    def param(cls, name: str) -> Param:
        for p in cls.params:
            if p.name == name:
                return p
        raise KeyError(f'{cls.__name__} has no parameter {name!r}')

    @classmethod
    def validate_params(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """Fill defaults and validate; unknown names are errors so that typos surface."""
        known = {p.name: p for p in cls.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ParamError(f'{cls.__name__}: unknown parameter(s) {", ".join(unknown)}; '
                             f'known: {", ".join(known)}')
        return {name: p.validate(given[name]) if name in given else p.default
                for name, p in known.items()}

    @classmethod
    def timer_period(cls, timer: Timer, config: Mapping[str, Any]) -> float:
        return float(config[timer.period_param]) if timer.period_param else timer.period_s

    def configure(self) -> None:
        """Load what the component needs (models, devices). Default: nothing."""

    def activate(self) -> None:
        """Start producing. Default: nothing."""

    def deactivate(self) -> None:
        """Stop producing, keep resources. Default: nothing."""

    def cleanup(self) -> None:
        """Release resources in reverse order of configure. Default: nothing."""

    def on_message(self, topic: str, msg: Any, now: int) -> None:
        """Handle a message on a declared input; raise InputError to refuse it."""
        raise NotImplementedError(f'{type(self).__name__} declares inputs but no on_message')

    def on_timer(self, timer: str, now: int) -> None:
        """Handle a timer tick."""
        raise NotImplementedError(f'{type(self).__name__} declares timers but no on_timer')

    def diagnostics(self, now: int) -> dict[str, str]:
        """Key/value health figures for the host's diagnostics publisher."""
        return {}
