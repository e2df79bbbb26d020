"""Classical MIL baselines with binary relevance, and the two label-only baselines.

* `SimpleMI`: each bag is summarised by the mean of its instances (Simple MI, as
  in the paper), then one binary classifier per genre (kNN, SVM, random forest, or
  logistic regression: standardised, class-balanced, L2 with ``C`` = ``logreg_c``; not
  in the paper, the first baseline a reviewer asks for).
* `InstanceMajorityVote`: every instance inherits its bag's labels; one binary
  instance classifier per genre; a bag gets a genre when a strict majority of its
  instances is predicted positive (``prob`` is the share of positive votes).
* `RandomGuess`: each genre drawn independently with its training frequency.
* `PluralityLabelSet`: the most common training label set, for every film.

Features are standardised with statistics of the training data only (bag
means for Simple MI, instances for IMV). A bag with no instance is predicted
from the training genre frequencies (probabilities; predicted genres are those
with frequency >= 0.5), as for the neural models. A genre that the training
films never (or always) carry is predicted with that constant.

Scores: kNN gives the share of positive neighbours, the random forest the share of
trees, the SVM sigmoid(decision function) (monotone in the decision value, 0.5 at
the decision boundary; ``SVC(probability=True)`` is deprecated and refits the model),
the logistic regression its probability.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import SVC

import logging

from ..errors import FilmscoreError, Problem
from .folds import check_bags
from .names import BASES, CLASSICAL

log = logging.getLogger(__name__)

#: above this many training instances IMV's SVM uses libsvm's own (cached) kernel
#: instead of a precomputed kernel matrix (n^2 floats: 20000 instances = 3.2 GB)
MAX_KERNEL_INSTANCES = 20000


def _standardizer(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(0)
    sd = X.std(0)
    return mean, np.where(sd < 1e-8 * np.maximum(1.0, np.abs(mean)), 1.0, sd)


class _BinaryRelevance(BaseEstimator, ClassifierMixin):
    """Shared parts: parameters of the base classifiers, checks, empty bags."""

    def __init__(self, base: str = "svm", k: int = 5, C: float = 1.0, kernel: str = "rbf", trees: int = 100,
                 seed: int = 0, threshold: float = 0.5, logreg_c: float = 1.0):
        self.base = base
        self.logreg_c = logreg_c
        self.k = k
        self.C = C
        self.kernel = kernel
        self.trees = trees
        self.seed = seed
        self.threshold = threshold

    def _check(self) -> None:
        if self.base not in BASES:
            raise FilmscoreError(Problem(f"{type(self).__name__}.base", f"is {self.base!r}", f"use one of {list(BASES)}"))
        if int(self.k) < 1 or int(self.trees) < 1 or self.C <= 0 or self.logreg_c <= 0:
            raise FilmscoreError(Problem(type(self).__name__, f"k={self.k}, trees={self.trees}, C={self.C}, "
                                         f"logreg_c={self.logreg_c}", "use k >= 1, trees >= 1, C > 0, logreg_c > 0"))

    def _fit_common(self, bags, Y):
        self._check()
        bags, Yc = check_bags(bags, Y)
        self.prior_ = Yc.mean(0)
        self.n_labels_ = Yc.shape[1]
        self.n_features_in_ = bags[0].shape[1]
        return bags, Yc

    def _constant(self, y: np.ndarray) -> float | None:
        return float(y[0]) if len(y) and (y == y[0]).all() else None

    def _fit_binary(self, X: np.ndarray, y: np.ndarray, precomputed: bool = False):
        const = self._constant(y)
        if const is not None:
            return const
        if self.base == "knn":
            raise AssertionError("kNN is fitted once for all labels")
        if self.base == "svm":
            return SVC(C=float(self.C), kernel="precomputed" if precomputed else self.kernel).fit(X, y)
        if self.base == "logreg":  # inputs are standardised by the caller; classes weighted n / (2 n_class)
            return LogisticRegression(C=float(self.logreg_c), class_weight="balanced", max_iter=5000).fit(X, y)
        return RandomForestClassifier(n_estimators=int(self.trees), random_state=int(self.seed), n_jobs=1).fit(X, y)

    @staticmethod
    def _score(model, X: np.ndarray) -> np.ndarray:
        """Positive-class score in [0, 1] of a fitted binary model (or a constant)."""
        if isinstance(model, float):
            return np.full(X.shape[0], model)
        if isinstance(model, SVC):
            return 1.0 / (1.0 + np.exp(-model.decision_function(X)))
        return model.predict_proba(X)[:, list(model.classes_).index(1)]

    def _check_predict(self, bags) -> list[np.ndarray]:
        if not hasattr(self, "prior_"):
            raise FilmscoreError(Problem(type(self).__name__, "is not fitted", "call fit(bags, Y) first"))
        bags, _ = check_bags(bags, where=type(self).__name__, width=self.n_features_in_)
        return bags


class SimpleMI(_BinaryRelevance):
    """Mean of each bag's instances, then one binary classifier per label (binary relevance).

    ``base``: ``knn`` (k neighbours, Euclidean), ``svm`` (SVC, ``C``, ``kernel``, gamma
    'scale'), ``rf`` (``trees`` trees, ``seed``) or ``logreg`` (class-balanced L2 logistic
    regression, ``logreg_c``; on the standardised bag means). A label is predicted when its score
    is >= ``threshold``.
    """

    method_name = "simplemi"

    def fit(self, bags: Sequence[np.ndarray], Y: np.ndarray) -> "SimpleMI":
        bags, Yc = self._fit_common(bags, Y)
        keep = np.array([len(b) > 0 for b in bags])
        if not keep.any():
            raise FilmscoreError(Problem("SimpleMI.fit", "every bag is empty", "give at least one film with cues"))
        X = np.stack([b.mean(0) for b, k in zip(bags, keep) if k]).astype(np.float64)
        Yk = Yc[keep]
        self.mean_, self.scale_ = _standardizer(X)
        Xs = (X - self.mean_) / self.scale_
        if self.base == "knn":
            self.nn_ = NearestNeighbors(n_neighbors=min(int(self.k), len(Xs))).fit(Xs)
            self.train_labels_ = Yk
            self.models_ = [self._constant(Yk[:, j]) for j in range(Yk.shape[1])]
        else:
            self.models_ = [self._fit_binary(Xs, Yk[:, j]) for j in range(Yk.shape[1])]
        return self

    def predict_proba(self, bags: Sequence[np.ndarray]) -> np.ndarray:
        bags = self._check_predict(bags)
        out = np.tile(self.prior_, (len(bags), 1)).astype(np.float64)
        rows = [i for i, b in enumerate(bags) if len(b)]
        if not rows:
            return out
        X = (np.stack([bags[i].mean(0) for i in rows]).astype(np.float64) - self.mean_) / self.scale_
        if self.base == "knn":
            idx = self.nn_.kneighbors(X, return_distance=False)
            share = self.train_labels_[idx].mean(1)  # (rows, labels)
            for j, m in enumerate(self.models_):
                out[rows, j] = share[:, j] if m is None else m
        else:
            for j, m in enumerate(self.models_):
                out[rows, j] = self._score(m, X)
        return out

    def predict(self, bags: Sequence[np.ndarray]) -> np.ndarray:
        return (self.predict_proba(bags) >= self.threshold).astype(np.int64)


class InstanceMajorityVote(_BinaryRelevance):
    """Instance classifiers trained on inherited bag labels; bag label by majority vote.

    The SVM uses an RBF (or other) kernel computed once per fit and shared by the
    labels (``kernel='precomputed'`` in libsvm: the same model as SVC(kernel) with
    gamma='scale', several times faster for several labels).
    """

    method_name = "imv"

    def fit(self, bags: Sequence[np.ndarray], Y: np.ndarray) -> "InstanceMajorityVote":
        bags, Yc = self._fit_common(bags, Y)
        sizes = np.array([len(b) for b in bags])
        if sizes.sum() == 0:
            raise FilmscoreError(Problem("InstanceMajorityVote.fit", "every bag is empty", "give at least one film with cues"))
        X = np.concatenate([b for b in bags if len(b)]).astype(np.float64)
        Yi = np.repeat(Yc, sizes, axis=0)
        self.mean_, self.scale_ = _standardizer(X)
        Xs = (X - self.mean_) / self.scale_
        self.train_X_ = None
        if self.base == "knn":
            self.nn_ = NearestNeighbors(n_neighbors=min(int(self.k), len(Xs))).fit(Xs)
            self.train_labels_ = Yi
            self.models_ = [self._constant(Yi[:, j]) for j in range(Yi.shape[1])]
        elif self.base == "svm" and self.kernel == "rbf" and len(Xs) <= MAX_KERNEL_INSTANCES:
            self.gamma_ = 1.0 / (Xs.shape[1] * Xs.var()) if Xs.var() > 0 else 1.0
            K = rbf_kernel(Xs, gamma=self.gamma_)
            self.train_X_ = Xs
            self.models_ = [self._fit_binary(K, Yi[:, j], precomputed=True) for j in range(Yi.shape[1])]
        else:
            if self.base == "svm" and len(Xs) > MAX_KERNEL_INSTANCES:
                log.warning("IMV SVM on %d instances: no precomputed kernel (it would take %.0f GB); "
                            "this fit is slow (frame-level bags?)", len(Xs), len(Xs) ** 2 * 8 / 1e9)
            self.models_ = [self._fit_binary(Xs, Yi[:, j]) for j in range(Yi.shape[1])]
        return self

    def votes(self, bags: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per bag, the (instances, labels) 0/1 instance predictions."""
        bags = self._check_predict(bags)
        sizes = np.array([len(b) for b in bags])
        if sizes.sum() == 0:
            return [np.zeros((0, self.n_labels_)) for _ in bags]
        X = (np.concatenate([b for b in bags if len(b)]).astype(np.float64) - self.mean_) / self.scale_
        V = np.zeros((len(X), self.n_labels_))
        if self.base == "knn":
            idx = self.nn_.kneighbors(X, return_distance=False)
            share = self.train_labels_[idx].mean(1)
            for j, m in enumerate(self.models_):
                V[:, j] = (share[:, j] > 0.5) if m is None else m
        else:
            Xk = rbf_kernel(X, self.train_X_, gamma=self.gamma_) if self.train_X_ is not None else X
            for j, m in enumerate(self.models_):
                V[:, j] = m if isinstance(m, float) else m.predict(Xk)
        return np.split(V, np.cumsum(sizes)[:-1])

    def predict_proba(self, bags: Sequence[np.ndarray]) -> np.ndarray:
        """Share of each bag's instances voting for each label (training frequency if empty)."""
        return np.stack([v.mean(0) if len(v) else self.prior_ for v in self.votes(bags)]).astype(np.float64)

    def predict(self, bags: Sequence[np.ndarray]) -> np.ndarray:
        """Strict majority of the instance votes (an empty bag: training frequency >= threshold)."""
        out = []
        for v in self.votes(bags):
            out.append(v.mean(0) > 0.5 if len(v) else self.prior_ >= self.threshold)
        return np.stack(out).astype(np.int64)


