#!/usr/bin/env python3
"""Generate config/sites/saint_etienne_tarentaize.yaml, the shipped reference district.

The committed YAML is the artefact; this script only makes it reproducible. It is deterministic
(seeded ``random.Random``, fixed GEOS operations, coordinates rounded to 1e-7 degree): running it
twice gives the same bytes. Run from the repository root:

    PYTHONPATH=src python3 tools/make_district.py [--check]

``--check`` compares with the committed file instead of writing it.
"""
from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

import networkx as nx
import numpy as np
from shapely.geometry import LineString, Point, Polygon, box
from shapely.ops import unary_union

from soft.site.geo import LocalFrame

OUT = Path('config/sites/saint_etienne_tarentaize.yaml')
ORIGIN = (45.4410, 4.3850, 520.0)
FRAME = LocalFrame(*ORIGIN)
SEED = 4207                        # 42 (Loire) + 07: any fixed seed
RNG = random.Random(SEED)
NCOL = NROW = 9
SPACING = 120.0
ROTATION = math.radians(6.0)       # the old town grid is not quite north-aligned
HALF = 545.0                       # the district square, metres from the origin
ROWS = ['Rue Paul Bert', 'Rue Beaubrun', 'Rue Badouillère', 'Rue de la Tarentaize',
        'Rue des Martyrs de Vingré', 'Rue Désiré Claude', 'Rue Élise Gervais',
        'Boulevard Antonio Vivaldi', 'Rue de la Mulatière']
COLS = ['Rue du Puits Couriot', 'Rue Camille de Rochetaillée', 'Rue Roger Salengro',
        'Rue Michelet', 'Rue Neyron', 'Rue Saint-Jean', 'Rue Gambetta', 'Rue Polignais',
        'Rue Balay']
BUSY = {('row', 7), ('col', 3)}
ONE_WAY = {('col', 1): 1, ('col', 5): -1, ('col', 7): 1, ('row', 2): -1, ('row', 5): 1}
# Special cells (col, row) of the grid, each the block between four streets.
PARK = {(0, 3), (1, 3), (0, 4), (1, 4)}
SQUARES = {(4, 4): 'Place de la Tarentaize', (6, 1): 'Place Beaubrun'}
SCHOOL = (3, 6)
CLINIC = (6, 6)
POLICE = (2, 1)


def rot(x: float, y: float) -> tuple[float, float]:
    c, s = math.cos(ROTATION), math.sin(ROTATION)
    return c * x - s * y, s * x + c * y


def r1(v: float) -> float:
    return round(v * 2) / 2


def make_grid() -> tuple[dict, list]:
    xs = [-480 + SPACING * i + RNG.uniform(-12, 12) for i in range(NCOL)]
    ys = [-480 + SPACING * j + RNG.uniform(-12, 12) for j in range(NROW)]
    nodes = {}
    for j in range(NROW):
        for i in range(NCOL):
            if (i, j) == (1, 4):           # inside the park: no crossroads
                continue
            nodes[(i, j)] = rot(xs[i] + RNG.uniform(-5, 5), ys[j] + RNG.uniform(-5, 5))
    park_inner = {((0, 4), (1, 4)), ((1, 4), (2, 4)), ((1, 3), (1, 4)), ((1, 4), (1, 5))}
    edges = []
    for j in range(NROW):
        for i in range(NCOL - 1):
            edges.append(((i, j), (i + 1, j), ('row', j)))
    for i in range(NCOL):
        for j in range(NROW - 1):
            edges.append(((i, j), (i, j + 1), ('col', i)))
    edges = [e for e in edges if (e[0], e[1]) not in park_inner]
    return nodes, edges


