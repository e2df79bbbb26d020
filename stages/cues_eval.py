"""Stage `cues_eval`: found cues against the true ones (time and cue level, boundary error).

Reads data/cues/cues.parquet and data/cues_truth/ (the corpus's cues_truth/, checked and
copied by stage `validate`, so this stage depends on the annotations alone). Writes
reports/cues/metrics.json (DVC metrics: cue- and time-level precision, recall, F1),
reports/cues/summary.json (the whole evaluation: counts, boundary errors, per-film mean and SD),
reports/cues/per_film.csv and one figure per film, reports/cues/figures/<film_id>.png (true vs found cues).
A corpus without cues_truth/ gets metrics saying so and no figures.
"""

from filmscore import paths
from filmscore.cues.evaluate import evaluate, judged, plot_film, read_truth
from filmscore.files import atomic_dir, read_table, save_figure, write_json, write_table
from filmscore.stage import run_stage


def main(params: dict) -> None:
    found = read_table(paths.CUES)
    truth = {p.stem: read_truth(p) for p in sorted(paths.CUES_TRUTH.glob("*.csv"))}
    per, overall = evaluate(found, truth, iou=params["cues"]["eval"]["iou"])
    overall["mode"] = params["cues"]["mode"]
    if not truth:
        overall["note"] = f"no cues_truth/ in the corpus ({paths.CUES_TRUTH} is empty): nothing to evaluate"
    out = paths.CUES_EVAL
    write_json(out / "summary.json", overall)
    write_json(out / "metrics.json", judged(overall))
    write_table(per, out / "per_film.csv")
    with atomic_dir(out / "figures") as d:
        for fid in sorted(truth):
            f = found[found["film_id"] == fid]
            save_figure(plot_film(f, truth[fid], fid), d / f"{fid}.png")


if __name__ == "__main__":
    run_stage(main)
