"""The ROS 2 side checked without ROS: package.xml, CMakeLists.txt, node scripts, launch files,
parameter files, the rviz view, import and clock boundaries, and the plain-Python half of the
rclpy host (message conversion, parameter descriptors, QoS, health).

rclpy cannot be installed here, so everything a colcon build or ``ros2 launch`` would trip on
is checked by parsing: XML, the CMake install rules (run by CMake itself with the ament
commands stubbed when cmake is available), and the launch files' syntax trees.
"""
from __future__ import annotations

import array
import ast
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.interfaces import Nodetype

from soft.configio import ConfigError
from soft.graph import messages, registry
from soft.graph.component import ParamError
from soft.graph.params_yaml import (INT64_MAX, ROS_PARAMETER_TYPES, check_node_params,
                                    check_ros_value, check_runtime_change, descriptor_spec,
                                    from_ros_value, node_blocks, ros_type_of,
                                    validate_params_file)
from soft.graph.ros_conversions import (DIAG_ERROR, DIAG_OK, DIAG_WARN, ConversionError,
                                        HostHealth, from_ros, qos_settings, ros_import_path,
                                        to_ros)
from soft.graph.sensor_node import SensorComponent
from test_component_api import sample_message

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / 'src' / 'soft'
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))
NODE_SCRIPTS = sorted(p for p in (ROOT / 'nodes').iterdir() if p.is_file())
INTERFACES = sorted(str(p.relative_to(ROOT)) for kind in ('msg', 'srv', 'action')
                    for p in (ROOT / kind).glob(f'*.{kind}'))
# ROS packages of message types used at run time are imported as Python modules of that name.
ROS_PYTHON_PACKAGES = {'rclpy', 'launch', 'launch_ros', 'rcl_interfaces', 'lifecycle_msgs',
                       'builtin_interfaces', 'launch_testing', 'launch_testing_ros',
                       'ament_index_python'}
ROSDEP_KEYS = {'numpy': 'python3-numpy', 'scipy': 'python3-scipy', 'yaml': 'python3-yaml',
               'pydantic': 'python3-pydantic', 'shapely': 'python3-shapely',
               'networkx': 'python3-networkx', 'pytest': 'python3-pytest'}
DIST_NAMES = {'yaml': 'pyyaml'}  # import name -> pip distribution, where they differ


# -- package.xml ----------------------------------------------------------------------------

@lru_cache(maxsize=1)
def package_xml() -> ET.Element:
    return ET.parse(ROOT / 'package.xml').getroot()


def deps(*tags: str) -> set[str]:
    return {e.text.strip() for tag in tags for e in package_xml().findall(tag)}


RUN_DEPS = ('depend', 'exec_depend')


def pip_only() -> set[str]:
    text = (ROOT / 'package.xml').read_text(encoding='utf-8')
    match = re.search(r'pip-only:([^\n]*)', text)
    assert match, 'package.xml must list the pip-only Python dependencies in a comment'
    return set(match.group(1).split())


@lru_cache(maxsize=1)
def pyproject() -> dict:
    return tomllib.loads((ROOT / 'pyproject.toml').read_text(encoding='utf-8'))


def _dist(requirement: str) -> str:
    return re.split(r'[<>=!~\[; ]', requirement, maxsplit=1)[0].lower()


def test_package_xml_is_valid_format_3():
    text = (ROOT / 'package.xml').read_text(encoding='utf-8')
    assert text.startswith('<?xml version="1.0"?>')
    assert 'package_format3.xsd' in text
    pkg = package_xml()
    assert pkg.tag == 'package' and pkg.get('format') == '3'
    # Required elements, in the order the format 3 schema gives them.
    heads = [child.tag for child in pkg][:5]
    assert heads == ['name', 'version', 'description', 'maintainer', 'license']
    assert pkg.findtext('name') == 'soft'
    assert pkg.findtext('version') == '0.1.0' == pyproject()['project']['version']
    assert pkg.findtext('description').strip()
    maintainer = pkg.find('maintainer')
    assert maintainer.text == 'S.O.F.T. developers'
    assert re.fullmatch(r'[^@\s]+@[^@\s]+\.[a-z]+', maintainer.get('email'))
    assert maintainer.get('email') == 'dev@soft-city.org'
    assert pkg.findtext('license') == 'Apache-2.0'
    assert pkg.find('export').findtext('build_type') == 'ament_cmake'
    assert deps('member_of_group') == {'rosidl_interface_packages'}
    known = {'name', 'version', 'description', 'maintainer', 'license', 'url', 'author',
             'buildtool_depend', 'build_depend', 'depend', 'exec_depend', 'test_depend',
             'build_export_depend', 'doc_depend', 'member_of_group', 'group_depend', 'export'}
    assert {child.tag for child in pkg} <= known
    every = [e.text for tag in ('depend', 'exec_depend', 'build_depend', 'buildtool_depend',
                                'test_depend') for e in pkg.findall(tag)]
    assert len(every) == len(set(every)), 'a dependency is declared twice'


