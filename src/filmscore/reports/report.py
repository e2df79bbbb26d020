"""The final report: reports/report.md and a self-contained reports/report.html.

It gathers what the pipeline produced -- corpus summary (Table 1), cue matcher
evaluation and a per-film cue timeline, the Table 4 analogue, permutation
importance (Fig 3), the cross-modal Table 5, the S2/S3 figures -- and shows the
paper's published numbers beside the project's, always labelled "paper". It
ends with the params (from dvc.lock: those each upstream stage last ran with) and
the git revision that produced it.

A missing input never stops the report except the manifest: its section says
what is missing and which stage makes it. (In `dvc repro` every input exists,
since the report stage depends on all of them.)
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..features import sets
from ..files import atomic_dir, save_figure, write_text
from . import crossmodal, paper
from .document import Document
from .importance import OVERALL, summary_markdown_table
from .notes import schedule_note
from .inputs import (CROSSMODAL_DIR, CUES, CUES_SUMMARY, CUES_TRUTH, FEATURES_DIR, IMPORTANCE_DIR, MANIFEST, REPORT_HTML,
                     REPORT_MD, S2_FIGURE, S3_FIGURE, TABLE4, TABLE4_FIGURE, TABLE4_METRICS, TIMELINE_DIR, film_table,
                     require)
from .timeline import read_truth, timeline_figures

log = logging.getLogger(__name__)

SECTIONS = [
    "Corpus (Table 1 analogue)",
    "Cue matching (Score Stamper)",
    "Genre models (Table 4 analogue)",
    "Feature importance (Fig 3 analogue)",
    "Cross-modal analysis (Table 5 analogue)",
    "Supporting figures (S2, S3)",
    "Provenance",
]


# ---------------------------------------------------------------- provenance

PRODUCTS = ("data/", "reports/")

def git_info(root: str | Path = ".") -> dict:
    """Commit, branch and dirty state of the repository at `root` (None where git cannot tell).

    Pipeline products are not counted as changes: dvc.lock and the files
    under data/ and reports/ (DVC rewrites them while the pipeline runs, before
    this stage; metrics kept in git live there). What remains is what a reader
    needs to know: uncommitted code or params.
    """
    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.rstrip("\n") if r.returncode == 0 else None  # porcelain lines start with a space

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "branch": None, "dirty": None, "changed": []}
    status = git("status", "--porcelain", "--untracked-files=no") or ""
    changed = [p for p in (ln[3:] for ln in status.splitlines())
               if p and p != "dvc.lock" and not p.startswith(PRODUCTS)]
    return {"commit": commit, "branch": git("rev-parse", "--abbrev-ref", "HEAD"), "dirty": bool(changed),
            "changed": changed}


def _experiment() -> dict:
    """The DVC experiment this runs in, from the variables `dvc exp run` sets (empty otherwise)."""
    return {k: os.environ[k] for k in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV") if os.environ.get(k)}


# ---------------------------------------------------------------- helpers

def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _flatten(obj, prefix: str = "") -> list[tuple[str, object]]:
    """Scalar leaves of a nested JSON object as (dotted key, value)."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _flatten(v, f"{prefix}{k}.")
    elif isinstance(obj, (int, float, str, bool)) or obj is None:
        out.append((prefix.rstrip("."), obj))
    return out


def _missing(doc: Document, path: Path, stage: str) -> None:
    doc.para(f"Not available: `{path}` is missing. Run `dvc repro {stage}` to produce it.")


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return "–" if not np.isfinite(v) else f"{v:.{digits}f}"
    return str(v)


# ---------------------------------------------------------------- sections

