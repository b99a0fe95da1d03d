"""ROS-only tests of the rclpy host and the launch files (skipped where ROS 2 is absent).

Run them on a ROS 2 Jazzy machine against the built package, e.g. ``colcon test
--packages-select soft`` or, after ``source install/setup.bash``, ``python3 -m pytest
test/test_ros_rclpy.py`` (without ``PYTHONPATH=src``: the generated ``soft.msg`` lives in the
installed package). Audio is only read, from a shared recording, never written.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip('rclpy')
soft_msg = pytest.importorskip('soft.msg', reason='soft interfaces not built (colcon build)')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.context import Context  # noqa: E402
from lifecycle_msgs.srv import GetState  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402

from soft.graph.rclpy_host import HostError, make_node  # noqa: E402
from soft.graph.sensor_node import SensorComponent  # noqa: E402
from soft.paths import default_model  # noqa: E402

CLIP = Path(os.environ.get('SOFT_TEST_CLIP', '/work/shared/data/devset/sesa/gunshot/'
                                             'gunshot_000.flac'))


@pytest.fixture
def context():
    ctx = Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def test_every_parameter_is_declared_with_its_descriptor(context):
    node = make_node('sensor', context=context)
    try:
        for p in SensorComponent.params:
            d = node.describe_parameter(p.name)
            assert d.description == p.description
            assert d.read_only == p.read_only
            assert node.get_parameter(p.name).value == p.default
        rate = node.describe_parameter('sample_rate')
        assert (rate.integer_range[0].from_value, rate.integer_range[0].to_value) == \
            (8000, 96000)
        snr = node.describe_parameter('min_snr_db')
        assert (snr.floating_point_range[0].from_value,
                snr.floating_point_range[0].to_value) == (0.0, 60.0)
        assert 'one of: sim, file, device' in node.describe_parameter('driver') \
            .additional_constraints
    finally:
        node.destroy_node()


def test_runtime_changes_are_validated(context):
    node = make_node('sensor', context=context)
    try:
        ok, read_only, out_of_range = node.set_parameters([
            Parameter('min_snr_db', value=9.0), Parameter('sample_rate', value=48000),
            Parameter('min_snr_db', value=99.0)])
        assert ok.successful
        assert not read_only.successful and 'read-only' in read_only.reason
        assert not out_of_range.successful
        assert node.get_parameter('min_snr_db').value == 9.0
        assert node.get_parameter('sample_rate').value == 16000
    finally:
        node.destroy_node()


def test_a_wrongly_typed_override_refuses_to_start(context):
    with pytest.raises(HostError, match='sample_rate'):
        make_node('sensor', context=context,
                  parameter_overrides=[Parameter('sample_rate', value=16000.5)])


def test_an_invalid_choice_fails_configure_and_stays_unconfigured(context):
    node = make_node('sensor', context=context,
                     parameter_overrides=[Parameter('driver', value='tape')])
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert node.host.component is None and not node.host.publishers
    finally:
        node.destroy_node()


def test_sensor_lifecycle_on_a_file_with_simulated_time(context):
    if not CLIP.is_file():
        pytest.skip(f'no test recording at {CLIP} (set SOFT_TEST_CLIP)')
    if not default_model().is_file():
        pytest.skip('no shipped classifier model')
    node = make_node('sensor', context=context, parameter_overrides=[
        Parameter('sensor_id', value='s01'), Parameter('driver', value='file'),
        Parameter('file_path', value=str(CLIP)), Parameter('diagnostics_period_s', value=0.5),
        Parameter('use_sim_time', value=True)])
    probe = rclpy.create_node('probe', context=context)
    clock = probe.create_publisher(Clock, '/clock', 10)
    events, diagnostics = [], []
    probe.create_subscription(soft_msg.AcousticEvent, '/events', events.append, 100)
    probe.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(probe)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.count_publishers('/events') == 1
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert set(node.host.timers) >= {'capture', 'diagnostics'}
        for step in range(1, 81):  # 4 s of simulated time in 50 ms steps
            msg = Clock()
            msg.clock.sec, msg.clock.nanosec = divmod(step * 50_000_000, 1_000_000_000)
            clock.publish(msg)
            for _ in range(3):
                executor.spin_once(timeout_sec=0.01)
        names = {s.name for arr in diagnostics for s in arr.status}
        assert 'soft/host/sensor' in names, names
        # Stamps come from the simulated clock, not from the wall clock.
        assert all(arr.header.stamp.sec < 10 for arr in diagnostics)
        for event in events:
            assert event.sensor_id == 's01' and event.header.frame_id == 'sensor_s01'
            assert event.header.stamp.sec < 10
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert not node.host.timers and not node.host.subscriptions
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert node.host.component is None
    finally:
        executor.shutdown()
        probe.destroy_node()
        node.destroy_node()


def test_sensors_launch_brings_a_sensor_to_active(context):
    """The launch file's lifecycle events configure and activate the node (simulator)."""
    launch = pytest.importorskip('launch')
    pytest.importorskip('launch_testing')
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    try:
        share = Path(get_package_share_directory('soft'))
    except PackageNotFoundError:
        pytest.skip('soft is not installed (source install/setup.bash)')
    if not default_model().is_file():
        pytest.skip('no shipped classifier model')
    service = launch.LaunchService(argv=[])
    service.include_launch_description(launch.LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(share / 'launch' / 'sensors.launch.py')),
        launch_arguments=[('sensors', 's01'), ('driver', 'sim')])]))
    probe = rclpy.create_node('launch_probe', context=context)
    client = probe.create_client(GetState, '/sensor_s01/sensor/get_state')
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(probe)
    result = {}

    def watch():
        deadline = time.monotonic() + 90.0
        try:
            while time.monotonic() < deadline:
                if client.wait_for_service(timeout_sec=1.0):
                    future = client.call_async(GetState.Request())
                    executor.spin_until_future_complete(future, timeout_sec=5.0)
                    if future.result() is not None:
                        result['state'] = future.result().current_state.label
                        if result['state'] == 'active':
                            result['publishers'] = probe.count_publishers(
                                '/sensor_s01/events')
                            return
                time.sleep(0.5)
        finally:
            service.shutdown()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        service.run()
        watcher.join(timeout=10.0)
        assert result.get('state') == 'active', result
        assert result['publishers'] == 1
    finally:
        executor.shutdown()
        probe.destroy_node()
