"""The six MIL pooling functions of the study, written once on a bag index.

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

* ``sigmoid`` (Kong et al.): w_i = sigmoid(s_i) and the pooled vector is
  sum_i w_i x_i / sum_i w_i, exactly the table's formula (Kong et al. clamp each weight
  at 1e-7, which only matters for scores below about -16; here the sum is floored at
  1e-30 against underflow instead);
* ``softmax`` (Ilse et al.): the same formula with w_i = exp(s_i) (shifted by the bag's
  maximum score for numerical safety, which cancels in the ratio).

Linear softmax divides by sum_i x_ik; the embeddings are ReLU outputs (>= 0), so the
ratio lies in [0, max_i x_ik]; where every x_ik is 0 the ratio is defined as 0.

**Layout.** Each formula is written on `Bags`, an index of which bag each instance
belongs to. Instances are *packed* element-major, ``(F, K, I)`` (F folds, K elements,
I instances of the batch; the layout in which every fold's layers run as matrix
products without copies), and per-bag sums are one matrix product with a 0/1
bag-membership matrix. Padded input (``(F, B, N, K)`` with a ``(B, N)`` or per-fold
``(F, B, N)`` mask, True = a real instance) goes through `Bags` and the padded
wrappers (`max_pool`, `avg_pool`, ...), which return ``(F, B, K)``: a padded position
never enters any formula, so padding never changes a result. Every bag pooled must
hold at least one instance (the models predict an empty bag from the training-fold
prior instead). Instances may be bfloat16 (``bf16-mixed`` training): the per-bag
results (`Bags.sum`, `Bags.max`) are then float32, and so is every formula after them.
"""

from __future__ import annotations

import torch

from .names import ATTENTION_NORMS, POOLS

#: floor of the sum of sigmoid attention weights over a bag (against underflow)
ATTENTION_EPS = 1e-30
#: smallest denominator of linear softmax pooling
LINEAR_SOFTMAX_EPS = 1e-12


def _widen(t: torch.Tensor) -> torch.Tensor:
    """Per-bag results of bfloat16 instances in float32: the bags are few, and every
    formula on them (division, output layer, loss) then runs at full precision."""
    return t.float() if t.dtype == torch.bfloat16 else t


