"""Bootstrap over films: intervals and paired tests for any statistic of per-film data.

The film is the unit of inference. A held-out metric (macro F1, mAP, a median
difference) is a statistic of per-film rows (labels, predictions, feature
medians); its sampling uncertainty comes from which films the corpus happens to
hold, so the bootstrap resamples **films** with replacement, never cues or clips
(Efron & Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall 1993,
ch. 6 and 13-14; the nonparametric bootstrap of one sample of independent units).

* `bootstrap_interval`: the statistic on ``n_boot`` resamples of the films, and its
  **percentile** interval (E&T ch. 13.3) or its **BCa** interval (bias-corrected and
  accelerated, E&T ch. 14.3: bias correction z0 from the share of resampled values
  below the estimate, acceleration a from the jackknife over films, eq. 14.15).
* `paired_bootstrap_test`: two statistics (two models, or a model and a baseline)
  on the **same** resampled films, so that what the films share cancels; the
  interval of the difference and a two-sided p-value of "no difference" from the
  bootstrap distribution shifted to the null (E&T ch. 16.4, the translated
  bootstrap test): ``p = (1 + #{|d* - d| >= |d|}) / (1 + n_boot)``.

With fewer than ``min_films`` films (default `MIN_FILMS` = 10) nothing is resampled:
the result carries NaN bounds and the reason, since a bootstrap over a handful of
units understates its own uncertainty (E&T ch. 6 discuss n = 8-15 as the lower end).

Every function is seeded (``seed``); the resampled film indices come from
``numpy.random.default_rng(seed)`` and are shared by the two sides of a paired test.
The statistic is a function of arrays whose first axis is the film: it receives
the resampled rows, ``statistic(*[a[idx] for a in data])``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.special import ndtr, ndtri

from .errors import FilmscoreError, Problem

#: fewer films than this: intervals and tests are reported as unavailable, not computed
MIN_FILMS = 10
METHODS = ("percentile", "bca")

Statistic = Callable[..., float]


@dataclass(frozen=True)
class Interval:
    """A statistic, its bootstrap interval over films, and how it was made.

    ``lo``/``hi`` are NaN when the interval is unavailable (``reason`` says why)."""

    estimate: float
    lo: float
    hi: float
    n_films: int
    n_boot: int
    confidence: float
    method: str
    seed: int
    reason: str = ""

    @property
    def available(self) -> bool:
        return bool(np.isfinite(self.lo) and np.isfinite(self.hi))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairedTest:
    """Difference ``a - b`` of two statistics on the same films, its bootstrap interval,
    and the two-sided p-value of no difference (NaN with a reason when unavailable)."""

    diff: float
    lo: float
    hi: float
    p: float
    n_films: int
    n_boot: int
    confidence: float
    seed: int
    reason: str = ""

    @property
    def available(self) -> bool:
        return bool(np.isfinite(self.p))

    def as_dict(self) -> dict:
        return asdict(self)


def _check(data: Sequence[np.ndarray], n_boot: int, confidence: float, method: str = "percentile") -> int:
    if not data:
        raise FilmscoreError(Problem("bootstrap", "was given no data", "pass the per-film arrays"))
    n = len(data[0])
    bad = [i for i, a in enumerate(data) if len(a) != n]
    if bad:
        raise FilmscoreError(Problem("bootstrap", f"arrays {bad} have another number of films than array 0 ({n})",
                                     "give every array one row per film, in the same film order"))
    if int(n_boot) < 1:
        raise FilmscoreError(Problem("bootstrap", f"n_boot is {n_boot}", "use n_boot >= 1 (e.g. 1000)"))
    if not 0 < confidence < 1:
        raise FilmscoreError(Problem("bootstrap", f"confidence is {confidence}", "use 0 < confidence < 1 (e.g. 0.95)"))
    if method not in METHODS:
        raise FilmscoreError(Problem("bootstrap", f"method is {method!r}", f"use one of {list(METHODS)}"))
    return n


def resample_indices(n_films: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_films) film indices drawn with replacement (the resamples of a seed)."""
    return np.random.default_rng(int(seed)).integers(0, n_films, size=(int(n_boot), n_films))


def _unavailable(n: int, min_films: int) -> str:
    return f"{n} films: fewer than {min_films}, too few to resample (not computed)"


def _apply(statistic: Statistic, data: Sequence[np.ndarray], idx: np.ndarray) -> np.ndarray:
    return np.array([statistic(*[np.asarray(a)[i] for a in data]) for i in idx], dtype=np.float64)


def _percentile(values: np.ndarray, confidence: float) -> tuple[float, float]:
    a = (1 - confidence) / 2
    v = values[np.isfinite(values)]
    if not len(v):
        return float("nan"), float("nan")
    lo, hi = np.percentile(v, [100 * a, 100 * (1 - a)])
    return float(lo), float(hi)


