"""The report builds from a small synthetic run, contains every section, and says what is missing."""

from __future__ import annotations

import json
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from filmscore.errors import FilmscoreError
from filmscore.files import save_figure
from filmscore.reports import crossmodal as cm
from filmscore.reports import importance as imp
from filmscore.reports import inputs, paper
from filmscore.reports.document import Document
from filmscore.reports.report import SECTIONS, build_report, git_info
from tests import reports_synth as synth

NO_GIT = {"commit": "0123456789abcdef", "branch": "main", "dirty": False, "changed": []}


def _png(path):
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    save_figure(fig, path)


@pytest.fixture
def full_run(tmp_path, monkeypatch):
    """Every input of the report, small: manifest, cues (+ truth), evaluations, importance, cross-modal, S2/S3."""
    monkeypatch.chdir(tmp_path)
    n = 12
    ids, labels = synth.film_ids(n), synth.label_sets(n, seed=5)
    synth.write_manifest(tmp_path, ids, labels, video=[i != 3 for i in range(n)])
    cues = synth.write_cues(tmp_path, ids[:-1])  # the last film has no cue
    synth.write_truth(tmp_path / "data", cues[cues.film_id.isin(ids[:4])])
    inputs.CUES_SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    inputs.CUES_SUMMARY.write_text(json.dumps({"overall": {"time": {"precision": 0.991, "recall": 0.962},
                                                           "cue": {"f1": 0.9}}, "median_boundary_error_s": 0.11}))
    pd.DataFrame({"features": ["vggish", "mir"], "model": ["single_attention", "avg"], "P": [0.61, 0.5],
                  "R": [0.7, 0.6], "F1": [0.652, 0.55]}).to_csv(inputs.TABLE4, index=False)
    _png(inputs.S2_FIGURE)
    _png(inputs.S3_FIGURE)
    # importance, from the planted model
    by = dict(zip(ids, labels))
    table = synth.write_mir(tmp_path, cues, by)
    pred = synth.PlantedPredictor(ids)
    bags = inputs.bags_from_table(table, ids, synth.MIR_COLUMNS)
    model_dir = synth.write_predictions(tmp_path, "mir-cue-avg-64", ids, labels, pred.predict_heldout(bags))
    res, info = imp.run(model_dir, synth.GENRES, synth.GROUP_OF.__getitem__, pred, n_repeats=4, seed=0, confidence=0.95)
    imp.write_outputs(res, inputs.IMPORTANCE_DIR, info)
    # cross-modal, from the same predictions
    synth.write_visual(tmp_path, cues, by, set(ids) - {ids[3]})
    r, info = cm.run(model_dir, synth.GENRES, 0.01, 3, 2)
    cm.write_outputs(r, inputs.CROSSMODAL_DIR, synth.GENRES, info, paper.TABLE5)
    return tmp_path, ids


def test_report_contains_every_section_with_the_papers_numbers(full_run):
    root, ids = full_run
    doc = build_report(synth.params(), git=NO_GIT)
    assert doc.headings() == SECTIONS
    md = (root / "reports/report.md").read_text()
    page = (root / "reports/report.html").read_text()
    for s in SECTIONS:
        assert f"## {s}" in md
        assert f">{s}</h2>" in page
    # Table 1 analogue, with the paper's counts beside
    assert "| Horror |" in md and "paper: Films" in md and "| Multi-genre films |" in md
    # cue evaluation (flattened summary.json) and the paper's stamper numbers
    assert "overall.time.precision" in md and "0.991" in md and "precision 0.94" in md
    assert "film11" in md  # the film without cues is named
    # Table 4: ours and the paper's, best in bold
    assert "single_attention" in md and "| VGGish | Single attention | 0.60 | 0.73 | **0.65** |" in md
    # importance: figure, table, ranking, paper findings
    assert "importance/importance.png" in md and "Overall ranking" in md and "Tone drives Horror" in md
    # Table 5 with the paper beside
    assert "paper: Actual" in md and "-0.70" in md and "crossmodal/crossmodal.png" in md
    assert "1 film(s) have no video stream" in md
    # S2/S3 and the timeline figure
    assert "figures/s2_pr_curves.png" in md and "figures/s3_film_pr.png" in md
    timeline = sorted((root / "reports/timeline").glob("*.png"))
    assert [p.name for p in timeline] == ["timeline_01.png", "timeline_02.png"]  # 12 films, 8 per page
    assert "](timeline/timeline_01.png)" in md
    # provenance: revision and every params section
    assert "0123456789abcdef" in md and "films_per_page: 8" in md and "pool: single_attention" in md
    # the HTML is self-contained: every image embedded, none referenced by path
    n_images = md.count("![")
    assert page.count('src="data:image/png;base64,') == n_images == 6
    assert "<strong>0.65</strong>" in page


def test_missing_inputs_are_named_with_the_stage_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ids = synth.film_ids(3)
    synth.write_manifest(tmp_path, ids, [["Action"], ["Drama", "Horror"], ["Comedy"]])
    doc = build_report(synth.params(), git=NO_GIT)
    assert doc.headings() == SECTIONS
    md = (tmp_path / "reports/report.md").read_text()
    for stage in ("cues", "evaluate", "importance", "crossmodal"):
        assert f"Run `dvc repro {stage}`" in md
    assert "| Single-genre films | 2 | 33 |" in md


def test_missing_manifest_is_an_error_naming_validate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FilmscoreError) as e:
        build_report(synth.params(), git=NO_GIT)
    assert "data/manifest.parquet" in e.value.render() and "dvc repro validate" in e.value.render()
    assert not (tmp_path / "reports/report.md").exists()


