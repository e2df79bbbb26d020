"""Cross-modal analysis: screen brightness and contrast of the clips that carry music (Table 5).

A *clip* is the span of one cue in its film. Its brightness (contrast) is the
median of its 1 Hz visual frames. Three label sources per film: **Actual** (the
true labels), **Predicted** (the headline model's leave-one-out predictions) and
**False Positive** (predicted and not true: the predictions minus the true positives).

Labels belong to films, so the film is the unit of inference. The test of a
genre g (films with g against the other films) depends on `unit`:

- ``film`` (the default): each film contributes one value per feature, the
  median over its clips; two-sided Mann-Whitney U between the film values
  (`scipy.stats.mannwhitneyu`). diff_g = (median film value with g - median
  film value without g) x 10.
- ``mixed``: every clip, in a linear mixed model y = b0 + b1 [film has g] +
  u_film + e with a random intercept per film (`statsmodels` MixedLM, REML).
  The genre is a film-level covariate, so its Wald statistic b1 / se(b1) is
  referred to a t distribution with n_films - 2 degrees of freedom (the films,
  not the clips, carry its information; the normal reference would be
  anti-conservative with tens of films). diff_g is the clips' difference of
  medians as in the paper; `coef_x10` is b1 x 10 (a difference of means).
- ``clip``: **the paper's procedure**: Mann-Whitney U between the two sets of
  clips, as if clips were independent samples. They are not (clips of one film
  share its look), so its p-values are too small: in simulation (brightness
  varying by film, not by genre) it flags a genre in most corpora. Kept to
  compare with the paper, labelled as such.

Bonferroni correction with `statsmodels.stats.multitest.multipletests` within
each (feature, source) family. The family size m is the number of genres, as
in the paper (m = 6): a genre that cannot be tested still counts, which keeps
the correction conservative and independent of how many genres a corpus
happens to be able to test.

A genre is *not testable* when either side has fewer than `min_films` films or
`min_clips` clips: its difference of medians is still shown (when both sides
have clips) but it gets no p-value, and its note says why.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import mannwhitneyu
from statsmodels.stats.multitest import multipletests

from .. import paths
from ..errors import FilmscoreError, Problem
from ..config import CROSSMODAL_UNITS as UNITS  # film, mixed, clip: see the module doc

log = logging.getLogger(__name__)

FEATURES = ("brightness", "contrast")
SOURCES = ("Actual", "Predicted", "False Positive")
SCALE = 10.0  # the paper's Table 5 reports differences x 10 (brightness and contrast in [0, 1])
UNIT_TEXT = {
    "film": "one value per film (the median of its clips), Mann-Whitney U between films with and without the genre",
    "mixed": "every clip, linear mixed model with a random intercept per film (Wald t-test of the genre, "
             "n_films - 2 degrees of freedom)",
    "clip": "clips as independent samples, Mann-Whitney U (the paper's procedure)",
}
CLIP_CAVEAT = ("Caveat of the paper's procedure: it treats clips as independent samples, but the clips of one film "
               "are not independent (they share its look), so its p-values are too small; in simulation without "
               "any genre effect it flags a genre in most corpora. Shown to compare with the paper, not as evidence.")
COLUMNS = ["feature", "source", "genre", "unit", "diff_x10", "median_in", "median_out", "n_films_in", "n_films_out",
           "n_clips_in", "n_clips_out", "u", "coef_x10", "se_x10", "p", "p_bonferroni", "m", "significant", "testable",
           "note"]


@dataclass
class CrossModalResult:
    """The comparison table plus what was left out and why."""

    table: pd.DataFrame  # one row per (feature, source, genre)
    clips: pd.DataFrame  # film_id, cue_id, n_frames, brightness, contrast
    alpha: float
    min_clips: int
    min_films: int
    unit: str = "film"
    notes: list[str] = field(default_factory=list)
    status: str = "ok"  # "ok" or "skipped"


def clip_values(frames: pd.DataFrame, features=FEATURES) -> pd.DataFrame:
    """Median of each visual feature over the 1 Hz frames of each cue (clip).

    frames: the visual frame table (film_id, cue_id, t, brightness, contrast).
    NaN frames are ignored; a clip with no valid frame is dropped.
    """
    missing = [c for c in ("film_id", "cue_id", *features) if c not in frames.columns]
    if missing:
        raise FilmscoreError([Problem(str(paths.FEATURES / "visual" / "frames.parquet"), f"lacks columns {missing}",
                                      "re-run `dvc repro features` (the visual set writes brightness and contrast)")])
    g = frames.groupby(["film_id", "cue_id"], sort=True)
    out = g[list(features)].median()
    out["n_frames"] = g.size()
    out = out.reset_index().dropna(subset=list(features), how="all")
    return out[["film_id", "cue_id", "n_frames", *features]]


def label_sources(actual: pd.DataFrame, predicted: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """film_id x genre 0/1 tables of the three label sources.

    False Positive = predicted and not actual (true positives removed).
    """
    films = actual.index.intersection(predicted.index)
    only = sorted(set(actual.index) ^ set(predicted.index))
    if only:
        log.warning("%d film(s) have true labels but no prediction or the reverse; left out: %s",
                    len(only), ", ".join(map(str, only[:8])))
    a = actual.loc[films, list(actual.columns)].astype(bool)
    p = predicted.loc[films, list(actual.columns)].astype(bool)
    return {"Actual": a.astype(int), "Predicted": p.astype(int), "False Positive": (p & ~a).astype(int)}


def bonferroni(pvalues, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Bonferroni-adjusted p-values and rejections over a family (statsmodels).

    NaN entries (genres that could not be tested) stay NaN, are never rejected,
    and count in the family size m = len(pvalues).
    """
    p = np.asarray(pvalues, dtype=float)
    if np.all(np.isnan(p)):
        return p.copy(), np.zeros(len(p), dtype=bool)
    reject, p_adj, _, _ = multipletests(p, alpha=alpha, method="bonferroni")
    reject = np.asarray(reject, dtype=bool) & ~np.isnan(p)
    return np.asarray(p_adj, dtype=float), reject


