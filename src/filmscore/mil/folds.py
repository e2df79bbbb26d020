"""Bags: checking, cross-validation folds and the statistics of a training fold (numpy only).

A *bag* is a 2-D float array (instances x features) for one film; a film whose
cue finder found no cue has an empty bag (0 rows), which is kept: every model
predicts it from the training fold's genre frequencies (`fold_priors`).

Everything learnt from data (feature standardisation, loss weights, priors) is
computed from the films of the training fold only, per fold, from a boolean
``train`` matrix of shape (n_folds, n_films).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import FilmscoreError, Problem

#: a feature whose training-fold standard deviation is below this is only centred
MIN_SCALE = 1e-8


# ---------------------------------------------------------------- input checks


def check_bags(bags: Sequence[np.ndarray], Y: np.ndarray | None = None, film_ids: Sequence[str] | None = None,
               columns: Sequence[str] | None = None, where: str = "bags",
               width: int | None = None) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Validate bags (and labels): 2-D, one feature width, finite; return float32 copies.

    A NaN or infinite value is an error naming the film and the feature column.
    ``width``: the expected number of features (a model's); without it, at least one
    bag must be non-empty to tell it.
    """
    expected = width
    n = len(bags)
    ids = list(film_ids) if film_ids is not None else [f"bag {i}" for i in range(n)]
    if len(ids) != n:
        raise FilmscoreError(Problem(where, f"{n} bags but {len(ids)} film ids", "pass one id per bag"))
    if n == 0:
        raise FilmscoreError(Problem(where, "no bags", "pass at least one film"))
    out: list[np.ndarray] = []
    probs: list[Problem] = []
    width = None
    for fid, b in zip(ids, bags):
        a = np.asarray(b, dtype=np.float64)
        if a.ndim == 1 and a.size == 0:
            a = a.reshape(0, width or 0)
        if a.ndim != 2:
            probs.append(Problem(f"{where}: film {fid}", f"bag has shape {a.shape}, expected (instances, features)",
                                 "give each film a 2-D array, one row per cue"))
            continue
        if a.shape[0] and width is None:
            width = a.shape[1]
        out.append(a)
    if probs:
        raise FilmscoreError(probs, headline="bad bags")
    if expected is not None:
        if width is not None and width != expected:
            raise FilmscoreError(Problem(where, f"bags have {width} features, the model {expected}",
                                         "use the feature set the model was trained on"))
        width = expected
    if width is None:
        raise FilmscoreError(Problem(where, "every bag is empty (no film has a cue)",
                                     "check the cue stage: no film has any matched cue, so there is nothing to learn from"))
    cols = list(columns) if columns is not None else [f"feature {j}" for j in range(width)]
    result = []
    for fid, a in zip(ids, out):
        if a.shape[0] == 0:
            result.append(np.zeros((0, width), dtype=np.float32))
            continue
        if a.shape[1] != width:
            probs.append(Problem(f"{where}: film {fid}", f"has {a.shape[1]} features, other films {width}",
                                 "extract every film with the same feature set"))
            continue
        bad = ~np.isfinite(a)
        if bad.any():
            js = np.flatnonzero(bad.any(axis=0))
            kinds = sorted({"NaN" if np.isnan(v) else "infinite" for v in a[bad]})
            probs.append(Problem(f"{where}: film {fid}",
                                 f"{'/'.join(kinds)} value(s) in column(s) {[cols[j] for j in js[:8]]}"
                                 + (f" and {len(js) - 8} more" if len(js) > 8 else ""),
                                 "re-run the feature stage for this film, or drop the bad cues"))
            continue
        big = np.abs(a).max()
        if big > np.finfo(np.float32).max / 16:
            probs.append(Problem(f"{where}: film {fid}", f"values up to {big:.3g} overflow float32",
                                 "rescale the features"))
            continue
        result.append(a.astype(np.float32))
    if probs:
        raise FilmscoreError(probs, headline="bad feature values")
    Yc = None
    if Y is not None:
        Yc = np.asarray(Y)
        if Yc.ndim != 2 or Yc.shape[0] != n:
            raise FilmscoreError(Problem(where, f"labels have shape {Yc.shape}, expected ({n}, n_genres)",
                                         "pass a 0/1 matrix, one row per bag"))
        if not np.isin(Yc, (0, 1)).all():
            raise FilmscoreError(Problem(where, "labels are not all 0 or 1", "pass a 0/1 label matrix"))
        Yc = Yc.astype(np.float32)
    return result, Yc


