"""Labelled sound datasets in the layouts people actually have, mapped to the taxonomy.

Anyone must be able to check the shipped model on their own recordings, so ``soft evaluate``
reads the layouts public datasets come in, detected from the folder itself: the shared dev-set
manifest, ESC-50 (``meta/esc50.csv`` + ``audio/``), UrbanSound8K
(``metadata/UrbanSound8K.csv`` + ``audio/foldN/``), DCASE-style strongly labelled recordings
(annotation files with ``onset offset label`` rows beside the audio, or one event list with
``filename onset offset label`` rows: DCASE 2017 task 2, DESED, Audacity labels; MIVIA's
XML per mixture, shared by its SNR takes) and a plain ``label/clip.wav`` tree. Each dataset
label maps to a taxonomy class through :data:`DEFAULT_LABEL_MAP`, extended by a user file; an
unknown label becomes background and is counted (or is an error with ``strict``), because a
silently ignored label hides a mistake.

Every clip carries a group id (the source recording it was cut from) so a split never puts
two cuts of one recording on both sides. Audio is read into memory only; a clip that cannot
be used (corrupt, silent, too short, too long) is skipped with a reason, never a crash;
event-free background recordings too long to load are streamed instead
(:func:`long_backgrounds`).
"""
from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from soft.classify import dataset as ds
from soft.classify import taxonomy

AUDIO_EXTENSIONS = ('.wav', '.flac', '.ogg', '.oga', '.aif', '.aiff', '.mp3')
ANNOTATION_EXTENSIONS = ('.txt', '.csv', '.tsv', '.ann')
IGNORE = 'ignore'               # a label-map target that drops the clip from the evaluation
MAX_ANNOTATION_BYTES = 20_000_000
LAYOUTS = ('manifest', 'esc50', 'urbansound8k', 'dcase', 'folders')

