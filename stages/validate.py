"""Stage `validate`: check the corpus against the contract and write data/manifest.parquet."""

from filmscore.corpus import validate_corpus
from filmscore.files import write_table
from filmscore.stage import run_stage

MANIFEST = "data/manifest.parquet"


def main(params: dict) -> None:
    c = params["corpus"]
    _, manifest = validate_corpus(c["path"], c["genres"], quick=c["quick_check"], jobs=c["jobs"],
                                  audio_stream=c["audio_stream"])
    write_table(manifest, MANIFEST)


if __name__ == "__main__":
    run_stage(main, sections=["corpus"])