def drop_some_edges(nodes: dict, edges: list) -> list:
    """Remove a few minor segments (merged blocks, pedestrian passages) keeping connectivity."""
    keep_cells = PARK | set(SQUARES) | {SCHOOL, CLINIC, POLICE}

    def touches_special(e) -> bool:
        (i0, j0), (i1, j1) = e[0], e[1]
        cells = {(min(i0, i1) - (i0 == i1), min(j0, j1) - (j0 == j1)), (min(i0, i1), min(j0, j1))}
        return bool(cells & keep_cells)

    candidates = [e for e in edges if e[2] not in BUSY and e[2] not in ONE_WAY
                  and not touches_special(e) and 0 < e[0][0] < NCOL - 1
                  and 0 < e[0][1] < NROW - 1]
    RNG.shuffle(candidates)
    removed = 0
    out = list(edges)
    for e in candidates:
        trial = [x for x in out if x is not e]
        g = nx.Graph([(a, b) for a, b, _ in trial])
        if nx.is_connected(g) and len(g) == len(nodes) and min(d for _, d in g.degree) >= 2:
            out = trial
            removed += 1
        if removed == 5:
            break
    return out


def cell_centre(nodes: dict, cell: tuple[int, int]) -> Point:
    i, j = cell
    pts = [nodes[c] for c in ((i, j), (i + 1, j), (i, j + 1), (i + 1, j + 1)) if c in nodes]
    return Point(np.mean(pts, axis=0))


def blocks(nodes: dict, edges: list) -> list[Polygon]:
    lines = []
    for a, b, street in edges:
        width = 10.0 if street in BUSY else 7.5
        lines.append(LineString([nodes[a], nodes[b]]).buffer(width, cap_style='round'))
    free = box(-HALF, -HALF, HALF, HALF).difference(unary_union(lines))
    return sorted((p for p in getattr(free, 'geoms', [free]) if p.area > 50),
                  key=lambda p: (round(p.centroid.y, -1), p.centroid.x))


def parcels(block: Polygon, depth: float, step: float) -> list[Polygon]:
    """Cut a block into buildings around a courtyard, like the 19th-century blocks there."""
    inner = block.buffer(-depth, join_style='mitre')
    ring = block.difference(inner) if inner.area > 250 else block
    c, s = math.cos(ROTATION), math.sin(ROTATION)
    minx, miny, maxx, maxy = block.bounds
    out = []
    span = max(maxx - minx, maxy - miny) + 2 * step
    cx, cy = block.centroid.x, block.centroid.y
    n = int(span / step) + 1
    for a in range(-n, n):
        for b in range(-n, n):
            corners = [(a * step, b * step), ((a + 1) * step, b * step),
                       ((a + 1) * step, (b + 1) * step), (a * step, (b + 1) * step)]
            cell = Polygon([(cx + c * u - s * v, cy + s * u + c * v) for u, v in corners])
            if not cell.intersects(ring):
                continue
            piece = ring.intersection(cell)
            for p in getattr(piece, 'geoms', [piece]):
                if isinstance(p, Polygon) and p.area > 60:
                    out.append(Polygon(p.exterior).simplify(0.3))
    return out


def latlon_ring(poly: Polygon) -> list[tuple[float, float]]:
    xy = np.asarray(poly.exterior.coords)[:-1]
    lat, lon, _ = FRAME.to_wgs84(xy[:, 0], xy[:, 1])
    return [(round(float(a), 7), round(float(o), 7)) for a, o in zip(lat, lon)]


def roundtrip(poly: Polygon) -> Polygon:
    ring = latlon_ring(poly)
    xyz = FRAME.to_enu([p[0] for p in ring], [p[1] for p in ring])
    return Polygon(xyz[:, :2])


def ll(x: float, y: float) -> tuple[float, float]:
    lat, lon, _ = FRAME.to_wgs84(x, y)
    return round(float(lat), 7), round(float(lon), 7)


def farthest_points(points: list[tuple[float, float]], k: int, start: int) -> list[int]:
    pts = np.asarray(points)
    chosen = [start]
    d = np.hypot(*(pts - pts[start]).T)
    while len(chosen) < k:
        i = int(np.argmax(d))
        chosen.append(i)
        d = np.minimum(d, np.hypot(*(pts - pts[i]).T))
    return chosen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='compare with the committed file')
    args = ap.parse_args()
    text = build()
    if args.check:
        same = OUT.read_text(encoding='utf-8') == text
        print('up to date' if same else f'{OUT} differs from the generator output')
        return 0 if same else 1
    OUT.write_text(text, encoding='utf-8')
    print(f'wrote {OUT} ({len(text)} bytes)')
    return 0


