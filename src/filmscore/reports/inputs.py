"""Where the reports find the pipeline's outputs, and how they read them.

Every path here is a data contract between stages (see HELPERS.md / DEVELOPERS.md).
A missing input is an error naming the file and the stage that makes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import FilmscoreError, Problem

# ---- inputs written by other stages (the contracts; paths declared in filmscore.paths) ----
from ..paths import CUES, CUES_TRUTH, MANIFEST, S2_FIGURE, S3_FIGURE, TABLE4, TABLE4_FIGURE, TABLE4_METRICS  # noqa: E402,F401
from ..paths import CROSSMODAL as CROSSMODAL_DIR, CUES_EVAL, FEATURES as FEATURES_DIR  # noqa: E402
from ..paths import IMPORTANCE as IMPORTANCE_DIR, MODELS as MODELS_DIR, REPORT_HTML, REPORT_MD  # noqa: E402,F401
from ..paths import TIMELINE as TIMELINE_DIR  # noqa: E402,F401

CUES_SUMMARY = CUES_EVAL / "summary.json"  # stage cues_eval: the whole evaluation, where the corpus has cues_truth/

# The stage that writes data/models/<cell>/predictions.parquet and the fold models.
MODEL_STAGE = "train"

PREDICTION_COLUMNS = ("film_id", "fold", "genre", "prob", "pred", "truth")
LEVEL_TABLES = {"cue": "cues.parquet", "frame": "frames.parquet"}


def require(path: str | Path, stage: str, what: str) -> Path:
    """`path` if it exists, else an error naming the stage that writes it."""
    path = Path(path)
    if not path.exists():
        raise FilmscoreError(
            [Problem(str(path), f"not found ({what})", f"run `dvc repro {stage}` first (or `dvc repro` for the whole pipeline)")],
            headline="a required input is missing",
        )
    return path


def model_cell(features: str, level: str, pool: str, hidden: int) -> str:
    """The name of a model cell's folder under data/models (the models contract)."""
    return f"{features}-{level}-{pool}-{hidden}"


def parse_cell(cell: str) -> dict:
    """Inverse of `model_cell`: {'features', 'level', 'pool', 'hidden'}."""
    parts = cell.split("-")
    if len(parts) != 4 or parts[1] not in LEVEL_TABLES or not parts[3].isdigit():
        raise FilmscoreError([Problem(f"model cell {cell!r}", "is not <features>-<level>-<pool>-<hidden>",
                                      "name a folder of data/models, e.g. mir-cue-avg-64")])
    return {"features": parts[0], "level": parts[1], "pool": parts[2], "hidden": int(parts[3])}


def headline_cell(params: dict) -> str:
    """The cell of the headline model chosen in params.yaml `model.*`.

    The keys read here (model.set, model.level, model.pool, model.hidden)
    are the ones the stages list under `params:` in dvc.yaml.
    """
    m = params["model"]
    return model_cell(m["set"], m["level"], m["pool"], m["hidden"])


def available_cells() -> list[str]:
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / "predictions.parquet").is_file())


def load_predictions(model_dir: str | Path, genres: list[str]) -> pd.DataFrame:
    """A model cell's per-film predictions, checked against the contract.

    Returns the long table (film_id, fold, genre, prob, pred, truth).
    """
    model_dir = Path(model_dir)
    path = model_dir / "predictions.parquet"
    if not path.is_file():
        cells = available_cells()
        fix = f"run `dvc repro {MODEL_STAGE}` first (or `dvc repro` for the whole pipeline)"
        if cells:
            fix += f"; cells with predictions now: {', '.join(cells)}"
        raise FilmscoreError([Problem(str(path), f"not found: the predictions of model {model_dir.name} are missing", fix)],
                             headline="a required input is missing")
    df = pd.read_parquet(path)
    missing = [c for c in PREDICTION_COLUMNS if c not in df.columns]
    if missing:
        raise FilmscoreError([Problem(str(path), f"lacks columns {missing}",
                                      f"re-run `dvc repro {MODEL_STAGE}`: predictions need columns {list(PREDICTION_COLUMNS)}")])
    unknown = sorted(set(df["genre"]) - set(genres))
    absent = [g for g in genres if g not in set(df["genre"])]
    if unknown or absent:
        raise FilmscoreError([Problem(str(path), f"genres differ from corpus.genres (unknown {unknown}, absent {absent})",
                                      f"re-run `dvc repro {MODEL_STAGE}` after changing corpus.genres")])
    dup = df.duplicated(["film_id", "genre"])
    if dup.any():
        raise FilmscoreError([Problem(str(path), f"has {int(dup.sum())} duplicate (film_id, genre) rows",
                                      f"re-run `dvc repro {MODEL_STAGE}`")])
    return df


