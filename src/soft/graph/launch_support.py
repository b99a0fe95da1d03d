"""Launch helpers shared by the launch files: boolean arguments and lifecycle autostart.

Only launch files import this module (it imports ``launch``); domain code never does.
"""
from launch.actions import EmitEvent, RegisterEventHandler
from launch.event_handlers import OnProcessStart
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition


def flag(context, name):
    text = LaunchConfiguration(name).perform(context).strip().lower()
    if text not in ('true', 'false'):
        raise ValueError(f'launch argument {name}: expected true or false, got {text!r}')
    return text == 'true'


def lifecycle(node, autostart):
    """The node, configured each time its process starts and activated once configured.

    Triggered by the process start rather than emitted once, so that a respawned node comes
    back active too. A manual cleanup then configure also ends active.
    """
    if not autostart:
        return [node]
    matcher = matches_action(node)
    configure = RegisterEventHandler(OnProcessStart(
        target_action=node,
        on_start=[EmitEvent(event=ChangeState(
            lifecycle_node_matcher=matcher, transition_id=Transition.TRANSITION_CONFIGURE))]))
    activate = RegisterEventHandler(OnStateTransition(
        target_lifecycle_node=node, start_state='configuring', goal_state='inactive',
        entities=[EmitEvent(event=ChangeState(
            lifecycle_node_matcher=matcher, transition_id=Transition.TRANSITION_ACTIVATE))]))
    return [configure, activate, node]
