"""Score Stamper: the cue table of one film, or of a whole corpus.

`stamp_film(film, soundtrack_dir)` returns one row per cue with the columns of
the cue contract (`CUE_COLUMNS`) plus extras: `speed`, `channel` (mid or side,
where the alignment was verified), `gcc_z` (the phase check's z-score),
`strength` (mean coherence z over the cue) and `mode`. A film where nothing
matches gives an empty table with the same columns.

Speed convention: `speed` is how fast the film plays the track, in track
seconds per film second (1000/1001 = 0.999 for an NTSC pull-down, 25/24 for a
PAL speed-up). `track_offset` is the track time (as released) at the cue's
`start`, and inside the cue the track time at film time t is
`track_offset + (t - start) * speed`; the cue's film span [start, end] holds
(end - start) * speed seconds of the track. To cut the track excerpt that
matches a cue, read [track_offset, track_offset + (end - start) * speed] of the
track and resample it by `speed` (play it `speed` times as fast) to lay it on
the film.

`confidence` maps the phase check's z-score through a logistic centred on the
acceptance threshold (`cues.verify.min_z`): 0.5 at the threshold, above 0.95
six points over it. In `windows` mode it is the share of the window's items
that voted for the hit, capped at 1.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FilmscoreError, MediaError, Problem
from ..corpus import soundtrack_tracks, track_names
from ..media import AUDIO_EXTS, MEDIA_EXTS
from .cache import CUES_CODE, PRINTS_CODE, PrintCache, content_hash, current_code_version
from .match import Track, match_film
from .rendition import match_renditions
from .prints import (CHANNELS, CHROMAPRINT_HOP, FilmAudio, PcmFile, Prints, TrackAudio, _energy, load_track_audio,
                     track_prints)
from .settings import StampSettings
from .windows import merge_hits, window_hits

log = logging.getLogger(__name__)

CUE_COLUMNS = ["film_id", "track", "start", "end", "track_offset", "confidence", "cue_id"]
EXTRA_COLUMNS = ["match", "speed", "pitch", "channel", "gcc_z", "strength", "mode"]
#: `match` values: the album's recording, verified by the phase of the waveforms, or another rendition of the
#: track's composition found by the tolerant tier (`filmscore.cues.rendition`, `cues.renditions`)
MATCH_KINDS = ("exact", "rendition")
SILENCE_RMS = 1e-4


def empty_cues() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="float64") for c in CUE_COLUMNS + EXTRA_COLUMNS})
    for c in ("film_id", "track", "cue_id", "match", "pitch", "channel", "mode"):
        df[c] = df[c].astype("object")
    return df


def finalize(df: pd.DataFrame) -> pd.DataFrame:
    """Sort by film_id, start and number the cues per film (cue_id = film_id:0000)."""
    if df.empty:
        return empty_cues()
    df = df.sort_values(["film_id", "start", "end", "track"], kind="stable").reset_index(drop=True)
    df["cue_id"] = [f"{f}:{i:04d}" for f, i in zip(df["film_id"], df.groupby("film_id").cumcount())]
    cols = CUE_COLUMNS + [c for c in df.columns if c not in CUE_COLUMNS]
    return df[cols]


def soundtrack_files(folder: str | Path, film_id: str) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FilmscoreError([Problem(str(folder), f"soundtrack folder of film {film_id!r} not found",
                                      f"create it with the film's tracks, as soundtracks/{film_id}/<track>.<ext>")],
                             headline="missing soundtrack")
    files, others = soundtrack_tracks(folder)
    if not files:
        held = f" (it holds {', '.join(others[:5])}{', ...' if len(others) > 5 else ''})" if others else ""
        raise FilmscoreError([Problem(str(folder), f"soundtrack folder of film {film_id!r} holds no audio files{held}",
                                      f"add the soundtrack's tracks ({', '.join(e[1:] for e in AUDIO_EXTS)}), or "
                                      "convert them to one of these")], headline="missing soundtrack")
    if others:
        log.info("%s: soundtrack files not read as audio (not of %s): %s", film_id, ", ".join(MEDIA_EXTS),
                 ", ".join(others))
    return files


def _track_tag(s: StampSettings, speed: float) -> str:
    """Cache tag of a track's prints at one speed: the print settings (`StampSettings.prints_digest`), the code."""
    return s.prints_digest("track-prints", current_code_version(PRINTS_CODE), f"{speed:.8f}")[:12]


def _audio_tag(s: StampSettings) -> str:
    """Cache tag of a track's PCM: its rate and whether side is kept, and the code (not the band settings)."""
    return s.prints_digest("track-audio", current_code_version(PRINTS_CODE), keys=("sample_rate", "use_side"))[:12] + "-pcm"


