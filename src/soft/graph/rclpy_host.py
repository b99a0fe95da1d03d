"""The rclpy host: any registry component as an idiomatic ROS 2 node.

Parameters are declared with descriptors (description, type, range, read-only), read once into
the component's typed config at configure time, and changed at run time only through a
validating callback. Ports become publishers and subscriptions with the QoS of their intent,
except private ports (raw audio), which never reach the ROS graph. Timers run on the node clock,
so ``use_sim_time`` drives a replay, and ``now`` is that clock in nanoseconds. Components that
own resources run as lifecycle nodes: configure loads, activate starts subscriptions and timers,
deactivate and cleanup undo that in reverse. A message a component refuses, or an exception in
one of its callbacks, is counted, logged with the node's name and reported on /diagnostics; the
node keeps running.

This is the only module of the package that imports rclpy; everything that can be tested
without ROS lives in ``ros_conversions`` and ``params_yaml``.
"""
from __future__ import annotations

import importlib
import traceback
from functools import lru_cache, partial
from typing import Any

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
import rclpy
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from soft.graph import registry
from soft.graph.component import Component, InputError, Log, Outputs, ParamError, Port
from soft.graph.params_yaml import check_runtime_change, descriptor_spec, from_ros_value
from soft.graph.ros_conversions import (ConversionError, HostHealth, from_ros, qos_settings,
                                        ros_import_path, to_ros)

DIAGNOSTICS_TOPIC = '/diagnostics'
DIAGNOSTICS_TYPE = 'diagnostic_msgs/msg/DiagnosticArray'
DEFAULT_DIAGNOSTICS_PERIOD_S = 5.0
HOST_DIAGNOSTICS_TIMER = '_host_diagnostics'


class HostError(RuntimeError):
    """The component cannot start: a parameter refused or configure() failed."""


@lru_cache(maxsize=None)
def ros_class(typename: str) -> Any:
    """The rosidl class of 'soft/msg/AcousticEvent', 'diagnostic_msgs/msg/DiagnosticArray'..."""
    module, attrs = ros_import_path(typename)
    obj: Any = importlib.import_module(module)
    for attr in attrs:
        obj = getattr(obj, attr)
    return obj


def qos_profile(intent_name: str, role: str) -> QoSProfile:
    s = qos_settings(intent_name, role)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=s.depth,
        reliability=(ReliabilityPolicy.RELIABLE if s.reliability == 'reliable'
                     else ReliabilityPolicy.BEST_EFFORT),
        durability=(DurabilityPolicy.TRANSIENT_LOCAL if s.durability == 'transient_local'
                    else DurabilityPolicy.VOLATILE))


def parameter_descriptor(param: Any) -> ParameterDescriptor:
    spec = descriptor_spec(param)
    desc = ParameterDescriptor(name=spec.name, type=spec.type, description=spec.description,
                               additional_constraints=spec.additional_constraints,
                               read_only=spec.read_only)
    if spec.integer_range is not None:
        desc.integer_range = [IntegerRange(from_value=spec.integer_range[0],
                                           to_value=spec.integer_range[1], step=0)]
    if spec.floating_point_range is not None:
        desc.floating_point_range = [FloatingPointRange(
            from_value=spec.floating_point_range[0], to_value=spec.floating_point_range[1],
            step=0.0)]
    return desc


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    return f' at {frames[-1].filename}:{frames[-1].lineno}' if frames else ''


