"""Dataset layouts: detection, label mapping, groups, and bad clips skipped with reasons.

Tiny datasets of each layout are written to tmp_path (generated noise and tones: this
loader's own tests are the one place audio files are written, as the brief allows).
"""
import numpy as np
import pytest
import soundfile as sf

from soft.classify import layouts as L
from soft.classify import taxonomy
from soft.classify.dataset import default_data_dir, load_devset, split_by_group

SR = 16000


def tone(seconds=1.0, f=1000.0, sr=SR, amp=0.3, seed=0):
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    return (amp * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(t.size)
            ).astype(np.float32)


def write(path, x, sr=SR, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, format=fmt)
    return path


def test_esc50_layout_maps_categories_and_groups_by_source(tmp_path):
    (tmp_path / 'meta').mkdir()
    rows = [('1-100038-A-14.wav', 1, 14, 'chirping_birds', 100038),
            ('1-100210-A-39.wav', 1, 39, 'glass_breaking', 100210),
            ('2-100210-B-39.wav', 2, 39, 'glass_breaking', 100210),
            ('3-1-A-42.wav', 3, 42, 'siren', 1)]
    with open(tmp_path / 'meta' / 'esc50.csv', 'w') as fh:
        fh.write('filename,fold,target,category,esc10,src_file,take\n')
        for name, fold, target, cat, src in rows:
            fh.write(f'{name},{fold},{target},{cat},False,{src},A\n')
            write(tmp_path / 'audio' / name, tone(seed=fold))
    assert L.detect_layout(tmp_path) == 'esc50'
    data = L.load_dataset(tmp_path)
    by_name = {c.path.name: c for c in data.clips}
    assert by_name['1-100210-A-39.wav'].class_id == taxonomy.by_name('glass_break').id
    assert by_name['1-100038-A-14.wav'].class_id == taxonomy.BACKGROUND
    assert by_name['3-1-A-42.wav'].class_id == taxonomy.by_name('siren').id
    # two takes of one Freesound source share a group, so a split keeps them together
    assert by_name['1-100210-A-39.wav'].group == by_name['2-100210-B-39.wav'].group
    assert by_name['3-1-A-42.wav'].fold == '3'
    assert not data.unknown_labels and not data.skipped


def test_urbansound8k_layout(tmp_path):
    (tmp_path / 'metadata').mkdir()
    with open(tmp_path / 'metadata' / 'UrbanSound8K.csv', 'w') as fh:
        fh.write('slice_file_name,fsID,start,end,salience,fold,classID,class\n')
        fh.write('7061-6-0-0.wav,7061,0,1,1,1,6,gun_shot\n')
        fh.write('7061-6-0-1.wav,7061,1,2,1,1,6,gun_shot\n')
        fh.write('9031-4-0-0.wav,9031,0,1,1,2,4,drilling\n')
        fh.write('9999-5-0-0.wav,9999,0,1,1,2,5,engine_idling\n')
    write(tmp_path / 'audio' / 'fold1' / '7061-6-0-0.wav', tone())
    write(tmp_path / 'audio' / 'fold1' / '7061-6-0-1.wav', tone(seed=1))
    write(tmp_path / 'audio' / 'fold2' / '9031-4-0-0.wav', tone(seed=2))
    # 9999-5-0-0.wav is listed but absent
    data = L.load_dataset(tmp_path)
    assert data.layout == 'urbansound8k'
    ids = {c.path.name: (c.class_id, c.group) for c in data.clips}
    assert ids['7061-6-0-0.wav'] == (taxonomy.by_name('gunshot').id, 'fs:7061')
    assert ids['9031-4-0-0.wav'][0] == taxonomy.by_name('drill').id
    skipped = [(p.name, r.split(':')[0]) for p, r in data.skipped]
    assert skipped == [('9999-5-0-0.wav', 'missing')]