class Bags:
    """Which bag each packed instance belongs to.

    Packed tensors are (F, K, I). ``members``: 0/1 membership matrix (I, B), or
    (F, I, B) when each fold has its own instances (the per-fold layout, where every
    padded slot is an instance of weight 0); ``count``: instances per bag, (1|F, 1, B).

    ``multiple`` (packed layout): I is rounded up to a multiple of it with *spare*
    instances that belong to no bag (a zero row of ``members``; `max` gives them a
    segment of their own and drops it; `gather` gives them +inf, so an attention
    weight exp(s - shift) or w / sum is 0 there). They never enter a result; they
    only make the shapes of a training run repeat, which bfloat16 matrix products
    need to reuse their compiled kernels (docs/models.md, Speed).
    """

    def __init__(self, mask: torch.Tensor, multiple: int = 1):
        if mask.dim() not in (2, 3):
            raise ValueError(f"mask must be (bags, instances) or (folds, bags, instances), not {tuple(mask.shape)}")
        self.mask = mask.bool()
        self.per_fold = mask.dim() == 3
        self.B, self.N = mask.shape[-2:]
        bag_ids = torch.arange(self.B, device=mask.device)
        self.lengths = self.mask.sum(-1)
        if self.per_fold:
            self.slots = torch.arange(self.B * self.N, device=mask.device)
            self.bag = self.slots // self.N
            self.members = ((self.bag.unsqueeze(1) == bag_ids.unsqueeze(0)).unsqueeze(0)
                            & self.mask.reshape(mask.shape[0], -1, 1)).float()
            self.count = self.mask.sum(2).unsqueeze(1)
        else:
            self.slots = self.mask.reshape(-1).nonzero().squeeze(1)
            n = int(self.slots.numel())
            self.n_spare = -n % multiple if n else 0
            # spare instances point at bag B, which does not exist: no membership, +inf on gather
            self.bag = torch.cat([self.slots // self.N, self.slots.new_full((self.n_spare,), self.B)])
            self.members = (self.bag.unsqueeze(1) == bag_ids.unsqueeze(0)).float()
            self.count = self.mask.sum(1).view(1, 1, self.B)

    n_spare = 0

    @property
    def n_instances(self) -> int:
        """Real instances (spare ones not counted)."""
        return int(self.slots.numel())

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """Padded (F, B, N, K) -> packed (F, K, I)."""
        if x.shape[1:3] != (self.B, self.N):
            raise ValueError(f"padded shape {tuple(x.shape)} does not match the mask {tuple(self.mask.shape)}")
        flat = x.reshape(x.shape[0], self.B * self.N, x.shape[-1])
        if not self.per_fold:
            flat = self.spare(flat.index_select(1, self.slots), dim=1)
        return flat.transpose(1, 2)

    def spare(self, t: torch.Tensor, dim: int) -> torch.Tensor:
        """Append the spare instances (zeros) to real instances along ``dim``."""
        if not self.n_spare:
            return t
        shape = list(t.shape)
        shape[dim] = self.n_spare
        return torch.cat([t, t.new_zeros(shape)], dim)

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """Per-bag sum over instances: (F, K, I) -> (F, K, B) (float32 for bfloat16 instances)."""
        return _widen(torch.matmul(t, self.members.to(t.dtype)))

    def max(self, t: torch.Tensor) -> torch.Tensor:
        """Per-bag maximum over instances: (F, K, I) -> (F, K, B) (float32 for bfloat16 instances)."""
        return _widen(self._max(t))

    def _max(self, t: torch.Tensor) -> torch.Tensor:
        F, K, _ = t.shape
        if self.per_fold:
            padded = t.reshape(F, K, self.B, self.N)
            return padded.masked_fill(~self.mask.unsqueeze(1), float("-inf")).amax(dim=3)
        if bool((self.lengths > 0).all()):
            # packed instances are bag-major: each bag is a contiguous segment (the spare ones too)
            lengths = self.lengths
            if self.n_spare:
                lengths = torch.cat([lengths, lengths.new_full((1,), self.n_spare)])
            out = torch.segment_reduce(t, "max", lengths=lengths.expand(F, K, len(lengths)), axis=2)
            return out[..., : self.B] if self.n_spare else out
        real = t[..., : self.slots.numel()] if self.n_spare else t
        padded = t.new_full((F, K, self.B * self.N), float("-inf")).index_copy(2, self.slots, real)
        return padded.view(F, K, self.B, self.N).amax(dim=3)

    def valid(self, t: torch.Tensor) -> torch.Tensor:
        """Zero on padding slots (per-fold layout only; packed instances are all real)."""
        if not self.per_fold:
            return t
        m = self.mask.reshape(self.mask.shape[0], 1, -1)
        return torch.where(m, t, torch.zeros((), dtype=t.dtype))

    def gather(self, h: torch.Tensor) -> torch.Tensor:
        """Per-bag values back to their instances: (F, K, B) -> (F, K, I); +inf on spare ones."""
        if self.n_spare:
            h = torch.cat([h, h.new_full(h.shape[:2] + (1,), float("inf"))], 2)
        return h.index_select(2, self.bag)


# ---------------------------------------------------------------- the formulas


def bag_max(x: torch.Tensor, bags: Bags) -> torch.Tensor:
    """h_k = max_i x_ik."""
    return bags.max(x)


def bag_avg(x: torch.Tensor, bags: Bags) -> torch.Tensor:
    """h_k = (1/|B|) sum_i x_ik."""
    s = bags.sum(x)
    return s / bags.count.clamp_min(1).to(s.dtype)


def bag_linear_softmax(x: torch.Tensor, bags: Bags) -> torch.Tensor:
    """h_k = sum_i x_ik^2 / sum_i x_ik (Wang et al. 2019); 0 where the denominator is 0."""
    num, den = bags.sum(x * x), bags.sum(x)
    safe = den.abs() > LINEAR_SOFTMAX_EPS
    return torch.where(safe, num / torch.where(safe, den, torch.ones((), dtype=x.dtype)), torch.zeros((), dtype=x.dtype))


def _unnormalised(scores: torch.Tensor, bags: Bags, norm: str) -> torch.Tensor:
    """w_i before normalisation: sigmoid(s_i), or exp(s_i - max over the bag)."""
    if norm == "sigmoid":
        return bags.valid(torch.sigmoid(scores))
    if norm == "softmax":
        with torch.no_grad():
            shift = bags.gather(bags.max(scores))
        return bags.valid(torch.exp(scores - shift))
    raise ValueError(f"unknown attention normalisation {norm!r}; use one of {ATTENTION_NORMS}")


def bag_attention(values: torch.Tensor, scores: torch.Tensor, bags: Bags, norm: str = "sigmoid") -> torch.Tensor:
    """h_k = sum_i w_ik v_ik / sum_i w_ik, w the attention of ``scores``.

    ``scores``: (F, 1, I) for one weight per instance (single attention, broadcast over
    the elements) or (F, K, I) for one per element (multi-level, feature-level).
    """
    w = _unnormalised(scores, bags, norm)
    return bags.sum(w * values) / bags.sum(w).clamp_min(ATTENTION_EPS)


def bag_attention_weights(scores: torch.Tensor, bags: Bags, norm: str = "sigmoid") -> torch.Tensor:
    """The normalised weights w_i / sum_j w_j of `bag_attention`, per instance (F, K, I)."""
    w = _unnormalised(scores, bags, norm)
    return w / bags.gather(bags.sum(w).clamp_min(ATTENTION_EPS))


# ---------------------------------------------------------------- padded wrappers


def _out(h: torch.Tensor) -> torch.Tensor:
    return h.transpose(1, 2)  # (F, K, B) -> (F, B, K)


def max_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`bag_max` of padded x (F, B, N, K) with mask (B, N) or (F, B, N) -> (F, B, K)."""
    b = Bags(mask)
    return _out(bag_max(b.pack(x), b))


def avg_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`bag_avg` of padded x with its mask -> (F, B, K)."""
    b = Bags(mask)
    return _out(bag_avg(b.pack(x), b))


def linear_softmax_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`bag_linear_softmax` of padded x with its mask -> (F, B, K)."""
    b = Bags(mask)
    return _out(bag_linear_softmax(b.pack(x), b))


def attention_pool(values: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor, norm: str = "sigmoid") -> torch.Tensor:
    """`bag_attention` of padded values (F, B, N, K) and scores (F, B, N, 1 or K) -> (F, B, K)."""
    b = Bags(mask)
    return _out(bag_attention(b.pack(values), b.pack(scores), b, norm))


def attention_weights(scores: torch.Tensor, mask: torch.Tensor, norm: str = "sigmoid") -> torch.Tensor:
    """Normalised attention weights in the padded layout (F, B, N, K), 0 on pads."""
    b = Bags(mask)
    w = bag_attention_weights(b.pack(scores), b, norm)  # (F, K, I)
    F, K = scores.shape[0], scores.shape[-1]
    if b.per_fold:
        out = w.transpose(1, 2) * b.mask.reshape(F, -1, 1)
    else:
        out = scores.new_zeros(F, b.B * b.N, K).index_copy(1, b.slots, w.transpose(1, 2))
    return out.reshape(F, b.B, b.N, K)


__all__ = [
    "POOLS", "ATTENTION_NORMS", "Bags", "bag_max", "bag_avg", "bag_linear_softmax", "bag_attention",
    "bag_attention_weights", "max_pool", "avg_pool", "linear_softmax_pool", "attention_pool", "attention_weights",
]
