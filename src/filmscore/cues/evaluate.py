"""How well found cues match true ones (cues_truth/<film_id>.csv).

Time level (per film, then summed over films for the overall figures):
    tp        = sum over tracks of |found(track) ∩ true(track)|   (interval unions, seconds)
    precision = tp / sum over tracks of |found(track)|
    recall    = tp / sum over tracks of |true(track)|
so time counts only where the right track is named. Cue level: found and true
cues of the same track are paired one to one, greedily by intersection over
union, when IoU >= `iou`; precision = pairs / found cues, recall = pairs / true
cues. Boundary error: |start difference| and |end difference| of every pair,
pooled; the median is reported. Offset error, of pairs where the truth gives
track_offset: |difference of the track positions the two put at the later of
their starts| (each cue's track_offset plus the film time since its start
times its speed, 1 where a table has no speed), so that a start found late
is a boundary error and not also an offset error; `offset_wrong` is the share
of those pairs whose offset error exceeds OFFSET_WRONG_SECONDS (the cue names
another part of its track: looped music matched at a repeat of itself, which
a median does not show). F1 = 2PR/(P+R). A ratio whose
denominator is zero is NaN (a film with no truth has no recall).

Match tiers: the figures are for every found cue (`exact` and `rendition`,
column `match`), and again, prefixed `exact_`, for the exact cues alone
against the same truth, so that the tolerant tier's effect on precision and
recall is read directly (a table without `match` is all exact).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_IOU = 0.5
OFFSET_WRONG_SECONDS = 0.5  # an offset error beyond this names another part of the track


def union(intervals) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in intervals if b > a):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def length(intervals) -> float:
    return float(sum(b - a for a, b in intervals))


def intersection(u: list[tuple[float, float]], v: list[tuple[float, float]]) -> float:
    i = j = 0
    tot = 0.0
    while i < len(u) and j < len(v):
        a, b = max(u[i][0], v[j][0]), min(u[i][1], v[j][1])
        if b > a:
            tot += b - a
        if u[i][1] < v[j][1]:
            i += 1
        else:
            j += 1
    return tot


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def _f1(p: float, r: float) -> float:
    if math.isnan(p) or math.isnan(r) or p + r == 0:
        return math.nan if (math.isnan(p) or math.isnan(r)) else 0.0
    return 2 * p * r / (p + r)


def pair_cues(found: pd.DataFrame, truth: pd.DataFrame, iou: float = DEFAULT_IOU) -> list[tuple[int, int, float]]:
    """Greedy one-to-one pairs (found row, truth row, IoU) of the same track with IoU >= iou."""
    cands = []
    for i, f in enumerate(found.itertuples(index=False)):
        for j, t in enumerate(truth.itertuples(index=False)):
            if str(f.track) != str(t.track):
                continue
            inter = max(0.0, min(f.end, t.end) - max(f.start, t.start))
            uni = max(f.end, t.end) - min(f.start, t.start)
            v = inter / uni if uni > 0 else 0.0
            if v >= iou:
                cands.append((v, i, j))
    pairs, used_f, used_t = [], set(), set()
    for v, i, j in sorted(cands, reverse=True):
        if i in used_f or j in used_t:
            continue
        used_f.add(i)
        used_t.add(j)
        pairs.append((i, j, v))
    return pairs


def _track_at(cues: pd.DataFrame, i, t: float) -> float:
    """The track position (s) cue i puts at film time t."""
    speed = float(cues.at[i, "speed"]) if "speed" in cues.columns and pd.notna(cues.at[i, "speed"]) else 1.0
    return float(cues.at[i, "track_offset"]) + (t - float(cues.at[i, "start"])) * speed


def film_scores(found: pd.DataFrame, truth: pd.DataFrame, iou: float = DEFAULT_IOU) -> dict:
    """Counts and errors of one film (found and truth: columns track, start, end[, track_offset])."""
    found = found.reset_index(drop=True)
    truth = truth.reset_index(drop=True)
    # summed in track order: a set's order follows the process's string hashes, and float sums in another order
    # differ in their last bits from run to run
    tracks = sorted(set(found["track"].astype(str)) | set(truth["track"].astype(str)))
    tp = f_len = t_len = 0.0
    for tr in tracks:
        fu = union(zip(found.loc[found["track"].astype(str) == tr, "start"], found.loc[found["track"].astype(str) == tr, "end"]))
        tu = union(zip(truth.loc[truth["track"].astype(str) == tr, "start"], truth.loc[truth["track"].astype(str) == tr, "end"]))
        tp += intersection(fu, tu)
        f_len += length(fu)
        t_len += length(tu)
    pairs = pair_cues(found, truth, iou)
    bound = []
    offs = []
    for i, j, _ in pairs:
        bound += [abs(found.at[i, "start"] - truth.at[j, "start"]), abs(found.at[i, "end"] - truth.at[j, "end"])]
        if "track_offset" in truth.columns and "track_offset" in found.columns and pd.notna(truth.at[j, "track_offset"]):
            t = max(found.at[i, "start"], truth.at[j, "start"])
            offs.append(abs(_track_at(found, i, t) - _track_at(truth, j, t)))
    return {"tp_seconds": tp, "found_seconds": f_len, "true_seconds": t_len,
            "n_found": len(found), "n_true": len(truth), "n_pairs": len(pairs),
            "boundary_errors": bound, "offset_errors": offs}


def _metrics(c: dict) -> dict:
    tp_, tr_ = _ratio(c["tp_seconds"], c["found_seconds"]), _ratio(c["tp_seconds"], c["true_seconds"])
    cp, cr = _ratio(c["n_pairs"], c["n_found"]), _ratio(c["n_pairs"], c["n_true"])
    return {
        "time_precision": tp_, "time_recall": tr_, "time_f1": _f1(tp_, tr_),
        "cue_precision": cp, "cue_recall": cr, "cue_f1": _f1(cp, cr),
        "median_boundary_error": float(np.median(c["boundary_errors"])) if c["boundary_errors"] else math.nan,
        "median_offset_error": float(np.median(c["offset_errors"])) if c["offset_errors"] else math.nan,
        "offset_wrong": (float(np.mean(np.asarray(c["offset_errors"]) > OFFSET_WRONG_SECONDS)) if c["offset_errors"]
                         else math.nan),
    }


#: the figures a cue-matcher experiment is judged by: the DVC metrics of stage cues_eval
#: (the rest of the evaluation is reports/cues/summary.json and per_film.csv)
JUDGED = ("cue_precision", "cue_recall", "cue_f1", "time_precision", "time_recall", "time_f1",
          "exact_cue_precision", "exact_cue_recall", "exact_time_precision", "exact_time_recall")
#: the figures also given for the exact tier alone (prefixed exact_)
TIERED = ("time_precision", "time_recall", "time_f1", "cue_precision", "cue_recall", "cue_f1", "median_boundary_error",
          "median_offset_error", "offset_wrong")


def exact_only(found: pd.DataFrame) -> pd.DataFrame:
    """The exact tier's rows of a cue table (all of them when it has no `match` column)."""
    if "match" not in found.columns or not len(found):
        return found
    return found[found["match"].astype(str) == "exact"]


