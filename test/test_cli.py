"""The command line on real files: ground truth written, bad input reported in one line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from soft.cli import main
from soft.paths import config_dir, default_site


def test_simulate_writes_ground_truth_and_no_audio(tmp_path: Path, capsys):
    rc = main(['simulate', str(config_dir() / 'scenarios' / 'smoke.yaml'),
               '--out', str(tmp_path)])
    assert rc == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ['ground_truth.csv', 'ground_truth.json']
    data = json.loads((tmp_path / 'ground_truth.json').read_text())
    sounds = data['sounds'] if isinstance(data, dict) else data
    assert len(sounds) >= 6
    assert 'no audio written' in capsys.readouterr().out


def test_unknown_class_in_scenario_names_file_line_and_field(tmp_path: Path, capsys):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('name: x\nduration_s: 10\nincidents:\n'
                   '  - time: 1\n    kind: gunshoot\n    position: {x: 0, y: 0}\n')
    assert main(['simulate', str(bad), '--out', str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err
    assert f'{bad}:5' in err and 'incidents[0].kind' in err and 'gunshoot' in err
    assert 'Traceback' not in err


def test_malformed_site_names_file_line_and_field(tmp_path: Path, capsys):
    text = default_site().read_text(encoding='utf-8')
    broken = text.replace('height_m: 5.4', 'height_m: -5.4', 1)
    assert broken != text
    site = tmp_path / 'site.yaml'
    site.write_text(broken, encoding='utf-8')
    line = broken[:broken.index('height_m: -5.4')].count('\n') + 1
    rc = main(['simulate', str(config_dir() / 'scenarios' / 'smoke.yaml'), '--site', str(site),
               '--out', str(tmp_path / 'o')])
    assert rc == 2
    err = capsys.readouterr().err
    assert f'{site}:{line}' in err and 'height_m' in err


def test_every_command_has_help(capsys):
    for cmd in ('demo', 'simulate', 'run', 'evaluate', 'train'):
        with pytest.raises(SystemExit) as exc:
            main([cmd, '--help'])
        assert exc.value.code == 0
        assert 'usage: soft' in capsys.readouterr().out


def test_run_names_a_missing_device_and_keeps_going(capsys):
    rc = main(['run', str(default_site()), '--driver', 'device', '--device', 'no-such-mic',
               '--sensor', 's01', '--sensor', 's02', '--seconds', '0.3'])
    err = capsys.readouterr().err
    assert rc == 2
    assert 'sensor s01 not started' in err and 'sensor s02 not started' in err
    assert 'no-such-mic' in err and 'Traceback' not in err


def test_run_streams_a_file_in_real_time(capsys):
    clip = sorted((Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'devset' /
                   'sesa').rglob('*.flac'))
    if not clip:
        pytest.skip('shared dev set not present')
    rc = main(['run', str(default_site()), '--driver', 'file', '--file', str(clip[0]),
               '--sensor', 's01', '--seconds', '1.0'])
    assert rc == 0, capsys.readouterr().err
