"""The musicnn and VGG taggers of musicnn 0.1.0 (Pons & Serra 2019) in PyTorch, inference only.

Both read (batch, 187, 96) log-mel patches (time, mel band) and give the 50 tag
logits and the layer before them. Their weights are the TensorFlow
checkpoints' variables under their TF names (`conv2d_5/kernel`,
`batch_normalization_9/moving_mean`, ...), as `filmscore weights
fetch-musicnn` stores them (.npz); `from_variables` checks every name and
shape.

**Batch normalisation** (TF1 `tf.layers.batch_normalization`, inference mode)
is y = gamma (x - moving_mean) / sqrt(moving_variance + 0.001) + beta; it is
folded into one per-channel scale and shift when the weights are loaded
(`_bn`). The normalisation of the pooled features before the back end's
first dense layer is folded into that layer's weights; the others stay as a
scale and shift because a zero-padded convolution or a max-pool follows them.

**musicnn** (`build_musicnn` in the release's models.py):

- input BN (one channel);
- front end, time x frequency convolutions on the (time, 96) patch, each
  followed by ReLU, BN and a max over the whole frequency axis:
  timbral 204 filters of 7 x 38 and 204 of 7 x 67 (time padded by 3 zeros each
  side, frequency 'valid'); temporal 51 filters each of 128 x 1, 64 x 1, 32 x 1
  ('same': TF pads an even kernel k with (k-1)//2 zeros before, k//2 after);
  concatenated: 561 channels per frame;
- mid end: three 1-D convolutions over time (64 filters, kernel 7, zero
  padding 3, ReLU, BN), the 2nd and 3rd with residual connections; dense
  connection: [front end, conv1, res2, res3] = 753 channels per frame;
- back end: max and mean over time, interleaved per channel as TF flattens
  the (753, 2) map ([max_0, mean_0, max_1, ...]); BN, dense 200 + ReLU, BN:
  the 200-unit **penultimate** layer (`bn_dense`, what the release's
  extractor returns as 'penultimate'); dense 50: the logits; sigmoid: the
  taggram. Dropout is off at inference.

**VGG** (`vgg` in models.py, 128 filters): input BN; five blocks of 3 x 3
'same' convolution + ReLU + BN + max-pool ([4,1] stride [2,2], then 2 x 2
three times, then 4 x 4; 'valid'): 187 x 96 -> 2 x 1 x 128; flattened in
TF's (time, frequency, channel) order: 256 values, the layer before the
dense 50 output. filmscore calls those 256 values the VGG models'
'penultimate' output (the release's extractor returns pool1..pool5 instead).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..weights import WeightsCorrupt, load_npz_file
from . import params as P

TIMBRAL_FREQ = (int(0.4 * P.N_MELS), int(0.7 * P.N_MELS))  # 38, 67 mel bands
TEMPORAL_TIME = (128, 64, 32)  # frames
TIMBRAL_TIME = 7
MIDEND_KERNEL = 7
PRUNE_TOL = 1e-6  # a front-end filter whose output provably stays within this of its bias is a constant


def _same_pad(k: int) -> tuple[int, int]:
    """TF 'SAME' padding of a stride-1 kernel of size k: (before, after)."""
    return (k - 1) // 2, k // 2


class Affine(nn.Module):
    """Folded batch norm: x * scale + shift per channel along `dim`."""

    def __init__(self, n: int, dim: int = 1):
        super().__init__()
        self.dim = dim
        self.register_buffer("scale", torch.ones(n))
        self.register_buffer("shift", torch.zeros(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.dim] = -1
        return torch.addcmul(self.shift.view(shape), x, self.scale.view(shape))


class FreqMax(nn.Module):
    """max over frequency of BN(ReLU(y)), (batch, C, F, T) -> (batch, C, T), for a front-end convolution
    whose output channels with a negative BN scale are stored negated (`sign` = -1 there, see
    `MusicnnNet._sign_fold`): ReLU is monotonic and BN is x * scale + shift, so max_F BN(ReLU(y)) is
    BN(ReLU(max_F y)) where scale >= 0 and BN(ReLU(min_F y)) = BN(ReLU(-max_F(-y))) where scale < 0. One
    max over the map instead of a max and a min (exact; the full BN'd map is never built)."""

    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("sign", torch.ones(n))
        self.bn = Affine(n)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(y.amax(dim=2) * self.sign.view(1, -1, 1)))