def mixed_test(y: np.ndarray, film: np.ndarray, inside: np.ndarray) -> tuple[float, float, float, str]:
    """Genre effect in y = b0 + b1 * inside + u_film + e (statsmodels MixedLM, REML).

    y: clip values; film: the film of each clip (any labels); inside: 0/1 per clip
    (constant within a film). Returns (b1, se(b1), two-sided p, note); the p-value
    refers b1 / se to t with n_films - 2 degrees of freedom. A fit that fails, does
    not converge or gives no finite standard error, or fewer than 3 films, returns
    no p-value (NaN) and a note saying why.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    uniq, codes = np.unique(film, return_inverse=True)
    if len(uniq) < 3:
        return np.nan, np.nan, np.nan, f"not testable: {len(uniq)} films leave no degrees of freedom for the mixed model"
    X = np.column_stack([np.ones(len(y)), np.asarray(inside, dtype=float)])
    try:
        with warnings.catch_warnings():
            # a between-film variance estimated at 0 (the boundary) is a valid fit, not a failure
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = MixedLM(np.asarray(y, dtype=float), X, groups=codes).fit(reml=True)
        b, se = float(fit.fe_params[1]), float(fit.bse_fe[1])
    except (np.linalg.LinAlgError, ValueError) as e:
        return np.nan, np.nan, np.nan, f"not testable: the mixed model could not be fitted ({e})"
    if not fit.converged:
        return b, se, np.nan, "not testable: the mixed model's optimiser did not converge"
    if not (np.isfinite(b) and np.isfinite(se) and se > 0):
        return b, np.nan, np.nan, "not testable: the mixed model gives no standard error for the genre"
    return b, se, float(2 * stats.t.sf(abs(b / se), len(uniq) - 2)), ""


def compare(clips: pd.DataFrame, sources: dict[str, pd.DataFrame], genres: list[str], alpha: float = 0.01,
            min_clips: int = 5, min_films: int = 2, features=FEATURES, unit: str = "film") -> pd.DataFrame:
    """The Table 5 comparison for every (feature, source, genre); see the module doc for `unit`."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, not {unit!r}")
    rows = []
    for feat in features:
        for src, L in sources.items():
            c = clips[clips["film_id"].isin(L.index)].dropna(subset=[feat])
            codes, names = pd.factorize(c["film_id"], sort=True)  # clip -> film number
            y = c[feat].to_numpy(float)
            per_film = pd.Series(y).groupby(codes).median().to_numpy(float) if len(y) else np.zeros(0)
            has = L.reindex(names)[list(genres)].to_numpy(bool)  # film number x genre
            fam = []
            for gi, g in enumerate(genres):
                f_in = has[:, gi]
                inside = f_in[codes]
                nf_in, nf_out = int(f_in.sum()), int((~f_in).sum())
                nc_in, nc_out = int(inside.sum()), int((~inside).sum())
                if unit == "film":
                    x_in, x_out = per_film[f_in], per_film[~f_in]
                else:
                    x_in, x_out = y[inside], y[~inside]
                med_in = float(np.median(x_in)) if len(x_in) else np.nan
                med_out = float(np.median(x_out)) if len(x_out) else np.nan
                row = {
                    "feature": feat, "source": src, "genre": g, "unit": unit,
                    "n_films_in": nf_in, "n_films_out": nf_out, "n_clips_in": nc_in, "n_clips_out": nc_out,
                    "median_in": med_in, "median_out": med_out, "diff_x10": (med_in - med_out) * SCALE,
                    "u": np.nan, "coef_x10": np.nan, "se_x10": np.nan, "p": np.nan, "testable": False, "note": "",
                }
                short = []
                for side, nf, nc in (("with", nf_in, nc_in), ("without", nf_out, nc_out)):
                    if nf < min_films or nc < min_clips:
                        short.append(f"{nf} film(s) / {nc} clip(s) {side} {g}")
                if short:
                    row["note"] = (f"not testable: {'; '.join(short)} (need >= {min_films} films and "
                                   f">= {min_clips} clips per side)")
                elif unit == "mixed":
                    b, se, p, note = mixed_test(y, codes, inside)
                    row.update(coef_x10=b * SCALE, se_x10=se * SCALE, p=p, testable=bool(np.isfinite(p)), note=note)
                else:
                    res = mannwhitneyu(x_in, x_out, alternative="two-sided")
                    if np.isfinite(res.pvalue):
                        row.update(u=float(res.statistic), p=float(res.pvalue), testable=True)
                    else:
                        row["note"] = "not testable: the test is undefined for these values"
                fam.append(row)
            p_adj, reject = bonferroni([r["p"] for r in fam], alpha)
            for r, pa, rej in zip(fam, p_adj, reject):
                r.update(p_bonferroni=float(pa), m=len(fam), significant=bool(rej))
            rows += fam
    return pd.DataFrame(rows, columns=COLUMNS)


