"""The component API and the embedded host: parameters, scheduling, delivery, faults, CDR.

Small real components built here exercise the host; every soft message type goes through a
real CDR round trip with the same rosbags type store the hosts use.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from rosbags.interfaces import Nodetype

from soft.graph import messages
from soft.graph.component import (Component, InputError, Log, Outputs, Param, ParamError, Port,
                                  Timer)
from soft.graph.embedded_host import EmbeddedHost, resolve
from soft.graph.sensor_node import SensorComponent

STRING = 'std_msgs/msg/String'


def text(msg_text: str):
    return messages.msg_class(STRING)(data=msg_text)


# -- parameters -----------------------------------------------------------------------------

class Configurable(Component):
    name = 'configurable'
    params = (
        Param('rate', 16000, 'Sample rate, Hz.', min=8000, max=96000),
        Param('gain_db', 0.0, 'Gain, dB.', min=-20.0, max=20.0),
        Param('mode', 'sim', 'Source.', choices=('sim', 'file')),
        Param('loop', False, 'Loop the file.'),
        Param('device', '', 'Device name.', read_only=True),
        Param('weights', [1.0, 2.0], 'Weights, no unit.', min=0.0),
        Param('names', ['a'], 'Names.'),
    )


def test_param_types_are_coerced_or_refused_with_the_name():
    assert Configurable.param('rate').validate(16000.0) == 16000
    assert isinstance(Configurable.param('rate').validate(16000.0), int)
    assert Configurable.param('gain_db').validate(3) == 3.0
    assert isinstance(Configurable.param('gain_db').validate(3), float)
    with pytest.raises(ParamError, match="'rate'.*integer"):
        Configurable.param('rate').validate(16000.5)
    with pytest.raises(ParamError, match="'rate'.*number"):
        Configurable.param('rate').validate('16000')
    with pytest.raises(ParamError, match="'rate'.*number"):
        Configurable.param('rate').validate(True)  # bool is an int in Python, not here
    with pytest.raises(ParamError, match="'loop'.*true/false"):
        Configurable.param('loop').validate(1)
    with pytest.raises(ParamError, match="'device'.*string"):
        Configurable.param('device').validate(3)
    with pytest.raises(ParamError, match="'gain_db'.*not finite"):
        Configurable.param('gain_db').validate(math.nan)


def test_param_ranges_and_choices():
    rate = Configurable.param('rate')
    assert rate.validate(8000) == 8000 and rate.validate(96000) == 96000
    with pytest.raises(ParamError, match="'rate'.*below the minimum 8000"):
        rate.validate(7999)
    with pytest.raises(ParamError, match="'rate'.*above the maximum 96000"):
        rate.validate(96001)
    with pytest.raises(ParamError, match="'mode'.*'device' is not one of sim, file"):
        Configurable.param('mode').validate('device')


def test_list_params_check_every_element():
    weights = Configurable.param('weights')
    assert weights.type_name == 'float[]'
    assert weights.validate([1, 2.5]) == [1.0, 2.5]
    with pytest.raises(ParamError, match="'weights'.*below the minimum"):
        weights.validate([1.0, -1.0])
    with pytest.raises(ParamError, match="'weights'.*expected a list"):
        weights.validate(1.0)
    assert Configurable.param('names').type_name == 'str[]'
    with pytest.raises(ParamError, match='empty list default'):
        _ = Param('empty', [], 'No element type.').type_name


def test_read_only_is_declared_not_enforced_by_validate():
    # Read-only is a host concern (set at start-up only); the value itself validates.
    device = Configurable.param('device')
    assert device.read_only and not Configurable.param('gain_db').read_only
    assert device.validate('hw:1,0') == 'hw:1,0'


def test_validate_params_fills_defaults_and_rejects_unknown_names():
    cfg = Configurable.validate_params({'rate': 48000})
    assert cfg['rate'] == 48000 and cfg['gain_db'] == 0.0 and cfg['mode'] == 'sim'
    assert set(cfg) == {p.name for p in Configurable.params}
    with pytest.raises(ParamError, match=r'unknown parameter\(s\) gian_db, rat; known: rate'):
        Configurable.validate_params({'gian_db': 1.0, 'rat': 1})
    with pytest.raises(KeyError, match='no parameter'):
        Configurable.param('nope')


def test_constructing_a_component_validates_its_config():
    out = Outputs(lambda t, m: None, [])
    with pytest.raises(ParamError, match="'mode'"):
        Configurable({'mode': 'tape'}, out)
    assert Configurable({'mode': 'file'}, out).config['mode'] == 'file'


def test_outputs_refuse_undeclared_topics():
    sent = []
    out = Outputs(lambda t, m: sent.append((t, m)), ['events'])
    out.publish('events', 1)
    with pytest.raises(KeyError, match="'alerts' is not a declared output"):
        out.publish('alerts', 2)
    assert sent == [('events', 1)]


def test_every_sensor_default_validates_against_its_own_declaration():
    for p in SensorComponent.params:
        assert p.validate(p.default) == p.default, p.name
    timers = {t.name: SensorComponent.timer_period(t, SensorComponent.validate_params({}))
              for t in SensorComponent.timers}
    assert timers == {'capture': 0.1, 'diagnostics': 5.0}


# -- embedded host: small real components --------------------------------------------------

class Ticker(Component):
    """Publishes its name and tick count on 'out' at every tick."""

    name = 'ticker'
    params = (Param('period_s', 1.0, 'Tick period, s.', min=0.001),
              Param('label', 't', 'Label.'))
    outputs = (Port('out', STRING, 'events', 'Ticks.'),)
    timers = (Timer('tick', period_param='period_s'),)

    def activate(self) -> None:
        self.ticks = []

    def on_timer(self, timer: str, now: int) -> None:
        self.ticks.append(now)
        self.out.publish('out', text(f'{self.config["label"]}{len(self.ticks)}'))


class Recorder(Component):
    """Records what arrives on 'in' and 'aux', with the host's now."""

    name = 'recorder'
    inputs = (Port('in', STRING, 'events', 'Anything.'),
              Port('aux', STRING, 'events', 'Anything else.'))

    def activate(self) -> None:
        self.got = []

    def on_message(self, topic: str, msg, now: int) -> None:
        self.got.append((topic, msg.data, now))