def _subset(conv: nn.Conv2d, pool: FreqMax, keep: torch.Tensor) -> tuple[nn.Conv2d, FreqMax]:
    """The output channels `keep` of a front-end convolution and its FreqMax (possibly none)."""
    small = nn.Conv2d(1, max(1, len(keep)), conv.kernel_size)
    small.weight = nn.Parameter(conv.weight[keep].clone(), requires_grad=False)
    small.bias = nn.Parameter(conv.bias[keep].clone(), requires_grad=False)
    small.out_channels = len(keep)
    sub = FreqMax(max(1, len(keep)))
    sub.sign, sub.bn.scale, sub.bn.shift = pool.sign[keep].clone(), pool.bn.scale[keep].clone(), pool.bn.shift[keep].clone()
    return small, sub


class MusicnnNet(nn.Module):
    """(batch, 187, 96) log-mel patches -> (penultimate (batch, 200), logits (batch, 50))."""

    def __init__(self, n_tags: int = P.N_TAGS, frontend_filters: float = P.MUSICNN_FRONTEND_FILTERS,
                 midend_filters: int = P.MUSICNN_MIDEND_FILTERS, backend_units: int = P.MUSICNN_BACKEND_UNITS):
        super().__init__()
        nt, ns = int(frontend_filters * 128), int(frontend_filters * 32)
        self.in_bn = Affine(1)
        # the front end in the checkpoint's order (timbral 38 and 67 bands, temporal 128, 64 and 32 frames) on
        # (batch, 1, frequency, time) maps (frequency first: the max over it is then a vectorised reduction
        # across time, faster than over the contiguous last axis); kernels (freq, time); `front_pads`: the
        # zeros before and after in time
        shapes = [(f, TIMBRAL_TIME) for f in TIMBRAL_FREQ] + [(1, k) for k in TEMPORAL_TIME]
        self.front_convs = nn.ModuleList(nn.Conv2d(1, n, s) for n, s in zip([nt] * 2 + [ns] * 3, shapes))
        self.front_pools = nn.ModuleList(FreqMax(c.out_channels) for c in self.front_convs)
        self.front_pads = [(TIMBRAL_TIME // 2,) * 2] * len(TIMBRAL_FREQ) + [_same_pad(k) for k in TEMPORAL_TIME]
        n_front = nt * len(TIMBRAL_FREQ) + ns * len(TEMPORAL_TIME)  # 561
        self.midend = nn.ModuleList([nn.Conv1d(n_front, midend_filters, MIDEND_KERNEL),
                                     nn.Conv1d(midend_filters, midend_filters, MIDEND_KERNEL),
                                     nn.Conv1d(midend_filters, midend_filters, MIDEND_KERNEL)])
        self.midend_bn = nn.ModuleList(Affine(midend_filters) for _ in range(3))
        n_mid = n_front + 3 * midend_filters  # 753
        self.dense = nn.Linear(2 * n_mid, backend_units)  # the pooled features' BN is folded in
        self.dense_bn = Affine(backend_units)
        self.output = nn.Linear(backend_units, n_tags)
        # what `_prune` removes from the front end, as its effect on the first mid-end convolution (per tap)
        self.register_buffer("mid_const_taps", torch.zeros(midend_filters, MIDEND_KERNEL))
        self.register_buffer("front_kept", torch.arange(n_front))  # the front-end channels computed

    def _sign_fold(self) -> None:
        """Negate the front-end output channels whose BN scale is negative (weights, bias and `sign`), so
        that `FreqMax` needs only a max over frequency. Called once, after the weights are set (calling it
        again changes nothing)."""
        with torch.no_grad():
            for conv, pool in zip(self.front_convs, self.front_pools):
                flip = torch.where(pool.bn.scale < 0, -1.0, 1.0) * pool.sign  # undo a previous fold
                conv.weight.mul_(flip.view(-1, 1, 1, 1))
                conv.bias.mul_(flip)
                pool.sign.mul_(flip)

    def _prune(self, tol: float = PRUNE_TOL) -> int:
        """Drop the front-end filters whose weights are (numerically) zero; returns how many were dropped.

        Training left most of the published MSD_musicnn front end dead: 179 of its 204 timbral filters of
        38 bands, 188 of 204 of 67 bands and 124 of its 153 temporal filters have weights of norm 1e-9 or
        less (most 1e-29), MTT_musicnn about a third (`docs/weights.md`). Such a filter's output is its bias
        to within |w|_1 max|x|, where x is the input after the first batch norm: the log-mel values lie in
        [0, log10(1e4 FLT_MAX + 1)] for any finite float32 spectrogram, which bounds |x| (`_input_bound`). A
        filter whose bound is at most `tol` (1e-6, a few float32 rounding steps of the outputs) is replaced
        by that constant, exactly as the network would compute it (ReLU, BN); the constant then enters the
        first mid-end convolution through its taps (zero padding at the patch ends respected:
        `mid_const_taps`) and the dense layer through its bias (max and mean over time of a constant). The
        outputs change by at most a few `tol` times the layers' gains; the parity test with TensorFlow
        runs on the pruned network. Call after `_sign_fold`, once."""
        bound = self._input_bound()
        kept, const, offset = [], [], 0  # kept: positions in the current front channels
        with torch.no_grad():
            for i, (conv, pool) in enumerate(zip(self.front_convs, self.front_pools)):
                n = conv.out_channels
                dead = conv.weight.abs().flatten(1).sum(1).double() * bound <= tol
                value = pool(conv.bias.view(1, -1, 1, 1))[0, :, 0]  # FreqMax of the constant map = the bias
                const.append(torch.where(dead, value, torch.zeros_like(value)))
                live = torch.nonzero(~dead).flatten()
                kept.append(offset + live)
                offset += n
                if len(live) < n:
                    self.front_convs[i], self.front_pools[i] = _subset(conv, pool, live)
            const = torch.cat(const)  # (C,) zero where kept
            kept = torch.cat(kept)
            n_dropped = len(const) - len(kept)
            if not n_dropped:
                return 0
            conv1 = self.midend[0]
            self.mid_const_taps += torch.einsum("ocj,c->oj", conv1.weight, const)
            small = nn.Conv1d(len(kept), conv1.out_channels, conv1.kernel_size)
            small.weight = nn.Parameter(conv1.weight[:, kept].clone(), requires_grad=False)
            small.bias = nn.Parameter(conv1.bias.clone(), requires_grad=False)
            self.midend[0] = small
            # dense input: [max_c, mean_c] of the 753 mid channels (front channels first); a dropped channel's
            # max and mean are its constant
            n_mid = self.dense.in_features // 2
            n_front = n_mid - 3 * conv1.out_channels
            w = self.dense.weight.view(self.dense.out_features, n_mid, 2)
            bias = self.dense.bias + w[:, :n_front].sum(2) @ const
            rows = torch.cat([kept, torch.arange(n_front, n_mid)])
            dense = nn.Linear(2 * len(rows), self.dense.out_features)
            dense.weight = nn.Parameter(w[:, rows].reshape(self.dense.out_features, -1).clone(), requires_grad=False)
            dense.bias = nn.Parameter(bias, requires_grad=False)
            self.dense = dense
            self.front_kept = self.front_kept[kept]
        return n_dropped

    def _input_bound(self) -> float:
        """Largest |x| after the input batch norm for any finite float32 log-mel input (values in
        [0, log10(1e4 FLT_MAX + 1)], `frontend.log_compress`)."""
        top = np.log10(P.LOG_SCALE * float(np.finfo(np.float32).max) + 1.0)
        s, b = float(self.in_bn.scale[0]), float(self.in_bn.shift[0])
        return max(abs(b), abs(s * top + b))

    def front(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, T, 96) -> (batch, C, T) front-end features (C = 561, or the filters `_prune` kept)."""
        x = self.in_bn(x.transpose(1, 2).unsqueeze(1))  # (batch, 1, 96, T)
        return torch.cat([pool(conv(F.pad(x, pad))) for conv, pool, pad in self._front_filters()], dim=1)

    def mid(self, front: torch.Tensor) -> torch.Tensor:
        """(batch, C, T) -> (batch, C + 192, T): the dense connection [front, conv1, res2, res3]."""
        pad = MIDEND_KERNEL // 2
        y = self.midend[0](F.pad(front, (pad, pad)))
        if self.mid_const_taps.any():  # the pruned constant channels' share, zero padding at both ends
            ones = F.pad(torch.ones(1, 1, front.shape[2], dtype=front.dtype, device=front.device), (pad, pad))
            y = y + F.conv1d(ones, self.mid_const_taps.unsqueeze(1))
        c1 = self.midend_bn[0](F.relu(y))
        r2 = self.midend_bn[1](F.relu(self.midend[1](F.pad(c1, (pad, pad))))) + c1
        r3 = self.midend_bn[2](F.relu(self.midend[2](F.pad(r2, (pad, pad))))) + r2
        return torch.cat([front, c1, r2, r3], dim=1)

    def back(self, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = torch.stack([m.amax(dim=2), m.mean(dim=2)], dim=2).flatten(1)  # TF's (753, 2) flatten
        penultimate = self.dense_bn(F.relu(self.dense(pooled)))
        return penultimate, self.output(penultimate)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.back(self.mid(self.front(x)))

    # -- overlapping patches of one spectrogram, the front end shared -------------------------------

    def front_sequence(self, spec: torch.Tensor, chunk: int = 192) -> torch.Tensor:
        """(N, 96) log-mel spectrogram -> (C, N) front-end features over the whole of it (zero-padded at
        its ends as a patch is), computed in chunks of `chunk` frames (small: the convolutions' outputs then
        stay in the CPU's cache). Frame j of a patch starting at s equals frame s + j here wherever the
        filter's span lies inside the patch: all but the 3 frames at each end of the patch for the timbral
        filters, and all but (k - 1) // 2 at its start and k // 2 at its end for a temporal filter of k
        frames (`forward_shared` recomputes those)."""
        x = self.in_bn(spec.T[None, None])  # (1, 1, 96, N)
        n = spec.shape[0]
        parts = []
        for conv, pool, (a, b) in self._front_filters():
            xp = F.pad(x, (a, b))
            parts.append(torch.cat([pool(conv(xp[..., i:min(n, i + chunk) + a + b]))[0] for i in range(0, n, chunk)], dim=1))
        return torch.cat(parts, dim=0)

    def _front_filters(self):
        """(convolution, FreqMax, (zeros before, zeros after) in time) of the front end, in its channel order;
        a group `_prune` emptied is left out."""
        return [(c, p, pad) for c, p, pad in zip(self.front_convs, self.front_pools, self.front_pads)
                if c.out_channels]

    def forward_shared(self, spec: torch.Tensor, front: torch.Tensor, starts: torch.Tensor):
        """The outputs for the 187-frame patches of `spec` starting at `starts`, equal to `forward` on those
        patches: the front-end features come from `front` (= front_sequence(spec)) but for the frames at
        each patch end whose filters reach into the patch's zero padding; those are recomputed from the
        patch (for a filter padded with a zeros before and b after: its first a and last b frames)."""
        n = P.N_FRAMES
        idx = starts[:, None] + torch.arange(n, device=spec.device)  # (batch, 187)
        x = self.in_bn(spec[idx].transpose(1, 2).unsqueeze(1))  # (batch, 1, 96, 187) normalised patches
        feats = front[:, idx].permute(1, 0, 2).clone()  # (batch, 561, 187)
        bsz, c0 = len(starts), 0
        for conv, pool, (a, b) in self._front_filters():
            # both ends in one call, b outputs each: b zeros + the first a + b frames (whose first b - a
            # outputs lie before the patch), and the last a + b frames + b zeros
            ends = torch.cat([F.pad(x[..., :a + b], (b, 0)), F.pad(x[..., n - a - b:], (0, b))])
            edge = pool(conv(ends))  # (2 * batch, C, b)
            c1 = c0 + edge.shape[1]
            feats[:, c0:c1, :a] = edge[:bsz, :, b - a:]
            feats[:, c0:c1, n - b:] = edge[bsz:]
            c0 = c1
        return self.back(self.mid(feats))


# VGG: pool sizes (= strides except the first) after each conv block, as models.py
VGG_POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))


def vgg_out_size() -> tuple[int, int]:
    h, w = P.N_FRAMES, P.N_MELS
    for (kh, kw), (sh, sw) in VGG_POOLS:
        h, w = (h - kh) // sh + 1, (w - kw) // sw + 1
    return h, w  # 2, 1


class VggNet(nn.Module):
    """(batch, 187, 96) log-mel patches -> (flattened pool5 (batch, 256), logits (batch, 50))."""

    def __init__(self, n_tags: int = P.N_TAGS, filters: int = P.VGG_FILTERS):
        super().__init__()
        self.in_bn = Affine(1)
        self.convs = nn.ModuleList(nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5))
        self.bns = nn.ModuleList(Affine(filters) for _ in range(5))
        self.pools = nn.ModuleList(nn.MaxPool2d(k, s) for k, s in VGG_POOLS)
        h, w = vgg_out_size()
        self.output = nn.Linear(h * w * filters, n_tags)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.in_bn(x.unsqueeze(1))
        for conv, bn, pool in zip(self.convs, self.bns, self.pools):
            x = pool(bn(F.relu(conv(x))))
        flat = x.permute(0, 2, 3, 1).flatten(1)  # TF's NHWC flatten
        return flat, self.output(flat)


# ---------------------------------------------------------------- TF variables -> modules

def _bn_vars(name: str, n: int) -> dict[str, tuple]:
    return {f"{name}/{v}": (n,) for v in ("gamma", "beta", "moving_mean", "moving_variance")}


def tf_variables(arch: str) -> dict[str, tuple]:
    """{TF variable name: shape} a checkpoint of architecture `arch` ('musicnn' or 'vgg') must hold,
    in the order models.py creates them."""
    out: dict[str, tuple] = {}
    if arch == "musicnn":
        nt, ns = int(P.MUSICNN_FRONTEND_FILTERS * 128), int(P.MUSICNN_FRONTEND_FILTERS * 32)
        mf, units = P.MUSICNN_MIDEND_FILTERS, P.MUSICNN_BACKEND_UNITS
        n_front = 2 * nt + 3 * ns
        convs = [((TIMBRAL_TIME, f, 1, nt), nt) for f in TIMBRAL_FREQ] + [((k, 1, 1, ns), ns) for k in TEMPORAL_TIME]
        convs += [((MIDEND_KERNEL, n_front, 1, mf), mf)] + [((MIDEND_KERNEL, mf, 1, mf), mf)] * 2
        out.update(_bn_vars("batch_normalization", 1))
        for i, (kshape, n) in enumerate(convs):
            cname = "conv2d" if i == 0 else f"conv2d_{i}"
            out[f"{cname}/kernel"] = kshape
            out[f"{cname}/bias"] = (n,)
            out.update(_bn_vars(f"batch_normalization_{i + 1}", n))
        n_mid = n_front + 3 * mf
        out.update(_bn_vars("batch_normalization_9", 2 * n_mid))
        out["dense/kernel"], out["dense/bias"] = (2 * n_mid, units), (units,)
        out.update(_bn_vars("batch_normalization_10", units))
        out["dense_1/kernel"], out["dense_1/bias"] = (units, P.N_TAGS), (P.N_TAGS,)
    elif arch == "vgg":
        f = P.VGG_FILTERS
        out.update(_bn_vars("batch_normalization", 1))
        for i in range(5):
            out[f"{i + 1}CNN/kernel"] = (3, 3, 1 if i == 0 else f, f)
            out[f"{i + 1}CNN/bias"] = (f,)
            out.update(_bn_vars(f"batch_normalization_{i + 1}", f))
        h, w = vgg_out_size()
        out["dense/kernel"], out["dense/bias"] = (h * w * f, P.N_TAGS), (P.N_TAGS,)
    else:
        raise ValueError(f"unknown architecture {arch!r}")
    return out


def _bn(v: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Inference-mode batch norm as (scale, shift)."""
    scale = v[f"{name}/gamma"].astype(np.float64) / np.sqrt(v[f"{name}/moving_variance"].astype(np.float64) + P.BN_EPSILON)
    shift = v[f"{name}/beta"].astype(np.float64) - v[f"{name}/moving_mean"].astype(np.float64) * scale
    return scale, shift


def _t(a) -> torch.Tensor:
    """A float32 copy (never a view of the caller's array: the sign fold changes weights in place)."""
    return torch.from_numpy(np.array(a, dtype=np.float32, order="C", copy=True))


def _set_affine(m: Affine, scale_shift) -> None:
    m.scale, m.shift = _t(scale_shift[0]), _t(scale_shift[1])


def _set_conv(m: nn.Module, v: dict, name: str, freq_first: bool = False) -> None:
    k = v[f"{name}/kernel"]  # TF HWIO: (time, freq, in, out)
    if isinstance(m, nn.Conv1d):  # a (7, C, 1, out) kernel spanning all C channels: conv1d over time
        w = k[:, :, 0, :].transpose(2, 1, 0)
    elif freq_first:  # musicnn's front end: (out, in, freq, time)
        w = k.transpose(3, 2, 1, 0)
    else:
        w = k.transpose(3, 2, 0, 1)
    m.weight = nn.Parameter(_t(w), requires_grad=False)
    m.bias = nn.Parameter(_t(v[f"{name}/bias"]), requires_grad=False)


def _set_dense(m: nn.Linear, kernel: np.ndarray, bias: np.ndarray) -> None:
    m.weight = nn.Parameter(_t(kernel.T), requires_grad=False)
    m.bias = nn.Parameter(_t(bias), requires_grad=False)


def check_variables(variables: dict[str, np.ndarray], arch: str, source: str | Path) -> None:
    """WeightsCorrupt naming `source`, each missing variable, and each misshapen one with both shapes."""
    want = tf_variables(arch)
    missing = [k for k in want if k not in variables]
    if missing:
        more = " ..." if len(missing) > 4 else ""
        raise WeightsCorrupt(source, f"lacks the {arch} variable(s) {', '.join(missing[:4])}{more} "
                                     f"(it holds {len(variables)} variables: {', '.join(sorted(variables)[:4])} ...)",
                             f"write it again with `{P.FETCH_COMMAND} --force`")
    bad = [f"{k}: the file has {tuple(variables[k].shape)}, the network needs {want[k]}"
           for k in want if tuple(variables[k].shape) != want[k]]
    if bad:
        raise WeightsCorrupt(source, f"does not match the {arch} network: " + "; ".join(bad[:3]),
                             f"use the musicnn {P.WHEEL_VERSION} weights (`{P.FETCH_COMMAND} --force`)")
    nonfinite = [k for k in want if not np.all(np.isfinite(variables[k]))]
    if nonfinite:
        raise WeightsCorrupt(source, f"holds NaN or infinite values in {', '.join(nonfinite[:3])}")


def from_variables(variables: dict[str, np.ndarray], arch: str, source: str | Path = "weights",
                   prune: bool = True) -> nn.Module:
    """A network of architecture `arch` with the TF variables `variables` (checked first), BN folded; a
    musicnn network without its dead front-end filters (`MusicnnNet._prune`) unless `prune` is false."""
    check_variables(variables, arch, source)
    v = variables
    with torch.device("meta"):  # every parameter comes from the file: skip the random init
        net = MusicnnNet() if arch == "musicnn" else VggNet()
    net = net.to_empty(device="cpu")
    _set_affine(net.in_bn, _bn(v, "batch_normalization"))
    if arch == "musicnn":
        convs = list(net.front_convs) + list(net.midend)
        bns = [p.bn for p in net.front_pools] + list(net.midend_bn)
        for pool in net.front_pools:
            pool.sign = torch.ones_like(pool.sign)  # the TF kernels as they are; _sign_fold below
        net.mid_const_taps = torch.zeros_like(net.mid_const_taps)  # nothing pruned yet (_prune below)
        net.front_kept = torch.arange(len(net.front_kept))
        for i, (conv, bn) in enumerate(zip(convs, bns)):
            _set_conv(conv, v, "conv2d" if i == 0 else f"conv2d_{i}", freq_first=True)
            _set_affine(bn, _bn(v, f"batch_normalization_{i + 1}"))
        s, b = _bn(v, "batch_normalization_9")  # BN of the pooled features, folded into the dense layer
        k = v["dense/kernel"].astype(np.float64)
        _set_dense(net.dense, k * s[:, None], v["dense/bias"].astype(np.float64) + b @ k)
        _set_affine(net.dense_bn, _bn(v, "batch_normalization_10"))
        _set_dense(net.output, v["dense_1/kernel"], v["dense_1/bias"])
        net._sign_fold()
        if prune:
            net._prune()
    else:
        for i, (conv, bn) in enumerate(zip(net.convs, net.bns)):
            _set_conv(conv, v, f"{i + 1}CNN")
            _set_affine(bn, _bn(v, f"batch_normalization_{i + 1}"))
        _set_dense(net.output, v["dense/kernel"], v["dense/bias"])
    return net.eval()


def load_network(path: str | Path, model: str) -> nn.Module:
    """The network of `model` (params.MODELS) from its .npz (TF variable names; read with allow_pickle=False)."""
    path = Path(path)
    if model not in P.MODELS:
        raise ValueError(f"unknown musicnn model {model!r}; one of {', '.join(P.MODELS)}")
    return from_variables(load_npz_file(path), P.MODELS[model], path)
