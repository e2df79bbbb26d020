"""Stage `demo`: generate the demo corpus into data/demo when corpus.path points there."""

from pathlib import Path

from filmscore.demo import DEMO_PATH, generate_demo, write_not_generated
from filmscore.stage import run_stage


def main(params: dict) -> None:
    if Path(params["corpus"]["path"]) == Path(DEMO_PATH):
        generate_demo(DEMO_PATH, params["demo"], params["corpus"]["genres"])
    else:
        write_not_generated(DEMO_PATH, params["corpus"]["path"])


if __name__ == "__main__":
    run_stage(main, sections=["corpus", "demo"])