def analyse(frames: pd.DataFrame, actual: pd.DataFrame, predicted: pd.DataFrame, genres: list[str],
            alpha: float = 0.01, min_clips: int = 5, min_films: int = 2,
            films_without_video: list[str] | None = None, unit: str = "film") -> CrossModalResult:
    """Clips from the visual frames, the three label sources, the comparison."""
    clips = clip_values(frames)
    notes = []
    if films_without_video:
        notes.append(f"{len(films_without_video)} film(s) have no video stream, so their cues carry no visual "
                     f"features and are left out: {', '.join(films_without_video[:10])}"
                     f"{' ...' if len(films_without_video) > 10 else ''}")
    unlabeled = sorted(set(clips["film_id"]) - set(actual.index))
    if unlabeled:
        notes.append(f"{len(unlabeled)} film(s) with visual frames have no labels and are left out: {unlabeled[:5]}")
    sources = label_sources(actual, predicted)
    clips = clips[clips["film_id"].isin(sources["Actual"].index)].reset_index(drop=True)
    if clips.empty:
        notes.append("no clip carries visual features: nothing to compare")
    table = compare(clips, sources, genres, alpha=alpha, min_clips=min_clips, min_films=min_films, unit=unit)
    n_nt = int((~table["testable"]).sum())
    if n_nt:
        notes.append(f"{n_nt} of {len(table)} comparisons are not testable (too few films or clips on one side); "
                     "they have no p-value")
    if unit == "clip":
        notes.append(CLIP_CAVEAT)
    return CrossModalResult(table=table, clips=clips, alpha=alpha, min_clips=min_clips, min_films=min_films,
                            unit=unit, notes=notes)


