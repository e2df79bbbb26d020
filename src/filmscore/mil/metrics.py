"""Metrics of held-out genre predictions: the paper's, in one place.

* per genre: precision, recall, F1 of the 0/1 predictions (0 where undefined:
  a genre never predicted has precision 0, as scikit-learn's ``zero_division=0``);
  the **macro** average is their plain mean over the genres;
* average precision (AP) per genre from the probabilities (scikit-learn's step
  interpolation); **mAP** is their mean over the genres that have a positive film;
* the **random-guess baseline** (class frequencies) is scored by its expectation:
  P/R/F1 averaged over ``draws`` independent draws (each film and genre positive
  with its training-fold frequency); AP of a random ranking by its exact expectation
  (`expected_ap_random`, Bestgen 2015), which exceeds the prevalence on few films;
* a **paired t-test** (scipy ``ttest_rel``) of a model's APs against the random
  baseline's expected APs, paired over genres (the pairs whose mean is mAP) or
  over films (each film's AP of its genre ranking), ``evaluate.ttest_over``;
* per film (S3): precision and recall of its predicted genre set.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import average_precision_score, precision_recall_curve

from .folds import fold_priors, train_matrix


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)


def prf(truth: np.ndarray, pred: np.ndarray, axis: int = 0) -> dict[str, np.ndarray]:
    """Precision, recall, F1 (and support) along ``axis`` (0: per genre, 1: per film)."""
    truth, pred = np.asarray(truth, dtype=bool), np.asarray(pred, dtype=bool)
    tp = (truth & pred).sum(axis)
    n_pred, n_true = pred.sum(axis), truth.sum(axis)
    p, r = _div(tp, n_pred), _div(tp, n_true)
    return {"precision": p, "recall": r, "f1": _div(2 * p * r, p + r), "support": n_true}


def average_precisions(truth: np.ndarray, prob: np.ndarray, axis: int = 0) -> np.ndarray:
    """AP per genre (axis 0) or per film (axis 1); NaN where there is no positive."""
    truth, prob = np.asarray(truth), np.asarray(prob, dtype=np.float64)
    if axis == 1:
        truth, prob = truth.T, prob.T
    out = np.full(truth.shape[1], np.nan)
    for j in range(truth.shape[1]):
        if truth[:, j].any():
            out[j] = average_precision_score(truth[:, j], prob[:, j])
    return out


def _ap_untied(truth: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Column-wise AP for scores without ties (random draws): the mean, over the
    positives, of the precision at each positive's rank (equal to scikit-learn's AP
    when no two scores tie). NaN for a column with no positive."""
    order = np.argsort(-scores, axis=0, kind="stable")
    t = np.take_along_axis(np.asarray(truth, dtype=np.float64), order, axis=0)
    prec = np.cumsum(t, axis=0) / np.arange(1, t.shape[0] + 1)[:, None]
    pos = t.sum(0)
    return np.divide((prec * t).sum(0), pos, out=np.full(t.shape[1], np.nan), where=pos > 0)


def macro_f1(truth: np.ndarray, pred: np.ndarray) -> float:
    """Macro F1 over the genres (columns) of 0/1 predictions, 0 for an undefined genre F1
    (the same as `prf(...)["f1"].mean()`, without the dictionary: fast for the bootstrap)."""
    truth, pred = np.asarray(truth, dtype=bool), np.asarray(pred, dtype=bool)
    tp = (truth & pred).sum(0)
    den = truth.sum(0) + pred.sum(0)
    return float(np.divide(2.0 * tp, den, out=np.zeros(tp.shape), where=den > 0).mean())


def average_precision_columns(truth: np.ndarray, score: np.ndarray) -> np.ndarray:
    """AP of every column at once (scikit-learn's `average_precision_score`, ties
    included: tied scores form one threshold); NaN for a column with no positive.

    AP = sum over positives of the precision at the end of the positive's tie group,
    divided by the number of positives (the step-wise sum of (R_k - R_k-1) P_k)."""
    truth, score = np.asarray(truth, dtype=np.float64), np.asarray(score, dtype=np.float64)
    n = truth.shape[0]
    if n == 0:
        return np.full(truth.shape[1:], np.nan)
    order = np.argsort(-score, axis=0, kind="stable")
    s = np.take_along_axis(score, order, axis=0)
    t = np.take_along_axis(truth, order, axis=0)
    tp = np.cumsum(t, axis=0)
    pos = np.arange(n).reshape((n,) + (1,) * (truth.ndim - 1))
    is_end = np.ones(s.shape, dtype=bool)
    is_end[:-1] = s[1:] != s[:-1]
    end = np.where(is_end, pos, n - 1)
    end = np.flip(np.minimum.accumulate(np.flip(end, 0), axis=0), 0)  # the end of each row's tie group
    prec_end = np.take_along_axis(tp, end, axis=0) / (end + 1)
    npos = t.sum(0)
    return np.divide((t * prec_end).sum(0), npos, out=np.full(npos.shape, np.nan), where=npos > 0)


def mean_ap(truth: np.ndarray, prob: np.ndarray) -> float:
    """mAP: mean AP over the genres that have a positive film (NaN if none)."""
    ap = average_precision_columns(truth, prob)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")


