"""musicnn (Pons & Serra 2019, the musicnn 0.1.0 release) in PyTorch, with the weights its PyPI wheel ships.

Modules, as the VGGish port: `params` (fixed hyperparameters, tags, the
wheel, defaults), `frontend` (log-mel patches), `network` (the musicnn and
VGG taggers from TF variables, batch norm folded), `fetch` (the wheel ->
models/musicnn/<model>.npz, no TensorFlow), `model` (the `Musicnn` class the
features stage calls). The checkpoint reader is `filmscore.features.tfcheckpoint`.
"""

__all__ = ["Musicnn"]


def __getattr__(name: str):
    # `Musicnn` (torch) is imported on first use, so `params` (tags, columns; read by
    # filmscore.features.groups) comes without torch
    if name == "Musicnn":
        from .model import Musicnn

        return Musicnn
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