def corpus_section(doc: Document, manifest: pd.DataFrame, genres: list[str]) -> pd.DataFrame:
    doc.heading(SECTIONS[0])
    films = film_table(manifest)
    tracks = manifest[manifest["role"] == "track"]
    n_genre = films["genre_list"].map(len)
    rows = []
    for g in genres:
        n = int(films["genre_list"].map(lambda gs: g in gs).sum())
        rows.append({"Genre": g, "Films": n, "Share": f"{n / max(1, len(films)):.0%}",
                     "paper: Films": paper.TABLE1_FILMS_PER_GENRE.get(g, "–")})
    doc.table(pd.DataFrame(rows), "Films per genre (a film can carry several genres)")
    has_video = int(films["has_video"].fillna(False).astype(bool).sum()) if "has_video" in films else 0
    summary = pd.DataFrame([
        {"": "Films", "this corpus": str(len(films)), "paper": str(paper.TABLE1_TOTAL_FILMS)},
        {"": "Single-genre films", "this corpus": str(int((n_genre == 1).sum())), "paper": str(paper.TABLE1_SINGLE_GENRE)},
        {"": "Multi-genre films", "this corpus": str(int((n_genre > 1).sum())), "paper": str(paper.TABLE1_MULTI_GENRE)},
        {"": "Films with video", "this corpus": str(has_video), "paper": "–"},
        {"": "Hours of film", "this corpus": f"{films['duration'].sum() / 3600:.2f}", "paper": "–"},
        {"": "Soundtrack tracks", "this corpus": str(len(tracks)), "paper": "–"},
        {"": "Hours of soundtrack", "this corpus": f"{tracks['duration'].sum() / 3600:.2f}", "paper": "–"},
    ])
    doc.table(summary, "Corpus summary (paper: its 110-film corpus)")
    return films


def cues_section(doc: Document, films: pd.DataFrame, truth_dir: Path, timeline_dir: Path, films_per_page: int) -> None:
    doc.heading(SECTIONS[1])
    if not CUES.is_file():
        _missing(doc, CUES, "cues")
        return
    cues = pd.read_parquet(CUES)
    n_films_cue = cues["film_id"].nunique() if len(cues) else 0
    music = float((cues["end"] - cues["start"]).sum()) if len(cues) else 0.0
    film_secs = float(films["duration"].sum())
    doc.table(pd.DataFrame([
        {"": "Cues found", "value": str(len(cues))},
        {"": "Films with at least one cue", "value": f"{n_films_cue} of {len(films)}"},
        {"": "Minutes of music found", "value": f"{music / 60:.1f} ({music / max(film_secs, 1e-9):.0%} of film time)"},
        {"": "Distinct tracks used", "value": str(cues[["film_id", "track"]].drop_duplicates().shape[0]) if len(cues) else "0"},
        {"": "Median cue length (s)", "value": f"{float((cues['end'] - cues['start']).median()):.1f}" if len(cues) else "–"},
    ]), "Cue table (data/cues/cues.parquet)")
    if not films.empty and n_films_cue < len(films):
        none = sorted(set(films.index) - set(cues["film_id"]))
        doc.para(f"Films without any cue (they enter the models as empty bags): {', '.join(none[:20])}"
                 f"{' ...' if len(none) > 20 else ''}.")
    m = _read_json(CUES_SUMMARY)
    if m is None:
        doc.para(f"No cue matcher evaluation (`{CUES_SUMMARY}`): it needs ground-truth cues in the corpus "
                 "(`cues_truth/<film_id>.csv`).")
    else:
        flat = [(k, v) for k, v in _flatten(m)]
        doc.table(pd.DataFrame({"metric": [k for k, _ in flat], "value": [_fmt(v) for _, v in flat]}),
                  f"Cue matcher evaluation against ground truth ({CUES_SUMMARY})")
    s = paper.STAMPER
    doc.para(f"**Paper** (Dejavu on 5 s windows, {s['films']} hand-annotated films, {s['cues']} cues, {s['minutes']} min): "
             f"precision {s['precision']:.2f} (SD {s['precision_sd']:.3f}), recall {s['recall']:.2f} (SD {s['recall_sd']:.3f}).")
    truth = read_truth(truth_dir, list(films.index))
    figs = timeline_figures(cues, films["duration"].astype(float), truth, films_per_page=films_per_page)
    with atomic_dir(timeline_dir) as tmp:
        names = []
        for i, fig in enumerate(figs, 1):
            name = f"timeline_{i:02d}.png"
            save_figure(fig, tmp / name)
            names.append(name)
    for i, name in enumerate(names, 1):
        cap = "Per-film cue timeline" + (" (upper band: found; lower hatched band: ground truth)" if truth else "")
        if len(names) > 1:
            cap += f", page {i} of {len(names)}"
        doc.image(timeline_dir / name, cap)