class RandomGuess(BaseEstimator, ClassifierMixin):
    """Random guess by class frequency: each label drawn positive with its training frequency.

    ``predict_proba`` is the training frequency; ``predict`` draws (seeded).
    The evaluation averages its metrics over many draws (`evaluate.random_draws`).
    """

    method_name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, bags, Y) -> "RandomGuess":
        self.prior_ = np.asarray(Y, dtype=np.float64).mean(0)
        self._rng = np.random.default_rng(int(self.seed))
        return self

    def predict_proba(self, bags) -> np.ndarray:
        return np.tile(self.prior_, (len(bags), 1))

    def predict(self, bags) -> np.ndarray:
        return (self._rng.random((len(bags), len(self.prior_))) < self.prior_).astype(np.int64)


class PluralityLabelSet(BaseEstimator, ClassifierMixin):
    """The most common label set of the training films, for every bag (ties: the set
    listed first in lexicographic order of its 0/1 row, largest first)."""

    method_name = "plurality"

    def fit(self, bags, Y) -> "PluralityLabelSet":
        Yc = np.asarray(Y, dtype=np.int64)
        rows, counts = np.unique(Yc, axis=0, return_counts=True)
        best = np.flatnonzero(counts == counts.max())
        self.label_set_ = rows[best[-1]]  # np.unique sorts ascending: the last is lexicographically largest
        return self

    def predict_proba(self, bags) -> np.ndarray:
        return np.tile(self.label_set_.astype(np.float64), (len(bags), 1))

    def predict(self, bags) -> np.ndarray:
        return np.tile(self.label_set_, (len(bags), 1))


def make_classical(method: str, base: str, **kwargs):
    """`SimpleMI` or `InstanceMajorityVote` by name ('simplemi' | 'imv')."""
    if method == "simplemi":
        return SimpleMI(base=base, **kwargs)
    if method == "imv":
        return InstanceMajorityVote(base=base, **kwargs)
    raise FilmscoreError(Problem("method", f"is {method!r}", f"use one of {list(CLASSICAL)}"))


__all__ = ["SimpleMI", "InstanceMajorityVote", "RandomGuess", "PluralityLabelSet", "make_classical", "BASES", "CLASSICAL"]
