"""Scenario files: weather, atmosphere and a timeline of incidents to simulate.

YAML goes through soft.configio, so a typo is reported as ``file:line: field: message``;
an unknown sound (``gunshoot``) lists every valid kind.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, \
    model_validator, ValidationInfo

from soft.configio import ConfigError, Located, field_name, load_yaml, validate

from .background import Weather
from .propagation import Atmosphere
from .sources import KINDS
from .sources.registry import family

ToEnu = Callable[[float, float, float], Sequence[float]]
DEFAULT_SOURCE_HEIGHT_M = 1.5


class _Strict(BaseModel):
    model_config = ConfigDict(extra='forbid', populate_by_name=True)


class PositionSpec(_Strict):
    x: float | None = Field(None, allow_inf_nan=False)
    y: float | None = Field(None, allow_inf_nan=False)
    z: float | None = Field(None, ge=-50.0, le=500.0, allow_inf_nan=False,
                            description='height above the ground, m')
    lat: float | None = Field(None, ge=-90.0, le=90.0)
    lon: float | None = Field(None, ge=-180.0, le=180.0)

    @model_validator(mode='after')
    def _one_frame(self) -> PositionSpec:
        xy = self.x is not None and self.y is not None
        ll = self.lat is not None and self.lon is not None
        if xy == ll:
            raise ValueError('give either {x, y[, z]} in the map frame or {lat, lon[, z]}')
        if (self.x is None) != (self.y is None) or (self.lat is None) != (self.lon is None):
            raise ValueError('x needs y and lat needs lon')
        return self


class RepeatSpec(_Strict):
    count: int = Field(ge=1, le=1000)
    interval_s: float = Field(gt=0.0, le=3600.0)


class IncidentSpec(_Strict):
    time: float = Field(ge=0.0, allow_inf_nan=False, description='emission time, s')
    kind: str = Field(validation_alias=AliasChoices('class', 'kind'))
    variant: str | None = None
    position: PositionSpec
    level_db: float | None = Field(None, ge=20.0, le=200.0)
    repeat: RepeatSpec | None = None
    clip: str | None = None

    @field_validator('kind')
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f'unknown sound {v!r}; valid classes and negative kinds: '
                             f'{", ".join(KINDS)}')
        return v

    @field_validator('variant')
    @classmethod
    def _known_variant(cls, v: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get('kind')
        if v is not None and kind in KINDS and v not in KINDS[kind]:
            raise ValueError(f'unknown variant {v!r} of {kind!r}; valid variants: '
                             f'{", ".join(KINDS[kind])}')
        return v


class WeatherSpec(_Strict):
    wind_m_s: float = Field(0.0, ge=0.0, le=40.0, validation_alias=AliasChoices('wind',
                                                                                'wind_m_s'))
    rain_mm_h: float = Field(0.0, ge=0.0, le=200.0, validation_alias=AliasChoices('rain',
                                                                                  'rain_mm_h'))


class ScenarioSpec(_Strict):
    name: str = Field(min_length=1)
    duration_s: float = Field(gt=0.0, le=48 * 3600.0)
    seed: int = Field(0, ge=0)
    temperature_c: float = Field(15.0, ge=-40.0, le=50.0)
    humidity: float = Field(60.0, ge=0.0, le=100.0, description='relative humidity, %')
    weather: WeatherSpec = WeatherSpec()
    incidents: list[IncidentSpec] = []


@dataclass(frozen=True)
class Incident:
    """One scripted sound (possibly repeated) at a place in the map frame."""

    index: int
    time_s: float
    kind: str
    variant: str | None
    position: np.ndarray
    level_db: float | None = None
    repeat_count: int = 1
    repeat_interval_s: float = 0.0
    clip: Path | None = None

    @property
    def class_id(self) -> int:
        return family(self.kind).class_id

    def emission_times(self) -> list[float]:
        return [self.time_s + k * self.repeat_interval_s for k in range(self.repeat_count)]


@dataclass
class Scenario:
    name: str
    duration_s: float
    seed: int = 0
    atmosphere: Atmosphere = Atmosphere()
    weather: Weather = Weather()
    incidents: list[Incident] = field(default_factory=list)
    path: Path | None = None


def parse_scenario(data: Any, path: str | Path = '<scenario>', located: Located | None = None,
                   to_enu: ToEnu | None = None) -> Scenario:
    """Validate a scenario mapping; errors are ConfigError naming file, line and field."""
    located = located or Located(None)
    if not isinstance(data, dict):
        raise ConfigError(path, located.line(()), '', 'a scenario must be a mapping')
    spec = validate(ScenarioSpec, data, path, located)
    base = Path(path).parent if path != '<scenario>' else Path('.')
    incidents = []
    for i, inc in enumerate(spec.incidents):
        loc = ('incidents', i)
        last = inc.time + ((inc.repeat.count - 1) * inc.repeat.interval_s if inc.repeat else 0)
        if last >= spec.duration_s:
            raise ConfigError(path, located.line(loc + ('time',)), field_name(loc + ('time',)),
                              f'incident at {last:g} s is not inside duration_s '
                              f'{spec.duration_s:g} s')
        pos = _position(inc.position, to_enu, path, located, loc + ('position',))
        clip = None
        if inc.clip is not None:
            clip = Path(inc.clip) if Path(inc.clip).is_absolute() else base / inc.clip
            if not clip.is_file():
                raise ConfigError(path, located.line(loc + ('clip',)),
                                  field_name(loc + ('clip',)), f'clip file {clip} not found')
        incidents.append(Incident(
            i, inc.time, inc.kind, inc.variant, pos, inc.level_db,
            inc.repeat.count if inc.repeat else 1,
            inc.repeat.interval_s if inc.repeat else 0.0, clip))
    return Scenario(spec.name, spec.duration_s, spec.seed,
                    Atmosphere(spec.temperature_c, spec.humidity),
                    Weather(spec.weather.wind_m_s, spec.weather.rain_mm_h), incidents,
                    Path(path) if path != '<scenario>' else None)


def _position(p: PositionSpec, to_enu: ToEnu | None, path: str | Path, located: Located,
              loc: tuple[Any, ...]) -> np.ndarray:
    z = DEFAULT_SOURCE_HEIGHT_M if p.z is None else p.z
    if p.x is not None:
        return np.array([p.x, p.y, z], dtype=float)
    if to_enu is None:
        raise ConfigError(path, located.line(loc), field_name(loc),
                          'lat/lon position needs a site (to_enu) to convert it to the map '
                          'frame; give x, y instead')
    try:
        enu = [float(v) for v in to_enu(p.lat, p.lon, 0.0)]
    except (ValueError, TypeError) as exc:
        raise ConfigError(path, located.line(loc), field_name(loc),
                          f'cannot convert lat/lon to the map frame: {exc}') from None
    if len(enu) < 2 or not all(math.isfinite(v) for v in enu[:2]):
        raise ConfigError(path, located.line(loc), field_name(loc),
                          f'to_enu returned {enu!r}, expected (east, north[, up])')
    return np.array([enu[0], enu[1], z], dtype=float)


def load_scenario(path: str | Path, to_enu: ToEnu | None = None) -> Scenario:
    """Load a scenario YAML file.

    ``to_enu(lat, lon, alt_m) -> (east, north, up)`` converts WGS84 positions to the map
    frame (the site provides it); a position's ``z`` is its height above the ground.
    """
    data, located = load_yaml(path)
    if data is None:
        raise ConfigError(path, None, '', 'file is empty')
    return parse_scenario(data, path, located, to_enu)
