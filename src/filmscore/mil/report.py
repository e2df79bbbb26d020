"""The evaluate stage's library side: Table 4 analogue, DVC metrics, S2 and S3 figures.

Reads every cell of the current grid (``data/models/<cell>/``), scores the
label-only baselines (random guess by class frequency, as its expectation over
``evaluate.random_draws`` draws; plurality label set, cross-validated on the same
folds), tests each model's average precisions against the random baseline's
(paired t-test), and writes

* ``reports/table4.md`` / ``table4.csv``: one row per model as in the paper's Table 4
  (Simple MI and IMV with their best base classifier, each pool with its best hidden
  size; the paper's values beside ours where the paper has the row);
* ``reports/table4_all.csv``: every cell;
* ``reports/table4.json`` (DVC metrics): the headline model (``model.*``) and the
  macro F1 of every Table 4 row, so ``dvc exp show`` compares experiments;
* ``reports/figures/s2_pr_curves.png`` + ``reports/plots/s2_pr/<set>.csv``: precision-
  recall curves of the best model of each feature set (S2);
* ``reports/figures/s3_film_pr.png`` + ``reports/plots/s3_film_pr/<set>.csv``: per-film
  precision and recall of the average-pooling model of each feature set (S3).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FilmscoreError, Problem
from ..files import atomic_dir, read_table, save_figure, write_json, write_table
from ..features.sets import paper_set
from .grid import MODELS_ROOT
from .io import MANIFEST, load_labels
from .names import MODEL_LABELS, cell_name

log = logging.getLogger(__name__)

REPORTS = Path("reports")

#: the paper's Table 4 (macro P, R, F1; cue level, LOOCV), as restated in SPEC.md
PAPER_TABLE4 = {
    ("none", "random"): (.32, .32, .32), ("none", "plurality"): (.14, .34, .19),
    ("vggish", "simplemi"): (.64, .59, .61), ("vggish", "imv"): (.64, .42, .44),
    ("vggish", "max"): (.56, .48, .49), ("vggish", "avg"): (.55, .78, .62),
    ("vggish", "linear_softmax"): (.62, .59, .59), ("vggish", "single_attention"): (.60, .73, .65),
    ("vggish", "multi_attention"): (.45, .72, .52), ("vggish", "feature_attention"): (.53, .74, .57),
    ("mir", "simplemi"): (.60, .52, .56), ("mir", "imv"): (.55, .40, .42),
    ("mir", "max"): (.40, .10, .15), ("mir", "avg"): (.55, .78, .61),
    ("mir", "linear_softmax"): (.55, .61, .57), ("mir", "single_attention"): (.49, .76, .55),
    ("mir", "multi_attention"): (.44, .70, .51), ("mir", "feature_attention"): (.53, .67, .56),
}


def grid_cells(grid: dict) -> list[tuple[str, str, str, str]]:
    """(set, level, method, size) of every cell the grid trains, in Table 4 order."""
    cells = []
    for s in grid["sets"]:
        for lv in grid["levels"]:
            for m in grid["classical"]:
                for b in grid["bases"]:
                    cells.append((s, lv, m, b))
            for p in grid["pools"]:
                for h in grid["hidden"]:
                    cells.append((s, lv, p, str(h)))
    return cells


def read_cell(directory: Path, film_ids: list[str], genres: list[str]) -> tuple[dict, dict | None]:
    """metrics.json and (if ok) the (n, G) prob/pred/truth arrays of a cell folder."""
    mpath = directory / "metrics.json"
    if not mpath.is_file():
        raise FilmscoreError(Problem(str(mpath), "not found", "train the grid first: dvc repro"))
    import json

    metrics = json.loads(mpath.read_text(encoding="utf-8"))
    if metrics.get("status") != "ok":
        return metrics, None
    df = read_table(directory / "predictions.parquet")
    got = set(df["film_id"].astype(str))
    if got != set(film_ids) or set(df["genre"]) != set(genres):
        raise FilmscoreError(Problem(str(directory), "was trained on other films or genres than the manifest lists",
                                     "re-run its train stage (dvc repro)"))
    pos = {f: i for i, f in enumerate(film_ids)}
    gpos = {g: j for j, g in enumerate(genres)}
    i = df["film_id"].astype(str).map(pos).to_numpy()
    j = df["genre"].map(gpos).to_numpy()
    arrays = {}
    for k in ("prob", "pred", "truth", "fold"):
        a = np.zeros((len(film_ids), len(genres)))
        a[i, j] = df[k].to_numpy()
        arrays[k] = a
    arrays["fold"] = arrays["fold"][:, 0].astype(np.int64)
    return metrics, arrays


def label_baseline_cv(estimator, Y: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validated (prob, pred) of a label-only baseline (no features)."""
    from sklearn.base import clone

    prob = np.zeros(Y.shape)
    pred = np.zeros(Y.shape, dtype=np.int64)
    for f in range(int(folds.max()) + 1):
        te = folds == f
        est = clone(estimator).fit([None] * int((~te).sum()), Y[~te])
        prob[te] = est.predict_proba([None] * int(te.sum()))
        pred[te] = est.predict([None] * int(te.sum()))
    return prob, pred


