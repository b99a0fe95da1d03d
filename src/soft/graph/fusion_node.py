"""The fusion component: AcousticEvents from every sensor in, located Incidents out.

All sensors publish on one topic (the host remaps this component's ``events`` input to it,
``soft/events`` by default in the district graph), so the component does not need to know
how many sensors a site has. Association, multilateration and clock-offset estimation live in
``soft.locate``; this module checks messages, converts them and publishes.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from soft.classify import taxonomy
from soft.graph import messages
from soft.graph.component import Component, InputError, Param, Port, Timer

NS = 1_000_000_000
DIAG_OK, DIAG_WARN = 0, 1


class FusionComponent(Component):
    name = 'fusion'
    description = ('Fusion centre: associates sensors\' events, locates each source by '
                   'time-difference-of-arrival multilateration, estimates sensor clock offsets.')
    params = (
        Param('site_file', '', 'Site file with the sensor layout; empty uses the shipped site '
              '(or the site the host shares in-process).', read_only=True),
        Param('use_site_temperature', True, 'Take the air temperature from the site file '
              '(air_temperature_c) instead of the parameter below.'),
        Param('air_temperature_c', 15.0, 'Air temperature for the speed of sound, degC.',
              min=-40.0, max=50.0),
        Param('source_height_m', 1.5, 'Height of sources above the ground, m.',
              min=0.0, max=100.0),
        Param('estimate_height', False, 'Fit the source height too (needs sensors at varied '
              'heights; otherwise it is fixed at source_height_m).'),
        Param('max_range_m', 600.0, 'Farthest distance a sensor is assumed to hear a source, '
              'm; bounds association and the wait before a group is complete.',
              min=50.0, max=5000.0),
        Param('association_margin_s', 0.5, 'Extra wait past the travel time across the '
              'hearing range for late deliveries, s.', min=0.0, max=30.0),
        Param('association_gate_s', 0.05, 'Arrival-time gate around a hypothesis\' '
              'predicted arrival, s.', min=0.001, max=1.0),
        Param('grid_step_m', 10.0, 'Spacing of the source hypotheses searched during '
              'association, m.', min=1.0, max=100.0),
        Param('echo_window_s', 0.1, 'A lone event this soon after a located incident\'s '
              'arrival at its sensor is that incident\'s echo, s.', min=0.0, max=2.0),
        Param('allow_class_disagreement', True, 'Group impulsive (or non-impulsive) events '
              'of different classes and decide the class by confidence-weighted vote.'),
        Param('min_sensors', 3, 'Sensors needed to multilaterate (2-D; one more when the '
              'height is estimated).', min=3, max=100),
        Param('min_sensors_publish', 1, 'Incidents heard by fewer sensors are dropped.',
              min=1, max=100),
        Param('max_residual_s', 0.005, 'A sensor whose arrival misses the fit by more is an '
              'outlier, s.', min=1e-5, max=1.0),
        Param('outlier_sigma', 4.0, 'A sensor whose residual exceeds this many of its sigmas '
              'is an outlier, no unit.', min=1.0, max=100.0),
        Param('min_onset_sigma_s', 1e-4, 'Floor under the sensors\' stated onset sigma, s.',
              min=1e-6, max=1.0),
        Param('model_sigma_s', 1e-3, 'Timing error of the straight-path model added to every '
              'arrival (air temperature, wind, smoothed onsets), s.', min=0.0, max=0.1),
        Param('nlos_sigma_s', 0.015, 'Spread of the delays of paths over or around buildings '
              '(coarse fit, ellipse of unchecked or contradicted fixes), s.', min=1e-4, max=0.5),
        Param('fallback_radius_m', 150.0, '95 % radius around the loudest sensor when the '
              'position is degraded, m.', min=1.0, max=5000.0),
        Param('max_ellipse_m', 200.0, 'A fix whose 95 % major semi-axis is longer is treated '
              'as degenerate geometry and degraded, m.', min=1.0, max=10000.0),
        Param('clock_correction', True, 'Estimate each sensor\'s clock offset from good '
              'fixes and correct arrivals by it.'),
        Param('clock_gain', 0.01, 'Share of the clock-offset estimate\'s weight forgotten per fix '
              '(about 1/gain fixes remembered), no unit.',
              min=0.0, max=1.0),
        Param('clock_min_sensors', 5, 'Inlier sensors a fix needs to update clock offsets.',
              min=4, max=100),
        Param('max_future_s', 5.0, 'Refuse events stamped further ahead of now, s.',
              min=0.0, max=3600.0),
        Param('max_age_s', 60.0, 'Refuse events stamped longer ago than this, s.',
              min=1.0, max=86400.0),
        Param('flush_period_s', 0.1, 'Period of the check for closed association windows, s.',
              min=0.01, max=10.0),
        Param('diagnostics_period_s', 5.0, 'Period of diagnostics publication, s.',
              min=0.1, max=3600.0),
    )
    inputs = (
        Port('events', 'soft/msg/AcousticEvent', 'events',
             'Every sensor\'s events; remap to the topic all sensors publish on.'),
    )
    outputs = (
        Port('incidents', 'soft/msg/Incident', 'events',
             'Located incidents in the map frame and WGS84, with their 95 % ellipse.'),
        Port('/diagnostics', 'diagnostic_msgs/msg/DiagnosticArray', 'diagnostics',
             'Events, incidents, outliers, rejected input, per-sensor clock offsets.'),
    )
    timers = (
        Timer('flush', period_param='flush_period_s'),
        Timer('diagnostics', period_param='diagnostics_period_s'),
    )

    def configure(self) -> None:
        from soft.locate.association import AssociationConfig
        from soft.locate.fusion import Fusion, FusionConfig
        from soft.locate.multilateration import FixConfig
        from soft.locate.sensor_array import SensorArray
        from soft.sim.propagation import speed_of_sound

        cfg = self.config
        site = self.resources.get('site')
        if site is None:
            from soft.paths import default_site
            from soft.site import load_site

            site = load_site(cfg['site_file'] or default_site())
        self.site = site
        array = SensorArray.from_site(site)
        temp = cfg['air_temperature_c']
        if cfg['use_site_temperature'] and getattr(site.config, 'air_temperature_c',
                                                   None) is not None:
            temp = float(site.config.air_temperature_c)
        c = speed_of_sound(temp)
        source_z = float(site.ground_z) + cfg['source_height_m']
        self.fusion = Fusion(array, FusionConfig(
            association=AssociationConfig(
                speed_of_sound=c, max_range_m=cfg['max_range_m'],
                margin_s=cfg['association_margin_s'], gate_s=cfg['association_gate_s'],
                grid_step_m=cfg['grid_step_m'], echo_window_s=cfg['echo_window_s'],
                allow_class_disagreement=cfg['allow_class_disagreement'],
                source_z=source_z),
            fix=FixConfig(speed_of_sound=c, source_z=source_z,
                          estimate_height=cfg['estimate_height'],
                          outlier_sigma=cfg['outlier_sigma'],
                          max_residual_s=cfg['max_residual_s'],
                          min_sensors=cfg['min_sensors']),
            min_sensors_publish=cfg['min_sensors_publish'],
            fallback_radius_m=cfg['fallback_radius_m'], max_ellipse_m=cfg['max_ellipse_m'],
            min_onset_sigma_s=cfg['min_onset_sigma_s'], model_sigma_s=cfg['model_sigma_s'],
            nlos_sigma_s=cfg['nlos_sigma_s'],
            clock_correction=cfg['clock_correction'], clock_gain=cfg['clock_gain'],
            clock_min_sensors=cfg['clock_min_sensors']))
        self.speed_of_sound = c
        self.published = 0
        self.rejected = 0

    # -- input --------------------------------------------------------------------------
    def on_message(self, topic: str, msg: Any, now: int) -> None:
        try:
            det = self._detection(msg, now)
        except InputError:
            self.rejected += 1
            raise
        self.fusion.add(det)

    def _detection(self, msg: Any, now: int) -> Any:
        from soft.locate.association import Detection

        sid = msg.sensor_id
        if sid not in self.fusion.array:
            raise InputError(f'sensor_id {sid!r} is not a sensor of site {self.site.name!r}')
        if msg.header.frame_id and msg.header.frame_id != f'sensor_{sid}':
            raise InputError(f'header.frame_id {msg.header.frame_id!r} is not '
                             f'sensor_{sid}')
        cid = int(msg.class_id)
        if not 0 < cid < taxonomy.NUM_CLASSES:
            raise InputError(f'class_id {cid} is not an emitted taxonomy id '
                             f'(1..{taxonomy.NUM_CLASSES - 1})')
        conf = float(msg.confidence)
        if not 0.0 <= conf <= 1.0:          # also false for NaN
            raise InputError(f'confidence {conf!r} outside [0, 1]')
        level = float(msg.level_db_spl)
        if not math.isfinite(level) or not -50.0 <= level <= 250.0:
            raise InputError(f'level_db_spl {level!r} is not a sound level')
        sigma = float(msg.onset_uncertainty_s)
        if not 0.0 <= sigma <= 60.0:
            raise InputError(f'onset_uncertainty_s {sigma!r} outside [0, 60] s')
        dur = float(msg.duration_s)
        if not 0.0 <= dur < 1e6:
            raise InputError(f'duration_s {dur!r} is negative or not finite')
        onset = messages.stamp_ns(msg.header.stamp)
        if onset > now + int(self.config['max_future_s'] * NS):
            raise InputError(f'header.stamp {onset / NS:.3f} s is {(onset - now) / NS:.3f} s '
                             f'ahead of now')
        if onset < now - int(self.config['max_age_s'] * NS):
            raise InputError(f'header.stamp {onset / NS:.3f} s is {(now - onset) / NS:.3f} s '
                             f'old')
        return Detection(sid, onset, cid, conf, level, sigma, bool(msg.sustained), dur)

    # -- output -------------------------------------------------------------------------
    def on_timer(self, timer: str, now: int) -> None:
        if timer == 'flush':
            for inc in self.fusion.flush(now):
                self.out.publish('incidents', self._incident(inc))
                self.published += 1
        elif timer == 'diagnostics':
            self.out.publish('/diagnostics', self._diagnostics(now))

    def _incident(self, inc: Any) -> Any:
        lat, lon, alt = self.site.to_wgs84(*inc.position)
        cls = messages.msg_class('soft/msg/Incident')
        return cls(header=messages.header(max(inc.emission_ns, 0), 'map'),
                   incident_id=inc.incident_id, class_id=int(inc.class_id),
                   confidence=float(inc.confidence), position=messages.point(*inc.position),
                   latitude_deg=float(lat), longitude_deg=float(lon), altitude_m=float(alt),
                   ellipse_major_m=float(inc.ellipse.major_m),
                   ellipse_minor_m=float(inc.ellipse.minor_m),
                   ellipse_orientation_rad=float(inc.ellipse.orientation_rad),
                   time_uncertainty_s=float(inc.time_sigma_s),
                   source_level_db=float(inc.source_level_db),
                   sensor_ids=list(inc.sensor_ids),
                   residuals_s=np.asarray(inc.residuals_s, dtype=np.float32),
                   position_degraded=bool(inc.degraded))

    def clock_offsets(self) -> dict[str, tuple[float, int]]:
        """Sensor id -> (estimated clock offset s, number of fixes behind it)."""
        return self.fusion.clocks.report()

    def diagnostics(self, now: int) -> dict[str, str]:
        values = {k: str(v) for k, v in sorted(self.fusion.counters.items())}
        values['pending_events'] = str(self.fusion.pending())
        values['incidents_published'] = str(self.published)
        values['rejected_events'] = str(self.rejected)
        values['speed_of_sound_mps'] = f'{self.speed_of_sound:.2f}'
        return values

    def _diagnostics(self, now: int) -> Any:
        clocks = {sid: f'{off * 1e6:+.1f} us ({n} fixes)'
                  for sid, (off, n) in self.clock_offsets().items()}
        worst = max((abs(off) for off, _ in self.clock_offsets().values()), default=0.0)
        tol = float(self.fusion.array.clock_tolerance_s.max())
        level = DIAG_WARN if worst > tol else DIAG_OK
        return messages.diagnostic_array(now, [
            (DIAG_OK, 'soft/fusion', 'ok', 'fusion', self.diagnostics(now)),
            (level, 'soft/fusion/clock_offsets',
             'ok' if level == DIAG_OK else f'a sensor clock is {worst * 1e6:.0f} us off '
             f'(tolerance {tol * 1e6:.0f} us)', 'fusion', clocks)])