def test_package_xml_declares_the_build_and_test_tools():
    assert {'ament_cmake', 'ament_cmake_python', 'rosidl_default_generators'} <= \
        deps('buildtool_depend')
    assert 'rosidl_default_runtime' in deps('exec_depend')
    assert {'std_msgs', 'geometry_msgs', 'sensor_msgs', 'diagnostic_msgs', 'builtin_interfaces',
            'visualization_msgs', 'action_msgs', 'lifecycle_msgs', 'rclpy', 'launch',
            'launch_ros'} <= deps('depend')
    assert {'ament_lint_auto', 'ament_cmake_pytest', 'python3-pytest', 'launch_testing',
            'launch_testing_ros'} <= deps('test_depend')
    cmake = (ROOT / 'CMakeLists.txt').read_text(encoding='utf-8')
    for package in re.findall(r'find_package\((\w+)', cmake):
        assert package in deps('buildtool_depend', 'depend', 'build_depend', 'test_depend'), \
            f'CMakeLists.txt finds {package} but package.xml does not declare it'


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _python_files() -> list[Path]:
    files = sorted(SRC.rglob('*.py')) + LAUNCH_FILES + NODE_SCRIPTS
    return [p for p in files if '__pycache__' not in p.parts]


def test_every_third_party_import_is_declared_for_ros_or_pip():
    """A module the package imports must come from rosdep (package.xml) or pip (pyproject)."""
    run_deps = deps(*RUN_DEPS)
    pip_deps = {_dist(r) for r in pyproject()['project']['dependencies']}
    extras = {_dist(r) for group in pyproject()['project']['optional-dependencies'].values()
              for r in group}
    problems = []
    for path in _python_files():
        for module in _imports(path):
            top = module.split('.')[0]
            if top in sys.stdlib_module_names or top == 'soft':
                continue
            where = path.relative_to(ROOT)
            dist = DIST_NAMES.get(top, top).lower()
            if top in ROS_PYTHON_PACKAGES or top.endswith('_msgs'):
                if top not in run_deps:
                    problems.append(f'{where}: ROS package {top} missing from package.xml')
            elif top in ROSDEP_KEYS:
                if ROSDEP_KEYS[top] not in run_deps:
                    problems.append(f'{where}: {top} needs <exec_depend>{ROSDEP_KEYS[top]}')
                if dist not in pip_deps:
                    problems.append(f'{where}: {top} missing from pyproject dependencies')
            elif top in pip_only():
                if dist not in pip_deps:
                    problems.append(f'{where}: {top} missing from pyproject dependencies')
            elif dist in extras:
                continue  # training and test tools, not needed on a ROS deployment
            else:
                problems.append(f'{where}: {top} is declared nowhere (package.xml rosdep key '
                                'or pip-only comment, and pyproject.toml)')
    assert not problems, '\n'.join(sorted(set(problems)))


def test_ros_tests_declare_what_they_import():
    declared = deps(*RUN_DEPS, 'test_depend')
    for path in (ROOT / 'test').glob('test_ros*.py'):
        for module in _imports(path):
            top = module.split('.')[0]
            if top in ROS_PYTHON_PACKAGES or top.endswith('_msgs'):
                assert top in declared, f'{path.name}: {top} missing from package.xml'


def test_pip_only_list_and_rosdep_keys_cover_pyproject_exactly():
    pip_deps = {_dist(r) for r in pyproject()['project']['dependencies']}
    rosdep = {DIST_NAMES.get(m, m) for m, key in ROSDEP_KEYS.items()
              if key in deps(*RUN_DEPS)}
    assert pip_deps == rosdep | pip_only(), 'package.xml and pyproject.toml disagree'


def test_message_packages_used_anywhere_are_declared():
    """Packages referenced by our .msg files and by component ports are run dependencies."""
    used = set()
    for rel in INTERFACES:
        for line in (ROOT / rel).read_text(encoding='utf-8').splitlines():
            match = re.match(r'\s*([a-z_]+)/\w+', line)
            if match and match.group(1) != 'soft':
                used.add(match.group(1))
    for key in registry.COMPONENTS:
        cls = registry.load(key)
        used.update(p.msg_type.split('/')[0] for p in cls.inputs + cls.outputs)
    used.discard('soft')
    assert used, 'no message package found: the scan is broken'
    assert used <= deps('depend'), f'undeclared: {sorted(used - deps("depend"))}'


# -- CMakeLists.txt ---------------------------------------------------------------------------

def _cmake() -> str:
    text = (ROOT / 'CMakeLists.txt').read_text(encoding='utf-8')
    return re.sub(r'#[^\n]*', '', text)  # comments out


def test_cmakelists_follows_the_jazzy_build_facts():
    text = _cmake()
    assert 'ament_python_install_package' not in text, \
        'rosidl already installs the soft Python package; a second install fails'
    assert re.search(r'project\(soft\)', text), 'rosidl needs C and C++ enabled'
    assert re.search(r'rosidl_generate_interfaces\(\$\{PROJECT_NAME\}', text)
    deps_line = re.search(r'DEPENDENCIES([^)]*)\)', text).group(1).split()
    assert {'builtin_interfaces', 'std_msgs', 'geometry_msgs'} <= set(deps_line)
    assert re.search(r'install\(DIRECTORY src/soft/\s+DESTINATION "?\$\{PYTHON_INSTALL_DIR\}/soft',
                     text)
    assert re.search(r'install\(PROGRAMS .*DESTINATION lib/\$\{PROJECT_NAME\}', text)
    assert 'ament_package()' in text


