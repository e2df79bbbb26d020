"""The neural MIL models as LightningModules, one class per pooling type.

Architecture (Kong et al. 2019, as adopted by the paper): each instance goes
through ``layers`` dense embedding layers (``hidden`` units, ReLU), the bag's
instance embeddings are pooled (`filmscore.mil.pools`), and a dense output layer
with sigmoids gives one probability per genre; a genre is predicted when its
probability is >= the threshold (0.5).

**Fold batching.** Every parameter has a leading fold dimension F: one module
holds the F models of a cross-validation (one per fold) and trains them at once
(batched matrix products over folds). Each batch carries which of its films
train which fold; a fold's loss is the mean over its own training films only,
the sum of the fold losses is back-propagated (fold f's parameters receive
exactly fold f's gradient), and `FoldAdam` steps each fold's parameters only on
batches holding at least one of its training films, with that fold's own step
count. A fold's held-out film therefore never touches its model, and the F
models are the ones F separate trainings would give on the same batches from
the same initial weights (tested). F = 1 is an ordinary single model (trained
with torch.optim.Adam).

**Layout.** Activations are element-major, (F, hidden, instances), and hold the
real instances of the batch only (packed; padding exists in the batch tensors,
never in a computation): the first layer of all folds is then one matrix
product, the next ones batched products over folds, and per-bag pooling one
product with a bag-membership matrix (`pools.Bags`).

**Precision.** ``precision="32-true"`` computes in float32 (or the input's dtype).
``"bf16-mixed"`` runs the instance activations of training in bfloat16 (matrix
products on the CPU's bfloat16 units, half the memory traffic): weights, gradients,
Adam's moments, the per-bag pooled vectors, the output layer and the loss stay
float32 (weights are cast to bfloat16 where they meet instances, and the cast's
gradient is float32). Prediction always runs in float32. See docs/models.md for its
effect on speed and on the metrics.

**Loss.** Weighted binary cross-entropy on the logits, per genre g:
``-(w_pos_g * y * log sigmoid(z) + w_neg_g * (1 - y) * log(1 - sigmoid(z)))``,
averaged over the fold's training bags in the batch and the genres; the weights
come from the training fold's label distribution (`folds.class_weights`).

**Standardisation.** Instances are standardised inside the model with each fold's
own mean and scale (buffers, from `folds.fold_standardization`), so a saved model
applies its fold's standardisation to any bag it is given. The standardisation runs
in float32 before any bfloat16 cast (standardise, then cast): a raw feature whose mean
is large against its spread (a tempo of 120 +- 2 BPM, a centroid of 2000 +- 50 Hz)
would lose most of its spread to bfloat16's 8 significant bits.

**Empty bags.** A bag with no instance is not passed through the network: its
probabilities are the training fold's genre frequencies (buffer ``prior``).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as Fn
from torch import nn
from torch.optim.adam import adam as _adam_functional

from .names import PRECISIONS
from .pools import ATTENTION_NORMS, Bags, bag_attention, bag_avg, bag_linear_softmax, bag_max


#: bf16-mixed training rounds a batch's instances up to a multiple of this (spare instances
#: in no bag): bfloat16 matrix products compile a kernel per shape, and a fresh shape every
#: step cost a quarter of the step time on the benchmark machine (docs/models.md, Speed)
BF16_INSTANCE_MULTIPLE = 64


def _relu(h: torch.Tensor) -> torch.Tensor:
    """ReLU of a fresh activation: in place in float32, out of place in bfloat16 (each the
    faster there, with the bias add of `FoldLinear`; docs/models.md, Speed)."""
    return torch.relu(h) if h.dtype == torch.bfloat16 else h.relu_()


class FoldLinear(nn.Module):
    """A dense layer with one weight matrix per fold, on element-major activations:
    (F, n_in, M) -> (F, n_out, M), weight (F, n_out, n_in) as torch.nn.Linear's."""

    def __init__(self, n_folds: int, n_in: int, n_out: int):
        super().__init__()
        self.n_in, self.n_out = n_in, n_out
        self.weight = nn.Parameter(torch.empty(n_folds, n_out, n_in))
        self.bias = nn.Parameter(torch.empty(n_folds, n_out))

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        """torch.nn.Linear's default initialisation, the same draw copied to every fold."""
        bound = 1.0 / math.sqrt(self.n_in)
        w = torch.empty(self.n_out, self.n_in).uniform_(-bound, bound, generator=generator)
        b = torch.empty(self.n_out).uniform_(-bound, bound, generator=generator)
        self.weight.copy_(w.expand_as(self.weight))
        self.bias.copy_(b.expand_as(self.bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # weights cast to the activations' dtype (bfloat16 under bf16-mixed; float32 master weights)
        w, b = self.weight.to(x.dtype), self.bias.to(x.dtype).unsqueeze(2)
        if x.dtype == torch.bfloat16:
            return torch.baddbmm(b, w, x)  # oneDNN adds the bias in its bfloat16 kernel
        return torch.bmm(w, x).add_(b)  # float32 (MKL): faster than baddbmm, whose backward copies


class FoldAdam(torch.optim.Optimizer):
    """Adam over parameters with a leading fold dimension, stepping only active folds.

    ``step(active=...)`` takes a (F,) boolean tensor; an inactive fold keeps its
    parameters, moments and step count, exactly as if it had not seen the batch.
    The update is torch.optim.Adam's (bias-corrected moments, eps added to the
    corrected root of the second moment), with one step count per fold. While
    every fold has stepped equally often (the usual case: every batch holds
    training films of every fold) it runs torch's own fused Adam kernel on the
    stacked parameters; otherwise a masked per-fold update.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure: Callable | None = None, active: torch.Tensor | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            n_folds = params[0].shape[0]
            act = torch.ones(n_folds, dtype=torch.bool) if active is None else active.to(torch.bool).cpu()
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros(n_folds, dtype=torch.float64)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            steps = self.state[params[0]]["step"]
            if bool(act.all()) and bool((steps == steps[0]).all()):
                self._uniform_step(group, params, int(steps[0]) + 1)
            else:
                for p in params:
                    self._masked_step(group, p, act)

        return loss

    def _uniform_step(self, group: dict, params: list[torch.Tensor], step: int) -> None:
        b1, b2 = group["betas"]
        state_steps = [torch.tensor(float(step - 1)) for _ in params]  # the kernel adds 1
        _adam_functional(
            params, [p.grad for p in params], [self.state[p]["exp_avg"] for p in params],
            [self.state[p]["exp_avg_sq"] for p in params], [], state_steps, foreach=False, fused=True,
            amsgrad=False, beta1=b1, beta2=b2, lr=group["lr"], weight_decay=0.0, eps=group["eps"], maximize=False)
        for p in params:
            self.state[p]["step"] += 1

    def _masked_step(self, group: dict, p: torch.Tensor, act: torch.Tensor) -> None:
        b1, b2 = group["betas"]
        lr, eps = group["lr"], group["eps"]
        state = self.state[p]
        view = (p.shape[0],) + (1,) * (p.dim() - 1)
        a = act.view(view)
        g = p.grad
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.copy_(torch.where(a, m.lerp(g, 1 - b1), m))
        v.copy_(torch.where(a, v * b2 + (1 - b2) * g * g, v))
        state["step"] += act.to(torch.float64)
        s = state["step"].clamp_min(1)
        step_size = (lr / (1 - b1 ** s)).to(p.dtype).view(view)
        bc2_sqrt = torch.sqrt(1 - b2 ** s).to(p.dtype).view(view)
        denom = v.sqrt() / bc2_sqrt + eps
        p.copy_(torch.where(a, p - step_size * (m / denom), p))


class MILModule(pl.LightningModule):
    """Base class: embedding layers, loss, optimiser, fold masks; subclasses pool.

    Use `MODULES[pool]` (or `make_module`) to get the class of a pooling type.
    """

    pool_name = ""

    def __init__(self, n_features: int, n_genres: int, n_folds: int = 1, hidden: int = 64, layers: int = 3,
                 lr: float = 5e-5, attention: str = "sigmoid", attend_layers: Sequence[int] = (2, 3),
                 dropout: float = 0.0, seed: int = 0, precision: str = "32-true"):
        super().__init__()
        if attention not in ATTENTION_NORMS:
            raise ValueError(f"attention must be one of {ATTENTION_NORMS}, not {attention!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.n_folds, self.hidden, self.n_genres = n_folds, hidden, n_genres
        self.attention, self.attend_layers = attention, tuple(attend_layers)
        self.lr, self.dropout, self.precision = lr, dropout, precision
        dims = [n_features] + [hidden] * layers
        self.embed = nn.ModuleList(FoldLinear(n_folds, dims[i], dims[i + 1]) for i in range(layers))
        self.build_pool()
        self.head = FoldLinear(n_folds, self.pooled_dim, n_genres)
        self.register_buffer("mean", torch.zeros(n_folds, n_features))
        self.register_buffer("scale", torch.ones(n_folds, n_features))
        self.register_buffer("w_pos", torch.ones(n_folds, n_genres))
        self.register_buffer("w_neg", torch.ones(n_folds, n_genres))
        self.register_buffer("prior", torch.full((n_folds, n_genres), 0.5))
        self.reset_parameters(seed)
        self.epoch_loss: list[float] = []
        self._loss_sum, self._loss_n = 0.0, 0

    # -- subclasses
    pooled_dim: int

    def build_pool(self) -> None:
        self.pooled_dim = self.hidden

    def pool(self, layers: list[torch.Tensor], bags: Bags) -> torch.Tensor:
        """Pooled bag vectors (F, pooled_dim, B) from the embedding layers' outputs (F, hidden, I)."""
        raise NotImplementedError

    # -- set-up
    def reset_parameters(self, seed: int) -> None:
        g = torch.Generator().manual_seed(int(seed))
        for m in self.modules():
            if isinstance(m, FoldLinear):
                m.reset_parameters(g)

    @torch.no_grad()
    def set_fold_stats(self, mean: np.ndarray, scale: np.ndarray, w_pos: np.ndarray, w_neg: np.ndarray,
                       prior: np.ndarray) -> None:
        for name, value in (("mean", mean), ("scale", scale), ("w_pos", w_pos), ("w_neg", w_neg), ("prior", prior)):
            buf = getattr(self, name)
            buf.copy_(torch.as_tensor(np.asarray(value), dtype=buf.dtype).reshape(buf.shape))

    # -- forward
    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (F, B, G) of every fold's model for the same padded bags.

        x (B, N, D) with mask (B, N), every bag non-empty. Only the real instances
        are embedded (packed, element-major: (F, hidden, instances), see `pools.Bags`).
        Each fold's standardisation (x - m_f) / s_f is folded into its first layer, so the
        first layer of all folds is one matrix product (F*hidden x features) @ (features x
        instances). In bf16-mixed training the instances are first standardised in float32
        with the folds' average statistics, z = (x - m0) / s0, and only z is cast (a raw
        feature of mean 1000 and SD 1 would lose its spread to bfloat16's 8 bits); the fold's
        remainder z s0 / s_f + (m0 - m_f) / s_f is folded into its layer. m0 and s0 (means
        over the folds of the training statistics: features only, no label) set nothing but
        the rounding of the cast; in float32 m0 = 0, s0 = 1. In bf16-mixed
        training the instances are rounded up to a multiple of `BF16_INSTANCE_MULTIPLE`
        with spare ones that belong to no bag (`pools.Bags`).
        """
        B, N, D = x.shape
        F, H = self.n_folds, self.hidden
        dt = torch.bfloat16 if self.training and self.precision == "bf16-mixed" else x.dtype
        bags = Bags(mask, multiple=BF16_INSTANCE_MULTIPLE if dt == torch.bfloat16 else 1)
        xi = bags.spare(x.reshape(B * N, D).index_select(0, bags.slots), dim=0)  # (I, D), the real instances
        # bf16: standardise in float32 BEFORE the bfloat16 cast, z = (x - m0) / s0 with the folds' mean
        # statistics (a feature of mean 1000 and SD 1 would keep 1 bit of its spread in bfloat16 raw);
        # each fold's own (x - m_f) / s_f = z s0 / s_f + (m0 - m_f) / s_f is folded into its first layer.
        # float32: m0 = 0, s0 = 1 (nothing to round: each fold's model sees its own statistics only)
        if dt == torch.bfloat16:
            m0, s0 = self.mean.mean(0), self.scale.mean(0)
            z = (xi - m0).div_(s0)
        else:
            m0, s0, z = torch.zeros_like(self.mean[0]), torch.ones_like(self.scale[0]), xi
        first = self.embed[0]
        inv = 1.0 / self.scale
        w1 = (first.weight * (s0 * inv).unsqueeze(1)).reshape(F * H, D)
        b1 = first.bias + torch.bmm(first.weight, ((m0 - self.mean) * inv).unsqueeze(2)).squeeze(2)
        w1, b1, xt = w1.to(dt), b1.reshape(F * H, 1).to(dt), z.t().to(dt)
        h = _relu(torch.addmm(b1, w1, xt) if dt == torch.bfloat16 else torch.mm(w1, xt).add_(b1)).view(F, H, -1)
        return self._out(self.pool(self._rest(h), bags))

    def forward_per_fold(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (F, B, G) where fold f's model sees its own bags x[f].

        x (F, B, N, D) with mask (F, B, N); every bag non-empty. Used to predict
        each fold's held-out films with that fold's model only.
        """
        F, B, N, D = x.shape
        h = ((x.reshape(F, B * N, D) - self.mean.unsqueeze(1)) / self.scale.unsqueeze(1)).transpose(1, 2)
        return self._out(self.pool(self._rest(torch.relu(self.embed[0](h))), Bags(mask)))

    def _out(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.head(pooled).transpose(1, 2)  # (F, G, B) -> (F, B, G)

    def _rest(self, h: torch.Tensor) -> list[torch.Tensor]:
        layers = [self._drop(h)]
        for lin in self.embed[1:]:
            layers.append(self._drop(_relu(lin(layers[-1]))))
        return layers

    def _drop(self, h: torch.Tensor) -> torch.Tensor:
        return Fn.dropout(h, self.dropout, self.training) if self.dropout > 0 else h

    def fold_loss(self, logits: torch.Tensor, y: torch.Tensor, fold_mask: torch.Tensor) -> torch.Tensor:
        """(F,) weighted BCE of each fold over its training bags in the batch."""
        wp, wn = self.w_pos.unsqueeze(1), self.w_neg.unsqueeze(1)
        per = -(wp * y * Fn.logsigmoid(logits) + wn * (1 - y) * Fn.logsigmoid(-logits))  # (F, B, G)
        fm = fold_mask.to(per.dtype)
        return (per * fm.unsqueeze(2)).sum((1, 2)) / (fm.sum(1) * per.shape[2]).clamp_min(1)

    # -- Lightning
    def training_step(self, batch, batch_idx):
        x, mask, y, fold_mask = batch
        losses = self.fold_loss(self(x, mask), y, fold_mask)
        loss = losses.sum()
        opt = self.optimizers()
        opt.zero_grad()
        self.manual_backward(loss)
        if self.n_folds == 1:
            opt.step()  # torch.optim.Adam: every batch of a single model holds its training films
        else:
            opt.step(active=fold_mask.any(1))
        self._loss_sum += float(loss.detach()) / self.n_folds
        self._loss_n += 1
        return loss

    def on_train_epoch_end(self) -> None:
        self.epoch_loss.append(self._loss_sum / max(self._loss_n, 1))
        self._loss_sum, self._loss_n = 0.0, 0

    def configure_optimizers(self):
        if self.n_folds == 1:
            return torch.optim.Adam(self.parameters(), lr=self.lr, fused=True)
        return FoldAdam(self.parameters(), lr=self.lr)

    # -- prediction
    @torch.no_grad()
    def predict_bags(self, x: torch.Tensor, mask: torch.Tensor, chunk: int = 64) -> torch.Tensor:
        """Probabilities (F, B, G) of every fold's model for padded bags; empty bags get the prior."""
        was = self.training
        self.eval()
        B = x.shape[0]
        out = self.prior.unsqueeze(1).expand(self.n_folds, B, self.n_genres).clone()
        rows = mask.any(1).nonzero().squeeze(1)
        for s in range(0, len(rows), chunk):
            r = rows[s: s + chunk]
            length = int(mask[r].sum(1).max())
            out[:, r] = torch.sigmoid(self(x[r, :length], mask[r, :length]))
        self.train(was)
        return out

    @torch.no_grad()
    def predict_per_fold(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Probabilities (F, B, G) of fold f's model for its own padded bags x[f] (F, B, N, D);
        a bag with no real instance (mask all False, or a padding slot) gets the fold's prior."""
        was = self.training
        self.eval()
        F, B = mask.shape[:2]
        out = self.prior.unsqueeze(1).expand(F, B, self.n_genres).clone()
        nonempty = mask.any(2)  # (F, B)
        if nonempty.any():
            m = mask.clone()
            m[..., 0] |= ~nonempty  # give empty slots one dummy instance; their output is discarded
            # (the dummy reads zeros, so its embedding is finite)
            probs = torch.sigmoid(self.forward_per_fold(x, m))
            out = torch.where(nonempty.unsqueeze(2), probs, out)
        self.train(was)
        return out


class MaxPoolingMIL(MILModule):
    """Max pooling over the last embedding layer: h_k = max_i x_ik."""

    pool_name = "max"

    def pool(self, layers, bags):
        return bag_max(layers[-1], bags)


class AvgPoolingMIL(MILModule):
    """Average pooling over the last embedding layer: h_k = (1/|B|) sum_i x_ik."""

    pool_name = "avg"

    def pool(self, layers, bags):
        return bag_avg(layers[-1], bags)


class LinearSoftmaxMIL(MILModule):
    """Linear softmax pooling (Wang et al. 2019): h_k = sum_i x_ik^2 / sum_i x_ik."""

    pool_name = "linear_softmax"

    def pool(self, layers, bags):
        return bag_linear_softmax(layers[-1], bags)


class SingleAttentionMIL(MILModule):
    """Attention over instances (Ilse et al. 2018): h = sum_i w_i x_i / sum_i w_i.

    The score of instance i is s_i = v^T tanh(V x_i + c) (Ilse et al.'s attention
    network, with as many attention units as embedding units); w_i is its
    normalised weight (``attention``: sigmoid-normalised or softmax).
    """

    pool_name = "single_attention"

    def build_pool(self):
        self.pooled_dim = self.hidden
        self.att_hidden = FoldLinear(self.n_folds, self.hidden, self.hidden)
        self.att_score = FoldLinear(self.n_folds, self.hidden, 1)

    def pool(self, layers, bags):
        x = layers[-1]
        scores = self.att_score(torch.tanh(self.att_hidden(x)))
        return bag_attention(x, scores, bags, self.attention)


class MultiAttentionMIL(MILModule):
    """Multi-level attention (Yu et al. 2018; Kong et al. 2019): element-wise attention
    h^(L)_k = sum_i w^(L)_ik x^(L)_ik / sum_i w^(L)_ik at each embedding layer L in
    ``attend_layers`` (1-based; default the last two), with scores w^(L) = W^(L) x^(L) + b^(L);
    the attended vectors are concatenated before the output layer.
    """

    pool_name = "multi_attention"

    def build_pool(self):
        n_layers = len(self.embed)
        bad = [l for l in self.attend_layers if not 1 <= l <= n_layers]
        if bad or not self.attend_layers:
            raise ValueError(f"attend_layers {list(self.attend_layers)} must be in 1..{n_layers}")
        self.pooled_dim = self.hidden * len(self.attend_layers)
        self.att = nn.ModuleList(FoldLinear(self.n_folds, self.hidden, self.hidden) for _ in self.attend_layers)

    def pool(self, layers, bags):
        out = []
        for lin, l in zip(self.att, self.attend_layers):
            x = layers[l - 1]
            out.append(bag_attention(x, lin(x), bags, self.attention))
        return torch.cat(out, dim=1)


class FeatureAttentionMIL(MILModule):
    """Feature-level attention (Kong et al. 2019): h_k = sum_i q(x_i)_k u(x_i)_k, with
    q(x) = W_q x + b_q normalised over the bag per element (``attention``) and the
    representation u(x) = W_u x + b_u (linear, Kong et al.'s choice).
    """

    pool_name = "feature_attention"

    def build_pool(self):
        self.pooled_dim = self.hidden
        self.att_q = FoldLinear(self.n_folds, self.hidden, self.hidden)
        self.att_u = FoldLinear(self.n_folds, self.hidden, self.hidden)

    def pool(self, layers, bags):
        x = layers[-1]
        return bag_attention(self.att_u(x), self.att_q(x), bags, self.attention)


MODULES: dict[str, type[MILModule]] = {
    cls.pool_name: cls
    for cls in (MaxPoolingMIL, AvgPoolingMIL, LinearSoftmaxMIL, SingleAttentionMIL, MultiAttentionMIL, FeatureAttentionMIL)
}


def make_module(pool: str, **kwargs) -> MILModule:
    """The LightningModule of a pooling type (see `filmscore.mil.pools.POOLS`)."""
    try:
        cls = MODULES[pool]
    except KeyError:
        raise ValueError(f"unknown pool {pool!r}; use one of {list(MODULES)}") from None
    return cls(**kwargs)


__all__ = ["FoldLinear", "FoldAdam", "MILModule", "MODULES", "make_module"] + [c.__name__ for c in MODULES.values()]