class Echo(Component):
    """Re-publishes each input with a prefix: a second hop inside one delivery round."""

    name = 'echo'
    inputs = (Port('in', STRING, 'events', 'Anything.'),)
    outputs = (Port('out', STRING, 'events', 'Echoes.'),)

    def on_message(self, topic: str, msg, now: int) -> None:
        self.out.publish('out', text(f'echo:{msg.data}'))


class Picky(Component):
    """Refuses messages starting with 'bad' and crashes on 'boom'."""

    name = 'picky'
    inputs = (Port('in', STRING, 'events', 'Anything.'),)

    def activate(self) -> None:
        self.accepted = []

    def on_message(self, topic: str, msg, now: int) -> None:
        if msg.data.startswith('bad'):
            raise InputError(f'refused {msg.data!r}')
        if msg.data == 'boom':
            raise RuntimeError('exploded')
        self.accepted.append(msg.data)


class Latcher(Component):
    """Publishes on a latched topic ('site' keeps 1, 'alerts' keeps 100) and a volatile one."""

    name = 'latcher'
    outputs = (Port('site', STRING, 'site', 'Latched, last only.'),
               Port('alerts', STRING, 'alerts', 'Latched, history.'),
               Port('events', STRING, 'events', 'Volatile.'))
    timers = (Timer('tick', period_s=1.0),)

    def activate(self) -> None:
        self.n = 0

    def on_timer(self, timer: str, now: int) -> None:
        self.n += 1
        for topic in ('site', 'alerts', 'events'):
            self.out.publish(topic, text(f'{topic}{self.n}'))


def test_resolve_follows_ros_relative_names():
    assert resolve('sensor_07', 'events') == 'sensor_07/events'
    assert resolve('', 'events') == 'events'
    assert resolve('sensor_07', '/diagnostics') == 'diagnostics'
    assert resolve('sensor_07', 'events', {'events': '/soft/events'}) == 'soft/events'


def _tick_trace():
    host = EmbeddedHost()
    fast = host.add(Ticker, name='fast', params={'period_s': 0.25, 'label': 'f'})
    slow = host.add(Ticker, name='slow', params={'period_s': 0.5, 'label': 's'})
    seen = []
    host.tap(None, lambda topic, msg, now: seen.append((now, msg.data)))
    host.run_until(1_000_000_000)
    return host, fast, slow, seen