def test_interface_dependencies_cover_what_the_messages_use():
    deps_line = set(re.search(r'DEPENDENCIES([^)]*)\)', _cmake()).group(1).split())
    used = set()
    for rel in INTERFACES:
        for line in (ROOT / rel).read_text(encoding='utf-8').splitlines():
            match = re.match(r'\s*([a-z_]+)/\w+', line)
            if match and match.group(1) != 'soft':
                used.add(match.group(1))
    assert used <= deps_line


STUB = '''
macro(find_package)
endmacro()
macro(rosidl_generate_interfaces target)
  set(PYTHON_INSTALL_DIR lib/python3/site-packages CACHE INTERNAL "")
  file(WRITE "${CMAKE_BINARY_DIR}/rosidl_args.txt" "${ARGN}")
endmacro()
macro(ament_export_dependencies)
endmacro()
macro(ament_package)
endmacro()
set(BUILD_TESTING OFF)
'''


@pytest.fixture(scope='module')
def cmake_install(tmp_path_factory):
    """Run the real install rules with the ament/rosidl commands stubbed out.

    The project is configured with no languages (no compiler needed here) from a mirror of
    the repository made of symlinks, and installed into a temporary prefix.
    """
    if shutil.which('cmake') is None:
        pytest.skip('cmake is not installed')
    base = tmp_path_factory.mktemp('cmake')
    src = base / 'soft'
    src.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in ('CMakeLists.txt', 'build', 'install', 'log', '.git'):
            (src / entry.name).symlink_to(entry)
    text = (ROOT / 'CMakeLists.txt').read_text(encoding='utf-8')
    assert text.count('project(soft)') == 1
    (src / 'CMakeLists.txt').write_text(text.replace('project(soft)', 'project(soft NONE)'))
    (base / 'stub.cmake').write_text(STUB)
    build, prefix = base / 'build', base / 'prefix'
    build.mkdir()
    for cmd in (['cmake', str(src), f'-DCMAKE_PROJECT_INCLUDE={base / "stub.cmake"}',
                 f'-DCMAKE_INSTALL_PREFIX={prefix}'],
                ['cmake', '--install', '.']):
        done = subprocess.run(cmd, cwd=build, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    return build, prefix


def test_cmake_generates_every_interface_file(cmake_install):
    build, _ = cmake_install
    args = (build / 'rosidl_args.txt').read_text().split(';')
    files = args[:args.index('DEPENDENCIES')]
    assert files == INTERFACES and len(files) >= 12


def test_cmake_installs_the_python_package_into_the_generated_one(cmake_install):
    _, prefix = cmake_install
    site = prefix / 'lib' / 'python3' / 'site-packages' / 'soft'
    assert not (site / '__init__.py').exists(), 'would replace the generated __init__.py'
    expected = {p.relative_to(SRC) for p in SRC.rglob('*') if p.is_file()
                and '__pycache__' not in p.parts and p.suffix != '.pyc'
                and p.relative_to(SRC) != Path('__init__.py')
                and '_share' not in p.relative_to(SRC).parts}
    installed = {p.relative_to(site) for p in site.rglob('*') if p.is_file()}
    assert installed == expected
    assert Path('graph', '__init__.py') in installed and Path('graph/rclpy_host.py') in installed
    assert not [p for p in site.rglob('__pycache__')]


def test_cmake_installs_every_node_script_as_a_program(cmake_install):
    _, prefix = cmake_install
    lib = prefix / 'lib' / 'soft'
    assert sorted(p.name for p in lib.iterdir()) == sorted(p.name for p in NODE_SCRIPTS)
    for p in lib.iterdir():
        assert os.stat(p).st_mode & stat.S_IXUSR, f'{p.name} is not executable'


def test_cmake_installs_the_shared_files(cmake_install):
    _, prefix = cmake_install
    share = prefix / 'share' / 'soft'
    for folder in ('launch', 'config', 'msg', 'srv', 'action'):
        src = {p.relative_to(ROOT / folder) for p in (ROOT / folder).rglob('*') if p.is_file()
               and '__pycache__' not in p.parts}
        got = {p.relative_to(share / folder) for p in (share / folder).rglob('*')
               if p.is_file()}
        assert src <= got, f'{folder}: missing {sorted(map(str, src - got))[:5]}'
    # soft.paths finds the share directory by this marker file.
    assert (share / 'msg' / 'AcousticEvent.msg').is_file()
    assert (share / 'config' / 'params' / 'sensor.yaml').is_file()


# -- node executables -------------------------------------------------------------------------

def _script_key(path: Path) -> str:
    tree = ast.parse(path.read_text(encoding='utf-8'))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name) and n.func.id == 'run_component']
    assert len(calls) == 1, f'{path.name}: expected one run_component(...) call'
    arg = calls[0].args[0]
    assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), path.name
    return arg.value


def test_every_registry_component_has_an_executable_and_back():
    scripts = {p.name for p in NODE_SCRIPTS}
    assert scripts == {f'{key}_node' for key in registry.COMPONENTS}, \
        'nodes/ needs exactly one <key>_node script per registry.COMPONENTS entry'


@pytest.mark.parametrize('script', NODE_SCRIPTS, ids=lambda p: p.name)
def test_node_scripts_are_small_executable_stubs(script):
    text = script.read_text(encoding='utf-8')
    assert text.startswith('#!/usr/bin/env python3\n')
    assert os.stat(script).st_mode & stat.S_IXUSR, 'chmod +x'
    tree = ast.parse(text)
    assert ast.get_docstring(tree), 'a docstring saying what the node is'
    key = _script_key(script)
    assert script.name == f'{key}_node'
    cls = registry.load(key)
    assert cls.name, f'{key}: the component needs a name (the ROS node name)'
    assert len(text.splitlines()) < 20, 'keep logic in soft.graph, not in the script'
    assert _imports(script) <= {'sys', 'soft.graph.rclpy_host'}