def judged(overall: dict) -> dict:
    """The JUDGED figures of an `evaluate` result (reports/cues/metrics.json)."""
    return {k: overall[k] for k in JUDGED if k in overall}


def evaluate(found: pd.DataFrame, truth: dict[str, pd.DataFrame], iou: float = DEFAULT_IOU) -> tuple[pd.DataFrame, dict]:
    """Per-film table and overall metrics over the films that have truth.

    `found`: the cue table (all films); `truth`: film_id -> truth table.
    Overall time and cue figures are pooled over films (micro); `per_film_mean`
    and `per_film_sd` give the mean and SD of the per-film figures, as the paper reports.
    """
    rows = []
    pooled = {"tp_seconds": 0.0, "found_seconds": 0.0, "true_seconds": 0.0, "n_found": 0, "n_true": 0,
              "n_pairs": 0, "boundary_errors": [], "offset_errors": []}
    for fid in sorted(truth):
        f = found[found["film_id"] == fid] if len(found) else found
        c = film_scores(f, truth[fid], iou)
        for k in pooled:
            pooled[k] = pooled[k] + c[k]
        rows.append({"film_id": fid, "n_true": c["n_true"], "n_found": c["n_found"], "n_pairs": c["n_pairs"],
                     "true_seconds": c["true_seconds"], "found_seconds": c["found_seconds"],
                     "tp_seconds": c["tp_seconds"], **_metrics(c)})
    per = pd.DataFrame(rows)
    overall = {"n_films": len(rows), "n_true": pooled["n_true"], "n_found": pooled["n_found"], **_metrics(pooled)}
    exact = exact_only(found)
    overall["n_found_rendition"] = int(len(found) - len(exact)) if len(found) else 0
    if len(exact) == len(found):  # no rendition rows: the same figures
        ex = {k: overall[k] for k in TIERED}
    else:
        _, ov = evaluate(exact, truth, iou)
        ex = {k: ov[k] for k in TIERED}
    overall.update({f"exact_{k}": v for k, v in ex.items()})
    if len(per):
        for stat, fn in (("per_film_mean", np.nanmean), ("per_film_sd", np.nanstd)):
            overall[stat] = {k: (float(fn(per[k])) if per[k].notna().any() else math.nan)
                             for k in ("time_precision", "time_recall", "cue_precision", "cue_recall")}
    return per, overall


def read_truth(path: str | Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    df["track"] = df["track"].astype(str)
    return df


def plot_film(found: pd.DataFrame, truth: pd.DataFrame, film_id: str, duration: float | None = None):
    """Timeline of true (top) against found (bottom) cues, one colour per track."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tracks = sorted(set(truth["track"].astype(str)) | set(found["track"].astype(str)))
    cmap = plt.get_cmap("tab20")
    colour = {t: cmap(i % 20) for i, t in enumerate(tracks)}
    end = duration or max([1.0] + list(truth["end"]) + list(found["end"]))
    fig, ax = plt.subplots(figsize=(10, 1.9))
    for y, df in ((1, truth), (0, found)):
        for r in df.itertuples(index=False):
            ax.broken_barh([(r.start, r.end - r.start)], (y - 0.35, 0.7), facecolors=colour[str(r.track)],
                           edgecolor="black", linewidth=0.4)
    ax.set_yticks([0, 1], ["found", "true"])
    ax.set_xlim(0, end)
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlabel("film time (s)")
    ax.set_title(f"{film_id}: true vs found cues")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[t]) for t in tracks[:12]]
    if handles:
        ax.legend(handles, tracks[:12], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    return fig