def _row(features, level, method, size, status="ok", **kw) -> dict:
    # the paper's row beside ours: its own set's, or for musicnn the paper's learned embedding (VGGish)
    ps = paper_set(features)
    paper = PAPER_TABLE4.get((ps, method)) if level in ("cue", "none") else None
    return {"features": features, "level": level, "model": MODEL_LABELS.get(method, method), "method": method,
            "size": str(size), "status": status, **kw,
            "paper_features": ps if paper else "",
            "paper_precision": paper[0] if paper else np.nan, "paper_recall": paper[1] if paper else np.nan,
            "paper_f1": paper[2] if paper else np.nan}


def evaluate(params: dict, models_root: str | Path = MODELS_ROOT, reports: str | Path = REPORTS,
             manifest: str | Path = MANIFEST) -> dict:
    """Write every evaluate output; return the DVC metrics dict."""
    from .classical import PluralityLabelSet
    from .folds import make_folds
    from .metrics import random_baseline, score

    models_root, reports = Path(models_root), Path(reports)
    genres = list(params["corpus"]["genres"])
    ev, grid, model = params["evaluate"], params["grid"], params["model"]
    film_ids, Y = load_labels(genres, manifest)
    folds = make_folds(len(film_ids), params["cv"]["folds"], params["cv"]["seed"])
    rnd = random_baseline(Y, folds, ev["random_draws"], ev["seed"])
    kw = dict(random=rnd, ttest_over=ev["ttest_over"], alpha=float(ev["alpha"]))

    rows, arrays = [], {}
    rows.append(_row("none", "none", "random", "", precision=rnd["precision"].mean(), recall=rnd["recall"].mean(),
                     f1=rnd["f1"].mean(), map=np.nanmean(rnd["ap"]), t=np.nan, p=np.nan, significant=None,
                     note=f"expectation over {ev['random_draws']} draws"))
    pprob, ppred = label_baseline_cv(PluralityLabelSet(), Y, folds)
    s = score(Y, pprob, ppred, genres, **kw)
    rows.append(_row("none", "none", "plurality", "", **_flat(s), note="most common training label set"))

    for fs, lv, method, size in grid_cells(grid):
        name = cell_name(fs, lv, method, size)
        metrics, arr = read_cell(models_root / name, film_ids, genres)
        if arr is None:
            rows.append(_row(fs, lv, method, size, status=metrics.get("status", "?"),
                             note=metrics.get("reason", ""), precision=np.nan, recall=np.nan, f1=np.nan, map=np.nan,
                             t=np.nan, p=np.nan, significant=None))
            continue
        if not np.array_equal(arr["fold"], folds):
            raise FilmscoreError(Problem(str(models_root / name), "was cross-validated on other folds than cv.* gives",
                                         "re-run its train stage (dvc repro)"))
        arrays[name] = arr
        s = score(arr["truth"], arr["prob"], arr["pred"].astype(np.int64), genres, **kw)
        rows.append(_row(fs, lv, method, size, **_flat(s), note=""))
    table = pd.DataFrame(rows)
    t4 = table4_view(table)

    headline = cell_name(model["set"], model["level"], model["pool"], model["hidden"])
    hrow = table[(table["features"] == model["set"]) & (table["level"] == model["level"]) &
                 (table["method"] == model["pool"]) & (table["size"] == str(model["hidden"]))]
    dvc_metrics = {"headline": {"cell": headline}, "table4": {}}
    if len(hrow) and hrow.iloc[0]["status"] == "ok":
        r = hrow.iloc[0]
        dvc_metrics["headline"].update({k: _num(r[k]) for k in ("precision", "recall", "f1", "map", "p")})
    else:
        dvc_metrics["headline"]["status"] = "skipped" if len(hrow) else "missing"
    for _, r in t4.iterrows():
        key = f"{r['features']}-{r['level']}-{r['method']}"
        dvc_metrics["table4"][key] = {"f1": _num(r["f1"])}

    reports.mkdir(parents=True, exist_ok=True)
    write_table(_rounded(t4), reports / "table4.csv")
    write_text_md(t4, reports / "table4.md", ev, headline)
    write_table(_rounded(table), reports / "table4_all.csv")
    write_json(reports / "table4.json", dvc_metrics)
    figures(table, arrays, grid, genres, film_ids, reports)
    return dvc_metrics


