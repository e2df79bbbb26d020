"""Convert the TensorFlow VGGish release (vggish_model.ckpt) to a PyTorch state_dict in torchvggish's layout.

The checkpoint is read with TensorFlow (`tf.train.load_checkpoint`) when it is
installed (`pip install tensorflow-cpu`). Without TensorFlow here, dump the
checkpoint's variables to an .npz in any environment that has it and convert
the .npz (no TensorFlow needed):

    python -c "import numpy as np, tensorflow as tf; r = tf.train.load_checkpoint('vggish_model.ckpt'); \\
np.savez('vggish_model.npz', **{k: r.get_tensor(k) for k in r.get_variable_to_shape_map()})"
    filmscore weights convert-vggish vggish_model.npz models/vggish_tf.pth

Variable mapping (vggish_slim's scopes -> torchvggish's modules); convolution
kernels go from TF's HWIO to torch's OIHW (transpose 3, 2, 0, 1), dense weights
from (in, out) to (out, in):

    vggish/conv1                -> features.0       vggish/conv4/conv4_1 -> features.11
    vggish/conv2                -> features.3       vggish/conv4/conv4_2 -> features.13
    vggish/conv3/conv3_1        -> features.6       vggish/fc1/fc1_1     -> embeddings.0
    vggish/conv3/conv3_2        -> features.8       vggish/fc1/fc1_2     -> embeddings.2
                                                    vggish/fc2           -> embeddings.4

fc1_1's input order needs no permutation: VGGishNet flattens its last feature
map in TF's (height, width, channel) order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import FilmscoreError, Problem
from ..weights import WeightsCorrupt, load_npz_file

TF_TO_TORCH = {
    "vggish/conv1": "features.0",
    "vggish/conv2": "features.3",
    "vggish/conv3/conv3_1": "features.6",
    "vggish/conv3/conv3_2": "features.8",
    "vggish/conv4/conv4_1": "features.11",
    "vggish/conv4/conv4_2": "features.13",
    "vggish/fc1/fc1_1": "embeddings.0",
    "vggish/fc1/fc1_2": "embeddings.2",
    "vggish/fc2": "embeddings.4",
}

INSTALL_TF = ("pip install tensorflow-cpu (any environment will do), or dump the checkpoint's variables to an .npz "
              "where TensorFlow is installed and convert the .npz (docs/weights.md)")


def tf_to_torch(variables: dict[str, np.ndarray], source: str = "checkpoint") -> dict[str, np.ndarray]:
    """Map TF VGGish variables ({'vggish/conv1/weights': HWIO array, ...}; ':0' suffixes allowed) to a
    torchvggish-layout {name: array}. Raises WeightsCorrupt naming `source` for missing or misshapen variables."""
    from .network import expected_shapes

    v = {k[:-2] if k.endswith(":0") else k: np.asarray(a) for k, a in variables.items()}
    want = expected_shapes()
    out: dict[str, np.ndarray] = {}
    missing = []
    for tf_scope, torch_name in TF_TO_TORCH.items():
        w, b = v.get(f"{tf_scope}/weights"), v.get(f"{tf_scope}/biases")
        if w is None or b is None:
            missing += [f"{tf_scope}/{s}" for s, a in (("weights", w), ("biases", b)) if a is None]
            continue
        if w.ndim == 4:
            w = w.transpose(3, 2, 0, 1)  # HWIO -> OIHW
        elif w.ndim == 2:
            w = w.T  # (in, out) -> (out, in)
        out[f"{torch_name}.weight"] = np.ascontiguousarray(w, dtype=np.float32)
        out[f"{torch_name}.bias"] = np.ascontiguousarray(b, dtype=np.float32)
    if missing:
        have = sorted(k for k in v if k.startswith("vggish/"))[:6]
        raise WeightsCorrupt(source, f"lacks VGGish variables {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''} "
                             f"(holds {', '.join(have) or 'no vggish/ variables'})",
                             "use the TensorFlow release vggish_model.ckpt (docs/weights.md)")
    bad = [f"{k} {out[k].shape} (expected {want[k]})" for k in want if out[k].shape != want[k]]
    if bad:
        raise WeightsCorrupt(source, "has VGGish variables of the wrong shape: " + "; ".join(bad[:3]))
    return out


def read_tf_checkpoint(path: str | Path) -> dict[str, np.ndarray]:
    """The variables of a TF checkpoint (through TensorFlow) or of an .npz dump of one (no TensorFlow)."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        if not path.is_file():
            raise FilmscoreError([Problem(str(path), "not found", "check the path")])
        return load_npz_file(path)
    if not (path.is_file() or Path(str(path) + ".index").is_file()):
        raise FilmscoreError([Problem(str(path), "not found", "check the path (download: docs/weights.md)")])
    try:
        import tensorflow as tf  # noqa: F401  (optional, only for this conversion)
    except ImportError:
        raise FilmscoreError([Problem(str(path), "is a TensorFlow checkpoint, and TensorFlow is not installed", INSTALL_TF)],
                             headline="cannot read the checkpoint") from None
    try:
        reader = tf.train.load_checkpoint(str(path))
        names = reader.get_variable_to_shape_map()
        return {n: np.asarray(reader.get_tensor(n)) for n in names if n.startswith("vggish/")}
    except Exception as e:  # TF raises many types for unreadable files
        first = (str(e).splitlines() or [""])[0][:200]
        raise WeightsCorrupt(path, f"TensorFlow cannot read it as a checkpoint ({type(e).__name__}: {first})") from None


def convert_checkpoint(src: str | Path, out: str | Path, force: bool = False) -> Path:
    """Read the TF VGGish checkpoint (or .npz dump) at `src`; write a torchvggish-layout state_dict to `out`."""
    import torch

    from ...files import write_torch
    from .network import load_network

    out = Path(out)
    if out.exists() and not force:
        raise FilmscoreError([Problem(str(out), "exists already", "choose another output path, or pass --force to replace it")])
    state = tf_to_torch(read_tf_checkpoint(src), source=str(src))
    # read back through the safe loader before the file takes its name
    return write_torch(out, {k: torch.from_numpy(a) for k, a in state.items()}, check=load_network)