def test_timers_fire_in_time_order_and_ties_in_the_order_they_were_armed():
    host, fast, slow, seen = _tick_trace()
    assert fast.ticks == [250_000_000, 500_000_000, 750_000_000, 1_000_000_000]
    assert slow.ticks == [500_000_000, 1_000_000_000]
    # At 0.5 s both are due: slow's tick was armed at start, fast's only when it fired at
    # 0.25 s, so slow goes first; the same at 1 s (armed at 0.5 s versus 0.75 s).
    assert seen == [(250_000_000, 'f1'), (500_000_000, 's1'), (500_000_000, 'f2'),
                    (750_000_000, 'f3'), (1_000_000_000, 's2'), (1_000_000_000, 'f4')]
    assert host.now == 1_000_000_000
    assert _tick_trace()[3] == seen  # deterministic


def test_run_until_in_steps_equals_run_until_at_once():
    a, b = EmbeddedHost(), EmbeddedHost()
    ta = a.add(Ticker, params={'period_s': 0.3})
    tb = b.add(Ticker, params={'period_s': 0.3})
    a.run_until(2_000_000_000)
    for end in range(100_000_000, 2_000_000_001, 100_000_000):
        b.run_until(end)
    assert ta.ticks == tb.ticks and len(ta.ticks) == 6


def test_messages_are_delivered_in_publication_order_after_the_callback():
    host = EmbeddedHost()
    host.add(Ticker, params={'period_s': 1.0, 'label': 'm'}, remap={'out': 'bus'})
    host.add(Echo, remap={'in': 'bus', 'out': 'echoes'})
    rec = host.add(Recorder, remap={'in': 'bus', 'aux': 'echoes'})

    class Burst(Component):
        name = 'burst'
        outputs = (Port('bus', STRING, 'events', 'Two at once.'),)
        timers = (Timer('tick', period_s=1.0),)

        def on_timer(self, timer, now):
            self.out.publish('bus', text('x1'))
            self.out.publish('bus', text('x2'))

    host.add(Burst)
    host.run_until(1_000_000_000)
    # Breadth first: both messages of one callback before what they caused, all at one now.
    assert rec.got == [('in', 'm1', 10 ** 9), ('aux', 'echo:m1', 10 ** 9),
                       ('in', 'x1', 10 ** 9), ('in', 'x2', 10 ** 9),
                       ('aux', 'echo:x1', 10 ** 9), ('aux', 'echo:x2', 10 ** 9)]
    assert host.published == {'bus': 3, 'echoes': 3}


def test_namespaces_separate_identical_components():
    host = EmbeddedHost()
    host.add(Ticker, namespace='sensor_01', params={'label': 'a'})
    host.add(Ticker, namespace='sensor_02', params={'label': 'b'})
    rec = host.add(Recorder, remap={'in': 'sensor_02/out'})
    host.run_until(2_000_000_000)
    assert [d for _, d, _ in rec.got] == ['b1', 'b2']
    with pytest.raises(ValueError, match="'sensor_01/ticker' already exists"):
        host.add(Ticker, namespace='sensor_01')


def test_late_subscribers_get_latched_data_as_with_transient_local():
    host = EmbeddedHost()
    host.add(Latcher)
    host.run_until(3_000_000_000)
    late = host.add(Recorder, name='late_site', remap={'in': 'site', 'aux': 'events'})
    late_alerts = host.add(Recorder, name='late_alerts', remap={'in': 'alerts'})
    # 'site' keeps only the last value, 'alerts' its history, volatile 'events' nothing.
    assert late.got == [('in', 'site3', 3_000_000_000)]
    assert [d for _, d, _ in late_alerts.got] == ['alerts1', 'alerts2', 'alerts3']
    host.run_until(4_000_000_000)
    assert [d for _, d, _ in late.got] == ['site3', 'site4', 'events4']


def test_what_a_late_subscriber_publishes_on_latched_data_is_delivered_at_once():
    host = EmbeddedHost()
    host.add(Latcher)
    host.run_until(1_000_000_000)
    host.add(Echo, remap={'in': 'site', 'out': 'echoes'})
    seen = []
    host.tap('echoes', lambda topic, msg, now: seen.append((msg.data, now)))
    assert host.published['echoes'] == 1
    rec = host.add(Recorder, name='rec', remap={'in': 'other', 'aux': 'echoes'})
    host.run_until(1_500_000_000)
    assert rec.got == []  # 'echoes' is volatile: the first echo was gone before rec came
    host.run_until(2_000_000_000)
    assert rec.got == [('aux', 'echo:site2', 2_000_000_000)]