class TrackSet:
    """The soundtrack of one film: prints at every speed (cached), PCM on demand (memory-mapped).

    A track's PCM (int16 mid/side, speed 1) comes from the cache when it holds
    it, else it is decoded once and written to the cache (or, without one, to
    a temporary folder), and read back span by span: whatever the
    soundtrack's length, only the spans the phase check reads are in memory.
    """

    def __init__(self, paths: list[Path], s: StampSettings, cache: PrintCache, hashes: dict | None = None,
                 speeds: tuple | None = None):
        self.s = s
        self.cache = cache
        self.keep_audio = s.mode == "chromaprint"  # the phase check reads the tracks' PCM; windows mode does not
        self.tracks: list[Track] = []
        self.skipped: list[str] = []
        self._audio: dict[Path, TrackAudio] = {}
        self._tmp: tempfile.TemporaryDirectory | None = None
        speeds = tuple(speeds if speeds is not None else s.grid_speeds())
        for name, p in zip(track_names(paths), paths):
            sha = content_hash(p, hashes) if cache.enabled else ""
            per_speed: dict[float, Prints] = {}
            for sp in speeds:
                tag = _track_tag(s, sp)
                arrs = cache.load_track(sha, tag) if cache.enabled else None
                if arrs is not None and "skip" in arrs:
                    # a track found unusable: its length and level are stored, the verdict is taken again under
                    # the settings of this run (cues.min_track_seconds is not a print setting)
                    if self._why(float(arrs["seconds"][0]), float(arrs["rms"][0])):
                        per_speed = {}
                        break
                    arrs = None
                if arrs is not None:
                    per_speed[sp] = Prints.from_arrays(arrs)
                    continue
                audio = self.audio(p, sha, check=True)
                if audio is None:
                    if cache.enabled:
                        cache.save_track(sha, tag, {"skip": np.array([1]), "seconds": np.array([self._seconds]),
                                                    "rms": np.array([self._rms])})
                    per_speed = {}
                    break
                pr = track_prints(audio, s.bands, sp)
                per_speed[sp] = pr
                if cache.enabled:
                    cache.save_track(sha, tag, pr.to_arrays())
            if not per_speed:
                self.skipped.append(name)
                continue
            for sp, pr in per_speed.items():
                self.tracks.append(Track(name, p, sp, pr, loader=(lambda p=p, sha=sha: self.audio(p, sha))))

    def _unusable(self, audio: TrackAudio) -> str:
        mid = audio.data[:, 0]
        self._seconds = audio.n_samples / self.s.sample_rate
        self._rms = np.sqrt(_energy(mid) / max(1, len(mid))) / 32768
        return self._why(self._seconds, self._rms)

    def _why(self, seconds: float, rms: float) -> str:
        """Why a track of this length and RMS (mid, full scale 1) is not matched; "" when it is."""
        if seconds < self.s.min_track_seconds:
            return f"only {seconds:.1f} s long (under cues.min_track_seconds = {self.s.min_track_seconds:g} s)"
        if rms < SILENCE_RMS:
            return "silent"
        return ""

    def audio(self, path: Path, sha: str, check: bool = False) -> TrackAudio | None:
        """The PCM of one track (None, with a warning, for a short or silent one when `check`)."""
        if path in self._audio:
            return self._audio[path]
        tag = _audio_tag(self.s)
        data = self.cache.load_track_audio(sha, tag) if self.cache.audio_enabled else None
        decoded = None
        if data is None:
            try:
                decoded = load_track_audio(path, self.s.sample_rate, self.s.use_side)
            except MediaError:
                raise
            except Exception as e:  # noqa: BLE001  anything the decoder or resampler throws
                raise MediaError(path, f"cannot be decoded ({e})", "replace it with a valid audio file") from None
            if check:
                why = self._unusable(decoded)
                if why:
                    log.warning("%s: %s, skipped", path, why)
                    return None
            if not self.keep_audio:  # prints only (mode windows): nothing to keep once they are made
                return TrackAudio(decoded.data, CHANNELS[: decoded.data.shape[1]], self.s.sample_rate)
            if self.cache.audio_enabled:
                self.cache.save_track_audio(sha, tag, decoded.data)
                data = self.cache.load_track_audio(sha, tag)
            if data is None:  # no cache: spool to a temporary folder, read back span by span
                if self._tmp is None:
                    self._tmp = tempfile.TemporaryDirectory(prefix="filmscore-tracks-")
                f = Path(self._tmp.name) / f"{len(self._audio)}.npy"
                np.save(f, decoded.data)
                data = PcmFile(f)
        audio = TrackAudio(data, CHANNELS[: data.shape[1]], self.s.sample_rate)
        if check and decoded is None:  # from the cache: the settings may have changed since it was checked
            why = self._unusable(audio)
            if why:
                log.warning("%s: %s, skipped", path, why)
                return None
        self._audio[path] = audio
        return audio

    def release(self) -> None:
        for t in self.tracks:
            t.release()
        for a in self._audio.values():
            if isinstance(a.data, PcmFile):
                a.data.close()
        self._audio.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _decode_film(path: Path, s: StampSettings, audio_stream: int | str | None = None) -> FilmAudio:
    try:
        return FilmAudio(path, s.bands, use_side=s.use_side and s.mode == "chromaprint", audio_stream=audio_stream)
    except MediaError:
        raise
    except Exception as e:  # noqa: BLE001
        raise MediaError(path, f"cannot be decoded ({e})", "replace it with a valid audio or video file") from None