def test_dcase_sidecars_and_event_lists(tmp_path):
    write(tmp_path / 'a' / 'mix_001.wav', tone(3.0))
    (tmp_path / 'a' / 'mix_001.txt').write_text('0.50\t1.25\tglassbreak\n2.0\t2.5\tbabycry\n')
    write(tmp_path / 'a' / 'mix_002.flac', tone(3.0, seed=1), fmt='FLAC')
    (tmp_path / 'a' / 'mix_002.txt').write_text('')                 # annotated: no event
    write(tmp_path / 'b' / 'mixture_devtest_gunshot_000.wav', tone(3.0, seed=2))
    write(tmp_path / 'b' / 'mixture_devtest_gunshot_001.wav', tone(3.0, seed=3))
    write(tmp_path / 'b' / 'stray.wav', tone(3.0, seed=4))
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'meta' / 'event_list_devtest_gunshot.csv').write_text(
        'mixture_devtest_gunshot_000.wav\t1.2\t2.0\tgunshot\n'
        'mixture_devtest_gunshot_001.wav\n')
    assert L.detect_layout(tmp_path) == 'dcase'
    data = L.load_dataset(tmp_path)
    clips = {c.path.name: c for c in data.clips}
    glass = taxonomy.by_name('glass_break').id
    assert [(a.onset_s, a.offset_s, a.class_id) for a in clips['mix_001.wav'].events] == [
        (0.5, 1.25, glass), (2.0, 2.5, taxonomy.BACKGROUND)]
    assert clips['mix_001.wav'].class_id == glass
    assert clips['mix_002.flac'].events == () and clips['mix_002.flac'].class_id == 0
    g = clips['mixture_devtest_gunshot_000.wav']
    assert [(a.onset_s, a.label) for a in g.events] == [(1.2, 'gunshot')]
    assert clips['mixture_devtest_gunshot_001.wav'].events == ()
    skipped = [(p.name, r.split(':')[0]) for p, r in data.skipped]
    assert skipped == [('stray.wav', 'unannotated')]


MIVIA_XML = """<?xml version="1.0"?>
<root><background><item><SUBCLASS>road</SUBCLASS></item></background>
<events>
 <item><CLASS_ID>2</CLASS_ID><CLASS_NAME>gunshots</CLASS_NAME>
  <STARTSECOND>1.25</STARTSECOND><ENDSECOND>1.9</ENDSECOND></item>
 <item><CLASS_ID>1</CLASS_ID><CLASS_NAME>glass_0012.wav</CLASS_NAME>
  <STARTSECOND>4.0</STARTSECOND><ENDSECOND>5.5</ENDSECOND></item>
 <item><CLASS_ID>3</CLASS_ID><CLASS_NAME>screams</CLASS_NAME>
  <STARTSECOND>7</STARTSECOND><ENDSECOND>8.25</ENDSECOND></item>
</events></root>
"""


def test_mivia_xml_annotates_every_snr_take_of_its_mixture(tmp_path):
    root = tmp_path / 'MIVIA_DB4_dist' / 'testing'
    for k in (1, 2, 6):                          # the 5, 10 and 30 dB takes of mixture 00001
        write(root / 'sounds' / f'00001_{k}.wav', tone(9.0, seed=k))
    write(root / 'sounds' / '00002_1.wav', tone(9.0, seed=9))
    (root / '00001.xml').write_text(MIVIA_XML)
    (root / 'notes.xml').write_text('<root><author>x</author></root>')   # not an annotation
    assert L.detect_layout(tmp_path) == 'dcase'
    data = L.load_dataset(tmp_path)
    clips = {c.path.name: c for c in data.clips}
    assert sorted(clips) == ['00001_1.wav', '00001_2.wav', '00001_6.wav']
    want = [(1.25, 1.9, 'gunshot'), (4.0, 5.5, 'glass_break'), (7.0, 8.25, 'scream')]
    for c in clips.values():
        assert [(a.onset_s, a.offset_s, taxonomy.by_id(a.class_id).name)
                for a in c.events] == want
        assert c.class_id == -1                  # three classes share the recording
    assert [(p.name, r.split(':')[0]) for p, r in data.skipped] == [('00002_1.wav',
                                                                     'unannotated')]
    (root / '00001.xml').write_text(MIVIA_XML.replace('<STARTSECOND>7</STARTSECOND>',
                                                      '<STARTSECOND>soon</STARTSECOND>'))
    with pytest.raises(L.LayoutError, match=r"00001\.xml: events item 3: STARTSECOND: 'soon'"):
        L.load_dataset(tmp_path)