def test_a_refused_message_is_counted_and_the_graph_goes_on():
    host = EmbeddedHost()
    picky = host.add(Picky, remap={'in': 'bus'})
    rec = host.add(Recorder, remap={'in': 'bus'})
    for data in ('ok1', 'bad1', 'ok2', 'bad2', 'ok3'):
        host.inject('bus', text(data))
    assert picky.accepted == ['ok1', 'ok2', 'ok3']
    assert [d for _, d, _ in rec.got] == ['ok1', 'bad1', 'ok2', 'bad2', 'ok3']
    assert host.errors[('picky', 'bus')] == 2
    warnings = [entry for entry in host.logs if entry[1] == 'warn']
    assert len(warnings) == 2 and warnings[0][2] == 'picky'
    assert "refused 'bad1'" in warnings[0][3] and 'bus' in warnings[0][3]


def test_an_exception_in_a_callback_is_counted_logged_with_the_node_and_contained():
    logged = []
    host = EmbeddedHost(log=lambda level, node, msg: logged.append((level, node, msg)))
    picky = host.add(Picky, namespace='zone_1', remap={'in': 'bus'})
    ticker = host.add(Ticker, params={'period_s': 1.0})

    class Faulty(Component):
        name = 'faulty'
        timers = (Timer('tick', period_s=0.5),)

        def on_timer(self, timer, now):
            raise ZeroDivisionError('no')

    host.add(Faulty)
    host.inject('bus', text('boom'))
    host.inject('bus', text('fine'))
    host.run_until(2_000_000_000)
    assert picky.accepted == ['fine']
    assert ticker.ticks == [1_000_000_000, 2_000_000_000]  # other nodes keep running
    assert host.errors[('zone_1/picky', 'bus')] == 1
    assert host.errors[('faulty', 'timer:tick')] == 4  # and the faulty one keeps ticking
    errors = [e for e in logged if e[0] == 'error']
    assert errors[0][1] == 'zone_1/picky'
    assert 'RuntimeError: exploded' in errors[0][2] and 'test_component_api.py:' in errors[0][2]
    assert errors[1][1] == 'faulty' and 'timer:tick: ZeroDivisionError' in errors[1][2]


class Fragile(Component):
    """Fails to configure when asked to: a missing device."""

    name = 'fragile'
    owns_resources = True
    params = (Param('fail', False, 'Fail in configure.'),)
    inputs = (Port('in', STRING, 'events', 'Anything.'),)
    timers = (Timer('tick', period_s=1.0),)
    log_book: list[str] = []

    def configure(self) -> None:
        if self.config['fail']:
            raise OSError('no such device')
        self.log_book.append('configure')

    def activate(self) -> None:
        self.log_book.append('activate')

    def deactivate(self) -> None:
        self.log_book.append('deactivate')
        raise RuntimeError('stuck')

    def cleanup(self) -> None:
        self.log_book.append('cleanup')

    def on_message(self, topic, msg, now) -> None:
        self.log_book.append(msg.data)

    def on_timer(self, timer, now) -> None:
        self.log_book.append('tick')


def test_a_component_that_fails_to_configure_leaves_no_trace_in_the_graph():
    Fragile.log_book = []
    host = EmbeddedHost()
    with pytest.raises(OSError, match='no such device'):
        host.add(Fragile, params={'fail': True})
    assert 'fragile' not in host.nodes
    host.inject('in', text('hello'))
    host.run_until(2_000_000_000)
    assert Fragile.log_book == [] and not host.errors
    host.add(Fragile)  # the name is free again
    host.inject('in', text('hello'))
    assert Fragile.log_book == ['configure', 'activate', 'hello']


def test_shutdown_releases_even_when_deactivate_fails():
    Fragile.log_book = []
    host = EmbeddedHost()
    host.add(Fragile)
    host.shutdown()
    assert Fragile.log_book == ['configure', 'activate', 'deactivate', 'cleanup']
    assert host.errors[('fragile', 'shutdown')] == 1


def test_component_log_goes_to_the_host_with_the_node_name():
    class Chatty(Component):
        name = 'chatty'

        def activate(self):
            self.log.info('hello')
            self.log.warn('careful')
            self.log.error('broken')

    logged = []
    host = EmbeddedHost(log=lambda level, node, msg: logged.append((level, node, msg)))
    host.add(Chatty, namespace='ns')
    assert logged == [('info', 'ns/chatty', 'hello'), ('warn', 'ns/chatty', 'careful'),
                      ('error', 'ns/chatty', 'broken')]
    assert [entry[1] for entry in host.logs] == ['warn', 'error']  # info is not kept
    assert Log().info('nowhere') is None  # a component without a host log stays quiet


