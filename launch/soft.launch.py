"""The whole site on one ROS graph: one included launch file per subsystem.

    ros2 launch soft soft.launch.py use_sim_time:=false
    ros2 launch soft soft.launch.py start_sensors:=false   # centre only, sensors on gateways

Operators watch it in rviz2 with the shipped view (map frame, soft/markers, TF):

    rviz2 -d $(ros2 pkg prefix --share soft)/config/soft.rviz
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    share = FindPackageShare('soft')
    site_file = LaunchConfiguration('site_file')
    use_sim_time = LaunchConfiguration('use_sim_time')
    autostart = LaunchConfiguration('autostart')
    return LaunchDescription([
        DeclareLaunchArgument(
            'site_file',
            default_value=PathJoinSubstitution([share, 'config', 'sites',
                                                'saint_etienne_tarentaize.yaml']),
            description='Site file (YAML, WGS84): sensors, cameras, docks, zones.'),
        DeclareLaunchArgument(
            'scenario_file', default_value='',
            description='Scenario the district simulator plays when sensor_driver is sim; '
                        'empty: background only.'),
        DeclareLaunchArgument(
            'sensor_driver', default_value='sim', choices=['sim', 'file', 'device'],
            description='Audio source of the sensors started here.'),
        DeclareLaunchArgument(
            'sensor_params_file',
            default_value=PathJoinSubstitution([share, 'config', 'params', 'sensor.yaml']),
            description='ROS parameter file for the sensor nodes.'),
        DeclareLaunchArgument(
            'fusion_params_file',
            default_value=PathJoinSubstitution([share, 'config', 'params', 'fusion.yaml']),
            description='ROS parameter file for the fusion node.'),
        DeclareLaunchArgument(
            'start_sensors', default_value='true', choices=['true', 'false'],
            description='Start the sensor nodes here (false when gateways run them).'),
        DeclareLaunchArgument(
            'use_sim_time', default_value='false', choices=['true', 'false'],
            description='Every node follows /clock (bag replay, simulation) instead of the '
                        'system clock.'),
        DeclareLaunchArgument(
            'autostart', default_value='true', choices=['true', 'false'],
            description='Configure and activate the lifecycle nodes at start-up.'),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(
                PathJoinSubstitution([share, 'launch', 'sensors.launch.py'])),
            condition=IfCondition(LaunchConfiguration('start_sensors')),
            launch_arguments={
                'site_file': site_file,
                'scenario_file': LaunchConfiguration('scenario_file'),
                'driver': LaunchConfiguration('sensor_driver'),
                'params_file': LaunchConfiguration('sensor_params_file'),
                'use_sim_time': use_sim_time,
                'autostart': autostart,
            }.items()),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(
                PathJoinSubstitution([share, 'launch', 'fusion.launch.py'])),
            launch_arguments={
                'site_file': site_file,
                'params_file': LaunchConfiguration('fusion_params_file'),
                'use_sim_time': use_sim_time,
            }.items()),
    ])