def _conf(z: float, thr: float) -> float:
    return float(1.0 / (1.0 + np.exp(-(z - thr) / 2.0)))


def stamp_film(film: str | Path, soundtrack: str | Path | list, s: StampSettings | None = None,
               cache: PrintCache | str | Path | None = None, film_id: str | None = None,
               hashes: dict | None = None, audio_stream: int | str | None = None) -> pd.DataFrame:
    """Cues of one film against the tracks of its soundtrack folder (or a list of track files, or one).

    `audio_stream`: the film's audio stream (an index or a language tag; None: the first)."""
    s = s or StampSettings()
    film = Path(film)
    film_id = film_id or film.stem
    cache = cache if isinstance(cache, PrintCache) else PrintCache(cache)
    if not film.is_file():
        raise MediaError(film, "film file not found", "check the path")
    paths = ([Path(p) for p in soundtrack] if isinstance(soundtrack, (list, tuple)) else
             [Path(soundtrack)] if Path(soundtrack).is_file() else soundtrack_files(soundtrack, film_id))

    key = None
    if cache.enabled:
        parts = [content_hash(film, hashes)] + sorted(f"{n}={content_hash(p, hashes)}"
                                                      for n, p in zip(track_names(paths), paths))
        if audio_stream not in (None, 0):  # another stream of the same file: other cues
            parts.append(f"audio_stream={audio_stream}")
        key = s.digest("film-cues", current_code_version(CUES_CODE), *parts)
        hit = cache.load_film(key)
        if hit is not None:
            hit = hit.copy()
            hit["film_id"] = film_id
            log.info("%s: %d cue(s) from the cache", film_id, len(hit))
            return finalize(hit)

    speeds = s.grid_speeds() if s.mode == "chromaprint" else (1.0,)
    ts = TrackSet(paths, s, cache, hashes, speeds=speeds)
    try:
        rows = _stamp_tracks(film, film_id, ts, s, audio_stream)
    finally:
        ts.release()
    df = pd.DataFrame(rows) if rows else empty_cues()
    df = finalize(df)
    if key is not None:
        cache.save_film(key, df)
    log.info("%s: %d cue(s), %.1f s of music (playback speeds searched: %g to %g)", film_id, len(df),
             float((df["end"] - df["start"]).sum()) if len(df) else 0.0, *((min(s.speeds), max(s.speeds))
                                                                           if s.mode == "chromaprint" else (1, 1)))
    return df


def _stamp_tracks(film: Path, film_id: str, ts: TrackSet, s: StampSettings,
                  audio_stream: int | str | None = None) -> list[dict]:
    rows: list[dict] = []
    if ts.tracks:
        with _decode_film(film, s, audio_stream) as fa:
            if s.mode == "windows":
                prints = [t.prints for t in ts.tracks]
                hits = window_hits(fa.prints, prints, s)
                per = max(1, int(round(s.windows.seconds / CHROMAPRINT_HOP)))
                for c in merge_hits(hits, s.windows.seconds, s.windows.max_gap, fa.duration):
                    t = ts.tracks[c["track"]]
                    rows.append({"film_id": film_id, "track": t.name, "start": c["start"], "end": c["end"],
                                 "track_offset": max(0.0, c["start"] - c["lag"]),
                                 "confidence": min(1.0, c["votes"] / per), "match": "exact", "speed": 1.0,
                                 "pitch": "resampled",
                                 "channel": "mid",
                                 "gcc_z": np.nan, "strength": c["votes"], "mode": "windows"})
            else:
                for q in match_film(fa, ts.tracks, s):
                    t = ts.tracks[q.track]
                    rows.append({"film_id": film_id, "track": t.name, "start": q.start, "end": q.end,
                                 "track_offset": max(0.0, q.track_offset),
                                 "confidence": _conf(q.gcc_z, s.verify.spectrum_min_z if q.spectrum else
                                                     s.verify.stretch_min_z if q.pitch_kept else s.verify.min_z),
                                 "match": "exact", "speed": q.speed, "pitch": "kept" if q.pitch_kept else "resampled",
                                 "channel": q.channel, "gcc_z": q.gcc_z, "strength": q.strength,
                                 "mode": "chromaprint"})
                if s.renditions:
                    rows += _rendition_rows(fa, ts, s, film_id, [(r["start"], r["end"]) for r in rows])
    else:
        log.warning("%s: no usable soundtrack track: no cues", film_id)
    return rows