def _one_line(text) -> str:
    """A table cell: the first line of a (multi-line) reason, with any pipe escaped."""
    first = str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""
    return first.rstrip(":").replace("|", "\\|")


def _flat(s: dict) -> dict:
    m, t = s["macro"], s.get("ttest_vs_random", {})
    return {"precision": m["precision"], "recall": m["recall"], "f1": m["f1"], "map": m["map"],
            "t": t.get("t", np.nan), "p": t.get("p", np.nan), "significant": t.get("significant")}


def _num(v):
    return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else round(float(v), 4)


def _rounded(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in ("precision", "recall", "f1", "map", "t"):
        if c in out:
            out[c] = out[c].astype(float).round(4)
    if "p" in out:
        out["p"] = out["p"].astype(float).map(lambda v: float(f"{v:.3g}") if np.isfinite(v) else v)
    return out


def table4_view(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's layout: classical methods with their best base, pools with their best
    hidden size (by macro F1); skipped cells keep their row with the reason."""
    keep = []
    for (fs, lv, method), g in table.groupby(["features", "level", "method"], sort=False):
        ok = g[g["status"] == "ok"]
        if len(ok):
            best = ok.loc[ok["f1"].astype(float).idxmax()]
            keep.append(best.to_dict())
        else:
            keep.append(g.iloc[0].to_dict())
    out = pd.DataFrame(keep)
    return out


def write_text_md(t4: pd.DataFrame, path: Path, ev: dict, headline: str) -> None:
    lines = ["# Genre prediction from film music: Table 4 analogue", "",
             "Macro-averaged precision (P), recall (R) and F1 over the genres, and mean average precision (mAP), "
             "of held-out predictions; `p`: paired t-test of the model's average precisions against the random "
             f"guess's expected ones (paired over {ev['ttest_over']}; `*`: better at p < {ev['alpha']}). "
             "Classical methods are shown with their best base classifier and pools with their best hidden size "
             "(`size`); `paper`: the paper's P / R / F1 (cue level, leave-one-out). "
             f"Headline model (`model.*`): `{headline}`. Every cell: `table4_all.csv`.", "",
             "| features | level | model | size | P | R | F1 | mAP | p | paper P / R / F1 | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def f(v, fmt="{:.2f}"):
        return fmt.format(v) if v is not None and np.isfinite(float(v)) else ""

    for _, r in t4.iterrows():
        paper = " / ".join(f(r[k]) for k in ("paper_precision", "paper_recall", "paper_f1")) \
            if np.isfinite(float(r["paper_f1"])) else ""
        if paper and r.get("paper_features", r["features"]) != r["features"]:
            paper += f" ({r['paper_features']})"  # e.g. musicnn rows: the paper's learned embedding, VGGish
        p = f(r["p"], "{:.2g}") + ("*" if r.get("significant") is True else "")
        note = r["note"] if r["status"] == "ok" else \
            f"**{r['status']}**: {_one_line(r['note'])} (see data/features/{r['features']}/status.json)"
        lines.append(f"| {r['features']} | {r['level']} | {r['model']} | {r['size']} | {f(r['precision'])} | "
                     f"{f(r['recall'])} | {f(r['f1'])} | {f(r['map'])} | {p} | {paper} | {note} |")
    from ..files import write_text

    write_text(path, "\n".join(lines) + "\n")


def figures(table: pd.DataFrame, arrays: dict, grid: dict, genres: list[str], film_ids: list[str], reports: Path) -> None:
    """S2 (PR curves of each set's best model) and S3 (per-film P/R of each set's avg-pooling model)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import film_scores, pr_curve

    ok = table[(table["status"] == "ok") & (table["features"] != "none")]
    sets = [s for s in grid["sets"] if s in set(ok["features"])]
    fig_dir = reports / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)

    # S2
    n = max(1, len(sets))
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.2), squeeze=False)
    with atomic_dir(reports / "plots" / "s2_pr") as tmp:
        for ax, fs in zip(axes[0], sets):
            best = ok[ok["features"] == fs].sort_values("f1", ascending=False).iloc[0]
            name = cell_name(fs, best["level"], best["method"], best["size"])
            a = arrays[name]
            for j, g in enumerate(genres):
                if a["truth"][:, j].any():
                    c = pr_curve(a["truth"][:, [j]], a["prob"][:, [j]])
                    ax.plot(c["recall"], c["precision"], lw=0.8, alpha=0.6, drawstyle="steps-post", label=g)
            c = pr_curve(a["truth"], a["prob"])
            ax.plot(c["recall"], c["precision"], color="black", lw=2, drawstyle="steps-post", label="all (micro)")
            write_table(pd.DataFrame({"recall": c["recall"], "precision": c["precision"], "threshold": c["threshold"],
                                      "model": name}), tmp / f"{fs}.csv")
            ax.set(title=f"{fs}: {best['model']} ({best['size']})\nmacro F1 {best['f1']:.2f}, mAP {best['map']:.2f}",
                   xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02))
            ax.legend(fontsize=7, loc="lower left")
        if not sets:
            axes[0][0].text(0.5, 0.5, "no trained feature set", ha="center")
        fig.suptitle("S2: precision-recall curves of the best model per feature set (held-out predictions)", y=1.06)
        save_figure(fig, fig_dir / "s2_pr_curves.png")

    # S3
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.2), squeeze=False)
    with atomic_dir(reports / "plots" / "s3_film_pr") as tmp:
        for ax, fs in zip(axes[0], sets):
            avg = ok[(ok["features"] == fs) & (ok["method"] == "avg")]
            if avg.empty:
                ax.text(0.5, 0.5, f"{fs}: no avg-pooling cell in the grid", ha="center")
                continue
            best = avg.sort_values("f1", ascending=False).iloc[0]
            name = cell_name(fs, best["level"], "avg", best["size"])
            a = arrays[name]
            s = film_scores(a["truth"], a["pred"])
            df = pd.DataFrame({"film_id": film_ids, "recall": s["recall"], "precision": s["precision"],
                               "n_true": a["truth"].sum(1).astype(int), "n_pred": a["pred"].sum(1).astype(int)})
            write_table(df, tmp / f"{fs}.csv")
            counts = df.groupby(["recall", "precision"]).size().reset_index(name="films")
            ax.scatter(counts["recall"], counts["precision"], s=20 + 25 * counts["films"], alpha=0.5)
            for _, r in counts.iterrows():
                ax.annotate(str(int(r["films"])), (r["recall"], r["precision"]), ha="center", va="center", fontsize=7)
            ax.set(title=f"{fs}: Avg. pooling ({best['size']}), {len(df)} films", xlabel="recall (per film)",
                   ylabel="precision (per film)", xlim=(-0.05, 1.05), ylim=(-0.05, 1.05))
        fig.suptitle("S3: per-film precision and recall of its predicted genres (marker: number of films)", y=1.04)
        save_figure(fig, fig_dir / "s3_film_pr.png")


__all__ = ["evaluate", "grid_cells", "read_cell", "table4_view", "PAPER_TABLE4", "label_baseline_cv"]
