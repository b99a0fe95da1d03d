"""The site format: the shipped district, the Site API, and located errors for bad files."""
import hashlib
import importlib.util
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from shapely.geometry import Point
from shapely.ops import unary_union

from soft.configio import ConfigError
from soft.site import Site, load_site

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / 'config' / 'sites' / 'saint_etienne_tarentaize.yaml'


@pytest.fixture(scope='module')
def site() -> Site:
    return load_site(SHIPPED)


# -- the shipped district -------------------------------------------------------------------

def test_shipped_site_inventory(site):
    assert site.name == 'saint_etienne_tarentaize'
    assert site.sensor_ids() == [f's{i:02d}' for i in range(1, 51)]
    assert 10 <= len(site.camera_ids()) <= 14
    assert len(site.drone_docks()) == 2
    kinds = sorted(p.kind for p in site.patrols())
    assert kinds == ['car', 'car', 'foot']
    assert 1 <= len(site.no_fly_zones()) <= 2
    assert site.sha256 == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert site.yaml_text == SHIPPED.read_text(encoding='utf-8')


def test_shipped_site_extent_and_origin(site):
    o = site.config.origin
    assert (o.lat, o.lon, o.alt) == (45.4410, 4.3850, 520.0)
    xmin, ymin, xmax, ymax = site.bounds()
    assert max(abs(xmin), abs(ymin), xmax, ymax) < 560.0
    assert xmax - xmin > 900 and ymax - ymin > 900


def test_shipped_sensors_are_plausible(site):
    pos = site.sensor_positions()
    assert pos.shape == (50, 3)
    for sid, p in zip(site.sensor_ids(), pos):
        s = site.sensor(sid)
        assert 4.0 <= s.height_m <= 6.0
        assert p[2] == pytest.approx(s.height_m)
        assert -40.0 <= s.sensitivity_dbfs <= -36.0
        assert s.clock_tolerance_s == pytest.approx(1e-4)
        assert np.allclose(site.to_enu(s.lat, s.lon, 520.0 + s.height_m), p, atol=1e-6)
    # Spread over the district, not clustered: every pair at least 40 m apart.
    d = np.hypot(*(pos[:, None, :2] - pos[None, :, :2]).transpose(2, 0, 1))
    assert np.min(d + np.eye(50) * 1e9) > 40.0
    backgrounds = {site.sensor(s).background for s in site.sensor_ids()}
    assert {'busy_street', 'quiet_street', 'park', 'square'} <= backgrounds


def test_shipped_sensors_mostly_at_crossroads_and_never_inside_buildings(site):
    near = [site.nearest_street_node(x, y)[1] for x, y, _ in site.sensor_positions()]
    assert sum(d <= 15.0 for d in near) >= 40
    assert sum(d > 15.0 for d in near) >= 3      # a few in the park, squares, mid-block
    houses = unary_union([p for p, _ in site.building_polygons()])
    for sid, (x, y, _) in zip(site.sensor_ids(), site.sensor_positions()):
        assert site.building_at(x, y) is None, sid
        assert houses.distance(Point(x, y)) > 1.0, sid


def test_shipped_street_graph(site):
    g = site.street_graph()
    assert 60 <= g.number_of_nodes() <= 120
    assert nx.is_connected(g)
    cars = site.street_graph(directed=True)
    assert nx.is_strongly_connected(cars)
    assert any(d['one_way'] for _, _, d in cars.edges(data=True))
    names = {d['name'] for _, _, d in g.edges(data=True)}
    assert {'Rue de la Tarentaize', 'Rue Beaubrun', 'Boulevard Antonio Vivaldi'} <= names
    for a, b, d in g.edges(data=True):
        na, nb = g.nodes[a], g.nodes[b]
        assert d['length'] == pytest.approx(math.hypot(na['x'] - nb['x'], na['y'] - nb['y']))
        assert 20.0 < d['length'] < 300.0
    # Streets stay open: no building closer than 5 m to a street centreline.
    from shapely.geometry import LineString
    streets = unary_union([LineString([(g.nodes[a]['x'], g.nodes[a]['y']),
                                       (g.nodes[b]['x'], g.nodes[b]['y'])]) for a, b in g.edges])
    assert min(p.distance(streets) for p, _ in site.building_polygons()) > 5.0