def _rendition_conf(rate: float, limit: float) -> float:
    """A rendition's confidence, always under every exact cue's (0.5 or more): 0.5 x / (1 + x), where x =
    log10(1 + limit / rate) grows by one for each decade by which the cue's chance rate (decoy alignments per
    film hour scoring as high) falls below the acceptance limit `cues.tolerant.false_alarms` (x <= 308: < 0.499)."""
    x = float(np.log10(1.0 + max(limit, 1e-300) / max(rate, 1e-300)))
    return 0.5 * x / (1.0 + x)


def _rendition_rows(fa: FilmAudio, ts: TrackSet, s: StampSettings, film_id: str,
                    claimed: list[tuple[float, float]]) -> list[dict]:
    """The tolerant tier's cues (`match: rendition`) on the film time the exact cues left free."""
    out = []
    for q in match_renditions(fa, ts.tracks, s, claimed):
        out.append({"film_id": film_id, "track": q.track, "start": q.start, "end": q.end,
                    "track_offset": q.track_offset, "confidence": _rendition_conf(q.false_alarms, s.tolerant.false_alarms),
                    "match": "rendition", "speed": q.tempo, "pitch": "kept", "channel": q.channel,
                    "gcc_z": np.nan, "strength": q.score, "mode": "chromaprint"})
    for t in ts.tracks:
        t.release()
    return out


def _stamp_one(args):
    film, tracks, s, cache_root, cache_audio, fid, hashes, audio_stream = args
    return stamp_film(film, tracks, s, PrintCache(cache_root, audio=cache_audio), film_id=fid, hashes=hashes,
                      audio_stream=audio_stream)


def stamp_corpus(corpus, s: StampSettings, cache_root: str | Path | None = None, manifest: pd.DataFrame | None = None,
                 jobs: int = 1, cache_audio: bool = True, scheduler: str | None = None,
                 wait_s: float = 60.0, audio_stream: int | str | None = None) -> pd.DataFrame:
    """The cue table of every film of a scanned corpus (`filmscore.corpus.Corpus`), each film's `audio_stream`.

    Content hashes come from the manifest (stage `validate`) when given, so
    nothing is hashed twice; with a cache, a film whose media and settings are
    unchanged is read back, not matched again. Films are mapped by
    `filmscore.parallel.map_films`: `jobs` local processes, or the Dask cluster
    at `scheduler`; films already matched stay in the cache if a run stops.
    """
    from ..parallel import map_films

    hashes = None
    if manifest is not None and "sha256" in manifest.columns:
        hashes = {str(Path(corpus.root).absolute() / p): h for p, h in zip(manifest["path"], manifest["sha256"])}
    cache_root = str(Path(cache_root).absolute()) if cache_root is not None else None
    work = []
    for fid in corpus.film_ids:
        tracks = corpus.tracks.get(fid)
        if not tracks:
            soundtrack_files(Path(corpus.root) / "soundtracks" / fid, fid)  # raises, naming the film
        # absolute, not resolved: a corpus checked out from a symlinked DVC cache keeps its names
        film = Path(corpus.films[fid]).absolute()
        tracks = [Path(t).absolute() for t in tracks]
        own = {str(p): hashes[str(p)] for p in [film, *tracks] if str(p) in hashes} if hashes else None
        work.append((film, tracks, s, cache_root, cache_audio, fid, own, audio_stream))
    tables = [t for _, t in map_films(_stamp_one, work, jobs=jobs, scheduler=scheduler, wait_s=wait_s,
                                      desc="matching films", label=lambda w: w[5])]
    tables = [t for t in tables if len(t)]
    return finalize(pd.concat(tables, ignore_index=True)) if tables else empty_cues()
