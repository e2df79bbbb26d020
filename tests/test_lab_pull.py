"""A colleague's `dvc pull` recomputes nothing, on the project's real dvc.yaml (issue 15).

The whole DAG (demo, validate, cues, cues_eval, features, the train and classical
matrix stages, evaluate, importance, crossmodal, report) runs once on a tiny
generated demo (`tiny_demo` in conftest.py); it is pushed to a temporary local
remote; fresh clones then pull (all of it, or only what a reader needs) or check
out from a shared cache, and must be up to date with no stage run: the stages'
own run log (FILMSCORE_RUNLOG, filmscore.stage) says what ran, not only DVC.
The per-film caches (cues.cache, features.cache) are tool caches, not DVC
outputs, so a clone that lacks them is still up to date.
"""

from __future__ import annotations

import grp
import os
import shutil
from pathlib import Path

import pytest
import yaml

from dvcrepo import clone, commit_all, dvc, filmscore, git, run_log, tree_hashes, up_to_date

pytestmark = pytest.mark.slow

#: every stage module of dvc.yaml (the `train` and `classical` matrix stages both run stages/train.py)
STAGES = {"demo", "validate", "cues", "cues_eval", "features", "train", "evaluate", "importance", "crossmodal", "report"}


@pytest.fixture(scope="module")
def pushed(tiny_demo, tmp_path_factory):
    """The tiny demo's repository with a lab remote (a local folder), everything pushed."""
    origin = tiny_demo.origin
    store = tmp_path_factory.mktemp("drive") / "dvc-store"
    store.mkdir()
    filmscore(origin, "lab", "setup", "--remote", str(store))
    commit_all(origin, "lab remote")
    dvc(origin, "push")
    return origin, store


def outputs(repo: Path, *rels: str) -> dict[str, str]:
    return {str(Path(k).relative_to(repo)): v for k, v in tree_hashes(*(repo / r for r in rels)).items()}