def test_dcase_bad_row_names_file_and_line(tmp_path):
    write(tmp_path / 'x.wav', tone())
    (tmp_path / 'x.txt').write_text('0.1 0.4 gunshot\n0.9 0.5 gunshot\n')
    with pytest.raises(L.LayoutError, match=r'x\.txt:2: onset/offset'):
        L.load_dataset(tmp_path)


def test_folders_unknown_labels_label_map_and_strict(tmp_path):
    write(tmp_path / 'Gun Shot' / 'one.wav', tone())
    write(tmp_path / 'tuba' / 'two.wav', tone(seed=1))
    write(tmp_path / 'kazoo' / 'three.wav', tone(seed=2))
    write(tmp_path / 'loose.wav', tone(seed=3))
    data = L.load_dataset(tmp_path)
    assert data.layout == 'folders'
    ids = {c.path.name: c.class_id for c in data.clips}
    assert ids == {'one.wav': 1, 'two.wav': 0, 'three.wav': 0}
    assert data.unknown_labels == {'tuba': 1, 'kazoo': 1}
    assert [r.split(':')[0] for _, r in data.skipped] == ['unlabelled']
    with pytest.raises(L.LayoutError, match='no taxonomy mapping'):
        L.load_dataset(tmp_path, strict=True)
    yml = tmp_path / 'map.yaml'
    yml.write_text('labels:\n  tuba: car_horn\n  kazoo: ignore\n')
    data = L.load_dataset(tmp_path, label_map=yml, strict=True)
    assert {c.path.name: c.class_id for c in data.clips} == {'one.wav': 1, 'two.wav': 8}
    assert data.ignored == 1
    csv_map = tmp_path / 'map.csv'
    csv_map.write_text('label,class\ntuba,whistle\nkazoo,trumpet\n')
    with pytest.raises(L.LayoutError, match=r'map\.csv:3: .*trumpet'):
        L.load_dataset(tmp_path, label_map=csv_map)
    bad_yaml = tmp_path / 'bad.yaml'
    bad_yaml.write_text('tuba: car_horn\nkazoo: nope\n')
    with pytest.raises(L.LayoutError, match=r'bad\.yaml:2:'):
        L.load_label_map(bad_yaml)


def test_common_folder_names_and_plurals_map_to_the_taxonomy(tmp_path):
    names = {'Gunshots': 'gunshot', 'Screams': 'scream', 'glass': 'glass_break',
             'Broken Glass': 'glass_break', 'sirens': 'siren', 'Fire-Truck': 'siren',
             'explosions': 'explosion', 'car horns': 'car_horn', 'Fireworks': 'crackling',
             'crashes': 'crash', 'background': 'background', 'tubas': None}
    for i, name in enumerate(names):
        write(tmp_path / name / f'c{i}.wav', tone(seed=i))
    data = L.load_dataset(tmp_path)
    got = {c.path.parent.name: taxonomy.by_id(c.class_id).name for c in data.clips}
    assert got == {k: v or 'background' for k, v in names.items()}
    # only a plural of a known label falls back; anything else is counted as unknown
    assert data.unknown_labels == {'tubas': 1}