def build() -> str:  # noqa: C901 - one straight recipe, easier to read in one piece
    """Return the YAML text; the same bytes on every call."""
    RNG.seed(SEED)
    nodes, edges = make_grid()
    edges = drop_some_edges(nodes, edges)
    node_ids = {key: f'n{k + 1:03d}' for k, key in enumerate(sorted(nodes, key=lambda c: (
        -c[1], c[0])))}
    street_name = {('row', j): n for j, n in enumerate(ROWS)}
    street_name.update({('col', i): n for i, n in enumerate(COLS)})
    centres = {c: cell_centre(nodes, c) for c in
               PARK | set(SQUARES) | {SCHOOL, CLINIC, POLICE}}
    all_blocks = blocks(nodes, edges)

    def block_of(cell) -> Polygon:
        return next(b for b in all_blocks if b.contains(centres[cell]))

    park = unary_union([block_of(c) for c in PARK])
    squares = {name: block_of(c) for c, name in SQUARES.items()}
    school = block_of(SCHOOL)
    clinic = block_of(CLINIC)
    police = block_of(POLICE)
    special = [park, school, clinic, police] + list(squares.values())

    buildings: list[tuple[str, Polygon, float]] = []

    def add(name: str, poly: Polygon, height: float) -> None:
        poly = roundtrip(poly)
        if poly.is_valid and poly.area > 50:
            buildings.append((name, poly, height))

    for b in all_blocks:
        if any(b.equals(s) or b.within(s.buffer(0.01)) for s in special):
            continue
        step = RNG.choice([45.0, 55.0, 65.0])
        for p in parcels(b, RNG.uniform(11.0, 15.0), step):
            add('', p, r1(RNG.triangular(8.0, 25.0, 15.0)))
    # The Couriot headframe and the pithead building, in the park's west part.
    pc = park.centroid
    add('Musée de la Mine - bâtiment des Machines (stylised)',
        box(pc.x - 70, pc.y - 15, pc.x - 30, pc.y + 15), 14.0)
    add('Chevalement du Puits Couriot (stylised)',
        box(pc.x - 22, pc.y - 6, pc.x - 10, pc.y + 6), 25.0)
    # The school building takes the north part of its block, the yard the south part.
    sc = school.centroid
    north = Polygon([rot(u, v) for u, v in [(-300, 0), (300, 0), (300, 300), (-300, 300)]])
    north = Polygon([(x + sc.x, y + sc.y) for x, y in north.exterior.coords])
    school_main = school.buffer(-3, join_style='mitre').intersection(north)
    add('École élémentaire Tarentaize (invented)', school_main, 11.0)
    school_yard = school.buffer(-3, join_style='mitre').difference(school_main.buffer(0.5))
    add('Centre de santé Beaubrun (invented)', clinic.buffer(-4, join_style='mitre'), 16.0)
    add('Commissariat de secteur (invented)', police.buffer(-3, join_style='mitre'), 12.0)

    # -- sensors -----------------------------------------------------------------------------
    bl_union = unary_union([p for _, p, _ in buildings])

    def free_spot(x: float, y: float, dist: float) -> tuple[float, float]:
        for k in range(8):
            ang = ROTATION + math.pi / 4 + k * math.pi / 2 + (k // 4) * math.pi / 4
            px, py = x + dist * math.cos(ang), y + dist * math.sin(ang)
            if bl_union.distance(Point(px, py)) > 2.0:
                return px, py
        raise RuntimeError(f'no free spot near {x:.0f}, {y:.0f}')

    keys = sorted(nodes, key=lambda c: (-c[1], c[0]))
    pts = [nodes[k] for k in keys]
    start = int(np.argmin([math.hypot(*p) for p in pts]))
    cross = [keys[i] for i in farthest_points(pts, 44, start)]
    sensor_sites: list[tuple[float, float, str, str]] = []
    for key in cross:
        x, y = free_spot(*nodes[key], 5.0)
        sensor_sites.append((x, y, f'crossroads {node_ids[key]}', 'crossroads'))
    for frac in (0.3, 0.7):
        pb = park.bounds
        px = pb[0] + frac * (pb[2] - pb[0])
        py = pc.y + (25 if frac < 0.5 else -25)
        sensor_sites.append((px, py, 'Parc Couriot', 'park'))
    for name, sq in squares.items():
        sensor_sites.append((sq.centroid.x + 6, sq.centroid.y, name, 'square'))
    busy_edges = [e for e in edges if e[2] in BUSY]
    for a, b, street in (busy_edges[2], busy_edges[-3]):
        (x0, y0), (x1, y1) = nodes[a], nodes[b]
        nx_, ny_ = (y0 - y1), (x1 - x0)
        n = math.hypot(nx_, ny_)
        sensor_sites.append(((x0 + x1) / 2 + 5 * nx_ / n, (y0 + y1) / 2 + 5 * ny_ / n,
                             f'mid-block, {street_name[street]}', 'midblock'))
    sensor_sites.sort(key=lambda s: (-round(s[1] / 60), s[0]))

    street_lines = [(LineString([nodes[a], nodes[b]]), street) for a, b, street in edges]

    def background(x: float, y: float, kind: str) -> str:
        if kind in ('park', 'square'):
            return kind
        d, street = min((ln.distance(Point(x, y)), st) for ln, st in street_lines)
        return 'busy_street' if street in BUSY and d < 15 else 'quiet_street'

    lines = []
    w = lines.append
    w('# S.O.F.T. reference site: the Tarentaize - Beaubrun - Couriot district, Saint-Étienne.')
    w('#')
    w('# GENERATED by tools/make_district.py (deterministic); edit the generator, not this file.')
    w('# This is a STYLISED, partly INVENTED model for simulation and tests, not survey data:')
    w('# - the street grid, block shapes and building heights are invented (an irregular grid')
    w('#   rotated 6 degrees, ~120 m blocks) and do not match the real streets;')
    w('# - street names are borrowed from Saint-Étienne (some of them exist elsewhere in the')
    w('#   city) or invented, and are placed arbitrarily;')
    w('# - the Couriot mine museum park is moved inside the 1 km square (the real Puits Couriot')
    w('#   lies about 900 m west of the origin); the school, the health centre and the police')
    w('#   station are invented.')
    w('# Units: degrees (WGS84), metres, seconds, m/s, dB. Reference: config/sites/README.md.')
    w('format_version: 1')
    w('name: saint_etienne_tarentaize')
    w('description: "Tarentaize - Beaubrun - Couriot, Saint-Étienne (stylised), about 1 km x '
      '1 km, ~7,000 inhabitants"')
    w(f'origin: {{lat: {ORIGIN[0]}, lon: {ORIGIN[1]}, alt: {ORIGIN[2]}}}')
    w('extent_m: 2000.0')
    w('air_temperature_c: 14.0')
    w('')
    w('# 50 acoustic sensors on lamp posts, mostly at crossroads. MEMS capsules (-38 dBFS at')
    w('# 94 dB SPL, +-1 dB unit calibration, 65 dB SNR -> 29 dB(A) self-noise), GPS/PTP time.')
    w('sensors:')
    quad = [(0.0225, 0.0225, 0.0), (-0.0225, 0.0225, 0.0), (-0.0225, -0.0225, 0.0),
            (0.0225, -0.0225, 0.0)]
    sensor_xy = []
    for k, (x, y, where, kind) in enumerate(sensor_sites):
        lat, lon = ll(x, y)
        sid = f's{k + 1:02d}'
        sensor_xy.append((sid, x, y))
        w(f'  - id: {sid}')
        w(f'    name: "{where}"')
        w(f'    lat: {lat}')
        w(f'    lon: {lon}')
        w(f'    height_m: {round(RNG.uniform(4.0, 6.0), 1)}')
        w(f'    sensitivity_dbfs: {round(-38.0 + RNG.uniform(-1.0, 1.0), 1)}')
        w('    self_noise_dba: 29.0')
        w('    clock_tolerance_s: 1.0e-4')
        w(f'    background: {background(x, y, kind)}')
        if k % 6 == 2:
            w(f'    array: {{heading_deg: {round(math.degrees(-ROTATION) % 360, 1)}, '
              f'mics: {[list(m) for m in quad]}}}')
    # -- cameras ----------------------------------------------------------------------------
    w('')
    w('# PTZ cameras on poles at crossroads. Pan is relative to heading_deg, clockwise;')
    w('# tilt is elevation (negative = down). Secrets come from the environment.')
    w('cameras:')
    busy_nodes = [k for k in keys if any(k in (a, b) for a, b, st in busy_edges)]
    others = [k for k in keys if k not in busy_nodes and k[0] not in (0, NCOL - 1)
              and k[1] not in (0, NROW - 1)]
    cam_keys = [busy_nodes[i] for i in farthest_points([nodes[k] for k in busy_nodes], 5, 0)]
    rest = [k for k in others if k not in cam_keys]
    cam_pts = [nodes[k] for k in cam_keys]
    while len(cam_keys) < 12:
        d = [min(math.dist(nodes[k], p) for p in cam_pts) for k in rest]
        best = rest.pop(int(np.argmax(d)))
        cam_keys.append(best)
        cam_pts.append(nodes[best])
    school_cam = min(range(12), key=lambda i: Point(nodes[cam_keys[i]]).distance(school))
    for k, key in enumerate(cam_keys):
        x, y = free_spot(*nodes[key], 4.0)
        # Do not share a corner with a sensor: move to the opposite corner if too close.
        if min(math.hypot(x - sx, y - sy) for _, sx, sy in sensor_xy) < 3.0:
            x, y = 2 * nodes[key][0] - x, 2 * nodes[key][1] - y
        lat, lon = ll(x, y)
        heading = round(math.degrees(math.atan2(-x, -y)) % 360.0, 1)
        big = k % 3 != 2
        w(f'  - id: cam{k + 1:02d}')
        w(f'    name: "crossroads {node_ids[key]}"')
        w(f'    lat: {lat}')
        w(f'    lon: {lon}')
        w(f'    height_m: {r1(RNG.uniform(6.0, 12.0))}')
        w(f'    heading_deg: {heading}')
        w(f'    pan_limits_deg: {"[-180.0, 180.0]" if k % 4 else "[-170.0, 170.0]"}')
        w(f'    tilt_limits_deg: [-90.0, {20.0 if big else 10.0}]')
        w(f'    pan_speed_dps: {120.0 if big else 90.0}')
        w(f'    tilt_speed_dps: {60.0 if big else 45.0}')
        w(f'    fov_deg: {"[2.3, 63.7]" if big else "[3.2, 58.0]"}')
        w(f'    max_range_m: {250.0 if big else 180.0}')
        masks = []
        if k == school_cam:
            masks.append(('school_yard', 'school yard (minors)', school_yard, (0.0, 20.0)))
        if k in (1, 4, 8):
            near = min((p for _, p, _ in buildings), key=lambda p: p.distance(Point(x, y)))
            facade = near.buffer(1.0, join_style='mitre').simplify(0.3)
            masks.append(('dwellings', 'windows of dwellings (upper floors)', facade,
                          (3.0, 40.0)))
        if masks or k == 6:
            w('    privacy_masks:')
            for mid, reason, poly, hr in masks:
                ring = latlon_ring(poly)
                w(f'      - id: {mid}')
                w(f'        reason: "{reason}"')
                w(f'        height_range_m: {list(hr)}')
                w(f'        polygon: {[list(p) for p in ring]}')
            if k == 6:
                w('      - id: flats_sector')
                w('        reason: "windows of flats facing the camera"')
                w('        pan_deg: [40.0, 75.0]')
                w('        tilt_deg: [-10.0, 15.0]')
        if k % 4 == 0 or k == 5:
            w(f'    onvif: {{host: 10.20.0.{11 + k}, port: 80, profile_token: Profile_1, '
              'username_env: SOFT_CAMERA_USER, password_env: SOFT_CAMERA_PASSWORD}')
        elif k == 7:
            w('    pelco_d: {device: /dev/ttyUSB0, baud: 9600, address: 3}')
    # -- drones, patrols, zones -------------------------------------------------------------
    w('')
    w('# Drone-in-a-box docks on roofs (height_m = roof + dock).')
    w('drone_docks:')
    for did, (tx, ty), uav in (('dock_north', (-150.0, 260.0), 'uav01'),
                               ('dock_south', (230.0, -220.0), 'uav02')):
        cands = [(n, p, h) for n, p, h in buildings if not n and p.area > 400]
        _, roof, h = min(cands, key=lambda c: c[1].centroid.distance(Point(tx, ty)))
        rp = roof.representative_point()
        lat, lon = ll(rp.x, rp.y)
        w(f'  - id: {did}')
        w(f'    lat: {lat}')
        w(f'    lon: {lon}')
        w(f'    height_m: {h + 0.5}')
        w('    drones:')
        w(f'      - {{id: {uav}, max_speed_mps: 15.0, endurance_s: 2400.0, battery_wh: 77.0, '
          'cruise_height_m: 40.0}')
    w('')
    w('# Where patrols start (ground level, on the street in front of the building).')
    w('patrol_bases:')
    pn = min(keys, key=lambda k: police.distance(Point(nodes[k])))
    sqn = min(keys, key=lambda k: squares['Place de la Tarentaize'].distance(Point(nodes[k])))
    for bid, name, key in (('commissariat', 'Commissariat de secteur (invented)', pn),
                           ('poste_pm', 'Poste de police municipale, Place de la Tarentaize '
                            '(invented)', sqn)):
        lat, lon = ll(*nodes[key])
        w(f'  - {{id: {bid}, name: "{name}", lat: {lat}, lon: {lon}}}')
    w('patrols:')
    w('  - {id: car1, kind: car, base: commissariat, speed_mps: 7.0}')
    w('  - {id: car2, kind: car, base: commissariat, speed_mps: 7.0}')
    w('  - {id: foot1, kind: foot, base: poste_pm, speed_mps: 1.4}')
    w('')
    w('no_fly_zones:')
    for zid, name, poly in (('nfz_school', 'École élémentaire Tarentaize (invented)', school),
                            ('nfz_health', 'Centre de santé Beaubrun (invented)', clinic)):
        ring = latlon_ring(poly.buffer(-2.0, join_style='mitre').simplify(0.3))
        w(f'  - id: {zid}')
        w(f'    name: "{name}"')
        w('    height_range_m: [0.0, 150.0]')
        w(f'    polygon: {[list(p) for p in ring]}')
    # -- streets ----------------------------------------------------------------------------
    w('')
    w('# Street graph: nodes at crossroads, edges along street centrelines. speed_mps is the')
    w('# limit (8.33 = 30 km/h zone, 13.89 = 50 km/h); one_way runs from "from" to "to".')
    w('streets:')
    w('  nodes:')
    for key in keys:
        lat, lon = ll(*nodes[key])
        w(f'    - {{id: {node_ids[key]}, lat: {lat}, lon: {lon}}}')
    w('  edges:')
    for a, b, street in sorted(edges, key=lambda e: (node_ids[e[0]], node_ids[e[1]])):
        sense = ONE_WAY.get(street)
        if sense == -1:
            a, b = b, a
        speed = 13.89 if street in BUSY else 8.33
        ow = ', one_way: true' if sense else ''
        w(f'    - {{from: {node_ids[a]}, to: {node_ids[b]}, name: "{street_name[street]}", '
          f'speed_mps: {speed}{ow}}}')
    w('')
    w('# Building footprints (flat roofs), height above ground in metres.')
    w('buildings:')
    for k, (name, poly, h) in enumerate(buildings):
        ring = latlon_ring(poly)
        nm = f', name: "{name}"' if name else ''
        w(f'  - {{id: b{k + 1:03d}{nm}, height_m: {h}, polygon: {[list(p) for p in ring]}}}')
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    sys.exit(main())
