"""One sensor on a real microphone: what a street-corner gateway runs.

The node lives in namespace ``sensor_<id>`` and publishes ``sensor_<id>/events`` and
``/diagnostics``; audio stays in the process. The microphone sensitivity comes from the
``sensitivity_dbfs`` argument or, when that is empty, from the sensor's entry in the site file.

    ros2 launch soft sensor_device.launch.py sensor_id:=s07 device:=hw:1,0
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.substitutions import FindPackageShare

from soft.graph.launch_support import flag, lifecycle
from soft.graph.registry import EVENTS_TOPIC
from soft.site import load_site


def _sensor_node(context):
    sensor_id = LaunchConfiguration('sensor_id').perform(context).strip()
    if not sensor_id:
        raise ValueError('launch argument sensor_id is empty')
    sensitivity_text = LaunchConfiguration('sensitivity_dbfs').perform(context).strip()
    if sensitivity_text:
        try:
            sensitivity = float(sensitivity_text)
        except ValueError:
            raise ValueError('launch argument sensitivity_dbfs: expected a number, got '
                             f'{sensitivity_text!r}') from None
    else:
        site = load_site(LaunchConfiguration('site_file').perform(context))
        sensitivity = float(site.sensor(sensor_id).sensitivity_dbfs)

    node = LifecycleNode(
        package='soft', executable='sensor_node', name='sensor',
        namespace=f'sensor_{sensor_id}', output='screen', emulate_tty=True,
        remappings=[('events', EVENTS_TOPIC)],
        respawn=flag(context, 'respawn'), respawn_delay=2.0,
        arguments=['--ros-args', '--log-level',
                   LaunchConfiguration('log_level').perform(context)],
        parameters=[LaunchConfiguration('params_file').perform(context), {
            'sensor_id': sensor_id,
            'driver': 'device',
            'device': LaunchConfiguration('device').perform(context),
            'sensitivity_dbfs': sensitivity,
            'use_sim_time': False,
        }])
    return lifecycle(node, flag(context, 'autostart'))


def generate_launch_description():
    share = FindPackageShare('soft')
    return LaunchDescription([
        DeclareLaunchArgument(
            'sensor_id',
            description='Sensor identifier as in the site file (e.g. s07); required.'),
        DeclareLaunchArgument(
            'device', default_value='',
            description='PortAudio/ALSA input device name or index; empty uses the '
                        'system default input.'),
        DeclareLaunchArgument(
            'sensitivity_dbfs', default_value='',
            description='Microphone sensitivity, dBFS of a 94 dB SPL tone; empty reads it '
                        'from the site file.'),
        DeclareLaunchArgument(
            'site_file',
            default_value=PathJoinSubstitution([share, 'config', 'sites',
                                                'saint_etienne_tarentaize.yaml']),
            description='Site file to read the sensitivity from when sensitivity_dbfs is '
                        'empty.'),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution([share, 'config', 'params', 'sensor.yaml']),
            description='ROS parameter file for the sensor node (sample rate, block, '
                        'detector thresholds).'),
        DeclareLaunchArgument(
            'autostart', default_value='true', choices=['true', 'false'],
            description='Configure and activate the lifecycle node at start-up.'),
        DeclareLaunchArgument(
            'respawn', default_value='true', choices=['true', 'false'],
            description='Restart the node if it exits (unplugged microphone, crash).'),
        DeclareLaunchArgument(
            'log_level', default_value='info',
            choices=['debug', 'info', 'warn', 'error', 'fatal'],
            description='Log level of the sensor node.'),
        OpaqueFunction(function=_sensor_node),
    ])