def test_registry_components_are_hostable_by_ros():
    for key in registry.COMPONENTS:
        cls = registry.load(key)
        assert re.fullmatch(r'[a-z][a-z0-9_]*', cls.name), f'{key}: bad ROS node name'
        for p in cls.params:
            descriptor_spec(p)  # a type ROS can declare
            check_ros_value(p, p.default)
        for port in cls.inputs + cls.outputs:
            qos_settings(port.qos, 'publisher')
            if not port.private:
                ros_import_path(port.msg_type)
                assert port.msg_type in messages.typestore().fielddefs, port.msg_type
        for timer in cls.timers:
            assert cls.timer_period(timer, cls.validate_params({})) > 0


# -- launch files -----------------------------------------------------------------------------

def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ''


def _kw(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _const(node: ast.expr | None):
    return node.value if isinstance(node, ast.Constant) else None


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding='utf-8'), filename=str(path))


def _calls(path: Path, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(_tree(path)) if isinstance(n, ast.Call) and _call_name(n) == name]


def _declared_args(path: Path) -> dict[str, ast.Call]:
    out = {}
    for call in _calls(path, 'DeclareLaunchArgument'):
        name = _const(call.args[0]) if call.args else _const(_kw(call, 'name'))
        assert isinstance(name, str), f'{path.name}:{call.lineno}: argument name not a literal'
        out[name] = call
    return out


def test_there_are_launch_files():
    names = {p.name for p in LAUNCH_FILES}
    assert {'soft.launch.py', 'sensors.launch.py', 'sensor_device.launch.py'} <= names


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_arguments_are_declared_with_descriptions(path):
    declared = _declared_args(path)
    assert declared, 'a launch file takes its settings as declared arguments'
    for name, call in declared.items():
        desc = _kw(call, 'description')
        assert isinstance(_const(desc), str) and len(_const(desc)) > 15, \
            f'{path.name}: argument {name!r} needs a description'
        choices = _kw(call, 'choices')
        default = _const(_kw(call, 'default_value'))
        if choices is not None and default is not None:
            assert default in ast.literal_eval(choices), f'{name}: default not in choices'
    used = {_const(c.args[0]) for c in _calls(path, 'LaunchConfiguration') if c.args}
    used |= {_const(c.args[1]) for c in _calls(path, '_flag')}  # _flag(context, name)
    used.discard(None)  # a name passed through a variable: checked at its call site
    assert used <= set(declared), f'undeclared: {sorted(used - set(declared))}'
    if 'use_sim_time' in used or path.name == 'soft.launch.py':
        assert 'use_sim_time' in declared


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_files_use_no_eval_or_subprocess(path):
    tree = _tree(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            assert _call_name(node) not in ('eval', 'exec', 'system', 'Popen', 'run',
                                            'ExecuteProcess', 'check_output'), \
                f'{path.name}:{node.lineno}: {_call_name(node)}'
            assert _const(_kw(node, 'shell')) is not True
    assert not {m.split('.')[0] for m in _imports(path)} & {'subprocess', 'os'}


def _node_calls(path: Path) -> list[ast.Call]:
    return [c for c in ast.walk(_tree(path)) if isinstance(c, ast.Call)
            and _kw(c, 'executable') is not None]


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launched_nodes_exist_and_get_valid_parameters(path):
    scripts = {p.name for p in NODE_SCRIPTS}
    for call in _node_calls(path):
        where = f'{path.name}:{call.lineno}'
        package, executable = _const(_kw(call, 'package')), _const(_kw(call, 'executable'))
        assert package == 'soft', f'{where}: package must be the literal soft'
        assert executable in scripts, f'{where}: no nodes/{executable}'
        cls = registry.load(executable.removesuffix('_node'))
        if cls.owns_resources:
            assert _call_name(call) == 'LifecycleNode', f'{where}: {cls.name} owns resources'
        assert _const(_kw(call, 'name')) == cls.name
        assert _kw(call, 'namespace') is not None, f'{where}: one namespace per device'
        params = _kw(call, 'parameters')
        assert isinstance(params, ast.List), f'{where}: parameters=[params_file, {{...}}]'
        dicts = [e for e in params.elts if isinstance(e, ast.Dict)]
        assert len(params.elts) - len(dicts) == 1, f'{where}: exactly one params file first'
        for d in dicts:
            keys = [_const(k) for k in d.keys]
            assert all(isinstance(k, str) for k in keys), f'{where}: literal parameter names'
            assert 'use_sim_time' in keys, f'{where}: pass use_sim_time'
            constants = {k: _const(v) for k, v in zip(keys, d.values)
                         if isinstance(v, ast.Constant)}
            unknown = [k for k in keys
                       if k != 'use_sim_time' and k not in {p.name for p in cls.params}]
            assert not unknown, f'{where}: {cls.__name__} has no parameter(s) {unknown}'
            try:
                check_node_params(cls, constants)
            except ParamError as exc:
                pytest.fail(f'{where}: {exc}')


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_included_launch_files_exist_and_take_the_arguments_given(path):
    for call in _calls(path, 'IncludeLaunchDescription'):
        targets = [n.value for n in ast.walk(call) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str) and n.value.endswith('.launch.py')]
        assert len(targets) == 1, f'{path.name}:{call.lineno}: include one literal file'
        included = ROOT / 'launch' / targets[0]
        assert included.is_file(), f'{path.name}: includes missing {targets[0]}'
        given = _kw(call, 'launch_arguments')
        dicts = [n for n in ast.walk(given) if isinstance(n, ast.Dict)] if given else []
        names = {_const(k) for d in dicts for k in d.keys}
        missing = sorted(names - set(_declared_args(included)))
        assert not missing, f'{path.name}: {targets[0]} does not declare {missing}'


