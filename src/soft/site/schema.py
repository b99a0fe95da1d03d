"""The site file format: pydantic models of what an integrator writes, in WGS84 and SI units.

Each field checks what it can alone (types, finite numbers, ranges, ordered intervals); the
checks that need several fields or the origin (unique ids, distance to the origin, polygons,
references between sections, sensors inside buildings) live in ``load.py`` so that their
errors can still name the file and line. The field-by-field reference is config/sites/README.md.
"""
from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, field_validator,
                      model_validator)

Latitude = Annotated[float, Field(ge=-90.0, le=90.0, description='WGS84 latitude, degrees')]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0, description='WGS84 longitude, degrees')]
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r'^[A-Za-z0-9_]+$',
                             description='identifier, also used in frame and topic names')]
Height = Annotated[float, Field(ge=0.0, le=500.0, description='metres above ground')]
Positive = Annotated[float, Field(gt=0.0)]

BACKGROUND_PROFILES = ('busy_street', 'quiet_street', 'square', 'park')


def _ordered(pair: tuple[float, float]) -> tuple[float, float]:
    if not pair[0] < pair[1]:
        raise ValueError(f'minimum {pair[0]} must be below maximum {pair[1]}')
    return pair


def _closed_ring(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    # Accept rings written closed or open; store them open.
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1]
    if len(points) < 3:
        raise ValueError(f'a polygon needs at least 3 distinct corners, got {len(points)}')
    return points


Interval = Annotated[tuple[float, float], AfterValidator(_ordered)]
LatLon = tuple[Latitude, Longitude]
Ring = Annotated[list[LatLon], AfterValidator(_closed_ring),
                 Field(description='[[lat, lon], ...] corners, WGS84 degrees')]


class _Model(BaseModel):
    model_config = ConfigDict(extra='forbid', allow_inf_nan=False, frozen=True,
                              populate_by_name=True)


class Origin(_Model):
    """Origin of the `map` frame."""

    lat: Latitude
    lon: Longitude
    alt: float = Field(ge=-500.0, le=9000.0, description='altitude, metres')


