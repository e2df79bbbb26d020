"""Permutation feature importance (PFI) of feature groups, as in the paper's Fig 3.

The model is not retrained: each film is predicted by the fold model that held
it out (leave-one-out), exactly as in the evaluation. For a feature group and a
repeat, every feature (column) of the group is permuted independently of the
others across all validation instances -- the instances of all held-out bags,
pooled -- the bags are rebuilt with their original sizes, and all films are
predicted again. The score of the group is

    s_k = 1 - F1_perm,k / F1_orig

per genre (binary F1 over the films) and "Overall" (macro F1 over the genres,
as in the paper's Table 4). s_k = 0: the model does not use the group; s_k = 1:
the genre is never predicted correctly without it; s_k < 0: chance improved it.

Uncertainty. The score is the mean of s_k over the repeats. Two things move it:
which random permutations were drawn, and which films the corpus happens to
hold -- the permuted pool included, since every film's permuted bag draws from
the other films' instances. The reported interval (`ci_low`, `ci_high`,
`interval` = "films + permutations") covers both: each of `n_boot` replicates
resamples the films with replacement (`filmscore.stats.resample_indices`), draws
one fresh permutation within the resampled films' pool, predicts them again
(`repermuted_scores`), and the replicates are shrunk to the variance of a mean
of `n_repeats` permutations (`adjusted_replicates`); the interval is their
percentile interval at `confidence`. The fixed-pool replicates (saved permuted
predictions reused, `bootstrap_scores`) under-cover (docs/reports.md: 84.5 %
against 96.0 % at nominal 95 %) and serve as the variance's floor. A replicate
whose F1_orig is 0 for a label leaves that label's score undefined and is left
out (counted in the note). With fewer than `filmscore.stats.MIN_FILMS` films, or
`n_boot` = 0, the interval falls back to the permutation-only t-interval over the
repeats, mean +- t_{(1+c)/2, n-1} * sd / sqrt(n), and says so (`interval` =
"permutations only"); that interval is always given as `perm_low`, `perm_high`.
A group whose interval contains 0 (`covers_zero`) is not shown to matter.

A genre whose unpermuted F1 is 0 has no defined score (0/0 or x/0): it is
reported as NaN with a note, never as 0 or 1.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .. import stats as film_stats
from ..errors import FilmscoreError, Problem
from ..log import progress
from .paper import FIG3_GROUP_ORDER

log = logging.getLogger(__name__)

OVERALL = "Overall"
PredictFn = Callable[[list[np.ndarray]], np.ndarray]
#: (bags, films) -> probabilities: bag k predicted by the fold model that held film films[k] out
PredictFilmsFn = Callable[[Sequence[np.ndarray], np.ndarray], np.ndarray]


class CVPredictor(Protocol):
    """What the importance stage needs from a trained model cell: filmscore.mil.cv.CVResult.load(dir).

    `predict_heldout(bags)[i]` is film `film_ids[i]`'s genre probabilities from the
    fold model that held that film out; `bags[i]` holds raw feature values in
    `columns` order (any scaling is part of the fold model).
    """

    film_ids: list[str]
    genres: list[str]
    columns: list[str] | None
    threshold: float

    def predict_heldout(self, bags: list[np.ndarray]) -> np.ndarray: ...


@dataclass
class ImportanceResult:
    """Scores of every group and repeat, per genre and Overall."""

    groups: list[str]
    labels: list[str]  # genres + [OVERALL]
    f1_orig: np.ndarray  # (n_labels,)
    f1_perm: np.ndarray  # (n_groups, n_repeats, n_labels)
    n_features: dict[str, int]
    confidence: float
    #: per-film predictions kept for the bootstrap over films: truth (n_films, n_genres) 0/1,
    #: unpermuted (n_films, n_genres) 0/1, permuted (n_groups, n_repeats, n_films, n_genres) 0/1
    truth: np.ndarray | None = None
    pred_orig: np.ndarray | None = None
    pred_perm: np.ndarray | None = None
    n_boot: int = 0
    seed: int = 0
    #: (n_boot, n_groups, n_labels) scores of the re-permuted replicates (one fresh permutation of the
    #: resampled films' pool each, re-predicted; `repermuted_scores`); None: the bootstrap was not run
    boot_fresh: np.ndarray | None = None
    scores: np.ndarray = field(init=False)  # (n_groups, n_repeats, n_labels)
    #: (n_boot, n_groups, n_labels) the replicates behind the reported interval (`adjusted_replicates`)
    boot: np.ndarray | None = field(init=False, default=None)
    #: (n_boot, n_groups, n_labels) the same films' replicates from the saved permuted predictions
    #: (`bootstrap_scores`: films and repeats resampled, the permuted pool held fixed)
    boot_reuse: np.ndarray | None = field(init=False, default=None)
    boot_note: str = field(init=False, default="")

    def __post_init__(self) -> None:
        with np.errstate(divide="ignore", invalid="ignore"):
            s = 1.0 - self.f1_perm / self.f1_orig[None, None, :]
        s[:, :, self.f1_orig == 0] = np.nan
        self.scores = s
        if self.pred_perm is None or self.n_boot < 1:
            self.boot_note = "bootstrap over films not run (n_boot = 0): interval over permutations only"
        elif len(self.truth) < film_stats.MIN_FILMS:
            self.boot_note = (f"{len(self.truth)} films: fewer than {film_stats.MIN_FILMS}, too few to resample; "
                              "interval over permutations only")
        else:
            self.boot_reuse = bootstrap_scores(self.truth, self.pred_orig, self.pred_perm, self.n_boot, self.seed)
            if self.boot_fresh is None:  # no model to re-run: the fixed-pool bootstrap, which under-covers
                self.boot = self.boot_reuse
                self.boot_note = ("permuted pool not re-drawn (no model given): the interval leaves out how "
                                  "the pool would differ in another corpus and is too narrow")
            else:
                self.boot = adjusted_replicates(self.boot_fresh, self.boot_reuse, self.scores)

    @property
    def n_repeats(self) -> int:
        return self.f1_perm.shape[1]

    def summary(self) -> pd.DataFrame:
        """One row per (group, genre): mean score, its interval (see the module doc), F1s, notes."""
        rows = []
        n = self.n_repeats
        tq = stats.t.ppf(0.5 + self.confidence / 2, n - 1) if n > 1 else np.nan
        a = (1 - self.confidence) / 2
        for gi, g in enumerate(self.groups):
            for li, lab in enumerate(self.labels):
                s = self.scores[gi, :, li]
                notes = []
                kind = "permutations only"
                if self.f1_orig[li] == 0:
                    mean = sd = plo = phi = lo = hi = np.nan
                    notes.append("F1 without permutation is 0: importance undefined")
                else:
                    mean = float(np.mean(s))
                    sd = float(np.std(s, ddof=1)) if n > 1 else np.nan
                    half = tq * sd / np.sqrt(n) if n > 1 else np.nan
                    plo, phi = mean - half, mean + half
                    lo, hi = plo, phi
                    if n == 1:
                        notes.append("one repeat: no interval over permutations")
                    if self.boot is not None:
                        v = self.boot[:, gi, li]
                        ok = np.isfinite(v)
                        if ok.any():
                            lo, hi = (float(x) for x in np.percentile(v[ok], [100 * a, 100 * (1 - a)]))
                            kind = "films + permutations"
                        if (~ok).any():
                            notes.append(f"F1 without permutation is 0 on {int((~ok).sum())} of {len(v)} film "
                                         "resamples (left out)")
                        if self.boot_note:
                            notes.append(self.boot_note)
                    elif self.boot_note:
                        notes.append(self.boot_note)
                rows.append({
                    "group": g, "genre": lab, "n_features": self.n_features[g], "mean": mean,
                    "ci_low": lo, "ci_high": hi, "interval": kind,
                    "covers_zero": bool(np.isfinite(lo) and lo <= 0 <= hi),
                    "perm_low": plo, "perm_high": phi, "sd": sd, "n_repeats": n,
                    "n_boot": 0 if self.boot is None else len(self.boot), "confidence": self.confidence,
                    "f1_orig": float(self.f1_orig[li]), "f1_perm_mean": float(np.mean(self.f1_perm[gi, :, li])),
                    "note": "; ".join(notes),
                })
        return pd.DataFrame(rows)

    def repeats(self) -> pd.DataFrame:
        """Long table of every repeat: group, genre, repeat, f1_perm, score."""
        gi, ri, li = np.meshgrid(np.arange(len(self.groups)), np.arange(self.n_repeats), np.arange(len(self.labels)),
                                 indexing="ij")
        return pd.DataFrame({
            "group": np.asarray(self.groups, dtype=object)[gi.ravel()],
            "genre": np.asarray(self.labels, dtype=object)[li.ravel()],
            "repeat": ri.ravel(),
            "f1_perm": self.f1_perm.ravel(),
            "score": self.scores.ravel(),
        })

    def overall(self) -> pd.DataFrame:
        """The Overall column: group, mean, ci_low, ci_high, covers_zero (for DVC bar plots)."""
        s = self.summary()
        return s[s["genre"] == OVERALL][["group", "mean", "ci_low", "ci_high", "covers_zero"]].reset_index(drop=True)


def _f1_counts(W: np.ndarray, truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-genre F1 and their macro mean on weighted films: W (B, n_films) film counts of each
    resample, truth and pred (..., n_films, n_genres) 0/1 -> (B, ..., n_genres + 1).

    F1 = 2 TP / (predicted positives + positives), 0 when both are 0 (scikit-learn's zero_division=0).
    """
    t = np.asarray(truth, dtype=np.float64)
    x = np.asarray(pred, dtype=np.float64)
    tp = np.tensordot(W, x * t, axes=([1], [-2]))  # (B, ..., n_genres): weighted true positives
    pp = np.tensordot(W, x, axes=([1], [-2]))  # predicted positives
    pos = (W @ t).reshape(len(W), *([1] * (pp.ndim - 2)), t.shape[-1])  # positives
    den = pp + pos
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(den > 0, 2 * tp / den, 0.0)
    return np.concatenate([f1, f1.mean(axis=-1, keepdims=True)], axis=-1)


