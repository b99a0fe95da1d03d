"""The `soft` command line: demo, simulate, run, train, evaluate, compare.

Every sub-command has --help. Errors in inputs (site, scenario, audio, model) are printed as
one clear line naming the file and field, with exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence


def _add_site_args(p: argparse.ArgumentParser, scenario: bool = True) -> None:
    p.add_argument('--site', type=Path, default=None,
                   help='site file (default: the shipped Saint-Étienne district)')
    if scenario:
        p.add_argument('--scenario', type=Path, default=None,
                       help='scenario file (default: config/scenarios/demo_mixed.yaml)')
    p.add_argument('--seed', type=int, default=None, help='simulator seed (default: scenario)')
    p.add_argument('--clips', type=Path, default=None,
                   help='folder of real recordings in label subfolders (e.g. gunshot/) that '
                   'replace the generated sounds of those classes')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='soft', description='S.O.F.T. acoustic event detection and response.')
    sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')

    p = sub.add_parser('demo', help='run the simulated district end to end and report',
                       description='Run the simulated district (every sensor and component) '
                       'on the embedded host with a scripted scenario, faster than real time, '
                       'and print a table per incident.')
    _add_site_args(p)
    p.add_argument('--minutes', type=float, default=None,
                   help='simulated minutes to run (default: the whole scenario)')
    p.add_argument('--model', type=Path, default=None, help='ONNX classifier')
    p.add_argument('--block', type=float, default=0.25, help='capture block length, s')
    p.add_argument('--json', type=Path, default=None, help='also write the report as JSON')
    p.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1),
                   help='processes sharing the sensors (default: up to 2 cores); 1 runs the '
                   'whole graph in this process')
    p.add_argument('--quiet', action='store_true', help='no progress line')

    p = sub.add_parser('simulate', help='write the ground truth of a scenario',
                       description='Simulate a scenario over a site and write its ground truth '
                       '(per incident and sensor: arrival time, distance, level, SNR). '
                       'No audio is written.')
    p.add_argument('scenario', type=Path, help='scenario YAML file')
    _add_site_args(p, scenario=False)
    p.add_argument('--out', type=Path, default=Path('runs/simulate'),
                   help='output folder for ground_truth.json/.csv')

    p = sub.add_parser('run', help='run a site on real devices (or files) on the real clock',
                       description='Run the sensors of a site on the embedded host with the '
                       'real clock: each sensor reads its audio device, or a file.')
    p.add_argument('site', type=Path, help='site YAML file')
    p.add_argument('--driver', choices=('device', 'file'), default='device')
    p.add_argument('--device', default='', help='audio device name or index (driver=device)')
    p.add_argument('--file', type=Path, default=None, help='audio file (driver=file)')
    p.add_argument('--sensor', action='append', default=None,
                   help='sensor id to run (repeatable; default: all of the site)')
    p.add_argument('--model', type=Path, default=None, help='ONNX classifier')
    p.add_argument('--seconds', type=float, default=None, help='stop after this many seconds')

    p = sub.add_parser('train', help='train the classifier and export it to ONNX',
                       add_help=False)
    p.add_argument('args', nargs=argparse.REMAINDER)
    p = sub.add_parser('evaluate', help='evaluate a model on a folder of labelled recordings',
                       add_help=False)
    p.add_argument('args', nargs=argparse.REMAINDER)
    p = sub.add_parser('compare', help='paired comparison of two soft evaluate reports, or '
                       'of two recipes over training seeds (--vs)',
                       add_help=False)
    p.add_argument('args', nargs=argparse.REMAINDER)
    p = sub.add_parser('soak', help='police events per sensor-hour from a gateway\'s rosbag '
                       '(a site\'s soak test)', add_help=False)
    p.add_argument('args', nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['train']:
        from soft.classify.train import main as train_main

        return int(train_main(argv[1:]) or 0)
    if argv[:1] == ['evaluate']:
        from soft.evaluation.evaluate import main as evaluate_main

        return int(evaluate_main(argv[1:]) or 0)
    if argv[:1] == ['soak']:
        from soft.evaluation.soak import soak_main

        return int(soak_main(argv[1:]) or 0)
    if argv[:1] == ['compare']:
        from soft.evaluation.paired import main as compare_main

        return int(compare_main(argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    from soft.configio import ConfigError

    try:
        if args.command == 'demo':
            from soft.demo import run_demo

            return run_demo(args)
        if args.command == 'simulate':
            from soft.demo import run_simulate

            return run_simulate(args)
        if args.command == 'run':
            from soft.demo import run_site

            return run_site(args)
    except ConfigError as exc:
        print(f'soft: {exc}', file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f'soft {args.command}: {type(exc).__name__}: {exc}', file=sys.stderr)
        return 2
    return 1


if __name__ == '__main__':
    raise SystemExit(main())