def test_shipped_buildings_cameras_docks_zones(site):
    blds = site.building_polygons()
    assert len(blds) > 100
    assert all(p.is_valid and 8.0 <= h <= 25.0 for p, h in blds)
    for cam in site.cameras():
        c = cam.config
        assert 6.0 <= c.height_m <= 12.0
        assert c.fov_deg[0] < c.fov_deg[1] and c.tilt_limits_deg[0] >= -90.0
        assert site.nearest_street_node(*cam.position[:2])[1] < 15.0
    masks = [m for cam in site.cameras() for m in cam.masks]
    assert any(m.polygon is not None for m in masks)
    assert any(m.pan_deg is not None for m in masks)
    for dock in site.drone_docks():
        roof = site.building_at(*dock.position[:2])
        assert roof is not None, f'{dock.id} is not on a roof'
        height = dict((b.id, b.height_m) for b in site.config.buildings)[roof]
        assert dock.position[2] >= height
        assert dock.drones and all(d.max_speed_mps > 0 for d in dock.drones)
    bases = site.patrol_bases()
    for p in site.patrols():
        assert np.allclose(p.position, bases[p.base])
        assert site.nearest_street_node(*p.position[:2])[1] < 1.0
    for z in site.no_fly_zones():
        assert z.polygon.is_valid and z.polygon.area > 1000