def bootstrap_scores(truth: np.ndarray, pred_orig: np.ndarray, pred_perm: np.ndarray, n_boot: int,
                     seed: int) -> np.ndarray:
    """Importance on `n_boot` two-way resamples (films and repeats); see the module doc.

    truth, pred_orig: (n_films, n_genres) 0/1; pred_perm: (n_groups, n_repeats, n_films, n_genres) 0/1.
    Returns (n_boot, n_groups, n_genres + 1) mean scores (NaN where F1_orig of the resample is 0).
    """
    n_groups, n_repeats, n_films, _ = pred_perm.shape
    idx = film_stats.resample_indices(n_films, n_boot, seed)  # the project's film resamples
    reps = np.random.default_rng([int(seed), 1]).integers(0, n_repeats, size=(n_boot, n_repeats))
    out = np.empty((n_boot, n_groups, pred_perm.shape[-1] + 1))
    for start in range(0, n_boot, 100):  # blocks of resamples bound the memory
        W = np.stack([np.bincount(i, minlength=n_films) for i in idx[start:start + 100]]).astype(np.float64)
        f0 = _f1_counts(W, truth, pred_orig[None, None])[:, 0, 0]  # (b, labels)
        fp = _f1_counts(W, truth, pred_perm)  # (b, groups, repeats, labels)
        r = reps[start:start + 100]
        fp = np.take_along_axis(fp, r[:, None, :, None], axis=2)  # each replicate's resampled repeats
        with np.errstate(divide="ignore", invalid="ignore"):
            sc = 1.0 - fp.mean(axis=2) / f0[:, None, :]
        sc[np.broadcast_to(f0[:, None, :] == 0, sc.shape)] = np.nan
        out[start:start + 100] = sc
    return out


