"""A validated site in the `map` frame: what the simulator, the fusion, cameras and dispatch use.

Everything is converted once from WGS84 to ENU metres (see geo.py for the frame) and handed out
as numpy arrays, shapely polygons and networkx graphs. Build it with ``load_site``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.strtree import STRtree

from .geo import LocalFrame, compass_yaw
from .schema import Camera, Drone, DroneDock, NoFlyZone, Patrol, PrivacyMask, Sensor, \
    SiteConfig
from .streets import build_street_graph


@dataclass(frozen=True)
class MaskView:
    """A privacy mask: a ground polygon (map frame) extruded over ``height_range_m``, or a
    pan/tilt sector in the camera's own angles (see ``CameraView``)."""

    id: str
    polygon: Polygon | None
    height_range_m: tuple[float, float]
    pan_deg: tuple[float, float] | None
    tilt_deg: tuple[float, float] | None
    config: PrivacyMask


@dataclass(frozen=True)
class CameraView:
    """A camera in the map frame.

    ``yaw_rad`` is the REP 103 yaw (counter-clockwise from east) of pan = 0. The site file's
    pan angles turn clockwise seen from above, so a pan of p degrees looks along the ENU yaw
    ``yaw_rad - radians(p)``; tilt is elevation (negative = down).
    """

    id: str
    position: np.ndarray
    yaw_rad: float
    masks: tuple[MaskView, ...]
    config: Camera

    def look_yaw_rad(self, pan_deg: float) -> float:
        """ENU yaw (rad, counter-clockwise from east) the camera looks along at this pan."""
        return self.yaw_rad - math.radians(pan_deg)


@dataclass(frozen=True)
class DockView:
    """A drone dock in the map frame with its drones."""

    id: str
    position: np.ndarray
    drones: tuple[Drone, ...]
    config: DroneDock


@dataclass(frozen=True)
class PatrolView:
    """A patrol's starting point in the map frame (z = ground), speed in m/s."""

    id: str
    kind: str
    position: np.ndarray
    speed_mps: float
    base: str | None
    config: Patrol


@dataclass(frozen=True)
class ZoneView:
    """A no-fly zone: ground polygon in the map frame, forbidden between two heights (m)."""

    id: str
    polygon: Polygon
    height_range_m: tuple[float, float]
    config: NoFlyZone


@dataclass(frozen=True)
class Geometry:
    """ENU geometry computed once by the loader (which also validates it)."""

    ground_z: float
    sensor_xyz: np.ndarray
    camera_xyz: np.ndarray
    dock_xyz: np.ndarray
    base_xyz: dict[str, np.ndarray]
    patrol_xyz: np.ndarray
    node_xy: np.ndarray
    node_lat: np.ndarray
    node_lon: np.ndarray
    buildings: list[Polygon]
    zones: list[Polygon]
    masks: list[list[Polygon | None]]


