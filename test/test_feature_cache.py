"""The training feature cache: keyed entries, and two runs writing the same entry at once."""
from __future__ import annotations

import numpy as np
import pytest

from soft.classify import featureset as fset


def _set(value: float, n: int = 3) -> fset.FeatureSet:
    return fset.FeatureSet(np.full((n, 4, 5), value, dtype=np.float16), np.arange(n),
                           np.full(n, 'synthetic', dtype='U10'), np.full(n, 'k', dtype='U120'))


def test_an_entry_is_built_once_per_key_and_loaded_after(tmp_path):
    builds = []

    def build(v=1.0):
        builds.append(v)
        return _set(v)

    a = fset.cached(tmp_path, 'train-gen-x', 'k1', build)
    b = fset.cached(tmp_path, 'train-gen-x', 'k1', lambda: pytest.fail('rebuilt a cached entry'))
    assert builds == [1.0] and np.array_equal(a.x, b.x) and list(b.origin) == list(a.origin)
    assert fset.is_cached(tmp_path, 'train-gen-x', 'k1')
    assert not fset.is_cached(tmp_path, 'train-gen-x', 'k2')
    c = fset.cached(tmp_path, 'train-gen-x', 'k2', lambda: build(2.0))
    assert builds == [1.0, 2.0] and float(c.x[0, 0, 0]) == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ['train-gen-x-k1.npz',
                                                          'train-gen-x-k2.npz']


def test_two_writers_of_one_entry_do_not_move_each_others_file(tmp_path, monkeypatch):
    """Another run finishing the same entry between this one's write and rename is harmless."""
    real_replace = fset.os.replace
    state = {'inner': False}

    def replace(src, dst):
        if not state['inner']:
            state['inner'] = True
            fset.cached(tmp_path, 'val-background', 'k', lambda: _set(3.0))  # the other run
        real_replace(src, dst)

    monkeypatch.setattr(fset.os, 'replace', replace)
    got = fset.cached(tmp_path, 'val-background', 'k', lambda: _set(3.0))
    assert state['inner'] and float(got.x[0, 0, 0]) == 3.0
    assert [p.name for p in tmp_path.iterdir()] == ['val-background-k.npz']   # no temp left
    monkeypatch.setattr(fset.os, 'replace', real_replace)
    again = fset.cached(tmp_path, 'val-background', 'k', lambda: pytest.fail('rebuilt'))
    assert np.array_equal(again.x, got.x)


def test_a_failed_write_leaves_no_entry_and_no_temporary_file(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(fset.np, 'savez', boom)
    with pytest.raises(OSError, match='disk full'):
        fset.cached(tmp_path, 'fa-streams', 'k', lambda: _set(0.0))
    assert list(tmp_path.iterdir()) == []