def adjusted_replicates(fresh: np.ndarray, reuse: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The replicates behind the interval: the re-permuted ones, their spread matched to the estimate's.

    A re-permuted replicate (`repermuted_scores`) draws one permutation, while the estimate averages
    ``R`` = n_repeats of them: its variance is ``V_films + V_perm`` where the estimate's is
    ``V_films + V_perm / R`` (``V_films``: between corpora, the permuted pool included; ``V_perm``: of
    one permutation on fixed films, the variance of the scores over the repeats). So each
    (group, label)'s replicates are shrunk about their mean by ``k = sqrt(V / V_fresh)``, with the
    target ``V = V_fresh - V_perm (1 - 1/R)``, the method of moments for two-stage resampling
    (Davison & Hinkley, *Bootstrap Methods and their Application*, 1997, sec. 3.8), floored at the
    variance of the fixed-pool replicates (``reuse``: films and repeats resampled, the pool held
    fixed), which leave out the pool's variation and so cannot exceed the total.

    fresh, reuse: (n_boot, n_groups, n_labels); scores: (n_groups, n_repeats, n_labels).
    """
    fresh = np.asarray(fresh, dtype=np.float64)
    out = np.full(fresh.shape, np.nan)
    R = scores.shape[1]
    for gi in range(fresh.shape[1]):
        for li in range(fresh.shape[2]):
            f, r = fresh[:, gi, li], reuse[:, gi, li]
            ok = np.isfinite(f)
            if ok.sum() < 2:
                continue
            v_fresh = float(np.var(f[ok], ddof=1))
            s = scores[gi, :, li]
            v_perm = float(np.var(s, ddof=1)) if R > 1 and np.isfinite(s).all() else 0.0
            r = r[np.isfinite(r)]
            v_reuse = float(np.var(r, ddof=1)) if len(r) > 1 else 0.0
            target = max(v_fresh - v_perm * (1 - 1 / R), v_reuse)
            k = np.sqrt(target / v_fresh) if v_fresh > 0 else 1.0
            c = float(np.mean(f[ok]))
            out[ok, gi, li] = c + k * (f[ok] - c)
    return out


def layered(predict_fn: PredictFn, bags: Sequence[np.ndarray]) -> PredictFilmsFn:
    """``predict_films`` from a one-bag-per-film ``predict_fn``: the requests go out in layers, each
    holding at most one bag per film (the other films get their own bags, and their predictions are
    dropped), so every bag is still predicted by its own film's fold model."""
    base = list(bags)

    def predict_films(new_bags: Sequence[np.ndarray], films: np.ndarray) -> np.ndarray:
        films = np.asarray(films, dtype=np.int64)
        order = np.argsort(films, kind="stable")
        first = np.searchsorted(films[order], films[order])  # start of each film's run
        layer = np.empty(len(films), dtype=np.int64)
        layer[order] = np.arange(len(films)) - first  # the k-th request of a film goes to layer k
        out = None
        for L in range(int(layer.max()) + 1 if len(films) else 0):
            sel = np.flatnonzero(layer == L)
            call = list(base)
            for k in sel:
                call[films[k]] = new_bags[k]
            p = np.asarray(predict_fn(call), dtype=np.float64)
            if out is None:
                out = np.empty((len(films), p.shape[1]))
            out[sel] = p[films[sel]]
        return out

    return predict_films


def repermuted_scores(predict_films: PredictFilmsFn, X: np.ndarray, sizes: np.ndarray, groups: Sequence[Sequence[int]],
                      Y: np.ndarray, pred0: np.ndarray, threshold: float, n_boot: int, seed: int,
                      chunk_bags: int = 3000) -> np.ndarray:
    """Importance on ``n_boot`` film resamples, each with its own permutation (see the module doc).

    Replicate b takes the films of ``filmscore.stats.resample_indices(n, n_boot, seed)[b]`` (the
    draws of `bootstrap_scores`), pools the instances of those films (a film drawn twice brings
    its instances twice), permutes each column of the group within that pool (one fresh
    permutation; group gi's stream is ``default_rng([seed, 2, gi])``), rebuilds the bags with the
    resampled films' sizes, predicts each through its own film's fold model (``predict_films``),
    and scores ``1 - F1_perm / F1_orig`` on the resampled films. F1_orig uses the saved unpermuted
    predictions of those films. X: (instances, features) of all films, in film order; sizes: bag
    sizes; groups: column indices of each group; Y, pred0: (n_films, n_genres) 0/1.

    Returns (n_boot, n_groups, n_genres + 1), NaN where the resample's F1_orig is 0.
    """
    n_films = len(sizes)
    Y, pred0 = np.asarray(Y, dtype=bool), np.asarray(pred0, dtype=bool)
    idx = film_stats.resample_indices(n_films, n_boot, seed)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    W = np.stack([np.bincount(i, minlength=n_films) for i in idx]).astype(np.float64)
    f0 = _f1_counts(W, Y, pred0)  # (n_boot, labels)
    out = np.empty((n_boot, len(groups), Y.shape[1] + 1))
    # the instance rows of each replicate's pool, in the order of its resampled films
    rows = [np.concatenate([np.arange(starts[i], starts[i] + sizes[i]) for i in films]) for films in idx]
    per_chunk = max(1, int(chunk_bags) // max(1, n_films))
    for gi, cols in enumerate(groups):
        cols = np.asarray(cols)
        rng = np.random.default_rng([int(seed), 2, gi])
        for start in range(0, n_boot, per_chunk):
            bs = range(start, min(n_boot, start + per_chunk))
            new_bags, films = [], []
            for b in bs:
                Xb = X[rows[b]]
                Xb[:, cols] = rng.permuted(Xb[:, cols], axis=0)
                new_bags += np.split(Xb, np.cumsum(sizes[idx[b]])[:-1])
                films.append(idx[b])
            p = _check_proba(predict_films(new_bags, np.concatenate(films)), len(new_bags), Y.shape[1])
            pp = (p >= threshold).reshape(len(bs), n_films, -1)
            t = Y[idx[start:start + len(bs)]]  # (b, n_films, G): each replicate's films, in its order
            tp, npred, npos = (pp & t).sum(1), pp.sum(1), t.sum(1)
            den = npred + npos
            with np.errstate(divide="ignore", invalid="ignore"):
                f1 = np.where(den > 0, 2 * tp / den, 0.0)
            fp = np.concatenate([f1, f1.mean(axis=-1, keepdims=True)], axis=-1)
            fo = f0[start:start + len(bs)]
            with np.errstate(divide="ignore", invalid="ignore"):
                sc = 1.0 - fp / fo
            sc[fo == 0] = np.nan
            out[start:start + len(bs), gi] = sc
    return out


def f1_per_genre(Y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Binary F1 of each genre over the films, then the macro mean appended.

    An all-negative genre never predicted scores 0 (scikit-learn's zero_division=0). The same
    formula as the bootstrap's (`_f1_counts`, every film counted once).
    """
    return _f1_counts(np.ones((1, len(Y))), np.asarray(Y), np.asarray(P))[0]


def group_indices(columns: Sequence[str], group_of: Callable[[str], str]) -> dict[str, list[int]]:
    """Map each group to the indices of its columns; the paper's group order first.

    group_of(column) -> group name, raising KeyError for a column outside every
    group (filmscore.features.group_of). Such columns are left out of the
    analysis (logged); a group with no column does not appear.
    """
    groups: dict[str, list[int]] = {}
    loose = []
    for i, c in enumerate(columns):
        try:
            g = group_of(c)
        except KeyError:
            loose.append(c)
            continue
        groups.setdefault(g, []).append(i)
    if loose:
        log.warning("%d feature column(s) belong to no importance group and are never permuted: %s",
                    len(loose), ", ".join(loose[:8]) + (" ..." if len(loose) > 8 else ""))
    if not groups:
        raise FilmscoreError([Problem("feature groups", f"none of the model's {len(columns)} feature columns has a group",
                                      "importance needs the MIR features (filmscore.features.groups): "
                                      "set reports.importance.features to mir")])
    order = [g for g in FIG3_GROUP_ORDER if g in groups] + sorted(g for g in groups if g not in FIG3_GROUP_ORDER)
    return {g: groups[g] for g in order}


def _check_proba(p: np.ndarray, n_films: int, n_genres: int) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (n_films, n_genres):
        raise ValueError(f"predict_fn returned shape {p.shape}, expected ({n_films}, {n_genres})")
    if not np.all(np.isfinite(p)):
        raise ValueError("predict_fn returned non-finite probabilities")
    return p


def permutation_importance(
    predict_fn: PredictFn,
    bags: list[np.ndarray],
    groups: Mapping[str, Sequence[int]],
    Y: np.ndarray,
    genres: Sequence[str],
    n_repeats: int = 100,
    seed: int = 0,
    threshold: float = 0.5,
    confidence: float = 0.95,
    n_boot: int = 0,
    predict_films: PredictFilmsFn | None = None,
) -> ImportanceResult:
    """Permutation importance of each feature group (see the module doc).

    predict_fn(bags) -> (n_films, n_genres) probabilities, film i from the model
    of its own fold; bags: one (instances x features) array per film (held out);
    groups: group name -> column indices; Y: (n_films, n_genres) 0/1 truth.
    Each group draws from its own random stream (seed, group index), so a
    group's scores do not depend on which other groups are analysed.
    n_boot: resamples of the bootstrap over films (0: the interval covers the
    permutations only); each re-permutes the resampled films' pool and predicts
    again (see the module doc). predict_films(bags, films) -> probabilities of
    bag k from the fold model of film films[k] (`CVResult.predict_films`); without
    it, ``predict_fn`` is called in layers of one bag per film (`layered`).
    """
    Y = np.asarray(Y).astype(np.int64)
    n_films, n_genres = len(bags), len(genres)
    if Y.shape != (n_films, n_genres):
        raise ValueError(f"Y has shape {Y.shape}, expected ({n_films}, {n_genres})")
    if n_repeats < 1:
        raise ValueError("n_repeats must be >= 1")
    sizes = np.array([len(b) for b in bags])
    nonempty = [b for b in bags if len(b)]
    if not nonempty:
        raise FilmscoreError([Problem("feature bags", "every bag is empty: nothing to permute",
                                      "check the cue table and features (`dvc repro cues features`)")])
    n_feat = nonempty[0].shape[1]
    X = np.concatenate([np.asarray(b, dtype=np.float64).reshape(len(b), n_feat) for b in bags], axis=0)
    splits = np.cumsum(sizes)[:-1]
    for g, cols in groups.items():
        bad = [c for c in cols if not 0 <= c < n_feat]
        if bad or not len(cols):
            raise ValueError(f"group {g!r}: column indices {list(cols)} out of range for {n_feat} features")

    def rebuild(M: np.ndarray) -> list[np.ndarray]:
        return [m if len(m) else np.zeros((0, n_feat)) for m in np.split(M, splits)]

    p0 = _check_proba(predict_fn(rebuild(X)), n_films, n_genres)
    pred0 = p0 >= threshold
    f1_orig = f1_per_genre(Y, pred0.astype(np.int64))
    for g, f in zip(list(genres) + [OVERALL], f1_orig):
        if f == 0:
            log.warning("%s: F1 without permutation is 0, its importance is undefined (NaN)", g)

    names = list(groups)
    f1_perm = np.empty((len(names), n_repeats, n_genres + 1))
    pred_perm = np.empty((len(names), n_repeats, n_films, n_genres), dtype=bool)
    steps = [(gi, r) for gi in range(len(names)) for r in range(n_repeats)]
    rngs = [np.random.default_rng([seed, gi]) for gi in range(len(names))]
    for gi, r in progress(steps, desc="permutation importance", total=len(steps), unit="perm"):
        cols = np.asarray(groups[names[gi]])
        Xp = X.copy()
        Xp[:, cols] = rngs[gi].permuted(X[:, cols], axis=0)  # each column shuffled on its own
        p = _check_proba(predict_fn(rebuild(Xp)), n_films, n_genres)
        pred_perm[gi, r] = p >= threshold
        f1_perm[gi, r] = f1_per_genre(Y, pred_perm[gi, r].astype(np.int64))
    fresh = None
    if n_boot >= 1 and n_films >= film_stats.MIN_FILMS:
        log.info("bootstrap over films: %d resamples x %d groups, each re-permuted and predicted", n_boot, len(names))
        fresh = repermuted_scores(predict_films or layered(predict_fn, rebuild(X)), X, sizes,
                                  [groups[g] for g in names], Y, pred0, threshold, int(n_boot), int(seed))
    return ImportanceResult(groups=names, labels=list(genres) + [OVERALL], f1_orig=f1_orig, f1_perm=f1_perm,
                            n_features={g: len(groups[g]) for g in names}, confidence=confidence,
                            truth=Y.astype(bool), pred_orig=pred0, pred_perm=pred_perm, n_boot=int(n_boot),
                            seed=int(seed), boot_fresh=fresh)


def importance_figure(summary: pd.DataFrame, title: str = ""):
    """Fig 3-style grouped bars: x = genre (and Overall), one bar per group, CI error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(summary["genre"]))
    groups = list(dict.fromkeys(summary["group"]))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.3 * len(labels) + 2), 4.2))
    width = 0.8 / len(groups)
    cmap = plt.get_cmap("tab10")
    x = np.arange(len(labels))
    for gi, g in enumerate(groups):
        sub = summary[summary["group"] == g].set_index("genre").reindex(labels)
        m = sub["mean"].to_numpy(dtype=float)
        err = np.vstack([m - sub["ci_low"].to_numpy(dtype=float), sub["ci_high"].to_numpy(dtype=float) - m])
        err = np.where(np.isfinite(err), np.maximum(err, 0.0), 0.0)
        bars = ax.bar(x + (gi - (len(groups) - 1) / 2) * width, np.nan_to_num(m), width, yerr=err, capsize=1.5,
                      label=g, color=cmap(gi % 10), error_kw={"elinewidth": 0.8})
        zero = sub["covers_zero"].fillna(False).astype(bool).to_numpy() if "covers_zero" in sub else np.zeros(len(m), bool)
        for b, z in zip(bars, zero):
            if z:  # the interval contains 0: not shown to matter
                b.set_alpha(0.35)
                b.set_hatch("///")
    undefined = summary.groupby("genre", sort=False)["mean"].apply(lambda s: s.isna().all())
    for li, lab in enumerate(labels):
        if undefined.get(lab, False):
            ax.text(li, 0.0, "F1 = 0\nundefined", ha="center", va="bottom", fontsize=7, color="0.4")
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_xticks(x, labels)
    ax.set_ylabel("importance  s = 1 - F1_perm / F1_orig")
    from matplotlib.patches import Patch

    handles = [Patch(color=cmap(gi % 10), label=g) for gi, g in enumerate(groups)]  # plain, whatever the first bar
    handles.append(Patch(facecolor="0.8", hatch="///", alpha=0.6, label="interval contains 0"))
    ax.legend(handles=handles, ncol=min(9, len(handles)), fontsize=7, frameon=False, loc="upper center",
              bbox_to_anchor=(0.5, -0.1))
    n = int(summary["n_repeats"].iloc[0]) if len(summary) else 0
    conf = float(summary["confidence"].iloc[0]) if len(summary) else 0.95
    kind = str(summary["interval"].iloc[0]) if len(summary) and "interval" in summary else "permutations only"
    ax.set_title(title or f"Permutation feature importance (mean of {n} repeats; {conf:.0%} interval over {kind}; "
                 "hatched: interval contains 0)", fontsize=9)
    fig.tight_layout()
    return fig


