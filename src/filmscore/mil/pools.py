"""The six MIL pooling functions of the study, on padded bags with masks.

Every function takes instance embeddings ``x`` of shape ``(F, B, N, K)``
(folds, bags, instances, elements; pads anywhere along ``N``) and a boolean
``mask`` of shape ``(B, N)`` (True = a real instance; or ``(F, B, N)`` when each
fold pools its own bags), and returns the
pooled bag vectors ``h`` of shape ``(F, B, K)``. A padded instance never
changes a result: every formula below runs over the real instances only.
``pads_zero=True`` tells a function that the pads of ``x`` already hold zeros
(as the models' unpacked embeddings do), which saves a masking pass.
An empty bag (no real instance) is never pooled: the models predict it from
the training-fold prior (see `filmscore.mil.lightning`).

Formulas (x_i: embedding of instance i of bag B, k: element, h: pooled vector),
as restated in SPEC.md (Table 3 of the paper):

=====================  ====================================================  ============================
name                   formula                                               reference
=====================  ====================================================  ============================
``max``                h_k = max_i x_ik                                      (standard MI assumption)
``avg``                h_k = (1/|B|) sum_i x_ik                              (Simple-MI style mean)
``linear_softmax``     h_k = sum_i x_ik^2 / sum_i x_ik                       Wang, Li & Metze 2019
``single_attention``   h_k = sum_i w_i x_ik / sum_i w_i,  w_i learned        Ilse, Tomczak & Welling 2018
``multi_attention``    h^(L)_k = sum_i w^(L)_ik x^(L)_ik / sum_i w^(L)_ik,   Yu et al. 2018 / Kong et al. 2019
                       at several embedding layers L, concatenated
``feature_attention``  h_k = sum_i q(x_i)_k u(x_i)_k, q normalised over B    Kong et al. 2019
=====================  ====================================================  ============================

References:
  Ilse, Tomczak, Welling. Attention-based deep multiple instance learning. ICML 2018.
  Wang, Li, Metze. A comparison of five multiple instance learning pooling functions
    for sound event detection with weak labeling. ICASSP 2019.
  Kong, Yu, Wang, Kong, Plumbley. Weakly labelled AudioSet tagging with attention neural
    networks. IEEE/ACM TASLP 27(11), 2019 (feature-level attention; sigmoid-normalised
    attention; the embedding architecture the paper adopts).
  Yu, Kong, et al. Multi-level attention model for weakly supervised audio classification.
    DCASE 2018 workshop (attention at several embedding layers, concatenated).

Attention normalisation (left open by the paper) is a parameter, ``train.attention``:

* ``sigmoid`` (Kong et al.): w_i = clamp(sigmoid(s_i), eps, 1 - eps), then divided by the
  sum over the bag, i.e. exactly the formula sum_i w_i x_i / sum_i w_i;
* ``softmax`` (Ilse et al.): w_i = exp(s_i) / sum_j exp(s_j), the same formula with
  w_i = exp(s_i).

Linear softmax divides by sum_i x_ik; the embeddings are ReLU outputs (>= 0), so the
ratio lies in [0, max_i x_ik]; where every x_ik is 0 the ratio is defined as 0.
"""

from __future__ import annotations

import torch

from .names import ATTENTION_NORMS, POOLS

#: clamp of the sigmoid attention weights (Kong et al. 2019 use 1e-7)
ATTENTION_EPS = 1e-7
#: smallest denominator of linear softmax pooling
LINEAR_SOFTMAX_EPS = 1e-12


def _m(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B, N) or per-fold (F, B, N) mask -> broadcastable against (F, B, N, K)."""
    if mask.shape[-2:] != x.shape[1:3] or mask.dim() not in (2, 3) or (mask.dim() == 3 and mask.shape[0] != x.shape[0]):
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match (folds,) bags x instances {tuple(x.shape[:3])}")
    return mask[None, :, :, None] if mask.dim() == 2 else mask[..., None]


def max_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """h_k = max over the bag's instances of x_ik."""
    return x.masked_fill(~_m(mask, x), float("-inf")).amax(dim=2)


def _zero_pads(x: torch.Tensor, mask: torch.Tensor, pads_zero: bool) -> torch.Tensor:
    return x if pads_zero else torch.where(_m(mask, x), x, torch.zeros((), dtype=x.dtype))


def avg_pool(x: torch.Tensor, mask: torch.Tensor, pads_zero: bool = False) -> torch.Tensor:
    """h_k = (1/|B|) sum_i x_ik."""
    count = _m(mask, x).sum(dim=2).clamp_min(1).to(x.dtype)
    return _zero_pads(x, mask, pads_zero).sum(dim=2) / count


def linear_softmax_pool(x: torch.Tensor, mask: torch.Tensor, pads_zero: bool = False) -> torch.Tensor:
    """h_k = sum_i x_ik^2 / sum_i x_ik (Wang et al. 2019); 0 where the denominator is 0."""
    _m(mask, x)
    xm = _zero_pads(x, mask, pads_zero)
    num = (xm * xm).sum(dim=2)
    den = xm.sum(dim=2)
    safe = den.abs() > LINEAR_SOFTMAX_EPS
    return torch.where(safe, num / torch.where(safe, den, torch.ones((), dtype=x.dtype)), torch.zeros((), dtype=x.dtype))


def attention_weights(scores: torch.Tensor, mask: torch.Tensor, norm: str = "sigmoid") -> torch.Tensor:
    """Attention weights normalised over each bag's real instances.

    ``scores``: (F, B, N, K) with K = 1 (one weight per instance) or one weight per
    element. Returns weights of the same shape that sum to 1 over the instances of
    each bag (0 on pads).
    """
    m = _m(mask, scores)
    if norm == "softmax":
        return torch.softmax(scores.masked_fill(~m, float("-inf")), dim=2)
    if norm == "sigmoid":
        a = torch.sigmoid(scores).clamp(ATTENTION_EPS, 1.0 - ATTENTION_EPS)
        a = torch.where(m, a, torch.zeros((), dtype=a.dtype))
        return a / a.sum(dim=2, keepdim=True).clamp_min(ATTENTION_EPS)
    raise ValueError(f"unknown attention normalisation {norm!r}; use one of {ATTENTION_NORMS}")


def attention_pool(values: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor, norm: str = "sigmoid",
                   pads_zero: bool = False) -> torch.Tensor:
    """h_k = sum_i w_ik v_ik / sum_i w_ik with w = the normalised attention of ``scores``.

    Single attention passes one score per instance (K = 1, broadcast over the
    elements); multi-level and feature-level attention pass one per element.
    """
    w = attention_weights(scores, mask, norm)
    return (w * _zero_pads(values, mask, pads_zero)).sum(dim=2)


__all__ = [
    "POOLS", "ATTENTION_NORMS", "max_pool", "avg_pool", "linear_softmax_pool",
    "attention_weights", "attention_pool",
]