def expected_ap_random(n: int | np.ndarray, n_pos: int | np.ndarray) -> np.ndarray:
    """Exact expected AP of a uniformly random ranking (no ties) of ``n`` items, ``n_pos`` of them positive.

    The positive at rank r has precision (1 + #positives above it) / r, and given a positive at r the
    other P - 1 positives fill the other n - 1 ranks at random, so
    ``E[AP] = (1/n) sum_r (1 + (P-1)(r-1)/(n-1)) / r = (H_n + (P-1)(n - H_n)/(n-1)) / n``
    (H_n the n-th harmonic number; Bestgen, "Exact expected average precision of the random baseline
    for system evaluation", Prague Bull. Math. Linguistics 103, 2015). It exceeds the prevalence P/n
    on small corpora (P = 1: H_n / n). NaN where there is no positive."""
    n, p = np.broadcast_arrays(np.asarray(n, dtype=np.float64), np.asarray(n_pos, dtype=np.float64))
    out = np.full(n.shape, np.nan)
    ok = p > 0
    h = np.array([np.sum(1.0 / np.arange(1, int(k) + 1)) for k in n[ok].ravel()]).reshape(n[ok].shape)
    nn, pp = n[ok], p[ok]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[ok] = np.where(nn > 1, (h + (pp - 1) * (nn - h) / np.maximum(nn - 1, 1)) / nn, 1.0)
    return out if out.ndim else out[()]


def random_baseline(Y: np.ndarray, folds: np.ndarray, draws: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Expected scores of the random guess by class frequency.

    Film i's genre g is guessed positive with the frequency of g among the training
    films of i's fold: precision/recall/F1 per genre averaged over ``draws`` draws.
    Its AP ranks the films in a uniformly random order: per genre and per film, the
    exact expectation (`expected_ap_random`), not a draw.
    """
    Y = np.asarray(Y, dtype=np.int64)
    prior = fold_priors(Y.astype(np.float64), train_matrix(folds))[np.asarray(folds)]  # (n, G)
    rng = np.random.default_rng(seed)
    acc = {k: np.zeros(Y.shape[1]) for k in ("precision", "recall", "f1")}
    for _ in range(int(draws)):
        u = rng.random(Y.shape)
        s = prf(Y, u < prior)
        for k in ("precision", "recall", "f1"):
            acc[k] += s[k]
    out = {k: v / draws for k, v in acc.items()}
    out["ap"] = expected_ap_random(Y.shape[0], Y.sum(0))
    out["film_ap"] = expected_ap_random(Y.shape[1], Y.sum(1))
    return out


def paired_ttest(model: np.ndarray, baseline: np.ndarray) -> dict[str, float]:
    """scipy.stats.ttest_rel over the pairs where both are defined (two-sided p)."""
    model, baseline = np.asarray(model, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    ok = np.isfinite(model) & np.isfinite(baseline)
    if ok.sum() < 2:
        return {"t": float("nan"), "p": float("nan"), "n": int(ok.sum()), "mean_diff": float("nan")}
    diff = model[ok] - baseline[ok]
    if np.allclose(diff, diff[0]):
        t, p = (float("inf") * np.sign(diff[0]) if diff[0] else float("nan")), (0.0 if diff[0] else 1.0)
    else:
        res = stats.ttest_rel(model[ok], baseline[ok])
        t, p = float(res.statistic), float(res.pvalue)
    return {"t": t, "p": p, "n": int(ok.sum()), "mean_diff": float(diff.mean())}


def score(truth: np.ndarray, prob: np.ndarray, pred: np.ndarray, genres: list[str],
          random: dict[str, np.ndarray] | None = None, ttest_over: str = "genres", alpha: float = 0.01) -> dict:
    """All metrics of one model: macro P/R/F1/mAP, per genre, and the t-test against random."""
    s = prf(truth, pred)
    ap = average_precisions(truth, prob)
    out = {
        "macro": {"precision": float(s["precision"].mean()), "recall": float(s["recall"].mean()),
                  "f1": float(s["f1"].mean()), "map": float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")},
        "per_genre": {g: {"precision": float(s["precision"][j]), "recall": float(s["recall"][j]),
                          "f1": float(s["f1"][j]), "ap": float(ap[j]), "support": int(s["support"][j])}
                      for j, g in enumerate(genres)},
        "n_films": int(truth.shape[0]),
    }
    if random is not None:
        if ttest_over == "films":
            t = paired_ttest(average_precisions(truth, prob, axis=1), random["film_ap"])
        else:
            t = paired_ttest(ap, random["ap"])
        t.update(over=ttest_over, alpha=alpha, significant=bool(t["p"] < alpha and t["mean_diff"] > 0))
        out["ttest_vs_random"] = t
    return out


def film_scores(truth: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Per film: precision and recall of the predicted genre set (S3)."""
    s = prf(truth, pred, axis=1)
    return {"precision": s["precision"], "recall": s["recall"]}


def pr_curve(truth: np.ndarray, prob: np.ndarray) -> dict[str, np.ndarray]:
    """Micro-averaged precision-recall curve over every (film, genre) pair."""
    p, r, t = precision_recall_curve(np.asarray(truth).ravel(), np.asarray(prob, dtype=np.float64).ravel())
    return {"precision": p, "recall": r, "threshold": np.append(t, np.nan)}


__all__ = ["prf", "macro_f1", "average_precision_columns", "mean_ap", "average_precisions", "expected_ap_random", "random_baseline", "paired_ttest", "score", "film_scores", "pr_curve"]
