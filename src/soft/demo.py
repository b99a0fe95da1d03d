"""`soft demo`, `soft simulate` and `soft run`: the district on the embedded host.

The demo is also the end-to-end check a city integrator runs first: it prints what every stage
did for every incident, scored against the simulator's ground truth.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from soft.classify import taxonomy
from soft.evaluation.scenario_score import (Arrival, Event, IncidentScore, LocatedIncident, Score,
                                            SoundTruth, score, score_incidents)
from soft.graph import messages

NS = 1_000_000_000


def arrivals_from_simulation(simulation: Any, until_s: float | None = None,
                             sensors: set[str] | None = None) -> list[Arrival]:
    """Every rendered sound reaching every sensor, on each sensor's capture clock."""
    out = []
    for i, gt in enumerate(simulation.ground_truth()):
        if until_s is not None and gt.emission_time_s > until_s:
            continue
        for mt in gt.mics:
            if not mt.rendered or (sensors is not None and mt.mic_id not in sensors):
                continue
            mic_index = simulation.mic_index(mt.mic_id)
            expected = simulation.capture_time_ns(mic_index, int(round(mt.arrival_time_s * NS)))
            out.append(Arrival(i, mt.mic_id, gt.class_id, gt.kind, expected, mt.distance_m,
                               mt.snr_db, bool(gt.sustained), float(gt.duration_s)))
    return out


def sounds_from_truth(truth: list[Any], until_s: float) -> list[SoundTruth]:
    return [SoundTruth(i, gt.class_id, int(round(gt.emission_time_s * NS)),
                       float(gt.duration_s), float(gt.position[0]), float(gt.position[1]))
            for i, gt in enumerate(truth) if gt.emission_time_s <= until_s]


def incidents_from_messages(msgs: list[Any]) -> list[LocatedIncident]:
    return [LocatedIncident(messages.stamp_ns(m.header.stamp), m.class_id, m.confidence,
                            m.position.x, m.position.y, m.ellipse_major_m, len(m.sensor_ids),
                            m.position_degraded, m.ellipse_minor_m, m.ellipse_orientation_rad)
            for m in msgs]


def events_from_messages(msgs: list[Any]) -> list[Event]:
    return [Event(m.sensor_id, messages.stamp_ns(m.header.stamp), m.class_id, m.confidence,
                  m.sustained) for m in msgs]


def _progress(run: Any, end_ns: int, wall0: float, quiet: bool) -> Any:
    last = [0.0]

    def tick(now: int) -> None:
        wall = time.monotonic()
        if quiet or wall - last[0] < 0.5:
            return
        last[0] = wall
        n = len(run.events)
        print(f'\r  simulated {now / NS:7.1f} / {end_ns / NS:.0f} s   wall {wall - wall0:6.1f} s'
              f'   events {n:5d}', end='', file=sys.stderr, flush=True)
    return tick


def report_table(sc: Score, truth: list[Any], until_s: float,
                 isc: IncidentScore | None = None) -> list[dict[str, Any]]:
    rows = []
    for i, gt in enumerate(truth):
        if gt.emission_time_s > until_s:
            continue
        matches = sc.by_incident.get(i, [])
        near = [m for m in matches if m.arrival.distance_m <= 150.0]
        detected = [m for m in matches if m.event is not None]
        correct = [m for m in detected if m.correct]
        errs = [abs(m.onset_error_s) * 1e3 for m in correct
                if m.onset_error_s is not None and not m.event.sustained]
        votes: dict[int, float] = {}
        for m in detected:
            votes[m.event.class_id] = votes.get(m.event.class_id, 0.0) + m.event.confidence
        top = max(votes, key=votes.__getitem__) if votes else None
        rows.append({
            'time_s': round(gt.emission_time_s, 2), 'kind': gt.kind, 'variant': gt.variant,
            'class_id': gt.class_id,
            'x': round(float(gt.position[0]), 1), 'y': round(float(gt.position[1]), 1),
            'sensors_in_range': len(matches), 'sensors_within_150m': len(near),
            'detecting_sensors': len(detected), 'correct_class_sensors': len(correct),
            'top_class': taxonomy.by_id(top).name if top is not None else '-',
            'median_onset_error_ms': round(float(np.median(errs)), 3) if errs else None,
            **_location(isc.located.get(i) if isc else None, gt),
        })
    return rows