# Dataset label (normalised: lower case, '_' for spaces and dashes) -> taxonomy class name.
DEFAULT_LABEL_MAP: dict[str, str] = {
    **{c.name: c.name for c in taxonomy.CLASSES},
    **ds.LABEL_MAP,
    # ESC-50 (the 50 categories; ESC-10 is a subset)
    'glass_breaking': 'glass_break', 'car_horn': 'car_horn', 'siren': 'siren',
    'crackling_fire': 'crackling',
    'fireworks': 'crackling',           # firecrackers: the taxonomy's crackling class
    'chainsaw': 'angle_grinder',        # as the training's map: a motor-driven cutting tool
    'hand_saw': 'background',           # a manual saw, no motor
    'crying_baby': 'background',        # hard negative for scream
    **{name: 'background' for name in (
        'dog', 'rooster', 'pig', 'cow', 'frog', 'cat', 'hen', 'insects', 'sheep', 'crow',
        'rain', 'sea_waves', 'crickets', 'chirping_birds', 'water_drops', 'wind',
        'pouring_water', 'toilet_flush', 'thunderstorm', 'sneezing', 'clapping', 'breathing',
        'coughing', 'footsteps', 'laughing', 'brushing_teeth', 'snoring', 'drinking_sipping',
        'door_wood_knock', 'mouse_click', 'keyboard_typing', 'door_wood_creaks', 'can_opening',
        'washing_machine', 'vacuum_cleaner', 'clock_alarm', 'clock_tick', 'helicopter',
        'engine', 'train', 'church_bells', 'airplane')},
    # UrbanSound8K
    'gun_shot': 'gunshot', 'drilling': 'drill',
    'jackhammer': 'drill',              # a percussive (hammer) drill, as the drill generator
    **{name: 'background' for name in (
        'air_conditioner', 'children_playing', 'dog_bark', 'engine_idling', 'street_music')},
    # DCASE 2017 task 2 (TUT Rare Sound Events)
    'gunshot': 'gunshot', 'glassbreak': 'glass_break',
    'babycry': 'background',            # hard negative for scream
    # MIVIA audio events (glass, gunshots, screams over background) and the names people give
    # their own folders; plurals fall back to these (LabelMapper)
    'glass': 'glass_break', 'breaking_glass': 'glass_break', 'glass_shatter': 'glass_break',
    'glass_breakage': 'glass_break', 'broken_glass': 'glass_break', 'shatter': 'glass_break',
    'gun': 'gunshot', 'gunfire': 'gunshot', 'gun_fire': 'gunshot', 'shot': 'gunshot',
    'shooting': 'gunshot', 'gunshot_gunfire': 'gunshot', 'firearm': 'gunshot',
    'screaming': 'scream', 'shout': 'scream', 'shouting': 'scream',
    'yell': 'scream', 'yelling': 'scream', 'screaming_shouting': 'scream',
    'blast': 'explosion', 'bomb': 'explosion', 'detonation': 'explosion', 'boom': 'explosion',
    'car_crash': 'crash', 'car_accident': 'crash', 'collision': 'crash',
    'accident': 'crash', 'skid_crash': 'crash',
    'horn': 'car_horn', 'vehicle_horn': 'car_horn', 'car_horn_honking': 'car_horn',
    'honk': 'car_horn', 'honking': 'car_horn', 'klaxon': 'car_horn',
    'whistling': 'whistle', 'referee_whistle': 'whistle',
    'police_siren': 'siren', 'ambulance': 'siren', 'ambulance_siren': 'siren',
    'fire_engine': 'siren', 'fire_truck': 'siren', 'emergency_vehicle': 'siren',
    'civil_defense_siren': 'siren',
    'firecracker': 'crackling', 'firework': 'crackling', 'petard': 'crackling',
    'power_drill': 'drill', 'hammer_drill': 'drill',
    'grinder': 'angle_grinder', 'power_saw': 'angle_grinder',
    'circular_saw': 'angle_grinder', 'chain_saw': 'angle_grinder',
    'spray': 'aerosol_spray', 'spray_can': 'aerosol_spray', 'aerosol': 'aerosol_spray',
    'spray_paint': 'aerosol_spray',
    **{name: 'background' for name in (
        'noise', 'ambience', 'ambient', 'street', 'silence', 'normal', 'negative', 'crowd',
        'talking', 'bark', 'motorcycle', 'bus', 'car', 'car_passing', 'bird')},
    # AudioSet ontology display names and the FSD50K vocabulary, as normalised ('Gunshot,
    # gunfire' -> gunshot_gunfire, 'Gunshot_and_gunfire' -> gunshot_and_gunfire)
    'gunshot_and_gunfire': 'gunshot', 'machine_gun': 'gunshot', 'fusillade': 'gunshot',
    'artillery_fire': 'explosion',
    'police_car_siren': 'siren', 'fire_engine_fire_truck_siren': 'siren',
    'vehicle_horn_car_horn_honking': 'car_horn', 'vehicle_horn_and_car_horn_and_honking':
    'car_horn', 'air_horn_truck_horn': 'car_horn', 'toot': 'car_horn',
    'smash_crash': 'crash', 'battle_cry': 'scream',
    **{name: 'background' for name in (      # hard negatives the issue names, and streets
        'cap_gun', 'burst_pop', 'slam', 'door', 'knock', 'hammer', 'car_alarm', 'alarm',
        'bell', 'church_bell', 'bicycle_bell', 'music', 'laughter', 'children_shouting',
        'crying_sobbing', 'baby_cry_infant_cry', 'dog', 'speech', 'conversation',
        'applause', 'cheering', 'hiss', 'skidding', 'tire_squeal', 'traffic_noise_roadway_noise',
        'traffic_noise_and_roadway_noise', 'car_passing_by', 'motor_vehicle_road',
        'vehicle', 'truck', 'walk_footsteps', 'walk_and_footsteps', 'thunder')},
    # DESED / DCASE task 4 (domestic sounds: all background for a street sensor)
    **{name: 'background' for name in (
        'alarm_bell_ringing', 'blender', 'dishes', 'electric_shaver_toothbrush', 'frying',
        'running_water', 'speech')},
}

# Steady ambiences that make a credible 30 s background bed (mixtures, false-alarm streams).
AMBIENT_LABELS = frozenset((
    'rain', 'sea_waves', 'helicopter', 'casual', 'wind', 'traffic', 'crickets', 'insects',
    'engine', 'engine_idling', 'air_conditioner', 'train', 'airplane', 'thunderstorm',
    'chirping_birds', 'washing_machine', 'vacuum_cleaner', 'pouring_water', 'water_drops',
    'children_playing', 'street_music', 'motorbike'))


class LayoutError(ValueError):
    """A dataset folder or metadata file that cannot be read; the message names file and line."""


