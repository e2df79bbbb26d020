"""The audio of a cue: the music itself (its soundtrack track) or the film's mix at the cue's times.

``features.audio`` chooses where every audio feature set (MIR, the embedding
networks, and any set added later) reads a cue's audio; `AudioSource.cue_audio`
is the one function they all go through:

- ``track`` (default): the cue's soundtrack track, from the matched offset
  (``track_offset``, seconds of the track as released) for the cue's length.
  A cue found at another playback speed (``speed``, as the matcher estimated
  it: 25/24 for PAL, 1000/1001 for NTSC pull-down) covers
  ``length x speed`` seconds of the track, which are played at that speed
  (`filmscore.cues.prints.render_span`, the matcher's own renderer: above 1
  shorter and higher, as a PAL transfer), so the features
  describe the music as heard in the film, on the film's 1 Hz grid. Dialogue,
  effects and the film's mixing levels do not enter the features. A cue table
  without a ``speed`` column is read as speed 1. A cue the matcher found as
  another rendition of its track (``match: rendition``, the tolerant tier of
  `filmscore.cues.rendition`: the same composition, but not the album's
  recording) is read from the film's mix at the cue's times, as in ``film``
  mode: the album's recording is not what plays in the film, and its tempo
  and offset are known only to a feature frame. Filter on ``match`` in the
  cue table (or set ``cues.renditions: false``) to leave such cues out.
- ``film``: the film's soundtrack mix at the cue's times (the paper's
  procedure): dialogue and effects under the music are measured with it. The
  only choice for music that is not on the released album.

Visual features always come from the film's picture.

Both modes cache by content (`audio_inputs`): ``film`` by the film file's hash
and the cue times; ``track`` by each cue's track content hash, offset, length
and speed (and the film's duration, which cuts a cue at the film's end), so
re-encoding a film's video or changing its dialogue leaves the track-mode
audio sets cached.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import FEATURES
from ..errors import FilmscoreError, MediaError, Problem
from ..files import file_hash
from ..cues.prints import out_of_phase, render_span
from ..media import AudioStream, MediaInfo, decode_audio, probe

log = logging.getLogger(__name__)

#: `features.audio` values (declared in the params schema): where an audio set reads a cue's audio.
AUDIO_MODES = FEATURES["audio"].choices
#: Cue-table columns `track` mode reads, beyond the contract's film_id, start, end.
TRACK_COLUMNS = ("track", "track_offset")
#: Decoded audio this much shorter than asked (seconds) is a rounding or seek shortfall: padded with silence.
SHORTFALL_S = 0.1
#: A speed this close to 1 is the track as released: the matcher's estimate of a film at speed 1 scatters by
#: ~1e-5, and 1e-4 drifts by under 30 ms over a 5-minute cue (0.2 cent of pitch), while rendering it would
#: low-pass the top 3 % of the band (windowed sinc) for nothing.
AS_RELEASED = 1e-4


def decode_mono(path: Path, sr: int, start: float, duration: float, channels: int, stream: int = 0) -> np.ndarray:
    """A span of a file's audio as mono: the mean of its (stereo-downmixed) channels.

    ffmpeg's own stereo-to-mono downmix sums the channels at -3 dB each, which
    puts a stereo source 3 dB above the same music in a mono source; averaging
    the stereo pair keeps levels (RMS) comparable across mono, stereo and 5.1
    sources (5.1 is first folded to stereo by ffmpeg's standard downmix).
    A span whose channels are out of phase (one channel's polarity inverted,
    a faulty transfer: `cues.prints.out_of_phase`, as the matcher reads a
    film) is averaged with that channel inverted back, where the plain mean
    would cancel its centred music.
    """
    if channels <= 1:
        return decode_audio(path, sr, channels=1, start=start, duration=duration, stream=stream)
    x = decode_audio(path, sr, channels=2, start=start, duration=duration, stream=stream)
    mid = x.mean(axis=1, dtype=np.float32)
    side = (x[:, 0] - x[:, 1]) * np.float32(0.5)
    m64, s64 = mid.astype(np.float64), side.astype(np.float64)
    return side if out_of_phase(float(m64 @ m64), float(s64 @ s64)) else mid


def _fit_length(audio: np.ndarray, n: int, sr: int) -> tuple[np.ndarray, int]:
    """`audio` cut to n samples; a shortfall up to SHORTFALL_S padded with zeros. Returns (audio, samples missing)."""
    audio = audio[:n]
    short = n - len(audio)
    if 0 < short <= int(SHORTFALL_S * sr) and len(audio):
        return np.pad(audio, (0, short)), 0
    return audio, max(0, short)


def is_rendition(cue) -> bool:
    """A cue of another rendition of its track (cue table column ``match``; a table without it has none)."""
    return str(getattr(cue, "match", "exact")) == "rendition"


class AudioSource:
    """Where the audio of one film's cues comes from (`features.audio`), and reading it.

    `film` is the film file and `stream` its audio stream read in film mode
    (``corpus.audio_stream``: an index or a language tag; None: the first);
    `tracks` maps each soundtrack track's name (file stem, as in the cue
    table's ``track`` column) to its file, whose first audio stream is read;
    `duration` is the film's duration in seconds (probed when not given).
    Files are probed once per source. Picklable: it travels to worker
    processes with the film's task.
    """

    def __init__(self, mode: str, film_id: str, film: str | Path, tracks: dict[str, str | Path] | None = None,
                 duration: float | None = None, stream: int | str | None = None):
        if mode not in AUDIO_MODES:
            raise ValueError(f"audio mode must be one of {AUDIO_MODES}, got {mode!r}")
        self.mode = mode
        self.film_id = film_id
        self.film = Path(film)
        self.tracks = {str(k): Path(v) for k, v in (tracks or {}).items()}
        self._duration = None if duration is None else float(duration)
        self.stream = stream
        self._info: dict[Path, MediaInfo] = {}
        self._warned: set[tuple[Path, int]] = set()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_info": {}, "_warned": set()}

    @property
    def duration(self) -> float:
        """The film's duration, s: cues are cut at it in both modes."""
        if self._duration is None:
            self._duration = float(self.info(self.film).duration)
        return self._duration

    def info(self, path: Path) -> MediaInfo:
        if path not in self._info:
            self._info[path] = probe(path)
        return self._info[path]

    def describe(self, cue) -> str:
        """Where a cue's audio is read, for messages."""
        if self.mode == "film" or is_rendition(cue):
            return f"{self.film} at {float(cue.start):.1f} s"
        return f"track {cue.track!r} of film {self.film_id!r} ({self.tracks.get(str(cue.track), '?')}) " \
               f"at {float(cue.track_offset):.1f} s"

    def cue_audio(self, cue, duration: float, sr: int) -> tuple[np.ndarray, list[str]]:
        """Mono float32 audio at `sr` of a cue's first `duration` seconds of film, as heard in the film.

        `cue` has the cue table's fields (cue_id, start; in track mode track,
        track_offset and optionally speed). Returns (audio, warnings); the audio
        is shorter than `duration` only where its source ends first (then a
        warning says so), and empty when nothing of the cue is there.
        """
        if self.mode == "film" or is_rendition(cue):
            return self._film_audio(cue, duration, sr)
        return self._track_audio(cue, duration, sr)

    def _rate_warning(self, path: Path, stream: AudioStream | None, sr: int) -> list[str]:
        rate = stream.sample_rate if stream is not None else 0
        if not 0 < rate < sr or (path, sr) in self._warned:
            return []
        self._warned.add((path, sr))
        return [f"{path}: audio sampled at {rate} Hz, below the {sr} Hz analysis rate: nothing above "
                f"{rate // 2} Hz, so spectral features describe an empty upper band"]

    def _film_audio(self, cue, duration: float, sr: int) -> tuple[np.ndarray, list[str]]:
        info = self.info(self.film)
        index = info.audio_stream(self.stream) if info.audio is not None else 0
        stream = info.audio_streams[index] if info.audio_streams else info.audio
        warns = self._rate_warning(self.film, stream, sr)
        audio = decode_mono(self.film, sr, float(cue.start), duration, stream.channels if stream else 1, index)
        audio, _ = _fit_length(audio, int(round(duration * sr)), sr)  # a short end is the film's end: cut as it is
        return audio, warns

    def _track_audio(self, cue, duration: float, sr: int) -> tuple[np.ndarray, list[str]]:
        name = str(cue.track)
        path = self.tracks[name]  # `check_track_cues` made sure the film has it
        try:
            info = self.info(path)
        except MediaError as e:
            raise self._undecodable(name, path, e) from None
        warns = self._rate_warning(path, info.audio, sr)
        speed = float(getattr(cue, "speed", 1.0))
        speed = 1.0 if abs(speed - 1.0) < AS_RELEASED else speed
        offset = float(cue.track_offset)
        channels = info.audio.channels if info.audio else 1
        # The track played at `speed` (output sample j at track sample j * speed), from the output sample
        # where the cue's offset falls, for the cue's length in film samples.
        a = int(round(offset * sr / speed))
        n = int(round(duration * sr))
        decoded_end = [0]  # where the track's decoded audio ends (samples at sr)

        def read(i0: int, i1: int) -> np.ndarray:
            x = decode_mono(path, sr, i0 / sr, (i1 - i0) / sr, channels)[: i1 - i0] if i1 > i0 else np.zeros(0, np.float32)
            decoded_end[0] = max(decoded_end[0], i0 + len(x))
            return np.pad(x, (0, i1 - i0 - len(x)))

        try:
            rendered = render_span(read, a, a + n, speed)
        except MediaError as e:
            raise self._undecodable(name, path, e) from None
        heard = max(0, min(n, int(np.ceil(decoded_end[0] / speed)) - a))  # output samples the track has
        audio, missing = _fit_length(np.asarray(rendered[:heard], np.float32), n, sr)
        length = duration * speed  # seconds of the track the cue plays
        where = f"cue {cue.cue_id} of film {self.film_id!r}: track {name!r} ({path})"
        if len(audio) == 0:
            warns.append(f"{where} has no audio at its offset {offset:.1f} s (the track is "
                         f"{info.duration:.1f} s long): skipped")
        elif missing:
            warns.append(f"{where} ends at {decoded_end[0] / sr:.1f} s, before the cue's end at "
                         f"{offset + length:.1f} s of the track: clipped to {len(audio) / sr:.1f} s of film")
        return audio, warns

    def _undecodable(self, name: str, path: Path, e: MediaError) -> FilmscoreError:
        what = "; ".join(p.what for p in e.problems)
        return FilmscoreError([Problem(str(path), f"track {name!r} of film {self.film_id!r} cannot be decoded "
                                                  f"at feature time ({what})",
                                       "replace the track with a valid audio file and re-run from `validate`, "
                                       "or set features.audio: film to read the film's mix")],
                              headline=f"film {self.film_id}: soundtrack track unreadable")


# ---------------------------------------------------------------- the cue table in track mode


def check_track_cues(cues: pd.DataFrame, tracks: dict[str, list[Path]], source: str = "cue table") -> pd.DataFrame:
    """The cue table ready for `track` mode: track columns checked, ``speed`` 1 where the table has none.

    Raises FilmscoreError listing every problem: a missing column, a cue
    without a usable offset or speed, a track name not in the film's
    soundtrack folder.
    """
    fix_mode = "or set features.audio: film to read the film's mix"
    missing = [c for c in TRACK_COLUMNS if c not in cues.columns]
    if missing:
        raise FilmscoreError([Problem(source, f"missing columns {missing}, needed by features.audio: track",
                                      f"re-run the `cues` stage (dvc repro cues), {fix_mode}")],
                             headline=f"{source} is not usable")
    df = cues.copy()
    if "speed" not in df.columns:
        df["speed"] = 1.0
    probs: list[Problem] = []
    for col, ok in (("track_offset", lambda v: np.isfinite(v) & (v >= 0)), ("speed", lambda v: np.isfinite(v) & (v > 0))):
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64")
        bad = np.flatnonzero(~ok(values))
        if len(bad):
            probs.append(Problem(source, f"{len(bad)} cue(s) without a valid {col} (first: {df['cue_id'].iloc[bad[0]]}, "
                                         f"{df[col].iloc[bad[0]]!r})",
                                 f"{col} must be a number {'>= 0' if col == 'track_offset' else '> 0'}; "
                                 f"re-run the `cues` stage, {fix_mode}"))
        df[col] = values
    df["track"] = df["track"].astype(str)
    for fid, film_cues in df.groupby("film_id", sort=True):
        names = {Path(p).stem for p in tracks.get(fid, [])}
        unknown = sorted(set(film_cues["track"]) - names)
        if unknown:
            probs.append(Problem(source, f"film {fid!r}: cue(s) name track(s) {unknown[:5]} not in its soundtrack folder"
                                         f" (has {sorted(names)[:5]}{' ...' if len(names) > 5 else ''})",
                                 f"re-run the `cues` stage on the current corpus, {fix_mode}"))
    if probs:
        raise FilmscoreError(probs, headline=f"{source} is not usable with features.audio: track")
    return df


# ---------------------------------------------------------------- what the audio depends on


def _known(manifest: pd.DataFrame | None, role: str) -> dict[tuple[str, str], tuple[str, int]]:
    if manifest is None or not {"film_id", "role", "sha256", "size_bytes"} <= set(manifest.columns):
        return {}
    rows = manifest[manifest["role"] == role]
    names = rows["track"] if "track" in rows.columns else pd.Series([""] * len(rows), index=rows.index)
    return {(str(f), "" if role == "film" else str(t)): (str(h), int(s))
            for f, t, h, s in zip(rows["film_id"], names, rows["sha256"], rows["size_bytes"])}


def trusted_hash(path: Path, entry: tuple[str, int] | None) -> str:
    """A file's content hash: the manifest's when it matches the file's size, else hashed now."""
    if entry and Path(path).is_file() and Path(path).stat().st_size == entry[1]:
        return entry[0]
    return file_hash(path)


def track_hashes(tracks: dict[str, list[Path]], cues: pd.DataFrame,
                 manifest: pd.DataFrame | None = None) -> dict[tuple[str, str], str]:
    """Content hash of every (film_id, track) the cues use (the manifest's where the size matches)."""
    known = _known(manifest, "track")
    out = {}
    for fid, name in sorted(set(zip(cues["film_id"].astype(str), cues["track"].astype(str)))):
        path = next(Path(p) for p in tracks[fid] if Path(p).stem == name)
        out[(fid, name)] = trusted_hash(path, known.get((fid, name)))
    return out


def film_durations(films: dict[str, Path], manifest: pd.DataFrame | None = None) -> dict[str, float]:
    """Each film's duration (s): the manifest's when its size matches the file, else probed."""
    known: dict[str, tuple[float, int]] = {}
    if manifest is not None and {"film_id", "role", "duration", "size_bytes"} <= set(manifest.columns):
        rows = manifest[manifest["role"] == "film"]
        known = {str(f): (float(d), int(s)) for f, d, s in zip(rows["film_id"], rows["duration"], rows["size_bytes"])}
    out = {}
    for fid, path in films.items():
        entry = known.get(fid)
        if entry and Path(path).is_file() and Path(path).stat().st_size == entry[1]:
            out[fid] = entry[0]
        else:
            out[fid] = float(probe(path).duration)
    return out


def audio_inputs(mode: str, film_cues: pd.DataFrame, film_hash: str | None = None,
                 track_hash: dict[tuple[str, str], str] | None = None, duration: float | None = None,
                 stream: int | str | None = None) -> dict:
    """Everything a film's cue audio depends on, for cache keys (JSON-able).

    ``film``: the film's content hash, the audio stream read (`stream`; None
    for the pictures) and the cue times. ``track``: for each cue its track's
    content hash, offset and speed, and its times (start, end) with the film's
    duration, which together give the length read; a rendition cue (read from
    the film's mix) gives the film's content hash and `stream` instead.
    """
    if mode == "film":
        rows = [(str(r.cue_id), repr(float(r.start)), repr(float(r.end))) for r in film_cues.itertuples()]
        return {"audio": "film", "film": film_hash, "stream": stream, "cues": rows}
    rows = [(str(r.cue_id), repr(float(r.start)), repr(float(r.end)), "rendition", film_hash, stream)
            if is_rendition(r) else
            (str(r.cue_id), repr(float(r.start)), repr(float(r.end)), track_hash[(str(r.film_id), str(r.track))],
             repr(float(r.track_offset)), repr(float(r.speed))) for r in film_cues.itertuples()]
    return {"audio": "track", "duration": repr(float(duration)), "cues": rows}


__all__ = ["AUDIO_MODES", "AudioSource", "audio_inputs", "check_track_cues", "decode_mono", "film_durations",
           "is_rendition", "track_hashes", "trusted_hash"]