def _location(inc: LocatedIncident | None, gt: Any) -> dict[str, Any]:
    if inc is None:
        return {'located': False, 'incident_class': '-', 'position_error_m': None,
                'ellipse_major_m': None, 'incident_sensors': 0, 'degraded': None}
    return {'located': True, 'incident_class': taxonomy.by_id(inc.class_id).name,
            'position_error_m': round(float(np.hypot(inc.x - gt.position[0],
                                                     inc.y - gt.position[1])), 2),
            'ellipse_major_m': round(float(inc.ellipse_major_m), 2),
            'incident_sensors': inc.n_sensors, 'degraded': inc.degraded}


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (f'{"t (s)":>7}  {"sound":<24} {"x,y (m)":>13}  {"in range":>8} {"≤150 m":>6} '
            f'{"detect":>6} {"right":>5}  {"sensor verdict":<14} {"onset err":>9}  '
            f'{"incident":<14} {"pos err":>8} {"95% ell":>8}')
    print(head)
    print('-' * len(head))
    for r in rows:
        sound = r['kind'] + (f' ({r["variant"]})' if r['variant'] else '')
        err = f'{r["median_onset_error_ms"]:.3f} ms' if r['median_onset_error_ms'] is not None \
            else '-'
        print(f'{r["time_s"]:7.1f}  {sound[:24]:<24} {r["x"]:6.0f},{r["y"]:6.0f}  '
              f'{r["sensors_in_range"]:8d} {r["sensors_within_150m"]:6d} '
              f'{r["detecting_sensors"]:6d} {r["correct_class_sensors"]:5d}  '
              f'{r["top_class"]:<14} {err:>9}  {_incident_cells(r)}')


def _incident_cells(r: dict[str, Any]) -> str:
    if not r.get('located'):
        return f'{"-":<14} {"-":>8} {"-":>8}'
    name = r['incident_class'] + (' (deg.)' if r['degraded'] else '')
    return (f'{name[:14]:<14} {r["position_error_m"]:>6.1f} m '
            f'{r["ellipse_major_m"]:>6.1f} m')


# recall by distance for arrivals a sensor could hear (SNR >= 6 dB): where a model goes deaf
RANGE_BANDS_M = ((0.0, 150.0), (150.0, 300.0), (300.0, 600.0), (600.0, math.inf))
RANGE_MIN_SNR_DB = 6.0


def summary(sc: Score) -> dict[str, Any]:
    """The district's figures. Besides the near-sensor recall, the recall over every arrival
    at any range: how many sensors hear an alert sound right is what locates it, and a model
    that stays deaf to distant, quiet shots keeps the near recall (soft-cnn-1.8.1: 0.93 near,
    66 sensor detections of the scenario's gunshots against 1.4.1's 230)."""
    rec, n = sc.recall(150.0, 6.0)
    rec_all, n_all = sc.recall(math.inf, -math.inf)
    errs = sc.onset_errors_s(10.0)
    bands = []
    for lo, hi in RANGE_BANDS_M:
        r, k = sc.recall(hi, RANGE_MIN_SNR_DB, min_distance_m=lo)
        bands.append({'from_m': lo, 'to_m': None if math.isinf(hi) else hi,
                      'recall': None if np.isnan(r) else round(r, 4), 'arrivals': k})
    return {
        'alert_recall_150m_snr6': None if np.isnan(rec) else round(rec, 4),
        'alert_arrivals_150m_snr6': n,
        'alert_recall_any_range': None if np.isnan(rec_all) else round(rec_all, 4),
        'alert_arrivals_any_range': n_all,
        'alert_recall_by_range': bands,
        'median_onset_error_ms_snr10': round(float(np.median(np.abs(errs))) * 1e3, 4)
        if errs.size else None,
        'onset_errors_counted': int(errs.size),
        'false_events': len(sc.false_events),
        'false_events_per_sensor_hour': round(sc.false_per_sensor_hour(), 3),
        'false_police_events_per_sensor_hour': round(sc.false_per_sensor_hour(True), 3),
        'sensor_hours': round(sc.sensor_hours, 3),
    }


