"""Where the package's shared files live: interfaces, config, sites, models.

A wheel carries them under ``soft/_share`` (copied by setup.py), an editable install reads the
source tree, a colcon install reads ``share/soft``. One lookup serves all three.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

_MARKER = Path('msg') / 'AcousticEvent.msg'


@lru_cache(maxsize=1)
def share_dir() -> Path:
    here = Path(__file__).resolve().parent
    candidates = [here / '_share', here.parent.parent]
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / 'share' / 'soft')
    for cand in candidates:
        if (cand / _MARKER).is_file():
            return cand
    raise FileNotFoundError('soft shared files (msg/, config/, models/) not found in: '
                            + ', '.join(str(c) for c in candidates))


def config_dir() -> Path:
    return share_dir() / 'config'


def models_dir() -> Path:
    return share_dir() / 'models'


def default_site() -> Path:
    return config_dir() / 'sites' / 'saint_etienne_tarentaize.yaml'


def default_model() -> Path:
    return models_dir() / 'soft_classifier.onnx'
