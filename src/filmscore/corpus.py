"""The corpus contract, its validation, and the manifest.

A corpus is a folder::

    films/<film_id>.<ext>             video with audio, or audio only
    soundtracks/<film_id>/<track>.<ext>
    labels.csv                        columns film_id, genres ("Action|Sci-Fi")
    cues_truth/<film_id>.csv          optional: track,start,end[,track_offset]

`validate_corpus` checks all of it and reports every problem at once, each
with its file and the fix; nothing is written when any is found. On success
`manifest` describes every media file (durations, rates, streams, hashes).
"""

from __future__ import annotations

import argparse
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import GENRES_DEFAULT
from .errors import FilmscoreError, MediaError, Problem
from .files import file_hash, write_table
from .log import progress
from .media import MEDIA_EXTS, decode_audio, probe

log = logging.getLogger(__name__)

LABEL_COLUMNS = ("film_id", "genres")
TRUTH_COLUMNS = ("track", "start", "end")
GENRE_SEP = "|"
MIN_TRACK_SECONDS = 3.0


@dataclass
class Corpus:
    """A scanned corpus: paths and labels, keyed by film id (sorted)."""

    root: Path
    genres: list[str]
    films: dict[str, Path] = field(default_factory=dict)
    tracks: dict[str, list[Path]] = field(default_factory=dict)
    labels: dict[str, list[str]] = field(default_factory=dict)
    truth: dict[str, Path] = field(default_factory=dict)

    @property
    def film_ids(self) -> list[str]:
        return sorted(self.films)

    def label_matrix(self) -> np.ndarray:
        """(n_films, n_genres) 0/1 matrix in `film_ids` x `genres` order."""
        Y = np.zeros((len(self.films), len(self.genres)), dtype=np.int64)
        for i, fid in enumerate(self.film_ids):
            for g in self.labels.get(fid, []):
                Y[i, self.genres.index(g)] = 1
        return Y


def _media_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in MEDIA_EXTS and not p.name.startswith("."))


def soundtrack_tracks(folder: Path) -> tuple[list[Path], list[str]]:
    """A soundtrack folder's track files, in its sub-folders too (a multi-disc album's CD1/, CD2/), in path order,
    and the other files' paths below it (cover art, cue sheets); hidden files and folders are left out."""
    found = sorted((p for p in folder.rglob("*") if p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(folder).parts)),
                   key=lambda p: p.relative_to(folder).parts)
    return ([p for p in found if p.suffix.lower() in MEDIA_EXTS],
            [str(p.relative_to(folder)) for p in found if p.suffix.lower() not in MEDIA_EXTS])


def track_names(paths: list[Path]) -> list[str]:
    """Each track's name in the cue table: its file name without extension; where files share it (a multi-disc
    album's CD1/01.flac and CD2/01.flac, a.flac beside a.ogg), as many of its parent folders as tell them apart
    (CD1/01), and where none do, its file name with extension."""
    names = [p.stem for p in paths]
    for stem in {n for n in names if names.count(n) > 1}:
        group = [i for i, n in enumerate(names) if n == stem]
        depth = max(len(paths[i].parent.parts) for i in group)
        ways = [(k, ext) for ext in (False, True) for k in range(0 if ext else 1, depth + 1)]
        for k, ext in ways:
            tried = ["/".join(paths[i].parent.parts[len(paths[i].parent.parts) - k:]
                              + ((paths[i].name if ext else paths[i].stem),)) for i in group]
            if len(set(tried)) == len(group):
                for i, n in zip(group, tried):
                    names[i] = n
                break
    if len(set(names)) < len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise FilmscoreError([Problem(n, "two soundtrack files of this name", "list each track file once")
                              for n in dup], headline="duplicate soundtrack tracks")
    return names


