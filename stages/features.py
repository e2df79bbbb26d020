"""Stage `features`: MIR, VGGish, OpenL3 and visual feature bags for every cue.

Reads the cue table and the corpus (films, and soundtrack tracks for
``features.audio: track``), writes data/features/<set>/{frames,cues}.parquet
and status.json for each set; per-film results are cached in ``features.cache``
(data/features/cache: a tool cache keyed on content, params and code, not a DVC
output; docs/lab.md), so a changed or added film is the only one recomputed.
"""

from pathlib import Path

from filmscore.config import SCHEMA
from filmscore.corpus import load_corpus
from filmscore.errors import FilmscoreError, Problem
from filmscore.features.embedding import set_threads
from filmscore.features.extract import extract_features, torch_threads
from filmscore.files import read_table
from filmscore.stage import run_stage

CUES = Path("data/cues/cues.parquet")
MANIFEST = Path("data/manifest.parquet")
OUT = Path("data/features")
# The embedding networks' own params sections, read when the schema has them.
EMBED_SECTIONS = [s for s in ("vggish", "openl3") if s in SCHEMA]


def main(params: dict) -> None:
    corpus = load_corpus(params)
    if not CUES.is_file():
        raise FilmscoreError([Problem(str(CUES), "not found", "run the `cues` stage first: dvc repro cues")])
    cues = read_table(CUES)
    manifest = read_table(MANIFEST) if MANIFEST.is_file() else None
    set_threads(torch_threads(params))  # this process's torch threads (worker processes set their own)
    extract_features(params, corpus.films, cues, OUT, params["features"]["cache"], manifest=manifest,
                     tracks=corpus.tracks)


if __name__ == "__main__":
    run_stage(main, sections=["corpus", "features", "run", *EMBED_SECTIONS])
