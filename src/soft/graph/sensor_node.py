"""The sensor component: microphone driver + streaming detector, publishing AcousticEvents.

Audio never leaves this component: the driver's blocks go straight into the detector's RAM
ring buffer, and only events and health figures are published. That is the privacy invariant
made structural: no port of this component carries samples.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from soft.graph.component import Component, Param, Port, Timer
from soft.graph import messages

DIAG_OK, DIAG_WARN, DIAG_ERROR = 0, 1, 2


class SensorComponent(Component):
    name = 'sensor'
    description = 'Edge sensor: captures audio in RAM, detects and classifies acoustic events.'
    owns_resources = True
    params = (
        Param('sensor_id', 's01', 'Sensor identifier as in the site file.', read_only=True),
        Param('driver', 'sim', 'Audio source: sim (district simulator), file or device.',
              choices=('sim', 'file', 'device'), read_only=True),
        Param('device', '', 'PortAudio/ALSA device name or index (driver=device).',
              read_only=True),
        Param('file_path', '', 'WAV/FLAC file to stream (driver=file).', read_only=True),
        Param('file_loop', False, 'Loop the file forever (driver=file).', read_only=True),
        Param('sample_rate', 16000, 'Processing sample rate, Hz.', min=8000, max=96000,
              read_only=True),
        Param('block_s', 0.1, 'Capture block length, s.', min=0.01, max=1.0, read_only=True),
        Param('sensitivity_dbfs', -38.0, 'Microphone sensitivity: dBFS of a 94 dB SPL tone.',
              min=-80.0, max=0.0),
        Param('model_path', '', 'ONNX classifier; empty uses the shipped model.',
              read_only=True),
        Param('class_thresholds', '', "A site's thresholds over the model's, e.g. "
              "'gunshot=0.95,explosion=0.98' (from its soak: soft soak BAG --budget); empty "
              "keeps the model's.", read_only=True),
        Param('min_snr_db', 8.0, 'Minimum onset rise above the noise floor, dB.',
              min=0.0, max=60.0),
        Param('sustained_period_s', 1.0, 'Period of classification for sustained sounds, s.',
              min=0.2, max=10.0),
        Param('onset_budget_per_s', 1.0, 'Onsets per second classified freely (averaged over '
              '10 s); beyond, only those louder than the recent ones. 0 classifies all.',
              min=0.0, max=100.0),
        Param('diagnostics_period_s', 5.0, 'Period of diagnostics publication, s.',
              min=0.1, max=3600.0),
        Param('site_file', '', 'Site file (driver=sim, when no simulator is shared in-process).',
              read_only=True),
        Param('scenario_file', '', 'Scenario file (driver=sim).', read_only=True),
        Param('seed', 0, 'Simulator seed (driver=sim).', min=0, read_only=True),
    )
    outputs = (
        Port('events', 'soft/msg/AcousticEvent', 'events',
             'Recognised acoustic events (no audio).'),
        Port('/diagnostics', 'diagnostic_msgs/msg/DiagnosticArray', 'diagnostics',
             'Noise floor, clipping, dropped frames, bad blocks, events per class.'),
    )
    timers = (
        Timer('capture', period_param='block_s'),
        Timer('diagnostics', period_param='diagnostics_period_s'),
    )

    def configure(self) -> None:
        from soft.audio.detector import SENSOR_PARAMS, DetectorConfig, StreamingDetector
        from soft.audio.features import FeatureConfig
        from soft.classify.inference import Classifier
        from soft.paths import default_model

        cfg = self.config
        classifier = self.resources.get('classifier')
        if classifier is None:
            classifier = Classifier(Path(cfg['model_path'] or default_model()),
                                    expected=FeatureConfig(sample_rate=cfg['sample_rate']))
        self.classifier = classifier
        self.detector = StreamingDetector(
            DetectorConfig(**{key: cfg[key] for key in SENSOR_PARAMS},
                           class_thresholds=cfg['class_thresholds']),
            classifier.feature_config, classifier)
        # Opened here so that a missing device or a bad file fails the configure transition
        # with its own message; file and simulated time are anchored at the first tick.
        self.driver = self._make_driver()
        self.driver.open()
        self._anchored = not hasattr(self.driver, 'start_ns')
        self.seq = 0
        self.frame_id = f'sensor_{cfg["sensor_id"]}'

    def _make_driver(self) -> Any:
        from soft.audio import drivers

        cfg = self.config
        if 'driver' in self.resources:
            return self.resources['driver']
        if cfg['driver'] == 'file':
            if not cfg['file_path']:
                raise ValueError('parameter file_path is empty but driver is file')
            return drivers.FileDriver(cfg['file_path'], sample_rate=cfg['sample_rate'],
                                      loop=cfg['file_loop'],
                                      block_s=cfg['block_s'])
        if cfg['driver'] == 'device':
            return drivers.DeviceDriver(cfg['device'] or None, sample_rate=cfg['sample_rate'],
                                        block_s=cfg['block_s'])
        simulation = self.resources.get('simulation')
        if simulation is None:
            from soft.sim.from_site import simulation_for_site

            simulation = simulation_for_site(cfg['site_file'] or None,
                                             cfg['scenario_file'] or None, seed=cfg['seed'])
        return drivers.SimDriver(simulation, simulation.mic_index(cfg['sensor_id']),
                                 block_s=cfg['block_s'])

    def cleanup(self) -> None:
        self.driver.close()

    def on_timer(self, timer: str, now: int) -> None:
        if timer == 'capture':
            if not self._anchored:
                # The capture timer was armed one period before its first tick, at activation:
                # that instant is the start of the file or of the simulated scenario.
                self.driver.start_ns = now - int(round(self.config['block_s'] * 1e9))
                self._anchored = True
            for block in self.driver.read(now):
                for det in self.detector.process(block):
                    self.out.publish('events', self._event(det))
        elif timer == 'diagnostics':
            self.out.publish('/diagnostics', self._diagnostics(now))

    def _event(self, det: Any) -> Any:
        self.seq += 1
        cls = messages.msg_class('soft/msg/AcousticEvent')
        return cls(header=messages.header(det.onset_ns, self.frame_id),
                   sensor_id=self.config['sensor_id'], seq=self.seq, class_id=det.class_id,
                   confidence=float(det.confidence), level_db_spl=float(det.level_db_spl),
                   noise_floor_db_spl=float(det.noise_floor_db_spl),
                   onset_uncertainty_s=float(det.onset_uncertainty_s),
                   duration_s=float(det.duration_s), sustained=bool(det.sustained),
                   has_direction=False, azimuth_rad=0.0, elevation_rad=0.0,
                   direction_uncertainty_rad=0.0)

    def _diagnostics(self, now: int) -> Any:
        values = dict(self.detector.diagnostics())
        values['events_published'] = str(self.seq)
        err = getattr(self.detector, 'last_error', '') or ''
        level = DIAG_WARN if err else DIAG_OK
        return messages.diagnostic_array(now, [(
            level, f'soft/{self.frame_id}/audio', err or 'ok',
            self.config['sensor_id'], values)])

    def diagnostics(self, now: int) -> dict[str, str]:
        return dict(self.detector.diagnostics())
