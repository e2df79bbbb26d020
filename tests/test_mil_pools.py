"""The six poolings against hand-computed values, with masks; padding and order invariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from filmscore.mil.data import pad_bags
from filmscore.mil.lightning import MODULES, make_module
from filmscore.mil.pools import Bags, bag_attention, bag_attention_weights, bag_avg, bag_linear_softmax, bag_max
from filmscore.mil.pools import attention_pool, attention_weights, avg_pool, linear_softmax_pool, max_pool

# Two bags, K = 2 elements: bag 0 has two instances and one pad (garbage), bag 1 three.
X = torch.tensor([[[1.0, 2.0], [3.0, 0.0], [99.0, -99.0]],
                  [[0.0, 4.0], [2.0, 2.0], [4.0, 0.0]]]).unsqueeze(0)  # (F=1, B=2, N=3, K=2)
MASK = torch.tensor([[True, True, False], [True, True, True]])


def test_max_pool_hand_values():
    assert max_pool(X, MASK).tolist() == [[[3.0, 2.0], [4.0, 4.0]]]


def test_avg_pool_hand_values():
    torch.testing.assert_close(avg_pool(X, MASK), torch.tensor([[[2.0, 1.0], [2.0, 2.0]]]))


def test_linear_softmax_hand_values():
    # bag 0: (1+9)/(1+3) = 2.5, (4+0)/(2+0) = 2 ; bag 1: (0+4+16)/(0+2+4) = 20/6 twice
    torch.testing.assert_close(linear_softmax_pool(X, MASK), torch.tensor([[[2.5, 2.0], [20 / 6, 20 / 6]]]))


def test_linear_softmax_zero_denominator_is_zero_with_zero_gradient():
    x = torch.zeros(1, 1, 2, 2, requires_grad=True)
    h = linear_softmax_pool(x, torch.tensor([[True, True]]))
    h.sum().backward()
    assert h.tolist() == [[[0.0, 0.0]]]
    assert torch.isfinite(x.grad).all()


def test_single_attention_softmax_and_sigmoid_hand_values():
    scores = torch.tensor([[[0.0], [math.log(3.0)], [50.0]], [[0.0], [0.0], [0.0]]]).unsqueeze(0)
    # softmax over the real instances of bag 0: w = (1, 3) / 4 -> h = (1/4 * 1 + 3/4 * 3, 1/4 * 2) ; bag 1 uniform
    soft = attention_pool(X, scores, MASK, "softmax")
    torch.testing.assert_close(soft, torch.tensor([[[2.5, 0.5], [2.0, 2.0]]]))
    # sigmoid-normalised (Kong et al.): sigmoid(0) = .5, sigmoid(ln 3) = .75 -> w = (.4, .6)
    sig = attention_pool(X, scores, MASK, "sigmoid")
    torch.testing.assert_close(sig, torch.tensor([[[0.4 * 1 + 0.6 * 3, 0.4 * 2], [2.0, 2.0]]]))
    # equal tiny weights (scores far below zero) still normalise to the plain average
    low = attention_pool(X, torch.full_like(scores, -60.0), MASK, "sigmoid")
    torch.testing.assert_close(low, avg_pool(X, MASK))
    assert torch.isfinite(attention_pool(X, torch.full_like(scores, -200.0), MASK, "sigmoid")).all()


def test_elementwise_attention_hand_values():
    # one score per element (multi-level / feature-level attention)
    scores = torch.zeros(1, 2, 3, 2)
    scores[0, 0, 0, 1] = math.log(3.0)  # bag 0, element 1: weights (3, 1) / 4 for instances (0, 1)
    w = attention_weights(scores, MASK, "softmax")
    torch.testing.assert_close(w[0, 0, :, 1], torch.tensor([0.75, 0.25, 0.0]))
    torch.testing.assert_close(w[0, 0, :, 0], torch.tensor([0.5, 0.5, 0.0]))
    h = attention_pool(X, scores, MASK, "softmax")
    torch.testing.assert_close(h[0, 0], torch.tensor([2.0, 0.75 * 2 + 0.25 * 0]))


def test_attention_weights_sum_to_one_and_zero_on_pads():
    scores = torch.randn(3, 2, 3, 4) * 5
    for norm in ("softmax", "sigmoid"):
        w = attention_weights(scores, MASK, norm)
        torch.testing.assert_close(w.sum(2), torch.ones(3, 2, 4))
        assert (w[:, 0, 2] == 0).all()


@pytest.mark.parametrize("fn", [max_pool, avg_pool, linear_softmax_pool,
                                lambda x, m: attention_pool(x, x[..., :1], m, "softmax"),
                                lambda x, m: attention_pool(x, x, m, "sigmoid")])
def test_pools_ignore_pads_and_instance_order(fn):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 5, 4, generator=g)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False], [True, False, False, False, False]])
    ref = fn(x, mask)
    garbage = x.clone()
    garbage[:, ~mask] = 1e6
    torch.testing.assert_close(fn(garbage, mask), ref)
    perm = torch.tensor([2, 0, 1, 3, 4])  # reorder the real instances of every bag (bags 1, 2 keep pads last)
    torch.testing.assert_close(fn(x[:, :, perm][:, :, :], mask[:, perm]), ref)


def test_per_fold_masks():
    x = torch.rand(2, 1, 3, 2)
    m = torch.tensor([[[True, True, False]], [[True, False, False]]])
    out = avg_pool(x, m)
    torch.testing.assert_close(out[0, 0], x[0, 0, :2].mean(0))
    torch.testing.assert_close(out[1, 0], x[1, 0, 0])


@pytest.mark.parametrize("pool", list(MODULES))
def test_modules_padding_and_order_invariant(pool):
    rng = np.random.default_rng(1)
    bags = [rng.normal(size=(k, 6)).astype(np.float32) for k in (2, 5, 1)]
    m = make_module(pool, n_features=6, n_genres=3, n_folds=2, hidden=8, seed=3).eval()
    with torch.no_grad():
        m.scale.copy_(torch.rand(2, 6) + 0.5)
        m.mean.copy_(torch.randn(2, 6))
        x, mask, _ = pad_bags(bags)
        together = m.predict_bags(x, mask)
        for i, b in enumerate(bags):  # each bag alone: no padding at all
            xi, mi, _ = pad_bags([b])
            torch.testing.assert_close(m.predict_bags(xi, mi)[:, 0], together[:, i], rtol=1e-5, atol=1e-6)
        shuffled = [b[::-1].copy() for b in bags]
        xs, ms, _ = pad_bags(shuffled)
        torch.testing.assert_close(m.predict_bags(xs, ms), together, rtol=1e-5, atol=1e-6)
        # the per-fold path (each fold its own bags) agrees with the shared path
        xf = x.unsqueeze(0).expand(2, -1, -1, -1).clone()
        xf[:, ~mask] = 123.0  # garbage in the pads
        torch.testing.assert_close(m.predict_per_fold(xf, mask.unsqueeze(0).expand(2, -1, -1)), together,
                                   rtol=1e-5, atol=1e-6)


def test_empty_bag_gets_prior():
    m = make_module("avg", n_features=3, n_genres=2, n_folds=1, hidden=4)
    m.set_fold_stats(np.zeros((1, 3)), np.ones((1, 3)), np.ones((1, 2)), np.ones((1, 2)), np.array([[0.25, 0.75]]))
    x, mask, _ = pad_bags([np.zeros((0, 3), dtype=np.float32), np.ones((2, 3), dtype=np.float32)])
    p = m.predict_bags(x, mask)
    assert p[0, 0].tolist() == [0.25, 0.75]
    assert p[0, 1].tolist() != [0.25, 0.75]


@pytest.mark.parametrize("norm", ["sigmoid", "softmax"])
def test_spare_instances_never_change_a_result(norm):
    """Bags(mask, multiple) rounds the packed instances up with spare ones in no bag:
    every pooling gives exactly what it gives without them, gradients included."""
    torch.manual_seed(3)
    mask = torch.arange(6)[None] < torch.tensor([6, 2, 1, 4])[:, None]  # 13 real instances
    plain, spared = Bags(mask), Bags(mask, multiple=8)
    assert spared.n_spare == 3 and spared.n_instances == 13 and spared.members.shape == (16, 4)
    x = torch.randn(2, 5, 13, dtype=torch.float64)
    s = torch.randn(2, 5, 13, dtype=torch.float64) * 30  # large scores: exp overflow would show
    junk = torch.randn(2, 5, 3, dtype=torch.float64) * 1e3  # what the network makes of a spare instance
    xs = torch.cat([x, junk], 2).requires_grad_()
    ss = torch.cat([s, junk], 2).requires_grad_()
    xp, sp = x.clone().requires_grad_(), s.clone().requires_grad_()
    for f in (lambda v, w, b: bag_max(v, b), lambda v, w, b: bag_avg(v, b),
              lambda v, w, b: bag_linear_softmax(v.abs(), b),
              lambda v, w, b: bag_attention(v, w, b, norm)):
        want, got = f(xp, sp, plain), f(xs, ss, spared)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        gw = torch.autograd.grad(want.sum(), [xp, sp], allow_unused=True, materialize_grads=True)
        gg = torch.autograd.grad(got.sum(), [xs, ss], allow_unused=True, materialize_grads=True)
        for a, b in zip(gw, gg):
            torch.testing.assert_close(b[..., :13], a, rtol=1e-12, atol=1e-12)
            assert torch.isfinite(b).all() and (b[..., 13:] == 0).all()
    w = bag_attention_weights(ss, spared, norm)
    torch.testing.assert_close(w[..., :13], bag_attention_weights(sp, plain, norm))
    assert (w[..., 13:] == 0).all()
