"""Load a site file: YAML -> pydantic -> cross-checks -> ``Site`` in the map frame.

Every problem is a ``ConfigError`` reading ``file:line: field: message``; all the problems of
one kind of check are listed in a single error so an integrator fixes a file in few runs.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from shapely.geometry import Point, Polygon
from shapely.strtree import STRtree
from shapely.validation import explain_validity

from ..configio import ConfigError, Located, field_name, load_yaml, validate
from .geo import LocalFrame
from .schema import SiteConfig
from .site import Geometry, Site
from .streets import build_street_graph, unreachable_nodes

Loc = tuple[Any, ...]


class _Problems:
    """Collects located problems; ``raise_if_any`` reports the first with the others listed."""

    def __init__(self, path: Path, located: Located):
        self.path, self.located = path, located
        self.items: list[tuple[Loc, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        self.items.append((loc, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        loc, msg = self.items[0]
        if len(self.items) > 1:
            others = '; '.join(f'{field_name(lo)} (line {self.located.line(lo)}): {m}'
                               for lo, m in self.items[1:6])
            msg += f' (and {len(self.items) - 1} more: {others})'
        raise ConfigError(self.path, self.located.line(loc), field_name(loc), msg)


_CACHE: dict[tuple[str, str], Site] = {}


def load_site(path: str | Path) -> Site:
    """Load and validate a site file; raise ``ConfigError`` (file, line, field) on any problem.

    Every component of a graph loads the same site: a file already loaded with the same bytes
    returns the same (read-only) ``Site`` instead of parsing a few hundred buildings again.
    """
    path = Path(path)
    try:
        key = (str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest())
    except OSError:
        key = None             # load_yaml reports it with the file name
    if key in _CACHE:
        return _CACHE[key]
    site = _load(path)
    if key is not None and site.sha256 == key[1]:
        _CACHE[key] = site
    return site


def _load(path: Path) -> Site:
    data, located = load_yaml(path)
    if data is None:
        raise ConfigError(path, None, '', 'file is empty')
    if not isinstance(data, dict):
        raise ConfigError(path, 1, '', 'a site file is a mapping (name:, origin:, sensors: ...)')
    cfg = validate(SiteConfig, data, path, located)
    raw = path.read_bytes()
    problems = _Problems(path, located)
    _check_unique_ids(cfg, problems)
    problems.raise_if_any()
    frame = LocalFrame(cfg.origin.lat, cfg.origin.lon, cfg.origin.alt)
    geo = _geometry(cfg, frame, problems)
    problems.raise_if_any()
    _check_extent(cfg, geo, frame, problems)
    _check_streets(cfg, geo, problems)
    problems.raise_if_any()
    _check_not_in_buildings(cfg, geo, problems)
    problems.raise_if_any()
    return Site(cfg, path, raw.decode('utf-8'), hashlib.sha256(raw).hexdigest(), frame, geo)


def _check_unique_ids(cfg: SiteConfig, problems: _Problems) -> None:
    def unique(items: Iterable[tuple[Loc, str]], what: str) -> None:
        seen: dict[str, Loc] = {}
        for loc, ident in items:
            if ident in seen:
                problems.add(loc, f'duplicate {what} id {ident!r} (first at line '
                                  f'{problems.located.line(seen[ident])})')
            else:
                seen[ident] = loc

    for section in ('sensors', 'cameras', 'drone_docks', 'patrol_bases', 'patrols',
                    'no_fly_zones', 'buildings'):
        unique(((((section, i, 'id')), x.id) for i, x in enumerate(getattr(cfg, section))),
               section.rstrip('s').replace('_', ' '))
    unique(((('streets', 'nodes', i, 'id'), n.id) for i, n in enumerate(cfg.streets.nodes)),
           'street node')
    unique(((('drone_docks', i, 'drones', j, 'id'), d.id)
            for i, dock in enumerate(cfg.drone_docks) for j, d in enumerate(dock.drones)),
           'drone')
    for i, cam in enumerate(cfg.cameras):
        unique(((('cameras', i, 'privacy_masks', j, 'id'), m.id)
                for j, m in enumerate(cam.privacy_masks)), 'privacy mask')


def _points(frame: LocalFrame, items: list, ground_alt: float) -> np.ndarray:
    if not items:
        return np.zeros((0, 3))
    lat = np.array([x.lat for x in items])
    lon = np.array([x.lon for x in items])
    alt = np.array([(x.ground_alt_m if getattr(x, 'ground_alt_m', None) is not None
                     else ground_alt) + getattr(x, 'height_m', 0.0) for x in items])
    return frame.to_enu(lat, lon, alt)


def _polygon(frame: LocalFrame, ring: list[tuple[float, float]], loc: Loc,
             problems: _Problems) -> Polygon:
    lat, lon = np.array(ring, float).T
    xyz = frame.to_enu(lat, lon)
    poly = Polygon(xyz[:, :2])
    if not poly.is_valid:
        problems.add(loc, f'invalid polygon: {explain_validity(poly)}')
    elif poly.area < 1.0:
        problems.add(loc, f'polygon area {poly.area:.2f} m2 is too small (under 1 m2)')
    return poly


def _geometry(cfg: SiteConfig, frame: LocalFrame, problems: _Problems) -> Geometry:
    ground_alt = cfg.ground_alt_m if cfg.ground_alt_m is not None else cfg.origin.alt
    bases = {b.id: frame.to_enu(b.lat, b.lon, ground_alt) for b in cfg.patrol_bases}
    patrol_xyz = np.zeros((len(cfg.patrols), 3))
    for i, p in enumerate(cfg.patrols):
        if p.lat is not None:
            patrol_xyz[i] = frame.to_enu(p.lat, p.lon, ground_alt)
        elif p.base in bases:
            patrol_xyz[i] = bases[p.base]
        else:
            problems.add(('patrols', i, 'base'), f'unknown patrol base {p.base!r}; known: '
                                                 f'{", ".join(sorted(bases)) or "none"}')
    nodes = cfg.streets.nodes
    node_lat = np.array([n.lat for n in nodes], float)
    node_lon = np.array([n.lon for n in nodes], float)
    node_xy = frame.to_enu(node_lat, node_lon)[:, :2] if nodes else np.zeros((0, 2))
    masks = [[_polygon(frame, m.polygon, ('cameras', i, 'privacy_masks', j, 'polygon'),
                       problems) if m.polygon is not None else None
              for j, m in enumerate(c.privacy_masks)] for i, c in enumerate(cfg.cameras)]
    return Geometry(
        ground_z=ground_alt - cfg.origin.alt,
        sensor_xyz=_points(frame, cfg.sensors, ground_alt),
        camera_xyz=_points(frame, cfg.cameras, ground_alt),
        dock_xyz=_points(frame, cfg.drone_docks, ground_alt),
        base_xyz=bases, patrol_xyz=patrol_xyz,
        node_xy=node_xy, node_lat=node_lat, node_lon=node_lon,
        buildings=[_polygon(frame, b.polygon, ('buildings', i, 'polygon'), problems)
                   for i, b in enumerate(cfg.buildings)],
        zones=[_polygon(frame, z.polygon, ('no_fly_zones', i, 'polygon'), problems)
               for i, z in enumerate(cfg.no_fly_zones)],
        masks=masks)


def _check_extent(cfg: SiteConfig, geo: Geometry, frame: LocalFrame,
                  problems: _Problems) -> None:
    limit = cfg.extent_m

    def check(loc: Loc, xy: np.ndarray) -> None:
        d = float(np.hypot(xy[..., 0], xy[..., 1]).max()) if xy.size else 0.0
        if d > limit:
            problems.add(loc, f'{d:.0f} m from the site origin, beyond extent_m = {limit:.0f} m '
                              '(wrong sign or swapped lat/lon?)')

    for section, xyz in (('sensors', geo.sensor_xyz), ('cameras', geo.camera_xyz),
                         ('drone_docks', geo.dock_xyz)):
        for i in range(len(xyz)):
            check((section, i, 'lat'), xyz[i])
    for i, b in enumerate(cfg.patrol_bases):
        check(('patrol_bases', i, 'lat'), geo.base_xyz[b.id])
    for i, p in enumerate(cfg.patrols):
        if p.lat is not None:
            check(('patrols', i, 'lat'), geo.patrol_xyz[i])
    for i in range(len(geo.node_xy)):
        check(('streets', 'nodes', i, 'lat'), geo.node_xy[i])
    for i, poly in enumerate(geo.buildings):
        check(('buildings', i, 'polygon'), np.asarray(poly.exterior.coords))
    for i, poly in enumerate(geo.zones):
        check(('no_fly_zones', i, 'polygon'), np.asarray(poly.exterior.coords))
    for i, cam_masks in enumerate(geo.masks):
        for j, poly in enumerate(cam_masks):
            if poly is not None:
                check(('cameras', i, 'privacy_masks', j, 'polygon'),
                      np.asarray(poly.exterior.coords))


def _check_streets(cfg: SiteConfig, geo: Geometry, problems: _Problems) -> None:
    ids = {n.id for n in cfg.streets.nodes}
    pairs: dict[frozenset[str], int] = {}
    ok = True
    for i, e in enumerate(cfg.streets.edges):
        for key, ref in (('from', e.from_), ('to', e.to)):
            if ref not in ids:
                problems.add(('streets', 'edges', i, key), f'unknown street node {ref!r}')
                ok = False
        if e.from_ == e.to:
            problems.add(('streets', 'edges', i, 'to'), f'edge from {e.from_!r} to itself')
            ok = False
        pair = frozenset((e.from_, e.to))
        if pair in pairs:
            first = problems.located.line(('streets', 'edges', pairs[pair]))
            problems.add(('streets', 'edges', i), f'second edge between {e.from_!r} and '
                                                  f'{e.to!r} (first at line {first})')
            ok = False
        pairs[pair] = i
    if not ok or not cfg.streets.nodes:
        return
    g = build_street_graph([n.id for n in cfg.streets.nodes], geo.node_xy, geo.node_lat,
                           geo.node_lon, cfg.streets.edges, directed=False)
    lost = unreachable_nodes(g)
    if lost:
        index = {n.id: i for i, n in enumerate(cfg.streets.nodes)}
        problems.add(('streets', 'nodes', index[lost[0]], 'id'),
                     f'street graph is not connected: {len(lost)} node(s) cannot be reached '
                     f'from the rest ({", ".join(lost[:8])})')


def _check_not_in_buildings(cfg: SiteConfig, geo: Geometry, problems: _Problems) -> None:
    """A thing inside a footprint must be on the roof (a dock, a roof camera), never below it."""
    if not geo.buildings:
        return
    tree = STRtree(geo.buildings)
    for section, xyz in (('sensors', geo.sensor_xyz), ('cameras', geo.camera_xyz),
                         ('drone_docks', geo.dock_xyz)):
        items = getattr(cfg, section)
        for i in range(len(xyz)):
            for k in tree.query(Point(xyz[i, :2]), predicate='intersects'):
                b = cfg.buildings[int(k)]
                roof = geo.ground_z + b.height_m
                if xyz[i, 2] < roof:
                    line = problems.located.line(('buildings', int(k)))
                    problems.add((section, i), f'{items[i].id!r} is inside building {b.id!r} '
                                               f'(line {line}) below its {b.height_m:g} m roof')
                    break
