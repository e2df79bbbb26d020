"""`MILClassifier`: the neural MIL genre models behind a scikit-learn-style interface.

    clf = MILClassifier(pool="single_attention", hidden=128, epochs=200)
    clf.fit(bags, Y)                    # bags: list of (instances, features) arrays
    clf.predict_proba(bags)             # (n_bags, n_labels)
    res = clf.cross_validate(bags, Y, folds)   # all folds trained at once -> CVResult

Training is the paper's (every value a parameter): ``layers`` dense embedding
layers of ``hidden`` units, the pooling, a sigmoid output layer; weighted binary
cross-entropy with per-label weights from the training labels; Adam (lr 5e-5),
batches of 16 bags, 200 epochs; threshold 0.5. The training loop is a Lightning
``Trainer`` over a `BagDataModule`; see `filmscore.mil.lightning` for the model.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from ..errors import FilmscoreError, Problem
from ..log import progress
from ..malloc import keep_freed_memory
from .cv import CVResult, warn_missing_genres
from .data import BagDataModule, pad_bags
from .folds import check_bags, class_weights, fold_priors, fold_standardization, train_matrix
from .lightning import MILModule, make_module
from .names import PRECISIONS, SCHEDULES
from .pools import ATTENTION_NORMS, POOLS

log = logging.getLogger(__name__)


class _EpochProgress(pl.Callback):
    """A progress bar over epochs (`filmscore.log.progress`)."""

    def __init__(self, desc: str, epochs: int):
        self._it = iter(progress(range(epochs), desc=desc, total=epochs, unit="epoch"))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        next(self._it, None)

    def on_train_end(self, trainer, pl_module) -> None:
        for _ in self._it:
            pass


def _quiet_lightning() -> None:
    """Lightning logs its device summary and tips at INFO on every Trainer: keep them out."""
    for name in ("pytorch_lightning", "lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)


class _Snapshots(pl.Callback):
    """At the given epochs, record every model's probabilities for every bag (``data``: the
    `BagDataModule`) or, without data, the models' state (numpy, leading model axis)."""

    def __init__(self, epochs: list[int], data: BagDataModule | None):
        self.epochs, self.data = set(epochs), data

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        e = trainer.current_epoch + 1
        if e not in self.epochs:
            return
        if self.data is not None:
            pl_module.snapshots[e] = pl_module.predict_bags(self.data.x, self.data.mask).numpy().copy()
        else:
            pl_module.snapshots[e] = {k: v.detach().numpy().copy() for k, v in pl_module.state_dict().items()}


def _trainer(epochs: int, desc: str, show_progress: bool, callbacks: list | None = None) -> pl.Trainer:
    _quiet_lightning()
    return pl.Trainer(
        max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        use_distributed_sampler=False,
        callbacks=([_EpochProgress(desc, epochs)] if show_progress else []) + list(callbacks or []),
    )