def wide(preds: pd.DataFrame, column: str, genres: list[str]) -> pd.DataFrame:
    """film_id x genre table of one prediction column (genre order of `genres`)."""
    out = preds.pivot(index="film_id", columns="genre", values=column).reindex(columns=genres)
    if out.isna().any().any():
        bad = out.index[out.isna().any(axis=1)].tolist()
        raise FilmscoreError([Problem("predictions.parquet", f"films {bad[:5]} lack a prediction for some genre",
                                      f"re-run `dvc repro {MODEL_STAGE}`")])
    return out.sort_index()


def film_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per film from the manifest: film_id, duration, has_video, genres (list)."""
    films = manifest[manifest["role"] == "film"].copy()
    films["genre_list"] = films["genres"].fillna("").map(lambda s: [g for g in str(s).split("|") if g])
    return films.set_index("film_id").sort_index()


def label_matrix(manifest: pd.DataFrame, genres: list[str]) -> pd.DataFrame:
    """film_id x genre 0/1 matrix of the true labels (from the manifest)."""
    films = film_table(manifest)
    Y = pd.DataFrame(0, index=films.index, columns=genres, dtype=np.int64)
    for fid, gs in films["genre_list"].items():
        for g in gs:
            if g in Y.columns:
                Y.loc[fid, g] = 1
    return Y


def feature_status(feature_set: str) -> dict:
    """data/features/<set>/status.json, or an error naming the features stage."""
    path = require(FEATURES_DIR / feature_set / "status.json", "features", f"status of the {feature_set} features")
    return json.loads(path.read_text(encoding="utf-8"))


def bags_from_table(table: pd.DataFrame, film_ids: list[str], columns: list[str]) -> list[np.ndarray]:
    """One (instances x features) float array per film, in `film_ids` order.

    A film with no rows gets an empty (0, n_features) bag. Instance order is the
    table's order (sorted by time), which a pooling model ignores.
    """
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise FilmscoreError([Problem("feature table", f"lacks the model's feature columns {missing[:5]}"
                                      f"{' ...' if len(missing) > 5 else ''}",
                                      "the features changed since training: run `dvc repro` to retrain")])
    X = table[list(columns)].to_numpy(dtype=np.float64)
    ids = table["film_id"].to_numpy()
    order = np.argsort(ids, kind="stable")
    ids_sorted = ids[order]
    bags = []
    for fid in film_ids:
        lo, hi = np.searchsorted(ids_sorted, fid, "left"), np.searchsorted(ids_sorted, fid, "right")
        bags.append(X[order[lo:hi]])
    return bags


# ---- the reports' own outputs ---------------------------------------------


@contextlib.contextmanager
def staged_outputs(out_dir: str | Path) -> Iterator[Path]:
    """Write a stage's files into a temporary folder, then move each into `out_dir`.

    Nothing is moved unless every file was written; files of `out_dir` the
    stage does not write (such as the .gitignore DVC keeps there) are left alone.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        yield tmp
        for f in sorted(tmp.iterdir()):
            os.replace(f, out_dir / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