def simulate_and_score(site: Path | None, scenario: Path | None, seed: int | None,
                       minutes: float | None, model: Path | None = None, block_s: float = 0.25,
                       quiet: bool = True, sensors: list[str] | None = None,
                       clips: Path | None = None, workers: int = 1) -> dict[str, Any]:
    """Run the district graph over a scenario and score it: shared by demo, tests, benches.

    With ``workers`` > 1 the sensors are split into shards run by as many processes (as
    sensor gateways would be), their events cross as CDR bytes, and the fusion replays them
    in publication order: the same components, using every core.
    """
    from soft.graph.district_graph import build_simulated_district

    wall0 = time.monotonic()
    if workers <= 1:
        run = build_simulated_district(site, scenario, seed, model, block_s, sensors, clips)
        duration = _duration(run.scenario, minutes)
        end_ns = int(duration * NS)
        build_s = time.monotonic() - wall0
        run.host.run_until(end_ns, on_tick=_progress(run, end_ns, wall0, quiet))
        ids = sensors or run.site.sensor_ids()
        evs = events_from_messages([m for _, m in run.events])
        arrs = arrivals_from_simulation(run.simulation, duration, set(ids))
        truth = run.simulation.ground_truth()
        incidents = run.incidents
    else:
        run, duration, build_s, ids, evs, arrs, truth, incidents = _sharded(
            site, scenario, seed, minutes, model, block_s, sensors, clips, workers, quiet)
    wall = time.monotonic() - wall0
    if not quiet:
        print(file=sys.stderr)
    sc = score(arrs, evs, sensor_hours=len(ids) * duration / 3600.0)
    sounds = sounds_from_truth(truth, duration)
    isc = score_incidents(sounds, incidents_from_messages(incidents))
    summ = summary(sc)
    summ.update(incident_summary(isc, sounds, duration))
    return {'run': run, 'score': sc, 'incident_score': isc, 'duration_s': duration,
            'wall_s': wall, 'build_s': build_s, 'n_sensors': len(ids), 'events': evs,
            'rows': report_table(sc, truth, duration, isc), 'summary': summ}


def _duration(scenario: Any, minutes: float | None) -> float:
    return scenario.duration_s if minutes is None else min(minutes * 60.0, scenario.duration_s)


def _run_shard(job: tuple) -> dict[str, Any]:
    """One shard of sensors in a worker process: its events (CDR), arrivals, ground truth."""
    from soft.graph.district_graph import build_simulated_district

    site, scenario, seed, minutes, model, block_s, shard, clips, show = job
    wall0 = time.monotonic()
    run = build_simulated_district(site, scenario, seed, model, block_s, shard, clips,
                                   fusion=False)
    duration = _duration(run.scenario, minutes)
    end_ns = int(duration * NS)
    # The first shard shows progress for all: the shards advance at about the same pace.
    run.host.run_until(end_ns, on_tick=_progress(run, end_ns, wall0, not show))
    if show:
        print(file=sys.stderr)
    return {'events': [(now, messages.serialize(m)) for now, m in run.events],
            'arrivals': arrivals_from_simulation(run.simulation, duration, set(shard)),
            'truth': run.simulation.ground_truth(), 'duration': duration,
            'scenario': run.scenario,
            'errors': dict(run.host.errors), 'logs': run.host.logs,
            'published': dict(run.host.published)}


def _sharded(site, scenario, seed, minutes, model, block_s, sensors, clips, workers, quiet):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from soft.graph.district_graph import DistrictRun, add_fusion
    from soft.graph.embedded_host import EmbeddedHost
    from soft.graph.registry import EVENTS_TOPIC
    from soft.paths import default_site
    from soft.site import load_site

    wall0 = time.monotonic()
    site_obj = load_site(Path(site or default_site()))
    ids = sensors or site_obj.sensor_ids()
    shards = [ids[k::workers] for k in range(workers) if ids[k::workers]]
    jobs = [(site, scenario, seed, minutes, model, block_s, shard, clips, k == 0 and not quiet)
            for k, shard in enumerate(shards)]
    if not quiet:
        print(f'  {len(ids)} sensors in {len(shards)} worker processes; progress of the '
              f'first:', file=sys.stderr)
    with ProcessPoolExecutor(len(shards), mp_context=mp.get_context('spawn')) as pool:
        parts = list(pool.map(_run_shard, jobs))
    build_s = time.monotonic() - wall0
    duration = parts[0]['duration']
    stream = sorted(((now, data) for part in parts for now, data in part['events']),
                    key=lambda e: e[0])
    host = EmbeddedHost()
    incidents: list[Any] = []
    add_fusion(host, site_obj, incidents)
    msgs = []
    for now, data in stream:
        msg = messages.deserialize(data, 'soft/msg/AcousticEvent')
        msgs.append((now, msg))
        host.run_until(now)
        host.inject(EVENTS_TOPIC, msg)
    host.run_until(int(duration * NS))
    for part in parts:
        for key, n in part['errors'].items():
            host.errors[key] += n
        for topic, n in part['published'].items():
            if topic != EVENTS_TOPIC.lstrip('/'):   # events are counted again on injection
                host.published[topic] += n
        host.logs.extend(part['logs'])
    run = DistrictRun(host, site_obj, parts[0]['scenario'], None, None, events=msgs,
                      incidents=incidents)
    evs = events_from_messages([m for _, m in msgs])
    arrs = [a for part in parts for a in part['arrivals']]
    return run, duration, build_s, ids, evs, arrs, parts[0]['truth'], incidents


