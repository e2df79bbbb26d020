"""VGGish (Hershey et al. 2017) in PyTorch, matching the published TensorFlow model.

Modules, in the torchvggish spirit: `params` (fixed hyperparameters, defaults),
`frontend` (log-mel examples), `network` (the VGG stack), `postprocess` (PCA,
clip, 8-bit quantisation), `convert` (TF checkpoint -> state_dict), `model`
(the `VGGish` class the features stage calls).
"""

from .model import VGGish

__all__ = ["VGGish"]