def _bca(values: np.ndarray, estimate: float, jack: np.ndarray, confidence: float) -> tuple[float, float]:
    """BCa bounds (E&T eq. 14.10-14.15): percentiles of the bootstrap values at
    Phi(z0 + (z0 + z_a) / (1 - acc (z0 + z_a))) for z_a at either tail."""
    v = values[np.isfinite(values)]
    jack = jack[np.isfinite(jack)]
    if not len(v) or len(jack) < 3:
        return float("nan"), float("nan")
    share = (np.sum(v < estimate) + 0.5 * np.sum(v == estimate)) / len(v)
    if share <= 0 or share >= 1:  # the estimate lies outside every resample: no bias correction possible
        return _percentile(v, confidence)
    z0 = ndtri(share)
    d = jack.mean() - jack
    den = 6.0 * np.sum(d ** 2) ** 1.5
    acc = float(np.sum(d ** 3) / den) if den > 0 else 0.0
    a = (1 - confidence) / 2
    qs = []
    for z in (ndtri(a), ndtri(1 - a)):
        qs.append(float(ndtr(z0 + (z0 + z) / (1 - acc * (z0 + z)))))
    lo, hi = np.percentile(v, [100 * qs[0], 100 * qs[1]])
    return float(lo), float(hi)


def bootstrap_interval(statistic: Statistic, data: Sequence[np.ndarray], n_boot: int = 1000, seed: int = 0,
                       confidence: float = 0.95, method: str = "percentile", min_films: int = MIN_FILMS) -> Interval:
    """The statistic of the films and its bootstrap interval over films.

    ``data``: arrays with one row per film (first axis), all in the same film order;
    ``statistic(*resampled_arrays) -> float`` (NaN allowed: a resample where it is
    undefined is left out of the interval). ``method``: ``percentile`` or ``bca``
    (Efron & Tibshirani 1993, ch. 13.3 and 14.3).
    """
    n = _check(data, n_boot, confidence, method)
    est = float(statistic(*[np.asarray(a) for a in data]))
    if n < min_films:
        return Interval(est, float("nan"), float("nan"), n, 0, confidence, method, int(seed), _unavailable(n, min_films))
    values = _apply(statistic, data, resample_indices(n, n_boot, seed))
    if method == "bca":
        keep = np.ones(n, dtype=bool)
        jack = np.empty(n)
        for i in range(n):
            keep[i] = False
            jack[i] = statistic(*[np.asarray(a)[keep] for a in data])
            keep[i] = True
        lo, hi = _bca(values, est, jack, confidence)
    else:
        lo, hi = _percentile(values, confidence)
    undefined = int((~np.isfinite(values)).sum())
    reason = f"statistic undefined on {undefined} of {n_boot} resamples (left out)" if undefined else ""
    return Interval(est, lo, hi, n, int(n_boot), confidence, method, int(seed), reason)


def paired_bootstrap_test(statistic_a: Statistic, data_a: Sequence[np.ndarray], statistic_b: Statistic,
                          data_b: Sequence[np.ndarray], n_boot: int = 1000, seed: int = 0, confidence: float = 0.95,
                          min_films: int = MIN_FILMS, estimate_b: float | None = None) -> PairedTest:
    """Paired bootstrap of ``statistic_a(data_a) - statistic_b(data_b)`` over the same films.

    Both sides are evaluated on the same resampled film indices (rows of ``data_a``
    and ``data_b`` are the same films, in the same order). Returns the observed
    difference, its percentile interval and the two-sided p-value of the
    translated bootstrap test (Efron & Tibshirani 1993, ch. 16.4): the bootstrap
    differences shifted to mean-zero null, ``p = (1 + #{|d*_b - d| >= |d|}) / (1 + B)``.
    ``estimate_b`` replaces ``statistic_b(data_b)`` as b's observed value (e.g. a
    baseline scored by its exact expectation while its resamples use random draws).
    """
    n = _check(list(data_a) + list(data_b), n_boot, confidence)
    a_hat = float(statistic_a(*[np.asarray(x) for x in data_a]))
    b_hat = float(statistic_b(*[np.asarray(x) for x in data_b])) if estimate_b is None else float(estimate_b)
    diff = a_hat - b_hat
    if n < min_films:
        return PairedTest(diff, float("nan"), float("nan"), float("nan"), n, 0, confidence, int(seed),
                          _unavailable(n, min_films))
    idx = resample_indices(n, n_boot, seed)
    d = _apply(statistic_a, data_a, idx) - _apply(statistic_b, data_b, idx)
    ok = np.isfinite(d)
    if not ok.any() or not np.isfinite(diff):
        return PairedTest(diff, float("nan"), float("nan"), float("nan"), n, int(n_boot), confidence, int(seed),
                          "difference undefined")
    d = d[ok]
    lo, hi = _percentile(d, confidence)
    p = float((1 + np.sum(np.abs(d - diff) >= abs(diff))) / (1 + len(d)))
    reason = f"difference undefined on {int((~ok).sum())} of {n_boot} resamples (left out)" if (~ok).any() else ""
    return PairedTest(diff, lo, hi, min(p, 1.0), n, int(n_boot), confidence, int(seed), reason)


__all__ = ["Interval", "PairedTest", "bootstrap_interval", "paired_bootstrap_test", "resample_indices", "MIN_FILMS",
           "METHODS"]
