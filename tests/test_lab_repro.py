"""Reproducibility: two fresh clones that run `dvc repro` on their own get the same dvc.lock
hashes and the same metrics; a changed seed changes them (so the comparison can fail).

`check_two_clones` takes any committed pipeline; the toy one runs now, and the project's own
DAG on a shrunk demo corpus runs as soon as the demo generator is merged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dvcrepo import clone, commit_all, dvc, init_repo, lock_hashes, project_repo, toy_pipeline, up_to_date

from filmscore.stage import TRACE_ENV

pytestmark = pytest.mark.slow


def check_two_clones(origin: Path, tmp_path: Path, targets: list[str] | None = None,
                     metrics: list[str] = ("metrics.json",), extra_env: dict | None = None) -> dict:
    """Clone `origin` twice, reproduce `targets` (all when None) in each, compare; return the lock hashes."""
    runs = []
    for name in ("a", "b"):
        c = clone(origin, tmp_path / f"clone-{name}")
        assert not (c / "dvc.lock").exists(), "the origin must not carry results: each clone computes its own"
        dvc(c, "repro", "-q", *(targets or []), extra_env=extra_env)
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
    trace = tmp_path / "params-read"
    lock = check_two_clones(origin, tmp_path, DEMO_TARGETS, DEMO_METRICS, extra_env={TRACE_ENV: str(trace)})
    assert "demo" in lock and "validate" in lock

    # every stage read every params key its dvc.yaml entry lists (the union over a matrix's items; reading an
    # unlisted key already failed the run): dvc.yaml's params are exactly what the code reads
    listed: dict[str, set] = {}
    read: dict[str, set] = {}
    for f in trace.glob("*.json"):
        t = json.loads(f.read_text())
        stage = t["stage"].split("@")[0]
        listed.setdefault(stage, set()).update(t["listed"])
        read.setdefault(stage, set()).update(t["read"])
    stages = yaml.safe_load((origin / "dvc.yaml").read_text())["stages"]
    assert set(listed) == set(stages)
    assert {s: sorted(listed[s] - read[s]) for s in stages} == {s: [] for s in stages}

    # how the work runs (processes, threads, batch sizes, device) changes no stage's DVC status
    a = tmp_path / "clone-a"
    p = yaml.safe_load((a / "params.yaml").read_text())
    for section in (p["corpus"], p["demo"], p["cues"], p["features"], p["run"], p["train"], p["classical"]):
        section["jobs"] = 1
    for net in ("vggish", "openl3"):
        p["features"][net].update(threads=3, batch_size=7, device="auto")
    (a / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    assert up_to_date(a), dvc(a, "status").stdout
    p["cues"]["eval"]["iou"] = 0.3  # while a result parameter does, and only where it is read
    (a / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    changed = dvc(a, "status", "--json").stdout
    assert set(json.loads(changed)) == {"cues_eval"}, changed