def test_sensor_launch_reads_the_site_and_gives_valid_per_sensor_values():
    """What sensors.launch.py does with the default site: namespaces and sensitivities."""
    from soft.site import load_site

    site = load_site(ROOT / 'config' / 'sites' / 'saint_etienne_tarentaize.yaml')
    ids = site.sensor_ids()
    assert len(ids) == len(set(ids)) >= 1
    for sensor_id in ids:
        namespace = f'sensor_{sensor_id}'
        assert re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', namespace) and '__' not in namespace
        check_node_params(SensorComponent, {
            'sensor_id': sensor_id, 'driver': 'sim', 'seed': 0, 'use_sim_time': False,
            'sensitivity_dbfs': float(site.sensor(sensor_id).sensitivity_dbfs)})
    text = (ROOT / 'launch' / 'sensors.launch.py').read_text(encoding='utf-8')
    assert 'saint_etienne_tarentaize.yaml' in text and 'sensor.yaml' in text


# -- parameter files ------------------------------------------------------------------------

PARAM_FILES = sorted((ROOT / 'config' / 'params').glob('*.yaml'))


def test_every_params_file_belongs_to_a_component():
    assert PARAM_FILES, 'config/params/*.yaml holds the defaults'
    for path in PARAM_FILES:
        assert path.stem in registry.COMPONENTS, f'{path.name}: no component {path.stem!r}'


@pytest.mark.parametrize('path', PARAM_FILES, ids=lambda p: p.name)
def test_params_files_validate_against_their_component(path):
    cls = registry.load(path.stem)
    blocks = validate_params_file(path, cls)
    assert blocks and all(b.params for b in blocks)
    for block in blocks:
        assert block.pattern in ('/**', cls.name) or block.pattern.endswith(f'/{cls.name}'), \
            f'{path.name}: {block.pattern!r} does not target {cls.name} nodes'
        # Per-device identity belongs to the launch file, not to shared defaults.
        assert 'sensor_id' not in block.params


def test_a_bad_params_file_is_refused_with_file_line_and_name(tmp_path):
    bad = tmp_path / 'sensor.yaml'
    bad.write_text('/**:\n  ros__parameters:\n    block_s: 0.1\n    sample_rate: 16000.0\n')
    with pytest.raises(ConfigError, match=r'sensor.yaml:4: /\*\*.sample_rate: .*ROS declares '
                                          r'it int, got float'):
        validate_params_file(bad, SensorComponent)
    bad.write_text('/**:\n  ros__parameters:\n    min_snr_db: 6\n')
    with pytest.raises(ConfigError, match=r':3: .*min_snr_db.*decimal point'):
        validate_params_file(bad, SensorComponent)
    bad.write_text('sensor_07:\n  sensor:\n    ros__parameters:\n      blok_s: 0.1\n')
    with pytest.raises(ConfigError, match=r':4: sensor_07/sensor.blok_s: .*unknown parameter'):
        validate_params_file(bad, SensorComponent)
    bad.write_text('/**:\n  ros__parameters:\n    driver: tape\n')
    with pytest.raises(ConfigError, match="'tape' is not one of sim, file, device"):
        validate_params_file(bad, SensorComponent)
    bad.write_text('/**:\n  ros__parameters: 3\n')
    with pytest.raises(ConfigError, match='mapping of parameter names'):
        validate_params_file(bad, SensorComponent)


def test_params_file_node_patterns_and_nested_names():
    blocks = node_blocks({
        '/**': {'ros__parameters': {'use_sim_time': True}},
        '/lidar_ns': {'lidar': {'ros__parameters': {'a': {'b': 1}}}},
        'imu': {'ros__parameters': {'ports': [1, 2]}},
    }, 'x.yaml')
    assert [(b.pattern, b.params) for b in blocks] == [
        ('/**', {'use_sim_time': True}), ('/lidar_ns/lidar', {'a.b': 1}),
        ('imu', {'ports': [1, 2]})]
    with pytest.raises(ConfigError, match='expected a node name'):
        node_blocks({'node': {'x': 1}}, 'x.yaml')


# -- parameter descriptors and typing ------------------------------------------------------

def test_descriptors_carry_type_range_and_read_only():
    specs = {p.name: descriptor_spec(p) for p in SensorComponent.params}
    assert specs['sample_rate'].type == ROS_PARAMETER_TYPES['int'] == 2
    assert specs['sample_rate'].integer_range == (8000, 96000)
    assert specs['sample_rate'].floating_point_range is None
    assert specs['sample_rate'].read_only
    assert specs['seed'].integer_range == (0, INT64_MAX)  # a missing bound: the type's end
    assert specs['sensitivity_dbfs'].type == 3
    assert specs['sensitivity_dbfs'].floating_point_range == (-80.0, 0.0)
    assert not specs['sensitivity_dbfs'].read_only
    assert specs['driver'].type == 4 and 'one of: sim, file, device' in \
        specs['driver'].additional_constraints
    assert specs['file_loop'].type == 1
    for p in SensorComponent.params:
        assert specs[p.name].description == p.description and p.description.endswith('.')


