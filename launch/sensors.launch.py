"""One sensor node per sensor of the site file, each in its own namespace ``sensor_<id>``.

Every node gets the parameters of ``params_file`` first, then its own: sensor id and microphone
sensitivity from the site file, and the shared driver, site and scenario. Sensor nodes are
lifecycle nodes (they own a microphone and a model session): with ``autostart:=true`` launch
configures them and, once configured, activates them; otherwise drive them with
``ros2 lifecycle set /sensor_<id>/sensor configure`` and ``activate``.

    ros2 launch soft sensors.launch.py sensors:=s01,s02 use_sim_time:=true
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.substitutions import FindPackageShare

from soft.graph.launch_support import flag, lifecycle
from soft.graph.registry import EVENTS_TOPIC
from soft.site import load_site


def _sensor_nodes(context):
    site_file = LaunchConfiguration('site_file').perform(context)
    params_file = LaunchConfiguration('params_file').perform(context)
    driver = LaunchConfiguration('driver').perform(context)
    scenario_file = LaunchConfiguration('scenario_file').perform(context)
    seed_text = LaunchConfiguration('seed').perform(context)
    log_level = LaunchConfiguration('log_level').perform(context)
    use_sim_time = flag(context, 'use_sim_time')
    autostart = flag(context, 'autostart')
    try:
        seed = int(seed_text)
    except ValueError:
        raise ValueError(f'launch argument seed: expected an integer, got {seed_text!r}') \
            from None

    site = load_site(site_file)
    known = site.sensor_ids()
    wanted = [s.strip() for s in LaunchConfiguration('sensors').perform(context).split(',')
              if s.strip()]
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ValueError(f'launch argument sensors: {", ".join(unknown)} not in {site_file} '
                         f'(known: {", ".join(known)})')

    actions = []
    for sensor_id in wanted or known:
        node = LifecycleNode(
            package='soft', executable='sensor_node', name='sensor',
            namespace=f'sensor_{sensor_id}', output='screen', emulate_tty=True,
            remappings=[('events', EVENTS_TOPIC)],
            arguments=['--ros-args', '--log-level', log_level],
            parameters=[params_file, {
                'sensor_id': sensor_id,
                'sensitivity_dbfs': float(site.sensor(sensor_id).sensitivity_dbfs),
                'driver': driver,
                'site_file': site_file,
                'scenario_file': scenario_file,
                'seed': seed,
                'use_sim_time': use_sim_time,
            }])
        actions += lifecycle(node, autostart)
    return actions


def generate_launch_description():
    share = FindPackageShare('soft')
    return LaunchDescription([
        DeclareLaunchArgument(
            'site_file',
            default_value=PathJoinSubstitution([share, 'config', 'sites',
                                                'saint_etienne_tarentaize.yaml']),
            description='Site file (YAML, WGS84) listing the sensors and their sensitivities.'),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution([share, 'config', 'params', 'sensor.yaml']),
            description='ROS parameter file for every sensor node, applied before the '
                        'per-sensor values taken from the site file.'),
        DeclareLaunchArgument(
            'sensors', default_value='',
            description='Comma-separated sensor ids to start (e.g. s01,s02); '
                        'empty starts every sensor of the site file.'),
        DeclareLaunchArgument(
            'driver', default_value='sim', choices=['sim', 'file', 'device'],
            description='Audio source of the sensors: sim (district simulator), file or '
                        'device (file and device settings come from params_file).'),
        DeclareLaunchArgument(
            'scenario_file', default_value='',
            description='Scenario the simulator plays (driver=sim); empty: background only.'),
        DeclareLaunchArgument(
            'seed', default_value='0',
            description='Simulator seed (driver=sim); the same seed replays the same sounds.'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false', choices=['true', 'false'],
            description='Follow the /clock topic (bag replay, simulation) instead of the '
                        'system clock.'),
        DeclareLaunchArgument(
            'autostart', default_value='true', choices=['true', 'false'],
            description='Configure and activate the sensor lifecycle nodes at start-up.'),
        DeclareLaunchArgument(
            'log_level', default_value='info',
            choices=['debug', 'info', 'warn', 'error', 'fatal'],
            description='Log level of the sensor nodes.'),
        OpaqueFunction(function=_sensor_nodes),
    ])
