"""The evaluate stage's library side: Table 4 analogue, DVC metrics, S2 and S3 figures.

Reads every cell of the current grid (``data/models/<cell>/``), scores the
label-only baselines (random guess by class frequency, as its expectation over
``evaluate.random_draws`` draws; plurality label set, cross-validated on the same
folds), tests each model's average precisions against the random baseline's
(paired t-test), and writes

* ``reports/table4.md`` / ``table4.csv``: one row per model as in the paper's Table 4, every
  configuration its own row (each base classifier, each hidden size: none is picked as
  "best" by its own held-out score), the paper's values beside ours where the paper has
  the row, and for every row a bootstrap interval over films for macro F1 and mAP
  (``f1_lo, f1_hi, map_lo, map_hi``; `filmscore.stats`, ``evaluate.bootstrap`` resamples)
  and paired bootstrap p-values of macro F1 against average pooling (neural rows) and
  against the random guess (``p_vs_avg, p_vs_random``; ``vs_avg, vs_random`` say
  better / worse / not distinguishable at ``evaluate.alpha``); neural rows also say
  how they were trained (``schedule``, ``arithmetic``);
* ``reports/table4_all.csv``: per genre precision, recall, F1 and AP of every row;
* ``reports/table4.json`` (DVC metrics): each grid cell's and the headline model's
  (``model.*``) macro F1 and mAP with their intervals, nothing else, so that
  ``dvc exp show`` stays readable;
* ``reports/figures/table4.png``: the intervals drawn (a DVC plot);
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
from ..paths import REPORTS
from ..reports.notes import schedule_note
from ..reports.paper import TABLE4_BY_METHOD
from .grid import MODELS_ROOT
from .io import MANIFEST, load_labels
from .names import MODEL_LABELS, POOLS, cell_name

log = logging.getLogger(__name__)


#: the paper's Table 4 (macro P, R, F1; cue level, LOOCV) by (set, method): declared in reports/paper.py
PAPER_TABLE4 = TABLE4_BY_METHOD


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


#: random draws per resample that stand for the random guess inside the bootstrap
RANDOM_BANK = 50
#: uncertainty columns of Table 4 (reports/table4.csv), beside f1 and map
UNCERTAINTY_COLUMNS = ("f1_lo", "f1_hi", "map_lo", "map_hi", "p_vs_avg", "p_vs_random", "vs_avg", "vs_random")


class FilmBootstrap:
    """Table 4's uncertainty: 95 % intervals over films and paired tests on the same resampled films
    (`filmscore.stats`), for macro F1 (`metrics.macro_f1`) and mAP (`metrics.mean_ap`).

    The random guess's F1 enters the bootstrap as a bank of ``RANDOM_BANK`` draws per film (its
    predictions drawn with the fold frequencies): each resample scores the bank's mean, so its
    interval and the tests against it include the guesser's own randomness; its point value stays
    the expectation over ``evaluate.random_draws`` draws. Its mAP, on the original films and on
    each resample, is the exact expectation of a random ranking (`metrics.expected_ap_random`).
    Random scores drawn once per film would tie a film drawn twice with its copy, and scikit-learn's
    AP scores a tie group at its end, which lifts a positive copy's precision: the resampled mAPs sat
    above the estimate (on the demo, .41 in [.40, .49]; docs/reports.md).

    A resample in which a genre that the corpus has loses all its films is left out
    (the statistic is NaN there, and the interval's note counts them): macro F1 would
    score that genre 0 and mAP drop it from the mean, both biasing the resamples away
    from the estimate (a rare genre of 3 films in 30 is missing from about 4 % of them).
    """

    def __init__(self, Y: np.ndarray, folds: np.ndarray, ev: dict):
        from .folds import fold_priors, train_matrix

        self.n_boot, self.seed = int(ev["bootstrap"]), int(ev["seed"])
        self.confidence, self.method, self.alpha = float(ev["confidence"]), ev["interval"], float(ev["alpha"])
        prior = fold_priors(Y.astype(np.float64), train_matrix(folds))[np.asarray(folds)]
        rng = np.random.default_rng([self.seed, 1])
        self.present = np.asarray(Y).any(0)
        self.Y3 = np.repeat(Y[:, :, None], RANDOM_BANK, axis=2)
        self.rand_pred = (rng.random(self.Y3.shape) < prior[:, :, None]).astype(np.int64)

    def _covers(self, truth) -> bool:
        """Does this (resampled) set of films hold every genre the corpus holds?"""
        t = np.asarray(truth)
        return bool(t.reshape(t.shape[0], t.shape[1], -1).any(axis=(0, 2))[self.present].all())

    def f1(self, truth, pred) -> float:
        from .metrics import macro_f1

        return macro_f1(truth, pred) if self._covers(truth) else float("nan")

    def ap(self, truth, prob) -> float:
        from .metrics import mean_ap

        return mean_ap(truth, prob) if self._covers(truth) else float("nan")

    def random_map(self, truth) -> float:
        """mAP of the random ranking on these films: its exact expectation (`metrics.expected_ap_random`,
        every film its own independent score, so a film drawn twice is not tied with its copy)."""
        from .metrics import expected_ap_random

        t = np.asarray(truth)
        if not self._covers(t):
            return float("nan")
        ap = expected_ap_random(t.shape[0], t.sum(0))
        return float(np.nanmean(ap))

    def intervals(self, truth, prob, pred) -> dict:
        from ..stats import bootstrap_interval

        macro_f1, mean_ap = self.f1, self.ap

        kw = dict(n_boot=self.n_boot, seed=self.seed, confidence=self.confidence, method=self.method)
        if truth is None:  # the random guess: its bank for F1, its exact expected AP on the resampled films
            f1 = bootstrap_interval(macro_f1, (self.Y3, self.rand_pred), **kw)
            ap = bootstrap_interval(self.random_map, (self.Y3[:, :, 0],), **kw)
        else:
            f1 = bootstrap_interval(macro_f1, (truth, pred), **kw)
            ap = bootstrap_interval(mean_ap, (truth, prob), **kw)
        return {"f1_lo": f1.lo, "f1_hi": f1.hi, "map_lo": ap.lo, "map_hi": ap.hi,
                "interval_note": f1.reason or ap.reason}

    def versus(self, truth, pred, other_pred=None, random_f1: float | None = None) -> tuple[float, str]:
        """Paired bootstrap p-value of macro F1 (this model minus the other one or the random
        guess), and 'better' / 'worse' / 'not distinguishable' at ``alpha``."""
        from ..stats import paired_bootstrap_test

        macro_f1 = self.f1
        kw = dict(n_boot=self.n_boot, seed=self.seed, confidence=self.confidence)
        if other_pred is None:
            t = paired_bootstrap_test(macro_f1, (truth, pred), macro_f1, (self.Y3, self.rand_pred),
                                      estimate_b=random_f1, **kw)
        else:
            t = paired_bootstrap_test(macro_f1, (truth, pred), macro_f1, (truth, other_pred), **kw)
        if not t.available:
            return float("nan"), "unavailable"
        verdict = "not distinguishable" if t.p >= self.alpha else ("better" if t.diff > 0 else "worse")
        return t.p, verdict


def cell_training(metrics: dict) -> dict:
    """How a neural cell was trained (schedule, epochs, precision), from its metrics.json."""
    t = metrics.get("training") or {}
    return {"schedule": t.get("summary", ""), "arithmetic": (metrics.get("params") or {}).get("precision", "")}


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
    boot = FilmBootstrap(Y, folds, ev)
    log.info("bootstrap over %d films: %d resamples per interval and test (evaluate.bootstrap)", len(film_ids),
             boot.n_boot)

    rows, arrays, genre_rows = [], {}, []
    rnd_f1 = float(rnd["f1"].mean())
    rows.append(_row("none", "none", "random", "", precision=rnd["precision"].mean(), recall=rnd["recall"].mean(),
                     f1=rnd_f1, map=np.nanmean(rnd["ap"]), t=np.nan, p=np.nan, significant=None,
                     **boot.intervals(None, None, None), p_vs_avg=np.nan, p_vs_random=np.nan, vs_avg="",
                     vs_random="", note=f"expectation over {ev['random_draws']} draws"))
    pprob, ppred = label_baseline_cv(PluralityLabelSet(), Y, folds)
    s = score(Y, pprob, ppred, genres, **kw)
    genre_rows += _genre_rows("none", "none", "plurality", "", s)
    prv = boot.versus(Y, ppred, random_f1=rnd_f1)
    rows.append(_row("none", "none", "plurality", "", **_flat(s), **boot.intervals(Y, pprob, ppred), p_vs_avg=np.nan,
                     p_vs_random=prv[0], vs_avg="", vs_random=prv[1], note="most common training label set"))

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
        genre_rows += _genre_rows(fs, lv, method, size, s)
        p_rand, v_rand = boot.versus(arr["truth"], arr["pred"], random_f1=rnd_f1)
        p_avg, v_avg = np.nan, ""
        avg = cell_name(fs, lv, "avg", size)
        if method in POOLS and method != "avg":
            if avg not in arrays and (models_root / avg).is_dir():  # grid order may put avg after this pool
                _, avg_arr = read_cell(models_root / avg, film_ids, genres)
                if avg_arr is not None and np.array_equal(avg_arr["fold"], folds):
                    arrays[avg] = avg_arr
            if avg in arrays:
                p_avg, v_avg = boot.versus(arr["truth"], arr["pred"], other_pred=arrays[avg]["pred"])
            else:
                v_avg = "no avg-pooling cell"
        extra = cell_training(metrics) if method in POOLS else {}
        rows.append(_row(fs, lv, method, size, **_flat(s), **boot.intervals(arr["truth"], arr["prob"], arr["pred"]),
                         p_vs_avg=p_avg, p_vs_random=p_rand, vs_avg=v_avg, vs_random=v_rand, **extra, note=""))
    table = pd.DataFrame(rows)
    t4 = table4_view(table)

    headline = cell_name(model["set"], model["level"], model["pool"], model["hidden"])
    dvc_metrics = {"headline": {}, "cells": {}}
    for _, r in table[table["features"] != "none"].iterrows():
        name = cell_name(r["features"], r["level"], r["method"], r["size"])
        if r["status"] == "ok":
            dvc_metrics["cells"][name] = {k: _num(r[k]) for k in METRIC_KEYS}
    dvc_metrics["headline"] = dict(dvc_metrics["cells"].get(headline, {}))

    reports.mkdir(parents=True, exist_ok=True)
    write_table(_rounded(t4), reports / "table4.csv")
    write_text_md(t4, reports / "table4.md", ev, headline, n_films=len(film_ids))
    write_table(_rounded(pd.DataFrame(genre_rows)), reports / "table4_all.csv")
    write_json(reports / "table4.json", dvc_metrics)
    figures(table, arrays, grid, genres, film_ids, reports, model)
    interval_figure(t4, reports / "figures" / "table4.png", ev, n_films=len(film_ids))
    return dvc_metrics


#: the DVC metrics of each grid cell and of the headline model (reports/table4.json)
METRIC_KEYS = ("f1", "f1_lo", "f1_hi", "map", "map_lo", "map_hi")


def _genre_rows(features, level, method, size, s: dict) -> list[dict]:
    """table4_all.csv: one row per model and genre (precision, recall, F1, AP, films carrying it)."""
    return [{"features": features, "level": level, "method": method, "size": str(size), "genre": g, **v}
            for g, v in s["per_genre"].items()]


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
    for c in ("precision", "recall", "f1", "ap", "map", "t", "f1_lo", "f1_hi", "map_lo", "map_hi"):
        if c in out:
            out[c] = out[c].astype(float).round(4)
    for c in ("p", "p_vs_avg", "p_vs_random"):
        if c in out:
            out[c] = out[c].astype(float).map(lambda v: float(f"{v:.3g}") if np.isfinite(v) else v)
    return out


def table4_view(table: pd.DataFrame) -> pd.DataFrame:
    """Table 4 as written: every configuration (each base classifier, each hidden size) is its
    own row. No row is picked as a method's "best" by its held-out score, which would bias the
    table upward (the selection would be scored on the films it was chosen on)."""
    return table.reset_index(drop=True)


def write_text_md(t4: pd.DataFrame, path: Path, ev: dict, headline: str, n_films: int = 0) -> None:
    conf = f"{float(ev['confidence']):.0%}"
    sched = schedule_note(t4)
    prec = sorted({str(v) for v in t4.get("arithmetic", pd.Series(dtype=str)).dropna() if str(v)})
    lines = ["# Genre prediction from film music: Table 4 analogue", "",
             "Macro-averaged precision (P), recall (R) and F1 over the genres, and mean average precision (mAP), "
             f"of held-out predictions ({n_films} films). `[lo, hi]`: {conf} bootstrap interval over films "
             f"({ev['bootstrap']} resamples of the films, {ev['interval']} interval, seed {ev['seed']}; "
             "films are resampled, not cues). `vs avg` / `vs random`: paired bootstrap test of macro F1 on the "
             "same resampled films against the average-pooling model of the same features and size, and against the "
             f"random guess; a difference is **distinguishable** when p < {ev['alpha']} (marked better / worse; "
             "no correction for the number of comparisons). `p`: the paper's paired t-test of the model's average "
             f"precisions against the random guess's (paired over {ev['ttest_over']}; `*`: better at p < {ev['alpha']}). "
             "Every configuration is shown (each base classifier, each hidden size `size`): no row is chosen as "
             "a method's best by its own held-out score. `paper`: the paper's P / R / F1 (cue level, leave-one-out; "
             "the paper reports only its best configuration). "
             f"Neural training: {sched or 'n/a'}; arithmetic {', '.join(prec) or 'n/a'}. "
             f"Headline model (`model.*`): `{headline}`. Per genre: `table4_all.csv`; figure: `figures/table4.png`.", "",
             "| features | level | model | size | P | R | F1 [lo, hi] | mAP [lo, hi] | vs avg | vs random | p "
             "| paper P / R / F1 | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def f(v, fmt="{:.2f}"):
        return fmt.format(v) if v is not None and np.isfinite(float(v)) else ""

    def ci(r, k):
        lo, hi = r.get(f"{k}_lo", np.nan), r.get(f"{k}_hi", np.nan)
        return f"{f(r[k])} [{f(lo)}, {f(hi)}]" if np.isfinite(float(lo)) else f(r[k])

    def vs(r, k):
        p, v = r.get(f"p_{k}", np.nan), r.get(k, "")
        v = "" if not isinstance(v, str) else v
        if not np.isfinite(float(p)):
            return v if v not in ("unavailable",) else "n/a"
        return f"**{v}** (p {p:.2g})" if v in ("better", "worse") else f"{v} (p {p:.2g})"

    for _, r in t4.iterrows():
        paper = " / ".join(f(r[k]) for k in ("paper_precision", "paper_recall", "paper_f1")) \
            if np.isfinite(float(r["paper_f1"])) else ""
        if paper and r.get("paper_features", r["features"]) != r["features"]:
            paper += f" ({r['paper_features']})"  # e.g. musicnn rows: the paper's learned embedding, VGGish
        p = f(r["p"], "{:.2g}") + ("*" if r.get("significant") is True else "")
        note = str(r["note"]) if r["status"] == "ok" else \
            f"**{r['status']}**: {_one_line(r['note'])} (see data/features/{r['features']}/status.json)"
        inote = r.get("interval_note", "")
        if isinstance(inote, str) and inote:
            note = f"{note}; interval: {inote}" if note else f"interval: {inote}"
        lines.append(f"| {r['features']} | {r['level']} | {r['model']} | {r['size']} | {f(r['precision'])} | "
                     f"{f(r['recall'])} | {ci(r, 'f1')} | {ci(r, 'map')} | {vs(r, 'vs_avg')} | {vs(r, 'vs_random')} | "
                     f"{p} | {paper} | {note} |")
    from ..files import write_text

    write_text(path, "\n".join(lines) + "\n")


def interval_figure(t4: pd.DataFrame, path: Path, ev: dict, n_films: int) -> None:
    """Table 4 with its intervals: macro F1 and mAP per row, the bootstrap interval as a bar,
    the random guess's interval shaded, the paper's F1 as a cross."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = t4[t4["status"] == "ok"].reset_index(drop=True)
    labels = [f"{r.features} · {r.model}" + (f" ({r.size})" if r.size else "") for r in ok.itertuples()]
    y = np.arange(len(ok))[::-1]
    sets = list(dict.fromkeys(ok["features"]))
    colours = {s: plt.cm.tab10(i) for i, s in enumerate(sets)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.32 * len(ok) + 1.8), sharey=True, squeeze=False)
    rnd = ok[ok["method"] == "random"]
    for ax, k, title in zip(axes[0], ("f1", "map"), ("macro F1", "mAP")):
        if len(rnd) and np.isfinite(float(rnd.iloc[0][f"{k}_lo"])):
            ax.axvspan(float(rnd.iloc[0][f"{k}_lo"]), float(rnd.iloc[0][f"{k}_hi"]), color="0.9", zorder=0,
                       label=f"random guess, {float(ev['confidence']):.0%} interval")
        for yi, r in zip(y, ok.itertuples()):
            v, lo, hi = float(getattr(r, k)), float(getattr(r, f"{k}_lo")), float(getattr(r, f"{k}_hi"))
            c = colours[r.features]
            if np.isfinite(lo):
                ax.plot([lo, hi], [yi, yi], color=c, lw=2, alpha=0.7)
            ax.plot([v], [yi], "o", color=c, ms=5)
            if k == "f1" and np.isfinite(float(r.paper_f1)):
                ax.plot([float(r.paper_f1)], [yi], "x", color="black", ms=5)
        ax.set(xlabel=title, xlim=(0, 1))
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].plot([], [], "x", color="black", label="paper (its best configuration)")
    axes[0][0].set_yticks(y, labels, fontsize=8)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Table 4 with {float(ev['confidence']):.0%} bootstrap intervals over {n_films} films "
                 f"({ev['bootstrap']} resamples); no interval drawn where it is unavailable", fontsize=10)
    save_figure(fig, path)


