"""Stage `evaluate`: Table 4 analogue, DVC metrics, S2/S3 figures from every grid cell."""

from filmscore.mil.report import evaluate
from filmscore.stage import run_stage


def main(params: dict) -> None:
    evaluate(params)


if __name__ == "__main__":
    run_stage(main, sections=["corpus", "cv", "model", "grid", "evaluate"])