def incident_summary(isc: IncidentScore, sounds: list[SoundTruth],
                     duration_s: float) -> dict[str, Any]:
    police = [s for s in sounds if taxonomy.by_id(s.class_id).police]
    found = [s for s in police if s.index in isc.located
             and isc.located[s.index].class_id == s.class_id]
    err = isc.position_error_m(sounds)
    # an operator sees one pin per incident: a shot should make one, not one per echo
    shots = [isc.count[s.index] for s in police
             if taxonomy.by_id(s.class_id).impulsive and s.index in isc.count]
    return {
        'police_sounds': len(police),
        'police_sounds_located_right_class': len(found),
        'median_position_error_m': round(float(np.median(err)), 2) if err.size else None,
        'p90_position_error_m': round(float(np.percentile(err, 90)), 2) if err.size else None,
        'ellipse95_coverage': None if (cov := isc.ellipse_coverage(sounds)) is None
        else round(cov, 2),
        'incidents_per_impulsive_police_sound': round(float(np.mean(shots)), 2)
        if shots else None,
        'most_incidents_for_one_sound': max(shots, default=None),
        'false_incidents': len(isc.false_incidents),
        'false_incidents_per_hour': round(len(isc.false_incidents) * 3600.0 / duration_s, 2),
    }


def band_text(b: dict[str, Any]) -> str:
    """One range band of the summary, e.g. '150-300 m 0.89 of 21'."""
    span = f'{b["from_m"]:.0f}-{b["to_m"]:.0f} m' if b['to_m'] is not None \
        else f'> {b["from_m"]:.0f} m'
    return f'{span} {b["recall"]} of {b["arrivals"]}'


def run_demo(args: Any) -> int:
    res = simulate_and_score(args.site, args.scenario, args.seed, args.minutes, args.model,
                             args.block, quiet=args.quiet, clips=args.clips,
                             workers=args.workers)
    run = res['run']
    print(f'S.O.F.T. demo — site {run.site.name!r}, scenario {run.scenario.name!r}, '
          f'{res["n_sensors"]} sensors, {res["duration_s"] / 60:.1f} simulated minutes '
          f'in {res["wall_s"]:.1f} s wall ({res["duration_s"] / res["wall_s"]:.0f}x real time)')
    print()
    print_table(res['rows'])
    print()
    s = res['summary']
    print(f'alert-class recall (≤150 m, SNR ≥ 6 dB): {s["alert_recall_150m_snr6"]} '
          f'over {s["alert_arrivals_150m_snr6"]} arrivals; at any range and SNR: '
          f'{s["alert_recall_any_range"]} over {s["alert_arrivals_any_range"]}')
    print('alert-class recall by range (SNR ≥ 6 dB): '
          + ', '.join(band_text(b) for b in s['alert_recall_by_range']))
    print(f'median onset error (SNR ≥ 10 dB, impulsive): {s["median_onset_error_ms_snr10"]} ms '
          f'over {s["onset_errors_counted"]} events')
    print(f'false events: {s["false_events"]} ({s["false_events_per_sensor_hour"]} per '
          f'sensor-hour, {s["false_police_events_per_sensor_hour"]} of police classes)')
    print(f'incidents: {s["police_sounds_located_right_class"]} of {s["police_sounds"]} '
          f'police-class sounds located with the right class; position error median '
          f'{s["median_position_error_m"]} m, 90th percentile {s["p90_position_error_m"]} m, '
          f'95 % ellipse holding the source for {s["ellipse95_coverage"]}; '
          f'{s["false_incidents"]} incidents matching no sound; '
          f'{s["incidents_per_impulsive_police_sound"]} incidents per impulsive police sound '
          f'(at most {s["most_incidents_for_one_sound"]})')
    errors = sum(run.host.errors.values())
    print(f'graph: {sum(run.host.published.values())} messages, {errors} rejected or failed '
          f'callbacks')
    for t, level, node, text in run.host.logs[:10]:
        print(f'  [{level}] {t / NS:.2f} s {node}: {text}')
    print('later stages (alerts, cameras, dispatch): not in this build yet.')
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({'summary': s, 'incidents': res['rows'],
                                         'wall_s': res['wall_s'],
                                         'simulated_s': res['duration_s']}, indent=2))
    return 0