def read_labels(path: Path, genres: list[str], probs: list[Problem]) -> dict[str, list[str]]:
    """Parse labels.csv, appending a Problem for each bad row or column."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as e:  # pandas raises many kinds on garbage
        probs.append(Problem(str(path), f"is not a readable CSV ({e})", "write it as CSV with columns film_id,genres"))
        return {}
    cols = [c.strip() for c in df.columns]
    missing = [c for c in LABEL_COLUMNS if c not in cols]
    if missing:
        probs.append(Problem(str(path), f"has columns {cols}, missing {missing}",
                             "use a header line 'film_id,genres' and genres separated by '|' (e.g. Action|Sci-Fi)"))
        return {}
    df.columns = cols
    labels: dict[str, list[str]] = {}
    for i, row in df.iterrows():
        line = i + 2
        fid = row["film_id"].strip()
        if not fid:
            probs.append(Problem(f"{path}:{line}", "empty film_id", "fill it in or delete the row"))
            continue
        if fid in labels:
            probs.append(Problem(f"{path}:{line}", f"duplicate film_id {fid!r}", "keep one row per film"))
            continue
        gs = [g.strip() for g in row["genres"].split(GENRE_SEP) if g.strip()]
        if not gs:
            probs.append(Problem(f"{path}:{line}", f"film {fid!r} has no genre", f"give at least one of {genres}"))
        unknown = [g for g in gs if g not in genres]
        if unknown:
            probs.append(Problem(f"{path}:{line}", f"film {fid!r} has unknown genre(s) {unknown}",
                                 f"use genres from {genres}, or add them to corpus.genres in params.yaml"))
        labels[fid] = [g for g in gs if g in genres]
    return labels


def scan_corpus(root: str | Path, genres: list[str] | tuple[str, ...] = GENRES_DEFAULT) -> tuple[Corpus, list[Problem]]:
    """Read the corpus layout and labels without decoding media."""
    root = Path(root)
    genres = list(genres)
    corpus = Corpus(root=root, genres=genres)
    probs: list[Problem] = []
    if not root.is_dir():
        probs.append(Problem(str(root), "corpus folder not found",
                             "set corpus.path in params.yaml to your corpus, or generate the demo with `filmscore demo data/demo`"))
        return corpus, probs
    films_dir, st_dir, labels_path = root / "films", root / "soundtracks", root / "labels.csv"
    for d, what in ((films_dir, "films/<film_id>.<ext>"), (st_dir, "soundtracks/<film_id>/<track>.<ext>")):
        if not d.is_dir():
            probs.append(Problem(str(d), "folder not found", f"create it and put the media there as {what}"))
    if not labels_path.is_file():
        probs.append(Problem(str(labels_path), "not found", "write labels.csv with columns film_id,genres"))
    else:
        corpus.labels = read_labels(labels_path, genres, probs)

    if films_dir.is_dir():
        others = [p for p in films_dir.iterdir() if p.is_file() and p.suffix.lower() not in MEDIA_EXTS and not p.name.startswith(".")]
        for p in others:
            log.warning("%s: not a media file extension, ignored", p)
        for p in _media_files(films_dir):
            fid = p.stem
            if fid in corpus.films:
                probs.append(Problem(str(p), f"duplicate film id {fid!r} (also {corpus.films[fid].name})",
                                     "keep one file per film id"))
                continue
            corpus.films[fid] = p
        if not corpus.films:
            probs.append(Problem(str(films_dir), "holds no film files", f"add films as films/<film_id>.<ext> ({', '.join(MEDIA_EXTS)})"))

    for fid in corpus.film_ids:
        folder = st_dir / fid
        if st_dir.is_dir():
            if not folder.is_dir():
                probs.append(Problem(str(folder), f"film {fid!r} has no soundtrack folder",
                                     f"create {folder} with the film's soundtrack tracks"))
            else:
                tracks = soundtrack_tracks(folder)[0]
                if not tracks:
                    probs.append(Problem(str(folder), f"film {fid!r}: soundtrack folder holds no audio files",
                                         "add the soundtrack's tracks (mp3, flac, wav, ...)"))
                corpus.tracks[fid] = tracks
        if labels_path.is_file() and corpus.labels is not None and fid not in corpus.labels and not any(
            "missing" in p.what and p.where == str(labels_path) for p in probs
        ):
            probs.append(Problem(str(labels_path), f"no label row for film {fid!r}", f"add a row '{fid},<genres>'"))
    for fid in sorted(set(corpus.labels) - set(corpus.films)):
        log.warning("labels.csv names film %r, which has no file in films/: ignored", fid)
    if st_dir.is_dir():
        for d in sorted(p for p in st_dir.iterdir() if p.is_dir()):
            if d.name not in corpus.films:
                log.warning("%s: no film with this id in films/: ignored", d)

    truth_dir = root / "cues_truth"
    if truth_dir.is_dir():
        for p in sorted(truth_dir.glob("*.csv")):
            fid = p.stem
            if fid not in corpus.films:
                log.warning("%s: no film with this id: ignored", p)
                continue
            corpus.truth[fid] = p
            probs += check_truth(p, set(track_names(corpus.tracks.get(fid, []))))
    return corpus, probs


def check_truth(path: Path, track_stems: set[str]) -> list[Problem]:
    """Problems of one cues_truth CSV (columns, numbers, known tracks)."""
    try:
        df = pd.read_csv(path)
    except Exception as e:
        return [Problem(str(path), f"is not a readable CSV ({e})", "columns track,start,end[,track_offset]")]
    probs = []
    missing = [c for c in TRUTH_COLUMNS if c not in df.columns]
    if missing:
        return [Problem(str(path), f"missing columns {missing}", "columns track,start,end[,track_offset] in seconds")]
    for c in ("start", "end") + (("track_offset",) if "track_offset" in df.columns else ()):
        if not pd.api.types.is_numeric_dtype(df[c]):
            probs.append(Problem(str(path), f"column {c!r} is not numeric", "give times in seconds"))
    if not probs:
        bad = df.index[df["end"] <= df["start"]].tolist()
        if bad:
            probs.append(Problem(str(path), f"rows {[b + 2 for b in bad]} end before they start", "fix the times"))
    unknown = sorted(set(df["track"].astype(str)) - track_stems) if track_stems else []
    if unknown:
        probs.append(Problem(str(path), f"names tracks not in the soundtrack folder: {unknown}",
                             "use the track file names without extension"))
    return probs


def check_media(path: Path, need_audio: bool = True, quick: bool = True, min_seconds: float = 0.0,
                audio_stream: int | str | None = None) -> tuple[dict | None, list[Problem]]:
    """Probe a file and check that it decodes; return its manifest row and problems.

    `audio_stream` (an index or a language tag; None: the first) is the audio
    stream checked and described; a file without it is a problem naming the
    streams it has.

    A quick check decodes the first and last seconds (a truncated MP3 still
    reports its full length but has nothing at its end); a full one decodes
    everything and compares the decoded length with the reported one.
    """
    try:
        info = probe(path)
    except MediaError as e:
        return None, e.problems
    if need_audio and info.audio is None:
        return None, [Problem(str(path), "has no audio stream", "use a file with its audio track")]
    probs: list[Problem] = []
    dur = info.duration
    stream = 0
    if info.audio is not None:
        try:
            stream = info.audio_stream(audio_stream)
        except MediaError as e:
            return None, e.problems
    audio = info.audio_streams[stream] if info.audio_streams else info.audio
    if audio is not None:
        sr = 8000
        try:
            if quick:
                head = decode_audio(path, sr, duration=min(2.0, dur), stream=stream)
                tail_start = max(0.0, dur - 3.0)
                tail = decode_audio(path, sr, start=tail_start, duration=3.0, stream=stream)
                decoded = len(tail) / sr + tail_start if len(tail) else (len(head) / sr if tail_start == 0 else 0.0)
                ok = len(head) > 0 and decoded >= dur - max(1.5, 0.02 * dur)
            else:
                x = decode_audio(path, sr, stream=stream)
                decoded = len(x) / sr
                ok = decoded >= dur - max(1.0, 0.01 * dur)
            if not ok:
                probs.append(Problem(str(path), f"reports {dur:.1f} s but decodes only to about {decoded:.1f} s: truncated",
                                     "re-export or re-download the file"))
        except MediaError as e:
            probs += e.problems
    if dur < min_seconds and not probs:
        probs.append(Problem(str(path), f"is only {dur:.1f} s long", f"use audio of at least {min_seconds:.0f} s"))
    row = {
        "duration": dur,
        "format": info.format,
        "audio_codec": audio.codec if audio else None,
        "sample_rate": audio.sample_rate if audio else 0,
        "channels": audio.channels if audio else 0,
        "has_video": info.video is not None,
        "video_codec": info.video.codec if info.video else None,
        "width": info.video.width if info.video else 0,
        "height": info.video.height if info.video else 0,
        "fps": info.video.fps if info.video else 0.0,
        "size_bytes": Path(path).stat().st_size,
    }
    return row, probs


def validate_corpus(root: str | Path, genres=GENRES_DEFAULT, quick: bool = True, jobs: int = 4,
                    audio_stream: int | str | None = None) -> tuple[Corpus, pd.DataFrame]:
    """Check the whole corpus (each film's `audio_stream`, each track's first); return it with its manifest, or raise
    listing every problem."""
    corpus, probs = scan_corpus(root, genres)
    if any(p.what in ("corpus folder not found",) for p in probs):
        raise FilmscoreError(probs, headline=f"corpus {root} is not valid")
    jobs_list: list[tuple[str, str, str, Path]] = []
    for fid in corpus.film_ids:
        jobs_list.append((fid, "film", "", corpus.films[fid]))
        tracks = corpus.tracks.get(fid, [])
        for name, t in zip(track_names(tracks), tracks):
            jobs_list.append((fid, "track", name, t))

    def work(item):
        fid, role, track, path = item
        row, ps = check_media(path, need_audio=True, quick=quick, audio_stream=audio_stream if role == "film" else None)
        return item, row, ps

    rows = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(progress(pool.map(work, jobs_list), desc="checking media", total=len(jobs_list), unit="file"))
    good_tracks: dict[str, int] = {fid: 0 for fid in corpus.film_ids}
    for (fid, role, track, path), row, ps in results:
        if role == "track" and row is not None and not ps and row["duration"] < MIN_TRACK_SECONDS:
            log.warning("%s: only %.1f s long, too short to match: it will be skipped", path, row["duration"])
        probs += ps
        if row is None:
            continue
        if role == "track" and not ps:
            good_tracks[fid] += 1
        rows.append({"film_id": fid, "role": role, "track": track or None,
                     "path": str(Path(path).relative_to(corpus.root)), **row})
    for fid in corpus.film_ids:
        if corpus.tracks.get(fid) and good_tracks[fid] == 0:
            probs.append(Problem(str(corpus.root / "soundtracks" / fid), f"film {fid!r} has no decodable track",
                                 "add at least one valid audio track"))
    if probs:
        raise FilmscoreError(probs, headline=f"corpus {root}: {len(probs)} problem(s) found, nothing written")

    def hashing(r):
        return file_hash(corpus.root / r["path"])

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        hashes = list(progress(pool.map(hashing, rows), desc="hashing", total=len(rows), unit="file"))
    manifest = pd.DataFrame(rows)
    manifest["sha256"] = hashes
    manifest["genres"] = manifest["film_id"].map(lambda f: GENRE_SEP.join(corpus.labels.get(f, [])))
    manifest = manifest.sort_values(["film_id", "role", "track"], na_position="first").reset_index(drop=True)
    return corpus, manifest


def load_corpus(params: dict) -> Corpus:
    """The corpus named by params (scanned, not decoded); raise on layout problems."""
    corpus, probs = scan_corpus(params["corpus"]["path"], params["corpus"]["genres"])
    if probs:
        raise FilmscoreError(probs, headline=f"corpus {params['corpus']['path']} is not valid")
    return corpus


# ---------------------------------------------------------------- CLI


def _cmd_check(args: argparse.Namespace) -> int:
    genres = args.genres.split(",") if args.genres else _default_genres()
    corpus, manifest = validate_corpus(args.corpus, genres, quick=not args.full, jobs=args.jobs)
    films = manifest[manifest.role == "film"]
    n_tracks = int((manifest.role == "track").sum())
    log.info("corpus %s is valid: %d films, %d tracks, %.1f h of film, %.1f h of soundtrack",
             args.corpus, len(films), n_tracks, films.duration.sum() / 3600,
             manifest[manifest.role == "track"].duration.sum() / 3600)
    if args.output:
        write_table(manifest, args.output)
        log.info("manifest written to %s", args.output)
    return 0


def _default_genres() -> list[str]:
    from .config import PARAMS_FILE, load_params

    if Path(PARAMS_FILE).is_file():
        try:
            return list(load_params(sections=["corpus"])["corpus"]["genres"])
        except FilmscoreError:
            pass
    return list(GENRES_DEFAULT)


def register(sub) -> None:
    p = sub.add_parser("check", help="validate a corpus folder and optionally write its manifest",
                       description="Check a corpus against the contract (films/, soundtracks/, labels.csv, "
                       "optional cues_truth/) and that every file decodes. Lists every problem at once.")
    p.add_argument("corpus", help="corpus folder")
    p.add_argument("-o", "--output", help="write the manifest here (.parquet or .csv)")
    p.add_argument("--genres", help="comma-separated genre set (default: corpus.genres of ./params.yaml, else the paper's six)")
    p.add_argument("--full", action="store_true", help="decode every file completely (slower, catches more corruption)")
    p.add_argument("-j", "--jobs", type=int, default=4, help="files checked in parallel")
    p.set_defaults(func=_cmd_check)
