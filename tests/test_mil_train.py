"""Training: loss weights, fold statistics, batched folds = independent folds, no leakage,
reproducibility, a known-answer MIL problem, bad input."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from filmscore.errors import FilmscoreError
from filmscore.mil import MILClassifier, make_folds
from filmscore.mil.cv import CVResult, cross_validate
from filmscore.mil.folds import check_bags, class_weights, fold_priors, fold_standardization, train_matrix
from filmscore.mil.pools import POOLS


def synthetic(n=9, d=5, g=3, seed=0, lo=1, hi=6):
    rng = np.random.default_rng(seed)
    bags = [rng.normal(size=(rng.integers(lo, hi), d)) for _ in range(n)]
    Y = (rng.random((n, g)) < 0.5).astype(int)
    return bags, Y


FAST = dict(hidden=8, epochs=4, batch_size=4, lr=1e-2, show_progress=False)


# ---------------------------------------------------------------- statistics of a training fold

def test_class_weights_from_known_label_distribution():
    # 8 training films: genre 0 carried by 2, genre 1 by 6, genre 2 by none, genre 3 by all
    Y = np.array([[1, 1, 0, 1]] * 2 + [[0, 1, 0, 1]] * 4 + [[0, 0, 0, 1]] * 2, dtype=float)
    w_pos, w_neg = class_weights(Y, np.ones((1, 8), dtype=bool))
    np.testing.assert_allclose(w_pos[0], [8 / 4, 8 / 12, 0.0, 0.5])
    np.testing.assert_allclose(w_neg[0], [8 / 12, 8 / 4, 0.5, 0.0])
    # each class contributes half of a genre's weighted count
    np.testing.assert_allclose((w_pos * Y.sum(0))[0, :2], [4, 4])


def test_class_weights_and_priors_per_fold_exclude_held_out():
    Y = np.array([[1], [0], [0], [0]], dtype=float)
    train = train_matrix(make_folds(4))
    w_pos, w_neg = class_weights(Y, train)
    # fold 0 holds out the only positive film: no positive example left
    assert w_pos[0, 0] == 0 and w_neg[0, 0] == pytest.approx(0.5)
    assert w_pos[1, 0] == pytest.approx(3 / 2) and w_neg[1, 0] == pytest.approx(3 / 4)
    np.testing.assert_allclose(fold_priors(Y, train)[:, 0], [0, 1 / 3, 1 / 3, 1 / 3])


def test_fold_standardization_matches_numpy_on_training_instances():
    bags, _ = synthetic(n=6, d=4)
    bags[2] = np.zeros((0, 4))
    folds = make_folds(6, 3, seed=1)
    mean, scale = fold_standardization(bags, train_matrix(folds))
    for f in range(3):
        inst = np.concatenate([b for b, k in zip(bags, folds) if k != f])
        np.testing.assert_allclose(mean[f], inst.mean(0), rtol=1e-12)
        np.testing.assert_allclose(scale[f], inst.std(0), rtol=1e-10)


def test_make_folds():
    assert make_folds(5).tolist() == [0, 1, 2, 3, 4]
    f = make_folds(10, 3, seed=0)
    assert sorted(np.bincount(f).tolist()) == [3, 3, 4]
    assert (make_folds(10, 3, seed=0) == f).all()
    with pytest.raises(FilmscoreError):
        make_folds(10, 1)


# ---------------------------------------------------------------- batched folds

@pytest.mark.parametrize("pool", POOLS)
def test_batched_folds_equal_independent_per_fold_training(pool):
    """Same initial weights, same batches: the fold-batched model and one Lightning run per
    fold (torch's own Adam) give the same models. n=9 with batches of 4 leaves one film
    alone in the last batch, so that film's fold skips a step (the masked FoldAdam path)."""
    bags, Y = synthetic()
    bags[4] = np.zeros((0, 5))  # an empty bag too
    folds = make_folds(len(bags))
    a = MILClassifier(pool=pool, **FAST).cross_validate(bags, Y, folds)
    b = MILClassifier(pool=pool, fold_batching=False, **FAST).cross_validate(bags, Y, folds)
    np.testing.assert_allclose(a.prob, b.prob, atol=2e-5)
    for k, v in a.models.state_dict().items():
        torch.testing.assert_close(v, b.models.state_dict()[k], atol=1e-4, rtol=1e-4)
    assert a.prob.std() > 0  # not trivially constant


def test_parallel_fold_shares_give_the_same_models():
    bags, Y = synthetic()
    folds = make_folds(len(bags))
    one = MILClassifier(pool="multi_attention", **FAST).cross_validate(bags, Y, folds)
    two = MILClassifier(pool="multi_attention", jobs=2, **FAST).cross_validate(bags, Y, folds)
    np.testing.assert_allclose(two.prob, one.prob, atol=1e-5)
    assert two.models.n_folds == len(bags) and len(two.history) == FAST["epochs"]


def test_held_out_film_never_reaches_its_fold():
    """Poison fold 0's held-out film (huge values, flipped labels): fold 0's model is bit-identical;
    folds that train on that film change (the poison is strong)."""
    bags, Y = synthetic(n=8)
    folds = make_folds(len(bags))
    clean = MILClassifier(pool="single_attention", **FAST).cross_validate(bags, Y, folds)
    poisoned = [b.copy() for b in bags]
    poisoned[0] = np.full(bags[0].shape, 1e4)
    Yp = Y.copy()
    Yp[0] = 1 - Yp[0]
    dirty = MILClassifier(pool="single_attention", **FAST).cross_validate(poisoned, Yp, folds)
    for k, v in clean.models.state_dict().items():
        assert torch.equal(dirty.models.state_dict()[k][0], v[0]), k
        if k.endswith("weight") and "embed.0" in k:
            assert (dirty.models.state_dict()[k][1:] - v[1:]).abs().max() > 1e-3
    np.testing.assert_allclose(dirty.prob[1:] != clean.prob[1:], True)


def test_held_out_bag_size_changes_fold_only_at_float_rounding():
    """A held-out bag with more instances changes the packed batch's shape, hence the order of
    float32 sums in the matrix products, and nothing else: fold 0 agrees to rounding (~1e-6),
    three orders of magnitude below what training on the poison does to the other folds."""
    bags, Y = synthetic(n=8)
    folds = make_folds(len(bags))
    clean = MILClassifier(pool="single_attention", **FAST).cross_validate(bags, Y, folds)
    poisoned = [b.copy() for b in bags]
    poisoned[0] = np.full((len(bags[0]) + 4, bags[0].shape[1]), 1e4)
    dirty = MILClassifier(pool="single_attention", **FAST).cross_validate(poisoned, Y, folds)
    for k, v in clean.models.state_dict().items():
        torch.testing.assert_close(dirty.models.state_dict()[k][0], v[0], rtol=1e-4, atol=2e-5)


def test_same_seed_same_results_other_seed_differs():
    bags, Y = synthetic()
    folds = make_folds(len(bags), 3)
    r1 = MILClassifier(pool="avg", seed=7, **FAST).cross_validate(bags, Y, folds)
    r2 = MILClassifier(pool="avg", seed=7, **FAST).cross_validate(bags, Y, folds)
    r3 = MILClassifier(pool="avg", seed=8, **FAST).cross_validate(bags, Y, folds)
    assert np.array_equal(r1.prob, r2.prob)
    assert not np.allclose(r1.prob, r3.prob)


# ---------------------------------------------------------------- a known-answer MIL problem

def digit_bags(n_bags, target, rng, images, labels):
    """Bags of 4..10 digit images; a bag is positive iff it holds the target digit (about half)."""
    bags, y = [], []
    pos_pool, neg_pool = np.flatnonzero(labels == target), np.flatnonzero(labels != target)
    for i in range(n_bags):
        k = int(rng.integers(4, 11))
        idx = rng.choice(neg_pool, size=k, replace=False)
        if i % 2 == 0:
            idx[rng.integers(0, k, size=int(rng.integers(1, 3)))] = rng.choice(pos_pool, size=1)
        bags.append(images[idx])
        y.append(int(np.isin(idx, pos_pool).any()))
    return bags, np.array(y)[:, None]


def test_known_answer_digit_bags():
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(d.target))
    tr, te = order[:1200], order[1200:]
    Xtr, ytr = digit_bags(96, 7, rng, d.data[tr], d.target[tr])
    Xte, yte = digit_bags(120, 7, rng, d.data[te], d.target[te])
    aucs = {}
    for pool in ("single_attention", "avg"):
        clf = MILClassifier(pool=pool, hidden=32, epochs=30, lr=5e-3, batch_size=16, show_progress=False)
        p = clf.fit(Xtr, ytr).predict_proba(Xte)[:, 0]
        aucs[pool] = roc_auc_score(yte[:, 0], p)
    assert aucs["single_attention"] > 0.95, aucs
    assert aucs["avg"] > 0.75, aucs


