"""Feature bags: the frame-level and cue-level tables every feature set writes.

For each feature set ``S`` the stage writes ``data/features/S/``:

- ``frames.parquet``: one row per second of cue (1 Hz), keyed ``film_id, cue_id,
  t`` where ``t`` is film time in seconds (the row covers ``t .. t + 1``);
- ``cues.parquet``: one row per cue, keyed ``film_id, cue_id, start, end``, the
  cue's frames averaged;
- ``status.json``: ``{"status": "ok", ...}`` or ``{"status": "skipped",
  "reason": ...}`` (a skipped set still writes both tables, keys only, no rows).

Every non-key column is a float32 feature. The 1 Hz grid is shared by all sets
so their rows join on ``(film_id, cue_id, t)``: a cue of duration ``d`` has
``max(1, floor(d))`` frames starting at its start (a partial last second is left
out of the grid; a cue shorter than one second still gives one frame).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import atomic_dir, read_table, write_json

FRAME_KEYS: tuple[str, ...] = ("film_id", "cue_id", "t")
CUE_KEYS: tuple[str, ...] = ("film_id", "cue_id", "start", "end")
KEYS = frozenset(FRAME_KEYS + CUE_KEYS)

# Tolerance for float time arithmetic: 9.9999999 s of audio is 10 frames.
_EPS = 1e-6


def n_frames(duration: float) -> int:
    """Frames on the 1 Hz grid for `duration` seconds of cue: max(1, floor(duration))."""
    return max(1, int(math.floor(duration + _EPS)))


def frame_times(start: float, n: int) -> np.ndarray:
    """Film times of the `n` 1 Hz frames of a cue starting at `start` (float64)."""
    return float(start) + np.arange(n, dtype=np.float64)


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The feature columns of a bag table: every column that is not a key."""
    return [c for c in df.columns if c not in KEYS]


def frames_table(film_id: str, cue_id: str, start: float, values: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Frame rows of one cue: keys + float32 features (values: (n_frames, n_columns))."""
    values = np.asarray(values, dtype=np.float32).reshape(len(values), len(columns))
    df = pd.DataFrame(values, columns=columns)
    df.insert(0, "t", frame_times(start, len(values)))
    df.insert(0, "cue_id", cue_id)
    df.insert(0, "film_id", film_id)
    return df


def empty_frames(columns: list[str] | tuple = ()) -> pd.DataFrame:
    """A frame table with no rows (keys, then float32 `columns`)."""
    data = {"film_id": pd.Series([], dtype=object), "cue_id": pd.Series([], dtype=object),
            "t": pd.Series([], dtype="float64")}
    data.update({c: pd.Series([], dtype="float32") for c in columns})
    return pd.DataFrame(data)


def cue_table(frames: pd.DataFrame, cues: pd.DataFrame) -> pd.DataFrame:
    """Cue-level table: the frames of each cue averaged, with the cue's start and end.

    `cues` is the cue table (film_id, cue_id, start, end, ...). Cues without
    frames in `frames` (skipped for this set) get no row.
    """
    feats = feature_columns(frames)
    if frames.empty:
        out = empty_frames(feats).drop(columns=["t"])
        out.insert(2, "start", pd.Series([], dtype="float64"))
        out.insert(3, "end", pd.Series([], dtype="float64"))
        return out
    means = frames.groupby("cue_id", sort=False)[feats].mean().astype(np.float32)
    keys = cues.loc[cues["cue_id"].isin(means.index), list(CUE_KEYS)].copy()
    keys["start"] = keys["start"].astype("float64")
    keys["end"] = keys["end"].astype("float64")
    out = keys.join(means, on="cue_id")
    return out.sort_values(["film_id", "start", "cue_id"], kind="stable").reset_index(drop=True)


def write_set(out_dir: str | Path, name: str, frames: pd.DataFrame, cues: pd.DataFrame, status: dict) -> Path:
    """Write one set's folder (frames, cues, status) atomically: all of it or none."""
    target = Path(out_dir) / name
    with atomic_dir(target) as tmp:
        frames.to_parquet(tmp / "frames.parquet", index=False)
        cues.to_parquet(tmp / "cues.parquet", index=False)
        write_json(tmp / "status.json", status)
    return target


def write_skipped(out_dir: str | Path, name: str, reason: str) -> Path:
    """A skipped set: key-only tables with no rows, and the reason."""
    frames = empty_frames()
    return write_set(out_dir, name, frames, cue_table(frames, pd.DataFrame(columns=list(CUE_KEYS))),
                     {"status": "skipped", "reason": reason})


def read_set(out_dir: str | Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read a set written by `write_set`: (frames, cues, status)."""
    import json

    folder = Path(out_dir) / name
    status = json.loads((folder / "status.json").read_text(encoding="utf-8"))
    return read_table(folder / "frames.parquet"), read_table(folder / "cues.parquet"), status
