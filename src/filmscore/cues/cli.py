"""`filmscore stamp FILM SOUNDTRACK_DIR -o cues.csv|.parquet`: the cues of one film."""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from ..errors import FilmscoreError, Problem
from ..files import write_table
from .cache import PrintCache
from .settings import StampSettings
from .stamp import stamp_film

log = logging.getLogger(__name__)


def _settings(args: argparse.Namespace) -> StampSettings:
    s = StampSettings()
    if args.params:
        from ..config import load_params

        s = StampSettings.from_params(load_params(args.params, sections=["cues"])["cues"])
    if args.mode:
        s = replace(s, mode=args.mode)
    if args.speeds:
        s = replace(s, speeds=_speeds(args.speeds))
    if args.mono:
        s = replace(s, use_side=False)
    return s


def _speeds(text: str) -> tuple[float, float]:
    """--speeds SLOWEST,FASTEST (or one speed); `StampSettings` holds them to the range cues.speeds allows."""
    try:
        v = [float(x) for x in text.split(",")]
    except ValueError:
        raise FilmscoreError([Problem("--speeds", f"{text!r} is not a list of numbers",
                                      "give --speeds as SLOWEST,FASTEST (e.g. 0.95,1.05; 1: as released)")]) from None
    return min(v), max(v)


def _writable(out: Path) -> None:
    """Raise, before any matching, where `out` cannot be written (a folder of that name, a folder not writable)."""
    if out.is_dir():
        raise FilmscoreError([Problem(str(out), "is a folder", "name the output file, e.g. cues.csv")])
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the output's folders are made when it is written
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=folder)
    except OSError as e:
        raise FilmscoreError([Problem(str(out), f"cannot be written ({e.strerror})",
                                      "choose an output path in a folder you can write")]) from None
    os.close(fd)
    os.unlink(tmp)


def _cmd_stamp(args: argparse.Namespace) -> int:
    out = Path(args.output)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise FilmscoreError([Problem(str(out), "unsupported output extension", "name the output .csv or .parquet")])
    _writable(out)
    film_id = args.film_id or Path(args.film).stem
    stream = int(args.audio_stream) if args.audio_stream and args.audio_stream.isdigit() else args.audio_stream
    df = stamp_film(args.film, args.soundtrack, _settings(args), PrintCache(args.cache), film_id=film_id,
                    audio_stream=stream)
    write_table(df, out)
    log.info("%d cue(s) written to %s", len(df), out)
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "stamp", help="find where a film uses the tracks of its soundtrack (cues)",
        description="Score Stamper: match a film's audio against every track in SOUNDTRACK_DIR and write one row "
        "per cue (film_id, track, start, end, track_offset, confidence, cue_id, ...). A film where nothing "
        "matches gives an empty table with the same columns.")
    p.add_argument("film", help="film file (video with audio, or audio only)")
    p.add_argument("soundtrack", help="folder of the film's soundtrack tracks (sub-folders too), or one track file")
    p.add_argument("-o", "--output", required=True, help="cue table, .csv or .parquet")
    p.add_argument("--params", help="read the settings from this params.yaml's cues section (default: built-in defaults)")
    p.add_argument("--mode", choices=("chromaprint", "windows"), help="override cues.mode")
    p.add_argument("--speeds", help="playback speeds searched, SLOWEST,FASTEST (e.g. 0.95,1.05; 1: only the speed as released)")
    p.add_argument("--mono", action="store_true", help="match the mid signal only (no side L-R)")
    p.add_argument("--cache", help="fingerprint cache folder (e.g. data/cues_cache); default: none")
    p.add_argument("--audio-stream", help="the film's audio stream: an index (0 = the first) or a language tag (eng)")
    p.add_argument("--film-id", help="film id in the table (default: the film's file stem)")
    p.set_defaults(func=_cmd_stamp)
