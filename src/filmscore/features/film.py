"""One feature set over one film's cues: the per-film work of the `features` stage (no cache, no parallelism).

`extract_film` decodes each cue's audio (audio sets) or the film's pictures at
the cue's seconds (video sets), calls the set's extractor and lays the result on
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

from ..media import decode_audio, probe
from . import bags
from .bags import empty_frames, frames_table, n_frames
from .sets import FeatureSet

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


def decode_mono(path: Path, sr: int, start: float, duration: float, channels: int, stream: int = 0) -> np.ndarray:
    """A span of a film's audio as mono: the mean of its (stereo-downmixed) channels.

    ffmpeg's own stereo-to-mono downmix sums the channels at -3 dB each, which
    puts a stereo source 3 dB above the same music in a mono source; averaging
    the stereo pair keeps levels (RMS) comparable across mono, stereo and 5.1
    films (5.1 is first folded to stereo by ffmpeg's standard downmix).
    """
    if channels <= 1:
        return decode_audio(path, sr, channels=1, start=start, duration=duration, stream=stream)
    return decode_audio(path, sr, channels=2, start=start, duration=duration, stream=stream).mean(axis=1,
                                                                                                  dtype=np.float32)


def _audio_rate(name: str, extractor) -> int:
    sr = getattr(extractor, "sample_rate", None)
    if not sr:
        raise TypeError(f"the extractor of audio feature set {name!r} ({type(extractor).__name__}) has no sample_rate "
                        "attribute: the registry's interface (filmscore.features.sets) requires one")
    return int(sr)


def _audio_film(name: str, extractor, film_id: str, path: Path, cues: pd.DataFrame, duration: float,
                info, audio_stream: int | str | None = None) -> tuple[list[pd.DataFrame], list[str]]:
    sr = _audio_rate(name, extractor)
    warns: list[str] = []
    stream = info.audio_stream(audio_stream) if info.audio is not None else 0
    audio_info = info.audio_streams[stream] if info.audio_streams else info.audio
    if audio_info is not None and 0 < audio_info.sample_rate < sr:
        warns.append(f"{path}: audio sampled at {audio_info.sample_rate} Hz, below the {sr} Hz analysis rate of "
                     f"set {name}: nothing above {audio_info.sample_rate // 2} Hz, so spectral features describe "
                     "an empty upper band")
    tables = []
    for cue in cues.itertuples():
        dur = min(float(cue.end), duration) - float(cue.start)
        if dur <= 0:
            warns.append(f"cue {cue.cue_id} ({cue.start:.1f}-{cue.end:.1f} s) starts after the end of {path} "
                         f"({duration:.1f} s): skipped")
            continue
        audio = decode_mono(path, sr, float(cue.start), dur, audio_info.channels if audio_info else 1, stream)
        expected = int(round(dur * sr))
        if 0 < expected - len(audio) <= int(0.1 * sr):  # seek/rounding shortfall at the film's end
            audio = np.pad(audio, (0, expected - len(audio)))
        if len(audio) == 0:
            warns.append(f"cue {cue.cue_id}: no audio decoded from {path} at {cue.start:.1f} s: skipped")
            continue
        if float(cue.end) > duration + 0.5:
            warns.append(f"cue {cue.cue_id} ends at {cue.end:.1f} s, after the end of {path} ({duration:.1f} s): "
                         "cut at the film's end")
        if dur < 1.0:
            warns.append(f"cue {cue.cue_id} lasts {dur:.2f} s, under one second: one frame from its audio")
        if float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) < SILENCE_RMS:
            warns.append(f"cue {cue.cue_id} ({cue.start:.1f}-{cue.end:.1f} s of {path}) is silent "
                         "(below -80 dBFS): its features describe silence")
        values = extractor.embed(audio, sr)
        n = n_frames(len(audio) / sr)
        if len(values) == 0:
            warns.append(f"cue {cue.cue_id} ({dur:.2f} s) is too short for set {name}: no frame")
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


def extract_film(feature_set: FeatureSet, extractor, film_id: str, path: str | Path,
                 cues: pd.DataFrame, audio_stream: int | str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One set's frame table for one film's cues (no cache): (frames, warnings).

    Audio sets read the film's `audio_stream` (an index or a language tag; None: the first)."""
    path = Path(path)
    info = probe(path)
    duration = float(info.duration)
    name = feature_set.name
    if feature_set.audio:
        tables, warns = _audio_film(name, extractor, film_id, path, cues, duration, info, audio_stream)
    else:
        tables, warns = _video_film(extractor, film_id, path, cues, duration, info)
    if tables:
        frames = pd.concat(tables, ignore_index=True)
    else:
        frames = empty_frames(columns_of(name, extractor))
    return frames, warns


__all__ = ["extract_film", "decode_mono", "columns_of", "SILENCE_RMS"]
