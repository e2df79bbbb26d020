"""The OpenL3 audio network (mel128 / mel256 input) in PyTorch, loading the official Keras .h5 weights.

As openl3's `_construct_mel256_audio_network` (channels_last Keras, here NCHW):

    BatchNorm (on the 1-channel spectrogram)
    block 1: conv 64  - BN - ReLU - conv 64  - BN - ReLU - maxpool 2x2 /2
    block 2: conv 128 - BN - ReLU - conv 128 - BN - ReLU - maxpool 2x2 /2
    block 3: conv 256 - BN - ReLU - conv 256 - BN - ReLU - maxpool 2x2 /2
    block 4: conv 512 - BN - ReLU - conv 512 ('audio_embedding_layer', linear)
    maxpool (32, 24) 'same' for mel256 / 512-d, then flatten

3x3 convolutions with 'same' padding; BatchNorm in inference form with Keras's
epsilon 1e-3. Input (batch, 1, n_mels, 199) -> (batch, 512, 32, 24) for mel256
-> 512-d (the final pool spans the whole map). For 6144-d the pooled map is
flattened in Keras's (height, width, channel) order.

Keras -> torch: a Conv2D kernel (3, 3, in, out) becomes (out, in, 3, 3); a
BatchNormalization's gamma, beta, moving_mean, moving_variance become weight,
bias, running_mean, running_var. Layers are matched in the file's layer order
(as Keras's own `load_weights` does), since auto-generated layer names differ
between Keras versions; each layer's kind and shapes are checked. A kapre
spectrogram layer stored in older weight files (its fixed DFT kernels) is
skipped: the frontend computes the same thing.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..weights import WeightsCorrupt, read_keras_h5
from . import params as P

BLOCKS = [(1, 64), (64, 128), (128, 256), (256, 512)]
BN_KEYS = ("gamma", "beta", "moving_mean", "moving_variance")
CONV_KEYS = ("kernel", "bias")


class OpenL3Net(nn.Module):
    """(batch, 1, n_mels, 199) kapre-style dB spectrogram -> (batch, embedding_size)."""

    def __init__(self, input_repr: str = "mel256", embedding_size: int = 512):
        super().__init__()
        if input_repr not in P.POOL_SIZES:
            raise ValueError(f"input_repr must be one of {list(P.POOL_SIZES)}, got {input_repr!r}")
        if embedding_size not in P.POOL_SIZES[input_repr]:
            raise ValueError(f"embedding_size must be one of {list(P.POOL_SIZES[input_repr])}, got {embedding_size}")
        self.input_repr = input_repr
        self.embedding_size = embedding_size
        self.pool_size = P.POOL_SIZES[input_repr][embedding_size]
        eps = P.BN_EPSILON
        self.input_bn = nn.BatchNorm2d(1, eps=eps)
        convs, bns = [], []
        for b, (c_in, c_out) in enumerate(BLOCKS):
            convs += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.Conv2d(c_out, c_out, 3, padding=1)]
            # every convolution but the last (the embedding layer) is followed by a BN
            bns += [nn.BatchNorm2d(c_out, eps=eps) for _ in range(2 if b < len(BLOCKS) - 1 else 1)]
        self.convs = nn.ModuleList(convs)  # 8 convolutions; the last is the embedding layer
        self.bns = nn.ModuleList(bns)  # 7 batch norms (none after the embedding layer)

    def keras_order(self) -> list[tuple[str, nn.Module]]:
        """The modules holding weights, in the Keras model's layer order."""
        order: list[tuple[str, nn.Module]] = [("bn", self.input_bn)]
        for i, conv in enumerate(self.convs):
            order.append(("conv", conv))
            if i < len(self.bns):
                order.append(("bn", self.bns[i]))
        return order

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        x = self.input_bn(x)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i == len(self.convs) - 1:
                break  # audio_embedding_layer: no BN, no ReLU
            x = F.relu(self.bns[i](x))
            if i % 2 == 1:
                x = F.max_pool2d(x, 2, 2)
        x = _max_pool_same(x, self.pool_size)
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # Keras Flatten: (h, w, c)


