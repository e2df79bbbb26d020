"""Cross-validation results: held-out predictions, the fold models, and re-prediction.

`cross_validate(estimator, bags, Y, folds)` trains one model per fold (for a
`MILClassifier` all folds at once) and returns a `CVResult`:

* ``prob`` / ``pred`` (n_films, n_genres): each film predicted by the model of the
  fold that held it out;
* ``predict_heldout(bags)``: the same, for other bags of the same films (for
  example with a feature group permuted, for permutation feature importance):
  film i's bag goes through the model of fold ``folds[i]`` only;
* ``save(dir)`` / ``CVResult.load(dir)`` keep the fold models of a neural cell on
  disk (``model.pt``), so later analyses reuse them without retraining.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import FilmscoreError, Problem
from ..files import write_torch
from ..log import progress
from .folds import check_bags, fold_priors, train_matrix

log = logging.getLogger(__name__)

MODEL_FILE = "model.pt"


@dataclass
class CVResult:
    """Held-out predictions of a cross-validation and (when kept) its fold models."""

    film_ids: list[str]
    genres: list[str]
    folds: np.ndarray  # (n,) fold of each film
    prob: np.ndarray  # (n, G) held-out probabilities (scores for classical models)
    pred: np.ndarray  # (n, G) 0/1 held-out predictions
    truth: np.ndarray  # (n, G) 0/1 labels
    method: str
    params: dict = field(default_factory=dict)
    models: Any = None  # MILModule with one model per fold, or list of per-fold estimators
    history: list[float] = field(default_factory=list)  # mean training loss per epoch (neural)
    seconds: float = 0.0  # wall time of the cross-validation
    cpu_seconds: float = 0.0  # CPU time it took, in this process and its worker processes
    columns: list[str] | None = None
    threshold: float = 0.5

    @property
    def is_neural(self) -> bool:
        """Whether the fold models are one batched neural module (else per-fold estimators)."""
        return self.models is not None and not isinstance(self.models, list)

    @property
    def n_folds(self) -> int:
        return int(self.folds.max()) + 1

    def predictions(self) -> pd.DataFrame:
        """Long table: film_id, fold, genre, prob, pred, truth (one row per film and genre)."""
        n, G = self.prob.shape
        return pd.DataFrame({
            "film_id": np.repeat(np.asarray(self.film_ids, dtype=object), G),
            "fold": np.repeat(self.folds.astype(np.int64), G),
            "genre": np.tile(np.asarray(self.genres, dtype=object), n),
            "prob": self.prob.reshape(-1).astype(np.float64),
            "pred": self.pred.reshape(-1).astype(np.int64),
            "truth": self.truth.reshape(-1).astype(np.int64),
        })

    def predict_heldout(self, bags: Sequence[np.ndarray]) -> np.ndarray:
        """(n, G) probabilities of ``bags`` (one per film, in ``film_ids`` order), each bag
        predicted by the model of the fold that held its film out."""
        if len(bags) != len(self.film_ids):
            raise FilmscoreError(Problem("predict_heldout", f"{len(bags)} bags for {len(self.film_ids)} films",
                                         "pass one bag per film, in the order of film_ids"))
        if self.models is None:
            raise FilmscoreError(Problem(f"CVResult {self.method}", "holds no fold models",
                                         "re-run the cross-validation (classical models are not saved to disk)"))
        width = self.models.embed[0].n_in if self.is_neural else self.models[0].n_features_in_
        bags, _ = check_bags(bags, film_ids=self.film_ids, columns=self.columns, where="predict_heldout", width=width)
        if self.is_neural:
            return heldout_neural(self.models, bags, self.folds)
        out = np.zeros((len(bags), len(self.genres)))
        for f, est in enumerate(self.models):
            rows = np.flatnonzero(self.folds == f)
            if len(rows):
                out[rows] = est.predict_proba([bags[i] for i in rows])
        return out

    def predict_films(self, bags: Sequence[np.ndarray], films: Sequence[int]) -> np.ndarray:
        """(len(bags), G) probabilities of any number of bags, bag k through the model of the fold that
        held film ``films[k]`` out (an index into ``film_ids``; a film may appear many times). For the
        importance bootstrap, whose resampled films repeat: ``predict_heldout(bags)`` is
        ``predict_films(bags, range(n))``."""
        films = np.asarray(films, dtype=np.int64).reshape(-1)
        n = len(self.film_ids)
        if len(films) != len(bags) or (len(films) and (films.min() < 0 or films.max() >= n)):
            raise FilmscoreError(Problem("predict_films", f"{len(bags)} bags for {len(films)} film indices "
                                         f"(valid: 0..{n - 1})", "pass one index into film_ids per bag"))
        if self.models is None:
            raise FilmscoreError(Problem(f"CVResult {self.method}", "holds no fold models",
                                         "re-run the cross-validation (classical models are not saved to disk)"))
        if not len(films):
            return np.zeros((0, len(self.genres)))
        width = self.models.embed[0].n_in if self.is_neural else self.models[0].n_features_in_
        bags, _ = check_bags(bags, film_ids=[self.film_ids[i] for i in films], columns=self.columns,
                             where="predict_films", width=width)
        fold = self.folds[films]
        if self.is_neural:
            return heldout_neural(self.models, bags, fold)
        out = np.zeros((len(bags), len(self.genres)))
        for f, est in enumerate(self.models):
            rows = np.flatnonzero(fold == f)
            if len(rows):
                out[rows] = est.predict_proba([bags[i] for i in rows])
        return out

    # -- persistence (neural fold models)
    def save(self, directory: str | Path) -> Path | None:
        """Write the fold models to ``directory/model.pt`` (neural models only)."""
        if not self.is_neural:
            return None
        import torch

        m = self.models
        blob = {
            "format": 1,
            "pool": m.pool_name,
            "hparams": {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(m.hparams).items()},
            "state_dict": {k: v.detach().clone() for k, v in m.state_dict().items()},
            "film_ids": list(self.film_ids),
            "genres": list(self.genres),
            "folds": torch.as_tensor(self.folds, dtype=torch.long),
            "columns": list(self.columns or []),
            "threshold": float(self.threshold),
            "method": self.method,
            "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params.items()},
        }
        return write_torch(Path(directory) / MODEL_FILE, blob)

    @classmethod
    def load(cls, directory: str | Path) -> "CVResult":
        """The fold models of a trained cell (``model.pt``) with its held-out predictions
        (``predictions.parquet`` beside it, when present)."""
        import torch

        from .lightning import make_module

        directory = Path(directory)
        path = directory / MODEL_FILE
        if not path.is_file():
            raise FilmscoreError(Problem(str(path), "not found",
                                         "train the cell first (dvc repro), or pick a neural cell (classical cells keep no models)"))
        blob = torch.load(path, map_location="cpu", weights_only=True)
        hp = dict(blob["hparams"])
        module = make_module(blob["pool"], **hp)
        module.load_state_dict(blob["state_dict"])
        module.eval()
        film_ids, genres = list(blob["film_ids"]), list(blob["genres"])
        folds = blob["folds"].numpy()
        n, G = len(film_ids), len(genres)
        prob = np.full((n, G), np.nan)
        pred = np.zeros((n, G), dtype=np.int64)
        truth = np.zeros((n, G), dtype=np.int64)
        preds_path = directory / "predictions.parquet"
        if preds_path.is_file():
            df = pd.read_parquet(preds_path)
            pos = {f: i for i, f in enumerate(film_ids)}
            gpos = {g: j for j, g in enumerate(genres)}
            i = df["film_id"].map(pos).to_numpy()
            j = df["genre"].map(gpos).to_numpy()
            prob[i, j] = df["prob"].to_numpy()
            pred[i, j] = df["pred"].to_numpy()
            truth[i, j] = df["truth"].to_numpy()
        return cls(film_ids=film_ids, genres=genres, folds=folds, prob=prob, pred=pred, truth=truth,
                   method=blob["method"], params=dict(blob["params"]), models=module,
                   columns=list(blob["columns"]) or None, threshold=float(blob["threshold"]))


def heldout_neural(module, bags: Sequence[np.ndarray], folds: np.ndarray) -> np.ndarray:
    """Each bag through the model of its own fold: fold f's held-out bags are stacked
    as (F, B', N, D) and every fold runs on its own slice only."""
    import torch

    F = module.n_folds
    folds = np.asarray(folds)
    members = [np.flatnonzero(folds == f) for f in range(F)]
    width = max(1, max(len(m) for m in members))
    nmax = max(1, max(len(b) for b in bags))
    D = bags[0].shape[1]
    x = torch.zeros(F, width, nmax, D)
    mask = torch.zeros(F, width, nmax, dtype=torch.bool)
    for f, rows in enumerate(members):
        for slot, i in enumerate(rows):
            k = len(bags[i])
            if k:
                x[f, slot, :k] = torch.from_numpy(bags[i])
                mask[f, slot, :k] = True
    probs = module.predict_per_fold(x, mask).numpy()
    out = np.zeros((len(bags), module.n_genres))
    for f, rows in enumerate(members):
        out[rows] = probs[f, : len(rows)]
    return out


def _fit_fold(estimator, bags, Y, tr, te, keep_model):
    from sklearn.base import clone

    c0 = time.process_time()
    est = clone(estimator).fit([bags[i] for i in tr], Y[tr])
    test = [bags[i] for i in te]
    return est.predict_proba(test), est.predict(test), est if keep_model else None, time.process_time() - c0


def cross_validate(estimator, bags: Sequence[np.ndarray], Y: np.ndarray, folds: np.ndarray,
                   film_ids: Sequence[str] | None = None, genres: Sequence[str] | None = None,
                   columns: Sequence[str] | None = None, desc: str | None = None, jobs: int = 1,
                   keep_models: bool = True) -> CVResult:
    """Cross-validate any estimator of this package (fit / predict_proba / predict on bags).

    Estimators with their own ``cross_validate`` (MILClassifier: all folds at once)
    use it; the others are cloned, fitted and applied fold by fold, in ``jobs``
    processes (0: one per CPU core). ``keep_models=False`` drops the fold models
    (then ``predict_heldout`` is unavailable).
    """
    if hasattr(estimator, "cross_validate"):
        return estimator.cross_validate(bags, Y, folds, film_ids=film_ids, genres=genres, columns=columns, desc=desc)
    import os

    from joblib import Parallel, delayed

    ids = list(film_ids) if film_ids is not None else [str(i) for i in range(len(bags))]
    bags, Yc = check_bags(bags, Y, ids, columns)
    folds = np.asarray(folds)
    G = Yc.shape[1]
    names = list(genres) if genres is not None else [f"label {j}" for j in range(G)]
    t0 = time.perf_counter()
    train = train_matrix(folds)
    warn_missing_genres(Yc, train, names, ids, folds)
    prob = np.zeros((len(bags), G))
    pred = np.zeros((len(bags), G), dtype=np.int64)
    n_jobs = max(1, min(int(jobs) if int(jobs) > 0 else (os.cpu_count() or 1), train.shape[0]))
    splits = [(np.flatnonzero(train[f]), np.flatnonzero(~train[f])) for f in range(train.shape[0])]
    tasks = (delayed(_fit_fold)(estimator, bags, Yc, tr, te, keep_models) for tr, te in splits)
    out = Parallel(n_jobs=n_jobs, backend="loky" if n_jobs > 1 else "sequential", return_as="generator")(tasks)
    models = []
    cpu = time.process_time() if n_jobs == 1 else 0.0
    worker_cpu = 0.0
    for (tr, te), (p, d, est, c) in zip(splits, progress(out, desc=desc or type(estimator).__name__,
                                                         total=len(splits), unit="fold")):
        prob[te], pred[te] = p, d
        models.append(est)
        worker_cpu += c
    cpu = time.process_time() - cpu if n_jobs == 1 else worker_cpu
    return CVResult(film_ids=ids, genres=names, folds=folds, prob=prob, pred=pred, truth=Yc.astype(np.int64),
                    method=getattr(estimator, "method_name", type(estimator).__name__), params=estimator.get_params(),
                    models=models if keep_models else None, seconds=time.perf_counter() - t0, cpu_seconds=cpu,
                    columns=list(columns) if columns else None,
                    threshold=float(getattr(estimator, "threshold", 0.5)))


def warn_missing_genres(Y: np.ndarray, train: np.ndarray, genres: Sequence[str], film_ids: Sequence[str],
                        folds: np.ndarray) -> list[str]:
    """Log (once per genre) the folds whose training films never (or always) carry a genre."""
    prior = fold_priors(Y, train)
    msgs = []
    for j, g in enumerate(genres):
        for what, bad in (("no", prior[:, j] == 0), ("every", prior[:, j] == 1)):
            fs = np.flatnonzero(bad)
            if len(fs):
                held = [film_ids[i] for i in np.flatnonzero(np.isin(folds, fs))][:5]
                msgs.append(f"genre {g!r}: {what} training film carries it in {len(fs)} fold(s) "
                            f"(held out: {', '.join(held)}{'...' if len(fs) > 5 else ''}); those folds learn it from "
                            f"{'negative' if what == 'no' else 'positive'} examples only")
    for m in msgs:
        log.warning(m)
    return msgs


__all__ = ["CVResult", "cross_validate", "heldout_neural", "warn_missing_genres", "MODEL_FILE"]
