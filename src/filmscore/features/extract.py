"""The `features` stage's work over a corpus: which sets run, what to compute, in parallel, then the tables.

`extract_features` is what the `features` stage runs. For each set named in
``features.sets`` (the sets are listed once, in `filmscore.features.sets`) and
each film with cues it looks the film up in the per-film cache
(`filmscore.features.cache`), computes the missing ones (`filmscore.features.film`),
then assembles the set's bags (`filmscore.features.assemble`). The work unit is
one (set, film), mapped by `filmscore.parallel.map_films` over ``features.jobs``
local processes, or a Dask cluster (``run.scheduler``), with progress. Adding
one film to a corpus computes only that film; changing a set's parameters
recomputes that set only.

**Audio source.** Audio sets read each cue's audio through
`filmscore.features.source.AudioSource.cue_audio`: its soundtrack track
(``features.audio: track``, the default) or the film's mix (``film``, the
stream ``corpus.audio_stream`` names); each audio set's status.json records
which (``"audio"``).

**Sets without weights.** VGGish and OpenL3 raise
`filmscore.features.weights.WeightsMissing` when their weight file is absent;
the set is then written as skipped (key-only tables, the message as reason)
and the others run.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import FilmscoreError, Problem
from ..parallel import map_films, run_options
from . import bags
from .assemble import assemble_set
from .cache import Entry, SetVersion, cache_key
from .film import columns_of, extract_film
from .sets import AUDIO, NAMES, FeatureSet, get
from .source import AudioSource, audio_inputs, check_track_cues, film_durations, track_hashes, trusted_hash

log = logging.getLogger(__name__)

AUDIO_SETS = AUDIO
CUE_COLUMNS = ("film_id", "start", "end")


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
    return {fid: trusted_hash(path, known.get(fid)) for fid, path in films.items()}


# ---------------------------------------------------------------- extractors


def make_extractor(name: str, section: dict):
    """Build a set's extractor from its params section (imports the set's module on demand)."""
    return get(name).load().from_params(section)


def _weights_missing_type():
    try:
        from .weights import WeightsMissing
    except ImportError:
        return ()
    return WeightsMissing


def _optional_missing(feature_set: FeatureSet, e: ModuleNotFoundError) -> bool:
    """A module that a minimal installation may lack: the set is skipped, the others run."""
    return bool(e.name) and (e.name.startswith("filmscore.features.") or e.name in feature_set.optional_imports)


def resolve_sets(params: dict) -> tuple[dict[str, Any], dict[str, str]]:
    """Which sets run: ({name: extractor}, {name: reason skipped}) over every registered set."""
    wanted = list(params["features"]["sets"])
    active: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    weights_missing = _weights_missing_type()
    for name in NAMES:
        if name not in wanted:
            skipped[name] = "not in features.sets (params.yaml)"
            continue
        try:
            active[name] = make_extractor(name, set_params(params, name))
        except weights_missing as e:  # type: ignore[misc]
            skipped[name] = str(getattr(e, "render", lambda: str(e))())
            log.warning("feature set %s skipped: %s", name, skipped[name])
        except ModuleNotFoundError as e:
            if _optional_missing(get(name), e):
                skipped[name] = f"{get(name).module} cannot be imported in this installation ({e})"
                log.warning("feature set %s skipped: %s", name, skipped[name])
            else:
                raise
    return active, skipped


# ---------------------------------------------------------------- workers

_WORKER_EXTRACTORS: dict[tuple[str, str], Any] = {}


def torch_threads(params: dict) -> int:
    """torch's intra-op threads the sets to run ask for: the largest ``threads`` of their sections (0: torch's default).

    Process-wide, so applied by the entry points only: the `features` stage for
    its own process, `_init_worker` for each worker process; never by an extractor.
    """
    wanted = [int(set_params(params, n).get("threads", 0) or 0) for n in params["features"]["sets"] if n in NAMES]
    return max(wanted, default=0)


def _init_worker(threads: int, torch_threads: int = 0) -> None:
    """Initialiser of a worker process (its own process: process-wide settings are its to make)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["FILMSCORE_NO_PROGRESS"] = "1"
    if torch_threads > 0:
        from .embedding import set_threads

        set_threads(torch_threads)


def _worker_extractor(name: str, section: dict):
    key = (name, json.dumps(section, sort_keys=True, default=str))
    if key not in _WORKER_EXTRACTORS:
        _WORKER_EXTRACTORS[key] = make_extractor(name, section)
    return _WORKER_EXTRACTORS[key]


@dataclass
class Task:
    """One (set, film) to compute and store in its cache entry."""

    name: str
    section: dict
    film_id: str
    path: str
    cues: pd.DataFrame
    entry: Entry
    source: AudioSource | None = None  #: where an audio set reads the cues (None: video set)


def _run_task(task: Task) -> tuple[int, list[str]]:
    """Compute one (set, film) and store it in the cache; runs wherever `map_films` sends it."""
    ext = _worker_extractor(task.name, task.section)
    frames, warns = extract_film(get(task.name), ext, task.film_id, task.path, task.cues, task.source)
    task.entry.write(frames, {"film_id": task.film_id, "set": task.name, "warnings": warns})
    return len(frames), warns


def _task_done(task: Task) -> bool:
    return task.entry.exists()


