"""Stage `cues`: the cue table of every film (data/cues/cues.parquet).

Reads the corpus named by params (`corpus.path`) and the manifest of stage
`validate` (content hashes), matches every film against its soundtrack
(`filmscore.cues`), and keeps prints and per-film results in `cues.cache`
(data/cues_cache: a tool cache keyed on content, settings and code, not a DVC
output; docs/lab.md), so adding a film computes only it.
"""

from filmscore import paths
from filmscore.corpus import load_corpus
from filmscore.cues.settings import StampSettings
from filmscore.cues.stamp import stamp_corpus
from filmscore.files import read_table, write_table
from filmscore.parallel import run_options
from filmscore.stage import run_stage


def main(params: dict) -> None:
    corpus = load_corpus(params)
    manifest = read_table(paths.MANIFEST) if paths.MANIFEST.is_file() else None
    c = params["cues"]
    df = stamp_corpus(corpus, StampSettings.from_params(c), cache_root=c["cache"], manifest=manifest,
                      cache_audio=c["cache_track_audio"], audio_stream=params["corpus"]["audio_stream"],
                      **run_options(params, jobs=c["jobs"]))
    write_table(df, paths.CUES)


if __name__ == "__main__":
    run_stage(main)