def _max_pool_same(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Keras MaxPooling2D(pool_size=size, padding='same') (stride = size)."""
    pads = []
    for dim, k in zip(x.shape[2:], size):
        out = math.ceil(dim / k)
        total = max((out - 1) * k + k - dim, 0)
        pads.append((total // 2, total - total // 2))
    if any(sum(p) for p in pads):
        x = F.pad(x, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]), value=float("-inf"))
    return F.max_pool2d(x, size, size)


def _is_spectrogram_layer(name: str, keys) -> bool:
    return "spectrogram" in name.lower() or bool({"real_kernels", "imag_kernels"} & set(keys))


def check_file_name(path: Path, input_repr: str) -> None:
    """Catch a weight file meant for another input representation (same layer shapes, wrong model)."""
    m = re.search(r"openl3_(audio|image)_(linear|mel128|mel256)_(music|env)", path.name)
    if not m:
        return
    if m.group(1) == "image":
        raise WeightsCorrupt(path, "holds OpenL3's image network, not the audio network",
                             f"use {P.weights_name(input_repr)} (docs/weights.md)")
    if m.group(2) != input_repr:
        raise WeightsCorrupt(path, f"is the OpenL3 {m.group(2)} model but features.openl3.input_repr is {input_repr!r}",
                             f"set features.openl3.input_repr: {m.group(2)}" if m.group(2) in P.N_MELS
                             else f"use {P.weights_name(input_repr)}; the linear-spectrogram model is not supported")


def load_network(path: str | Path, input_repr: str = "mel256", embedding_size: int = 512) -> OpenL3Net:
    """An OpenL3Net with the weights of the official Keras .h5 at `path`."""
    path = Path(path)
    check_file_name(path, input_repr)
    layers = [ly for ly in read_keras_h5(path) if not _is_spectrogram_layer(ly.name, ly.weights)]
    net = OpenL3Net(input_repr, embedding_size)
    order = net.keras_order()
    if len(layers) != len(order):
        raise WeightsCorrupt(path, f"has {len(layers)} layers with weights ({', '.join(ly.name for ly in layers[:5])}"
                             f"{' ...' if len(layers) > 5 else ''}); the OpenL3 audio network has {len(order)}",
                             f"use the official {P.weights_name(input_repr)} (docs/weights.md)")
    state: dict[str, torch.Tensor] = {}
    names = {id(m): n for n, m in net.named_modules()}
    for (kind, module), layer in zip(order, layers):
        prefix = names[id(module)]
        keys = BN_KEYS if kind == "bn" else CONV_KEYS
        if set(layer.weights) != set(keys):
            raise WeightsCorrupt(path, f"layer {layer.name!r} holds {sorted(layer.weights)}; expected a "
                                 f"{'BatchNormalization' if kind == 'bn' else 'Conv2D'} ({', '.join(keys)}) at this position",
                                 f"use the official {P.weights_name(input_repr)} (docs/weights.md)")
        if kind == "conv":
            arrays = {"weight": layer.weights["kernel"].transpose(3, 2, 0, 1), "bias": layer.weights["bias"]}
        else:
            arrays = {"weight": layer.weights["gamma"], "bias": layer.weights["beta"],
                      "running_mean": layer.weights["moving_mean"], "running_var": layer.weights["moving_variance"]}
        for k, a in arrays.items():
            want = tuple(getattr(module, k).shape)
            if tuple(a.shape) != want:
                raise WeightsCorrupt(path, f"layer {layer.name!r}: {k} has shape {tuple(a.shape)}, expected {want}",
                                     f"use the official {P.weights_name(input_repr)} (docs/weights.md)")
            if not np.all(np.isfinite(a)):
                raise WeightsCorrupt(path, f"layer {layer.name!r} holds NaN or infinite weights")
            state[f"{prefix}.{k}"] = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:  # a bug here, not in the file
        raise RuntimeError(f"OpenL3 weight mapping incomplete: missing {missing}, unexpected {unexpected}")
    return net.eval().to(memory_format=torch.channels_last)  # faster convolutions; same results