def normalise_label(label: str) -> str:
    """'Glass Breaking', 'glass-breaking' and 'Glass, breaking' are all 'glass_breaking'
    (AudioSet's display names carry commas and brackets: 'Police car (siren)'); letters of
    any script are kept ('détonation')."""
    return re.sub(r'[\W_]+', '_', label.strip().lower()).strip('_')


@dataclass(frozen=True)
class Annotation:
    """One strongly labelled event (seconds from the start of its recording)."""

    onset_s: float
    offset_s: float
    label: str
    class_id: int


@dataclass(frozen=True)
class LabelledClip:
    """One recording with its dataset label, taxonomy class and source group.

    ``events`` is None for a weakly labelled clip (one label for the clip) and the annotated
    events of a strongly labelled recording; ``class_id`` is then the class of its events
    (background when it has none, -1 when several classes share the recording).
    """

    path: Path
    label: str
    class_id: int
    group: str
    fold: str = ''
    events: tuple[Annotation, ...] | None = None

    def record(self) -> ds.ClipRecord:
        """The training pipeline's record type, so :func:`ds.split_by_group` applies."""
        return ds.ClipRecord(path=self.path, label=self.label, class_id=self.class_id,
                             group=self.group, licence='', attribution='', source_repo='',
                             manifest=Path())


@dataclass
class Dataset:
    """A loaded dataset: clips, how labels were mapped, and what was left out and why."""

    root: Path
    layout: str
    clips: list[LabelledClip]
    label_map: dict[str, str]
    unknown_labels: Counter = field(default_factory=Counter)
    ignored: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    # The shared manifests' full record list: the training split is computed on all of it.
    manifest_records: list[ds.ClipRecord] | None = None

    def labels(self) -> Counter:
        return Counter(c.label for c in self.clips)


class LabelMapper:
    """Maps dataset labels to taxonomy ids, counting (or refusing) unknown ones."""

    def __init__(self, mapping: dict[str, str], strict: bool = False):
        self.mapping = mapping
        self.strict = strict
        self.unknown: Counter = Counter()

    def __call__(self, label: str, where: str) -> int | None:
        """Taxonomy id of ``label``; None when the map says to ignore it."""
        key = normalise_label(label)
        target = self.mapping.get(key)
        if target is None and len(key) > 3 and key.endswith('s'):
            # 'gunshots', 'sirens', 'glasses'? only a plural of a known label, never a guess
            target = self.mapping.get(key[:-1]) or (
                self.mapping.get(key[:-2]) if key.endswith('es') else None)
        if target is None:
            if self.strict:
                raise LayoutError(f'{where}: label {label!r} has no taxonomy mapping (strict); '
                                  f'add it to a --label-map file')
            self.unknown[key] += 1
            return taxonomy.BACKGROUND
        if target == IGNORE:
            return None
        return taxonomy.by_name(target).id


# ------------------------------------------------------------------------ label maps


