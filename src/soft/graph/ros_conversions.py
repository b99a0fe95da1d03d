"""Plain-Python half of the rclpy host: message conversion, type names, QoS and health.

Components exchange the rosbags dataclasses of ``soft.graph.messages``; rclpy wants the classes
rosidl generated from the same ``.msg`` files. Both carry the same fields, so one converter
walks the rosbags type store's field definitions and rebuilds the message on the other side,
recursively, with numeric arrays moved as whole buffers (``np.frombuffer`` / ``array.array``)
rather than element by element. Nothing here imports rclpy: the host passes in a function that
returns the rclpy class for a type name, and the tests pass in stand-ins.
"""
from __future__ import annotations

import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from rosbags.interfaces import Nodetype

from soft.graph import messages
from soft.graph.qos import intent

ClassFor = Callable[[str], Any]

# rosbags base type -> array.array typecode (also its numpy dtype): the types rosidl's Python
# generator stores as array.array in sequences and numpy.ndarray in fixed-size arrays.
NUMERIC: dict[str, str] = {
    'float32': 'f', 'float64': 'd', 'int8': 'b', 'uint8': 'B', 'int16': 'h', 'uint16': 'H',
    'int32': 'i', 'uint32': 'I', 'int64': 'q', 'uint64': 'Q',
    'char': 'B',  # .msg 'char' is uint8 in the IDL rosidl generates from
}
_INTS = {'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'char'}
# Arrays rosbags keeps as numpy but rclpy as a list: bool, and byte (one-byte ``bytes``).
_LISTED = {'bool': np.bool_, 'byte': np.uint8}


class ConversionError(ValueError):
    """A message that cannot be rebuilt on the other side; names the type and field path."""


# -- type names ---------------------------------------------------------------------------

def ros_import_path(typename: str) -> tuple[str, tuple[str, ...]]:
    """Where rosidl puts a type: module and attribute path.

    'soft/msg/AcousticEvent' -> ('soft.msg', ('AcousticEvent',));
    'soft/srv/SetAlertState_Request' -> ('soft.srv', ('SetAlertState', 'Request')), because
    rosidl nests service and action parts in one class per interface.
    """
    parts = typename.split('/')
    if len(parts) != 3 or not all(parts):
        raise ValueError(f'message type {typename!r} is not of the form package/kind/Name')
    pkg, kind, name = parts
    if kind == 'msg':
        return f'{pkg}.msg', (name,)
    suffixes = {'srv': ('Request', 'Response'), 'action': ('Goal', 'Result', 'Feedback')}
    if kind not in suffixes:
        raise ValueError(f'message type {typename!r}: unknown interface kind {kind!r}')
    base, _, part = name.rpartition('_')
    if not base or part not in suffixes[kind]:
        raise ValueError(f'message type {typename!r}: expected a {kind} part suffix '
                         f'({", ".join(suffixes[kind])})')
    return f'{pkg}.{kind}', (base, part)


# -- messages -------------------------------------------------------------------------------

def _fields(typename: str) -> list[tuple[str, tuple[Any, Any]]]:
    try:
        return messages.typestore().fielddefs[typename][1]
    except KeyError:
        raise ConversionError(f'unknown message type {typename!r}') from None


def _base(value: Any, tname: str, to_ros: bool, where: str) -> Any:
    if tname == 'bool':
        return bool(value)
    if tname in _INTS:
        return int(value)
    if tname in ('float32', 'float64'):
        return float(value)
    if tname in ('string', 'wstring'):
        if not isinstance(value, str):
            raise ConversionError(f'{where}: expected a string, got {type(value).__name__}')
        return value
    if tname == 'byte':  # rclpy: one-byte bytes; rosbags: int
        if to_ros:
            return value if isinstance(value, bytes) else bytes([int(value)])
        return value[0] if isinstance(value, (bytes, bytearray)) else int(value)
    raise ConversionError(f'{where}: unsupported base type {tname!r}')


def _numeric(value: Any, tname: str, fixed: bool, to_ros: bool, where: str) -> Any:
    code = NUMERIC[tname]
    try:
        if isinstance(value, array.array):
            arr = np.frombuffer(value, dtype=value.typecode).astype(code)
        else:
            arr = np.array(value, dtype=code)
    except (OverflowError, ValueError, TypeError) as exc:
        raise ConversionError(f'{where}: not an array of {tname}: {exc}') from None
    if to_ros and not fixed:
        return array.array(code, arr.tobytes())
    # Fixed arrays are numpy on both sides; rosbags also keeps sequences as numpy.
    return arr


def _value(value: Any, node: tuple[Any, Any], cls_for: ClassFor, to_ros: bool,
           where: str) -> Any:
    kind, desc = node
    if kind == Nodetype.BASE:
        return _base(value, desc[0], to_ros, where)
    if kind == Nodetype.NAME:
        return _message(value, desc, cls_for, to_ros, where)
    (sub_kind, sub_desc), count = desc
    fixed = kind == Nodetype.ARRAY
    if fixed and len(value) != count:
        raise ConversionError(f'{where}: expected {count} elements, got {len(value)}')
    if sub_kind == Nodetype.BASE and sub_desc[0] in NUMERIC:
        return _numeric(value, sub_desc[0], fixed, to_ros, where)
    items = [_value(v, (sub_kind, sub_desc), cls_for, to_ros, f'{where}[{i}]')
             for i, v in enumerate(value)]
    if not to_ros and sub_kind == Nodetype.BASE and sub_desc[0] in _LISTED:
        return np.array(items, dtype=_LISTED[sub_desc[0]])
    return items


def _message(msg: Any, typename: str, cls_for: ClassFor, to_ros: bool, where: str) -> Any:
    kwargs = {}
    for name, node in _fields(typename):
        path = f'{where}.{name}' if where else name
        try:
            raw = getattr(msg, name)
        except AttributeError:
            raise ConversionError(f'{typename}: {path}: missing field on '
                                  f'{type(msg).__name__}') from None
        kwargs[name] = _value(raw, node, cls_for, to_ros, path)
    try:
        return cls_for(typename)(**kwargs)
    except (TypeError, AssertionError, ValueError) as exc:
        raise ConversionError(f'{typename}: {where or "message"}: {exc}') from exc


def to_ros(msg: Any, cls_for: ClassFor, typename: str | None = None) -> Any:
    """Rebuild a rosbags message as the class ``cls_for`` returns for each type name.

    ``cls_for`` is the host's import of rosidl classes ('std_msgs/msg/Header' ->
    ``std_msgs.msg.Header``); numeric sequences become ``array.array`` as rclpy expects.
    """
    return _message(msg, typename or msg.__msgtype__, cls_for, True, '')


def from_ros(msg: Any, typename: str) -> Any:
    """Rebuild an rclpy (or any attribute-compatible) message as the rosbags dataclass."""
    return _message(msg, typename, messages.msg_class, False, '')


# -- QoS ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QosSettings:
    """Policies by name, ready for ``QoSProfile``: depth, reliability, durability."""

    depth: int
    reliability: str  # 'reliable' | 'best_effort'
    durability: str  # 'transient_local' | 'volatile'


def qos_settings(intent_name: str, role: str) -> QosSettings:
    """QoS for a publisher or a subscription of an intent.

    Publishers always offer RELIABLE: a best-effort publisher is invisible to the reliable
    subscriptions rviz2, rqt and the diagnostic aggregator make by default, while a reliable
    one serves both kinds. Subscriptions of a best-effort intent ask only for best effort.
    """
    if role not in ('publisher', 'subscription'):
        raise ValueError(f'QoS role {role!r} is neither publisher nor subscription')
    q = intent(intent_name)
    reliable = q.reliable or role == 'publisher'
    return QosSettings(depth=q.depth,
                       reliability='reliable' if reliable else 'best_effort',
                       durability='transient_local' if q.transient_local else 'volatile')


# -- health ---------------------------------------------------------------------------------

DIAG_OK, DIAG_WARN, DIAG_ERROR = 0, 1, 2


@dataclass
class HostHealth:
    """What the host counts for one component, reported on /diagnostics.

    Rejected messages (InputError) make the status WARN for the period they happened in,
    callback exceptions make it ERROR; counts are cumulative so that a gap is visible.
    """

    node: str
    rejected: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    published: Counter[str] = field(default_factory=Counter)
    last_error: str = ''
    _reported: tuple[int, int] = (0, 0)

    def status(self, now: int, component_values: Mapping[str, str], state: str) -> Any:
        """A rosbags DiagnosticArray with one status for this node, and reset the period."""
        rejected, faults = sum(self.rejected.values()), sum(self.faults.values())
        new_rejected = rejected - self._reported[0]
        new_faults = faults - self._reported[1]
        self._reported = (rejected, faults)
        if new_faults:
            level, text = DIAG_ERROR, f'{new_faults} callback error(s): {self.last_error}'
        elif new_rejected:
            level, text = DIAG_WARN, f'{new_rejected} message(s) rejected: {self.last_error}'
        else:
            level, text = DIAG_OK, state
        values = {'state': state, 'messages_rejected': str(rejected),
                  'callback_errors': str(faults)}
        for topic, n in sorted(self.received.items()):
            values[f'received {topic}'] = str(n)
        for topic, n in sorted(self.published.items()):
            values[f'published {topic}'] = str(n)
        for topic, n in sorted(self.rejected.items()):
            values[f'rejected {topic}'] = str(n)
        values.update({str(k): str(v) for k, v in component_values.items()})
        return messages.diagnostic_array(max(now, 0), [
            (level, f'soft/host{self.node}', text, self.node, values)])
