"""Stage `evaluate`: Table 4 analogue, DVC metrics, S2/S3 figures from every grid cell."""

from filmscore import paths
from filmscore.mil.report import evaluate
from filmscore.stage import run_stage


def main(params: dict) -> None:
    evaluate(params, models_root=paths.MODELS, reports=paths.REPORTS, manifest=paths.MANIFEST)


if __name__ == "__main__":
    run_stage(main)