def test_audioset_and_fsd50k_names_map_to_the_taxonomy():
    """Clips cut from AudioSet or FSD50K keep their ontology names, commas and all."""
    names = {'Gunshot, gunfire': 'gunshot', 'Gunshot_and_gunfire': 'gunshot',
             'Machine gun': 'gunshot', 'Explosion': 'explosion', 'Screaming': 'scream',
             'Shatter': 'glass_break', 'Police car (siren)': 'siren',
             'Ambulance (siren)': 'siren', 'Fire engine, fire truck (siren)': 'siren',
             'Vehicle horn, car horn, honking': 'car_horn',
             'Vehicle_horn_and_car_horn_and_honking': 'car_horn', 'Smash, crash': 'crash',
             'Firecracker': 'crackling', 'Jackhammer': 'drill', 'Whistling': 'whistle',
             'Spray': 'aerosol_spray', 'Cap gun': 'background', 'Burst, pop': 'background',
             'Car alarm': 'background', 'Traffic noise, roadway noise': 'background'}
    mapper = L.LabelMapper(L.DEFAULT_LABEL_MAP, strict=True)
    got = {n: taxonomy.by_id(mapper(n, 'test')).name for n in names}
    assert got == names
    assert L.normalise_label(' Police car (siren) ') == 'police_car_siren'
    assert L.normalise_label('Détonation / Coup-de-feu') == 'détonation_coup_de_feu'
    with pytest.raises(L.LayoutError, match="'Didgeridoo'"):
        mapper('Didgeridoo', 'test')


def test_no_layout_is_a_clear_error(tmp_path):
    (tmp_path / 'notes.md').write_text('hello')
    with pytest.raises(L.LayoutError, match='no supported dataset layout'):
        L.load_dataset(tmp_path)
    with pytest.raises(FileNotFoundError):
        L.load_dataset(tmp_path / 'absent')


def test_bad_clips_are_skipped_or_noted_never_a_crash(tmp_path):
    d = tmp_path / 'siren'
    write(d / 'good.wav', tone(1.0))
    write(d / 'silent.wav', np.zeros(SR, np.float32))
    write(d / 'short.wav', tone(0.05))
    write(d / 'long.wav', tone(5.0))
    (d / 'corrupt.wav').write_bytes(b'RIFF\x00\x00\x00\x00WAVEjunkjunk')
    (d / 'empty.flac').write_bytes(b'')
    stereo = np.stack([tone(1.0, sr=44100), tone(1.0, f=500, sr=44100)], axis=1)
    write(d / 'stereo44k.wav', stereo, sr=44100)
    clipped = np.clip(tone(1.0, amp=3.0), -1, 1)
    write(d / 'clipped.flac', clipped, fmt='FLAC')
    data = L.load_dataset(tmp_path)
    loaded, rep = L.load_audio(data.clips, SR, max_s=2.0)
    got = {c.path.name for c, _ in loaded}
    assert got == {'good.wav', 'stereo44k.wav', 'clipped.flac'}
    reasons = {p.name: r.split(':')[0] for p, r in rep.skipped}
    assert reasons == {'silent.wav': 'silent', 'short.wav': 'short', 'long.wav': 'long',
                       'corrupt.wav': 'corrupt', 'empty.flac': 'corrupt'}
    assert rep.notes == {'multichannel': 1, 'resampled': 1, 'clipped': 1}
    x = dict((c.path.name, x) for c, x in loaded)['stereo44k.wav']
    assert x.ndim == 1 and abs(x.size - SR) <= 1 and x.dtype == np.float32


def test_shared_manifest_uses_the_training_split():
    root = default_data_dir()
    if not (root / 'devset' / 'manifest.csv').is_file():
        pytest.skip('shared dev set not present')
    full = L.load_dataset(root)
    sub = L.load_dataset(root / 'devset')
    assert full.layout == sub.layout == 'manifest'
    # devset/ alone is split as part of both manifests, exactly as soft train splits them
    _, val = split_by_group(load_devset(root), 0.25, 0)
    _, val_sub = split_by_group(sub.manifest_records, 0.25, 0)
    assert {r.path for r in val} == {r.path for r in val_sub}
    assert len(full.clips) == len(full.manifest_records) and not full.unknown_labels
    assert {c.class_id for c in full.clips} >= {0, 1, 5, 12}