def skipped(reason: str, genres: list[str], alpha: float, min_clips: int, min_films: int,
            unit: str = "film") -> CrossModalResult:
    """The result when the visual features were not extracted at all."""
    return CrossModalResult(table=pd.DataFrame(columns=COLUMNS), clips=pd.DataFrame(columns=["film_id", "cue_id", "n_frames", *FEATURES]),
                            alpha=alpha, min_clips=min_clips, min_films=min_films, unit=unit,
                            notes=[f"cross-modal analysis not run: the visual features were skipped ({reason})"],
                            status="skipped")


# ---------------------------------------------------------------- presentation

def cell_text(row: pd.Series | dict) -> str:
    """Table 5 cell: **bold** significant, plain tested, a dagger for not testable, a dash for no clips."""
    d = row["diff_x10"]
    if not np.isfinite(d):
        return "–"
    v = f"{d:.2f}"
    if row["significant"]:
        return f"**{v}**"
    if not row["testable"]:
        return f"{v} †"
    return v


def legend(unit: str) -> str:
    """What a Table 5 cell means under the test `unit`."""
    of = "films' medians" if unit == "film" else "clips"
    text = (f"Difference of median over {of} (genre minus the rest) x 10. **Bold**: significant after Bonferroni "
            "correction; † not testable (too few films or clips on one side, no p-value); – no clips with the genre.")
    if unit == "clip":
        text += " Test: the paper's clip-level procedure. " + CLIP_CAVEAT
    return text


def title(unit: str) -> str:
    """One line naming the test (for tables, figures and the report)."""
    return {"film": "film level", "mixed": "mixed model over clips", "clip": "clip level, the paper's procedure"}[unit]


def table5_frames(table: pd.DataFrame, genres: list[str], paper: dict | None = None) -> dict[str, pd.DataFrame]:
    """Per feature, a genre x source table of cell texts, with the paper's values beside."""
    out = {}
    for feat in FEATURES:
        t = pd.DataFrame({"Genre": genres})
        sub = table[table["feature"] == feat]
        for src in SOURCES:
            cells = {r["genre"]: cell_text(r) for _, r in sub[sub["source"] == src].iterrows()}
            t[src] = [cells.get(g, "–") for g in genres]
        if paper is not None:
            for src in SOURCES:
                vals = paper.get(feat, {}).get(src, {})
                t[f"paper: {src}"] = [f"{vals[g]:.2f}" if g in vals else "–" for g in genres]
        out[feat] = t
    return out


def differences(table: pd.DataFrame) -> pd.DataFrame:
    """Flat data series for DVC plots: one labelled difference per (feature, source, genre)."""
    t = table.dropna(subset=["diff_x10"])
    return pd.DataFrame({"comparison": t["feature"] + " / " + t["source"] + " / " + t["genre"],
                         "diff_x10": t["diff_x10"].astype(float), "significant": t["significant"].astype(bool)})


