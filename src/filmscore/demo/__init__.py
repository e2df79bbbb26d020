"""The generated demo corpus: films, soundtracks, labels and true cues from a seed.

`generate_demo` writes a complete corpus (see `generate.py` for what is in it
and `music.py` / `film.py` for how it sounds and looks); the DVC stage `demo`
calls it when `corpus.path` is `data/demo`, and `write_not_generated` when it is
not. `filmscore demo OUT` runs it by hand.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .. import GENRES_DEFAULT
from ..config import defaults
from ..errors import FilmscoreError, Problem
from ..paths import DEMO
from ..files import atomic_dir
from .generate import MARKER, NOT_GENERATED, generate_demo

log = logging.getLogger(__name__)

DEMO_PATH = str(DEMO)  # filmscore.paths

# The demo section's declared defaults (filmscore.config), for `filmscore demo` run outside the repository.
DEFAULTS = defaults("demo")


def write_not_generated(out: str | Path, corpus_path: str | Path) -> Path:
    """Write `out` holding only NOT_GENERATED.txt (the DVC output of stage `demo` must exist).

    Refuses when the corpus in use lies at, inside or around `out`: the user's
    corpus is never touched.
    """
    out, corpus = Path(out), Path(corpus_path)
    o, c = out.resolve(), corpus.resolve()
    if o == c or o in c.parents or c in o.parents:
        raise FilmscoreError([Problem(f"params.yaml: corpus.path = {corpus}",
                                      f"overlaps {out}, which the demo stage owns and rewrites",
                                      f"move your corpus out of {out} (and set corpus.path to it), "
                                      f"or set corpus.path: {DEMO_PATH} to use the demo")],
                             headline="refusing to touch the corpus")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise FilmscoreError([Problem(str(out), "is not empty and was not written by filmscore",
                                      f"move its contents elsewhere: the demo stage owns {out}")],
                             headline="refusing to overwrite")
    with atomic_dir(out) as tmp:
        (tmp / NOT_GENERATED).write_text(
            "The generated demo corpus is not in use: params.yaml corpus.path points to\n"
            f"{corpus}\nso stage `demo` generated nothing here. Set corpus.path: {DEMO_PATH} to use the demo.\n",
            encoding="utf-8")
        (tmp / MARKER).write_text('{"not_generated": true}\n', encoding="utf-8")
    log.info("demo not generated: corpus.path is %s; wrote %s", corpus, out / NOT_GENERATED)
    return out


# ---------------------------------------------------------------- CLI


def _project_params() -> tuple[dict, list[str]]:
    """The demo section and genres of ./params.yaml when there is one, else the defaults."""
    from ..config import PARAMS_FILE, load_params

    if Path(PARAMS_FILE).is_file():
        params = load_params(sections=["corpus", "demo"])
        return dict(params["demo"]), list(params["corpus"]["genres"])
    return dict(DEFAULTS), list(GENRES_DEFAULT)


def _cmd_demo(args: argparse.Namespace) -> int:
    params, genres = _project_params()
    for key, val in (("seed", args.seed), ("n_films", args.films), ("film_seconds", args.seconds)):
        if val is not None:
            params[key] = val
    if args.audio_only:
        params["video"] = False
    probs = []
    if params["n_films"] < 1:
        probs.append(Problem("--films", f"is {params['n_films']}", "give at least 1"))
    if not 30 <= params["film_seconds"] <= 7200:
        probs.append(Problem("--seconds", f"is {params['film_seconds']}", "give 30 to 7200 seconds"))
    if args.jobs is not None and args.jobs < 1:
        probs.append(Problem("--jobs", f"is {args.jobs}", "give at least 1"))
    if params["seed"] < 0:
        probs.append(Problem("--seed", f"is {params['seed']}", "give a seed >= 0"))
    if probs:
        raise FilmscoreError(probs, headline="invalid arguments")
    generate_demo(args.out, params, genres, jobs=args.jobs, force=args.force)
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "demo", help="generate the synthetic demo corpus (films, soundtracks, labels, true cues)",
        description="Generate the demo corpus into OUT: synthetic films with multi-label genres, each with its own "
        "procedurally synthesized MP3 soundtrack whose tracks are cued in the film's audio, plus labels.csv and "
        "the true cue times (cues_truth/). Deterministic: the same seed and settings give identical files. "
        "Settings not given here come from the demo section of ./params.yaml (or the built-in defaults).")
    p.add_argument("out", metavar="OUT", help="output folder (must be new or empty unless --force)")
    p.add_argument("--seed", type=int, help="random seed (default: demo.seed)")
    p.add_argument("--films", type=int, help="number of films (default: demo.n_films)")
    p.add_argument("--seconds", type=float, help="length of each film in seconds (default: demo.film_seconds)")
    p.add_argument("-j", "--jobs", type=int, help="films rendered in parallel (default: demo.jobs)")
    p.add_argument("--audio-only", action="store_true", help="write every film as audio only (MP3), no video")
    p.add_argument("--force", action="store_true", help="replace OUT's contents even if it is a non-empty folder")
    p.set_defaults(func=_cmd_demo)


__all__ = ["DEMO_PATH", "DEFAULTS", "generate_demo", "write_not_generated", "register"]
