"""Stage `cues_eval`: found cues against cues_truth/ (time and cue level, boundary error).

Writes reports/cues/metrics.json (DVC metrics: cue- and time-level precision, recall, F1),
reports/cues/summary.json (the whole evaluation: counts, boundary errors, per-film mean and SD),
reports/cues/per_film.csv and one figure per film, reports/cues/figures/<film_id>.png (true vs found cues).
A corpus without cues_truth/ gets metrics saying so and no figures.
"""

from filmscore.corpus import load_corpus
from filmscore.cues.evaluate import evaluate, judged, plot_film, read_truth
from filmscore.files import atomic_dir, read_table, save_figure, write_json, write_table
from filmscore.stage import run_stage

CUES = "data/cues/cues.parquet"
OUT = "reports/cues"


def main(params: dict) -> None:
    corpus = load_corpus(params)
    found = read_table(CUES)
    truth = {fid: read_truth(p) for fid, p in corpus.truth.items()}
    per, overall = evaluate(found, truth, iou=params["cues"]["eval"]["iou"])
    overall["mode"] = params["cues"]["mode"]
    if not truth:
        overall["note"] = f"no cues_truth/ in {corpus.root}: nothing to evaluate"
    write_json(f"{OUT}/summary.json", overall)
    write_json(f"{OUT}/metrics.json", judged(overall))
    write_table(per, f"{OUT}/per_film.csv")
    with atomic_dir(f"{OUT}/figures") as d:
        for fid in sorted(truth):
            f = found[found["film_id"] == fid]
            save_figure(plot_film(f, truth[fid], fid), d / f"{fid}.png")


if __name__ == "__main__":
    run_stage(main, sections=["corpus", "cues"])