HOW_TO_READ = {
    "models": ("Each row is one configuration, scored on films it was not trained on. The interval [lo, hi] "
               "says where its macro F1 (mAP) could as well have landed with another draw of as many films; with "
               "tens of films it is wide. mAP on few films runs high (AP's small-sample bias) and its interval "
               "covered the population value in about 84-89 % of simulated corpora, not 95 % (docs/models.md). "
               "The random guess is its expectation, not one lucky draw. Supported: a difference marked better / worse by the paired test (same "
               "resampled films, `vs avg`, `vs random`). Not supported: ranking rows whose difference is 'not "
               "distinguishable', or calling a row the best because its point value is highest. The paper's "
               "numbers come from another corpus: compare patterns, not values."),
    "importance": ("A bar is how much macro F1 (per genre: F1) drops when a feature group is scrambled, relative "
                   "to the unscrambled model. Supported: a group whose interval lies above 0 is used by this model "
                   "for that genre. Not supported: that a group whose interval contains 0 (hatched; ○ in the table) "
                   "matters, an order between groups whose intervals overlap, or that the music itself carries the "
                   "genre in that group (this is one model's reliance, and correlated groups share credit)."),
    "crossmodal": ("A cell is how much brighter (contrast: more contrasted) the music-carrying clips of films with "
                   "the genre are than those of the other films, x 10. Supported: a bold cell, significant after "
                   "Bonferroni with the film as the unit (film or mixed test). Not supported: any plain or † cell, "
                   "a causal reading (the picture and the music are both chosen for the genre), or significance "
                   "from the clip-level test, which treats a film's clips as independent."),
}


def feature_sources(sets) -> dict[str, str]:
    """Feature set -> audio source recorded by the features stage (`audio` in data/features/<set>/status.json)."""
    out = {}
    for fs in sets:
        st = _read_json(FEATURES_DIR / fs / "status.json")
        if st is not None and st.get("status", "ok") == "ok" and fs != "visual":
            out[fs] = str(st.get("audio") or "not recorded")
    return out


def _interval_text(v, lo, hi) -> str:
    if not np.isfinite(v):
        return "–"
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) and np.isfinite(hi) else f"{v:.3f}"


def _verdict(v, p) -> str:
    v = v if isinstance(v, str) else ""
    if not np.isfinite(p):
        return v if v and v != "unavailable" else "–"
    return f"**{v}** (p {p:.2g})" if v in ("better", "worse") else f"{v} (p {p:.2g})"


def table4_view(t4: pd.DataFrame) -> pd.DataFrame:
    """Table 4 with its intervals and paired tests as readable cells (the columns inferred from the CSV)."""
    name = "model" if "model" in t4 else "method"  # the readable model name where the table has it
    out = t4[[c for c in ("features", "level", name, "size") if c in t4]].copy()
    if "features" in out:  # the registry's labels: musicnn rows say they stand for the paper's learned embedding
        out["features"] = out["features"].map(lambda v: sets.label(str(v)))
    for c in ("precision", "recall"):
        if c in t4:
            out[c[0].upper()] = t4[c].astype(float)
    num = lambda c: t4[c].astype(float) if c in t4 else pd.Series(np.nan, index=t4.index)  # noqa: E731
    out["F1 [lo, hi]"] = [_interval_text(*v) for v in zip(num("f1"), num("f1_lo"), num("f1_hi"))]
    out["mAP [lo, hi]"] = [_interval_text(*v) for v in zip(num("map"), num("map_lo"), num("map_hi"))]
    for k in ("vs_avg", "vs_random"):
        if k in t4:
            out[k.replace("_", " ")] = [_verdict(v, p) for v, p in zip(t4[k], num(f"p_{k}"))]
    if "paper_features" in t4:  # the paper's F1 for the same row (musicnn: the paper's VGGish)
        out["paper F1"] = [f"{f1:.2f} ({sets.label(str(ps))})" if np.isfinite(f1) and isinstance(ps, str) and ps else "–"
                           for f1, ps in zip(num("paper_f1"), t4["paper_features"])]
    return out