def test_ros_typing_is_strict_where_param_validate_is_lenient():
    assert [ros_type_of(v) for v in (True, 1, 1.0, 'a', [1.0, 2.0], ['a'])] == \
        ['bool', 'int', 'float', 'str', 'float[]', 'str[]']
    for bad in ([], [1, 1.0], None, {'a': 1}, [[1]]):
        with pytest.raises(ParamError):
            ros_type_of(bad)
    rate = SensorComponent.param('sample_rate')
    assert rate.validate(16000.0) == 16000  # fine for the embedded host...
    with pytest.raises(ParamError, match='ROS declares it int, got float'):
        check_ros_value(rate, 16000.0)  # ...refused by ROS, so refused here
    with pytest.raises(ParamError, match='below the minimum'):
        check_ros_value(rate, 100)
    assert from_ros_value(array.array('d', [1.0, 2.0])) == [1.0, 2.0]
    assert from_ros_value((1, 2)) == [1, 2] and from_ros_value('x') == 'x'


def test_runtime_changes_refuse_read_only_and_invalid_values():
    cfg = SensorComponent.validate_params({})
    assert check_runtime_change(SensorComponent, {'min_snr_db': 9.0, 'use_sim_time': True},
                                cfg) == {'min_snr_db': 9.0}
    with pytest.raises(ParamError, match="'sample_rate' is read-only"):
        check_runtime_change(SensorComponent, {'sample_rate': 48000}, cfg)
    with pytest.raises(ParamError, match="'min_snr_db'.*above the maximum"):
        check_runtime_change(SensorComponent, {'min_snr_db': 99.0}, cfg)


# -- rviz -----------------------------------------------------------------------------------

