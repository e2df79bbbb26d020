"""Pretrained weight files: missing or corrupt files, and safe loading (the low-level readers).

The embedders (`vggish/*`, `openl3/*`) import this module; it imports none of
them. The `filmscore weights` command that loads the embedders is
`filmscore.features.cli`.

No weight file is ever unpickled as arbitrary Python objects:

- PyTorch files (`.pt`, `.pth`) are read with `torch.load(weights_only=True)`,
  which rebuilds only tensors and plain containers. torchvggish's PCA file holds
  numpy arrays, so numpy's array-rebuilding functions are allowlisted
  explicitly (they rebuild an array from its raw bytes and run no other code).
- NumPy files (`.npz`) are read with `allow_pickle=False`.
- Keras files (`.h5`) are read with h5py: datasets only.

A file that is absent raises `WeightsMissing` (the features stage skips that
feature set and says where to get the weights and where to put them); a file
that is there but unreadable, truncated, of the wrong layout or pickling
objects raises `WeightsCorrupt` naming the file: that stops the stage, since
a user who put a file there wants it used.

Where each checkpoint comes from and where it goes: docs/weights.md.
"""

from __future__ import annotations

import logging
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FilmscoreError, Problem

log = logging.getLogger(__name__)

DOCS = "docs/weights.md"
MODELS_DIR = "models"


class WeightsMissing(FilmscoreError):
    """A model's weight file is not where params.yaml says it is."""

    def __init__(self, model: str, path: str | Path, get: str, param: str):
        self.model = model
        self.path = str(path)
        self.get = get
        self.param = param
        super().__init__(
            [Problem(self.path, f"the {model} weight file is not there",
                     f"get {get} and put it at {self.path}, or point params.yaml: {param} at your copy "
                     f"(details: {DOCS})")],
            headline=f"{model} weights missing, {model} features skipped",
        )

    @property
    def reason(self) -> str:
        """One line for a status file: what is missing, where to get it, where to put it."""
        return (f"{self.model} weights not found at {self.path}: get {self.get} and put it there, "
                f"or set params.yaml: {self.param} (see {DOCS})")


class WeightsCorrupt(FilmscoreError):
    """A weight file exists but cannot be used: unreadable, truncated, wrong layout, or unsafe."""

    def __init__(self, path: str | Path, what: str, fix: str | None = None):
        self.path = str(path)
        super().__init__(
            [Problem(self.path, what, fix or f"download it again (sources in {DOCS}); check it with `filmscore weights check`")],
            headline="unusable weight file",
        )


def require_file(path: str | Path, model: str, get: str, param: str) -> Path:
    """The weight file at `path`, or WeightsMissing saying where to get it and where to put it."""
    p = Path(path).expanduser()
    if not p.exists():
        raise WeightsMissing(model, p, get, param)
    if not p.is_file():
        raise WeightsCorrupt(p, "is a directory, not a weight file", f"point params.yaml: {param} at the file itself")
    if p.stat().st_size == 0:
        raise WeightsCorrupt(p, "is empty (0 bytes), probably an interrupted download")
    return p


# --------------------------------------------------------------------------
# Safe readers
# --------------------------------------------------------------------------

def _numpy_safe_globals() -> list:
    """The numpy globals an array pickled inside a .pth needs, under both numpy 1.x and 2.x names."""
    try:
        from numpy._core import multiarray as ma  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray as ma
    rec = ma._reconstruct
    allow: list = [np.ndarray, np.dtype, rec,
                   (rec, "numpy.core.multiarray._reconstruct"),
                   (rec, "numpy._core.multiarray._reconstruct")]
    for code in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"):
        allow.append(type(np.dtype(code)))
    return allow


def _short(e: BaseException, n: int = 160) -> str:
    text = f"{type(e).__name__}: {e}".splitlines()[0]
    return text if len(text) <= n else text[: n - 3] + "..."


def load_torch_file(path: str | Path) -> object:
    """Read a .pt/.pth file with torch.load(weights_only=True): tensors, numpy arrays and containers only."""
    import torch

    path = Path(path)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower() or "weightsunpickler" in str(e).lower():
            raise WeightsCorrupt(
                path,
                "stores pickled Python objects, not plain tensors; filmscore reads weights with "
                "torch.load(weights_only=True) and never unpickles arbitrary objects",
                f"use the published state_dict file (see {DOCS}), or, for a model you trust, re-save it "
                "as plain tensors: torch.save(model.state_dict(), PATH)",
            ) from None
        raise WeightsCorrupt(path, f"is not a readable PyTorch file ({_short(e)})") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, zipfile.BadZipFile, AttributeError) as e:
        raise WeightsCorrupt(path, f"is not a readable PyTorch file, probably truncated or corrupt ({_short(e)})") from None


