"""bf16-mixed training: bfloat16 instance activations, float32 weights, per-bag formulas,
loss and prediction; and the malloc setting that training applies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from mallinfo import require_mallinfo2, run_probe
from sklearn.metrics import roc_auc_score

from filmscore.errors import FilmscoreError
from filmscore.mil import MILClassifier
from filmscore.mil.lightning import make_module
from filmscore.mil.pools import POOLS, avg_pool, max_pool


def test_pooled_bfloat16_instances_give_float32_bags():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(2, 3, 40, 5)) * 10, dtype=torch.float32)
    mask = torch.zeros(3, 40, dtype=torch.bool)
    for b, n in enumerate((40, 7, 1)):
        mask[b, :n] = True
    xb = x.to(torch.bfloat16)
    exact = xb.double()  # the bfloat16 values, summed exactly
    avg, mx = avg_pool(xb, mask), max_pool(xb, mask)
    assert avg.dtype == torch.float32 and mx.dtype == torch.float32
    for b, n in enumerate((40, 7, 1)):
        want = exact[:, b, :n].mean(1)
        # the sum of a bag is rounded once to bfloat16 (8 significant bits) before the division
        torch.testing.assert_close(avg[:, b].double(), want, rtol=2 ** -8, atol=1e-6)
        torch.testing.assert_close(mx[:, b].double(), exact[:, b, :n].amax(1), rtol=0, atol=0)


@pytest.mark.parametrize("pool", POOLS)
def test_bf16_mixed_module_keeps_float32_weights_gradients_and_prediction(pool):
    torch.manual_seed(0)
    kw = dict(n_features=6, n_genres=3, n_folds=4, hidden=16, seed=1)
    bf, fp = make_module(pool, precision="bf16-mixed", **kw), make_module(pool, **kw)
    fp.load_state_dict(bf.state_dict())
    x = torch.randn(5, 9, 6)
    mask = torch.arange(9)[None] < torch.tensor([9, 3, 1, 6, 2])[:, None]
    bf.train(), fp.train()
    lb, lf = bf(x, mask), fp(x, mask)
    assert lb.dtype == torch.float32
    # bfloat16 activations: close to float32, but not the same arithmetic
    torch.testing.assert_close(lb, lf, rtol=0.05, atol=0.05)
    assert not torch.equal(lb, lf)
    lb.sum().backward()
    assert all(p.dtype == torch.float32 and p.grad is not None and p.grad.dtype == torch.float32
               for p in bf.parameters())
    # prediction is float32 whatever the training arithmetic
    torch.testing.assert_close(bf.predict_bags(x, mask), fp.predict_bags(x, mask), rtol=0, atol=0)


def _digit_bags(n, k, rng, images, labels, pos=7):
    bags, y = [], []
    pos_pool, neg_pool = np.flatnonzero(labels == pos), np.flatnonzero(labels != pos)
    for i in range(n):
        idx = rng.choice(neg_pool, size=k)
        if i % 2 == 0:
            idx[rng.integers(0, k)] = rng.choice(pos_pool)
        bags.append(images[idx])
        y.append(int(np.isin(idx, pos_pool).any()))
    return bags, np.array(y)[:, None]


def test_bf16_mixed_learns_the_digit_bags():
    """The known-answer problem of test_mil_train, trained in bf16-mixed: a bag is positive
    when it holds a 7; attention pooling finds it."""
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(d.target))
    Xtr, ytr = _digit_bags(96, 7, rng, d.data[order[:1200]], d.target[order[:1200]])
    Xte, yte = _digit_bags(120, 7, rng, d.data[order[1200:]], d.target[order[1200:]])
    clf = MILClassifier(pool="single_attention", hidden=32, epochs=30, lr=5e-3, batch_size=16,
                        precision="bf16-mixed", show_progress=False)
    p = clf.fit(Xtr, ytr).predict_proba(Xte)[:, 0]
    assert roc_auc_score(yte[:, 0], p) > 0.95


def test_bad_precision():
    bags = [np.ones((2, 3)), np.zeros((1, 3))]
    with pytest.raises(FilmscoreError, match="precision"):
        MILClassifier(precision="16-mixed").fit(bags, np.array([[1], [0]]))
    with pytest.raises(ValueError, match="precision"):
        make_module("avg", n_features=3, n_genres=1, precision="bf16")



MALLOC_PROBE = r"""
import sys
from filmscore.malloc import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
print(mapped_by(16 << 20))
"""


def test_keep_freed_memory_serves_large_blocks_from_the_heap():
    """glibc's default serves a 16 MiB block by mmap (and unmaps it when freed); after
    keep_freed_memory it comes from the heap, which keeps it for the next step."""
    require_mallinfo2()

    def mapped(mode):
        return int(run_probe(MALLOC_PROBE, mode).stdout.split()[-1])

    assert mapped("default") >= 16 << 20
    assert mapped("keep") == 0


def test_bf16_mixed_same_seed_same_results_and_close_to_float32():
    rng = np.random.default_rng(4)
    Y = (rng.random((12, 3)) < 0.5).astype(int)
    bags = [rng.normal(size=(int(rng.integers(1, 30)), 6)) + Y[i] @ rng.normal(size=(3, 6)) for i in range(12)]
    folds = np.arange(12) % 4
    kw = dict(pool="multi_attention", hidden=16, epochs=6, batch_size=4, lr=1e-2, show_progress=False)
    a = MILClassifier(precision="bf16-mixed", **kw).cross_validate(bags, Y, folds)
    b = MILClassifier(precision="bf16-mixed", **kw).cross_validate(bags, Y, folds)
    np.testing.assert_array_equal(a.prob, b.prob)
    f = MILClassifier(precision="32-true", **kw).cross_validate(bags, Y, folds)
    assert 0 < np.abs(a.prob - f.prob).max() < 0.05


def test_standardise_then_cast_keeps_a_large_mean_feature():
    """A feature of mean 1000 and SD 1 carries the genre (films shifted by +-1): bfloat16 holds
    1000 +- 2 as 1000 exactly, so cast raw it says nothing; standardised in float32 first, the
    bf16-mixed model learns the rule (held-out, 5 folds: each fold's own statistics)."""
    rng = np.random.default_rng(0)
    n = 60
    y = (np.arange(n) % 2).astype(int)
    bags = []
    for i in range(n):
        k = int(rng.integers(3, 8))
        big = 1000.0 + (1.0 if y[i] else -1.0) + np.clip(rng.normal(0, 0.3, k), -0.9, 0.9)
        bags.append(np.column_stack([big, rng.normal(0, 1, k)]))  # a second, uninformative feature
    assert np.all(torch.tensor(np.concatenate(bags)[:, 0]).to(torch.bfloat16).float().numpy() == 1000.0)
    folds = np.arange(n) % 5
    clf = MILClassifier(pool="avg", hidden=16, epochs=40, lr=1e-2, batch_size=8, precision="bf16-mixed",
                        show_progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny products: more threads only contend
    try:
        res = clf.cross_validate(bags, y[:, None], folds)
    finally:
        torch.set_num_threads(threads)
    assert roc_auc_score(y, res.prob[:, 0]) > 0.95
    assert (res.pred[:, 0] == y).mean() > 0.9