# ---------------------------------------------------------------- the estimator API and results

def test_fit_predict_api_and_empty_bag_prior():
    bags, Y = synthetic(n=12)
    clf = MILClassifier(pool="max", **FAST).fit(bags, Y)
    test = bags[:3] + [np.zeros((0, 5))]
    p = clf.predict_proba(test)
    assert p.shape == (4, 3) and ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(p[3], Y.mean(0), rtol=1e-6)
    assert clf.predict(test).tolist() == (p >= 0.5).astype(int).tolist()
    with pytest.raises(FilmscoreError, match="features"):
        clf.predict_proba([np.ones((2, 4))])


def test_empty_bag_kept_in_cross_validation(caplog):
    bags, Y = synthetic(n=8)
    bags[3] = np.zeros((0, 5))
    folds = make_folds(8)
    with caplog.at_level(logging.INFO):
        res = MILClassifier(pool="avg", **FAST).cross_validate(bags, Y, folds, film_ids=list("abcdefgh"))
    assert "empty bag" in caplog.text and "d" in caplog.text
    expected = np.delete(Y, 3, axis=0).mean(0)  # its fold's training frequencies
    np.testing.assert_allclose(res.prob[3], expected, rtol=1e-6)
    df = res.predictions()
    assert set(df.film_id) == set("abcdefgh") and len(df) == 8 * 3