# ---------------------------------------------------------------- folds


def make_folds(n: int, k: int = 0, seed: int = 0) -> np.ndarray:
    """Fold index of each of ``n`` films: leave-one-out when k is 0 or n, else k shuffled folds."""
    if k in (0, n):
        return np.arange(n)
    if k < 2 or k > n:
        raise FilmscoreError(Problem("cv.folds", f"is {k} for {n} films", "use 0 (leave-one-out) or 2..n_films"))
    order = np.random.default_rng(seed).permutation(n)
    folds = np.empty(n, dtype=np.int64)
    for f, chunk in enumerate(np.array_split(order, k)):
        folds[chunk] = f
    return folds


def train_matrix(folds: np.ndarray) -> np.ndarray:
    """(n_folds, n_films) boolean: True where the film trains that fold's model."""
    folds = np.asarray(folds)
    return folds[None, :] != np.arange(folds.max() + 1)[:, None]


# ---------------------------------------------------------------- training-fold statistics


def fold_standardization(bags: Sequence[np.ndarray], train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold mean and scale (population SD) of the instances of the training films.

    Pools per-bag means and sums of squared deviations (a numerically stable
    combination), so no held-out value enters a fold's statistics even in
    rounding. A feature constant over the training instances gets scale 1.
    Returns two float64 arrays of shape (n_folds, n_features).
    """
    width = bags[0].shape[1]
    cnt = np.array([b.shape[0] for b in bags], dtype=np.float64)
    means = np.stack([b.mean(0, dtype=np.float64) if len(b) else np.zeros(width) for b in bags])
    m2 = np.stack([((b.astype(np.float64) - mu) ** 2).sum(0) if len(b) else np.zeros(width) for b, mu in zip(bags, means)])
    w = train.astype(np.float64) * cnt[None, :]  # (F, n): instance count of each training bag
    total = w.sum(1, keepdims=True)
    if (total == 0).any():
        f = int(np.flatnonzero(total[:, 0] == 0)[0])
        raise FilmscoreError(Problem(f"fold {f}", "no training film has any instance", "use more films, or fewer folds"))
    mean = (w @ means) / total
    dev = (means[None, :, :] - mean[:, None, :]) ** 2  # (F, n, D)
    m2_total = train.astype(np.float64) @ m2 + np.einsum("fn,fnd->fd", w, dev)
    scale = np.sqrt(m2_total / total)
    scale = np.where(scale < MIN_SCALE * np.maximum(1.0, np.abs(mean)), 1.0, scale)
    return mean, scale


def fold_priors(Y: np.ndarray, train: np.ndarray) -> np.ndarray:
    """(n_folds, n_genres) genre frequency among each fold's training films.

    Used for a film with an empty bag, by every model, and by the random-guess baseline.
    """
    t = train.astype(np.float64)
    return (t @ Y) / np.maximum(t.sum(1, keepdims=True), 1)


def class_weights(Y: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold, per-genre weights of positive and negative examples in the loss.

    With n training bags of which n_g carry genre g (each fold counted on its own
    training bags):  w_pos = n / (2 n_g),  w_neg = n / (2 (n - n_g))
    (the "balanced" weighting: each class contributes half of the genre's loss).
    A class absent from the training fold gets weight 0 (it has no example),
    which leaves the other class at n / (2 n) = 1/2.
    Returns (w_pos, w_neg), each (n_folds, n_genres) float64.
    """
    t = train.astype(np.float64)
    n = t.sum(1, keepdims=True)
    pos = t @ Y
    neg = n - pos
    with np.errstate(divide="ignore", invalid="ignore"):
        w_pos = np.where(pos > 0, n / (2 * pos), 0.0)
        w_neg = np.where(neg > 0, n / (2 * neg), 0.0)
    return w_pos, w_neg


__all__ = ["check_bags", "make_folds", "train_matrix", "fold_standardization", "fold_priors", "class_weights",
           "MIN_SCALE"]
