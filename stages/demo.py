"""Stage `demo`: generate the demo corpus into data/demo when corpus.path points there."""

from pathlib import Path

from filmscore import paths
from filmscore.demo import generate_demo, write_not_generated
from filmscore.stage import run_stage


def main(params: dict) -> None:
    if Path(params["corpus"]["path"]) == paths.DEMO:
        generate_demo(paths.DEMO, params["demo"], params["corpus"]["genres"])
    else:
        write_not_generated(paths.DEMO, params["corpus"]["path"])


if __name__ == "__main__":
    run_stage(main)
