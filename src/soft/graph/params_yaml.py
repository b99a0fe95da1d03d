"""Component parameters as ROS sees them: descriptors, strict types and parameter YAML files.

ROS 2 parameters are statically typed: a ``float`` parameter refuses ``16000`` from a YAML file
where ``Param.validate`` would accept it. Checking that here, without ROS, lets a static test
reject a bad ``config/params/*.yaml`` or launch file before it reaches a device, with the file,
line and parameter named. The rclpy host builds its ``ParameterDescriptor`` objects from
``descriptor_spec`` so that what is checked here is what ROS enforces.
"""
from __future__ import annotations

import array
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from soft.configio import ConfigError, Located, load_yaml
from soft.graph.component import Component, Param, ParamError

# rcl_interfaces/msg/ParameterType values.
ROS_PARAMETER_TYPES: dict[str, int] = {
    'bool': 1, 'int': 2, 'float': 3, 'str': 4,
    'bool[]': 6, 'int[]': 7, 'float[]': 8, 'str[]': 9,
}
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
# Parameters every rclpy node declares itself; a params file may set them on any node.
ROS_NODE_PARAMS: dict[str, str] = {'use_sim_time': 'bool'}
ROS_PARAMS_KEY = 'ros__parameters'


@dataclass(frozen=True)
class DescriptorSpec:
    """The fields of an rcl_interfaces ParameterDescriptor, as plain values."""

    name: str
    type: int
    description: str
    additional_constraints: str
    read_only: bool
    integer_range: tuple[int, int] | None = None
    floating_point_range: tuple[float, float] | None = None


def _constraints(p: Param) -> str:
    parts = []
    if p.choices:
        parts.append(f'one of: {", ".join(p.choices)}')
    if p.min is not None:
        parts.append(f'>= {p.min}')
    if p.max is not None:
        parts.append(f'<= {p.max}')
    if p.read_only:
        parts.append('read-only: set at start-up (launch or params file)')
    return '; '.join(parts)


def descriptor_spec(p: Param) -> DescriptorSpec:
    """Descriptor for a component parameter; a missing bound becomes the type's extreme.

    ROS ranges only apply to scalar int/float parameters; array elements are checked by
    ``Param.validate`` in the host's set-parameters callback.
    """
    tname = p.type_name
    int_range = float_range = None
    if p.min is not None or p.max is not None:
        if tname == 'int':
            int_range = (INT64_MIN if p.min is None else math.ceil(p.min),
                         INT64_MAX if p.max is None else math.floor(p.max))
        elif tname == 'float':
            float_range = (-sys.float_info.max if p.min is None else float(p.min),
                           sys.float_info.max if p.max is None else float(p.max))
    return DescriptorSpec(name=p.name, type=ROS_PARAMETER_TYPES[tname],
                          description=p.description, additional_constraints=_constraints(p),
                          read_only=p.read_only, integer_range=int_range,
                          floating_point_range=float_range)


def ros_type_of(value: Any) -> str:
    """The ROS parameter type a YAML or Python value gets: 'int', 'float[]'...

    Raises ParamError for values ROS cannot hold (None, mixed or empty lists, mappings).
    """
    if isinstance(value, bool):
        return 'bool'
    if isinstance(value, int):
        return 'int'
    if isinstance(value, float):
        return 'float'
    if isinstance(value, str):
        return 'str'
    if isinstance(value, (list, tuple)):
        if not value:
            raise ParamError('an empty list has no ROS parameter type')
        kinds = {ros_type_of(v) for v in value}
        if len(kinds) != 1 or next(iter(kinds)).endswith('[]'):
            raise ParamError(f'a ROS parameter list holds one scalar type, got {sorted(kinds)}')
        return next(iter(kinds)) + '[]'
    raise ParamError(f'{value!r} ({type(value).__name__}) is not a ROS parameter value')


def check_ros_value(p: Param, value: Any) -> Any:
    """Validate a value as ROS will receive it: exact type first, then the declaration."""
    try:
        got = ros_type_of(value)
    except ParamError as exc:
        raise ParamError(f'parameter {p.name!r}: {exc}') from None
    if got != p.type_name:
        hint = ' (write it with a decimal point)' if (got, p.type_name) == ('int', 'float') \
            else ''
        raise ParamError(f'parameter {p.name!r}: ROS declares it {p.type_name}, '
                         f'got {got} {value!r}{hint}')
    return p.validate(value)


