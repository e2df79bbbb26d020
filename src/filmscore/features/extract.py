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
from ..files import file_hash
from ..parallel import map_films, run_options
from . import bags
from .assemble import assemble_set
from .cache import Entry, SetVersion, cache_key
from .film import columns_of, extract_film
from .sets import AUDIO, NAMES, FeatureSet, get

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
    out = {}
    for fid, path in films.items():
        entry = known.get(fid)
        if entry and Path(path).is_file() and Path(path).stat().st_size == entry[1]:
            out[fid] = entry[0]
        else:
            out[fid] = file_hash(path)
    return out


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
    audio_stream: int | str | None = None


def _run_task(task: Task) -> tuple[int, list[str]]:
    """Compute one (set, film) and store it in the cache; runs wherever `map_films` sends it."""
    ext = _worker_extractor(task.name, task.section)
    frames, warns = extract_film(get(task.name), ext, task.film_id, task.path, task.cues, task.audio_stream)
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
         manifest: pd.DataFrame | None = None) -> tuple[dict[str, list[Entry]], list[Task]]:
    """Each active set's cache entries, in film order, and the tasks of those not (intact) in the cache."""
    film_ids = sorted(set(cues["film_id"]))
    hashes = film_hashes({f: films[f] for f in film_ids}, manifest) if active and film_ids else {}
    by_film = {f: c.reset_index(drop=True) for f, c in cues.groupby("film_id", sort=True)}
    tasks: list[Task] = []
    entries: dict[str, list[Entry]] = {}
    stream = params.get("corpus", {}).get("audio_stream", 0)
    for name in active:
        section = set_params(params, name)
        version = SetVersion.of(get(name), section)
        entries[name] = []
        for fid in film_ids:
            # another audio stream of the same file: other audio features
            media = hashes[fid] if stream in (None, 0) or not get(name).audio else f"{hashes[fid]}:stream={stream}"
            entry = Entry.at(cache_dir, name, fid, cache_key(version, media, by_film[fid][["cue_id", "start", "end"]]))
            entries[name].append(entry)
            if not entry.usable():
                tasks.append(Task(name, section, fid, str(films[fid]), by_film[fid], entry, stream))
    return entries, tasks


def extract_features(params: dict, films: dict[str, Path], cues: pd.DataFrame, out_dir: str | Path,
                     cache_dir: str | Path, manifest: pd.DataFrame | None = None) -> dict[str, dict]:
    """Extract every set of params['features']['sets'] and write its bags under `out_dir`.

    `films` maps film_id to its file (the corpus); `cues` is the cue table
    (checked with `prepare_cues`); `cache_dir` holds the per-film results
    (`filmscore.features.cache`). Returns each set's status.
    """
    out_dir, cache_dir = Path(out_dir), Path(cache_dir)
    cues = prepare_cues(cues, films)
    active, skipped = resolve_sets(params)
    entries, tasks = plan(params, active, films, cues, cache_dir, manifest)
    n_cached = sum(len(v) for v in entries.values()) - len(tasks)
    if active:
        log.info("features: %d (set, film) result(s) to compute, %d from the cache (%s)", len(tasks), n_cached, cache_dir)
    _run_tasks(tasks, run_options(params, jobs=int(params["features"]["jobs"])), torch_threads(params))
    statuses: dict[str, dict] = {}
    for name in NAMES:
        if name in active:
            statuses[name] = assemble_set(out_dir, name, entries[name], cues, columns_of(name, active[name]))
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