def load_label_map(path: Path) -> dict[str, str]:
    """Read a user label map (YAML mapping or two-column CSV ``label,class``).

    Targets are taxonomy class names (or ``ignore``); a bad one names file, line and label.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'label map not found: {path}')
    out: dict[str, str] = {}
    if path.suffix.lower() in ('.yaml', '.yml'):
        from soft.configio import ConfigError, load_yaml

        try:
            data, located = load_yaml(path)
        except ConfigError as exc:
            raise LayoutError(str(exc)) from None
        if isinstance(data, dict) and isinstance(data.get('labels'), dict):
            data = data['labels']
            prefix: tuple = ('labels',)
        else:
            prefix = ()
        if not isinstance(data, dict):
            raise LayoutError(f'{path}: expected a mapping of dataset label to class name')
        for key, value in data.items():
            line = located.line(prefix + (key,))
            _add_mapping(out, str(key), value, f'{path}:{line or "?"}')
        return out
    with path.open(newline='', encoding='utf-8') as fh:
        for line_no, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row]
            if not cells or not cells[0] or cells[0].startswith('#'):
                continue
            if len(cells) < 2:
                raise LayoutError(f'{path}:{line_no}: expected "label,class", got {row!r}')
            if line_no == 1 and normalise_label(cells[1]) in ('class', 'taxonomy', 'target'):
                continue            # header
            _add_mapping(out, cells[0], cells[1], f'{path}:{line_no}')
    return out


def _add_mapping(out: dict[str, str], label: str, target: object, where: str) -> None:
    name = normalise_label(str(target)) if target is not None else ''
    if name != IGNORE:
        try:
            taxonomy.by_name(name)
        except ValueError as exc:
            raise LayoutError(f'{where}: label {label!r}: {exc} (or {IGNORE!r})') from None
    out[normalise_label(label)] = name


# ------------------------------------------------------------------------ detection


def _manifest_files(root: Path) -> list[Path]:
    found = [root / m for m in ds.MANIFESTS if (root / m).is_file()]
    if not found and (root / 'manifest.csv').is_file():
        with (root / 'manifest.csv').open(newline='', encoding='utf-8') as fh:
            header = next(csv.reader(fh), [])
        if {'path', 'label'} <= {h.strip() for h in header}:
            found = [root / 'manifest.csv']
    return found


def audio_files(root: Path) -> list[Path]:
    """Audio files under ``root`` by extension, hidden files left out, in a stable order."""
    return sorted(p for p in root.rglob('*') if p.suffix.lower() in AUDIO_EXTENSIONS
                  and p.is_file() and not p.name.startswith('.'))


def detect_layout(root: Path) -> str:
    """Name the layout of a dataset folder (one of :data:`LAYOUTS`)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'dataset folder not found: {root}')
    if _manifest_files(root):
        return 'manifest'
    if (root / 'meta' / 'esc50.csv').is_file():
        return 'esc50'
    if (root / 'metadata' / 'UrbanSound8K.csv').is_file():
        return 'urbansound8k'
    audio = audio_files(root)
    if audio and _strong_labels(root, audio, LabelMapper(DEFAULT_LABEL_MAP), probe=True):
        return 'dcase'
    if any(len(p.relative_to(root).parts) >= 2 for p in audio):
        return 'folders'
    raise LayoutError(
        f'{root}: no supported dataset layout found (looked for devset/manifest.csv or '
        f'manifest.csv, meta/esc50.csv, metadata/UrbanSound8K.csv, annotation files with '
        f'"onset offset label" rows, or audio files in label sub-folders; extensions: '
        f'{", ".join(AUDIO_EXTENSIONS)})')


# ------------------------------------------------------------------------ loaders


def load_dataset(root: Path, label_map: Path | dict[str, str] | None = None,
                 strict: bool = False, layout: str | None = None) -> Dataset:
    """Load the clip list (no audio yet) of a dataset folder in any supported layout."""
    root = Path(root)
    mapping = dict(DEFAULT_LABEL_MAP)
    if isinstance(label_map, dict):
        mapping.update({normalise_label(k): normalise_label(v) for k, v in label_map.items()})
    elif label_map is not None:
        mapping.update(load_label_map(Path(label_map)))
    layout = layout or detect_layout(root)
    if layout not in LAYOUTS:
        raise LayoutError(f'unknown layout {layout!r}; valid layouts: {", ".join(LAYOUTS)}')
    mapper = LabelMapper(mapping, strict)
    data = Dataset(root=root, layout=layout, clips=[], label_map=mapping)
    loader = {'manifest': _load_manifest, 'esc50': _load_esc50,
              'urbansound8k': _load_us8k, 'dcase': _load_dcase,
              'folders': _load_folders}[layout]
    loader(data, mapper)
    data.unknown_labels = mapper.unknown
    return data


def _add(data: Dataset, mapper: LabelMapper, path: Path, label: str, group: str,
         where: str, fold: str = '') -> None:
    class_id = mapper(label, where)
    if class_id is None:
        data.ignored += 1
        return
    if not path.is_file():
        data.skipped.append((path, 'missing: file not found'))
        return
    data.clips.append(LabelledClip(path, label, class_id, group, fold))


def _read_table(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    with path.open(newline='', encoding='utf-8') as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or ())]
        missing = [c for c in required if c not in header]
        if missing:
            raise LayoutError(f'{path}:1: missing column(s) {", ".join(missing)} '
                              f'(header: {header})')
        rows = []
        for line, row in enumerate(reader, start=2):
            row = {(k or '').strip(): (v or '').strip() for k, v in row.items()}
            for c in required:
                if not row.get(c):
                    raise LayoutError(f'{path}:{line}: {c}: empty')
            rows.append((line, row))
    return rows