# -- CDR round trip of every soft message type ---------------------------------------------

_BASE_SAMPLES = {
    'bool': lambda i: i % 2 == 1, 'byte': lambda i: i % 256, 'char': lambda i: 65 + i % 26,
    'string': lambda i: f'value-{i}-é', 'wstring': lambda i: f'w{i}',
    'float32': lambda i: 0.5 + i, 'float64': lambda i: 1.0 / 3 + i,
}


def _sample_value(node, i: int):
    kind, desc = node
    if kind == Nodetype.BASE:
        tname = desc[0]
        if tname in _BASE_SAMPLES:
            return _BASE_SAMPLES[tname](i)
        return (i * 7 + 3) % 120  # fits every integer type
    if kind == Nodetype.NAME:
        return sample_message(desc, i)
    (sub_kind, sub_desc), count = desc
    n = count if kind == Nodetype.ARRAY else 3
    items = [_sample_value((sub_kind, sub_desc), i + k) for k in range(n)]
    if sub_kind == Nodetype.BASE and sub_desc[0] not in ('string', 'wstring'):
        dtypes = {'bool': bool, 'byte': np.uint8, 'char': np.uint8, 'float32': np.float32,
                  'float64': np.float64}
        return np.array(items, dtype=dtypes.get(sub_desc[0], sub_desc[0]))
    return items


def sample_message(typename: str, seed: int = 1):
    """A message of ``typename`` with every field set to a distinct non-default value."""
    _, fields = messages.typestore().fielddefs[typename]
    values = {name: _sample_value(node, seed + k) for k, (name, node) in enumerate(fields)}
    return messages.msg_class(typename)(**values)


def _assert_same(a, b, where='msg'):
    if hasattr(a, '__msgtype__'):
        assert a.__msgtype__ == b.__msgtype__, where
        for name in a.__dataclass_fields__:
            if name != '__msgtype__':
                _assert_same(getattr(a, name), getattr(b, name), f'{where}.{name}')
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f'{where}[{k}]')
    elif isinstance(a, float):
        assert np.float32(a) == np.float32(b) or a == b, where
    else:
        assert a == b, where


def test_every_soft_interface_type_is_known():
    names = set(messages.soft_types())
    for kind, ext in (('msg', 'msg'), ('srv', 'srv'), ('action', 'action')):
        for path in (messages.interface_dir() / kind).glob(f'*.{ext}'):
            assert any(n.rsplit('/', 1)[-1].startswith(path.stem) for n in names), path.name
    assert 'soft/msg/AcousticEvent' in names and 'soft/action/PointAt_Goal' in names


@pytest.mark.parametrize('typename', messages.soft_types())
def test_cdr_round_trip_of_every_soft_type(typename):
    msg = sample_message(typename)
    data = messages.serialize(msg)
    assert data[:4] == b'\x00\x01\x00\x00'  # CDR little-endian encapsulation header
    back = messages.deserialize(data, typename)
    _assert_same(msg, back)
    assert messages.serialize(back) == data


def test_cdr_of_an_acoustic_event_is_the_documented_layout():
    event = messages.msg_class('soft/msg/AcousticEvent')(
        header=messages.header(1_500_000_123, 'sensor_s07'), sensor_id='s07', seq=42,
        class_id=1, confidence=0.75, level_db_spl=110.0, noise_floor_db_spl=55.0,
        onset_uncertainty_s=1e-4, duration_s=0.2, sustained=False, has_direction=True,
        azimuth_rad=0.5, elevation_rad=0.0, direction_uncertainty_rad=0.1)
    data = messages.serialize(event)
    # header: sec, nanosec, frame_id (length incl. NUL); then sensor_id, seq, class_id...
    assert data[4:12] == (1).to_bytes(4, 'little') + (500_000_123).to_bytes(4, 'little')
    assert data[12:16] == (len('sensor_s07') + 1).to_bytes(4, 'little')
    assert data[16:27] == b'sensor_s07\x00'
    back = messages.deserialize(data, 'soft/msg/AcousticEvent')
    assert messages.stamp_ns(back.header.stamp) == 1_500_000_123
    assert (back.sensor_id, back.seq, back.class_id) == ('s07', 42, 1)
    assert back.confidence == pytest.approx(0.75) and back.has_direction


def test_stamps_refuse_negative_times():
    assert messages.stamp_ns(messages.stamp(12_345_678_901)) == 12_345_678_901
    with pytest.raises(ValueError, match='negative'):
        messages.stamp(-1)