def summary_markdown_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Group x genre table of 'mean [low, high]' strings (for the report); an interval that
    contains 0 is marked ○ (the group is not shown to matter there), one above 0 in **bold**."""
    def cell(r) -> str:
        if not np.isfinite(r["mean"]):
            return "n/a"
        if not np.isfinite(r["ci_low"]):
            return f"{r['mean']:.3f}"
        text = f"{r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        if bool(r.get("covers_zero", False)):
            return text + " ○"
        return f"**{text}**" if r["ci_low"] > 0 else text

    s = summary.assign(cell=summary.apply(cell, axis=1))
    t = s.pivot(index="group", columns="genre", values="cell")
    t = t.reindex(index=list(dict.fromkeys(summary["group"])), columns=list(dict.fromkeys(summary["genre"])))
    return t.reset_index()


def write_outputs(result: ImportanceResult, out_dir, info: dict) -> None:
    """Write the importance folder at once (tables, figure, info).

    The detail stays in tables (summary.csv, overall.csv), not in DVC metrics:
    `dvc exp show` keeps to the numbers an experiment is judged by (docs/experiments.md).
    """
    from pathlib import Path

    from ..files import save_figure, write_json, write_table

    from .inputs import staged_outputs

    with staged_outputs(Path(out_dir)) as tmp:
        summary = result.summary()
        write_table(summary, tmp / "summary.csv")
        write_table(result.repeats(), tmp / "repeats.csv")
        write_table(result.overall(), tmp / "overall.csv")
        save_figure(importance_figure(summary, title=info.get("title", "")), tmp / "importance.png")
        write_json(tmp / "info.json", info)


def run(model_dir, genres: list[str], group_of: Callable[[str], str], predictor: CVPredictor,
        n_repeats: int, seed: int, confidence: float, n_boot: int = 0) -> tuple[ImportanceResult, dict]:
    """Importance of a trained model cell: bags from its feature table, checks, then the permutations.

    The fold models must reproduce the saved predictions on the unpermuted bags
    (otherwise the models, features or predictions are out of date).
    """
    from pathlib import Path

    import pandas as pd

    from .inputs import FEATURES_DIR, LEVEL_TABLES, MODEL_STAGE, bags_from_table, load_predictions, parse_cell, require, wide

    model_dir = Path(model_dir)
    cell = parse_cell(model_dir.name)
    preds = load_predictions(model_dir, genres)
    if list(predictor.genres) != list(genres):
        raise FilmscoreError([Problem(str(model_dir), f"fold models predict genres {list(predictor.genres)}, "
                                      f"corpus.genres is {list(genres)}", f"re-run `dvc repro {MODEL_STAGE}`")])
    film_ids = list(predictor.film_ids)
    if not predictor.columns:
        raise FilmscoreError([Problem(str(model_dir), "the fold models do not record their feature columns",
                                      f"re-run `dvc repro {MODEL_STAGE}`")])
    columns = list(predictor.columns)
    saved = wide(preds, "prob", genres)
    if set(film_ids) != set(saved.index):
        raise FilmscoreError([Problem(str(model_dir), "fold models and predictions.parquet cover different films",
                                      f"re-run `dvc repro {MODEL_STAGE}`")])
    table_path = require(FEATURES_DIR / cell["features"] / LEVEL_TABLES[cell["level"]], "features",
                         f"{cell['features']} {cell['level']}-level features")
    bags = bags_from_table(pd.read_parquet(table_path), film_ids, columns)
    groups = group_indices(columns, group_of)
    Y = wide(preds, "truth", genres).loc[film_ids].to_numpy(dtype=np.int64)

    p0 = _check_proba(predictor.predict_heldout(bags), len(film_ids), len(genres))
    diff = np.abs(p0 - saved.loc[film_ids].to_numpy(dtype=float))
    if diff.max() > 1e-4:
        raise FilmscoreError([Problem(str(model_dir), f"the fold models do not reproduce predictions.parquet on the "
                                      f"unpermuted features (largest difference {diff.max():.3g})",
                                      f"the models or features are out of date: run `dvc repro {MODEL_STAGE}`")])
    log.info("permutation importance of %s: %d films, %d groups, %d repeats", model_dir.name, len(film_ids),
             len(groups), n_repeats)
    result = permutation_importance(predictor.predict_heldout, bags, groups, Y, genres, n_repeats=n_repeats, seed=seed,
                                    threshold=float(predictor.threshold), confidence=confidence, n_boot=n_boot,
                                    predict_films=getattr(predictor, "predict_films", None))
    info = {"model": model_dir.name, "n_films": len(film_ids), "n_repeats": n_repeats, "seed": seed,
            "n_boot": n_boot, "interval": "films + permutations" if result.boot is not None else "permutations only",
            "interval_note": result.boot_note,
            "groups": {g: [columns[i] for i in idx] for g, idx in groups.items()},
            "threshold": float(predictor.threshold)}
    return result, info
