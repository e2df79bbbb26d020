"""OpenL3 (Cramer et al. 2019) audio embeddings in PyTorch, from the official Keras weights.

Modules: `params` (fixed hyperparameters, defaults), `frontend` (kapre-style
log mel spectrogram), `network` (the conv stack and the Keras .h5 loader),
`model` (the `OpenL3` class the features stage calls).
"""

from .model import OpenL3

__all__ = ["OpenL3"]
