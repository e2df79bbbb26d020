"""Small synthetic pipeline outputs for the reports tests (written into a tmp dir).

Everything follows the data contracts of HELPERS.md: manifest, cue table,
feature tables, model predictions. The planted model reads fixed columns of
the MIR bag, so its importance is known.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]
MIR_COLUMNS = ["mfcc_0", "mfcc_1", "dmfcc_0", "rms_mean", "key_strength", "unused_a"]
GROUP_OF = {"mfcc_0": "MFCC", "mfcc_1": "MFCC", "dmfcc_0": "dMFCC", "rms_mean": "Dynamics",
            "key_strength": "Tone", "unused_a": "Rhythm"}
# genre -> the column whose bag mean decides it (a positive when the mean exceeds 0.5)
PLANTED = {"Action": "mfcc_0", "Comedy": "mfcc_1", "Drama": "mfcc_0", "Horror": "key_strength",
           "Romance": "mfcc_1", "Sci-Fi": "dmfcc_0"}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class PlantedPredictor:
    """A 'fold model' per film that thresholds bag means of fixed columns (CVPredictor protocol)."""

    threshold = 0.5

    def __init__(self, film_ids, genres=GENRES, columns=MIR_COLUMNS, planted=PLANTED):
        self.film_ids = list(film_ids)
        self.genres = list(genres)
        self.columns = list(columns)
        self.cols = [self.columns.index(planted[g]) for g in genres]
        self.calls = 0

    def predict_heldout(self, bags):
        self.calls += 1
        out = np.zeros((len(bags), len(self.genres)))
        for i, b in enumerate(bags):
            if len(b):
                out[i] = _sigmoid(40.0 * (b[:, self.cols].mean(axis=0) - 0.5))
        return out


def film_ids(n: int) -> list[str]:
    return [f"film{i:02d}" for i in range(n)]


def label_sets(n: int, seed: int = 0) -> list[list[str]]:
    """Labels such that every genre has several films and some films have several genres."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        first = GENRES[i % len(GENRES)]
        gs = [first]
        if rng.random() < 0.4:
            gs.append(GENRES[(i + 1 + int(rng.integers(0, 4))) % len(GENRES)])
        out.append(sorted(set(gs), key=GENRES.index))
    return out


def write_manifest(root: Path, ids, labels, video=None, film_seconds=120.0, tracks_per_film=3) -> pd.DataFrame:
    video = video if video is not None else [True] * len(ids)
    rows = []
    for fid, gs, v in zip(ids, labels, video):
        g = "|".join(gs)
        rows.append({"film_id": fid, "role": "film", "track": None, "path": f"films/{fid}.mp4",
                     "duration": film_seconds, "has_video": bool(v), "genres": g})
        for t in range(tracks_per_film):
            rows.append({"film_id": fid, "role": "track", "track": f"track{t}", "path": f"soundtracks/{fid}/track{t}.mp3",
                         "duration": 60.0, "has_video": False, "genres": g})
    df = pd.DataFrame(rows)
    (root / "data").mkdir(parents=True, exist_ok=True)
    df.to_parquet(root / "data/manifest.parquet", index=False)
    return df


def write_cues(root: Path, ids, cues_per_film=3, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for fid in ids:
        t = 5.0
        for i in range(cues_per_film):
            dur = float(rng.integers(8, 20))
            rows.append({"film_id": fid, "track": f"track{i % 3}", "start": t, "end": t + dur,
                         "track_offset": 0.0, "confidence": 0.9, "cue_id": f"{fid}:{i:04d}"})
            t += dur + float(rng.integers(5, 15))
    df = pd.DataFrame(rows)
    (root / "data/cues").mkdir(parents=True, exist_ok=True)
    df.to_parquet(root / "data/cues/cues.parquet", index=False)
    return df


def write_truth(corpus: Path, cues: pd.DataFrame) -> None:
    (corpus / "cues_truth").mkdir(parents=True, exist_ok=True)
    for fid, g in cues.groupby("film_id"):
        g[["track", "start", "end"]].assign(end=g["end"] + 1.0).to_csv(corpus / "cues_truth" / f"{fid}.csv", index=False)


def write_mir(root: Path, cues: pd.DataFrame, labels_by_film: dict, seed=0) -> pd.DataFrame:
    """Cue-level MIR table whose planted columns carry the film's labels (means > 0.5 iff labelled)."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in cues.itertuples(index=False):
        gs = labels_by_film[r.film_id]
        feat = {c: float(rng.uniform(0.0, 1.0)) for c in MIR_COLUMNS}
        for g, col in PLANTED.items():
            if g in gs:
                feat[col] = float(rng.uniform(0.7, 0.9))
        for col in set(PLANTED.values()):
            if not any(PLANTED[g] == col for g in gs):
                feat[col] = float(rng.uniform(0.1, 0.3))
        rows.append({"film_id": r.film_id, "cue_id": r.cue_id, "start": r.start, "end": r.end, **feat})
    df = pd.DataFrame(rows)
    d = root / "data/features/mir"
    d.mkdir(parents=True, exist_ok=True)
    df.to_parquet(d / "cues.parquet", index=False)
    df.iloc[0:0].to_parquet(d / "frames.parquet", index=False)
    (d / "status.json").write_text(json.dumps({"status": "ok"}))
    return df


def write_visual(root: Path, cues: pd.DataFrame, labels_by_film: dict, video_films: set, dark_genre="Horror",
                 seed=0) -> pd.DataFrame:
    """1 Hz brightness/contrast frames for the cues of films with video; `dark_genre` films are darker."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in cues.itertuples(index=False):
        if r.film_id not in video_films:
            continue
        dark = dark_genre in labels_by_film[r.film_id]
        for t in np.arange(np.ceil(r.start), r.end):
            rows.append({"film_id": r.film_id, "cue_id": r.cue_id, "t": float(t),
                         "brightness": float(rng.uniform(0.1, 0.3) if dark else rng.uniform(0.4, 0.7)),
                         "contrast": float(rng.uniform(0.2, 0.6))})
    df = pd.DataFrame(rows, columns=["film_id", "cue_id", "t", "brightness", "contrast"])
    d = root / "data/features/visual"
    d.mkdir(parents=True, exist_ok=True)
    df.to_parquet(d / "frames.parquet", index=False)
    (d / "status.json").write_text(json.dumps({"status": "ok"}))
    return df


def write_predictions(root: Path, cell: str, ids, labels, probs: np.ndarray, genres=GENRES, threshold=0.5) -> Path:
    rows = []
    for i, (fid, gs) in enumerate(zip(ids, labels)):
        for j, g in enumerate(genres):
            rows.append({"film_id": fid, "fold": i, "genre": g, "prob": float(probs[i, j]),
                         "pred": int(probs[i, j] >= threshold), "truth": int(g in gs)})
    d = root / "data/models" / cell
    d.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(d / "predictions.parquet", index=False)
    return d


def params(corpus_path: str = "corpus", n_repeats: int = 20) -> dict:
    return {
        "corpus": {"path": corpus_path, "genres": list(GENRES), "quick_check": True, "jobs": 1},
        "model": {"set": "vggish", "level": "cue", "pool": "single_attention", "hidden": 128},
        "reports": {
            "importance": {"features": "mir", "level": "cue", "pool": "avg", "hidden": 64, "n_repeats": n_repeats, "seed": 0, "confidence": 0.95, "bootstrap": 200},
            "crossmodal": {"alpha": 0.01, "min_clips": 5, "min_films": 2, "unit": "film"},
            "timeline": {"films_per_page": 8},
        },
    }
