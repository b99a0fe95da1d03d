"""Message classes generated at run time from the package's own ``msg/ srv/ action/`` files.

The embedded host and the tests use these rosbags classes, the rclpy host uses the classes
rosidl generates from the same files: identical fields and identical CDR bytes, so a bag
recorded by one host replays in the other. Services and actions are split at ``---`` into
``soft/srv/X_Request``/``_Response`` and ``soft/action/X_Goal``/``_Result``/``_Feedback``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from soft.paths import share_dir

PACKAGE = 'soft'
_KINDS = {'msg': ('',), 'srv': ('_Request', '_Response'),
          'action': ('_Goal', '_Result', '_Feedback')}


def interface_dir() -> Path:
    """The folder holding msg/ srv/ action/ (wheel, source tree or ROS install)."""
    return share_dir()


def _split_sections(text: str) -> list[str]:
    sections: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == '---':
            sections.append([])
        else:
            sections[-1].append(line)
    return ['\n'.join(s) for s in sections]


def _qualify(text: str) -> str:
    """rosbags wants package-local types written with their package: 'soft/Alert'."""
    return text.replace('soft/Alert ', 'soft/msg/Alert ')


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """The Jazzy type store plus every soft interface, built once per process."""
    store = get_typestore(Stores.ROS2_JAZZY)
    root = interface_dir()
    pending: dict[str, Any] = {}
    for kind, suffixes in _KINDS.items():
        for path in sorted((root / kind).glob(f'*.{kind}')):
            sections = _split_sections(path.read_text(encoding='utf-8'))
            if len(sections) != len(suffixes):
                raise ValueError(
                    f'{path}: expected {len(suffixes)} sections separated by ---, '
                    f'found {len(sections)}')
            for text, suffix in zip(sections, suffixes):
                name = f'{PACKAGE}/{kind}/{path.stem}{suffix}'
                pending.update(get_types_from_msg(_qualify(text), name))
    store.register(pending)
    return store


def msg_class(name: str) -> Any:
    """Return the class for a full type name such as 'soft/msg/AcousticEvent'."""
    types = typestore().types
    if name.startswith(f'{PACKAGE}/srv/') and name not in types:
        # rosbags files service parts under soft/srv/msg/X_Request; accept the ROS name.
        name = name.replace('/srv/', '/srv/msg/', 1)
    try:
        return types[name]
    except KeyError:
        raise KeyError(f'unknown message type {name!r}') from None


def soft_types() -> list[str]:
    return sorted(n for n in typestore().fielddefs if n.startswith(f'{PACKAGE}/'))


def stamp(ns: int) -> Any:
    """builtin_interfaces/Time from integer nanoseconds (negative times are invalid in ROS)."""
    if ns < 0:
        raise ValueError(f'stamp {ns} ns is negative')
    t = msg_class('builtin_interfaces/msg/Time')
    return t(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def stamp_ns(t: Any) -> int:
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def header(ns: int, frame_id: str) -> Any:
    return msg_class('std_msgs/msg/Header')(stamp=stamp(ns), frame_id=frame_id)


def point(x: float, y: float, z: float = 0.0) -> Any:
    return msg_class('geometry_msgs/msg/Point')(x=float(x), y=float(y), z=float(z))


def serialize(msg: Any) -> bytes:
    """CDR bytes exactly as a ROS 2 publisher would put them in a bag."""
    return bytes(typestore().serialize_cdr(msg, msg.__msgtype__))


def deserialize(data: bytes, msgtype: str) -> Any:
    return typestore().deserialize_cdr(data, msgtype)


def diagnostic_array(ns: int, statuses: list[tuple[int, str, str, str, dict[str, str]]]) -> Any:
    """Build a DiagnosticArray from (level, name, message, hardware_id, values) tuples."""
    kv = msg_class('diagnostic_msgs/msg/KeyValue')
    status = msg_class('diagnostic_msgs/msg/DiagnosticStatus')
    arr = msg_class('diagnostic_msgs/msg/DiagnosticArray')
    return arr(header=header(ns, ''), status=[
        status(level=level, name=name, message=message,
               hardware_id=hw, values=[kv(key=k, value=str(v)) for k, v in values.items()])
        for level, name, message, hw, values in statuses])
