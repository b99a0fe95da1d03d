"""Build the whole district graph on the embedded host: simulator, sensors and what follows.

`soft demo`, `soft run`, the scenario tests and the benchmarks all build the graph here, so
they run the same components with the same parameters.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soft.graph.embedded_host import EmbeddedHost
from soft.graph.fusion_node import FusionComponent
from soft.graph.registry import EVENTS_TOPIC
from soft.graph.sensor_node import SensorComponent
from soft.paths import config_dir, default_model, default_site


def default_scenario() -> Path:
    return config_dir() / 'scenarios' / 'demo_mixed.yaml'


@dataclass
class DistrictRun:
    host: EmbeddedHost
    site: Any
    scenario: Any
    simulation: Any
    classifier: Any
    events: list[tuple[int, Any]] = field(default_factory=list)   # (publish time, event)
    incidents: list[Any] = field(default_factory=list)


def build_simulated_district(site_path: Path | None = None, scenario_path: Path | None = None,
                             seed: int | None = None, model_path: Path | None = None,
                             block_s: float = 0.25,
                             sensors: list[str] | None = None,
                             clips: Path | None = None, fusion: bool = True) -> DistrictRun:
    """Load the site and scenario, start the simulator and one sensor component per sensor.

    One classifier session is shared by every sensor: on a single machine that saves memory,
    and the model is stateless between calls. ``fusion=False`` builds the sensors only (a
    shard of the district whose events are fused elsewhere).
    """
    from soft.audio.features import FeatureConfig
    from soft.classify.inference import Classifier
    from soft.sim.from_site import simulation_for_site
    from soft.site import load_site

    site_path = Path(site_path or default_site())
    scenario_path = Path(scenario_path or default_scenario())
    site = load_site(site_path)
    simulation = simulation_for_site(site_path, scenario_path, seed=seed, site=site,
                                     clips=clips)
    simulation.scenario_path = scenario_path
    classifier = Classifier(Path(model_path or default_model()), expected=FeatureConfig())
    host = EmbeddedHost()
    run = DistrictRun(host, site, simulation.scenario, simulation, classifier)
    ids = sensors or site.sensor_ids()
    for sid in ids:
        sensor = site.sensor(sid)
        host.add(SensorComponent, namespace=f'sensor_{sid}', params={
            'sensor_id': sid, 'driver': 'sim', 'block_s': block_s,
            'sensitivity_dbfs': float(sensor.sensitivity_dbfs)},
            remap={'events': EVENTS_TOPIC},
            resources={'simulation': simulation, 'classifier': classifier})
    host.tap(EVENTS_TOPIC, lambda topic, msg, now: run.events.append((now, msg)))
    if fusion:
        add_fusion(host, site, run.incidents)
    return run


def add_fusion(host: EmbeddedHost, site: Any, incidents: list[Any]) -> None:
    """The centre's fusion on ``host``, listening to every sensor; incidents are collected."""
    host.add(FusionComponent, namespace='soft', remap={'events': EVENTS_TOPIC},
             resources={'site': site})
    host.tap('soft/incidents', lambda topic, msg, now: incidents.append(msg))
