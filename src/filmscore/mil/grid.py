"""One cell of the Table 4 grid: cross-validate one model on one feature set and level.

A cell is ``(set, level, method, size)``: a neural pool with its hidden size
(``vggish-cue-avg-64``) or a classical method with its base classifier
(``mir-cue-simplemi-svm``). `run_cell` writes ``data/models/<cell>/``:

* ``predictions.parquet``: film_id, fold, genre, prob, pred, truth (every film);
* ``metrics.json``: status, macro and per-genre P/R/F1/AP, the settings, and for neural cells
  ``training`` (the schedule, the epochs of each fold model, a one-line summary); no timing (the
  log has it, and a re-run must give the same bytes);
* ``model.pt`` (neural cells): the fold models, for `CVResult.load` / ``predict_heldout``;
* ``history.csv`` (neural cells): mean training loss per epoch.

A feature set the features stage skipped (``status.json``) gives a cell with
``status: skipped`` and its reason, and an empty predictions table.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FilmscoreError, Problem
from ..files import atomic_dir, write_json, write_table
from ..paths import MODELS
from .io import FEATURES_ROOT, MANIFEST, feature_status, features_path, load_bags, load_labels
from .names import BASES, CLASSICAL, LEVELS, POOLS, cell_name

log = logging.getLogger(__name__)

MODELS_ROOT = MODELS  # filmscore.paths
PREDICTION_COLUMNS = ("film_id", "fold", "genre", "prob", "pred", "truth")


def make_estimator(method: str, size, params: dict):
    """The estimator of a cell from params (``train`` for neural pools, ``classical`` otherwise)."""
    if method in POOLS:
        from .estimators import MILClassifier

        t = params["train"]
        return MILClassifier(pool=method, hidden=int(size), layers=t["layers"], epochs=t["epochs"], lr=float(t["lr"]),
                             batch_size=t["batch_size"], seed=t["seed"], attention=t["attention"],
                             attend_layers=tuple(t["attend_layers"]), dropout=float(t["dropout"]),
                             loss_weights=t["loss_weights"], threshold=float(t["threshold"]), precision=t["precision"],
                             fold_batching=t["fold_batching"], jobs=t["jobs"], schedule=t["schedule"],
                             steps=t["steps"], nested_epochs=tuple(t["nested_epochs"]), inner_folds=t["inner_folds"])
    if method in CLASSICAL:
        from .classical import make_classical

        c = params["classical"]
        if size not in BASES:
            raise FilmscoreError(Problem("cell", f"base classifier {size!r}", f"use one of {list(BASES)}"))
        return make_classical(method, size, k=c["knn_k"], C=float(c["svm_c"]), kernel=c["svm_kernel"],
                              trees=c["rf_trees"], seed=c["seed"], logreg_c=float(c["logreg_c"]))
    raise FilmscoreError(Problem("cell", f"method {method!r}", f"use a pool {list(POOLS)} or {list(CLASSICAL)}"))


def run_cell(feature_set: str, level: str, method: str, size, params: dict, out_root: str | Path = MODELS_ROOT,
             features_root: str | Path = FEATURES_ROOT, manifest: str | Path = MANIFEST) -> dict:
    """Cross-validate one cell and write its folder; return its metrics."""
    from .folds import make_folds
    from .metrics import score

    if level not in LEVELS:
        raise FilmscoreError(Problem("cell", f"level {level!r}", f"use one of {list(LEVELS)}"))
    name = cell_name(feature_set, level, method, size)
    out = Path(out_root) / name
    genres = list(params["corpus"]["genres"])
    estimator = make_estimator(method, size, params)
    info = {"cell": name, "set": feature_set, "level": level, "method": method, "size": str(size),
            "params": estimator.get_params()}
    status = feature_status(feature_set, features_root)
    if status["status"] == "skipped":
        reason = status.get("reason", "skipped by the features stage")
        log.warning("%s: feature set %r was skipped (%s): writing an empty cell", name, feature_set, reason)
        with atomic_dir(out) as tmp:
            write_table(pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
                PREDICTION_COLUMNS, (object, "int64", object, "float64", "int64", "int64"))}), tmp / "predictions.parquet")
            write_json(tmp / "metrics.json", {**info, "status": "skipped", "reason": reason})
        return {**info, "status": "skipped", "reason": reason}

    film_ids, Y = load_labels(genres, manifest)
    bags, columns = load_bags(features_path(feature_set, level, features_root), film_ids)
    cv = params["cv"]
    folds = make_folds(len(film_ids), cv["folds"], cv["seed"])
    from .cv import cross_validate

    if method in POOLS:
        res = cross_validate(estimator, bags, Y, folds, film_ids=film_ids, genres=genres, columns=columns, desc=name)
    else:  # classical fold models are not saved: no need to keep them
        res = cross_validate(estimator, bags, Y, folds, film_ids=film_ids, genres=genres, columns=columns, desc=name,
                             jobs=params["classical"]["jobs"], keep_models=False)
    metrics = score(res.truth, res.prob, res.pred, genres)
    if method in POOLS:  # how long it trained (schedule, epochs per fold): the report states it
        metrics["training"] = estimator.training_
    metrics.update(info, status="ok", n_folds=res.n_folds, n_features=len(columns),
                   n_empty_bags=int(sum(len(b) == 0 for b in bags)),
                   n_instances=int(sum(len(b) for b in bags)))
    # no timings in the outputs: the same cell must give the same bytes (and DVC hash) every run
    with atomic_dir(out) as tmp:
        write_table(res.predictions(), tmp / "predictions.parquet")
        res.save(tmp)
        if res.history:
            write_table(pd.DataFrame({"epoch": np.arange(1, len(res.history) + 1), "loss": res.history}),
                        tmp / "history.csv")
        write_json(tmp / "metrics.json", metrics)
    m = metrics["macro"]
    log.info("%s: macro P %.3f R %.3f F1 %.3f mAP %.3f (%d folds, %.0f s, %.0f CPU-s)", name, m["precision"],
             m["recall"], m["f1"], m["map"], res.n_folds, res.seconds, res.cpu_seconds)
    return metrics


def load_cell(feature_set: str, level: str, pool: str, hidden, models_root: str | Path = MODELS_ROOT,
              features_root: str | Path = FEATURES_ROOT):
    """A trained neural cell for later analyses: its `CVResult` (fold models, held-out
    predictions) and the films' bags and feature columns, in the result's film order.

    Permutation feature importance, for example::

        res, bags, columns = load_cell("mir", "cue", "avg", 64)
        prob = res.predict_heldout(permuted_bags)   # each film by its own fold's model
        pred = prob >= res.threshold
    """
    from .cv import CVResult

    res = CVResult.load(Path(models_root) / cell_name(feature_set, level, pool, hidden))
    bags, columns = load_bags(features_path(feature_set, level, features_root), res.film_ids)
    if res.columns and list(columns) != list(res.columns):
        raise FilmscoreError(Problem(str(features_path(feature_set, level, features_root)),
                                     "has other feature columns than the model was trained on",
                                     "re-run the cell's train stage (dvc repro)"))
    return res, bags, columns


__all__ = ["run_cell", "load_cell", "make_estimator", "MODELS_ROOT", "PREDICTION_COLUMNS"]