def load_npz_file(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of a .npz with allow_pickle=False."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise WeightsCorrupt(path, "is a single .npy array, expected a .npz archive of named arrays")
            return {k: np.asarray(z[k]) for k in z.files}
    except WeightsCorrupt:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise WeightsCorrupt(path, "holds pickled Python objects; filmscore reads .npz files with allow_pickle=False",
                                 f"use the published file (see {DOCS})") from None
        raise WeightsCorrupt(path, f"is not a readable .npz file ({_short(e)})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise WeightsCorrupt(path, f"is not a readable .npz file, probably truncated or corrupt ({_short(e)})") from None


def load_array_dict(path: str | Path) -> dict[str, np.ndarray]:
    """A flat {name: array} from a .npz or a .pt/.pth holding a dict of tensors or arrays."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        return load_npz_file(path)
    obj = load_torch_file(path)
    if not isinstance(obj, dict):
        raise WeightsCorrupt(path, f"holds a {type(obj).__name__}, expected a dict of named tensors (a state_dict)")
    out = {}
    for k, v in obj.items():
        if hasattr(v, "detach"):
            v = v.detach().cpu().numpy()
        if not isinstance(v, np.ndarray):
            raise WeightsCorrupt(path, f"entry {k!r} is a {type(v).__name__}, expected a tensor or array")
        out[str(k)] = v
    return out


@dataclass
class KerasLayer:
    """One layer with weights in a Keras HDF5 file: its name and {short weight name: array} in file order."""

    name: str
    weights: dict[str, np.ndarray]


def _text(x) -> str:
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


def read_keras_h5(path: str | Path) -> list[KerasLayer]:
    """The layers holding weights in a Keras 2 HDF5 weights (or whole-model) file, in the file's layer order.

    Layout (Keras `save_weights` / `save` in HDF5): the root (or the group
    `model_weights` of a whole-model file) has the attribute `layer_names`;
    each layer group has the attribute `weight_names` (e.g.
    `conv2d_1/kernel:0`) naming its datasets. Short names (`kernel`, `bias`,
    `gamma`, `beta`, `moving_mean`, `moving_variance`) key the result.
    """
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise WeightsCorrupt(path, f"is not a readable HDF5 file, probably truncated or corrupt ({_short(e)})") from None
    layers: list[KerasLayer] = []
    try:
        with f:
            g = f["model_weights"] if "model_weights" in f else f
            if "layer_names" not in g.attrs:
                raise WeightsCorrupt(path, "is HDF5 but not a Keras weights file (no 'layer_names' attribute)",
                                     f"use the official Keras .h5 weights (see {DOCS})")
            for raw in g.attrs["layer_names"]:
                name = _text(raw)
                if name not in g:
                    raise WeightsCorrupt(path, f"lists layer {name!r} but holds no group for it")
                lg = g[name]
                wnames = [_text(w) for w in lg.attrs.get("weight_names", [])]
                if not wnames:
                    continue
                weights = {}
                for wn in wnames:
                    short = wn.split("/")[-1].split(":")[0]
                    weights[short] = np.asarray(lg[wn][()])
                layers.append(KerasLayer(name, weights))
    except WeightsCorrupt:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        raise WeightsCorrupt(path, f"could not be read completely, probably truncated or corrupt ({_short(e)})") from None
    return layers


def hash_prefix(path: str | Path) -> str | None:
    """The sha256 prefix a torch-hub style file name carries (`vggish-10086976.pth` -> '10086976'), if any."""
    m = re.search(r"-([0-9a-f]{6,})\.[A-Za-z0-9]+$", Path(path).name)
    return m.group(1) if m else None


__all__ = ["WeightsMissing", "WeightsCorrupt", "require_file", "load_torch_file", "load_npz_file", "load_array_dict",
           "KerasLayer", "read_keras_h5", "hash_prefix", "DOCS", "MODELS_DIR"]
