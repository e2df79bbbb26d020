"""The train/evaluate stages on the parquet contracts, and the DVC grid (matrix stages,
headline switch that retrains nothing, params errors)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from filmscore.config import load_params, validate
from filmscore.errors import FilmscoreError
from filmscore.mil.grid import load_cell, run_cell
from filmscore.mil.report import evaluate

ROOT = Path(__file__).resolve().parents[1]
GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]


def write_inputs(root: Path, n_films: int = 10, seed: int = 0) -> list[str]:
    """data/manifest.parquet and data/features/{vggish (ok), mir (skipped)} as the stages write them."""
    rng = np.random.default_rng(seed)
    ids = [f"film{i:02d}" for i in range(n_films)]
    labels = [GENRES[i % 6] + ("|" + GENRES[(i + 2) % 6] if i % 3 == 0 else "") for i in range(n_films)]
    rows = [{"film_id": f, "role": "film", "track": None, "genres": g} for f, g in zip(ids, labels)]
    rows += [{"film_id": f, "role": "track", "track": "t1", "genres": g} for f, g in zip(ids, labels)]
    (root / "data").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(root / "data" / "manifest.parquet")
    cues, frames = [], []
    for i, f in enumerate(ids):
        if i == 4:
            continue  # a film without any cue: an empty bag
        for c in range(int(rng.integers(2, 6))):
            feat = rng.normal(size=8) + (i % 6)
            cue_id = f"{f}:{c:04d}"
            cues.append({"film_id": f, "cue_id": cue_id, "start": 10.0 * c, "end": 10.0 * c + 5,
                         **{f"emb{k}": np.float32(v) for k, v in enumerate(feat)}})
            for t in range(3):
                frames.append({"film_id": f, "cue_id": cue_id, "t": 10.0 * c + t,
                               **{f"emb{k}": np.float32(v + rng.normal() * 0.1) for k, v in enumerate(feat)}})
    v = root / "data" / "features" / "vggish"
    v.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(cues).to_parquet(v / "cues.parquet")
    pd.DataFrame(frames).to_parquet(v / "frames.parquet")
    (v / "status.json").write_text('{"status": "ok"}')
    m = root / "data" / "features" / "mir"
    m.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"film_id": pd.Series(dtype=str), "cue_id": pd.Series(dtype=str)}).to_parquet(m / "cues.parquet")
    pd.DataFrame({"film_id": pd.Series(dtype=str), "cue_id": pd.Series(dtype=str)}).to_parquet(m / "frames.parquet")
    (m / "status.json").write_text('{"status": "skipped", "reason": "essentia not installed: pip install essentia"}')
    return ids


def small_params(**grid) -> dict:
    p = load_params(ROOT / "params.yaml")
    p["train"].update(schedule="paper", epochs=2, batch_size=4)
    # max before avg: the paired test against avg pooling must not depend on the grid order
    p["grid"].update(sets=["vggish", "mir"], levels=["cue"], pools=["max", "avg"], hidden=[4],
                     classical=["simplemi"], bases=["knn"], **grid)
    p["model"].update(set="vggish", level="cue", pool="avg", hidden=4)
    p["evaluate"].update(random_draws=20, bootstrap=200)
    return p


def test_cells_and_evaluate_on_parquet_contract(tmp_path):
    ids = write_inputs(tmp_path)
    p = small_params()
    kw = dict(out_root=tmp_path / "models", features_root=tmp_path / "data/features",
              manifest=tmp_path / "data/manifest.parquet")
    for fs in ("vggish", "mir"):
        for method, size in (("avg", 4), ("max", 4), ("simplemi", "knn")):
            run_cell(fs, "cue", method, size, p, **kw)
    cell = tmp_path / "models" / "vggish-cue-avg-4"
    preds = pd.read_parquet(cell / "predictions.parquet")
    assert list(preds.columns) == ["film_id", "fold", "genre", "prob", "pred", "truth"]
    assert set(preds.film_id) == set(ids) and len(preds) == len(ids) * 6  # the empty-bag film is kept
    m = json.loads((cell / "metrics.json").read_text())
    assert m["status"] == "ok" and m["n_empty_bags"] == 1 and m["n_folds"] == len(ids)
    # how it was trained, for the report: the paper's 2 epochs here, every fold
    assert m["training"]["schedule"] == "paper" and m["training"]["epochs"] == [2] * len(ids)
    assert 0 <= m["macro"]["f1"] <= 1
    # the fold models come back and re-predict the held-out films
    res, bags, cols = load_cell("vggish", "cue", "avg", 4, models_root=tmp_path / "models",
                                features_root=tmp_path / "data/features")
    assert cols == [f"emb{k}" for k in range(8)] and len(bags[4]) == 0
    np.testing.assert_allclose(res.predict_heldout(bags), res.prob, atol=1e-6)
    # a skipped feature set gives a skipped cell, not a crash
    sk = json.loads((tmp_path / "models" / "mir-cue-avg-4" / "metrics.json").read_text())
    assert sk["status"] == "skipped" and "essentia" in sk["reason"]

    out = evaluate(p, models_root=tmp_path / "models", reports=tmp_path / "reports",
                   manifest=tmp_path / "data/manifest.parquet")
    # DVC metrics: each grid cell's macro F1 and mAP with their intervals, the headline model's; nothing else
    assert set(out) == {"headline", "cells"} and set(out["cells"]) == {"vggish-cue-avg-4", "vggish-cue-max-4",
                                                                       "vggish-cue-simplemi-knn"}
    assert out["headline"] == out["cells"]["vggish-cue-avg-4"]
    assert set(out["headline"]) == {"f1", "f1_lo", "f1_hi", "map", "map_lo", "map_hi"}
    table = (tmp_path / "reports" / "table4.md").read_text()
    assert "Random guess" in table and "Plurality label" in table and "**skipped**: essentia not installed" in table
    assert "no row is chosen as a method's best" in table
    t4 = pd.read_csv(tmp_path / "reports" / "table4.csv")
    assert {"precision", "recall", "f1", "map", "p", "paper_f1", "f1_lo", "f1_hi", "map_lo", "map_hi", "p_vs_avg",
            "p_vs_random"} <= set(t4.columns)
    assert t4.loc[t4.method == "random", "paper_f1"].item() == 0.32
    ok = t4[t4.status == "ok"]
    assert ((ok.f1_lo <= ok.f1 + 1e-9) & (ok.f1 <= ok.f1_hi + 1e-9)).all()  # 10 films: intervals available
    assert ok.loc[ok.method == "max", "p_vs_avg"].between(0, 1).all()
    # the random row's mAP is the expected AP of a random ranking of the films: sklearn's AP averaged over
    # random scores (no ties), and its interval holds it
    from sklearn.metrics import average_precision_score

    Y = np.array([[GENRES[i % 6] == g or (i % 3 == 0 and GENRES[(i + 2) % 6] == g) for g in GENRES]
                  for i in range(len(ids))], dtype=int)
    rng = np.random.default_rng(0)
    mc = np.mean([np.mean([average_precision_score(Y[:, j], rng.random(len(ids))) for j in range(6)])
                  for _ in range(2000)])
    rnd = t4[t4.method == "random"].iloc[0]
    assert rnd["map"] == pytest.approx(mc, abs=0.006)  # MC SE ~0.002
    assert rnd["map_lo"] <= rnd["map"] <= rnd["map_hi"]
    assert ok.loc[ok.method == "avg", "p_vs_avg"].isna().all() and ok.loc[ok.method == "avg", "p_vs_random"].notna().all()
    for f in ("figures/s2_pr_curves.png", "figures/s3_film_pr.png", "figures/table4.png", "plots/s2_pr/vggish.csv",
              "plots/s3_film_pr/vggish.csv", "table4_all.csv", "table4.json"):
        assert (tmp_path / "reports" / f).is_file(), f


def test_frame_level_and_bad_feature_values(tmp_path):
    write_inputs(tmp_path)
    p = small_params()
    kw = dict(out_root=tmp_path / "models", features_root=tmp_path / "data/features",
              manifest=tmp_path / "data/manifest.parquet")
    m = run_cell("vggish", "frame", "simplemi", "knn", p, **kw)
    assert m["n_instances"] > 3 * 10
    f = tmp_path / "data/features/vggish/cues.parquet"
    df = pd.read_parquet(f)
    df.loc[3, "emb5"] = np.nan
    df.to_parquet(f)
    with pytest.raises(FilmscoreError) as e:
        run_cell("vggish", "cue", "avg", 4, p, **kw)
    assert f"film {df.loc[3, 'film_id']}" in str(e.value) and "'emb5'" in str(e.value)


def test_params_out_of_range():
    p = load_params(ROOT / "params.yaml")
    for section, key, value, needle in (
            ("model", "pool", "avrg", "did you mean 'avg'"), ("train", "lr", -1.0, "below the minimum"),
            ("model", "hidden", 12, "not in grid.hidden"), ("train", "attend_layers", [2, 4], "exceed train.layers"),
            ("cv", "folds", 1, "cv.folds"), ("grid", "sets", ["vggish", "audio"], "grid.sets[1]"),
            ("train", "attention", "tanh", "sigmoid"), ("train", "precision", "fp16", "bf16-mixed")):
        q = json.loads(json.dumps(p))
        q[section][key] = value
        probs = validate(q)
        assert any(needle in str(pr) for pr in probs), (section, key, [str(x) for x in probs])
    assert validate(p) == []


# ---------------------------------------------------------------- DVC

def _dvc_repo(tmp_path: Path) -> tuple[Path, dict]:
    repo = tmp_path / "repo"
    repo.mkdir()
    for d in ("src", "stages"):
        shutil.copytree(ROOT / d, repo / d, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    spec["stages"] = {k: v for k, v in spec["stages"].items() if k in ("train", "classical", "evaluate")}
    (repo / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"].update(schedule="paper", epochs=2, batch_size=4)
    params["grid"].update(sets=["vggish"], pools=["avg", "max"], hidden=[4], classical=["simplemi"], bases=["knn"])
    params["model"].update(set="vggish", pool="avg", hidden=4)
    params["evaluate"].update(random_draws=10, bootstrap=100)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_inputs(repo, n_films=8)
    (repo / ".gitignore").write_text("__pycache__/\n")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "FILMSCORE_NO_PROGRESS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": f"{repo / 'src'}{os.pathsep}{repo}", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True)
    return repo, env


def _run(repo, env, *args, check=True):
    r = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env=env, capture_output=True, text=True)
    if check and r.returncode:
        raise AssertionError(r.stdout + r.stderr)
    return r


def test_dvc_grid_headline_switch_and_params_error(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo, env = _dvc_repo(tmp_path)
    names = _run(repo, env, "stage", "list", "--name-only").stdout.split()
    assert {"train@vggish-cue-avg-4", "train@vggish-cue-max-4", "classical@vggish-cue-simplemi-knn",
            "evaluate"} <= set(names)
    _run(repo, env, "repro")
    assert (repo / "reports" / "table4.md").is_file()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    tracked = set(lock["stages"]["train@vggish-cue-avg-4"]["params"]["params.yaml"])
    assert {"corpus.genres", "cv.folds", "cv.seed", "train.epochs", "train.attention"} <= tracked and "train.jobs" not in tracked
    subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "commit", "-qm", "grid"], cwd=repo, env=env, check=True)
    r = _run(repo, env, "exp", "run", "-S", "model.pool=max")
    out = r.stdout + r.stderr
    assert "Running stage 'evaluate'" in out and "Running stage 'train@" not in out, out
    metrics = json.loads((repo / "reports" / "table4.json").read_text())
    # 8 films: intervals unavailable (fewer than 10), the point values still there
    assert metrics["headline"] == {k: v for k, v in metrics["cells"]["vggish-cue-max-4"].items()}
    assert metrics["headline"]["f1"] is not None and metrics["headline"]["f1_lo"] is None
    bad = _run(repo, env, "exp", "run", "-S", "model.hidden=128", check=False)
    assert bad.returncode != 0 and "not in grid.hidden" in bad.stdout + bad.stderr


def test_dvc_stages_list_every_param_they_read():
    """Each train.* / classical.* key (but the process count) is a DVC param of its stage, so a
    change re-runs exactly the cells it touches."""
    from filmscore.config import CLASSICAL, TRAIN

    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    train = set(spec["train"]["params"])
    classical = set(spec["classical"]["params"])
    assert {f"train.{k}" for k in TRAIN if k != "jobs"} | {"cv.folds", "cv.seed", "corpus.genres"} == train
    assert {f"classical.{k}" for k in CLASSICAL if k != "jobs"} | {"cv.folds", "cv.seed", "corpus.genres"} == classical
    from filmscore.config import EVALUATE, GRID, MODEL

    keys = {f"model.{k}" for k in MODEL} | {f"grid.{k}" for k in GRID} | {f"evaluate.{k}" for k in EVALUATE}
    assert keys | {"cv.folds", "cv.seed", "corpus.genres"} == set(spec["evaluate"]["params"])
