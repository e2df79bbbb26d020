"""Extraction of every feature set over a corpus: per film, cached by content, in parallel.

`extract_features` is what the `features` stage runs. For each set named in
``features.sets`` and each film with cues it computes the film's frame table,
unless the cache already holds it, then assembles the set's bags
(`bags.write_set`). The work unit is one (set, film), mapped by `filmscore.parallel.map_films`
over ``features.jobs`` local processes, or a Dask cluster (``run.scheduler``), with progress.

**Cache.** A (set, film) result is stored under
``<cache_dir>/<set>/<film_id>/<key>.parquet`` (plus ``<key>.json`` with its
warnings, written last: an entry without it is incomplete and ignored). The key
is the SHA-256 of: what the set reads (visual: the film file's content hash
and the film's cue rows; audio sets: `source.audio_inputs` of ``features.audio``,
i.e. the same in ``film`` mode, each cue's track hash, offset, length and speed in
``track`` mode), the set's parameters, the hashes of any files those
parameters name (weights), the source of the code that computes the set, and
the versions of the libraries it uses. Adding one film to a corpus therefore
computes only that film; changing a set's parameters recomputes that set only.
Entries are never overwritten in place and never deleted by the pipeline; delete
the folder to reclaim space.

**Audio source.** Audio sets read each cue's audio through
`source.AudioSource.cue_audio`: its soundtrack track (``features.audio: track``)
or the film's mix (``film``); each audio set's status.json records which.

**Sets without weights.** VGGish and OpenL3 raise
`filmscore.features.weights.WeightsMissing` when their weight file is absent;
the set is then written as skipped (key-only tables, the message as reason)
and the others run.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import sys
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import FilmscoreError, Problem
from ..files import atomic_dir, atomic_path, file_hash, write_json
from ..media import decode_audio, probe
from ..parallel import map_films, run_options
from . import bags
from . import source as audio_source
from .bags import SETS, cue_table, empty_frames, frames_table, n_frames
from .source import AudioSource, audio_inputs, check_track_cues

log = logging.getLogger(__name__)

AUDIO_SETS = ("mir", "vggish", "openl3")
CUE_COLUMNS = ("film_id", "start", "end")
SILENCE_RMS = 1e-4  # -80 dBFS: a cue quieter than this is reported as silent

# Where each set's code lives (hashed into the cache key) and which libraries it uses.
_SET_MODULES = {
    "mir": ("filmscore.features.mir", ("essentia", "numpy")),
    "visual": ("filmscore.features.visual", ("decord", "numpy")),
    "vggish": ("filmscore.features.vggish", ("torch", "numpy")),
    "openl3": ("filmscore.features.openl3", ("torch", "numpy")),
}
_CLASSES = {"mir": "MIR", "visual": "Visual", "vggish": "VGGish", "openl3": "OpenL3"}
# Native rates of the embedding networks, used when their class does not say (`sample_rate` attribute).
_DEFAULT_RATES = {"vggish": 16000, "openl3": 48000}


# ---------------------------------------------------------------- inputs


def set_params(params: dict, name: str) -> dict:
    """The params section a set's extractor is built from.

    `features.<name>` when params.yaml has it (mir, visual), else the top-level
    section `<name>` (the embedding networks' own sections), else empty.
    """
    feats = params.get("features", {})
    if isinstance(feats.get(name), dict):
        return feats[name]
    section = params.get(name)
    return section if isinstance(section, dict) else {}


def prepare_cues(cues: pd.DataFrame, corpus_films: dict[str, Path], source: str = "cue table") -> pd.DataFrame:
    """Check the cue table against the contract and the corpus; add cue_id when absent.

    Raises FilmscoreError listing every problem (missing columns, bad times,
    films not in the corpus).
    """
    probs: list[Problem] = []
    missing = [c for c in CUE_COLUMNS if c not in cues.columns]
    if missing:
        raise FilmscoreError([Problem(source, f"missing columns {missing}",
                                      "re-run the `cues` stage (dvc repro cues) to rebuild the cue table")])
    df = cues.copy()
    df["film_id"] = df["film_id"].astype(str)
    for c in ("start", "end"):
        if not pd.api.types.is_numeric_dtype(df[c]):
            probs.append(Problem(source, f"column {c!r} is not numeric", "times are seconds of film"))
    if not probs:
        df["start"] = df["start"].astype("float64")
        df["end"] = df["end"].astype("float64")
        bad = df.index[~np.isfinite(df["start"]) | ~np.isfinite(df["end"]) | (df["end"] <= df["start"]) | (df["start"] < 0)]
        if len(bad):
            probs.append(Problem(source, f"{len(bad)} cue(s) with invalid times (end <= start, negative or NaN), "
                                         f"first at row {int(bad[0])}", "fix or drop those rows"))
    unknown = sorted(set(df["film_id"]) - set(corpus_films))
    if unknown:
        probs.append(Problem(source, f"cues for film(s) not in the corpus: {unknown[:10]}"
                                     f"{' ...' if len(unknown) > 10 else ''}",
                             "re-run the pipeline from `validate` so the cue table matches the corpus"))
    if probs:
        raise FilmscoreError(probs, headline=f"{source} is not usable")
    df = df.sort_values(["film_id", "start"], kind="stable").reset_index(drop=True)
    if "cue_id" not in df.columns:
        df["cue_id"] = df["film_id"] + ":" + df.groupby("film_id").cumcount().map("{:04d}".format)
    elif df["cue_id"].duplicated().any():
        raise FilmscoreError([Problem(source, "cue_id values are not unique", "re-run the `cues` stage")])
    df["cue_id"] = df["cue_id"].astype(str)
    return df


def film_hashes(films: dict[str, Path], manifest: pd.DataFrame | None = None) -> dict[str, str]:
    """Content hash of each film: the manifest's sha256 when it matches the file's size, else hashed now."""
    known: dict[str, tuple[str, int]] = {}
    if manifest is not None and {"film_id", "role", "sha256", "size_bytes"} <= set(manifest.columns):
        for r in manifest[manifest["role"] == "film"].itertuples():
            known[str(r.film_id)] = (str(r.sha256), int(r.size_bytes))
    return {fid: audio_source.trusted_hash(path, known.get(fid)) for fid, path in films.items()}


# ---------------------------------------------------------------- extractors


def make_extractor(name: str, section: dict):
    """Build a set's extractor from its params section (imports the module on demand)."""
    module, _ = _SET_MODULES[name]
    cls = getattr(importlib.import_module(module), _CLASSES[name])
    return cls.from_params(section)


def _weights_missing_type():
    try:
        from .weights import WeightsMissing  # written with the embedding networks
    except ImportError:
        return ()
    return WeightsMissing


def resolve_sets(params: dict) -> tuple[dict[str, Any], dict[str, str]]:
    """Which sets run: ({name: extractor}, {name: reason skipped}) over all four sets."""
    wanted = list(params["features"]["sets"])
    active: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    weights_missing = _weights_missing_type()
    for name in SETS:
        if name not in wanted:
            skipped[name] = "not in features.sets (params.yaml)"
            continue
        try:
            active[name] = make_extractor(name, set_params(params, name))
        except weights_missing as e:  # type: ignore[misc]
            skipped[name] = str(getattr(e, "render", lambda: str(e))())
            log.warning("feature set %s skipped: %s", name, skipped[name])
        except ModuleNotFoundError as e:
            if e.name and (e.name.startswith("filmscore.features.") or e.name in ("torch", "h5py")):
                skipped[name] = f"{_SET_MODULES[name][0]} cannot be imported in this installation ({e})"
                log.warning("feature set %s skipped: %s", name, skipped[name])
            else:
                raise
    return active, skipped


def columns_of(name: str, extractor, dim: int | None = None) -> list[str]:
    cols = getattr(extractor, "columns", None)
    if cols:
        return list(cols)
    if dim is None:
        return []
    return [f"{name}_{i:03d}" for i in range(dim)]


# ---------------------------------------------------------------- cache


def _source_hash(module: str) -> str:
    files = [Path(__file__), Path(bags.__file__), Path(audio_source.__file__), Path(decode_audio.__code__.co_filename)]
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None) if loaded is not None else None
    if origin is None and loaded is None:
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec is not None else None
    if origin:
        files.append(Path(origin))
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _lib_versions(libs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for lib in libs:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "?"
    return out


def _param_files(section: dict) -> dict[str, str]:
    """Hashes of the files a params section names (weights): their content is part of the result."""
    out = {}
    for k, v in sorted(section.items()):
        if isinstance(v, str) and v and Path(v).is_file():
            out[k] = file_hash(v)
    return out


@dataclass(frozen=True)
class SetVersion:
    """Everything about a set, apart from the film, that its results depend on."""

    name: str
    section: dict
    digest: str

    @classmethod
    def of(cls, name: str, section: dict) -> "SetVersion":
        module, libs = _SET_MODULES[name]
        blob = json.dumps({"set": name, "params": section, "files": _param_files(section),
                           "code": _source_hash(module), "libs": _lib_versions(libs)},
                          sort_keys=True, default=str)
        return cls(name, section, hashlib.sha256(blob.encode()).hexdigest())


def cache_key(version: SetVersion, inputs: dict) -> str:
    """The key of one (set, film) result: the set's version and what it reads (`source.audio_inputs`)."""
    blob = json.dumps({"set": version.digest, **inputs})
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cache_entry(cache_dir: Path, name: str, film_id: str, key: str) -> tuple[Path, Path]:
    folder = Path(cache_dir) / name / film_id
    return folder / f"{key}.parquet", folder / f"{key}.json"


# ---------------------------------------------------------------- per film work


def _fit_rows(values: np.ndarray, n: int) -> np.ndarray:
    """Exactly n rows: extra rows dropped, a short result padded by repeating its last row."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"extractor returned shape {values.shape}, expected (frames, features)")
    if len(values) >= n:
        return values[:n]
    return np.concatenate([values, np.repeat(values[-1:], n - len(values), axis=0)])


def _audio_film(name: str, extractor, film_id: str, cues: pd.DataFrame, src: AudioSource) -> tuple[list[pd.DataFrame], list[str]]:
    sr = int(getattr(extractor, "sample_rate", None) or _DEFAULT_RATES.get(name, 22050))
    duration = src.duration
    warns: list[str] = []
    tables = []
    for cue in cues.itertuples():
        dur = min(float(cue.end), duration) - float(cue.start)
        if dur <= 0:
            warns.append(f"cue {cue.cue_id} ({cue.start:.1f}-{cue.end:.1f} s) starts after the end of {src.film} "
                         f"({duration:.1f} s): skipped")
            continue
        audio, w = src.cue_audio(cue, dur, sr)
        warns += w
        if len(audio) == 0:
            if src.mode == "film":
                warns.append(f"cue {cue.cue_id}: no audio decoded from {src.film} at {cue.start:.1f} s: skipped")
            continue
        if float(cue.end) > duration + 0.5:
            warns.append(f"cue {cue.cue_id} ends at {cue.end:.1f} s, after the end of {src.film} ({duration:.1f} s): "
                         "cut at the film's end")
        if dur < 1.0:
            warns.append(f"cue {cue.cue_id} lasts {dur:.2f} s, under one second: one frame from its audio")
        if float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
            warns.append(f"cue {cue.cue_id} ({src.describe(cue)}) is silent "
                         "(below -80 dBFS): its features describe silence")
        values = extractor.embed(audio, sr)
        n = n_frames(len(audio) / sr)
        if len(values) == 0:
            warns.append(f"cue {cue.cue_id} ({len(audio) / sr:.2f} s) is too short for set {name}: no frame")
            continue
        values = _fit_rows(values, n)
        tables.append(frames_table(film_id, cue.cue_id, float(cue.start), values, columns_of(name, extractor, values.shape[1])))
    return tables, warns


def _visual_film(extractor, film_id: str, path: Path, cues: pd.DataFrame, duration: float,
                 info) -> tuple[list[pd.DataFrame], list[str]]:
    if info.video is None:
        return [], [f"{path} has no video stream: visual features skipped for film {film_id}"]
    warns: list[str] = []
    spans = []
    for cue in cues.itertuples():
        dur = min(float(cue.end), duration) - float(cue.start)
        if dur <= 0:
            warns.append(f"cue {cue.cue_id} starts after the end of {path}: skipped")
            continue
        spans.append((cue.cue_id, float(cue.start), n_frames(dur)))
    if not spans:
        return [], warns
    times = np.concatenate([bags.frame_times(start, n) for _, start, n in spans])
    values, ok = extractor.film(path, times)
    tables, pos = [], 0
    for cue_id, start, n in spans:
        v, k = values[pos: pos + n], ok[pos: pos + n]
        pos += n
        if not k.all():
            warns.append(f"cue {cue_id}: {int((~k).sum())} of {n} second(s) past the end of the video of {path}: "
                         "left out")
        if k.any():
            t = frames_table(film_id, cue_id, start, v, list(extractor.columns))
            tables.append(t[k].reset_index(drop=True))
    return tables, warns


def extract_film(name: str, extractor, film_id: str, path: str | Path, cues: pd.DataFrame,
                 src: AudioSource | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One set's frame table for one film's cues (no cache): (frames, warnings).

    Audio sets read the cues' audio from `src` (default: the film's mix).
    """
    path = Path(path)
    if name == "visual":
        info = probe(path)
        tables, warns = _visual_film(extractor, film_id, path, cues, float(info.duration), info)
    else:
        tables, warns = _audio_film(name, extractor, film_id, cues, src or AudioSource("film", film_id, path))
    if tables:
        frames = pd.concat(tables, ignore_index=True)
    else:
        frames = empty_frames(columns_of(name, extractor))
    return frames, warns


# ---------------------------------------------------------------- workers

_WORKER_EXTRACTORS: dict[tuple[str, str], Any] = {}


def _init_worker(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["FILMSCORE_NO_PROGRESS"] = "1"


def _worker_extractor(name: str, section: dict):
    key = (name, json.dumps(section, sort_keys=True, default=str))
    if key not in _WORKER_EXTRACTORS:
        _WORKER_EXTRACTORS[key] = make_extractor(name, section)
    return _WORKER_EXTRACTORS[key]


@dataclass
class Task:
    name: str
    section: dict
    film_id: str
    path: str
    cues: pd.DataFrame
    parquet: str
    sidecar: str
    source: AudioSource | None = None


def _run_task(task: Task) -> tuple[int, list[str]]:
    """Compute one (set, film) and store it in the cache; runs wherever `map_films` sends it."""
    ext = _worker_extractor(task.name, task.section)
    frames, warns = extract_film(task.name, ext, task.film_id, task.path, task.cues, task.source)
    with atomic_path(task.parquet) as tmp:
        frames.to_parquet(tmp, index=False)
    write_json(task.sidecar, {"film_id": task.film_id, "set": task.name, "rows": len(frames), "warnings": warns})
    return len(frames), warns


def _task_done(task: Task) -> bool:
    return Path(task.parquet).is_file() and Path(task.sidecar).is_file()


def _run_tasks(tasks: list[Task], run: dict) -> None:
    """Every task through `filmscore.parallel.map_films` (local processes or a Dask cluster).

    Bad-input errors of several films are collected and raised together; the
    films already computed stay in the cache, so a re-run does only the rest.
    """
    if not tasks:
        return
    threads = max(1, (os.cpu_count() or 1) // max(1, int(run["jobs"])))
    for task, (rows, warns) in map_films(_run_task, tasks, desc="features", done=_task_done,
                                        label=lambda t: f"{t.film_id} ({t.name})",
                                        initializer=partial(_init_worker, threads), **run):
        for w in warns:
            log.warning("%s: %s", task.name, w)


# ---------------------------------------------------------------- assembly


def _assemble(out_dir: Path, name: str, entries: list[tuple[str, Path, Path]], cues: pd.DataFrame,
              columns: list[str], extra: dict | None = None) -> dict:
    """Write data/features/<name>/ from the cached per-film tables, one film at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    warnings: list[str] = []
    cue_parts: list[pd.DataFrame] = []
    n_rows = 0
    target = Path(out_dir) / name
    with atomic_dir(target) as tmp:
        writer = None
        schema = None
        for film_id, parquet, sidecar in entries:
            frames = pd.read_parquet(parquet)
            warnings += json.loads(sidecar.read_text(encoding="utf-8"))["warnings"]
            if frames.empty:
                continue
            if not columns:
                columns = bags.feature_columns(frames)
            table = pa.Table.from_pandas(frames[list(bags.FRAME_KEYS) + columns], preserve_index=False)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(tmp / "frames.parquet", schema)
            writer.write_table(table.cast(schema))
            n_rows += len(frames)
            cue_parts.append(cue_table(frames, cues[cues["film_id"] == film_id]))
        if writer is None:
            empty_frames(columns).to_parquet(tmp / "frames.parquet", index=False)
        else:
            writer.close()
        cue_level = pd.concat(cue_parts, ignore_index=True) if cue_parts else cue_table(empty_frames(columns), cues)
        cue_level.to_parquet(tmp / "cues.parquet", index=False)
        status = {"status": "ok", "films": len({f for f, _, _ in entries}), "films_with_frames": len(cue_parts),
                  "cues": len(cue_level), "frames": n_rows, "features": len(columns), **(extra or {}),
                  "warnings": warnings}
        write_json(tmp / "status.json", status)
    return status


def extract_features(params: dict, films: dict[str, Path], cues: pd.DataFrame, out_dir: str | Path,
                     cache_dir: str | Path, manifest: pd.DataFrame | None = None,
                     tracks: dict[str, list[Path]] | None = None) -> dict[str, dict]:
    """Extract every set of params['features']['sets'] and write its bags under `out_dir`.

    `films` maps film_id to its file and `tracks` to its soundtrack files (the
    corpus; `tracks` is read with ``features.audio: track``); `cues` is the cue
    table (checked with `prepare_cues`, and `source.check_track_cues` in track
    mode). Returns each set's status.
    """
    out_dir, cache_dir = Path(out_dir), Path(cache_dir)
    mode = params["features"]["audio"]
    cues = prepare_cues(cues, films)
    active, skipped = resolve_sets(params)
    film_ids = sorted(set(cues["film_id"]))
    from_tracks = mode == "track" and any(n != "visual" for n in active) and bool(film_ids)
    if from_tracks:
        if tracks is None:
            raise ValueError("features.audio is 'track': pass the corpus's soundtrack files (tracks=Corpus.tracks)")
        cues = check_track_cues(cues, tracks)
        track_hash = audio_source.track_hashes(tracks, cues, manifest)
        durations = audio_source.film_durations({f: films[f] for f in film_ids}, manifest)
    needs_film_hash = film_ids and ("visual" in active or (mode == "film" and active))
    hashes = film_hashes({f: films[f] for f in film_ids}, manifest) if needs_film_hash else {}
    by_film = {f: c.reset_index(drop=True) for f, c in cues.groupby("film_id", sort=True)}
    sources = {f: AudioSource(mode, f, films[f], {Path(p).stem: p for p in tracks[f]}, durations[f]) if from_tracks
               else AudioSource("film", f, films[f]) for f in film_ids}
    tasks: list[Task] = []
    entries: dict[str, list[tuple[str, Path, Path]]] = {}
    for name in active:
        section = set_params(params, name)
        version = SetVersion.of(name, section)
        entries[name] = []
        for fid in film_ids:
            if name != "visual" and from_tracks:
                inputs = audio_inputs("track", by_film[fid], track_hash=track_hash, duration=durations[fid])
            else:  # film-mode audio and the picture: the film at the cue times
                inputs = audio_inputs("film", by_film[fid], film_hash=hashes[fid])
            parquet, sidecar = cache_entry(cache_dir, name, fid, cache_key(version, inputs))
            entries[name].append((fid, parquet, sidecar))
            if not (parquet.is_file() and sidecar.is_file()):
                tasks.append(Task(name, section, fid, str(films[fid]), by_film[fid], str(parquet), str(sidecar),
                                  None if name == "visual" else sources[fid]))
    n_cached = sum(len(v) for v in entries.values()) - len(tasks)
    if active:
        log.info("features: %d (set, film) result(s) to compute, %d from the cache (%s)", len(tasks), n_cached, cache_dir)
    _run_tasks(tasks, run_options(params, jobs=int(params["features"]["jobs"])))
    statuses: dict[str, dict] = {}
    for name in SETS:
        if name in active:
            extra = {} if name == "visual" else {"audio": mode}
            statuses[name] = _assemble(out_dir, name, entries[name], cues, columns_of(name, active[name]), extra)
            st = statuses[name]
            log.info("features %s: %d cue(s), %d frame(s), %d feature(s)%s", name, st["cues"], st["frames"],
                     st["features"], f"; {len(st['warnings'])} warning(s) listed in {out_dir / name / 'status.json'}"
                     if st["warnings"] else "")
        else:
            bags.write_skipped(out_dir, name, skipped[name])
            statuses[name] = {"status": "skipped", "reason": skipped[name]}
    return statuses


__all__ = ["extract_features", "extract_film", "prepare_cues", "resolve_sets", "set_params", "make_extractor",
           "cache_key", "SetVersion", "film_hashes", "AUDIO_SETS"]