def models_section(doc: Document, params: dict) -> None:
    doc.heading(SECTIONS[2])
    if TABLE4.is_file():
        t4 = pd.read_csv(TABLE4)
        if "f1_lo" in t4:
            # the level the evaluate stage used, as it records it (no params key of this stage)
            conf = (_read_json(TABLE4_METRICS) or {}).get("confidence", 0.95)
            doc.table(table4_view(t4), f"This project: held-out macro P / R / F1 and mAP with {float(conf):.0%} "
                      f"bootstrap intervals over films; paired tests against average pooling and the random guess "
                      f"({TABLE4})")
            notes = sorted({str(v) for v in t4.get("interval_note", pd.Series(dtype=str)).dropna() if str(v)})
            if notes:
                doc.para("Intervals and tests: " + "; ".join(notes) + ".")
        else:
            doc.table(t4, f"This project: leave-one-out results ({TABLE4})")
        sched = schedule_note(t4)
        doc.para("Neural training schedule: " + (sched or "not recorded in the table") + ".")
    else:
        _missing(doc, TABLE4, "evaluate")
    if TABLE4_FIGURE.is_file():
        doc.image(TABLE4_FIGURE, "Macro F1 and mAP of every configuration with bootstrap intervals over films")
    doc.para("**How to read this.** " + HOW_TO_READ["models"])
    p4 = pd.DataFrame(paper.TABLE4, columns=["features", "model", "P", "R", "F1"])
    for c in ("P", "R", "F1"):
        p4[c] = p4[c].map(lambda v: f"{v:.2f}")
    best = (p4["features"] == paper.TABLE4_BEST[0]) & (p4["model"] == paper.TABLE4_BEST[1])
    p4.loc[best, "F1"] = "**" + p4.loc[best, "F1"] + "**"
    doc.table(p4, "Paper: Table 4 (macro P / R / F1, cue level, LOOCV, 110 films; best in bold)")


def importance_section(doc: Document) -> None:
    doc.heading(SECTIONS[3])
    summary_path = IMPORTANCE_DIR / "summary.csv"
    if not summary_path.is_file():
        _missing(doc, summary_path, "importance")
    else:
        info = _read_json(IMPORTANCE_DIR / "info.json") or {}
        s = pd.read_csv(summary_path)
        n = int(s["n_repeats"].iloc[0]) if len(s) else 0
        f1 = s.drop_duplicates("genre").set_index("genre")["f1_orig"]
        kind = str(s["interval"].iloc[0]) if "interval" in s and len(s) else "permutations only"
        how = ("a bootstrap over the films, each resample's pool permuted afresh and predicted again, spread "
               "matched to the mean of the repeats" if kind == "films + permutations" else
               "a t-interval over the repeats only (the films fixed: " + (info.get("interval_note") or "no bootstrap")
               + ")")
        doc.para(f"Model `{info.get('model', '?')}`, each feature group permuted {n} times (every feature of the group "
                 f"independently, across all held-out instances), films predicted by their own fold models. "
                 f"Score s = 1 - F1_perm / F1_orig; mean with {float(s['confidence'].iloc[0]):.0%} interval from {how}. "
                 f"Unpermuted macro F1: {_fmt(f1.get(OVERALL))}.")
        doc.image(IMPORTANCE_DIR / "importance.png", "Permutation feature importance by genre and feature group")
        doc.table(summary_markdown_table(s), "Mean importance [interval] per group (rows) and genre (columns); "
                  "bold: interval above 0; ○: interval contains 0 (not shown to matter)")
        ov = s[s["genre"] == OVERALL].sort_values("mean", ascending=False)
        ranking = ", ".join(f"{r.group} ({_fmt(r.mean)})" for r in ov.itertuples() if np.isfinite(r.mean))
        doc.para(f"This project, Overall ranking: {ranking or 'undefined (F1 = 0)'}.")
        top = []
        for g, sub in s[s["genre"] != OVERALL].groupby("genre", sort=False):
            sub = sub.dropna(subset=["mean"])
            if len(sub):
                top.append(f"{g}: {sub.loc[sub['mean'].idxmax(), 'group']}")
        if top:
            doc.para("Highest group per genre: " + "; ".join(top) + ".")
        undefined = s[s["note"].fillna("").str.startswith("F1 without")]["genre"].unique().tolist()
        if undefined:
            doc.para(f"Undefined (the model never predicts them correctly, F1 = 0): {', '.join(undefined)}.")
        if "covers_zero" in s:
            ov0 = ov[ov["covers_zero"].astype(bool)]["group"].tolist()
            doc.para("Overall, intervals containing 0 (not shown to matter): " + (", ".join(ov0) or "none") + ".")
        doc.para("**How to read this.** " + HOW_TO_READ["importance"])
    doc.para(f"**Paper** (Fig 3, {paper.FIG3_MODEL}; values given only as a figure):")
    doc.bullets(paper.FIG3_FINDINGS)