class MicArray(_Model):
    """Microphone positions of a multi-channel sensor, for direction of arrival."""

    heading_deg: float = Field(0.0, ge=-360.0, le=360.0,
                               description='compass bearing of the array x axis, degrees')
    mics: list[tuple[float, float, float]] = Field(
        min_length=2, max_length=64,
        description='[x, y, z] of each capsule, metres, array frame (x forward, y left, z up)')

    @field_validator('mics')
    @classmethod
    def _geometry(cls, mics: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
        for i, m in enumerate(mics):
            if max(abs(c) for c in m) > 2.0:
                raise ValueError(f'capsule {i} is {max(abs(c) for c in m)} m from the array '
                                 'centre; an array is at most 2 m across')
            for j in range(i):
                if math.dist(m, mics[j]) < 1e-3:
                    raise ValueError(f'capsules {j} and {i} are at the same place')
        return mics


class Sensor(_Model):
    """An acoustic sensor (microphone or array) on a lamp post or a facade."""

    id: Ident
    name: str = ''
    lat: Latitude
    lon: Longitude
    height_m: Height
    ground_alt_m: float | None = Field(None, description='ground altitude here, metres')
    sensitivity_dbfs: float = Field(
        -38.0, ge=-80.0, le=0.0, description='digital level of a 94 dB SPL tone, dBFS')
    self_noise_dba: float = Field(29.0, ge=0.0, le=80.0, description='self-noise, dB(A) SPL')
    clock_tolerance_s: float = Field(1e-4, gt=0.0, le=1.0,
                                     description='max clock error vs. site time, s')
    array: MicArray | None = None
    background: Literal['busy_street', 'quiet_street', 'square', 'park'] = 'quiet_street'


class OnvifConnection(_Model):
    """ONVIF endpoint; secrets come from the environment, never from the site file."""

    host: str = Field(min_length=1)
    port: int = Field(80, ge=1, le=65535)
    profile_token: str = ''
    username_env: str = ''
    password_env: str = ''


class PelcoDConnection(_Model):
    """Pelco-D over a serial line (RS-485 adapter)."""

    device: str = Field(min_length=1, description='serial device, e.g. /dev/ttyUSB0')
    baud: Literal[2400, 4800, 9600, 19200] = 2400
    address: int = Field(1, ge=1, le=255)


class PrivacyMask(_Model):
    """An area a camera must never show: a ground polygon (prism) or a pan/tilt sector."""

    id: Ident
    reason: str = ''
    polygon: Ring | None = None
    height_range_m: Interval = Field((0.0, 100.0), description='prism bottom/top above ground')
    pan_deg: Interval | None = None
    tilt_deg: Interval | None = None

    @field_validator('tilt_deg')
    @classmethod
    def _tilt(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and (v[0] < -90.0 or v[1] > 90.0):
            raise ValueError('tilt must stay within [-90, 90] degrees')
        return v

    @model_validator(mode='after')
    def _one_kind(self) -> PrivacyMask:
        sector = self.pan_deg is not None or self.tilt_deg is not None
        if (self.polygon is None) == (not sector):
            raise ValueError('give either polygon or pan_deg/tilt_deg, not both or neither')
        return self


class Camera(_Model):
    """A PTZ camera. Pan is relative to ``heading_deg`` and positive clockwise seen from above
    (as on the camera's own dial); tilt is elevation, 0 = horizontal, negative = downwards."""

    id: Ident
    name: str = ''
    lat: Latitude
    lon: Longitude
    height_m: Height
    ground_alt_m: float | None = None
    heading_deg: float = Field(0.0, ge=0.0, lt=360.0,
                               description='compass bearing of pan = 0, degrees')
    pan_limits_deg: Interval = (-180.0, 180.0)
    tilt_limits_deg: Interval = (-90.0, 20.0)
    pan_speed_dps: Positive = Field(100.0, le=1000.0)
    tilt_speed_dps: Positive = Field(60.0, le=1000.0)
    fov_deg: Interval = Field((2.3, 63.0), description='horizontal field of view, tele/wide')
    max_range_m: Positive = Field(200.0, le=5000.0)
    privacy_masks: list[PrivacyMask] = []
    onvif: OnvifConnection | None = None
    pelco_d: PelcoDConnection | None = None

    @field_validator('pan_limits_deg')
    @classmethod
    def _pan(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] < -360.0 or v[1] > 360.0 or v[1] - v[0] > 360.0:
            raise ValueError('pan limits must lie in [-360, 360] and span at most 360 degrees')
        return v

    @field_validator('tilt_limits_deg')
    @classmethod
    def _tilt(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] < -90.0 or v[1] > 90.0:
            raise ValueError('tilt limits must lie within [-90, 90] degrees')
        return v

    @field_validator('fov_deg')
    @classmethod
    def _fov(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] <= 0.0 or v[1] >= 180.0:
            raise ValueError('field of view must lie in (0, 180) degrees')
        return v


class Drone(_Model):
    """One aircraft kept in a dock."""

    id: Ident
    max_speed_mps: Positive = Field(15.0, le=60.0)
    endurance_s: Positive = Field(1800.0, le=36000.0)
    battery_wh: Positive = Field(77.0, le=5000.0)
    cruise_height_m: Positive = Field(40.0, le=120.0, description='above ground')


class DroneDock(_Model):
    """A drone-in-a-box station, usually on a roof."""

    id: Ident
    name: str = ''
    lat: Latitude
    lon: Longitude
    height_m: Height
    ground_alt_m: float | None = None
    drones: list[Drone] = Field(min_length=1)


class PatrolBase(_Model):
    """Where patrols start and return (a police station, a municipal police post)."""

    id: Ident
    name: str = ''
    lat: Latitude
    lon: Longitude


class Patrol(_Model):
    """A foot or car patrol; it starts at its base unless a position is given."""

    id: Ident
    kind: Literal['foot', 'car']
    base: Ident | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    speed_mps: Positive | None = Field(None, le=40.0,
                                       description='average speed; default by kind')

    @model_validator(mode='after')
    def _start(self) -> Patrol:
        if (self.lat is None) != (self.lon is None):
            raise ValueError('give both lat and lon, or neither')
        if self.base is None and self.lat is None:
            raise ValueError('give a base or a position (lat, lon)')
        return self

    @property
    def speed(self) -> float:
        """Speed in m/s: the configured one, or a typical urban average for the kind."""
        if self.speed_mps is not None:
            return self.speed_mps
        return 1.4 if self.kind == 'foot' else 7.0


class NoFlyZone(_Model):
    """Airspace drones must not enter, between two heights above ground."""

    id: Ident
    name: str = ''
    polygon: Ring
    height_range_m: Interval = (0.0, 500.0)


class StreetNode(_Model):
    """A crossroads or a bend of the street graph."""

    id: Ident
    lat: Latitude
    lon: Longitude


class StreetEdge(_Model):
    """A street segment between two nodes; ``one_way`` allows cars only from ``from`` to ``to``."""

    from_: Ident = Field(alias='from')
    to: Ident
    name: str = ''
    one_way: bool = False
    speed_mps: Positive | None = Field(None, le=40.0, description='speed limit')


class Streets(_Model):
    """The street graph used for patrol routing and for placing things on the map."""

    nodes: list[StreetNode] = []
    edges: list[StreetEdge] = []


class Building(_Model):
    """A building footprint, extruded to a flat roof."""

    id: Ident
    name: str = ''
    height_m: Annotated[float, Field(gt=0.0, le=500.0)]
    polygon: Ring


class SiteConfig(_Model):
    """A whole site file."""

    format_version: Literal[1] = 1
    name: str = Field(min_length=1)
    description: str = ''
    origin: Origin
    ground_alt_m: float | None = Field(None, description='default ground altitude, metres')
    extent_m: float = Field(5000.0, gt=0.0, le=50000.0,
                            description='max distance of anything from the origin, metres')
    air_temperature_c: float = Field(15.0, ge=-50.0, le=60.0)
    sensors: list[Sensor] = Field(min_length=1)
    cameras: list[Camera] = []
    drone_docks: list[DroneDock] = []
    patrol_bases: list[PatrolBase] = []
    patrols: list[Patrol] = []
    no_fly_zones: list[NoFlyZone] = []
    streets: Streets = Streets()
    buildings: list[Building] = []
