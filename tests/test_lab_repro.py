"""Reproducibility: two fresh clones that run `dvc repro` on their own get the same dvc.lock
hashes and the same metrics; a changed seed changes them (so the comparison can fail).

`check_two_clones` takes any committed pipeline; the toy one runs now, and the project's own
DAG on a shrunk demo corpus runs as soon as the demo generator is merged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvcrepo import clone, commit_all, dvc, init_repo, lock_hashes, project_repo, toy_pipeline

pytestmark = pytest.mark.slow


def check_two_clones(origin: Path, tmp_path: Path, targets: list[str] | None = None,
                     metrics: list[str] = ("metrics.json",)) -> dict:
    """Clone `origin` twice, reproduce `targets` (all when None) in each, compare; return the lock hashes."""
    runs = []
    for name in ("a", "b"):
        c = clone(origin, tmp_path / f"clone-{name}")
        assert not (c / "dvc.lock").exists(), "the origin must not carry results: each clone computes its own"
        dvc(c, "repro", "-q", *(targets or []))
        runs.append((c, lock_hashes(c), {m: json.loads((c / m).read_text()) for m in metrics}))
    (a, lock_a, met_a), (b, lock_b, met_b) = runs
    assert lock_a == lock_b
    assert met_a == met_b
    return lock_a


def test_toy_pipeline_two_clones_same_hashes_and_metrics(tmp_path):
    origin = toy_pipeline(init_repo(tmp_path / "origin"), seed=3)
    commit_all(origin, "pipeline, no results")
    lock = check_two_clones(origin, tmp_path)
    assert set(lock) == {"gen", "stats"}
    assert all(v for h in lock.values() for v in h.values())  # every dep and out hashed

    # the comparison sees a change: another seed gives other hashes and metrics
    other = clone(origin, tmp_path / "clone-seed4")
    (other / "params.yaml").write_text("seed: 4\n")
    dvc(other, "repro", "-q")
    changed = lock_hashes(other)
    assert changed["gen"]["outs:data/sample.txt"] != lock["gen"]["outs:data/sample.txt"]
    assert changed["gen"]["outs:data/parts"] != lock["gen"]["outs:data/parts"]
    assert changed["gen"]["deps:gen.py"] == lock["gen"]["deps:gen.py"]
    assert json.loads((other / "metrics.json").read_text()) != json.loads((tmp_path / "clone-a" / "metrics.json").read_text())


# The project's whole DAG (DEMO_TARGETS None) on a small demo: DEMO_PARAMS shrinks the demo,
# the training epochs and the grid's pools for the test; DEMO_METRICS are compared too.
DEMO_TARGETS: list[str] | None = None
DEMO_METRICS: list[str] = ["reports/cues/metrics.json", "reports/table4.json"]  # the rest: outs, hashed in dvc.lock
DEMO_PARAMS = {"demo": {"n_films": 3, "film_seconds": 30, "min_tracks": 2, "max_tracks": 2, "track_seconds": [10, 20],
                        "cues_per_film": [1, 2], "cue_seconds": [6, 12], "video_size": [32, 18], "video_fps": 4},
               "train": {"epochs": 3}, "grid": {"pools": ["avg", "multi_attention"]}}


def _demo_merged() -> bool:
    import filmscore.demo

    return hasattr(filmscore.demo, "generate_demo")


@pytest.mark.skipif(not _demo_merged(), reason="the demo generator (filmscore.demo.generate_demo) is not merged yet")
def test_project_dag_on_the_demo_two_clones_same_hashes(tmp_path):
    origin = project_repo(tmp_path / "origin", DEMO_PARAMS)
    commit_all(origin, "filmscore pipeline, no results")
    lock = check_two_clones(origin, tmp_path, DEMO_TARGETS, DEMO_METRICS)
    assert "demo" in lock and "validate" in lock
