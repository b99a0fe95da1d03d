"""YAML config loading with errors that name the file, the line and the field.

Site files, scenarios and parameter files all go through here, so an integrator's typo is
reported the same way everywhere: ``site.yaml:42: sensors[3].height_m: must be >= 0``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar('M', bound=BaseModel)
# libyaml parses a site file ten times faster than the pure-Python loader.
_LOADER = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


class ConfigError(ValueError):
    """A config problem located in a file; ``str()`` gives ``file:line: field: message``."""

    def __init__(self, path: str | Path, line: int | None, field: str, message: str):
        self.path, self.line, self.field, self.message = str(path), line, field, message
        where = f'{self.path}:{line}' if line else self.path
        super().__init__(f'{where}: {field}: {message}' if field else f'{where}: {message}')


class Located:
    """Maps a field path (('sensors', 3, 'height_m')) to the line it was written on."""

    def __init__(self, node: yaml.Node | None):
        self._root = node

    def line(self, loc: tuple[Any, ...]) -> int | None:
        node = self._root
        best = node.start_mark.line + 1 if node is not None else None
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                nxt = None
                for k, v in node.value:
                    if k.value == key:
                        nxt = v
                        best = k.start_mark.line + 1
                        break
                node = nxt
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) \
                    and 0 <= key < len(node.value):
                node = node.value[key]
                best = node.start_mark.line + 1
            else:
                break
            if node is None:
                break
        return best


def field_name(loc: tuple[Any, ...]) -> str:
    out = ''
    for key in loc:
        out += f'[{key}]' if isinstance(key, int) else (f'.{key}' if out else str(key))
    return out


def load_yaml(path: str | Path) -> tuple[Any, Located]:
    """Parse a YAML file, keeping line numbers; syntax errors become ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        raise ConfigError(path, None, '', 'file not found') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, '', f'cannot read: {exc}') from None
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = _LOADER('').construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(path, line, '', f'invalid YAML: {getattr(exc, "problem", exc)}') \
            from None
    return data, Located(node)


def validate(model: type[M], data: Any, path: str | Path, located: Located,
             prefix: tuple[Any, ...] = ()) -> M:
    """Validate ``data`` with a pydantic model; the first error becomes a located ConfigError.

    All errors are listed in the message so that one run reports every typo.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errs = exc.errors()
        first = errs[0]
        loc = prefix + tuple(first['loc'])
        msg = first['msg']
        if len(errs) > 1:
            others = '; '.join(f'{field_name(prefix + tuple(e["loc"]))} (line '
                               f'{located.line(prefix + tuple(e["loc"]))}): {e["msg"]}'
                               for e in errs[1:6])
            msg += f' (and {len(errs) - 1} more: {others})'
        raise ConfigError(path, located.line(loc), field_name(loc), msg) from None


def load_model(model: type[M], path: str | Path) -> M:
    data, located = load_yaml(path)
    if data is None:
        raise ConfigError(path, None, '', 'file is empty')
    return validate(model, data, path, located)