def crossmodal_section(doc: Document, genres: list[str]) -> None:
    doc.heading(SECTIONS[4])
    table_path = CROSSMODAL_DIR / "table5.csv"
    if not table_path.is_file():
        _missing(doc, table_path, "crossmodal")
    else:
        info = _read_json(CROSSMODAL_DIR / "info.json") or {}
        unit = info.get("unit", "clip")  # outputs written before the unit existed used the clip-level test
        doc.para(f"Median brightness and contrast of the clips that carry cues (a clip's value: the median of its 1 Hz "
                 f"frames). Label sources: true labels, the predictions of model `{info.get('model', '?')}`, and its "
                 f"false positives. Unit of the test: **{unit}** ({crossmodal.UNIT_TEXT[unit]}); two-sided, "
                 f"Bonferroni within each feature and source (alpha = {info.get('alpha', '?')}, m = {len(genres)}); "
                 f"testable with at least {info.get('min_films', '?')} films and {info.get('min_clips', '?')} clips "
                 "per side.")
        doc.bullets(info.get("notes", []))
        if info.get("status", "ok") == "ok":
            t = pd.read_csv(table_path)
            t["significant"] = t["significant"].astype(bool)
            t["testable"] = t["testable"].astype(bool)
            for feat, tf in crossmodal.table5_frames(t, genres, paper.TABLE5).items():
                doc.table(tf, f"{feat.capitalize()}: this project (left) and the paper (columns 'paper: ...')")
            doc.para(crossmodal.legend(info.get("unit", "film")) + " The paper's significance marks are lost in its text.")
        doc.image(CROSSMODAL_DIR / "crossmodal.png", "Cross-modal differences by genre and label source "
                  "(diamonds: paper, Actual)")
        doc.para("**How to read this.** " + HOW_TO_READ["crossmodal"])
    doc.para(f"**Paper** label sources from {paper.TABLE5_MODEL}; test: {paper.TABLE5_TEST}.")


def figures_section(doc: Document) -> None:
    doc.heading(SECTIONS[5])
    for path, cap, stage in ((S2_FIGURE, "S2: precision-recall curves of each feature set at the headline configuration (model.*)", "evaluate"),
                             (S3_FIGURE, "S3: per-film precision vs recall, MIR and VGGish average-pooling models",
                              "evaluate")):
        if path.is_file():
            doc.image(path, cap)
        else:
            _missing(doc, path, stage)


