"""Stage `importance`: permutation feature importance of feature groups (the paper's Fig 3: MIR's; musicnn's tag groups).

Reuses the fold models of the model cell chosen by `reports.importance.*` (no retraining)
and writes reports/importance/ (summary.csv, repeats.csv, overall.csv,
importance.png, info.json).
"""

from filmscore import paths
from filmscore.reports import importance, inputs
from filmscore.stage import run_stage


def main(params: dict) -> None:
    r = params["reports"]["importance"]
    genres = list(params["corpus"]["genres"])
    model_dir = paths.MODELS / inputs.model_cell(r["features"], r["level"], r["pool"], r["hidden"])
    inputs.load_predictions(model_dir, genres)  # a clear error naming the stage to run, before loading models

    from filmscore.features.groups import group_of  # MIR column -> MFCC, ..., Tone; musicnn tag -> Genre, ..., Voice
    from filmscore.mil.cv import CVResult  # the fold models of a cell; see importance.CVPredictor

    predictor = CVResult.load(model_dir)
    result, info = importance.run(model_dir, genres, group_of, predictor, n_repeats=r["n_repeats"], seed=r["seed"],
                                  confidence=r["confidence"], n_boot=r["bootstrap"])
    importance.write_outputs(result, paths.IMPORTANCE, info)


if __name__ == "__main__":
    run_stage(main)
