"""One feature set over one film's cues: the per-film work of the `features` stage (no cache, no parallelism).

`extract_film` reads each cue's audio (audio sets: from its soundtrack track or
the film's mix, `filmscore.features.source`, by ``features.audio``) or the film's
pictures at the cue's seconds (video sets), calls the set's extractor and lays the result on
the shared 1 Hz grid (`filmscore.features.bags`). Problems of the input that do
not stop the work (a silent cue, a cue past the film's end, a low sample rate)
are returned as warnings naming the cue and the file.

Everything this module imports, with the set's own module, is hashed into the
per-film cache keys (`filmscore.features.cache`): editing it recomputes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..media import probe
from . import bags
from .bags import empty_frames, frames_table, n_frames
from .sets import FeatureSet
from .source import AudioSource

SILENCE_RMS = 1e-4  # -80 dBFS: a cue quieter than this is reported as silent


def columns_of(name: str, extractor, dim: int | None = None) -> list[str]:
    """A set's feature columns: the extractor's ``columns``, else ``<name>_000 ..`` for `dim` features."""
    cols = getattr(extractor, "columns", None)
    if cols:
        return list(cols)
    if dim is None:
        return []
    return [f"{name}_{i:03d}" for i in range(dim)]


def _fit_rows(values: np.ndarray, n: int) -> np.ndarray:
    """Exactly n rows: extra rows dropped, a short result padded by repeating its last row."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"extractor returned shape {values.shape}, expected (frames, features)")
    if len(values) >= n:
        return values[:n]
    return np.concatenate([values, np.repeat(values[-1:], n - len(values), axis=0)])


def _audio_rate(name: str, extractor) -> int:
    sr = getattr(extractor, "sample_rate", None)
    if not sr:
        raise TypeError(f"the extractor of audio feature set {name!r} ({type(extractor).__name__}) has no sample_rate "
                        "attribute: the registry's interface (filmscore.features.sets) requires one")
    return int(sr)


def _audio_film(name: str, extractor, film_id: str, cues: pd.DataFrame,
                src: AudioSource) -> tuple[list[pd.DataFrame], list[str]]:
    sr = _audio_rate(name, extractor)
    duration = src.duration
    warns: list[str] = []
    tables = []
    for cue in cues.itertuples():
        dur = min(float(cue.end), duration) - float(cue.start)
        if dur <= 0:
            warns.append(f"cue {cue.cue_id} ({cue.start:.1f}-{cue.end:.1f} s) starts after the end of {src.film} "
                         f"({duration:.1f} s): skipped")
            continue
        audio, w = src.cue_audio(cue, dur, sr)
        warns += w
        if len(audio) == 0:
            if src.mode == "film":  # (track mode said why)
                warns.append(f"cue {cue.cue_id}: no audio decoded from {src.film} at {cue.start:.1f} s: skipped")
            continue
        if float(cue.end) > duration + 0.5:
            warns.append(f"cue {cue.cue_id} ends at {cue.end:.1f} s, after the end of {src.film} ({duration:.1f} s): "
                         "cut at the film's end")
        if dur < 1.0:
            warns.append(f"cue {cue.cue_id} lasts {dur:.2f} s, under one second: one frame from its audio")
        if float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
            warns.append(f"cue {cue.cue_id} ({src.describe(cue)}) is silent "
                         "(below -80 dBFS): its features describe silence")
        values = extractor.embed(audio, sr)
        n = n_frames(len(audio) / sr)
        if len(values) == 0:
            warns.append(f"cue {cue.cue_id} ({len(audio) / sr:.2f} s) is too short for set {name}: no frame")
            continue
        values = _fit_rows(values, n)
        tables.append(frames_table(film_id, cue.cue_id, float(cue.start), values, columns_of(name, extractor, values.shape[1])))
    return tables, warns


def _video_film(extractor, film_id: str, path: Path, cues: pd.DataFrame, duration: float,
                info) -> tuple[list[pd.DataFrame], list[str]]:
    if info.video is None:
        return [], [f"{path} has no video stream: visual features skipped for film {film_id}"]
    warns: list[str] = []
    spans = []
    for cue in cues.itertuples():
        dur = min(float(cue.end), duration) - float(cue.start)
        if dur <= 0:
            warns.append(f"cue {cue.cue_id} starts after the end of {path}: skipped")
            continue
        spans.append((cue.cue_id, float(cue.start), n_frames(dur)))
    if not spans:
        return [], warns
    times = np.concatenate([bags.frame_times(start, n) for _, start, n in spans])
    values, ok = extractor.film(path, times)
    tables, pos = [], 0
    for cue_id, start, n in spans:
        v, k = values[pos: pos + n], ok[pos: pos + n]
        pos += n
        if not k.all():
            warns.append(f"cue {cue_id}: {int((~k).sum())} of {n} second(s) past the end of the video of {path}: "
                         "left out")
        if k.any():
            t = frames_table(film_id, cue_id, start, v, list(extractor.columns))
            tables.append(t[k].reset_index(drop=True))
    return tables, warns


def extract_film(feature_set: FeatureSet, extractor, film_id: str, path: str | Path, cues: pd.DataFrame,
                 src: AudioSource | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One set's frame table for one film's cues (no cache): (frames, warnings).

    An audio set reads each cue through `src` (`AudioSource.cue_audio`: the
    cue's soundtrack track, or the film's chosen audio stream; default: the
    film's first stream); a video set reads the film's pictures.
    """
    path = Path(path)
    name = feature_set.name
    if feature_set.audio:
        tables, warns = _audio_film(name, extractor, film_id, cues, src or AudioSource("film", film_id, path))
    else:
        info = probe(path)
        tables, warns = _video_film(extractor, film_id, path, cues, float(info.duration), info)
    if tables:
        frames = pd.concat(tables, ignore_index=True)
    else:
        frames = empty_frames(columns_of(name, extractor))
    return frames, warns


__all__ = ["extract_film", "columns_of", "SILENCE_RMS"]