def stage_outputs(repo: Path) -> list[str]:
    """Every cached output of every stage in dvc.lock (what a pull fetches)."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return sorted({o["path"] for st in lock["stages"].values() for o in st.get("outs", [])})


def test_the_demo_ran_every_stage_and_left_its_tool_caches_out_of_dvc(tiny_demo):
    ran = run_log(tiny_demo.runlog)
    assert set(ran) == STAGES, ran  # the run log sees every stage (so an empty log after a pull means something)
    lines = tiny_demo.runlog.read_text().splitlines()
    assert "train mir cue avg 64" in lines and "train mir cue simplemi knn" in lines  # both matrix stages
    lock = yaml.safe_load((tiny_demo.origin / "dvc.lock").read_text())
    assert any(s.startswith("train@") for s in lock["stages"]) and any(s.startswith("classical@") for s in lock["stages"])
    # the per-film caches were filled, and are no output of any stage
    assert list((tiny_demo.origin / "data" / "cues_cache").rglob("*.parquet"))
    assert list((tiny_demo.origin / "data" / "features" / "cache").rglob("*.parquet"))
    assert not [p for p in stage_outputs(tiny_demo.origin) if "cache" in p]


def test_fresh_clone_pull_is_up_to_date_and_reproduces_nothing(pushed, tmp_path):
    origin, store = pushed
    colleague = clone(origin, tmp_path / "colleague")
    dvc(colleague, "pull")
    assert not (colleague / "data" / "cues_cache").exists() and not (colleague / "data" / "features" / "cache").exists()
    assert up_to_date(colleague), dvc(colleague, "status").stdout
    log = tmp_path / "runs.log"
    r = dvc(colleague, "repro", extra_env={"FILMSCORE_RUNLOG": str(log)})
    assert run_log(log) == [], f"dvc repro ran stages after a pull:\n{r.stdout}"
    assert git(colleague, "status", "--porcelain").stdout == ""  # dvc.lock unchanged
    assert outputs(colleague, "data", "reports") == {k: v for k, v in outputs(origin, "data", "reports").items()
                                                     if "cache/" not in k and "cues_cache/" not in k}
    check = filmscore(colleague, "lab", "check").stdout
    assert "holds all" in check and check.rstrip().endswith("ok")


def test_partial_pull_gives_a_reader_the_report_and_metrics_only(pushed, tmp_path):
    origin, _ = pushed
    reader = clone(origin, tmp_path / "reader")
    dvc(reader, "pull", "report", "importance", "crossmodal", "cues_eval")  # the targets docs/lab.md names
    for rel in ("reports/report.html", "reports/report.md", "reports/table4.csv", "reports/cues/metrics.json",
                "reports/importance/summary.csv", "reports/crossmodal/table5.csv"):
        assert (reader / rel).is_file(), rel
    assert (reader / "reports" / "report.html").read_bytes() == (origin / "reports" / "report.html").read_bytes()
    # the heavy intermediate data stayed in the remote
    for rel in ("data/demo", "data/features/mir", "data/cues/cues.parquet", "data/manifest.parquet"):
        assert not (reader / rel).exists(), rel
    assert not [p for p in (reader / "data").rglob("*") if p.is_file() and p.name != ".gitignore"]
    assert dvc(reader, "metrics", "show").stdout.count("reports/") >= 2


def test_shared_cache_second_clone_is_up_to_date_after_checkout(pushed, tmp_path):
    origin, _ = pushed
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    group = grp.getgrgid(os.getgid()).gr_name

    def set_up(repo: Path) -> Path:
        filmscore(repo, "lab", "setup", "--cache", str(shared), "--group", group)
        dvc(repo, "config", "--local", "cache.type", "symlink,copy")  # the set-up: cache.shared group
        return repo

    first = set_up(clone(origin, tmp_path / "first"))
    dvc(first, "pull")
    second = set_up(clone(origin, tmp_path / "second"))
    dvc(second, "checkout")  # no remote needed: the objects are in the shared cache
    assert up_to_date(second), dvc(second, "status").stdout
    log = tmp_path / "runs.log"
    dvc(second, "repro", extra_env={"FILMSCORE_RUNLOG": str(log)})
    assert run_log(log) == []
    table = second / "data" / "cues" / "cues.parquet"
    assert table.is_symlink() and shared in table.resolve().parents  # one copy on disk for both clones
    assert outputs(second, "reports") == outputs(first, "reports")


def test_lab_check_names_what_a_remote_lacks_with_its_stage(pushed, tmp_path):
    origin, store = pushed
    clone_dir = clone(origin, tmp_path / "c")
    # a remote that lost one output: named, with the stage that produces it
    partial = tmp_path / "partial-store"
    shutil.copytree(store, partial)
    lock = yaml.safe_load((origin / "dvc.lock").read_text())
    md5 = next(o["md5"] for o in lock["stages"]["features"]["outs"] if o["path"] == "data/features/mir")
    (partial / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    dvc(clone_dir, "remote", "add", "partial", str(partial))
    r = filmscore(clone_dir, "lab", "check", "--remote", "partial", check=False)
    assert r.returncode == 2 and "data/features/mir (stage features)" in r.stderr and "dvc repro features" in r.stderr
    pulled = dvc(clone_dir, "pull", "-r", "partial", check=False)  # DVC's own error, nothing recomputed
    assert pulled.returncode != 0 and "data/features/mir" in pulled.stderr + pulled.stdout
    # a remote holding another dvc.lock's outputs (here: none of this one's)
    other = tmp_path / "other-store"
    other.mkdir()
    (other / "FILMSCORE_REMOTE.txt").write_text((store / "FILMSCORE_REMOTE.txt").read_text())
    dvc(clone_dir, "remote", "add", "other", str(other))
    r = filmscore(clone_dir, "lab", "check", "--remote", "other", check=False)
    assert r.returncode == 2 and "holds none of the" in r.stderr and "another dvc.lock" in r.stderr