def crossmodal_figure(result: CrossModalResult, genres: list[str], paper: dict | None = None):
    """Two panels (brightness, contrast): bars per genre and label source, significance starred."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=False)
    colors = {"Actual": "#4c72b0", "Predicted": "#dd8452", "False Positive": "#937860"}
    x = np.arange(len(genres))
    w = 0.26
    for ax, feat in zip(axes, FEATURES):
        if result.status != "ok" or result.table.empty:
            ax.text(0.5, 0.5, "not run:\n" + "\n".join(result.notes)[:200], ha="center", va="center",
                    transform=ax.transAxes, fontsize=8, wrap=True)
            ax.set_axis_off()
            continue
        for si, src in enumerate(SOURCES):
            sub = result.table[(result.table.feature == feat) & (result.table.source == src)].set_index("genre").reindex(genres)
            d = sub["diff_x10"].to_numpy(float)
            xs = x + (si - 1) * w
            bars = ax.bar(xs, np.nan_to_num(d), w, color=colors[src], label=src)
            for b, (_, r), v in zip(bars, sub.iterrows(), d):
                if not np.isfinite(v):
                    continue
                if not r["testable"]:
                    b.set_hatch("///")
                    b.set_alpha(0.45)
                elif r["significant"]:
                    ax.text(b.get_x() + b.get_width() / 2, v, "*", ha="center",
                            va="bottom" if v >= 0 else "top", fontsize=11)
        if paper is not None and feat in paper:
            pv = [paper[feat]["Actual"].get(g, np.nan) for g in genres]
            ax.scatter(x - w, pv, marker="D", s=18, color="black", zorder=3, label="paper: Actual")
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_xticks(x, genres, fontsize=8)
        ax.set_title(f"{feat}: median difference x 10", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, ncol=4, fontsize=8, frameon=False, loc="lower center", bbox_to_anchor=(0.5, -0.04))
    fig.suptitle(f"Cross-modal analysis, {title(result.unit)} (* significant, Bonferroni alpha = {result.alpha}; "
                 "hatched: not testable)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def write_outputs(result: CrossModalResult, out_dir, genres: list[str], info: dict, paper: dict | None = None) -> None:
    """Write the cross-modal folder at once: Table 5 (CSV and markdown), clips, figure, info.

    The detail stays in tables (table5.csv, differences.csv), not in DVC metrics:
    `dvc exp show` keeps to the numbers an experiment is judged by (docs/experiments.md).
    """
    from pathlib import Path

    from ..files import save_figure, write_json, write_table, write_text
    from .document import md_table

    from .inputs import staged_outputs

    with staged_outputs(Path(out_dir)) as tmp:
        write_table(result.table, tmp / "table5.csv")
        write_table(result.clips, tmp / "clips.csv")
        write_table(differences(result.table), tmp / "differences.csv")
        md = [f"# Table 5 analogue: brightness and contrast of clips with music, by genre", ""]
        md += [f"Label sources from model `{info.get('model', '?')}`. Test ({result.unit}): {UNIT_TEXT[result.unit]}; "
               f"two-sided, Bonferroni within each feature and source (alpha = {result.alpha}, m = {len(genres)}).", ""]
        md += [f"- {n}" for n in result.notes] + ([""] if result.notes else [])
        if result.status == "ok":
            for feat, t in table5_frames(result.table, genres, paper).items():
                md += [f"## {feat.capitalize()}", "", md_table(t), ""]
            md += [legend(result.unit), ""]
        write_text(tmp / "table5.md", "\n".join(md))
        save_figure(crossmodal_figure(result, genres, paper), tmp / "crossmodal.png")
        write_json(tmp / "info.json", {**info, "status": result.status, "notes": result.notes, "alpha": result.alpha,
                                       "unit": result.unit, "min_clips": result.min_clips,
                                       "min_films": result.min_films})


def run(model_dir, genres: list[str], alpha: float, min_clips: int, min_films: int,
        unit: str = "film") -> tuple[CrossModalResult, dict]:
    """The analysis on the pipeline's outputs: manifest, visual frames, the model cell's predictions."""
    from pathlib import Path

    from .inputs import (FEATURES_DIR, MANIFEST, MODEL_STAGE, feature_status, film_table, label_matrix,
                         load_predictions, require, wide)

    model_dir = Path(model_dir)
    manifest = pd.read_parquet(require(MANIFEST, "validate", "the corpus manifest"))
    preds = load_predictions(model_dir, genres)
    info = {"model": model_dir.name}
    status = feature_status("visual")
    if status.get("status") != "ok":
        reason = status.get("reason", "no reason given")
        log.warning("visual features were skipped (%s): cross-modal analysis not run", reason)
        return skipped(reason, genres, alpha, min_clips, min_films, unit), info
    frames = pd.read_parquet(require(FEATURES_DIR / "visual" / "frames.parquet", "features", "visual frame features"))
    actual = label_matrix(manifest, genres)
    truth = wide(preds, "truth", genres)
    common = actual.index.intersection(truth.index)
    bad = common[(actual.loc[common] != truth.loc[common].astype(int)).any(axis=1)]
    if len(bad):
        raise FilmscoreError([Problem(str(model_dir / "predictions.parquet"),
                                      f"true labels differ from the corpus labels for {list(bad[:5])}",
                                      f"the predictions are out of date: run `dvc repro {MODEL_STAGE}`")])
    films = film_table(manifest)
    no_video = sorted(films.index[~films["has_video"].fillna(False).astype(bool)]) if "has_video" in films else []
    result = analyse(frames, actual, wide(preds, "pred", genres), genres, alpha=alpha, min_clips=min_clips,
                     min_films=min_films, films_without_video=no_video, unit=unit)
    return result, info