def _load_manifest(data: Dataset, mapper: LabelMapper) -> None:
    files = _manifest_files(data.root)
    parent_files = _manifest_files(data.root.parent)
    # A single shared manifest (devset/): the training split runs on both manifests.
    if files == [data.root / 'manifest.csv'] and files[0] in parent_files:
        files_for_split = parent_files
    else:
        files_for_split = files
    try:
        data.manifest_records = [r for m in files_for_split for r in ds.load_manifest(m)]
    except ds.ManifestError:
        data.manifest_records = None    # not the shared manifests: a split of its own
    for m in files:
        for line, row in _read_table(m, ('path', 'label')):
            _add(data, mapper, m.parent / row['path'], row['label'], ds.group_key(row['path']),
                 f'{m}:{line}: label')


def _load_esc50(data: Dataset, mapper: LabelMapper) -> None:
    meta = data.root / 'meta' / 'esc50.csv'
    for line, row in _read_table(meta, ('filename', 'fold', 'category')):
        src = row.get('src_file', '')
        group = f'fs:{int(src)}' if src.isdigit() else ds.group_key(row['filename'])
        _add(data, mapper, data.root / 'audio' / row['filename'], row['category'], group,
             f'{meta}:{line}: category', fold=row['fold'])


def _load_us8k(data: Dataset, mapper: LabelMapper) -> None:
    meta = data.root / 'metadata' / 'UrbanSound8K.csv'
    for line, row in _read_table(meta, ('slice_file_name', 'fsID', 'fold', 'class')):
        group = f'fs:{int(row["fsID"])}' if row['fsID'].isdigit() else f'us8k:{row["fsID"]}'
        path = data.root / 'audio' / f'fold{row["fold"]}' / row['slice_file_name']
        _add(data, mapper, path, row['class'], group, f'{meta}:{line}: class',
             fold=row['fold'])


def _load_folders(data: Dataset, mapper: LabelMapper) -> None:
    for p in audio_files(data.root):
        rel = p.relative_to(data.root)
        if len(rel.parts) < 2:
            data.skipped.append((p, 'unlabelled: not inside a label folder'))
            continue
        _add(data, mapper, p, rel.parts[0], ds.group_key(rel.as_posix()), str(p))


# ----------------------------------------------------------------- strong labels


_FLOAT = re.compile(r'^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$')


def _split_row(text: str, suffix: str) -> list[str]:
    if '\t' in text:
        return [c.strip() for c in text.split('\t')]
    if suffix == '.csv' and ',' in text:
        return [c.strip() for c in next(csv.reader([text]))]
    return text.split()


def _parse_annotation_file(path: Path) -> tuple[str, list[tuple[int, list[str]]]] | None:
    """('sidecar' | 'list', rows) when ``path`` reads as an annotation file, else None.

    Sidecar rows are ``onset offset label``; list rows ``filename [onset offset label]``.
    A header row (non-numeric onset) is skipped; an empty file is an empty sidecar.
    """
    try:
        if path.stat().st_size > MAX_ANNOTATION_BYTES:
            return None
        text = path.read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError):
        return None
    rows = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if raw.strip() and not raw.lstrip().startswith('#'):
            rows.append((line_no, _split_row(raw.rstrip('\r\n'), path.suffix.lower())))
    if rows and not any(_FLOAT.match(c) for c in rows[0][1][:3]):
        rows = rows[1:]                  # header such as "filename onset offset event_label"
    if not rows:
        return 'sidecar', []
    if all(len(r) >= 3 and _FLOAT.match(r[0]) and _FLOAT.match(r[1]) for _, r in rows):
        return 'sidecar', rows
    if all(r and Path(r[0]).suffix.lower() in AUDIO_EXTENSIONS for _, r in rows):
        return 'list', rows
    return None


def _annotation(row: list[str], where: str, mapper: LabelMapper) -> Annotation | None:
    onset, offset, label = float(row[0]), float(row[1]), ' '.join(row[2:]).strip()
    if not label:
        raise LayoutError(f'{where}: label: empty')
    if not (np.isfinite(onset) and np.isfinite(offset)) or onset < 0 or offset < onset:
        raise LayoutError(f'{where}: onset/offset: need 0 <= onset <= offset, got '
                          f'{row[0]} {row[1]}')
    class_id = mapper(label, where)
    if class_id is None:
        return None
    return Annotation(onset, offset, normalise_label(label), class_id)