def test_genre_no_training_film_carries(caplog):
    bags, Y = synthetic(n=8)
    Y[:, 2] = 0
    Y[5, 2] = 1  # only film 5 carries genre 2: its fold has no positive example
    with caplog.at_level(logging.WARNING):
        res = cross_validate(MILClassifier(pool="avg", **FAST), bags, Y, make_folds(8),
                             genres=["A", "B", "Horror"], film_ids=[f"f{i}" for i in range(8)])
    assert "'Horror': no training film carries it in 1 fold" in caplog.text and "f5" in caplog.text
    assert np.isfinite(res.prob).all()


def test_nan_and_inf_features_name_film_and_column():
    bags, Y = synthetic(n=4)
    bags[2] = bags[2].copy()
    bags[2][0, 3] = np.nan
    bags[1] = bags[1].copy()
    bags[1][-1, 0] = np.inf
    with pytest.raises(FilmscoreError) as e:
        MILClassifier(pool="avg", **FAST).cross_validate(bags, Y, make_folds(4), film_ids=["w", "x", "y", "z"],
                                                         columns=["c0", "c1", "c2", "tempo", "c4"])
    text = str(e.value)
    assert "film y" in text and "'tempo'" in text and "NaN" in text
    assert "film x" in text and "'c0'" in text and "infinite" in text


def test_bad_estimator_parameters():
    bags, Y = synthetic(n=4)
    with pytest.raises(FilmscoreError, match="pool"):
        MILClassifier(pool="mean").fit(bags, Y)
    with pytest.raises(FilmscoreError, match="attend_layers"):
        MILClassifier(pool="multi_attention", layers=2, attend_layers=(2, 3)).fit(bags, Y)
    with pytest.raises(FilmscoreError, match="lr"):
        MILClassifier(lr=-1.0).fit(bags, Y)
    with pytest.raises(FilmscoreError, match="shape"):
        check_bags([np.ones(3)], None)


def test_save_load_and_predict_heldout(tmp_path):
    bags, Y = synthetic(n=8)
    res = MILClassifier(pool="feature_attention", **FAST).cross_validate(bags, Y, make_folds(8),
                                                                         genres=["a", "b", "c"])
    np.testing.assert_allclose(res.predict_heldout(bags), res.prob, atol=1e-6)
    from filmscore.files import write_table

    write_table(res.predictions(), tmp_path / "predictions.parquet")
    res.save(tmp_path)
    res.save(tmp_path / "again")  # the same models give the same bytes (DVC hashes stay put)
    assert (tmp_path / "model.pt").read_bytes() == (tmp_path / "again" / "model.pt").read_bytes()
    back = CVResult.load(tmp_path)
    np.testing.assert_allclose(back.prob, res.prob)
    np.testing.assert_allclose(back.predict_heldout(bags), res.prob, atol=1e-6)
    # a permuted feature changes the held-out predictions
    rng = np.random.default_rng(0)
    allx = np.concatenate(bags)
    perm = allx[rng.permutation(len(allx)), 1]
    permuted = [b.copy() for b in bags]
    start = 0
    for b in permuted:
        b[:, 1] = perm[start: start + len(b)]
        start += len(b)
    assert not np.allclose(back.predict_heldout(permuted), res.prob)
