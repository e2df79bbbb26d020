"""Atomic output: every file is written to a temporary name and renamed.

A crash or an error never leaves a half-written output behind, and an
existing output is replaced only once the new one is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sfx = suffix if suffix is not None else "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{sfx}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside `path`; it replaces `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_torch(path: str | Path, obj: Any, check=None) -> Path:
    """torch.save `obj` to `path` atomically, with the same bytes for the same content;
    ``check(tmp_path)``, when given, reads the file back before it takes its name.

    torch.save names the zip archive's root folder after the file it writes to, so
    saving straight to a random temporary name gives different bytes (and DVC
    hashes) every run; saved to a buffer the folder is always ``archive``.
    """
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())
        if check is not None:
            check(tmp)
    return Path(path)


#: Significant digits of floats in JSON and CSV outputs. Float sums can differ in the last
#: bits between runs (numpy's vectorised sums depend on memory alignment); rounding keeps
#: the bytes, and so DVC's hashes of metrics and reports, identical across machines.
FLOAT_DIGITS = 12


def _round_floats(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return float(f"{x:.{FLOAT_DIGITS}g}") if np.isfinite(x) else x
    if isinstance(obj, dict):
        return {k: _round_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round_floats(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _round_floats(obj.tolist())
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """JSON with sorted keys and floats rounded to FLOAT_DIGITS significant digits."""
    return write_text(path, json.dumps(_round_floats(obj), indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_table(df, path: str | Path, index: bool = False) -> Path:
    """Write a DataFrame as parquet, CSV or markdown, chosen by the extension."""
    path = Path(path)
    ext = path.suffix.lower()
    with atomic_path(path) as tmp:
        if ext == ".parquet":
            df.to_parquet(tmp, index=index)
        elif ext == ".csv":
            df.to_csv(tmp, index=index, float_format=f"%.{FLOAT_DIGITS}g")
        elif ext == ".md":
            tmp.write_text(df.to_markdown(index=index) + "\n", encoding="utf-8")
        else:
            raise ValueError(f"{path}: unsupported table extension {ext!r} (use .parquet, .csv or .md)")
    return path


def read_table(path: str | Path):
    """Read a table written by `write_table` (parquet or CSV, by extension)."""
    import pandas as pd

    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path)


def save_figure(fig, path: str | Path, **kwargs) -> Path:
    """Save a matplotlib figure atomically (format from the extension) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    kwargs.setdefault("bbox_inches", "tight")
    kwargs.setdefault("dpi", 120)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", **kwargs)
    plt.close(fig)
    return path


def file_hash(path: str | Path, algo: str = "sha256", chunk: int = 1 << 20) -> str:
    """Content hash of a file (hex digest), read in chunks."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()