class Site:
    """A loaded, validated site. Positions are map-frame metres (ENU around the origin)."""

    def __init__(self, config: SiteConfig, path: Path, text: str, sha256: str,
                 frame: LocalFrame, geo: Geometry):
        self.config = config
        self.path = path
        self.yaml_text = text
        self.sha256 = sha256
        self.frame = frame
        self._geo = geo
        self._sensor_index = {s.id: i for i, s in enumerate(config.sensors)}
        self._camera_index = {c.id: i for i, c in enumerate(config.cameras)}
        self._heights = np.array([b.height_m for b in config.buildings], float)
        self._tree = STRtree(geo.buildings)
        self._graphs: dict[bool, nx.Graph] = {}

    # -- frame -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The site name from the file (logs, dashboard, reports)."""
        return self.config.name

    @property
    def ground_z(self) -> float:
        """Default ground level in the map frame (0 unless ``ground_alt_m`` differs)."""
        return self._geo.ground_z

    def to_enu(self, lat, lon, alt=None) -> np.ndarray:
        """WGS84 -> map frame, shape (..., 3); ``alt=None`` puts the point on the ground."""
        if alt is None:
            alt = self.config.origin.alt + self._geo.ground_z
        return self.frame.to_enu(lat, lon, alt)

    def to_wgs84(self, x, y, z=0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Map frame -> (lat deg, lon deg, alt m), vectorised."""
        return self.frame.to_wgs84(x, y, z)

    # -- sensors ---------------------------------------------------------------------------

    def sensor_ids(self) -> list[str]:
        """Sensor ids in file order (the row order of ``sensor_positions``)."""
        return [s.id for s in self.config.sensors]

    def sensor(self, sensor_id: str) -> Sensor:
        """The validated sensor entry (calibration, array, background); KeyError if unknown."""
        try:
            return self.config.sensors[self._sensor_index[sensor_id]]
        except KeyError:
            raise KeyError(f'site {self.name!r} has no sensor {sensor_id!r}') from None

    def sensor_positions(self) -> np.ndarray:
        """(N, 3) microphone positions, map frame; z = height above the origin's altitude."""
        return self._geo.sensor_xyz.copy()

    def sensor_position(self, sensor_id: str) -> np.ndarray:
        """(3,) map-frame position of one sensor; KeyError if unknown."""
        self.sensor(sensor_id)
        return self._geo.sensor_xyz[self._sensor_index[sensor_id]].copy()

    def mic_positions(self, sensor_id: str) -> np.ndarray:
        """(M, 3) capsule positions in the map frame (one row for a single microphone).

        The array frame is x along ``array.heading_deg``, y to its left, z up (REP 103).
        """
        s = self.sensor(sensor_id)
        centre = self.sensor_position(sensor_id)
        if s.array is None:
            return centre[None, :]
        yaw = math.radians(float(compass_yaw(s.array.heading_deg)))
        c, si = math.cos(yaw), math.sin(yaw)
        rot = np.array([[c, -si, 0.0], [si, c, 0.0], [0.0, 0.0, 1.0]])
        return centre + np.asarray(s.array.mics, float) @ rot.T

    # -- cameras, drones, patrols, zones ---------------------------------------------------

    def camera_ids(self) -> list[str]:
        """Camera ids in file order (the row order of ``camera_positions``)."""
        return [c.id for c in self.config.cameras]

    def camera(self, camera_id: str) -> CameraView:
        """One camera in the map frame; KeyError if unknown."""
        try:
            i = self._camera_index[camera_id]
        except KeyError:
            raise KeyError(f'site {self.name!r} has no camera {camera_id!r}') from None
        return self.cameras()[i]

    def camera_positions(self) -> np.ndarray:
        """(C, 3) camera positions, map frame, in file order."""
        return self._geo.camera_xyz.copy()

    def cameras(self) -> list[CameraView]:
        """All cameras in the map frame, with their privacy masks, in file order."""
        out = []
        for i, c in enumerate(self.config.cameras):
            masks = tuple(MaskView(m.id, self._geo.masks[i][j], m.height_range_m, m.pan_deg,
                                   m.tilt_deg, m)
                          for j, m in enumerate(c.privacy_masks))
            yaw = math.radians(float(compass_yaw(c.heading_deg)))
            out.append(CameraView(c.id, self._geo.camera_xyz[i].copy(), yaw, masks, c))
        return out

    def drone_docks(self) -> list[DockView]:
        """Docks in the map frame (z = pad height) with their drones, in file order."""
        return [DockView(d.id, self._geo.dock_xyz[i].copy(), tuple(d.drones), d)
                for i, d in enumerate(self.config.drone_docks)]

    def patrol_bases(self) -> dict[str, np.ndarray]:
        """Base id -> ground position in the map frame."""
        return {k: v.copy() for k, v in self._geo.base_xyz.items()}

    def patrols(self) -> list[PatrolView]:
        """Patrols with their start positions (ground level) and speeds, in file order."""
        return [PatrolView(p.id, p.kind, self._geo.patrol_xyz[i].copy(), p.speed, p.base, p)
                for i, p in enumerate(self.config.patrols)]

    def no_fly_zones(self) -> list[ZoneView]:
        """No-fly zones as map-frame polygons with their closed height range."""
        return [ZoneView(z.id, self._geo.zones[i], z.height_range_m, z)
                for i, z in enumerate(self.config.no_fly_zones)]

    # -- buildings -------------------------------------------------------------------------

    def building_polygons(self) -> list[tuple[Polygon, float]]:
        """Footprints in the map frame with their heights above ground (m), in file order."""
        return list(zip(self._geo.buildings, self._heights.tolist()))

    def building_at(self, x: float, y: float) -> str | None:
        """Id of the building whose footprint holds (x, y) (boundary included), or None."""
        hits = self._tree.query(shapely.Point(x, y), predicate='intersects')
        return self.config.buildings[int(hits.min())].id if len(hits) else None

    def line_of_sight(self, a, b) -> bool:
        """Whether the straight segment a -> b (map frame, 3-D) clears every building roof.

        Buildings are flat-roofed prisms from ground level; touching a wall counts as blocked.
        """
        a = np.asarray(a, float)
        b = np.asarray(b, float)
        seg2d = LineString([a[:2], b[:2]]) if np.any(a[:2] != b[:2]) else None
        if seg2d is None:
            hit = self.building_at(a[0], a[1])
            if hit is None:
                return True
            i = [bb.id for bb in self.config.buildings].index(hit)
            return min(a[2], b[2]) >= self._geo.ground_z + self._heights[i]
        length = seg2d.length
        for i in self._tree.query(seg2d, predicate='intersects'):
            inside = seg2d.intersection(self._geo.buildings[int(i)])
            roof = self._geo.ground_z + self._heights[int(i)]
            for part in getattr(inside, 'geoms', [inside]):
                for px, py in part.coords:
                    t = math.hypot(px - a[0], py - a[1]) / length
                    if a[2] + t * (b[2] - a[2]) < roof:
                        return False
        return True

    # -- streets ---------------------------------------------------------------------------

    def street_graph(self, directed: bool = False) -> nx.Graph:
        """A copy of the street graph in the map frame, edge attribute ``length`` in metres.

        ``directed=False``: nx.Graph, every street both ways (walking, connectivity);
        ``directed=True``: nx.DiGraph honouring one-way streets (driving).
        Node attributes: x, y (m), lat, lon (deg); edge: length, name, speed_mps, one_way.
        """
        if directed not in self._graphs:
            geo = self._geo
            self._graphs[directed] = build_street_graph(
                [n.id for n in self.config.streets.nodes], geo.node_xy, geo.node_lat,
                geo.node_lon, self.config.streets.edges, directed)
        return self._graphs[directed].copy()

    def nearest_street_node(self, x: float, y: float) -> tuple[str, float]:
        """(node id, horizontal distance in m) of the street node closest to (x, y)."""
        xy = self._geo.node_xy
        if len(xy) == 0:
            raise ValueError(f'site {self.name!r} has no street graph')
        d = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
        i = int(np.argmin(d))
        return self.config.streets.nodes[i].id, float(d[i])

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in metres of every sensor, camera, node and building."""
        pts = [self._geo.sensor_xyz[:, :2], self._geo.camera_xyz[:, :2].reshape(-1, 2),
               self._geo.node_xy.reshape(-1, 2)]
        pts += [np.asarray(p.exterior.coords) for p in self._geo.buildings]
        allp = np.concatenate(pts)
        return (float(allp[:, 0].min()), float(allp[:, 1].min()),
                float(allp[:, 0].max()), float(allp[:, 1].max()))