class MILClassifier(BaseEstimator, ClassifierMixin):
    """Neural multiple-instance multi-label classifier (one of the six pooling types).

    Parameters
    ----------
    pool : one of ``max, avg, linear_softmax, single_attention, multi_attention, feature_attention``
    hidden : units of each embedding layer (the paper: 64 or 128)
    layers : number of dense embedding layers (the paper: 3)
    epochs, lr, batch_size : Adam training (the paper: 200, 5e-5, 16 bags)
    schedule : how long to train (`SCHEDULES`): ``paper``, ``epochs`` epochs (the paper's fixed
        budget, which shrinks with the corpus: 200 epochs of 16 bags are 1,400 optimiser steps
        on 110 films, 400 on 30); ``steps``, about ``steps`` optimiser steps per model whatever
        the corpus size (epochs = steps / batches per epoch, rounded); ``nested``, the epochs
        chosen among ``nested_epochs`` by an inner ``inner_folds``-fold cross-validation
        inside each training fold (never seeing the fold's held-out films; by the inner
        held-out macro F1, ties to the shorter training); the learning rate stays ``lr``
    steps : optimiser steps per model for ``schedule="steps"``
    nested_epochs : candidate epochs for ``schedule="nested"``
    inner_folds : inner cross-validation folds for ``schedule="nested"``
    seed : initial weights and batch order
    attention : ``sigmoid`` (Kong et al.) or ``softmax`` (Ilse et al.) attention normalisation
    attend_layers : embedding layers (1-based) attended by ``multi_attention``
    dropout : dropout after each embedding layer (the paper: none)
    loss_weights : ``balanced`` (per-label positive/negative weights from the training
        labels, `filmscore.mil.data.class_weights`) or ``none``
    threshold : a label is predicted when its probability is >= threshold
    precision : ``32-true`` (float32) or ``bf16-mixed`` (bfloat16 instance activations,
        float32 weights, optimiser and loss; about twice as fast where the CPU has
        bfloat16 matrix units, see docs/models.md); prediction is float32 either way
    fold_batching : in `cross_validate`, train all folds as one batched model (True) or
        one Lightning run per fold (False; same models, much slower)
    jobs : with fold batching, processes that each train a share of the folds (one
        thread each; 0: one per CPU core, 1: this process with torch's default threads).
        The models do not depend on it.
    show_progress : progress bars

    Fitting leaves the process as it found it (torch's thread count, malloc settings):
    process-wide settings are made by entry points (`stages/train.py` calls
    `filmscore.malloc.keep_freed_memory`, faster steps) and by the initialiser of the
    worker processes that ``jobs`` > 1 starts (one torch thread each, the same malloc setting).
    """

    method_name = "mil"

    def __init__(self, pool: str = "avg", hidden: int = 64, layers: int = 3, epochs: int = 200, lr: float = 5e-5,
                 batch_size: int = 16, seed: int = 0, attention: str = "sigmoid", attend_layers: Sequence[int] = (2, 3),
                 dropout: float = 0.0, loss_weights: str = "balanced", threshold: float = 0.5,
                 precision: str = "32-true", fold_batching: bool = True, jobs: int = 1, show_progress: bool = True,
                 schedule: str = "paper", steps: int = 1400, nested_epochs: Sequence[int] = (50, 100, 200, 400),
                 inner_folds: int = 3):
        self.schedule = schedule
        self.steps = steps
        self.nested_epochs = nested_epochs
        self.inner_folds = inner_folds
        self.pool = pool
        self.hidden = hidden
        self.layers = layers
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.seed = seed
        self.attention = attention
        self.attend_layers = attend_layers
        self.dropout = dropout
        self.loss_weights = loss_weights
        self.threshold = threshold
        self.precision = precision
        self.fold_batching = fold_batching
        self.jobs = jobs
        self.show_progress = show_progress

    # -- checks
    def _check_params(self) -> None:
        probs = []
        if self.pool not in POOLS:
            probs.append(Problem("MILClassifier.pool", f"is {self.pool!r}", f"use one of {list(POOLS)}"))
        if self.attention not in ATTENTION_NORMS:
            probs.append(Problem("MILClassifier.attention", f"is {self.attention!r}", f"use one of {list(ATTENTION_NORMS)}"))
        if self.precision not in PRECISIONS:
            probs.append(Problem("MILClassifier.precision", f"is {self.precision!r}", f"use one of {list(PRECISIONS)}"))
        if self.schedule not in SCHEDULES:
            probs.append(Problem("MILClassifier.schedule", f"is {self.schedule!r}", f"use one of {list(SCHEDULES)}"))
        if self.schedule == "nested" and not self.fold_batching:
            probs.append(Problem("MILClassifier.schedule", "is 'nested' without fold batching",
                                 "use fold_batching=True (the inner models train as one batched model)"))
        if not self.nested_epochs or any(not isinstance(e, (int, np.integer)) or e < 1 for e in self.nested_epochs):
            probs.append(Problem("MILClassifier.nested_epochs", f"is {self.nested_epochs!r}",
                                 "list one or more epoch counts >= 1"))
        for name, lo in (("steps", 1), ("inner_folds", 2)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < lo:
                probs.append(Problem(f"MILClassifier.{name}", f"is {v!r}", f"use an integer >= {lo}"))
        if self.loss_weights not in ("balanced", "none"):
            probs.append(Problem("MILClassifier.loss_weights", f"is {self.loss_weights!r}", "use 'balanced' or 'none'"))
        for name, lo in (("hidden", 1), ("layers", 1), ("epochs", 1), ("batch_size", 1), ("jobs", 0)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < lo:
                probs.append(Problem(f"MILClassifier.{name}", f"is {v!r}", f"use an integer >= {lo}"))
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            probs.append(Problem("MILClassifier.lr", f"is {self.lr!r}", "use a positive learning rate"))
        if not 0 <= self.dropout < 1:
            probs.append(Problem("MILClassifier.dropout", f"is {self.dropout!r}", "use 0 <= dropout < 1"))
        if not 0 < self.threshold < 1:
            probs.append(Problem("MILClassifier.threshold", f"is {self.threshold!r}", "use 0 < threshold < 1"))
        if self.pool == "multi_attention" and (not self.attend_layers or any(
                not 1 <= int(l) <= self.layers for l in self.attend_layers)):
            probs.append(Problem("MILClassifier.attend_layers", f"is {list(self.attend_layers)}",
                                 f"list embedding layers between 1 and {self.layers}"))
        if probs:
            raise FilmscoreError(probs, headline="invalid MILClassifier parameters")

    # -- training
    def _train(self, bags: list[np.ndarray], Y: np.ndarray, train: np.ndarray, desc: str, epochs: int | None = None,
               snapshots: Sequence[int] = (), predict: bool = False) -> MILModule:
        """Train one model per row of ``train`` (n_models, n_bags) at once, for ``epochs``
        (default ``self.epochs``). At each epoch in ``snapshots`` the module records in
        ``module.snapshots[epoch]`` every model's probabilities for every bag (``predict``,
        (n_models, n_bags, n_labels)) or its state (numpy arrays, leading model axis)."""
        lengths = np.array([len(b) for b in bags])
        net_train = train & (lengths > 0)[None, :]
        mean, scale = fold_standardization(bags, train)
        if self.loss_weights == "balanced":
            w_pos, w_neg = class_weights(Y, net_train)
        else:
            w_pos = w_neg = np.ones((train.shape[0], Y.shape[1]))
        module = make_module(self.pool, n_features=bags[0].shape[1], n_genres=Y.shape[1], n_folds=train.shape[0],
                             hidden=int(self.hidden), layers=int(self.layers), lr=float(self.lr),
                             attention=self.attention, attend_layers=tuple(int(l) for l in self.attend_layers),
                             dropout=float(self.dropout), seed=int(self.seed), precision=self.precision)
        module.set_fold_stats(mean, scale, w_pos, w_neg, fold_priors(Y, train))
        dm = BagDataModule(bags, Y, train, int(self.batch_size), int(self.seed))
        torch.manual_seed(int(self.seed))  # dropout masks
        epochs = int(self.epochs if epochs is None else epochs)
        extra = [_Snapshots(sorted(set(int(e) for e in snapshots)), dm if predict else None)] if len(snapshots) else []
        module.snapshots = {}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*does not have many workers.*")
            warnings.filterwarnings("ignore", ".*could not find the number of batches.*")
            warnings.filterwarnings("ignore", ".*LeafSpec.*")
            _trainer(epochs, desc, self.show_progress, extra).fit(module, datamodule=dm)
        module.eval()
        return module

    def fit(self, bags: Sequence[np.ndarray], Y: np.ndarray, film_ids: Sequence[str] | None = None,
            columns: Sequence[str] | None = None) -> "MILClassifier":
        """Train one model on all bags."""
        self._check_params()
        bags, Yc = check_bags(bags, Y, film_ids, columns)
        if (np.array([len(b) for b in bags]) > 0).sum() == 0:
            raise FilmscoreError(Problem("fit", "every bag is empty", "give at least one film with cues"))
        train = np.ones((1, len(bags)), dtype=bool)
        epochs = self._schedule_epochs(bags, Yc, train, f"MIL {self.pool}")
        self.module_ = self._fit_epochs(bags, Yc, train, f"MIL {self.pool}", epochs)[0]
        self.n_features_in_ = bags[0].shape[1]
        self.classes_ = np.arange(Yc.shape[1])
        return self

    def predict_proba(self, bags: Sequence[np.ndarray]) -> np.ndarray:
        """(n_bags, n_labels) probabilities; an empty bag gets the training label frequencies."""
        if not hasattr(self, "module_"):
            raise FilmscoreError(Problem("MILClassifier", "is not fitted", "call fit(bags, Y) first"))
        bags, _ = check_bags(bags, where="MILClassifier.predict_proba", width=self.n_features_in_)
        x, mask, _ = pad_bags(bags)
        return self.module_.predict_bags(x, mask)[0].numpy().astype(np.float64)

    def predict(self, bags: Sequence[np.ndarray]) -> np.ndarray:
        return (self.predict_proba(bags) >= self.threshold).astype(np.int64)

    # -- cross-validation
    def cross_validate(self, bags: Sequence[np.ndarray], Y: np.ndarray, folds: np.ndarray,
                       film_ids: Sequence[str] | None = None, genres: Sequence[str] | None = None,
                       columns: Sequence[str] | None = None, desc: str | None = None) -> CVResult:
        """Held-out predictions of every film; the fold models are kept in the result.

        With ``fold_batching`` all folds train at once as one batched model; without,
        one Lightning run per fold on the same batches (the same models, slower).
        """
        self._check_params()
        ids = list(film_ids) if film_ids is not None else [str(i) for i in range(len(bags))]
        bags, Yc = check_bags(bags, Y, ids, columns)
        folds = np.asarray(folds, dtype=np.int64)
        if folds.shape != (len(bags),):
            raise FilmscoreError(Problem("cross_validate", f"folds has shape {folds.shape}", f"give one fold per bag ({len(bags)})"))
        train = train_matrix(folds)
        names = list(genres) if genres is not None else [f"label {j}" for j in range(Yc.shape[1])]
        warn_missing_genres(Yc, train, names, ids, folds)
        lengths = np.array([len(b) for b in bags])
        if (lengths == 0).any():
            log.info("%d film(s) with an empty bag (no cue): predicted from their training fold's genre "
                     "frequencies: %s", int((lengths == 0).sum()), ", ".join(np.asarray(ids)[lengths == 0][:10]))
        label = desc or f"MIL {self.pool} ({train.shape[0]} folds)"
        t0, c0 = time.perf_counter(), time.process_time()
        self._worker_cpu = 0.0
        epochs = self._schedule_epochs(bags, Yc, train, label)
        if self.fold_batching:
            module, history = self._fit_epochs(bags, Yc, train, label, epochs)
        else:
            module, history = self._train_per_fold(bags, Yc, train, label, int(epochs[0]))
        cpu = time.process_time() - c0 + self._worker_cpu
        from .cv import heldout_neural

        prob = heldout_neural(module, bags, folds)
        return CVResult(film_ids=ids, genres=names, folds=folds, prob=prob,
                        pred=(prob >= self.threshold).astype(np.int64), truth=Yc.astype(np.int64),
                        method=f"mil:{self.pool}", params=self.get_params(), models=module, history=history,
                        seconds=time.perf_counter() - t0, cpu_seconds=cpu, columns=list(columns) if columns else None,
                        threshold=float(self.threshold))

    # -- training length (`schedule`)
    def steps_per_epoch(self, bags: Sequence[np.ndarray], train: np.ndarray) -> int:
        """Optimiser steps per epoch of a model: the batches of an epoch (every film with
        cues that trains some model, cut into batches of ``batch_size``; a model steps on
        every batch that holds one of its films, nearly all of them)."""
        lengths = np.array([len(b) for b in bags])
        n = int((np.asarray(train).any(0) & (lengths > 0)).sum())
        return max(1, math.ceil(n / int(self.batch_size)))

    def _schedule_epochs(self, bags, Y, train: np.ndarray, label: str) -> np.ndarray:
        """Epochs of each model (row of ``train``) under ``schedule``; records ``training_``."""
        spe = self.steps_per_epoch(bags, train)
        F = train.shape[0]
        if self.schedule == "paper":
            epochs = np.full(F, int(self.epochs))
            summary = f"paper: {int(self.epochs)} epochs (~{int(self.epochs) * spe} optimiser steps)"
        elif self.schedule == "steps":
            e = max(1, round(int(self.steps) / spe))
            epochs = np.full(F, e)
            summary = f"steps: {int(self.steps)} optimiser steps = {e} epochs of {spe} batches"
        else:
            epochs = self._nested_epochs(bags, Y, train, label)
            vals, counts = np.unique(epochs, return_counts=True)
            chosen = ", ".join(f"{v} ({c})" for v, c in zip(vals, counts))
            summary = (f"nested: epochs chosen per training fold by {int(self.inner_folds)}-fold inner CV among "
                       f"{sorted(set(int(x) for x in self.nested_epochs))}: {chosen} (folds)")
        self.training_ = {"schedule": self.schedule, "steps_per_epoch": spe, "epochs": [int(e) for e in epochs],
                          "summary": summary}
        log.info("%s: %s", label, summary)
        return epochs

    def inner_split(self, bags, train: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The inner cross-validation of every training fold: (inner_train, inner_val) boolean
        (n_folds * inner_folds, n_bags) and the outer fold of each inner model. Fold f's inner
        models see only fold f's training films with cues (seeded by ``seed`` and f)."""
        lengths = np.array([len(b) for b in bags])
        rows, vals, owner = [], [], []
        k = int(self.inner_folds)
        for f in range(train.shape[0]):
            films = np.flatnonzero(train[f] & (lengths > 0))
            if len(films) < k:
                raise FilmscoreError(Problem(f"fold {f}", f"has {len(films)} training films with cues, fewer than "
                                             f"inner_folds = {k}", "use schedule paper or steps, or fewer inner folds"))
            for part in np.array_split(np.random.default_rng([int(self.seed), f]).permutation(films), k):
                tr = np.zeros(len(bags), dtype=bool)
                tr[films] = True
                tr[part] = False
                va = np.zeros(len(bags), dtype=bool)
                va[part] = True
                rows.append(tr), vals.append(va), owner.append(f)
        return np.array(rows), np.array(vals), np.array(owner)

    def _nested_epochs(self, bags, Y, train: np.ndarray, label: str) -> np.ndarray:
        """Per training fold, the candidate epochs whose inner held-out predictions (pooled over
        its inner folds) have the highest macro F1; ties go to the shorter training."""
        from .metrics import macro_f1

        inner_train, inner_val, owner = self.inner_split(bags, train)
        cands = sorted(set(int(e) for e in self.nested_epochs))
        _, _, snaps = self._train_batched(bags, Y, inner_train, f"{label} [inner CV]", max(cands), cands, predict=True)
        chosen = np.empty(train.shape[0], dtype=np.int64)
        for f in range(train.shape[0]):
            mine = np.flatnonzero(owner == f)
            best, best_f1 = cands[0], -1.0
            for e in cands:
                prob = np.zeros(Y.shape)
                for m in mine:
                    prob[inner_val[m]] = snaps[e][m][inner_val[m]]
                films = inner_val[mine].any(0)
                f1 = macro_f1(Y[films], prob[films] >= self.threshold)
                if f1 > best_f1 + 1e-12:
                    best, best_f1 = e, f1
            chosen[f] = best
        return chosen

    def _fit_epochs(self, bags, Y, train, label, epochs: np.ndarray) -> tuple[MILModule, list[float]]:
        """Train the models of ``train``, model f for ``epochs[f]`` epochs: one run to the
        longest, each model taken at its own epoch (models are independent: stopping one
        earlier is taking its state at that epoch)."""
        epochs = np.asarray(epochs, dtype=np.int64)
        if (epochs == epochs[0]).all():
            module, history, _ = self._train_batched(bags, Y, train, label, int(epochs[0]))
            return module, history
        stops = sorted(set(int(e) for e in epochs))
        module, history, snaps = self._train_batched(bags, Y, train, label, max(stops), stops)
        state = {k: torch.from_numpy(np.stack([snaps[int(e)][k][f] for f, e in enumerate(epochs)]))
                 for k in snaps[stops[0]]}
        module.load_state_dict(state)
        module.eval()
        return module, history

    def _n_jobs(self, n_folds: int) -> int:
        jobs = int(self.jobs) if int(self.jobs) > 0 else (os.cpu_count() or 1)
        return max(1, min(jobs, n_folds))

    def _train_batched(self, bags, Y, train, label, epochs: int | None = None, snapshots: Sequence[int] = (),
                       predict: bool = False) -> tuple[MILModule, list[float], dict]:
        """All folds as one batched model; with ``jobs`` > 1, the folds are split into
        contiguous shares trained in parallel processes (one thread each) and stacked.
        Every share sees the same batches as the whole, so the models are the same.
        Returns the module, the loss history and the snapshots (`_train`), stacked over shares."""
        F = train.shape[0]
        jobs = self._n_jobs(F)
        if jobs == 1:
            module = self._train(bags, Y, train, desc=label, epochs=epochs, snapshots=snapshots, predict=predict)
            return module, list(module.epoch_loss), module.snapshots
        shares = np.array_split(np.arange(F), jobs)
        params = self.get_params()
        # a pool of this fit's own (spawned) processes: their initialiser's settings stay with them
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_init_share_worker) as pool:
            results = list(pool.map(_train_share, *zip(*[
                (params, bags, Y, train[s], f"{label} [{i + 1}/{jobs}]", i == 0, epochs, tuple(snapshots), predict)
                for i, s in enumerate(shares)])))
        self._worker_cpu = getattr(self, "_worker_cpu", 0.0) + sum(r[3] for r in results)
        hp = {**results[0][0], "n_folds": F}
        stacked = make_module(self.pool, **hp)
        state = {k: torch.cat([torch.from_numpy(r[1][k]) for r in results], 0) for k in results[0][1]}
        stacked.load_state_dict(state)
        stacked.eval()
        weights = np.array([len(s) for s in shares], dtype=float)
        history = list(np.average([r[2] for r in results], axis=0, weights=weights))
        snaps = {}
        for e in results[0][4]:
            if predict:
                snaps[e] = np.concatenate([r[4][e] for r in results], 0)
            else:
                snaps[e] = {k: np.concatenate([r[4][e][k] for r in results], 0) for k in results[0][4][e]}
        return stacked, history, snaps

    def _train_per_fold(self, bags, Y, train, label, epochs: int) -> tuple[MILModule, list[float]]:
        """One ordinary Lightning run per fold (F = 1 each); the models are then stacked
        into one module with a fold dimension, exactly the batched model's layout."""
        modules = []
        for f in progress(range(train.shape[0]), desc=label, unit="fold"):
            modules.append(self._train(bags, Y, train[f: f + 1], desc=f"fold {f}", epochs=epochs))
        stacked = make_module(self.pool, **{**dict(modules[0].hparams), "n_folds": train.shape[0]})
        state = {k: torch.cat([m.state_dict()[k] for m in modules], 0) for k in modules[0].state_dict()}
        stacked.load_state_dict(state)
        stacked.eval()
        history = list(np.mean([m.epoch_loss for m in modules], axis=0))
        return stacked, history


def _init_share_worker() -> None:
    """Initialiser of the worker processes of `MILClassifier._train_batched` (their own processes):
    one torch thread each (the shares run side by side) and malloc keeping freed memory."""
    torch.set_num_threads(1)
    keep_freed_memory()


def _train_share(params: dict, bags, Y, train, desc: str, show: bool, epochs: int | None = None,
                 snapshots: tuple = (), predict: bool = False):
    """Worker of `MILClassifier._train_batched`: train a share of the folds (single-threaded, see the initialiser)."""
    c0 = time.process_time()
    clf = MILClassifier(**{**params, "show_progress": params["show_progress"] and show, "jobs": 1})
    module = clf._train(bags, Y, train, desc=desc, epochs=epochs, snapshots=snapshots, predict=predict)
    hp = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(module.hparams).items()}
    state = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    return hp, state, list(module.epoch_loss), time.process_time() - c0, module.snapshots


__all__ = ["MILClassifier", "SCHEDULES"]