def from_ros_value(value: Any) -> Any:
    """rclpy hands arrays back as array.array or tuples; components expect lists."""
    if isinstance(value, (array.array, tuple)):
        return list(value)
    return value


def component_param(cls: type[Component], name: str) -> Param | None:
    for p in cls.params:
        if p.name == name:
            return p
    return None


def check_node_params(cls: type[Component], given: Mapping[str, Any]) -> dict[str, Any]:
    """Validate parameters a launch file or params file sets on a node of ``cls``.

    Unknown names are errors (a typo would otherwise be silently ignored by ROS, since the
    host declares only the component's parameters); ``use_sim_time`` is always allowed.
    """
    out = {}
    for name, value in given.items():
        if name in ROS_NODE_PARAMS:
            if ros_type_of(value) != ROS_NODE_PARAMS[name]:
                raise ParamError(f'parameter {name!r}: expected {ROS_NODE_PARAMS[name]}, '
                                 f'got {value!r}')
            out[name] = value
            continue
        p = component_param(cls, name)
        if p is None:
            raise ParamError(f'{cls.__name__}: unknown parameter {name!r}; known: '
                             f'{", ".join(q.name for q in cls.params)}')
        out[name] = check_ros_value(p, value)
    return out


def check_runtime_change(cls: type[Component], changes: Mapping[str, Any],
                         current: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a run-time parameter change (``ros2 param set``) before ROS applies it.

    Read-only parameters are structural (device, sample rate, ids): refused, they need a
    restart. Names the component does not declare are left to rclpy (``use_sim_time``).
    Returns the validated new values; raises ParamError naming the parameter.
    """
    out: dict[str, Any] = {}
    for name, value in changes.items():
        p = component_param(cls, name)
        if p is None:
            continue
        if p.read_only:
            raise ParamError(f'parameter {name!r} is read-only: set it at start-up '
                             '(launch file or params file) and restart the node')
        out[name] = p.validate(from_ros_value(value))
    cls.validate_params({**current, **out})
    return out


# -- parameter YAML files -------------------------------------------------------------------

@dataclass(frozen=True)
class NodeParams:
    """One ``ros__parameters`` block: the node pattern it targets and its flat parameters."""

    pattern: str  # '/**', '/sensor_s01/sensor', 'sensor'...
    params: dict[str, Any]
    loc: tuple[Any, ...]  # where the block is in the file, for line numbers


def _flatten(data: Mapping[str, Any], prefix: str = '') -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            out.update(_flatten(value, f'{name}.'))
        else:
            out[name] = value
    return out


def node_blocks(data: Any, path: str | Path) -> list[NodeParams]:
    """Every ``ros__parameters`` block of a parsed params file, with its node pattern."""
    if not isinstance(data, dict):
        raise ConfigError(path, None, '', 'a ROS parameter file is a mapping of node names')
    blocks: list[NodeParams] = []

    def walk(node: dict, names: list[str], loc: tuple[Any, ...]) -> None:
        for key, value in node.items():
            if key == ROS_PARAMS_KEY:
                if not names:
                    raise ConfigError(path, None, ROS_PARAMS_KEY, 'no node name above it')
                if not isinstance(value, dict):
                    raise ConfigError(path, None, '.'.join(names), 'ros__parameters must be '
                                      'a mapping of parameter names')
                pattern = '/'.join(n.rstrip('/') for n in names)
                blocks.append(NodeParams(pattern, _flatten(value), loc + (key,)))
            elif isinstance(value, dict):
                walk(value, names + [str(key)], loc + (key,))
            else:
                raise ConfigError(path, None, '.'.join(map(str, loc + (key,))),
                                  f'expected a node name or {ROS_PARAMS_KEY}, got a value')

    walk(data, [], ())
    return blocks


def load_params_file(path: str | Path) -> tuple[list[NodeParams], Located]:
    data, located = load_yaml(path)
    if data is None:
        raise ConfigError(path, None, '', 'file is empty')
    return node_blocks(data, path), located


def validate_params_file(path: str | Path, cls: type[Component]) -> list[NodeParams]:
    """Check every block of a component's params file against its declarations.

    Errors are ``ConfigError`` with file, line and ``node.parameter`` named.
    """
    blocks, located = load_params_file(path)
    for block in blocks:
        for name, value in block.params.items():
            loc = block.loc + tuple(name.split('.'))
            try:
                check_node_params(cls, {name: value})
            except ParamError as exc:
                raise ConfigError(path, located.line(loc), f'{block.pattern}.{name}',
                                  str(exc)) from None
    return blocks
