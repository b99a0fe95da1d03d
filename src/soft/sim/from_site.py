"""Build a district simulation from a site file and a scenario file.

Clock offsets are drawn per sensor within the site's stated tolerance (GPS/PTP), as the
fusion must cope with them; they depend only on the seed so every host gets the same ones.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def simulation_for_site(site_path: str | Path | None, scenario_path: str | Path | None,
                        seed: int | None = None, site: Any = None,
                        sample_rate: int = 16000, clips: str | Path | None = None) -> Any:
    """``clips``: a folder of real recordings in label subfolders that replace the
    procedural sources of the kinds it holds (incidents without a named variant)."""
    from soft.paths import config_dir, default_site
    from soft.sim.district import DistrictSimulation, SimMic
    from soft.sim.sources import ClipLibrary
    from soft.sim.scenario import load_scenario
    from soft.site import load_site

    site = site or load_site(Path(site_path or default_site()))
    scenario = load_scenario(Path(scenario_path or config_dir() / 'scenarios' /
                                  'demo_mixed.yaml'), to_enu=site.to_enu)
    seed = scenario.seed if seed is None else seed
    rng = np.random.default_rng([seed, 0x50F7])
    mics = []
    for sid in site.sensor_ids():
        s = site.sensor(sid)
        tol = float(s.clock_tolerance_s)
        mics.append(SimMic(id=sid, position=site.sensor_position(sid),
                           sensitivity_dbfs=float(s.sensitivity_dbfs),
                           self_noise_dba=float(s.self_noise_dba),
                           clock_offset_s=float(rng.uniform(-tol, tol) / 2),
                           clock_jitter_s=tol / 20, background=s.background))
    sim = DistrictSimulation(mics, scenario, buildings=site.building_polygons(),
                             sample_rate=sample_rate, seed=seed,
                             clips=ClipLibrary(clips) if clips else None)
    sim.site = site
    return sim