def run_simulate(args: Any) -> int:
    from soft.sim.from_site import simulation_for_site

    sim = simulation_for_site(args.site, args.scenario, seed=args.seed, clips=args.clips)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / 'ground_truth.json'
    sim.write_ground_truth(path)
    gts = sim.ground_truth()
    print(f'{len(gts)} sounds over {sim.scenario.duration_s:.0f} s on {len(sim.mics)} sensors; '
          f'ground truth in {path} (and .csv); no audio written')
    return 0


def run_site(args: Any) -> int:
    from soft.audio.features import FeatureConfig
    from soft.classify.inference import Classifier
    from soft.evaluation.clip_eval import deployed_sensor_params
    from soft.evaluation.soak import EventTally
    from soft.graph.embedded_host import EmbeddedHost
    from soft.graph.sensor_node import SensorComponent
    from soft.paths import default_model
    from soft.site import load_site

    site = load_site(args.site)
    ids = args.sensor or site.sensor_ids()
    if args.driver == 'file' and args.file is None:
        raise ValueError('--file is required with --driver file')
    classifier = Classifier(Path(args.model or default_model()), expected=FeatureConfig())
    # The real clock starts at the host's epoch time so stamps are comparable across sites.
    host = EmbeddedHost(start_ns=time.time_ns(), realtime=True, log=lambda lvl, node, text: print(
        f'[{lvl}] {node}: {text}', file=sys.stderr))
    started: dict[str, Any] = {}
    # the detector as config/params/sensor.yaml sets it for the ROS graph; the site file's
    # own microphone sensitivity per sensor
    deployed, _ = deployed_sensor_params()
    for sid in ids:
        params: dict[str, Any] = {**deployed, 'sensor_id': sid, 'driver': args.driver,
                                  'sensitivity_dbfs': float(site.sensor(sid).sensitivity_dbfs)}
        if args.driver == 'file':
            params['file_path'] = str(args.file)
        else:
            params['device'] = str(args.device)
        try:
            started[sid] = host.add(SensorComponent, namespace=f'sensor_{sid}', params=params,
                                    resources={'classifier': classifier})
        except (OSError, ValueError, RuntimeError) as exc:
            # One broken microphone must not keep the others from listening.
            print(f'soft run: sensor {sid} not started: {exc}', file=sys.stderr)
    if not host.nodes:
        raise RuntimeError('no sensor could be started')

    tally = EventTally(list(started))

    def show(topic: str, msg: Any, now: int) -> None:
        if msg.__msgtype__ == 'soft/msg/AcousticEvent':
            tally.add(msg.sensor_id, msg.class_id)
            print(f'{messages.stamp_ns(msg.header.stamp) / NS:10.3f} {msg.sensor_id} '
                  f'{taxonomy.by_id(msg.class_id).name} {msg.confidence:.2f} '
                  f'{msg.level_db_spl:.0f} dB SPL', flush=True)
    host.tap(None, show)
    end = host.now + int((args.seconds if args.seconds is not None
                          else 10 * 365 * 86400) * NS)
    try:
        host.run_until(end)
    except KeyboardInterrupt:
        pass
    finally:
        host.shutdown()
        # the soak figure: police events per hour each sensor really heard
        heard = {sid: node.detector.heard_s / 3600.0
                 for sid, node in started.items() if getattr(node, 'detector', None)}
        for line in tally.lines(heard):
            print(f'soft run: {line}', file=sys.stderr)
    return 0
