"""Film bootstrap (filmscore.stats) against scipy.stats.bootstrap, and paired tests with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import average_precision_score

from filmscore.errors import FilmscoreError
from filmscore.mil.metrics import average_precision_columns, macro_f1, mean_ap, prf
from filmscore.stats import MIN_FILMS, bootstrap_interval, paired_bootstrap_test


def _ratio(x, y):
    return float(x.sum() / y.sum())


@pytest.mark.parametrize("method,scipy_method", [("percentile", "percentile"), ("bca", "BCa")])
def test_interval_matches_scipy_bootstrap(method, scipy_method):
    rng = np.random.default_rng(1)
    x = rng.exponential(2.0, 40)  # skewed: BCa and percentile differ
    y = rng.uniform(0.5, 1.5, 40)
    for stat, data in ((lambda a: float(np.var(a)), (x,)), (_ratio, (x, y))):
        ours = bootstrap_interval(stat, data, n_boot=4000, seed=3, method=method)
        ref = sps.bootstrap(data, lambda *a: stat(*a), paired=True, vectorized=False, n_resamples=4000,
                            confidence_level=0.95, method=scipy_method, random_state=np.random.default_rng(4))
        width = ref.confidence_interval.high - ref.confidence_interval.low
        # two independent Monte Carlo runs of the same procedure: the bounds agree to a few % of the width
        assert ours.lo == pytest.approx(ref.confidence_interval.low, abs=0.08 * width)
        assert ours.hi == pytest.approx(ref.confidence_interval.high, abs=0.08 * width)
        assert ours.estimate == pytest.approx(stat(*data))
        assert ours.available and ours.n_films == 40


def test_bca_differs_from_percentile_on_skewed_statistic():
    x = np.random.default_rng(2).exponential(1.0, 30)
    p = bootstrap_interval(lambda a: float(np.var(a)), (x,), n_boot=3000, seed=0)
    b = bootstrap_interval(lambda a: float(np.var(a)), (x,), n_boot=3000, seed=0, method="bca")
    assert b.hi > p.hi  # the variance is biased low and right-skewed: BCa moves the interval up


def test_seeded_and_film_resampling():
    x = np.arange(20, dtype=float)
    a = bootstrap_interval(lambda v: float(v.mean()), (x,), n_boot=200, seed=7)
    b = bootstrap_interval(lambda v: float(v.mean()), (x,), n_boot=200, seed=7)
    c = bootstrap_interval(lambda v: float(v.mean()), (x,), n_boot=200, seed=8)
    assert (a.lo, a.hi) == (b.lo, b.hi) and (a.lo, a.hi) != (c.lo, c.hi)
    # rows are resampled whole: a 2-D per-film array keeps each film's row together
    rows = np.stack([x, x], axis=1)
    d = bootstrap_interval(lambda v: float((v[:, 0] == v[:, 1]).mean()), (rows,), n_boot=50, seed=0)
    assert d.lo == d.hi == 1.0


def test_too_few_films_unavailable_not_computed():
    calls = []

    def stat(v):
        calls.append(1)
        return float(v.mean())

    r = bootstrap_interval(stat, (np.arange(MIN_FILMS - 1, dtype=float),), n_boot=1000)
    assert np.isnan(r.lo) and np.isnan(r.hi) and not r.available and r.n_boot == 0
    assert "fewer than 10" in r.reason and len(calls) == 1  # the estimate only
    t = paired_bootstrap_test(stat, (np.ones(5),), stat, (np.zeros(5),))
    assert np.isnan(t.p) and t.diff == 1.0 and "fewer than" in t.reason


def test_mismatched_films_is_an_error():
    with pytest.raises(FilmscoreError, match="number of films"):
        bootstrap_interval(_ratio, (np.ones(12), np.ones(11)))


def _labels(n, rng):
    Y = (rng.random((n, 6)) < 0.35).astype(int)
    Y[Y.sum(1) == 0, 0] = 1
    return Y


def _model(Y, accuracy, rng):
    """Predictions right with probability `accuracy` per film and genre; probabilities to match."""
    right = rng.random(Y.shape) < accuracy
    pred = np.where(right, Y, 1 - Y)
    prob = np.clip(np.where(pred == 1, 0.75, 0.25) + rng.normal(0, 0.1, Y.shape), 0, 1)
    return pred, prob


def _noisy_copy(pred, Y, accuracy, share, rng):
    """The model's predictions with a share of its decisions drawn afresh from the same model:
    as good in expectation, different in detail."""
    redo = rng.random(Y.shape) < share
    fresh, _ = _model(Y, accuracy, rng)
    return np.where(redo, fresh, pred)


def test_paired_test_separates_a_truly_better_model():
    rng = np.random.default_rng(0)
    Y = _labels(40, rng)
    good, _ = _model(Y, 0.9, rng)
    weak, _ = _model(Y, 0.6, rng)
    t = paired_bootstrap_test(macro_f1, (Y, good), macro_f1, (Y, weak), n_boot=1000, seed=0)
    assert t.diff > 0 and t.lo > 0 and t.p < 0.01


def test_paired_test_does_not_separate_a_noisy_copy():
    rng = np.random.default_rng(5)
    Y = _labels(40, rng)
    pred, prob = _model(Y, 0.75, rng)
    copy = _noisy_copy(pred, Y, 0.75, 0.1, rng)
    t = paired_bootstrap_test(macro_f1, (Y, pred), macro_f1, (Y, copy), n_boot=1000, seed=0)
    assert t.lo < 0 < t.hi and t.p > 0.05
    # calibration: two equally good noisy copies of one model are "different" at alpha 0.05
    # in about 5 % of corpora (Monte Carlo: 80 corpora, at most 12 rejections ~ p < 0.001 if the rate were 5 %)
    rejections = 0
    for k in range(80):
        r = np.random.default_rng(100 + k)
        Y = _labels(30, r)
        base, _ = _model(Y, 0.75, r)
        a, b = _noisy_copy(base, Y, 0.75, 0.2, r), _noisy_copy(base, Y, 0.75, 0.2, r)
        rejections += paired_bootstrap_test(macro_f1, (Y, a), macro_f1, (Y, b), n_boot=300, seed=k).p < 0.05
    assert rejections <= 12


def test_fast_metrics_equal_the_reference_ones():
    rng = np.random.default_rng(3)
    Y = _labels(25, rng)
    pred, prob = _model(Y, 0.7, rng)
    prob = np.round(prob, 1)  # ties, as kNN shares and vote shares give
    Y[:, 5] = 0  # a genre without positives
    assert macro_f1(Y, pred) == pytest.approx(prf(Y, pred)["f1"].mean())
    ap = average_precision_columns(Y, prob)
    for j in range(5):
        assert ap[j] == pytest.approx(average_precision_score(Y[:, j], prob[:, j]))
    assert np.isnan(ap[5]) and mean_ap(Y, prob) == pytest.approx(np.mean(ap[:5]))
    # extra trailing axes (e.g. a bank of random draws) are columns too
    stacked = average_precision_columns(np.stack([Y, Y], -1), np.stack([prob, prob[::-1]], -1))
    assert stacked[:5, 0] == pytest.approx(ap[:5])
