"""Stage `crossmodal`: brightness and contrast of clips with music by genre (the paper's Table 5).

Label sources: true labels, and the predictions of the headline model (`model.*`).
Writes reports/crossmodal/ (table5.csv, table5.md, clips.csv, crossmodal.png,
differences.csv, info.json).
"""

from filmscore import paths
from filmscore.reports import crossmodal, inputs, paper
from filmscore.stage import run_stage


def main(params: dict) -> None:
    c = params["reports"]["crossmodal"]
    genres = list(params["corpus"]["genres"])
    model_dir = paths.MODELS / inputs.headline_cell(params)
    result, info = crossmodal.run(model_dir, genres, alpha=c["alpha"], min_clips=c["min_clips"],
                                  min_films=c["min_films"], unit=c["unit"])
    crossmodal.write_outputs(result, paths.CROSSMODAL, genres, info, paper.TABLE5)


if __name__ == "__main__":
    run_stage(main)