def _run_tasks(tasks: list[Task], run: dict, torch_threads: int = 0) -> None:
    """Every task through `filmscore.parallel.map_films` (local processes or a Dask cluster).

    Bad-input errors of several films are collected and raised together; the
    films already computed stay in the cache, so a re-run does only the rest.
    """
    if not tasks:
        return
    threads = max(1, (os.cpu_count() or 1) // max(1, int(run["jobs"])))
    for task, (rows, warns) in map_films(_run_task, tasks, desc="features", done=_task_done,
                                        label=lambda t: f"{t.film_id} ({t.name})",
                                        initializer=partial(_init_worker, threads, torch_threads), **run):
        for w in warns:
            log.warning("%s: %s", task.name, w)


# ---------------------------------------------------------------- the stage's work


def plan(params: dict, active: dict[str, Any], films: dict[str, Path], cues: pd.DataFrame, cache_dir: Path,
         manifest: pd.DataFrame | None = None,
         tracks: dict[str, list[Path]] | None = None) -> tuple[dict[str, list[Entry]], list[Task]]:
    """Each active set's cache entries, in film order, and the tasks of those not (intact) in the cache.

    Audio sets read the cues from `tracks` (each film's soundtrack files) with
    ``features.audio: track``, else from the films' ``corpus.audio_stream``;
    `cues` has passed `source.check_track_cues` in track mode.
    """
    mode = params["features"]["audio"]
    stream = params.get("corpus", {}).get("audio_stream", 0)
    film_ids = sorted(set(cues["film_id"]))
    from_tracks = mode == "track" and any(get(n).audio for n in active) and bool(film_ids)
    if from_tracks:
        track_hash = track_hashes(tracks, cues, manifest)
        durations = film_durations({f: films[f] for f in film_ids}, manifest)
    # rendition cues (match: rendition) are read from the film's mix in track mode too (source.is_rendition)
    renditions = from_tracks and "match" in cues.columns and bool((cues["match"] == "rendition").any())
    reads_film = film_ids and (renditions or any(not (get(n).audio and from_tracks) for n in active))
    hashes = film_hashes({f: films[f] for f in film_ids}, manifest) if reads_film else {}
    by_film = {f: c.reset_index(drop=True) for f, c in cues.groupby("film_id", sort=True)}
    sources = {f: AudioSource("track", f, films[f], {Path(p).stem: p for p in tracks[f]}, durations[f], stream=stream)
               if from_tracks else AudioSource("film", f, films[f], stream=stream) for f in film_ids}
    tasks: list[Task] = []
    entries: dict[str, list[Entry]] = {}
    for name in active:
        section = set_params(params, name)
        version = SetVersion.of(get(name), section)
        audio = get(name).audio
        entries[name] = []
        for fid in film_ids:
            if audio and from_tracks:
                inputs = audio_inputs("track", by_film[fid], track_hash=track_hash, duration=durations[fid],
                                      film_hash=hashes.get(fid), stream=stream)
            else:  # film-mode audio (its audio stream), and the pictures: the film at the cue times
                inputs = audio_inputs("film", by_film[fid], film_hash=hashes[fid], stream=stream if audio else None)
            entry = Entry.at(cache_dir, name, fid, cache_key(version, inputs))
            entries[name].append(entry)
            if not entry.usable():
                tasks.append(Task(name, section, fid, str(films[fid]), by_film[fid], entry,
                                  sources[fid] if audio else None))
    return entries, tasks


def extract_features(params: dict, films: dict[str, Path], cues: pd.DataFrame, out_dir: str | Path,
                     cache_dir: str | Path, manifest: pd.DataFrame | None = None,
                     tracks: dict[str, list[Path]] | None = None) -> dict[str, dict]:
    """Extract every set of params['features']['sets'] and write its bags under `out_dir`.

    `films` maps film_id to its file and `tracks` to its soundtrack files (the
    corpus; `tracks` is read with ``features.audio: track``); `cues` is the cue
    table (checked with `prepare_cues`, and `source.check_track_cues` in track
    mode); `cache_dir` holds the per-film results (`filmscore.features.cache`).
    Returns each set's status.
    """
    out_dir, cache_dir = Path(out_dir), Path(cache_dir)
    mode = params["features"]["audio"]
    cues = prepare_cues(cues, films)
    active, skipped = resolve_sets(params)
    if mode == "track" and any(get(n).audio for n in active) and len(cues):
        if tracks is None:
            raise ValueError("features.audio is 'track': pass the corpus's soundtrack files (tracks=Corpus.tracks)")
        cues = check_track_cues(cues, tracks)
    entries, tasks = plan(params, active, films, cues, cache_dir, manifest, tracks)
    n_cached = sum(len(v) for v in entries.values()) - len(tasks)
    if active:
        log.info("features: %d (set, film) result(s) to compute, %d from the cache (%s)", len(tasks), n_cached, cache_dir)
    _run_tasks(tasks, run_options(params, jobs=int(params["features"]["jobs"])), torch_threads(params))
    statuses: dict[str, dict] = {}
    for name in NAMES:
        if name in active:
            extra = {"audio": mode} if get(name).audio else {}
            statuses[name] = assemble_set(out_dir, name, entries[name], cues, columns_of(name, active[name]), extra)
            st = statuses[name]
            log.info("features %s: %d cue(s), %d frame(s), %d feature(s)%s", name, st["cues"], st["frames"],
                     st["features"], f"; {len(st['warnings'])} warning(s) listed in {out_dir / name / 'status.json'}"
                     if st["warnings"] else "")
        else:
            bags.write_skipped(out_dir, name, skipped[name])
            statuses[name] = {"status": "skipped", "reason": skipped[name]}
    return statuses


__all__ = ["extract_features", "extract_film", "prepare_cues", "resolve_sets", "set_params", "make_extractor",
           "plan", "film_hashes", "torch_threads", "AUDIO_SETS"]
