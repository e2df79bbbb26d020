"""Stage `validate`: check the corpus against the contract; write data/manifest.parquet and
data/cues_truth/ (the corpus's checked cues_truth/ CSVs, so later stages depend on them alone)."""

import shutil

from filmscore import paths
from filmscore.corpus import validate_corpus
from filmscore.files import atomic_dir, write_table
from filmscore.stage import run_stage


def main(params: dict) -> None:
    c = params["corpus"]
    corpus, manifest = validate_corpus(c["path"], c["genres"], quick=c["quick_check"], jobs=c["jobs"],
                                       audio_stream=c["audio_stream"])
    with atomic_dir(paths.CUES_TRUTH) as d:
        for fid, path in sorted(corpus.truth.items()):
            shutil.copyfile(path, d / f"{fid}.csv")
    write_table(manifest, paths.MANIFEST)


if __name__ == "__main__":
    run_stage(main)
