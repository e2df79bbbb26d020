"""Reading the inputs of the genre models: feature bags and labels (the stage contracts).

* ``data/features/<set>/cues.parquet`` (cue level) or ``frames.parquet`` (frame level):
  keyed by ``film_id, cue_id`` (+ ``t`` for frames, ``start, end`` for cues); every
  other column is a float feature. ``status.json`` says whether the set was
  extracted (``{"status": "ok"}``) or skipped (``{"status": "skipped", "reason": ...}``).
* ``data/manifest.parquet``: rows with ``role == 'film'`` carry ``film_id`` and
  ``genres`` joined by ``|``. The film list comes from here: a film without a row in
  the feature table gets an empty bag (no cue found), never dropped.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import FilmscoreError, Problem
from ..paths import FEATURES, MANIFEST
from .names import KEY_COLUMNS, LEVELS

log = logging.getLogger(__name__)

FEATURES_ROOT = FEATURES  # filmscore.paths
GENRE_SEP = "|"


def features_path(feature_set: str, level: str, root: str | Path = FEATURES_ROOT) -> Path:
    """``<root>/<set>/cues.parquet`` or ``frames.parquet``."""
    if level not in LEVELS:
        raise FilmscoreError(Problem("level", f"is {level!r}", f"use one of {list(LEVELS)}"))
    return Path(root) / feature_set / f"{level}s.parquet"


def feature_status(feature_set: str, root: str | Path = FEATURES_ROOT) -> dict:
    """The set's status.json: ``{"status": "ok"}`` or ``{"status": "skipped", "reason": ...}``."""
    path = Path(root) / feature_set / "status.json"
    if not path.is_file():
        raise FilmscoreError(Problem(str(path), "not found",
                                     f"run the features stage first (dvc repro), or remove {feature_set!r} from grid.sets"))
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise FilmscoreError(Problem(str(path), f"is not valid JSON ({e})", "re-run the features stage")) from None
    if status.get("status") not in ("ok", "skipped"):
        raise FilmscoreError(Problem(str(path), f"has status {status.get('status')!r}", "expected 'ok' or 'skipped'"))
    return status


def load_labels(genres: Sequence[str], manifest: str | Path = MANIFEST) -> tuple[list[str], np.ndarray]:
    """Film ids (sorted) and their (n_films, n_genres) 0/1 labels from the manifest."""
    path = Path(manifest)
    if not path.is_file():
        raise FilmscoreError(Problem(str(path), "not found", "run the validate stage first (dvc repro validate)"))
    df = pd.read_parquet(path)
    missing = [c for c in ("film_id", "role", "genres") if c not in df.columns]
    if missing:
        raise FilmscoreError(Problem(str(path), f"lacks columns {missing}", "re-run the validate stage"))
    films = df[df["role"] == "film"].sort_values("film_id")
    if films.empty:
        raise FilmscoreError(Problem(str(path), "lists no film", "check corpus.path and re-run the validate stage"))
    genres = list(genres)
    Y = np.zeros((len(films), len(genres)), dtype=np.int64)
    probs = []
    for i, (fid, gs) in enumerate(zip(films["film_id"], films["genres"].fillna(""))):
        for g in (x.strip() for x in str(gs).split(GENRE_SEP) if x.strip()):
            if g not in genres:
                probs.append(Problem(str(path), f"film {fid!r} has genre {g!r}, not in corpus.genres {genres}",
                                     "add it to corpus.genres in params.yaml, or fix labels.csv and re-run validate"))
            else:
                Y[i, genres.index(g)] = 1
    if probs:
        raise FilmscoreError(probs, headline="labels do not match the genre set")
    return films["film_id"].astype(str).tolist(), Y


def load_bags(path: str | Path, film_ids: Sequence[str]) -> tuple[list[np.ndarray], list[str]]:
    """One bag per film (in ``film_ids`` order) from a feature table, and the feature columns.

    Instances are ordered by cue (and time). A film with no row has an empty bag; a
    film in the table but not in ``film_ids`` is ignored (logged). A non-numeric
    feature column is an error naming the file and column.
    """
    path = Path(path)
    if not path.is_file():
        raise FilmscoreError(Problem(str(path), "not found", "run the features stage first (dvc repro)"))
    df = pd.read_parquet(path)
    if "film_id" not in df.columns:
        raise FilmscoreError(Problem(str(path), "has no film_id column", "re-run the features stage"))
    columns = [c for c in df.columns if c not in KEY_COLUMNS]
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])]
    if bad:
        raise FilmscoreError(Problem(str(path), f"non-numeric feature column(s) {bad}",
                                     f"every column other than {list(KEY_COLUMNS)} must be a float feature"))
    if not columns:
        raise FilmscoreError(Problem(str(path), "has no feature column", "re-run the features stage"))
    df["film_id"] = df["film_id"].astype(str)
    order = [c for c in ("film_id", "cue_id", "t", "start") if c in df.columns]
    df = df.sort_values(order, kind="stable")
    unknown = sorted(set(df["film_id"]) - set(film_ids))
    if unknown:
        log.warning("%s: %d film(s) not in the manifest ignored: %s", path, len(unknown), ", ".join(unknown[:10]))
    values = df[columns].to_numpy(dtype=np.float64)
    groups = df.groupby("film_id", sort=False).indices
    width = len(columns)
    bags = [values[groups[f]] if f in groups else np.zeros((0, width)) for f in film_ids]
    empty = [f for f, b in zip(film_ids, bags) if len(b) == 0]
    if empty:
        log.info("%s: %d film(s) without any instance (no cue found): %s", path, len(empty), ", ".join(empty[:10]))
    return bags, columns


__all__ = ["features_path", "feature_status", "load_labels", "load_bags", "FEATURES_ROOT", "MANIFEST"]
