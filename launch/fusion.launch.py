"""The centre's fusion node: associates every sensor's events and locates incidents.

It listens on /soft/events (all sensors publish there) and publishes soft/incidents.

    ros2 launch soft fusion.launch.py site_file:=/path/to/site.yaml
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from soft.graph.registry import EVENTS_TOPIC


def generate_launch_description():
    share = FindPackageShare('soft')
    return LaunchDescription([
        DeclareLaunchArgument(
            'site_file',
            default_value=PathJoinSubstitution([share, 'config', 'sites',
                                                'saint_etienne_tarentaize.yaml']),
            description='Site file (YAML, WGS84) giving the sensor positions.'),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution([share, 'config', 'params', 'fusion.yaml']),
            description='ROS parameter file for the fusion node.'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false', choices=['true', 'false'],
            description='Follow /clock (bag replay, simulation) instead of the system clock.'),
        Node(
            package='soft', executable='fusion_node', name='fusion', namespace='soft',
            output='screen',
            emulate_tty=True, remappings=[('events', EVENTS_TOPIC)],
            parameters=[LaunchConfiguration('params_file'), {
                'site_file': LaunchConfiguration('site_file'),
                'use_sim_time': LaunchConfiguration('use_sim_time'),
            }]),
    ])