def provenance_section(doc: Document, params: dict, git: dict) -> None:
    doc.heading(SECTIONS[6])
    if git.get("commit"):
        state = "dirty: uncommitted changes to " + ", ".join(f"`{c}`" for c in git["changed"][:10]) \
            if git["dirty"] else "clean"
        doc.para(f"Git revision `{git['commit']}` on branch `{git['branch']}` ({state}).")
    else:
        doc.para("Git revision: unknown (not run inside a git repository).")
    exp = _experiment()
    if exp:
        doc.para("DVC experiment: " + ", ".join(f"{k} = `{v}`" for k, v in exp.items()) + ".")
    used = {**lock_params(), **_flat_params(params)}
    doc.para("Parameters that produced these results: each key as the stage that reads it last ran with it "
             "(dvc.lock), and this stage's own:")
    doc.code(yaml.safe_dump(dict(sorted(used.items())), sort_keys=False, allow_unicode=True), "yaml")


def lock_params(lock: str | Path = "dvc.lock") -> dict:
    """{params key: value} of every stage in dvc.lock: what the results upstream were computed with.

    DVC writes a stage's entry when the stage finishes, so inside `dvc repro` every stage upstream
    of the report is current; the report need not depend on params it only prints."""
    path = Path(lock)
    if not path.is_file():
        return {}
    stages = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("stages", {}) or {}
    out: dict = {}
    for entry in stages.values():
        out.update((entry.get("params") or {}).get("params.yaml") or {})
    return out


def _flat_params(params: dict, prefix: str = "") -> dict:
    """The result params of a (nested) params dict by dotted key; runtime keys are left out."""
    from ..config import leaf_specs

    runtime = {k for k, s in leaf_specs().items() if s.runtime}
    out: dict = {}
    for k, v in params.items():
        if isinstance(v, dict):
            out.update(_flat_params(v, f"{prefix}{k}."))
        elif f"{prefix}{k}" not in runtime:
            out[f"{prefix}{k}"] = v
    return out


# ---------------------------------------------------------------- the builder

def build_report(params: dict, md_path: Path = REPORT_MD, html_path: Path = REPORT_HTML,
                 timeline_dir: Path = TIMELINE_DIR, git: dict | None = None) -> Document:
    """Build the report from the outputs under the current directory and write both renderings."""
    genres = list(params["corpus"]["genres"])
    manifest = pd.read_parquet(require(MANIFEST, "validate", "the corpus manifest"))
    git = git_info() if git is None else git
    rev = (git.get("commit") or "unknown")[:10] + (" (dirty)" if git.get("dirty") else "")
    doc = Document("filmscore report")
    doc.para(f"Corpus `{params['corpus']['path']}`, genres {', '.join(genres)}; revision `{rev}`. "
             f"Numbers labelled **paper** are the published results of {paper.CITATION} on its own 110 films, "
             "shown for comparison only.")
    sources = feature_sources(params.get("features", {}).get("sets", []))
    cm_info = _read_json(CROSSMODAL_DIR / "info.json") or {}
    doc.bullets([
        "Music features from: " + (", ".join(f"{k}: **{v}**" for k, v in sources.items()) or "no feature set found")
        + " (`track`: the soundtrack track at the cue's offset; `film`: the film's mix at the cue's times, "
          "dialogue and effects included).",
        f"Cross-modal test unit: **{cm_info.get('unit', params.get('reports', {}).get('crossmodal', {}).get('unit', '?'))}**.",
    ])
    films = corpus_section(doc, manifest, genres)
    cues_section(doc, films, CUES_TRUTH, Path(timeline_dir),
                 int(params["reports"]["timeline"]["films_per_page"]))
    models_section(doc, params)
    importance_section(doc)
    crossmodal_section(doc, genres)
    figures_section(doc)
    provenance_section(doc, params, git)
    md, page = doc.to_markdown(Path(md_path).parent), doc.to_html()  # render both before writing either
    write_text(md_path, md)
    write_text(html_path, page)
    log.info("report written: %s and %s", md_path, html_path)
    return doc