def test_shipped_file_matches_its_generator():
    spec = importlib.util.spec_from_file_location('make_district',
                                                  ROOT / 'tools' / 'make_district.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.build() == SHIPPED.read_text(encoding='utf-8')


def test_to_wgs84_inverts_to_enu(site):
    pos = site.sensor_positions()
    lat, lon, alt = site.to_wgs84(pos[:, 0], pos[:, 1], pos[:, 2])
    assert np.allclose([site.sensor(s).lat for s in site.sensor_ids()], lat, atol=1e-9)
    assert np.allclose(site.to_enu(lat, lon, alt), pos, atol=1e-4)
    assert site.to_enu(45.4410, 4.3850)[2] == pytest.approx(0.0)     # alt=None: the ground


def test_mic_positions_follow_the_array_heading(site):
    with_array = [s for s in site.sensor_ids() if site.sensor(s).array is not None]
    assert with_array
    sid = with_array[0]
    mics = site.mic_positions(sid)
    local = np.asarray(site.sensor(sid).array.mics)
    assert mics.shape == local.shape
    assert np.allclose(mics.mean(axis=0), site.sensor_position(sid))
    dl = np.linalg.norm(local[:, None] - local[None], axis=-1)
    assert np.allclose(np.linalg.norm(mics[:, None] - mics[None], axis=-1), dl)
    plain = [s for s in site.sensor_ids() if site.sensor(s).array is None][0]
    assert site.mic_positions(plain).shape == (1, 3)


def test_unknown_ids_raise_key_errors_naming_them(site):
    with pytest.raises(KeyError, match='s99'):
        site.sensor('s99')
    with pytest.raises(KeyError, match='cam99'):
        site.camera('cam99')


# -- a small hand-written site --------------------------------------------------------------

MINI = """\
name: mini
origin: {lat: 45.441, lon: 4.385, alt: 520.0}
sensors:
  - id: s01
    lat: 45.4410
    lon: 4.3850
    height_m: 5.0
  - id: s02
    lat: 45.4420
    lon: 4.3860
    height_m: 4.5
    array: {heading_deg: 90.0, mics: [[0.05, 0.0, 0.0], [-0.05, 0.0, 0.0]]}
cameras:
  - id: cam01
    lat: 45.4412
    lon: 4.3851
    height_m: 8.0
    heading_deg: 90.0
    fov_deg: [3.0, 60.0]
    privacy_masks:
      - {id: m1, polygon: [[45.4413, 4.3852], [45.4414, 4.3852], [45.4414, 4.3853]]}
drone_docks:
  - {id: d1, lat: 45.44165, lon: 4.38625, height_m: 12.0, drones: [{id: uav1}]}
patrol_bases: [{id: hq, lat: 45.4405, lon: 4.3845}]
patrols:
  - {id: p1, kind: car, base: hq}
  - {id: p2, kind: foot, lat: 45.4411, lon: 4.3849}
no_fly_zones:
  - {id: z1, polygon: [[45.4400, 4.3830], [45.4402, 4.3830], [45.4402, 4.3833]]}
streets:
  nodes:
    - {id: a, lat: 45.4410, lon: 4.3850}
    - {id: b, lat: 45.4420, lon: 4.3850}
    - {id: c, lat: 45.4420, lon: 4.3870}
  edges:
    - {from: a, to: b, name: Rue A}
    - {from: b, to: c, name: Rue B, one_way: true, speed_mps: 8.33}
buildings:
  - id: b1
    height_m: 10.0
    polygon: [[45.4415, 4.3860], [45.4418, 4.3860], [45.4418, 4.3865], [45.4415, 4.3865]]
"""


def _write(tmp_path: Path, text: str, name: str = 'site.yaml') -> Path:
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return path


def _line_of(text: str, fragment: str, nth: int = 0) -> int:
    lines = [i + 1 for i, ln in enumerate(text.splitlines()) if fragment in ln]
    return lines[nth]


def test_mini_site_api(tmp_path):
    site = load_site(_write(tmp_path, MINI))
    assert site.sensor_positions()[0].tolist() == pytest.approx([0.0, 0.0, 5.0])
    assert site.sensor_position('s02')[1] == pytest.approx(111.15, abs=0.05)
    # The array's x axis points east (heading 90): its capsules are spread along map x.
    mics = site.mic_positions('s02')
    assert mics[0, 0] - mics[1, 0] == pytest.approx(0.1) and mics[0, 1] == pytest.approx(
        mics[1, 1])
    cam = site.camera('cam01')
    assert cam.yaw_rad == pytest.approx(0.0) and cam.position[2] == 8.0
    # Heading east, pan +90 (clockwise seen from above) looks south: ENU yaw -90 deg.
    assert cam.look_yaw_rad(90.0) == pytest.approx(-math.pi / 2)
    assert cam.masks[0].polygon.area == pytest.approx(11.115 * 7.825 / 2, rel=1e-3)
    car, foot = site.patrols()
    assert car.speed_mps == 7.0 and foot.speed_mps == 1.4
    assert np.allclose(car.position, site.patrol_bases()['hq'])
    assert site.drone_docks()[0].drones[0].id == 'uav1'
    undirected, directed = site.street_graph(), site.street_graph(directed=True)
    assert undirected['a']['b']['length'] == pytest.approx(111.15, abs=0.05)
    assert directed.has_edge('b', 'c') and not directed.has_edge('c', 'b')
    assert directed.has_edge('a', 'b') and directed.has_edge('b', 'a')
    assert site.nearest_street_node(150.0, 100.0)[0] == 'c'
    poly, height = site.building_polygons()[0]
    assert height == 10.0 and poly.area == pytest.approx(33.35 * 39.12, rel=2e-3)
    # Graphs handed out are copies: changing one does not change the site.
    undirected.remove_node('a')
    assert site.street_graph().has_node('a')


def test_line_of_sight_through_a_building(tmp_path):
    site = load_site(_write(tmp_path, MINI))
    poly, height = site.building_polygons()[0]
    c = poly.centroid
    west, east = [c.x - 60.0, c.y], [c.x + 60.0, c.y]
    assert not site.line_of_sight(west + [5.0], east + [5.0])
    assert site.line_of_sight(west + [12.0], east + [12.0])
    assert not site.line_of_sight(west + [2.0], east + [17.0])   # 9.5 m at the middle
    assert site.line_of_sight([c.x - 60, c.y + 60, 2.0], [c.x - 60, c.y - 60, 2.0])
    assert site.building_at(c.x, c.y) == 'b1' and site.building_at(0.0, 0.0) is None


def test_load_is_cached_by_content(tmp_path):
    path = _write(tmp_path, MINI)
    first = load_site(path)
    assert load_site(path) is first
    path.write_text(MINI.replace('name: mini', 'name: mini2'), encoding='utf-8')
    second = load_site(path)
    assert second.name == 'mini2' and second.sha256 != first.sha256


# -- bad files: every error names the file, the line and the field --------------------------

def _bad(old: str, new: str, count: int = 1) -> str:
    assert MINI.count(old) >= count, old
    return MINI.replace(old, new, count)


BAD_CASES = [
    # (label, broken text, expected field, fragment on the expected line, message words)
    ('negative height', _bad('height_m: 4.5', 'height_m: -4.5'), 'sensors[1].height_m',
     'height_m: -4.5', 'greater than or equal to 0'),
    ('duplicate sensor id', _bad('id: s02', 'id: s01'), 'sensors[1].id', 'id: s01#2',
     'duplicate sensor id'),
    ('edge to a missing node', _bad('{from: b, to: c,', '{from: b, to: z,'),
     'streets.edges[1].to', 'to: z', "unknown street node 'z'"),
    ('latitude NaN', _bad('lat: 45.4420\n', 'lat: .nan\n'), 'sensors[1].lat', 'lat: .nan',
     'finite'),
    ('latitude 95', _bad('lat: 45.4420\n', 'lat: 95.0\n'), 'sensors[1].lat', 'lat: 95.0',
     'less than or equal to 90'),
    ('far from origin', _bad('lat: 45.4420\n', 'lat: 45.5420\n'), 'sensors[1].lat',
     'lat: 45.5420', 'from the site origin'),
    ('self-intersecting polygon',
     _bad('[[45.4415, 4.3860], [45.4418, 4.3860], [45.4418, 4.3865], [45.4415, 4.3865]]',
          '[[45.4415, 4.3860], [45.4418, 4.3865], [45.4418, 4.3860], [45.4415, 4.3865]]'),
     'buildings[0].polygon', 'polygon: [[45.4415', 'Self-intersection'),
    ('polygon with two corners', _bad(', [45.4402, 4.3833]]}', ']}'),
     'no_fly_zones[0].polygon', '{id: z1', 'at least 3'),
    ('missing required field', _bad('    height_m: 4.5\n', ''), 'sensors[1].height_m',
     'id: s02', 'Field required'),
    ('misspelt field', _bad('height_m: 4.5', 'heigth_m: 4.5'), 'sensors[1].height_m',
     'id: s02', 'sensors[1].heigth_m (line 11): Extra inputs'),
    ('sensor inside a building', _bad('lat: 45.4420\n    lon: 4.3860',
                                      'lat: 45.4416\n    lon: 4.3862'),
     'sensors[1]', 'id: s02', "inside building 'b1'"),
    ('fov min above max', _bad('fov_deg: [3.0, 60.0]', 'fov_deg: [60.0, 3.0]'),
     'cameras[0].fov_deg', 'fov_deg', 'below maximum'),
    ('tilt beyond vertical', _bad('fov_deg: [3.0, 60.0]',
                                  'fov_deg: [3.0, 60.0]\n    tilt_limits_deg: [-120.0, 10.0]'),
     'cameras[0].tilt_limits_deg', 'tilt_limits_deg', '[-90, 90]'),
    ('unknown patrol base', _bad('base: hq}', 'base: hq2}'), 'patrols[0].base',
     'base: hq2', "unknown patrol base 'hq2'"),
    ('disconnected streets', _bad('    - {from: a, to: b, name: Rue A}\n', ''),
     'streets.nodes[0].id', '{id: a,', 'not connected'),
    ('dock below the roof', _bad('height_m: 12.0, drones', 'height_m: 3.0, drones'),
     'drone_docks[0]', '{id: d1', "inside building 'b1'"),
    ('bad patrol kind', _bad('kind: foot', 'kind: bike'), 'patrols[1].kind', 'kind: bike',
     "'foot' or 'car'"),
]


@pytest.mark.parametrize('label, text, field, fragment, words', BAD_CASES,
                         ids=[c[0] for c in BAD_CASES])
def test_bad_site_is_a_located_config_error(tmp_path, label, text, field, fragment, words):
    if fragment.endswith('#2'):
        line = _line_of(text, fragment[:-2], 1)
    else:
        line = _line_of(text, fragment)
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_site(path)
    err = info.value
    assert err.path == str(path)
    assert err.field == field
    assert err.line == line, str(err)
    assert words in err.message
    assert str(err).startswith(f'{path}:{line}: {field}: ')


def test_yaml_syntax_error_names_the_line(tmp_path):
    text = _bad('    height_m: 4.5\n', '    height_m: [4.5\n')
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_site(path)
    assert info.value.path == str(path)
    assert 'invalid YAML' in info.value.message
    assert info.value.line is not None and info.value.line >= _line_of(text, 'height_m: [4.5')


def test_several_problems_are_reported_together(tmp_path):
    text = _bad('height_m: 4.5', 'height_m: -4.5').replace('lat: 45.4410\n', 'lat: 95.0\n', 1)
    with pytest.raises(ConfigError) as info:
        load_site(_write(tmp_path, text))
    assert info.value.field == 'sensors[0].lat'
    assert 'and 1 more' in info.value.message and 'sensors[1].height_m' in info.value.message


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match='file not found'):
        load_site(tmp_path / 'nope.yaml')
    with pytest.raises(ConfigError, match='empty'):
        load_site(_write(tmp_path, '# nothing\n'))
    with pytest.raises(ConfigError, match='mapping'):
        load_site(_write(tmp_path, '- a\n- b\n'))