def test_rviz_view_shows_the_map_frame_markers_and_tf():
    view = yaml.safe_load((ROOT / 'config' / 'soft.rviz').read_text(encoding='utf-8'))
    manager = view['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == 'map'
    displays = {d['Class']: d for d in manager['Displays']}
    assert displays['rviz_default_plugins/TF']['Enabled']
    markers = displays['rviz_default_plugins/MarkerArray']
    assert markers['Topic']['Value'] == '/soft/markers' and markers['Enabled']
    # A reliable subscription: our marker publishers are reliable (see qos_settings).
    assert markers['Topic']['Reliability Policy'] == 'Reliable'


# -- boundaries -------------------------------------------------------------------------------

ROS_ONLY = ('rclpy', 'rcl_interfaces', 'launch', 'launch_ros', 'lifecycle_msgs', 'rosidl',
            'ament_index_python', 'builtin_interfaces', 'soft.msg', 'soft.srv', 'soft.action')
ROS_ALLOWED = {Path('graph/rclpy_host.py'), Path('graph/launch_support.py')}


def test_only_the_rclpy_host_imports_ros():
    offenders = []
    for path in sorted(SRC.rglob('*.py')):
        rel = path.relative_to(SRC)
        if rel in ROS_ALLOWED:
            continue
        for module in _imports(path):
            top = module.split('.')[0]
            if module.startswith(ROS_ONLY) or top in ROS_ONLY or top.endswith('_msgs'):
                offenders.append(f'{rel}: imports {module}')
        text = path.read_text(encoding='utf-8')
        if re.search(r'import_module\([^)]*(rclpy|_msgs|soft\.msg)', text):
            offenders.append(f'{rel}: imports ROS dynamically')
    assert not offenders, '\n'.join(offenders)
    assert 'rclpy' in {m.split('.')[0] for m in _imports(SRC / 'graph' / 'rclpy_host.py')}


WALL_CLOCK = {'time': {'time', 'time_ns', 'monotonic', 'monotonic_ns', 'perf_counter',
                       'perf_counter_ns', 'process_time', 'sleep'},
              'datetime': {'now', 'utcnow', 'today'}, 'date': {'today'}}
# Where reading the wall clock (or sleeping) is the job, by module and enclosing scope.
CLOCK_ALLOWED = {
    # The device driver stamps captured blocks: the one clock read of the audio chain.
    ('audio/drivers.py', 'host_clock_ns'), ('audio/drivers.py', 'DeviceDriver'),
    # The embedded host paces real-time runs.
    ('graph/embedded_host.py', 'EmbeddedHost.__init__'),
    ('graph/embedded_host.py', 'EmbeddedHost._sleep_until'),
    # Front-ends: progress display and the start time of a live run.
    ('demo.py', '*'), ('cli.py', '*'), ('evaluation/evaluate.py', '*'),
    # Offline training shows its progress; the offline generator comparison its run time.
    ('classify/train.py', 'Progress'), ('classify/spectralcompare.py', 'main'),
}


def _clock_reads(path: Path) -> list[tuple[str, str, int]]:
    found: list[tuple[str, str, int]] = []
    scope: list[str] = []

    class Visitor(ast.NodeVisitor):
        def _scoped(self, node):
            scope.append(node.name)
            self.generic_visit(node)
            scope.pop()

        visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

        def visit_Attribute(self, node):
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else \
                owner.attr if isinstance(owner, ast.Attribute) else ''
            if node.attr in WALL_CLOCK.get(name, ()):
                found.append(('.'.join(scope), f'{name}.{node.attr}', node.lineno))
            self.generic_visit(node)

        def visit_ImportFrom(self, node):
            for alias in node.names:
                if alias.name in WALL_CLOCK.get(node.module or '', ()):
                    found.append(('.'.join(scope), f'from {node.module} import {alias.name}',
                                  node.lineno))

    Visitor().visit(ast.parse(path.read_text(encoding='utf-8')))
    return found


def _clock_allowed(rel: str, where: str) -> bool:
    return any(rel == mod and (scope == '*' or where == scope or where.startswith(scope + '.'))
               for mod, scope in CLOCK_ALLOWED)


def test_components_and_domain_code_never_read_the_wall_clock():
    offenders = []
    for path in sorted(SRC.rglob('*.py')):
        rel = path.relative_to(SRC).as_posix()
        for where, what, line in _clock_reads(path):
            if not _clock_allowed(rel, where):
                offenders.append(f'{rel}:{line} in {where or "module"}: {what}')
    assert not offenders, 'pass `now` in instead:\n' + '\n'.join(offenders)


def test_the_clock_scan_finds_what_it_must(tmp_path):
    probe = tmp_path / 'probe.py'
    probe.write_text('import time\nfrom datetime import datetime\nfrom time import monotonic\n'
                     'class C:\n    def f(self):\n        return time.time_ns()\n'
                     'def g():\n    return datetime.now()\n')
    found = _clock_reads(probe)
    assert [(w, what) for w, what, _ in found] == [
        ('', 'from time import monotonic'), ('C.f', 'time.time_ns'), ('g', 'datetime.now')]
    assert _clock_allowed('audio/drivers.py', 'DeviceDriver._callback')
    assert not _clock_allowed('audio/drivers.py', 'FileDriver.read')
    assert not _clock_allowed('audio/detector.py', 'host_clock_ns')


# -- message conversion with stand-ins for the rosidl classes ------------------------------

# What rosidl_generator_py stores, written out independently of the converter.
TYPECODES = {'float32': 'f', 'float64': 'd', 'int8': 'b', 'uint8': 'B', 'int16': 'h',
             'uint16': 'H', 'int32': 'i', 'uint32': 'I', 'int64': 'q', 'uint64': 'Q',
             'char': 'B'}
INTS = {'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'char'}


def _check(value, node, where):
    kind, desc = node
    if kind == Nodetype.BASE:
        t = desc[0]
        ok = {'bool': isinstance(value, bool), 'string': isinstance(value, str),
              'wstring': isinstance(value, str), 'byte': isinstance(value, bytes)
              and len(value) == 1, 'float32': isinstance(value, float),
              'float64': isinstance(value, float)}.get(
            t, isinstance(value, int) and not isinstance(value, bool) and t in INTS)
        assert ok, f'{where}: {t} got {value!r}'
    elif kind == Nodetype.NAME:
        assert isinstance(value, standin(desc)), f'{where}: expected {desc}'
    else:
        (sub_kind, sub_desc), count = desc
        numeric = sub_kind == Nodetype.BASE and sub_desc[0] in TYPECODES
        if numeric and kind == Nodetype.ARRAY:
            assert isinstance(value, np.ndarray), f'{where}: rclpy wants numpy here'
            assert value.dtype == np.dtype(TYPECODES[sub_desc[0]]) and len(value) == count
        elif numeric:
            assert isinstance(value, array.array), f'{where}: rclpy wants array.array here'
            assert value.typecode == TYPECODES[sub_desc[0]], where
        else:
            assert isinstance(value, list), f'{where}: rclpy wants a list here'
            for i, v in enumerate(value):
                _check(v, (sub_kind, sub_desc), f'{where}[{i}]')


@lru_cache(maxsize=None)
def standin(typename: str) -> type:
    """A class that accepts exactly what the rosidl-generated class's setters accept."""
    fields = messages.typestore().fielddefs[typename][1]

    def __init__(self, **kwargs):
        assert set(kwargs) == {n for n, _ in fields}, f'{typename}: fields differ'
        for name, node in fields:
            _check(kwargs[name], node, f'{typename}.{name}')
            setattr(self, name, kwargs[name])

    return type(typename.replace('/', '__'), (), {'__init__': __init__})


CONVERTED_TYPES = messages.soft_types() + [
    'sensor_msgs/msg/CompressedImage', 'geometry_msgs/msg/PoseWithCovarianceStamped',
    'visualization_msgs/msg/MarkerArray', 'diagnostic_msgs/msg/DiagnosticArray',
    'std_msgs/msg/ByteMultiArray', 'std_msgs/msg/Char', 'rcl_interfaces/msg/ParameterValue']


@pytest.mark.parametrize('typename', CONVERTED_TYPES)
def test_conversion_round_trip_keeps_every_byte(typename):
    msg = sample_message(typename)
    ros = to_ros(msg, standin, typename)
    assert isinstance(ros, standin(typename))
    back = from_ros(ros, typename)
    assert type(back) is type(msg)
    assert messages.serialize(back) == messages.serialize(msg)


def test_conversion_moves_numeric_arrays_as_whole_buffers():
    incident = sample_message('soft/msg/Incident')
    incident.residuals_s = np.linspace(-1, 1, 100_000, dtype=np.float32)
    ros = to_ros(incident, standin)
    assert ros.residuals_s.typecode == 'f' and len(ros.residuals_s) == 100_000
    np.testing.assert_array_equal(np.frombuffer(ros.residuals_s, dtype=np.float32),
                                  incident.residuals_s)
    back = from_ros(ros, 'soft/msg/Incident')
    assert back.residuals_s.dtype == np.float32
    np.testing.assert_array_equal(back.residuals_s, incident.residuals_s)
    back.residuals_s[0] = 5.0  # a copy: the ROS message buffer is not shared
    assert ros.residuals_s[0] != 5.0
    assert ros.sensor_ids == incident.sensor_ids and ros.header.frame_id == \
        incident.header.frame_id


def test_conversion_errors_name_the_type_and_field():
    event = sample_message('soft/msg/AcousticEvent')
    event.header.frame_id = 7
    with pytest.raises(ConversionError, match=r'header\.frame_id: expected a string'):
        to_ros(event, standin)

    class Partial:
        header = sample_message('std_msgs/msg/Header')

    with pytest.raises(ConversionError, match='AcousticEvent: sensor_id: missing field'):
        from_ros(Partial(), 'soft/msg/AcousticEvent')
    pose = sample_message('geometry_msgs/msg/PoseWithCovariance')
    pose.covariance = np.zeros(35)
    with pytest.raises(ConversionError, match='covariance: expected 36 elements, got 35'):
        to_ros(pose, standin)
    image = sample_message('sensor_msgs/msg/CompressedImage')
    image.data = ['x']
    with pytest.raises(ConversionError, match='data: not an array of uint8'):
        to_ros(image, standin)
    with pytest.raises(ConversionError, match="unknown message type 'soft/msg/Nope'"):
        from_ros(object(), 'soft/msg/Nope')

    def refusing(typename):
        def make(**kwargs):
            raise AssertionError('The field must be a float')
        return make

    with pytest.raises(ConversionError, match=r'msg/Time: header\.stamp: The field must be'):
        to_ros(sample_message('soft/msg/AcousticEvent'), refusing)


def test_ros_import_paths():
    assert ros_import_path('soft/msg/AcousticEvent') == ('soft.msg', ('AcousticEvent',))
    assert ros_import_path('diagnostic_msgs/msg/DiagnosticArray') == \
        ('diagnostic_msgs.msg', ('DiagnosticArray',))
    assert ros_import_path('soft/srv/SetAlertState_Request') == \
        ('soft.srv', ('SetAlertState', 'Request'))
    assert ros_import_path('soft/action/PointAt_Feedback') == \
        ('soft.action', ('PointAt', 'Feedback'))
    for bad in ('soft/AcousticEvent', 'soft/srv/SetAlertState', 'soft/foo/X', '//'):
        with pytest.raises(ValueError):
            ros_import_path(bad)


# -- QoS and health ----------------------------------------------------------------------------

def test_qos_publishers_are_reliable_subscriptions_follow_the_intent():
    events = qos_settings('events', 'subscription')
    assert (events.reliability, events.durability, events.depth) == \
        ('reliable', 'volatile', 100)
    site = qos_settings('site', 'publisher')
    assert (site.reliability, site.durability, site.depth) == ('reliable', 'transient_local', 1)
    assert qos_settings('alerts', 'subscription').durability == 'transient_local'
    # A best-effort publisher would be invisible to rviz2's and the aggregator's defaults.
    assert qos_settings('diagnostics', 'publisher').reliability == 'reliable'
    assert qos_settings('markers', 'subscription').reliability == 'best_effort'
    with pytest.raises(ValueError, match='unknown QoS intent'):
        qos_settings('loud', 'publisher')
    with pytest.raises(ValueError, match='neither publisher nor subscription'):
        qos_settings('events', 'server')


def test_host_health_reports_rejections_and_faults_per_period():
    health = HostHealth('/sensor_s01/sensor')
    arr = health.status(1_000_000_000, {'noise_floor_db': '41.0'}, 'active')
    (status,) = arr.status
    assert status.level == DIAG_OK and status.message == 'active'
    assert status.name == 'soft/host/sensor_s01/sensor'
    assert status.hardware_id == '/sensor_s01/sensor'
    assert {kv.key: kv.value for kv in status.values}['noise_floor_db'] == '41.0'
    health.received['in'] += 3
    health.rejected['in'] += 1
    health.last_error = 'in: NaN confidence'
    (status,) = health.status(2_000_000_000, {}, 'active').status
    assert status.level == DIAG_WARN and 'NaN confidence' in status.message
    values = {kv.key: kv.value for kv in status.values}
    assert values['messages_rejected'] == '1' and values['received in'] == '3'
    (status,) = health.status(3_000_000_000, {}, 'active').status
    assert status.level == DIAG_OK  # a new period: nothing new went wrong
    health.faults['timer:capture'] += 2
    health.last_error = 'timer:capture: OSError: gone'
    arr = health.status(4_000_000_000, {}, 'active')
    assert arr.status[0].level == DIAG_ERROR and '2 callback error(s)' in arr.status[0].message
    assert messages.stamp_ns(arr.header.stamp) == 4_000_000_000
    ros = to_ros(arr, standin)  # what the host publishes on /diagnostics
    assert ros.status[0].values[0].key == 'state'