def figures(table: pd.DataFrame, arrays: dict, grid: dict, genres: list[str], film_ids: list[str], reports: Path,
            model: dict) -> None:
    """S2 (PR curves of each set's model at the headline configuration ``model.*``; the paper shows its
    best model, which would pick a cell by the held-out score it then shows) and S3 (per-film P/R of
    each set's avg-pooling model)."""
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
            at = ok[(ok["features"] == fs) & (ok["level"] == model["level"]) & (ok["method"] == model["pool"])
                    & (ok["size"].astype(str) == str(model["hidden"]))]
            if at.empty:
                ax.text(0.5, 0.5, f"{fs}: no cell at the headline configuration", ha="center")
                continue
            best = at.iloc[0]
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
        fig.suptitle("S2: precision-recall curves per feature set at the headline configuration (model.*; "
                     "held-out predictions)", y=1.06)
        save_figure(fig, fig_dir / "s2_pr_curves.png")

    # S3
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.2), squeeze=False)
    with atomic_dir(reports / "plots" / "s3_film_pr") as tmp:
        for ax, fs in zip(axes[0], sets):
            avg = ok[(ok["features"] == fs) & (ok["method"] == "avg")]
            if avg.empty:
                ax.text(0.5, 0.5, f"{fs}: no avg-pooling cell in the grid", ha="center")
                continue
            at = avg[(avg["level"] == model["level"]) & (avg["size"].astype(str) == str(model["hidden"]))]
            best = (at if not at.empty else avg).iloc[0]  # the headline's level and size, never the best score
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


__all__ = ["evaluate", "grid_cells", "read_cell", "table4_view", "PAPER_TABLE4", "label_baseline_cv", "FilmBootstrap",
           "interval_figure", "METRIC_KEYS", "UNCERTAINTY_COLUMNS"]
