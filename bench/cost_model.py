"""The cost model of docs/lab.md §6 as a calculator: hours per stage for a corpus of N films.

Give each stage's real-time factor on one core, as measured by its bench, and what it scales
with; the corpus's durations come from a manifest (and a cue table for the music share) or
are given directly. Prints a markdown table: core-hours and wall-hours per stage.

    PYTHONPATH=src:. python bench/cost_model.py --films 40000 --cores 64 \
        --manifest data/manifest.parquet --cues data/cues/cues.parquet \
        --stage cues:film:R_CUES --stage prints:soundtrack:R_PRINTS --stage mir:music:R_MIR \
        --stage validate:fixed:SECONDS_PER_FILM --dispatch-ms MS

A stage is NAME:BASIS:VALUE. BASIS is what its work grows with: `film` (the film's running
time), `soundtrack` (the album's length), `music` (the cues' total length), and VALUE the
measured real-time factor (seconds of that media per core-second); or BASIS `fixed` and VALUE
the measured core-seconds per film. Nothing here is a default: every figure is yours.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pandas as pd

BASES = ("film", "soundtrack", "music", "fixed")


@dataclass(frozen=True)
class Corpus:
    film_s: float        # mean running time of a film, seconds
    soundtrack_s: float  # mean total length of a film's soundtrack tracks, seconds
    music_share: float   # share of film time inside cues


def corpus_from_tables(manifest: pd.DataFrame, cues: pd.DataFrame | None) -> Corpus:
    """Mean film and soundtrack durations from a manifest; the music share from a cue table
    (the union of each film's cue intervals, so overlapping cues count once)."""
    films = manifest[manifest.role == "film"]
    tracks = manifest[manifest.role == "track"]
    film_s = float(films.duration.mean())
    soundtrack_s = float(tracks.groupby("film_id").duration.sum().reindex(films.film_id, fill_value=0).mean())
    share = float("nan")
    if cues is not None:
        music = 0.0
        for _, g in cues.sort_values(["film_id", "start"]).groupby("film_id"):
            end = -1.0
            for s, e in zip(g.start, g.end):
                if e <= end:
                    continue
                music += e - max(s, end)
                end = e
        share = music / float(films.duration.sum())
    return Corpus(film_s, soundtrack_s, share)


def media_seconds(corpus: Corpus, basis: str) -> float:
    return {"film": corpus.film_s, "soundtrack": corpus.soundtrack_s,
            "music": corpus.film_s * corpus.music_share}[basis]


def stage_hours(n_films: int, corpus: Corpus, basis: str, value: float, cores: int = 1,
                efficiency: float = 1.0, dispatch_s: float = 0.0) -> tuple[float, float]:
    """(core-hours, wall-hours on `cores`) of one stage over `n_films` films."""
    per_film = value if basis == "fixed" else media_seconds(corpus, basis) / value
    core_h = n_films * per_film / 3600
    wall_h = core_h / (cores * efficiency) + n_films * dispatch_s / 3600 / cores
    return core_h, wall_h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--films", type=int, required=True)
    ap.add_argument("--cores", type=int, default=1)
    ap.add_argument("--efficiency", type=float, default=1.0, help="measured parallel efficiency (<= 1)")
    ap.add_argument("--dispatch-ms", type=float, default=0.0, help="per-film overhead of bench/parallel.py")
    ap.add_argument("--manifest", help="manifest parquet/csv (stage validate, or filmscore check -o)")
    ap.add_argument("--cues", help="cue table parquet (stage cues), for the music share")
    ap.add_argument("--film-hours", type=float, help="mean film length, instead of --manifest")
    ap.add_argument("--soundtrack-hours", type=float, help="mean soundtrack length, instead of --manifest")
    ap.add_argument("--music-share", type=float, help="share of film time in cues, instead of --cues")
    ap.add_argument("--stage", action="append", default=[], metavar="NAME:BASIS:VALUE", required=True)
    a = ap.parse_args()

    from filmscore.files import read_table

    if a.manifest:
        corpus = corpus_from_tables(read_table(a.manifest), read_table(a.cues) if a.cues else None)
    else:
        corpus = Corpus(float("nan"), float("nan"), float("nan"))
    corpus = Corpus(a.film_hours * 3600 if a.film_hours else corpus.film_s,
                    a.soundtrack_hours * 3600 if a.soundtrack_hours else corpus.soundtrack_s,
                    a.music_share if a.music_share is not None else corpus.music_share)
    print(f"corpus: {a.films} films of {corpus.film_s / 3600:.2f} h, soundtracks of {corpus.soundtrack_s / 3600:.2f} h, "
          f"music share {corpus.music_share:.2f}; {a.cores} cores, efficiency {a.efficiency}, dispatch {a.dispatch_ms} ms/film")
    print()
    print(f"| stage | grows with | measured | core-hours | wall-hours on {a.cores} cores |")
    print("|---|---|---|---|---|")
    for spec in a.stage:
        name, basis, value = spec.split(":")
        if basis not in BASES:
            raise SystemExit(f"--stage {spec}: basis must be one of {BASES}")
        core_h, wall_h = stage_hours(a.films, corpus, basis, float(value), a.cores, a.efficiency, a.dispatch_ms / 1000)
        measured = f"{value} core-s/film" if basis == "fixed" else f"{value}x real time"
        print(f"| {name} | {basis} | {measured} | {core_h:,.1f} | {wall_h:,.2f} |")


if __name__ == "__main__":
    main()
