"""Classical MIL baselines and the metrics, against scikit-learn / scipy / hand values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, precision_recall_fscore_support
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from filmscore.mil import InstanceMajorityVote, PluralityLabelSet, RandomGuess, SimpleMI, make_folds
from filmscore.mil.cv import cross_validate
from filmscore.mil.metrics import (_ap_untied, average_precisions, film_scores, paired_ttest, prf, random_baseline,
                                   score)
from filmscore.mil.report import label_baseline_cv


def data(n=30, d=4, g=3, seed=0):
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, g)) < 0.4).astype(int)
    Y[0] = 1
    Y[1] = 0
    bags = [rng.normal(size=(rng.integers(2, 7), d)) + Y[i, :1] * 1.5 for i in range(n)]
    return bags, Y


def test_simplemi_knn_equals_sklearn_on_bag_means():
    bags, Y = data()
    train, test = bags[:20], bags[20:]
    means = np.stack([b.mean(0) for b in train])
    sc = StandardScaler().fit(means)
    got = SimpleMI(base="knn", k=5).fit(train, Y[:20]).predict_proba(test)
    for j in range(3):
        ref = KNeighborsClassifier(5).fit(sc.transform(means), Y[:20, j])
        exp = ref.predict_proba(sc.transform(np.stack([b.mean(0) for b in test])))[:, 1]
        np.testing.assert_allclose(got[:, j], exp)


def test_simplemi_svm_and_rf_decisions_match_sklearn():
    bags, Y = data()
    means = np.stack([b.mean(0) for b in bags])
    sc = StandardScaler().fit(means[:20])
    svm = SimpleMI(base="svm").fit(bags[:20], Y[:20])
    ref = SVC().fit(sc.transform(means[:20]), Y[:20, 0])
    assert svm.predict(bags[20:])[:, 0].tolist() == ref.predict(sc.transform(means[20:])).tolist()
    rf = SimpleMI(base="rf", trees=20, seed=1).fit(bags[:20], Y[:20])
    p = rf.predict_proba(bags[20:])
    assert ((p >= 0) & (p <= 1)).all() and rf.predict(bags[20:]).shape == (10, 3)


def test_simplemi_logreg_is_balanced_l2_logistic_regression_on_standardised_means():
    """Against the objective minimised by hand (scipy): C * sum_i w_i logloss_i + |beta|^2 / 2 on the
    training-standardised bag means, w_i = n / (2 n_class(i)), intercept unpenalised."""
    from scipy.optimize import minimize

    bags, Y = data(n=40, seed=2)
    means = np.stack([b.mean(0) for b in bags])
    mu, sd = means[:30].mean(0), means[:30].std(0)
    X, Xt = (means[:30] - mu) / sd, (means[30:] - mu) / sd
    got = SimpleMI(base="logreg", logreg_c=0.5).fit(bags[:30], Y[:30]).predict_proba(bags[30:])
    for j in range(3):
        y = Y[:30, j]
        w = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))

        def f(theta):
            z = X @ theta[1:] + theta[0]
            return 0.5 * (w * (np.logaddexp(0, z) - y * z)).sum() + 0.5 * theta[1:] @ theta[1:]

        theta = minimize(f, np.zeros(X.shape[1] + 1), method="BFGS", options={"gtol": 1e-10}).x
        np.testing.assert_allclose(got[:, j], 1 / (1 + np.exp(-(Xt @ theta[1:] + theta[0]))), atol=2e-4)
    imv = InstanceMajorityVote(base="logreg").fit(bags[:30], Y[:30])
    assert imv.predict(bags[30:]).shape == (10, 3)


def test_imv_svm_precomputed_kernel_equals_rbf_svc():
    bags, Y = data(n=16)
    inst = np.concatenate(bags[:12])
    yi = np.repeat(Y[:12, 0], [len(b) for b in bags[:12]])
    sc = StandardScaler().fit(inst)
    ref = SVC(kernel="rbf", gamma="scale").fit(sc.transform(inst), yi)
    imv = InstanceMajorityVote(base="svm").fit(bags[:12], Y[:12])
    for b, v in zip(bags[12:], imv.votes(bags[12:])):
        assert v[:, 0].tolist() == ref.predict(sc.transform(b)).tolist()


def test_classical_cross_validation_in_parallel_processes_is_the_same():
    bags, Y = data()
    folds = make_folds(len(bags), 5)
    one = cross_validate(InstanceMajorityVote(base="svm"), bags, Y, folds)
    two = cross_validate(InstanceMajorityVote(base="svm"), bags, Y, folds, jobs=2, keep_models=False)
    np.testing.assert_array_equal(two.prob, one.prob)
    np.testing.assert_array_equal(two.pred, one.pred)
    assert two.models is None and len(one.models) == 5


def test_imv_majority_vote_by_hand():
    # 1-D instances; kNN with k=1 copies the nearest training instance's (inherited) label
    train = [np.array([[0.0], [0.1]]), np.array([[10.0], [10.1]])]
    Y = np.array([[0], [1]])
    imv = InstanceMajorityVote(base="knn", k=1).fit(train, Y)
    test = [np.array([[9.9], [10.2], [0.05]]), np.array([[9.9], [0.0]]), np.zeros((0, 1))]
    np.testing.assert_allclose(imv.predict_proba(test)[:, 0], [2 / 3, 1 / 2, 1 / 2])
    assert imv.predict(test)[:, 0].tolist() == [1, 0, 1]  # a tie is no majority; empty: prior 0.5 >= 0.5


def test_constant_training_label_predicted_as_constant():
    bags, Y = data()
    Y[:, 2] = 0
    for est in (SimpleMI(base="svm"), InstanceMajorityVote(base="svm"), SimpleMI(base="knn")):
        p = est.fit(bags[:20], Y[:20]).predict_proba(bags[20:])
        assert (p[:, 2] == 0).all()


def test_classical_cross_validation_keeps_empty_bags():
    bags, Y = data()
    bags[5] = np.zeros((0, 4))
    res = cross_validate(SimpleMI(base="knn"), bags, Y, make_folds(len(bags)))
    np.testing.assert_allclose(res.prob[5], np.delete(Y, 5, axis=0).mean(0))
    np.testing.assert_allclose(res.predict_heldout(bags), res.prob)


def test_label_baselines():
    Y = np.array([[1, 0], [1, 0], [0, 1], [1, 1], [1, 0]])
    pl = PluralityLabelSet().fit(None, Y)
    assert pl.predict([None, None]).tolist() == [[1, 0], [1, 0]]
    rg = RandomGuess(seed=0).fit(None, Y)
    np.testing.assert_allclose(rg.predict_proba([None])[0], [0.8, 0.4])
    draws = rg.predict([None] * 20000)
    np.testing.assert_allclose(draws.mean(0), [0.8, 0.4], atol=0.02)
    prob, pred = label_baseline_cv(PluralityLabelSet(), Y, make_folds(5))
    assert pred.tolist() == [[1, 0]] * 5


# ---------------------------------------------------------------- metrics

def test_prf_matches_sklearn():
    rng = np.random.default_rng(3)
    t, p = rng.random((40, 5)) < 0.3, rng.random((40, 5)) < 0.4
    p[:, 4] = False  # a genre never predicted: precision 0
    s = prf(t, p)
    ref = precision_recall_fscore_support(t, p, average=None, zero_division=0)
    for k, r in zip(("precision", "recall", "f1"), ref[:3]):
        np.testing.assert_allclose(s[k], r)
    m = score(t.astype(int), rng.random((40, 5)), p.astype(int), list("abcde"))
    assert m["macro"]["f1"] == pytest.approx(ref[2].mean())


def test_average_precision_matches_sklearn():
    rng = np.random.default_rng(4)
    t = (rng.random((30, 4)) < 0.3).astype(int)
    t[0] = 1
    s = rng.random((30, 4))
    ref = [average_precision_score(t[:, j], s[:, j]) for j in range(4)]
    np.testing.assert_allclose(average_precisions(t, s), ref)
    np.testing.assert_allclose(_ap_untied(t, s), ref)
    t[:, 3] = 0
    assert np.isnan(average_precisions(t, s)[3])


def test_random_baseline_expectation():
    rng = np.random.default_rng(5)
    Y = (rng.random((60, 3)) < np.array([0.5, 0.2, 0.1])).astype(int)
    folds = make_folds(60)
    r = random_baseline(Y, folds, draws=400, seed=0)
    prev = Y.mean(0)
    # guessing with the (leave-one-out) frequency: E[recall] ~ frequency, E[precision] ~ prevalence
    np.testing.assert_allclose(r["recall"], prev, atol=0.03)
    np.testing.assert_allclose(r["precision"], prev, atol=0.04)
    # random scores: E[AP] is close to the prevalence (slightly above for few positives)
    assert (r["ap"] > prev - 0.01).all() and (r["ap"] < prev + 0.12).all()


def test_paired_ttest_is_scipy():
    a, b = np.array([0.5, 0.6, 0.7, 0.9, np.nan]), np.array([0.3, 0.35, 0.32, 0.4, 0.2])
    t = paired_ttest(a, b)
    ref = stats.ttest_rel(a[:4], b[:4])
    assert t["t"] == pytest.approx(ref.statistic) and t["p"] == pytest.approx(ref.pvalue) and t["n"] == 4
    m = score(np.array([[1, 0], [0, 1], [1, 1]]), np.array([[.9, .1], [.2, .8], [.7, .6]]),
              np.array([[1, 0], [0, 1], [1, 1]]), ["x", "y"],
              random={"ap": np.array([0.5, 0.5]), "film_ap": np.full(3, 0.5)}, ttest_over="films")
    assert m["ttest_vs_random"]["over"] == "films" and m["ttest_vs_random"]["n"] == 3


def test_film_scores_by_hand():
    t = np.array([[1, 1, 0], [0, 0, 1], [1, 0, 0]])
    p = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 0]])
    s = film_scores(t, p)
    np.testing.assert_allclose(s["precision"], [0.5, 0.0, 1.0])
    np.testing.assert_allclose(s["recall"], [0.5, 0.0, 1.0])


def test_expected_ap_of_a_random_ranking_is_exact():
    """Bestgen's closed form against hand values and a Monte Carlo of AP (scikit-learn's, without ties) on random scores."""
    from filmscore.mil.metrics import expected_ap_random

    assert expected_ap_random(10, 10) == pytest.approx(1.0)
    assert expected_ap_random(10, 1) == pytest.approx(sum(1 / r for r in range(1, 11)) / 10)  # E[1/rank]
    assert expected_ap_random(1, 1) == 1.0 and np.isnan(expected_ap_random(5, 0))
    # n = 3, P = 2 by enumeration of the 3 placements of the negative: ranks (1,2) 1; (1,3) (1+2/3)/2; (2,3) (1/2+2/3)/2
    assert expected_ap_random(3, 2) == pytest.approx((1 + (1 + 2 / 3) / 2 + (1 / 2 + 2 / 3) / 2) / 3)
    rng = np.random.default_rng(0)
    for n, p in ((30, 3), (30, 9), (12, 5)):
        y = np.zeros(n, dtype=int)
        y[:p] = 1
        mc = np.mean(_ap_untied(np.repeat(y[:, None], 20000, 1), rng.random((n, 20000))))  # = sklearn's, above
        assert expected_ap_random(n, p) == pytest.approx(mc, abs=0.004)  # MC SE < 0.0015
    np.testing.assert_allclose(expected_ap_random(30, np.array([3, 9])),
                               [expected_ap_random(30, 3), expected_ap_random(30, 9)])


def test_random_baseline_ap_is_the_exact_expectation():
    from filmscore.mil.metrics import expected_ap_random

    rng = np.random.default_rng(5)
    Y = (rng.random((40, 3)) < np.array([0.5, 0.2, 0.1])).astype(int)
    r = random_baseline(Y, make_folds(40), draws=10, seed=0)
    np.testing.assert_allclose(r["ap"], expected_ap_random(40, Y.sum(0)))
    np.testing.assert_allclose(r["film_ap"], expected_ap_random(3, Y.sum(1)))


def test_random_guess_map_interval_is_not_lifted_by_tied_copies():
    """Simulation of the old defect: random scores drawn once per film tie a resampled film with its copy,
    and scikit-learn's AP scores a tie group at its end, so the resampled mAPs sit above the estimate (an
    interval like .41 in [.40, .49]). The random row's resamples now score the exact expectation on the
    resampled films: centred on the estimate."""
    from filmscore.mil.metrics import average_precision_columns, expected_ap_random
    from filmscore.mil.report import RANDOM_BANK, FilmBootstrap
    from filmscore.stats import resample_indices

    rng = np.random.default_rng(3)
    Y = (rng.random((30, 6)) < np.array([.15, .2, .3, .3, .4, .5])).astype(int)
    Y[:3] = 1  # every genre on 3+ films (a genre lost in a resample is left out, which conditions the rest)
    folds = make_folds(30)
    est = float(np.nanmean(expected_ap_random(30, Y.sum(0))))
    # the old procedure: a bank of random scores, resampled with the films (copies tied)
    S = rng.random((30, 6, RANDOM_BANK))
    Y3 = np.repeat(Y[:, :, None], RANDOM_BANK, 2)
    old = np.array([np.nanmean(average_precision_columns(Y3[i], S[i])) for i in resample_indices(30, 300, 0)])
    assert np.mean(old < est) < 0.3 and old.mean() > est + 0.015  # most resamples above the estimate
    ev = {"bootstrap": 1000, "seed": 0, "confidence": 0.95, "interval": "percentile", "alpha": 0.01}
    boot = FilmBootstrap(Y, folds, ev)
    new = np.array([boot.random_map(Y[i]) for i in resample_indices(30, 1000, 0)])
    new = new[np.isfinite(new)]
    # centred on the estimate: the expected AP is linear in a genre's positives, whose resampled mean is theirs
    assert 0.35 < np.mean(new < est) < 0.65 and abs(new.mean() - est) < 0.01
    # the reported interval (both methods) has the estimate near its middle; the old bank's percentile
    # interval put it in the lower quarter (simulated here: 0.73-0.81 of its width above the estimate)
    from filmscore.stats import bootstrap_interval

    for method in ("percentile", "bca"):
        iv = FilmBootstrap(Y, folds, {**ev, "interval": method}).intervals(None, None, None)
        assert 0.35 < (iv["map_hi"] - est) / (iv["map_hi"] - iv["map_lo"]) < 0.65, (method, iv)
    old_iv = bootstrap_interval(boot.ap, (Y3, S), n_boot=1000, seed=0, confidence=0.95, method="percentile")
    assert (old_iv.hi - est) / (old_iv.hi - old_iv.lo) > 0.7