def _mivia_events(path: Path) -> list[tuple[float, float, str]] | None:
    """(start, end, class name) of a MIVIA audio-events XML file, None when ``path`` is not one.

    MIVIA (glass, gunshots, screams over background; the set the issue cites) annotates
    each mixture ``00001`` in ``00001.xml`` (``<events><item>`` with CLASS_NAME, STARTSECOND,
    ENDSECOND), and ships it at six SNRs as ``sounds/00001_1.wav`` .. ``00001_6.wav``.
    """
    import xml.etree.ElementTree as ET

    try:
        if path.stat().st_size > MAX_ANNOTATION_BYTES:
            return None
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    if root.find('events') is None:
        return None
    out = []
    for i, item in enumerate(root.findall('./events/item'), start=1):
        name, start, end = (item.findtext(tag) for tag in ('CLASS_NAME', 'STARTSECOND',
                                                           'ENDSECOND'))
        if name is None or start is None or end is None:
            raise LayoutError(f'{path}: events item {i}: needs CLASS_NAME, STARTSECOND and '
                              'ENDSECOND')
        for tag, v in (('STARTSECOND', start), ('ENDSECOND', end)):
            if not _FLOAT.match(v.strip()):
                raise LayoutError(f'{path}: events item {i}: {tag}: {v.strip()!r} is not a '
                                  'number of seconds')
        out.append((start.strip(), end.strip(), name.strip()))
    return out


def _mivia_label(name: str, mapper: LabelMapper) -> str:
    """MIVIA class names come as 'gunshots' or with a take suffix ('glass_0012.wav'): the
    name itself when the map knows it, else its leading word."""
    key = normalise_label(name)
    if key in mapper.mapping or (key.endswith('s') and key[:-1] in mapper.mapping):
        return name
    word = re.match(r'[^\W\d_]+', key)
    return word.group(0) if word else name


def _strong_labels(root: Path, audio: list[Path], mapper: LabelMapper, probe: bool = False
                   ) -> dict[Path, list[Annotation]]:
    """Annotations per audio file from sidecar files, event lists and MIVIA XML under
    ``root``."""
    by_stem: dict[tuple[Path, str], Path] = {(p.parent, p.stem): p for p in audio}
    by_name: dict[str, list[Path]] = {}
    for p in audio:
        by_name.setdefault(p.name, []).append(p)
    out: dict[Path, list[Annotation]] = {}
    candidates = sorted(p for p in root.rglob('*') if p.suffix.lower() in ANNOTATION_EXTENSIONS
                        and p.is_file())
    for ann in candidates:
        sidecar_of = by_stem.get((ann.parent, ann.stem))
        parsed = _parse_annotation_file(ann)
        if parsed is None:
            continue
        kind, rows = parsed
        if kind == 'sidecar' and sidecar_of is not None:
            if probe:
                return {sidecar_of: []}
            events = out.setdefault(sidecar_of, [])
            for line_no, row in rows:
                a = _annotation(row, f'{ann}:{line_no}', mapper)
                if a is not None:
                    events.append(a)
        elif kind == 'list' and rows:
            matched = 0
            for line_no, row in rows:
                targets = by_name.get(Path(row[0]).name, [])
                if len(targets) != 1:
                    continue
                matched += 1
                if probe:
                    return {targets[0]: []}
                events = out.setdefault(targets[0], [])
                rest = [c for c in row[1:] if c]
                if len(rest) >= 3 and _FLOAT.match(rest[0]) and _FLOAT.match(rest[1]):
                    a = _annotation(rest, f'{ann}:{line_no}', mapper)
                    if a is not None:
                        events.append(a)
            if not matched:
                continue
    for xml in sorted(p for p in root.rglob('*.xml') if p.is_file()):
        rows = _mivia_events(xml)
        if rows is None:
            continue
        take = re.compile(re.escape(xml.stem) + r'(_\d+)?')
        targets = [p for p in audio if take.fullmatch(p.stem)
                   and xml.parent in (p.parent, *p.parents)]
        if targets and probe:
            return {targets[0]: []}
        for target in targets:
            events = out.setdefault(target, [])
            for i, (start, end, name) in enumerate(rows, start=1):
                a = _annotation([start, end, _mivia_label(name, mapper)],
                                f'{xml}: events item {i}', mapper)
                if a is not None:
                    events.append(a)
    return out