class ComponentHost:
    """Binds one component to the node carrying it; the node decides when each step runs."""

    def __init__(self, node: Node, cls: type[Component], lifecycle: bool):
        self.node = node
        self.cls = cls
        self.lifecycle = lifecycle
        self.component: Component | None = None
        self.active = False
        self.publishers: dict[str, tuple[Any, str]] = {}
        self.subscriptions: list[Any] = []
        self.timers: dict[str, Any] = {}
        self.health = HostHealth(node.get_fully_qualified_name())
        self._declare_parameters()
        # Registered after declaring: rclpy runs on-set callbacks for declarations too.
        node.add_on_set_parameters_callback(self._on_set_parameters)
        for port in cls.inputs + cls.outputs:
            if port.private:
                node.get_logger().info(f'private port {port.topic} stays in-process and is '
                                       'not exposed on ROS')

    # -- parameters -----------------------------------------------------------------------
    def _declare_parameters(self) -> None:
        for p in self.cls.params:
            try:
                self.node.declare_parameter(p.name, p.default, parameter_descriptor(p))
            except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
                raise HostError(f'{self.health.node}: parameter {p.name!r} refused: {exc}') \
                    from None

    def read_config(self) -> dict[str, Any]:
        """The typed config, validated as a whole; a ParamError becomes a HostError."""
        given = {p.name: from_ros_value(self.node.get_parameter(p.name).value)
                 for p in self.cls.params}
        try:
            return self.cls.validate_params(given)
        except ParamError as exc:
            raise HostError(f'{self.health.node}: {exc}') from None

    def _on_set_parameters(self, params: list[Any]) -> SetParametersResult:
        current = self.component.config if self.component is not None else {}
        try:
            changes = check_runtime_change(self.cls, {p.name: p.value for p in params},
                                           current)
        except ParamError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if changes and self.component is not None:
            # Components read their config when they use it; timers are re-armed here.
            self.component.config.update(changes)
            self._restart_timers(set(changes))
            self.node.get_logger().info(
                'parameters changed: ' + ', '.join(f'{k}={v!r}' for k, v in changes.items()))
        return SetParametersResult(successful=True)

    # -- lifecycle steps --------------------------------------------------------------------
    def configure(self) -> None:
        config = self.read_config()
        self.component = self.cls(config, Outputs(self._publish,
                                                  [p.topic for p in self.cls.outputs]),
                                  Log(self._log))
        try:
            self._create_publishers()
            self.component.configure()
        except Exception as exc:  # noqa: BLE001 - a missing device or model is reported
            self._destroy_publishers()
            self.component = None
            raise HostError(f'{self.health.node}: configure failed: '
                            f'{type(exc).__name__}: {exc}{_where(exc)}') from exc

    def activate(self) -> None:
        assert self.component is not None, 'activate before configure'
        self.component.activate()
        for port in self.cls.inputs:
            if not port.private:
                self.subscriptions.append(self.node.create_subscription(
                    ros_class(port.msg_type), port.topic, partial(self._on_message, port),
                    qos_profile(port.qos, 'subscription')))
        for timer in self.cls.timers:
            self._start_timer(timer.name, self.cls.timer_period(timer, self.component.config))
        self._start_timer(HOST_DIAGNOSTICS_TIMER, self._diagnostics_period())
        self.active = True

    def deactivate(self) -> None:
        for timer in self.timers.values():
            self.node.destroy_timer(timer)
        self.timers.clear()
        for sub in self.subscriptions:
            self.node.destroy_subscription(sub)
        self.subscriptions.clear()
        self.active = False
        if self.component is not None:
            self.component.deactivate()

    def cleanup(self) -> None:
        if self.component is not None:
            self.component.cleanup()
        self._destroy_publishers()
        self.component = None

    def release(self) -> None:
        """Undo whatever was done, in reverse, logging rather than raising (shutdown, error).

        Cleanup runs even when deactivate fails: a device must still be closed.
        """
        if self.active:
            try:
                self.deactivate()
            except Exception as exc:  # noqa: BLE001 - keep releasing
                self.active = False
                self.node.get_logger().error(f'deactivate failed: {type(exc).__name__}: '
                                             f'{exc}{_where(exc)}')
        if self.component is not None or self.publishers:
            try:
                self.cleanup()
            except Exception as exc:  # noqa: BLE001
                self.component = None
                self.publishers.clear()
                self.node.get_logger().error(f'cleanup failed: {type(exc).__name__}: '
                                             f'{exc}{_where(exc)}')

    # -- entities ---------------------------------------------------------------------------
    def _create_publishers(self) -> None:
        ports = [p for p in self.cls.outputs if not p.private]
        if not any(p.topic == DIAGNOSTICS_TOPIC for p in ports):
            ports.append(Port(DIAGNOSTICS_TOPIC, DIAGNOSTICS_TYPE, 'diagnostics',
                              'Host health of this node.'))
        create = (self.node.create_lifecycle_publisher if self.lifecycle
                  else self.node.create_publisher)
        for port in ports:
            pub = create(ros_class(port.msg_type), port.topic,
                         qos_profile(port.qos, 'publisher'))
            self.publishers[port.topic] = (pub, port.msg_type)

    def _destroy_publishers(self) -> None:
        destroy = (self.node.destroy_lifecycle_publisher if self.lifecycle
                   else self.node.destroy_publisher)
        for pub, _ in self.publishers.values():
            destroy(pub)
        self.publishers.clear()

    def _start_timer(self, name: str, period_s: float) -> None:
        if period_s <= 0:
            raise HostError(f'{self.health.node}: timer {name!r} has a non-positive period')
        # The node clock: ROS time, hence simulated time when use_sim_time is set.
        self.timers[name] = self.node.create_timer(period_s, partial(self._on_timer, name))

    def _restart_timers(self, changed: set[str]) -> None:
        if not self.active or self.component is None:
            return
        for timer in self.cls.timers:
            if timer.period_param in changed and timer.name in self.timers:
                self.node.destroy_timer(self.timers.pop(timer.name))
                self._start_timer(timer.name,
                                  self.cls.timer_period(timer, self.component.config))
        if 'diagnostics_period_s' in changed:
            self.node.destroy_timer(self.timers.pop(HOST_DIAGNOSTICS_TIMER))
            self._start_timer(HOST_DIAGNOSTICS_TIMER, self._diagnostics_period())

    def _diagnostics_period(self) -> float:
        config = self.component.config if self.component is not None else {}
        return float(config.get('diagnostics_period_s', DEFAULT_DIAGNOSTICS_PERIOD_S))

    # -- callbacks --------------------------------------------------------------------------
    def now(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def _log(self, level: str, text: str) -> None:
        logger = self.node.get_logger()
        {'info': logger.info, 'warn': logger.warning}.get(level, logger.error)(text)

    def _publish(self, topic: str, msg: Any) -> None:
        entry = self.publishers.get(topic)
        if entry is None:
            return  # a private port: in-process only, never on the ROS graph
        pub, msg_type = entry
        pub.publish(to_ros(msg, ros_class, msg_type))
        self.health.published[topic] += 1

    def _on_message(self, port: Port, ros_msg: Any) -> None:
        if self.component is None:
            return
        self.health.received[port.topic] += 1
        try:
            self.component.on_message(port.topic, from_ros(ros_msg, port.msg_type), self.now())
        except (InputError, ConversionError) as exc:
            self.health.rejected[port.topic] += 1
            self.health.last_error = f'{port.topic}: {exc}'
            self.node.get_logger().warning(f'rejected message on {port.topic}: {exc}',
                                           throttle_duration_sec=1.0)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the node
            self._fault(port.topic, exc)

    def _on_timer(self, name: str) -> None:
        if self.component is None:
            return
        now = self.now()
        try:
            if name == HOST_DIAGNOSTICS_TIMER:
                state = 'active' if self.active else 'inactive'
                self._publish(DIAGNOSTICS_TOPIC, self.health.status(
                    now, self.component.diagnostics(now), state))
            else:
                self.component.on_timer(name, now)
        except Exception as exc:  # noqa: BLE001
            self._fault(f'timer:{name}', exc)

    def _fault(self, where: str, exc: Exception) -> None:
        self.health.faults[where] += 1
        self.health.last_error = f'{where}: {type(exc).__name__}: {exc}'
        self.node.get_logger().error(f'{where}: {type(exc).__name__}: {exc}{_where(exc)}',
                                     throttle_duration_sec=1.0)


class ComponentNode(Node):
    """A component without resources: configured and active from construction."""

    def __init__(self, cls: type[Component], **kwargs: Any):
        super().__init__(cls.name, **kwargs)
        self.host = ComponentHost(self, cls, lifecycle=False)
        try:
            self.host.configure()
            self.host.activate()
        except Exception:
            self.host.release()
            raise

    def destroy_node(self) -> None:
        self.host.release()
        super().destroy_node()


class ComponentLifecycleNode(LifecycleNode):
    """A component that owns a device, a model or a link: launch drives its transitions."""

    def __init__(self, cls: type[Component], **kwargs: Any):
        super().__init__(cls.name, **kwargs)
        self.host = ComponentHost(self, cls, lifecycle=True)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.host.configure()
        except Exception as exc:  # noqa: BLE001 - rclpy would turn it into a silent ERROR
            self.get_logger().error(f'refusing to configure: {exc}')
            return TransitionCallbackReturn.FAILURE
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        # Publishers first, so that the first tick can publish.
        ret = super().on_activate(state)
        if ret != TransitionCallbackReturn.SUCCESS:
            return ret
        try:
            self.host.activate()
        except Exception as exc:  # noqa: BLE001
            self.get_logger().error(f'activate failed: {type(exc).__name__}: {exc}'
                                    f'{_where(exc)}')
            self.host.deactivate()
            super().on_deactivate(state)
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.host.deactivate()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        ret = super().on_cleanup(state)
        self.host.cleanup()
        return ret

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.host.release()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error(f'error while in {state.label}: releasing the component')
        self.host.release()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self.host.release()
        super().destroy_node()


def make_node(key: str, **node_kwargs: Any) -> Node:
    """The node for a registry key: lifecycle when the component owns resources."""
    cls = registry.load(key)
    node_cls = ComponentLifecycleNode if cls.owns_resources else ComponentNode
    return node_cls(cls, **node_kwargs)


def run_component(key: str, args: list[str] | None = None) -> int:
    """Entry point of the ``lib/soft/<key>_node`` executables; returns the exit status."""
    rclpy.init(args=args)
    node = None
    try:
        node = make_node(key)
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except HostError as exc:
        get_logger(key).fatal(str(exc))
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
