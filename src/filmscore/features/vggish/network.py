"""The VGGish network in PyTorch, in torchvggish's parameter layout.

    conv 64 - pool - conv 128 - pool - conv 256 - conv 256 - pool - conv 512 - conv 512 - pool
    - fc 4096 - fc 4096 - fc 128

3x3 convolutions with 'same' padding and ReLU, 2x2 max-pools with stride 2, on a
(batch, 1, 96 frames, 64 bands) input. The (512, 6, 4) feature map is flattened
in TensorFlow's NHWC order (height, width, channel), as the TF checkpoint's fc1
expects. ReLU follows every layer but the last: the 128-d embedding layer is
linear, as in the TensorFlow model (vggish_slim: fc2 with activation_fn=None).
torchvggish's port adds a ReLU there, which zeroes every negative component of
the embedding before the PCA; filmscore does not.

Parameter names match torchvggish's state_dict: features.{0,3,6,8,11,13}.{weight,bias}
and embeddings.{0,2,4}.{weight,bias}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..weights import WeightsCorrupt, load_array_dict
from . import params as P

CONV_CHANNELS = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M"]


def _features() -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = 1
    for v in CONV_CHANNELS:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(c_in, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            c_in = int(v)
    return nn.Sequential(*layers)


class VGGishNet(nn.Module):
    """log-mel examples (batch, 1, 96, 64) or (batch, 96, 64) -> raw 128-d embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.features = _features()
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 6 * 4, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, P.EMBEDDING_SIZE),  # no ReLU: the TF model's embedding layer is linear
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        x = self.features(x)  # (batch, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # NHWC flatten, as TF
        return self.embeddings(x)


def expected_shapes() -> dict[str, tuple]:
    with torch.device("meta"):  # shapes only: no memory, no random init
        return {k: tuple(v.shape) for k, v in VGGishNet().state_dict().items()}


def load_network(path: str | Path) -> VGGishNet:
    """A VGGishNet with the state_dict at `path` (torchvggish layout; see convert.py for TF checkpoints)."""
    path = Path(path)
    arrays = load_array_dict(path)
    # A state_dict of torchvggish's whole VGGish module also holds its postprocessor's
    # PCA parameters (pproc.*); the PCA is read from features.vggish.pca_params instead.
    arrays = {k: v for k, v in arrays.items() if not k.startswith("pproc.")}
    want = expected_shapes()
    missing = [k for k in want if k not in arrays]  # in the network's order
    extra = sorted(set(arrays) - set(want))
    if missing or extra:
        detail = []
        if missing:
            detail.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        if extra:
            detail.append(f"unexpected {', '.join(extra[:4])}{' ...' if len(extra) > 4 else ''}")
        raise WeightsCorrupt(path, "is not a VGGish state_dict in torchvggish's layout (" + "; ".join(detail) + ")",
                             "use vggish-10086976.pth from torchvggish, or convert the TensorFlow checkpoint "
                             "with `filmscore weights convert-vggish` (docs/weights.md)")
    bad = [f"{k} {arrays[k].shape} (expected {want[k]})" for k in want if tuple(arrays[k].shape) != want[k]]
    if bad:
        raise WeightsCorrupt(path, "has tensors of the wrong shape: " + "; ".join(bad[:3]))
    if not all(np.all(np.isfinite(arrays[k])) for k in want):
        raise WeightsCorrupt(path, "holds NaN or infinite weights")
    with torch.device("meta"):  # the file supplies every parameter: skip the random init of 72 M weights
        net = VGGishNet()
    net.load_state_dict({k: torch.from_numpy(np.array(arrays[k], dtype=np.float32)) for k in want}, assign=True)
    return net.eval().to(memory_format=torch.channels_last)  # faster convolutions; same results