def _load_dcase(data: Dataset, mapper: LabelMapper) -> None:
    audio = audio_files(data.root)
    strong = _strong_labels(data.root, audio, mapper)
    for p in audio:
        if p not in strong:
            data.skipped.append((p, 'unannotated: no annotation file or event-list row'))
            continue
        events = tuple(sorted(strong[p], key=lambda a: a.onset_s))
        classes = {a.class_id for a in events if a.class_id != taxonomy.BACKGROUND}
        class_id = classes.pop() if len(classes) == 1 else (
            taxonomy.BACKGROUND if not classes else -1)
        label = ','.join(sorted({a.label for a in events})) or 'none'
        rel = p.relative_to(data.root).as_posix()
        data.clips.append(LabelledClip(p, label, class_id, ds.group_key(rel), '', events))


# ------------------------------------------------------------------------ audio


CLIPPED_LEVEL = 0.99
CLIPPED_SHARE = 1e-3


@dataclass
class AudioReport:
    """Clips loaded, skipped (with reasons) and kept with a note (clipped, resampled...)."""

    loaded: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)

    def reasons(self) -> Counter:
        return Counter(reason.split(':')[0] for _, reason in self.skipped)


def read_audio(path: Path, sample_rate: int, max_s: float) -> tuple[np.ndarray, list[str]]:
    """Mono float32 at ``sample_rate`` plus notes; ValueError 'reason: detail' if unusable.

    The header is checked first, so an hour-long file is refused ('long') without being
    decoded; decoding, resampling and the corrupt/short/silent checks are the training's
    (:func:`soft.classify.dataset.read_clip`).
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise ValueError('missing: file not found')
    try:
        info = sf.info(str(path))
    except Exception as exc:  # noqa: BLE001 - libsndfile raises several types on bad files
        raise ValueError(f'corrupt: {exc}') from None
    if info.samplerate <= 0 or info.channels <= 0:
        raise ValueError(f'corrupt: header says {info.samplerate} Hz, {info.channels} channels')
    if info.frames > max_s * info.samplerate:
        raise ValueError(f'long: {info.frames / info.samplerate:.1f} s > {max_s:g} s')
    try:
        x = ds.read_clip(path, sample_rate)
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bad file must never stop the evaluation
        raise ValueError(f'corrupt: {exc}') from None
    notes = []
    if info.channels > 1:
        notes.append('multichannel')
    if info.samplerate != sample_rate:
        notes.append('resampled')
    peak = float(np.max(np.abs(x)))
    if peak >= CLIPPED_LEVEL and np.count_nonzero(np.abs(x) >= CLIPPED_LEVEL * peak) \
            > max(10, CLIPPED_SHARE * x.size):
        notes.append('clipped')
    return x, notes


def duration_s(path: Path) -> float | None:
    """A file's duration from its header alone; None when the header cannot be read (the
    loader then reports the file with its reason)."""
    import soundfile as sf
    try:
        info = sf.info(str(path))
    except Exception:  # noqa: BLE001 - libsndfile raises several types on bad files
        return None
    return info.frames / info.samplerate if info.samplerate > 0 else None


def long_backgrounds(clips: list[LabelledClip], max_s: float, max_strong_s: float = 600.0
                     ) -> tuple[list[LabelledClip], list[LabelledClip]]:
    """(the rest, event-free background recordings longer than :func:`load_audio` loads).

    Such recordings are what a false-alarm rate per hour needs, so they are streamed from
    disk (:mod:`soft.evaluation.recordings`) instead of skipped as too long.
    """
    rest, long = [], []
    for c in clips:
        limit = max_s if c.events is None else max_strong_s
        if c.class_id == taxonomy.BACKGROUND and not c.events \
                and (duration_s(c.path) or 0.0) > limit:
            long.append(c)
        else:
            rest.append(c)
    return rest, long


def load_audio(clips: list[LabelledClip], sample_rate: int, max_s: float = 60.0,
               max_strong_s: float = 600.0
               ) -> tuple[list[tuple[LabelledClip, np.ndarray]], AudioReport]:
    """Read clips into memory; unusable ones are skipped with their reason."""
    out, report = [], AudioReport()
    for c in clips:
        try:
            x, notes = read_audio(c.path, sample_rate,
                                  max_strong_s if c.events is not None else max_s)
        except ValueError as exc:
            report.skipped.append((c.path, str(exc)))
            continue
        report.notes.update(notes)
        report.loaded += 1
        out.append((c, x))
    return out, report
