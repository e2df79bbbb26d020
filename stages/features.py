"""Stage `features`: MIR, VGGish, OpenL3 and visual feature bags for every cue.

Reads the cue table and the corpus (films, and soundtrack tracks for
``features.audio: track``), writes data/features/<set>/{frames,cues}.parquet
and status.json for each set; per-film results are cached in ``features.cache``
(data/features/cache: a tool cache keyed on content, params and code, not a DVC
output; docs/lab.md), so a changed or added film is the only one recomputed.
"""

from filmscore import paths
from filmscore.corpus import load_corpus
from filmscore.errors import FilmscoreError, Problem
from filmscore.features.embedding import set_threads
from filmscore.features.extract import extract_features, torch_threads
from filmscore.files import read_table
from filmscore.stage import run_stage


def main(params: dict) -> None:
    corpus = load_corpus(params)
    if not paths.CUES.is_file():
        raise FilmscoreError([Problem(str(paths.CUES), "not found", "run the `cues` stage first: dvc repro cues")])
    cues = read_table(paths.CUES)
    manifest = read_table(paths.MANIFEST) if paths.MANIFEST.is_file() else None
    set_threads(torch_threads(params))  # this process's torch threads (worker processes set their own)
    extract_features(params, corpus.films, cues, paths.FEATURES, params["features"]["cache"], manifest=manifest,
                     tracks=corpus.tracks)


if __name__ == "__main__":
    run_stage(main)
