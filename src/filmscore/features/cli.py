"""`filmscore weights`: check the pretrained weight files of the feature sets that have them; convert checkpoints.

The sets with weights are those of the registry (`filmscore.features.sets`)
whose params section has a ``weights`` key; `check` loads each exactly as the
features stage does and runs it on a test tone. Each action is a function in
`ACTIONS` that adds its sub-parser (``add(subparsers)``) and sets ``func``: a new
action (for example fetching or converting another network's weights) is one
more function in that list. Where each file comes from: docs/weights.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..config import defaults
from . import sets
from .weights import DOCS, WeightsCorrupt, WeightsMissing, hash_prefix


def weighted_sets() -> tuple[str, ...]:
    """The registered sets whose extractor loads a weight file (a ``weights`` key in their params section)."""
    return tuple(n for n in sets.NAMES if isinstance(defaults(f"features.{n}"), dict)
                 and "weights" in defaults(f"features.{n}"))


def sections_from_params(params_path: str) -> dict[str, dict]:
    """Each weighted set's section: the schema defaults, updated from params.yaml when the file is there."""
    from ..config import load_params

    out = {n: dict(defaults(f"features.{n}")) for n in weighted_sets()}
    if Path(params_path).is_file():
        feats = load_params(params_path, sections=["features"])["features"]
        for n in out:
            if isinstance(feats.get(n), dict):
                out[n].update(feats[n])
    return out


def _smoke(model, sr: int) -> str:
    t = np.arange(int(2.5 * sr)) / sr
    y = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    emb = model.embed(y, sr)
    if not np.all(np.isfinite(emb)):
        raise WeightsCorrupt(model.weights_path, "loads, but gives non-finite embeddings on a test tone")
    return f"{emb.shape[0]} x {emb.shape[1]} on a 2.5 s tone"


def check_weights(sections: dict[str, dict]) -> list[str]:
    """Load each model as the features stage would and run it on a test tone; one report line per file."""
    from ..files import file_hash

    lines = []
    for key, section in sections.items():
        try:
            model = sets.get(key).load().from_params(section)
        except WeightsMissing as e:
            lines.append(f"{key}: MISSING  {e.reason}")
            continue
        result = _smoke(model, model.sample_rate)
        for p in model.files():
            digest = file_hash(p)
            pre = hash_prefix(p)
            tag = "" if pre is None else ("  (name's hash prefix matches)" if digest.startswith(pre)
                                          else f"  (WARNING: the name says {pre}..., the content differs)")
            lines.append(f"{key}: OK  {p}  sha256 {digest}{tag}")
        lines.append(f"{key}: embeds {result}, {model.describe()}")
    return lines


# ---------------------------------------------------------------- actions


def _cmd_check(args) -> int:
    sections = sections_from_params(args.params)
    for key in sections:
        if getattr(args, key, None):
            sections[key]["weights"] = getattr(args, key)
    if getattr(args, "vggish_pca", None) and "vggish" in sections:
        sections["vggish"]["pca_params"] = args.vggish_pca
    lines = check_weights(sections)
    print("\n".join(lines))
    return 1 if any(": MISSING" in ln for ln in lines) else 0


def add_check(wsub) -> None:
    names = weighted_sets()
    k = wsub.add_parser("check", help="load each weight file and run it on a test tone",
                        description="Load the weights named in params.yaml ("
                        + ", ".join(f"features.{n}" for n in names) + "; the defaults under models/ otherwise) "
                        "exactly as the features stage does, run each on a test tone, and print each file's sha256. "
                        "Exit status 1 when a file is missing, 2 when one is unusable.")
    k.add_argument("--params", default="params.yaml", help="params file (default: ./params.yaml)")
    for n in names:
        k.add_argument(f"--{n}", help=f"weight file to check instead of params' features.{n}.weights")
    if "vggish" in names:
        k.add_argument("--vggish-pca", help="VGGish PCA params (.pth or .npz) instead of features.vggish.pca_params")
    k.set_defaults(func=_cmd_check)


def _cmd_convert_vggish(args) -> int:
    from .vggish.convert import convert_checkpoint

    out = convert_checkpoint(args.checkpoint, args.output, force=args.force)
    print(f"wrote {out} (torchvggish state_dict layout); set params.yaml: features.vggish.weights: {out}")
    return 0


def add_convert_vggish(wsub) -> None:
    c = wsub.add_parser(
        "convert-vggish", help="convert the TensorFlow VGGish checkpoint to a PyTorch state_dict",
        description="Convert TensorFlow's vggish_model.ckpt (needs `pip install tensorflow-cpu`), or an .npz dump of "
        "its variables (no TensorFlow needed here; see docs/weights.md), to a state_dict in torchvggish's layout. "
        "The PCA file vggish_pca_params.npz needs no conversion: point features.vggish.pca_params at it.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("checkpoint", help="vggish_model.ckpt, or an .npz of its variables")
    c.add_argument("output", help="where to write the state_dict (.pth), e.g. models/vggish_tf.pth")
    c.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    c.set_defaults(func=_cmd_convert_vggish)


def _cmd_fetch_musicnn(args) -> int:
    from .musicnn.fetch import fetch_musicnn

    dest = args.dest or sections_from_params(args.params)["musicnn"]["weights"]
    paths = fetch_musicnn(dest, wheel=args.wheel, force=args.force)
    print("\n".join(f"musicnn: OK  {p}" for p in paths))
    return 0


def add_fetch_musicnn(wsub) -> None:
    from .musicnn import params as M

    f = wsub.add_parser(
        "fetch-musicnn", help=f"write the musicnn {M.WHEEL_VERSION} weights as .npz (pip download, no TensorFlow)",
        description=f"Download the musicnn {M.WHEEL_VERSION} wheel from PyPI ({M.PIP_DOWNLOAD}; nothing is installed), "
        "check its sha256, read the TensorFlow checkpoints of its four models (" + ", ".join(M.MODELS) + ") with "
        "filmscore's numpy reader and write DEST/<model>.npz. Models already written from that wheel are kept, so a "
        "second run downloads nothing. Without network access: download the wheel elsewhere and pass --wheel.")
    f.add_argument("--dest", help="folder for the .npz files (default: params.yaml's features.musicnn.weights, "
                   f"{M.WEIGHTS_DIR} unless changed)")
    f.add_argument("--params", default="params.yaml", help="params file (default: ./params.yaml)")
    f.add_argument("--wheel", help=f"a downloaded {M.WHEEL_NAME} to read instead of downloading it")
    f.add_argument("--force", action="store_true", help="write the files again even when they are current")
    f.set_defaults(func=_cmd_fetch_musicnn)


#: the actions of `filmscore weights`, in the order `--help` lists them
ACTIONS = [add_fetch_musicnn, add_convert_vggish, add_check]


def register(sub) -> None:
    p = sub.add_parser("weights", help="fetch the musicnn weights; check the pretrained weight files; convert the "
                       "TensorFlow VGGish checkpoint",
                       description=f"Pretrained weights of the feature sets that have them. Where to get them: {DOCS}.")
    wsub = p.add_subparsers(dest="weights_command", metavar="ACTION")
    for add in ACTIONS:
        add(wsub)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


__all__ = ["register", "ACTIONS", "check_weights", "sections_from_params", "weighted_sets"]