def test_git_info_reports_revision_and_dirty_state(tmp_path):
    def git(*a):
        subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)

    assert git_info(tmp_path) == {"commit": None, "branch": None, "dirty": None, "changed": []}  # not a repo
    git("init", "-q")
    (tmp_path / "a.txt").write_text("1")
    (tmp_path / "dvc.lock").write_text("x")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "c")
    info = git_info(tmp_path)
    assert len(info["commit"]) == 40 and info["dirty"] is False
    (tmp_path / "dvc.lock").write_text("y")  # DVC rewrites dvc.lock during a run: not a change
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/metrics.json").write_text("{}")
    git("add", "reports")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "m")
    (tmp_path / "reports/metrics.json").write_text('{"a": 1}')  # a pipeline product: not a change either
    assert git_info(tmp_path)["dirty"] is False
    (tmp_path / "a.txt").write_text("2")
    info = git_info(tmp_path)
    assert info["dirty"] is True and info["changed"] == ["a.txt"]


def test_document_escapes_markdown_and_html():
    doc = Document("t")
    doc.table(pd.DataFrame({"film": ["a|b"], "x": [0.12345], "y": [np.nan]}))
    doc.para("<script> **bold** `code`")
    md = doc.to_markdown(".")
    assert "| a\\|b | 0.123 | – |" in md and "|:---|---:|---:|" in md
    page = doc.to_html()
    assert "&lt;script&gt; <strong>bold</strong> <code>code</code>" in page and "<script>" not in page


def test_reports_params_schema_catches_typos_and_bad_values():
    import yaml

    from filmscore.config import validate

    p = yaml.safe_load(open("params.yaml"))
    assert validate(p) == []
    p["reports"]["crossmodal"]["min_film"] = p["reports"]["crossmodal"].pop("min_films")
    p["reports"]["importance"]["level"] = "frames"
    p["reports"]["crossmodal"]["alpha"] = 2.0
    probs = {pr.where: pr for pr in validate(p)}
    assert "reports.crossmodal.min_films" in probs["params.yaml: reports.crossmodal.min_film"].fix
    assert "did you mean 'frame'" in probs["params.yaml: reports.importance.level"].what
    assert "above the maximum" in probs["params.yaml: reports.crossmodal.alpha"].what


def test_report_shows_intervals_sources_units_and_how_to_read(full_run):
    """Table 4 with intervals and paired tests (as the evaluate stage writes them), the audio source
    the features stage recorded, the cross-modal unit, the importance marks, a reading guide per section."""
    root, ids = full_run
    pd.DataFrame({"features": ["mir", "mir"], "level": ["cue", "cue"], "method": ["avg", "single_attention"],
                  "size": [64, 64], "precision": [0.5, 0.6], "recall": [0.6, 0.7], "f1": [0.55, 0.62],
                  "f1_lo": [0.41, 0.5], "f1_hi": [0.66, 0.73], "map": [0.6, 0.65], "map_lo": [0.5, 0.52],
                  "map_hi": [0.7, 0.77], "p_vs_avg": [np.nan, 0.004], "p_vs_random": [0.2, 0.001],
                  "vs_avg": ["", "better"], "vs_random": ["not distinguishable", "better"],
                  "schedule": ["", "steps: 3000 optimiser steps"]}).to_csv(inputs.TABLE4, index=False)
    _png(inputs.TABLE4_FIGURE)
    status = root / "data/features/mir/status.json"
    status.write_text(json.dumps({"status": "ok", "audio": "track"}))
    params = synth.params()
    params["features"] = {"sets": ["mir", "visual"]}
    build_report(params, git=NO_GIT)
    md = (root / "reports/report.md").read_text()
    assert "| 0.550 [0.410, 0.660] |" in md and "| 0.620 [0.500, 0.730] |" in md  # F1 with its interval
    assert "**better** (p 0.004)" in md and "not distinguishable (p 0.2)" in md
    assert "figures/table4.png" in md and "steps: 3000 optimiser steps" in md
    assert "Music features from: mir: **track**" in md
    assert "Cross-modal test unit: **film**" in md and "Unit of the test: **film**" in md
    assert md.count("**How to read this.**") == 3
    s = pd.read_csv(root / "reports/importance/summary.csv")
    zero = s[(s["genre"] == imp.OVERALL) & s["covers_zero"]]["group"].tolist()
    assert zero and f"Overall, intervals containing 0 (not shown to matter): {', '.join(zero)}." in md
    assert "○" in md


def test_schedule_note_names_each_schedule_once_and_sends_nested_detail_to_the_csv():
    """Nine nested models choose nine different epoch mixes: the note names the procedure once (as the
    table's note and the report's line), not once per model."""
    from filmscore.reports.notes import schedule_note

    nested = "nested: epochs chosen per training fold by 3-fold inner CV among [50, 100, 200, 400]"
    t4 = pd.DataFrame({"schedule": [f"{nested}: 100 (1), 400 (29) (folds)", f"{nested}: 200 (30) (folds)",
                                    "", np.nan, "paper: 200 epochs (~400 optimiser steps)"]})
    assert schedule_note(t4) == (f"{nested}; paper: 200 epochs (~400 optimiser steps) "
                                 "(the epochs each model's folds chose: column `schedule` of table4.csv)")
    assert schedule_note(t4.iloc[[4]]) == "paper: 200 epochs (~400 optimiser steps)"
    assert schedule_note(pd.DataFrame({"f1": [0.5]})) == ""
